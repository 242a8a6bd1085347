/* host.c — the core's side of the engine ABI: the canon_host table engines
 * call, and the task runner that applies a stage's pipeline of kernels.
 *
 * Sections: running operators; exchanges; the host table. */
#include "physical.h"
#include "observe.h"
#include "rowops.h"

#include <stdio.h>


/* ---- running operators --------------------------------------------------- */

/* First row of partition p of n rows in P parts: p*n/P, rounded down to a
 * multiple of 64 when parts are large, so a slice starts on a validity byte
 * and a 64-byte boundary and can share the table's buffers (no copy). */
static int64_t scan_bound(int64_t n, int p, int P) {
  if (p >= P) return n;
  __extension__ unsigned __int128 a = (unsigned __int128)n * (unsigned)p;
  int64_t lo = (int64_t)(a / (unsigned)P);
  return n / P >= 4096 ? lo & ~(int64_t)63 : lo;
}

static canon_table *op_scan_table(const canon_df *d, int part, int nparts, canon_error *err) {
  /* Partitions are contiguous row ranges, in order. */
  int64_t n = d->table->nrows;
  int64_t lo = scan_bound(n, part, nparts), hi = scan_bound(n, part + 1, nparts);
  return canon__table_slice(d->table, lo, hi - lo, err);
}

static canon_table *op_select(const canon_df *d, const canon_table *in, canon_error *err) {
  canon__column **cols = canon__calloc((size_t)d->nexprs, sizeof *cols);
  if (!cols) {
    canon__nomem(err);
    return NULL;
  }
  canon_table *out = NULL;
  for (int i = 0; i < d->nexprs; i++)
    if (!(cols[i] = canon__expr_eval(d->bound[i], in, err))) goto done;
  out = canon__table_make(d->schema, cols, in->nrows, err);
done:
  for (int i = 0; i < d->nexprs; i++) canon__column_unref(cols[i]);
  free(cols);
  return out;
}

static canon_table *op_filter(const canon_df *d, const canon_table *in, canon_error *err) {
  canon__column *p = canon__expr_eval(d->bound[0], in, err);
  if (!p) return NULL;
  int64_t *idx = canon__reallocarray(NULL, (size_t)in->nrows, sizeof *idx);
  canon_table *out = NULL;
  if (!idx) {
    canon__nomem(err);
  } else {
    /* Keep exactly the rows whose predicate is TRUE (NULL is not). */
    int64_t n = 0;
    const uint8_t *v = canon__u8(p);
    for (int64_t i = 0; i < in->nrows; i++)
      if (v[i] && canon__valid(p, i)) idx[n++] = i;
    out = n == in->nrows ? canon__table_share(in, err) : canon__table_take(in, idx, n, err);
  }
  free(idx);
  canon__column_unref(p);
  return out;
}

static canon_table *op_assign(const canon_df *d, const canon_table *in, canon_error *err) {
  int nout = d->schema->n;
  canon__column **cols = canon__calloc((size_t)nout, sizeof *cols);
  if (!cols) {
    canon__nomem(err);
    return NULL;
  }
  canon_table *out = NULL;
  for (int i = 0; i < d->nexprs; i++) {
    canon__column *c = canon__expr_eval(d->bound[i], in, err);
    if (!c) goto done;
    cols[canon_schema_find(d->schema, d->names[i])] = c;
  }
  for (int j = 0; j < nout; j++)
    if (!cols[j]) cols[j] = canon__column_ref(in->cols[canon_schema_find(in->schema, d->schema->names[j])]);
  out = canon__table_make(d->schema, cols, in->nrows, err);
done:
  for (int j = 0; j < nout; j++) canon__column_unref(cols[j]);
  free(cols);
  return out;
}

static canon_table *op_agg_partial(const canon_df *d, const canon_table *in, canon_error *err) {
  int keys[d->nkeys ? d->nkeys : 1];
  for (int i = 0; i < d->nkeys; i++) keys[i] = canon_schema_find(in->schema, d->keys[i]);
  return canon__agg_partial(in, keys, d->nkeys, d->aggs, d->naggs, d->drop_null_keys, err);
}

