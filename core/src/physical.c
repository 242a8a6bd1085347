/* physical.c — from the logical plan to stages and exchanges.
 *
 * Row-wise operators (select, filter, assign, limit's local cut, transform
 * without keys) join the stage of their input.  Operators that need rows
 * with equal keys, or a global order, together start a new stage behind an
 * exchange:
 *   aggregate  partial in the input's stage -> HASH by keys (GATHER without
 *              keys) -> final
 *   sort       RANGE by the sort keys -> stable local sort (partitions come
 *              out in key order, ties in (source partition, row) order)
 *   limit      local limit -> GATHER -> limit
 *   transform  with keys: HASH by keys; with num: REBALANCE to num parts
 * A DAG node used twice is planned twice (each use gets its own stages). */
#include "physical.h"
#include "observe.h"
#include "rowops.h"

#include <stdio.h>

void canon__job_free(canon_job *job) {
  if (!job) return;
  for (int s = 0; s < job->nstages; s++) {
    canon__stage *st = &job->stages[s];
    for (int i = 0; i < st->ninputs; i++) {
      free(st->in[i].keys);
      free(st->in[i].sort);
      canon_table_free(st->in[i].bounds);
      free(st->in[i].offsets);
    }
    free(st->ops);
    free(st->ranges);
  }
  free(job->stages);
  canon__load_sink_free(job->sink);
  canon__obs_job_free(job->obs);
  canon_session_close(job->pruned);
  free(job);
}

int canon__new_stage(canon_job *job, int nparts, canon_error *err) {
  if (job->nstages == job->capstages) {
    int nc = job->capstages ? job->capstages * 2 : 8;
    canon__stage *n = canon__reallocarray(job->stages, (size_t)nc, sizeof *n);
    if (!n) return -canon__nomem(err);
    job->stages = n;
    job->capstages = nc;
  }
  canon__stage *st = &job->stages[job->nstages];
  memset(st, 0, sizeof *st);
  st->nparts = nparts;
  return job->nstages++;
}

int canon__add_op(canon_job *job, int s, canon__op_kind kind, canon_df *node, canon_error *err) {
  canon__stage *st = &job->stages[s];
  if (st->nops == st->capops) {
    int nc = st->capops ? st->capops * 2 : 4;
    canon__op *n = canon__reallocarray(st->ops, (size_t)nc, sizeof *n);
    if (!n) return canon__nomem(err);
    st->ops = n;
    st->capops = nc;
  }
  st->ops[st->nops].kind = kind;
  st->ops[st->nops].node = node;
  st->ops[st->nops].input = 0;
  st->nops++;
  return 0;
}

/* A new stage reading stage `from` through an exchange of `kind`. */
int canon__exchange_stage(canon_job *job, int from, canon_exchange_kind kind, int nparts,
                          canon_error *err) {
  int s = canon__new_stage(job, nparts, err);
  if (s < 0) return s;
  canon__stage *st = &job->stages[s];
  st->ninputs = 1;
  st->in[0].stage = from;
  st->in[0].kind = kind;
  return s;
}

int *canon__key_indices(const canon_schema *s, char *const *names, int n, canon_error *err) {
  int *k = canon__calloc((size_t)(n ? n : 1), sizeof *k);
  if (!k) {
    canon__nomem(err);
    return NULL;
  }
  for (int i = 0; i < n; i++) k[i] = canon_schema_find(s, names[i]);
  return k;
}

canon__sortcol *canon__sort_cols(const canon_schema *s, const canon_sort_key *keys, int n,
                                 canon_error *err) {
  canon__sortcol *k = canon__calloc((size_t)(n ? n : 1), sizeof *k);
  if (!k) {
    canon__nomem(err);
    return NULL;
  }
  for (int i = 0; i < n; i++) {
    k[i].col = canon_schema_find(s, keys[i].column);
    k[i].descending = keys[i].descending != 0;
    k[i].nulls_first = keys[i].nulls_first != 0;
  }
  return k;
}