static canon_table *op_sort(const canon_df *d, const canon_table *in, canon_error *err) {
  canon__sortcol keys[d->nsort];
  for (int i = 0; i < d->nsort; i++) {
    keys[i].col = canon_schema_find(in->schema, d->sort[i].column);
    keys[i].descending = d->sort[i].descending != 0;
    keys[i].nulls_first = d->sort[i].nulls_first != 0;
  }
  return canon__sort_table(in, keys, d->nsort, err);
}

/* "k=A, j=NULL": the key values of a group, for error messages. */
static void describe_group(const canon_table *t, const int *keys, int nkeys, int64_t row,
                           char *buf, size_t cap) {
  size_t at = 0;
  buf[0] = '\0';
  for (int k = 0; k < nkeys && at < cap; k++) {
    char val[64];
    const canon__column *c = t->cols[keys[k]];
    if (canon__valid(c, row))
      canon__format_cell(c, row, val, sizeof val);
    else
      snprintf(val, sizeof val, "NULL");
    int n = snprintf(buf + at, cap - at, "%s%s=%s", k ? ", " : "", t->schema->names[keys[k]], val);
    if (n < 0) break;
    at += (size_t)n;
  }
}

/* Told what user code is about to run (canon_host.set_task_observer):
 * set only in an engine's task processes. */
static void (*task_observer)(void *ctx, const char *what);
static void *task_observer_ctx;

static void host_set_task_observer(void (*fn)(void *ctx, const char *what), void *ctx) {
  task_observer = fn;
  task_observer_ctx = ctx;
}

/* Call the transform on one group (rows idx[0..n) of in) and append its
 * output to `out`. */
static int call_transform(const canon_df *d, const canon__transform_entry *tf,
                          const canon_table *in, const int64_t *idx, int64_t n,
                          const canon__sortcol *presort, const int *keys, canon_builder *b,
                          canon_table **part_out, canon_error *err) {
  canon_table *g = canon__table_take(in, idx, n, err);
  if (!g) return err ? err->code : CANON_ERR_NOMEM;
  if (d->nsort) {
    canon_table *sorted = canon__sort_table(g, presort, d->nsort, err);
    canon_table_free(g);
    if (!(g = sorted)) return err ? err->code : CANON_ERR_NOMEM;
  }
  canon_error uerr;
  canon_error_clear(&uerr);
  char group[256];
  if (d->nkeys)
    describe_group(in, keys, d->nkeys, idx[0], group, sizeof group);
  else
    snprintf(group, sizeof group, "partition rows %lld", (long long)n);
  if (task_observer) {
    char what[400];
    snprintf(what, sizeof what, "transform '%s' (transform node %d) on group (%s)", d->transform,
             canon_df_id(d), group);
    task_observer(task_observer_ctx, what);
  }
  int rc = tf->fn(g, b, tf->user_data, &uerr);
  canon_table_free(g);
  if (rc != 0) {
    return canon__seterr(err, CANON_ERR_TRANSFORM, "transform '%s' (transform node %d) failed on group (%s): %s",
                         d->transform, canon_df_id(d), group,
                         uerr.message[0] ? uerr.message : "the function returned an error");
  }
  canon_table *o = canon_builder_finish(b, &uerr);
  if (!o)
    return canon__seterr(err, uerr.code == CANON_ERR_NOMEM ? CANON_ERR_NOMEM : CANON_ERR_TRANSFORM,
                         "transform '%s' (transform node %d) on group (%s): %s", d->transform,
                         canon_df_id(d), group, uerr.message);
  *part_out = o;
  return 0;
}

static canon_table *op_transform(const canon_df *d, const canon_table *in, canon_error *err) {
  const canon__transform_entry *tf = canon__transform_find(d->transform);
  if (!tf) {
    canon__seterr(err, CANON_ERR_NOT_FOUND,
                  "transform '%s' (transform node %d) is not registered in this process",
                  d->transform, canon_df_id(d));
    return NULL;
  }
  int keys[d->nkeys ? d->nkeys : 1];
  for (int i = 0; i < d->nkeys; i++) keys[i] = canon_schema_find(in->schema, d->keys[i]);
  canon__sortcol presort[d->nsort ? d->nsort : 1];
  for (int i = 0; i < d->nsort; i++) {
    presort[i].col = canon_schema_find(in->schema, d->sort[i].column);
    presort[i].descending = d->sort[i].descending != 0;
    presort[i].nulls_first = d->sort[i].nulls_first != 0;
  }
  canon_builder *b = canon_builder_new(d->schema, err);
  int64_t *group_of = NULL, *first = NULL, *idx = NULL, *start = NULL, ngroups = 0;
  canon_table **parts = NULL;
  canon_table *out = NULL;
  if (!b) return NULL;
  if (in->nrows == 0) {
    /* Empty groups are never passed. */
    out = canon__table_empty(d->schema, err);
    goto done;
  }
  idx = canon__reallocarray(NULL, (size_t)in->nrows, sizeof *idx);
  if (!idx) goto oom;
  if (d->nkeys) {
    group_of = canon__reallocarray(NULL, (size_t)in->nrows, sizeof *group_of);
    if (!group_of) goto oom;
    if (canon__group_rows(in, keys, d->nkeys, false, group_of, &ngroups, &first, err)) goto done;
    /* Bucket rows by group, keeping input order within each group. */
    start = canon__calloc((size_t)ngroups + 1, sizeof *start);
    if (!start) goto oom;
    for (int64_t i = 0; i < in->nrows; i++) start[group_of[i] + 1]++;
    for (int64_t g = 0; g < ngroups; g++) start[g + 1] += start[g];
    int64_t *fill = canon__reallocarray(NULL, (size_t)ngroups, sizeof *fill);
    if (!fill) goto oom;
    memcpy(fill, start, (size_t)ngroups * sizeof *fill);
    for (int64_t i = 0; i < in->nrows; i++) idx[fill[group_of[i]]++] = i;
    free(fill);
  } else {
    ngroups = 1;
    start = canon__calloc(2, sizeof *start);
    if (!start) goto oom;
    start[1] = in->nrows;
    for (int64_t i = 0; i < in->nrows; i++) idx[i] = i;
  }
  parts = canon__calloc((size_t)ngroups, sizeof *parts);
  if (!parts) goto oom;
  for (int64_t g = 0; g < ngroups; g++)
    if (call_transform(d, tf, in, idx + start[g], start[g + 1] - start[g], presort, keys, b,
                       &parts[g], err))
      goto done;
  out = canon__table_concat(parts, (int)ngroups, err);
  goto done;
oom:
  canon__nomem(err);
done:
  if (parts)
    for (int64_t g = 0; g < ngroups; g++) canon_table_free(parts[g]);
  free(parts);
  free(group_of);
  free(first);
  free(idx);
  free(start);
  canon_builder_free(b);
  return out;
}

/* Apply one operator to the current table. */
static canon_table *apply_op(const canon_job *job, const canon__stage *st, const canon__op *op,
                             int part, canon_table *cur, canon_table *const *inputs,
                             canon_error *err) {
  const canon_df *d = op->node;
  (void)inputs;
  switch (op->kind) {
  case CANON__OP_SCAN_CSV: {
    canon__csv_dest dest;
    bool direct = canon__load_sink_claim(job, st, part, &dest);
    return canon__table_dict_encode(canon__csv_read_range(d->path, d->delimiter, d->csv_schema,
                                                          &st->ranges[part],
                                                          direct ? &dest : NULL, err),
                                    err);
  }
  case CANON__OP_SCAN_TABLE: return op_scan_table(d, part, st->nparts, err);
  case CANON__OP_SELECT: return op_select(d, cur, err);
  case CANON__OP_FILTER: return op_filter(d, cur, err);
  case CANON__OP_ASSIGN: return op_assign(d, cur, err);
  case CANON__OP_AGG_PARTIAL: return op_agg_partial(d, cur, err);
  case CANON__OP_AGG_FINAL:
    return canon__aggregate_final(d, cur, err);
  case CANON__OP_SORT: return op_sort(d, cur, err);
  case CANON__OP_LIMIT:
    return canon__table_slice(cur, 0, cur->nrows < d->n ? cur->nrows : d->n, err);
  case CANON__OP_TRANSFORM: return canon__obs_transform(op_transform, d, cur, err);
  case CANON__OP_DROPNA: case CANON__OP_FILLNA: case CANON__OP_TAKE: case CANON__OP_SAMPLE:
  case CANON__OP_SAMPLE_PICK: case CANON__OP_SAMPLE_FINAL: case CANON__OP_PASS:
    return canon__rowops_run(st, op, part, cur, err);
  case CANON__OP_JOIN: case CANON__OP_UNION_ALL: case CANON__OP_SETOP: case CANON__OP_DISTINCT:
    return canon__run_binary_op(op, cur, inputs, err);
  }
  canon__seterr(err, CANON_ERR_INTERNAL, "unknown operator %d", op->kind);
  return NULL;
}