/* Plan node d; returns the stage whose output is d's result, or < 0. */
int canon__plan_node(canon_job *job, canon_df *d, int P, canon_error *err) {
  int s, t;
  switch (d->kind) {
  case CANON__N_READ_CSV:
    if ((s = canon__new_stage(job, P, err)) < 0) return s;
    if (job->preset_ranges ? canon__job_take_preset(job, s, err)
                           : canon__csv_split(d->path, d->delimiter, d->csv_schema, P,
                                              &job->stages[s].ranges, err))
      return -1;
    return canon__add_op(job, s, CANON__OP_SCAN_CSV, d, err) ? -1 : s;
  case CANON__N_TABLE:
    if ((s = canon__new_stage(job, P, err)) < 0) return s;
    return canon__add_op(job, s, CANON__OP_SCAN_TABLE, d, err) ? -1 : s;
  case CANON__N_SELECT:
  case CANON__N_FILTER:
  case CANON__N_ASSIGN: {
    if ((s = canon__plan_node(job, d->inputs[0], P, err)) < 0) return s;
    canon__op_kind k = d->kind == CANON__N_SELECT ? CANON__OP_SELECT
                       : d->kind == CANON__N_FILTER ? CANON__OP_FILTER : CANON__OP_ASSIGN;
    return canon__add_op(job, s, k, d, err) ? -1 : s;
  }
  case CANON__N_AGGREGATE:
    if ((s = canon__plan_node(job, d->inputs[0], P, err)) < 0) return s;
    if (canon__add_op(job, s, CANON__OP_AGG_PARTIAL, d, err)) return -1;
    t = canon__exchange_stage(job, s, d->nkeys ? CANON_EXCHANGE_HASH : CANON_EXCHANGE_GATHER,
                       d->nkeys ? P : 1, err);
    if (t < 0) return t;
    if (d->nkeys) {
      /* Partial output holds the keys first. */
      canon__xin *x = &job->stages[t].in[0];
      x->nkeys = d->nkeys;
      if (!(x->keys = canon__calloc((size_t)d->nkeys, sizeof *x->keys))) return -canon__nomem(err);
      for (int i = 0; i < d->nkeys; i++) x->keys[i] = i;
    }
    return canon__add_op(job, t, CANON__OP_AGG_FINAL, d, err) ? -1 : t;
  case CANON__N_SORT: {
    if ((s = canon__plan_node(job, d->inputs[0], P, err)) < 0) return s;
    t = canon__exchange_stage(job, s, P > 1 ? CANON_EXCHANGE_RANGE : CANON_EXCHANGE_GATHER, P, err);
    if (t < 0) return t;
    canon__xin *x = &job->stages[t].in[0];
    x->nkeys = d->nsort;
    if (!(x->sort = canon__sort_cols(d->inputs[0]->schema, d->sort, d->nsort, err))) return -1;
    return canon__add_op(job, t, CANON__OP_SORT, d, err) ? -1 : t;
  }
  case CANON__N_LIMIT:
    if ((s = canon__plan_node(job, d->inputs[0], P, err)) < 0) return s;
    if (job->stages[s].nparts > 1) {
      if (canon__add_op(job, s, CANON__OP_LIMIT, d, err)) return -1;
      if ((s = canon__exchange_stage(job, s, CANON_EXCHANGE_GATHER, 1, err)) < 0) return s;
    }
    return canon__add_op(job, s, CANON__OP_LIMIT, d, err) ? -1 : s;
  case CANON__N_TRANSFORM:
    if ((s = canon__plan_node(job, d->inputs[0], P, err)) < 0) return s;
    if (d->nkeys) {
      if ((t = canon__exchange_stage(job, s, CANON_EXCHANGE_HASH, P, err)) < 0) return t;
      canon__xin *x = &job->stages[t].in[0];
      x->nkeys = d->nkeys;
      if (!(x->keys = canon__key_indices(d->inputs[0]->schema, d->keys, d->nkeys, err))) return -1;
      s = t;
    } else if (d->n > 0) {
      if (d->n > 1 << 20) {
        canon__seterr(err, CANON_ERR_INVALID, "partition num %lld is too large", (long long)d->n);
        return -1;
      }
      if ((s = canon__exchange_stage(job, s, CANON_EXCHANGE_REBALANCE, (int)d->n, err)) < 0) return s;
    }
    return canon__add_op(job, s, CANON__OP_TRANSFORM, d, err) ? -1 : s;
  case CANON__N_DROPNA: case CANON__N_FILLNA: case CANON__N_TAKE: case CANON__N_SAMPLE:
  case CANON__N_RENAME: case CANON__N_DROP: case CANON__N_CAST: case CANON__N_REPARTITION:
  case CANON__N_PERSIST:
    return canon__plan_rowops(job, d, P, err);
  case CANON__N_JOIN: case CANON__N_UNION_ALL: case CANON__N_UNION: case CANON__N_INTERSECT:
  case CANON__N_INTERSECT_ALL: case CANON__N_EXCEPT: case CANON__N_EXCEPT_ALL:
  case CANON__N_DISTINCT:
    return canon__plan_binary(job, d, P, err);
  default:
    canon__seterr(err, CANON_ERR_INTERNAL, "cannot plan node kind %d", d->kind);
    return -1;
  }
}

const char *canon__op_name(canon__op_kind k) {
  switch (k) {
  case CANON__OP_SCAN_CSV: return "scan_csv";
  case CANON__OP_SCAN_TABLE: return "scan_table";
  case CANON__OP_SELECT: return "select";
  case CANON__OP_FILTER: return "filter";
  case CANON__OP_ASSIGN: return "assign";
  case CANON__OP_AGG_PARTIAL: return "aggregate_partial";
  case CANON__OP_AGG_FINAL: return "aggregate_final";
  case CANON__OP_SORT: return "sort";
  case CANON__OP_LIMIT: return "limit";
  case CANON__OP_TRANSFORM: return "transform";
  case CANON__OP_DROPNA: case CANON__OP_FILLNA: case CANON__OP_TAKE: case CANON__OP_SAMPLE:
  case CANON__OP_SAMPLE_PICK: case CANON__OP_SAMPLE_FINAL: case CANON__OP_PASS:
    return canon__rowops_op_name(k);
  case CANON__OP_JOIN: return "join";
  case CANON__OP_UNION_ALL: return "union_all";
  case CANON__OP_SETOP: return "setop";
  case CANON__OP_DISTINCT: return "distinct";
  }
  return "?";
}