int canon__run_task(const canon_job *job, int stage, int part, canon_table *const *inputs,
                    canon_table **out, canon_error *err) {
  *out = NULL;
  if (stage < 0 || stage >= job->nstages || part < 0 || part >= job->stages[stage].nparts)
    return canon__seterr(err, CANON_ERR_INTERNAL, "no task (%d, %d)", stage, part);
  const canon__stage *st = &job->stages[stage];
  canon_table *cur = NULL;
  /* A pipeline starts from a scan, or else from input 0; operators that
   * consume a second input (joins) take it from `inputs`. */
  if (st->ninputs && st->ops[0].kind != CANON__OP_SCAN_CSV && st->ops[0].kind != CANON__OP_SCAN_TABLE) {
    if (!inputs || !inputs[0]) return canon__seterr(err, CANON_ERR_INTERNAL, "task without input");
    if (!(cur = canon__table_share(inputs[0], err))) return err ? err->code : CANON_ERR_NOMEM;
  }
  for (int i = 0; i < st->nops; i++) {
    canon_table *next = apply_op(job, st, &st->ops[i], part, cur, inputs, err);
    canon_table_free(cur);
    cur = next;
    if (!cur) {
      if (err && err->code == CANON_OK) canon__nomem(err);
      /* Name the plan node unless the message already does. */
      if (err && !strstr(err->message, " node "))
        canon__errprefix(err, "%s node %d", canon__df_kind_name(st->ops[i].node),
                         canon_df_id(st->ops[i].node));
      return err ? err->code : CANON_ERR_INTERNAL;
    }
  }
  *out = cur;
  return 0;
}

/* ---- exchanges ------------------------------------------------------------ */

#define RANGE_SAMPLES_PER_PART 128

/* Sample the key columns of every producer output, sort the sample and
 * take nparts-1 evenly spaced boundary rows.  Any boundaries give the same
 * result (equal keys always share a bucket); good ones balance the work. */