const char *canon__exchange_name(int kind) {
  switch (kind) {
  case CANON_EXCHANGE_HASH: return "hash";
  case CANON_EXCHANGE_RANGE: return "range";
  case CANON_EXCHANGE_GATHER: return "gather";
  case CANON_EXCHANGE_REBALANCE: return "rebalance";
  case CANON_EXCHANGE_BROADCAST: return "broadcast";
  case CANON_EXCHANGE_FORWARD: return "forward";
  }
  return "?";
}

canon_job *canon__job_new(canon_df *root, int nparts, canon_error *err) {
  canon_session *owned = NULL;
  canon_df *plan = canon__prune(root, &owned);
  canon_job *job = canon__job_new_preset(plan, nparts, NULL, 0, err);
  if (!job) {
    canon_session_close(owned);
    return NULL;
  }
  job->session = root->session;
  job->pruned = owned;
  return job;
}

canon_job *canon__job_new_preset(canon_df *root, int nparts, canon__csv_range **preset,
                                 int npreset, canon_error *err) {
  if (!root) {
    canon__seterr(err, CANON_ERR_INVALID, "no plan (an earlier step failed)");
    return NULL;
  }
  if (nparts < 1) nparts = 1;
  canon_job *job = canon__calloc(1, sizeof *job);
  if (!job) {
    canon__nomem(err);
    return NULL;
  }
  job->session = root->session;
  job->preset_ranges = preset;
  job->npreset = npreset;
  job->root = root;
  job->nparts = nparts;
  if (!(job->obs = canon__obs_job_new(job, err))) {
    canon__job_free(job);
    return NULL;
  }
  int planned = canon__plan_node(job, root, nparts, err);
  job->preset_ranges = NULL;
  if (planned < 0) {
    if (err && err->code == CANON_OK) canon__nomem(err);
    canon__job_free(job);
    return NULL;
  }
  /* Stage names: the operators of its pipeline, e.g. "scan_csv#1 > filter#2". */
  for (int s = 0; s < job->nstages; s++) {
    canon__stage *st = &job->stages[s];
    size_t at = 0;
    for (int i = 0; i < st->nops && at < sizeof st->name; i++) {
      int n = snprintf(st->name + at, sizeof st->name - at, "%s%s#%d", i ? " > " : "",
                       canon__op_name(st->ops[i].kind), canon_df_id(st->ops[i].node));
      if (n < 0) break;
      at += (size_t)n;
    }
  }
  return job;
}

void canon__job_print(const canon_job *job, FILE *out, bool dot) {
  if (dot) {
    fprintf(out, "digraph physical {\n  rankdir=BT;\n  node [shape=box];\n");
    for (int s = 0; s < job->nstages; s++) {
      const canon__stage *st = &job->stages[s];
      fprintf(out, "  s%d [label=\"stage %d (%d partitions)\\n", s, s, st->nparts);
      for (int i = 0; i < st->nops; i++)
        fprintf(out, "%s#%d\\n", canon__op_name(st->ops[i].kind), canon_df_id(st->ops[i].node));
      fprintf(out, "\"];\n");
      for (int i = 0; i < st->ninputs; i++)
        fprintf(out, "  s%d -> s%d [label=\"%s\"];\n", st->in[i].stage, s,
                canon__exchange_name(st->in[i].kind));
    }
    fprintf(out, "}\n");
    return;
  }
  /* Print from the root down, inputs indented below their consumer. */
  int depth[64];
  int stack[64], sp = 0;
  stack[sp] = job->nstages - 1;
  depth[sp++] = 0;
  while (sp > 0) {
    sp--;
    int s = stack[sp], dd = depth[sp];
    const canon__stage *st = &job->stages[s];
    fprintf(out, "%*sstage %d: %d partition%s\n", dd * 2, "", s, st->nparts,
            st->nparts == 1 ? "" : "s");
    for (int i = st->nops - 1; i >= 0; i--)
      fprintf(out, "%*s%s #%d\n", dd * 2 + 2, "", canon__op_name(st->ops[i].kind),
              canon_df_id(st->ops[i].node));
    for (int i = st->ninputs - 1; i >= 0 && sp < 63; i--) {
      const canon__xin *x = &st->in[i];
      fprintf(out, "%*s<- exchange %s from stage %d\n", dd * 2 + 2, "",
              canon__exchange_name(x->kind), x->stage);
      stack[sp] = x->stage;
      depth[sp++] = dd + 2;
    }
  }
}