static int prepare_range(canon__xin *x, int nparts, canon_table *const *outs, int n,
                         canon_error *err) {
  canon_table **samples = canon__calloc((size_t)n, sizeof *samples);
  if (!samples) return canon__nomem(err);
  int rc = 0;
  canon_table *all = NULL, *sorted = NULL;
  canon__sortcol *bk = canon__calloc((size_t)x->nkeys, sizeof *bk);
  if (!bk) {
    rc = canon__nomem(err);
    goto done;
  }
  for (int k = 0; k < x->nkeys; k++) bk[k] = x->sort[k], bk[k].col = k;
  for (int p = 0; p < n; p++) {
    const canon_table *t = outs[p];
    int64_t m = t->nrows < RANGE_SAMPLES_PER_PART ? t->nrows : RANGE_SAMPLES_PER_PART;
    int64_t idx[RANGE_SAMPLES_PER_PART];
    for (int64_t i = 0; i < m; i++) idx[i] = (int64_t)(((__int128)i * t->nrows) / m);
    canon_table *rows = canon__table_take(t, idx, m, err);
    if (!rows) {
      rc = err ? err->code : CANON_ERR_NOMEM;
      goto done;
    }
    /* Keep only the key columns, in key order. */
    canon_schema *ks = canon_schema_new();
    canon__column **kc = canon__calloc((size_t)x->nkeys, sizeof *kc);
    if (!ks || !kc) {
      canon_schema_free(ks);
      free(kc);
      canon_table_free(rows);
      rc = canon__nomem(err);
      goto done;
    }
    int added = 0;
    for (int k = 0; k < x->nkeys; k++) {
      char nm[16];
      snprintf(nm, sizeof nm, "k%d", k);
      if (canon_schema_add(ks, nm, rows->schema->types[x->sort[k].col], NULL) != 0) break;
      kc[k] = canon__column_ref(rows->cols[x->sort[k].col]);
      added++;
    }
    /* Out of memory: a key missing from the samples' schema would
     * surface later as "tables with different schemas". */
    if (added == x->nkeys) {
      samples[p] = canon__table_make(ks, kc, m, err);
    } else {
      for (int k = 0; k < added; k++) canon__column_unref(kc[k]);
      canon__nomem(err);
    }
    canon_schema_free(ks);
    free(kc);
    canon_table_free(rows);
    if (!samples[p]) {
      rc = err ? err->code : CANON_ERR_NOMEM;
      goto done;
    }
  }
  if (!(all = canon__table_concat(samples, n, err)) ||
      !(sorted = canon__sort_table(all, bk, x->nkeys, err))) {
    rc = err ? err->code : CANON_ERR_NOMEM;
    goto done;
  }
  {
    int64_t nb = nparts - 1, m = sorted->nrows;
    int64_t *idx = canon__calloc((size_t)(nb ? nb : 1), sizeof *idx);
    if (!idx) {
      rc = canon__nomem(err);
      goto done;
    }
    int64_t got = 0;
    for (int64_t b = 1; m > 0 && b <= nb; b++) idx[got++] = (b * m) / nparts;
    canon_table_free(x->bounds);
    x->bounds = canon__table_take(sorted, idx, got, err);
    free(idx);
    if (!x->bounds) rc = err ? err->code : CANON_ERR_NOMEM;
  }
done:
  for (int p = 0; p < n; p++) canon_table_free(samples[p]);
  free(samples);
  free(bk);
  canon_table_free(all);
  canon_table_free(sorted);
  return rc;
}

static int host_exchange_prepare(canon_job *job, int stage, int input,
                                 canon_table *const *outs, int n, canon_error *err) {
  canon__stage *st = &job->stages[stage];
  canon__xin *x = &st->in[input];
  if (x->kind == CANON_EXCHANGE_RANGE) return prepare_range(x, st->nparts, outs, n, err);
  if (x->kind == CANON_EXCHANGE_REBALANCE) {
    free(x->offsets);
    x->offsets = canon__calloc((size_t)n, sizeof *x->offsets);
    if (!x->offsets) return canon__nomem(err);
    int64_t total = 0;
    for (int p = 0; p < n; p++) {
      x->offsets[p] = total;
      total += outs[p]->nrows;
    }
    x->total = total;
  }
  return 0;
}

static int host_exchange_split(const canon_job *job, int stage, int input, int child_part,
                               const canon_table *t, canon_table **buckets, canon_error *err) {
  const canon__stage *st = &job->stages[stage];
  const canon__xin *x = &st->in[input];
  int n = st->nparts;
  switch (x->kind) {
  case CANON_EXCHANGE_HASH: return canon__split_hash(t, x->keys, x->nkeys, n, buckets, err);
  case CANON_EXCHANGE_RANGE:
    if (!x->bounds) return canon__seterr(err, CANON_ERR_INTERNAL, "range exchange not prepared");
    return canon__split_range(t, x->sort, x->nkeys, x->bounds, n, buckets, err);
  case CANON_EXCHANGE_REBALANCE:
    if (!x->offsets) return canon__seterr(err, CANON_ERR_INTERNAL, "rebalance not prepared");
    return canon__split_rebalance(t, x->offsets[child_part], x->total, n, buckets, err);
  case CANON_EXCHANGE_GATHER:
  case CANON_EXCHANGE_BROADCAST:
    for (int k = 0; k < n; k++) {
      buckets[k] = (k == 0 || x->kind == CANON_EXCHANGE_BROADCAST)
                       ? canon__table_share(t, err)
                       : canon__table_empty(t->schema, err);
      if (!buckets[k]) {
        for (int j = 0; j < k; j++) canon_table_free(buckets[j]), buckets[j] = NULL;
        return err ? err->code : CANON_ERR_NOMEM;
      }
    }
    return 0;
  case CANON_EXCHANGE_FORWARD:
    return canon__split_forward(t, x->forward_offset + child_part, n, buckets, err);
  }
  return canon__seterr(err, CANON_ERR_INTERNAL, "unknown exchange %d", x->kind);
}

/* exchange_split_encode: hash and rebalance splits scatter each row
 * straight into its bucket's encoding; the other exchanges encode the
 * buckets exchange_split makes (range: views of the rows gathered once in
 * key order; gather, broadcast, forward: the input's columns shared). */
static int host_exchange_split_encode(const canon_job *job, int stage, int input, int child_part,
                                      const canon_table *t, uint8_t *(*alloc)(void *ctx, size_t len),
                                      void *ctx, size_t *len, canon__split_out *out,
                                      canon_error *err) {
  const canon__stage *st = &job->stages[stage];
  const canon__xin *x = &st->in[input];
  int n = st->nparts, rc;
  int64_t rows = t->nrows;
  if (x->kind == CANON_EXCHANGE_HASH || (x->kind == CANON_EXCHANGE_REBALANCE && x->offsets)) {
    int32_t *b = canon__reallocarray(NULL, (size_t)(rows ? rows : 1), sizeof *b);
    if (!b) return canon__nomem(err);
    rc = 0;
    if (x->kind == CANON_EXCHANGE_HASH)
      rc = canon__hash_buckets(t, x->keys, x->nkeys, n, 0, b, err);
    else
      canon__rebalance_buckets(rows, x->offsets[child_part], x->total, n, b);
    if (rc == 0) rc = canon__split_encode_scatter(t, b, n, alloc, ctx, len, out, err);
    free(b);
    return rc;
  }
  canon_table **buckets = canon__calloc((size_t)n, sizeof *buckets);
  if (!buckets) return canon__nomem(err);
  rc = host_exchange_split(job, stage, input, child_part, t, buckets, err);
  if (rc == 0) rc = canon__split_encode_buckets(buckets, n, alloc, ctx, len, out, err);
  for (int k = 0; k < n; k++) canon_table_free(buckets[k]);
  free(buckets);
  return rc;
}

static int host_exchange_split_encode_observed(const canon_job *job, int stage, int input,
                                               int child_part, const canon_table *t,
                                               uint8_t *(*alloc)(void *ctx, size_t len), void *ctx,
                                               size_t *len, canon_error *err) {
  return canon__obs_split_encode(host_exchange_split_encode, job, stage, input, child_part, t,
                                 alloc, ctx, len, err);
}

/* exchange_split as engines call it: recorded (observe.c). */
static int host_exchange_split_observed(const canon_job *job, int stage, int input, int child_part,
                                        const canon_table *t, canon_table **buckets,
                                        canon_error *err) {
  return canon__obs_split(host_exchange_split, job, stage, input, child_part, t, buckets, err);
}

/* ---- the host table -------------------------------------------------------- */

static int host_num_stages(const canon_job *job) { return job->nstages; }
static int host_stage_num_partitions(const canon_job *job, int s) { return job->stages[s].nparts; }
static int host_job_result_one_table(const canon_job *job) { return job->one_table; }
static int host_stage_num_inputs(const canon_job *job, int s) { return job->stages[s].ninputs; }
static int host_stage_input(const canon_job *job, int s, int i) { return job->stages[s].in[i].stage; }
static int host_stage_input_exchange(const canon_job *job, int s, int i) {
  return job->stages[s].in[i].kind;
}
static const char *host_stage_name(const canon_job *job, int s) { return job->stages[s].name; }
static int64_t host_table_num_rows(const canon_table *t) { return t->nrows; }
static int host_table_same_data(const canon_table *a, const canon_table *b) {
  return canon__table_same_data(a, b);
}
static int host_table_data_orphaned(const canon_table *t) { return canon__table_data_orphaned(t); }

static canon_table *host_table_slice(const canon_table *t, int64_t first, int64_t count,
                                     canon_error *err) {
  if (!t || first < 0 || count < 0 || first > t->nrows || count > t->nrows - first) {
    canon__seterr(err, CANON_ERR_INVALID, "rows [%lld, +%lld) are outside a table of %lld rows",
                  (long long)first, (long long)count, (long long)(t ? t->nrows : 0));
    return NULL;
  }
  return canon__table_slice(t, first, count, err);
}

/* The plan of a concatenation of the job's results from their sketches. */
static canon_concat_plan *host_concat_plan(const canon_job *job, const uint8_t *const *sketches,
                                           const size_t *lens, int n, canon_error *err) {
  return canon__rcat_plan(job->root->schema, sketches, lens, n, err);
}

const canon_host canon__host = {
  .abi_major = CANON_BACKEND_ABI_MAJOR,
  .abi_minor = CANON_BACKEND_ABI_MINOR,
  .struct_size = sizeof(canon_host),
  .num_stages = host_num_stages,
  .stage_num_partitions = host_stage_num_partitions,
  .stage_num_inputs = host_stage_num_inputs,
  .stage_input = host_stage_input,
  .stage_input_exchange = host_stage_input_exchange,
  .stage_name = host_stage_name,
  .exchange_prepare = host_exchange_prepare,
  .exchange_split = host_exchange_split_observed,
  .concat = canon__table_concat,
  .run_task = canon__obs_run_task,
  .table_free = canon_table_free,
  .table_num_rows = host_table_num_rows,
  .table_bytes = canon__table_bytes,
  .table_encoded_size = canon__table_encoded_size,
  .table_encode_into = canon__table_encode_into,
  .table_decode = canon__table_decode,
  .job_encode = canon__job_encode,
  .job_decode = canon__job_decode,
  .job_free = canon__job_decoded_free,
  .exchange_state_encode = canon__exchange_state_encode,
  .exchange_state_decode = canon__exchange_state_decode,
  .exchange_prepare_encoded = canon__exchange_prepare_encoded,
  .set_task_observer = host_set_task_observer,
  .task_events_take = canon__obs_events_take,
  .task_events_add = canon__obs_events_add,
  .job_encode_shared = canon__job_encode_shared,
  .job_decode_shared = canon__job_decode_shared,
  .table_decode_shared = canon__table_decode_shared,
  .table_share = canon__table_share,
  .table_same_data = host_table_same_data,
  .table_data_orphaned = host_table_data_orphaned,
  .table_range_of = canon__table_range_of,
  .table_slice = host_table_slice,
  .table_decode_own = canon__table_decode_own,
  .table_concat_encoded = canon__table_concat_encoded,
  .job_result_one_table = host_job_result_one_table,
  .exchange_split_encode = host_exchange_split_encode_observed,
  .table_encoded_size_ref = canon__table_encoded_size_ref,
  .table_encode_ref_into = canon__table_encode_ref_into,
  .table_decode_ref = canon__table_decode_ref,
  .table_sketch_size = canon__table_sketch_size,
  .table_sketch_into = canon__table_sketch_into,
  .concat_plan = host_concat_plan,
  .concat_plan_len = canon__rcat_len,
  .concat_plan_put_head = canon__rcat_put_head,
  .concat_order_size = canon__rcat_order_size,
  .concat_order_into = canon__rcat_order_into,
  .concat_plan_free = canon__rcat_free,
  .concat_write_part = canon__rcat_write_part,
};
