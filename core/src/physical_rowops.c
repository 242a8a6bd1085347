/* physical_rowops.c — stages, per-task glue and explain text for dropna,
 * fillna, take, sample, rename, drop, cast, repartition and persist.
 *
 * Plans:
 *   dropna, fillna      row-wise, in the input's stage
 *   rename, drop, cast  a select in the input's stage (the node carries the
 *                       select's expressions; its kind stays for JSON/explain)
 *   take                with keys: local take -> HASH by keys -> take;
 *                       without: local take -> GATHER -> take.  Each take is
 *                       a stable presort, so ties resolve by (source
 *                       partition, row) = input order at every partition count
 *   sample              REBALANCE (so each task knows its rows' global
 *                       positions) -> per-row hash test; for n rows: local
 *                       pick of the n smallest hashes (positions kept in an
 *                       extra column) -> GATHER -> final pick
 *   repartition         REBALANCE to num, or HASH by keys -> identity
 *   persist             computed: a table scan of the kept rows (re-split
 *                       like any in-memory table); not computed (explain
 *                       only): its input's plan inline */
#include "rowops.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>

/* Name of the extra column carrying global positions between sample's
 * local and final pick. */
#define SAMPLE_POS_COLUMN "__canon_sample_pos"

/* Add op to the stage of d's input, planned first. */
static int in_stage(canon_job *job, canon_df *d, int P, canon__op_kind k, canon_error *err) {
  int s = canon__plan_node(job, d->inputs[0], P, err);
  if (s < 0) return s;
  return canon__add_op(job, s, k, d, err) ? -1 : s;
}

/* A HASH exchange stage by the node's keys over stage s (keys resolved
 * against the input's schema). */
static int hash_stage(canon_job *job, canon_df *d, int s, int P, canon_error *err) {
  int t = canon__exchange_stage(job, s, CANON_EXCHANGE_HASH, P, err);
  if (t < 0) return t;
  canon__xin *x = &job->stages[t].in[0];
  x->nkeys = d->nkeys;
  if (!(x->keys = canon__key_indices(d->inputs[0]->schema, d->keys, d->nkeys, err))) return -1;
  return t;
}

static int plan_take(canon_job *job, canon_df *d, int P, canon_error *err) {
  int s = in_stage(job, d, P, CANON__OP_TAKE, err);
  if (s < 0) return s;
  if (d->nkeys)
    s = hash_stage(job, d, s, P, err);
  else if (job->stages[s].nparts > 1)
    s = canon__exchange_stage(job, s, CANON_EXCHANGE_GATHER, 1, err);
  else
    return s; /* one partition: the local take is the whole answer */
  if (s < 0) return s;
  return canon__add_op(job, s, CANON__OP_TAKE, d, err) ? -1 : s;
}

static int plan_sample(canon_job *job, canon_df *d, int P, canon_error *err) {
  int s = canon__plan_node(job, d->inputs[0], P, err);
  if (s < 0) return s;
  if ((s = canon__exchange_stage(job, s, CANON_EXCHANGE_REBALANCE, P, err)) < 0) return s;
  if (d->fraction >= 0) return canon__add_op(job, s, CANON__OP_SAMPLE, d, err) ? -1 : s;
  if (canon__add_op(job, s, CANON__OP_SAMPLE_PICK, d, err)) return -1;
  if (P > 1 && (s = canon__exchange_stage(job, s, CANON_EXCHANGE_GATHER, 1, err)) < 0) return s;
  return canon__add_op(job, s, CANON__OP_SAMPLE_FINAL, d, err) ? -1 : s;
}

static int plan_repartition(canon_job *job, canon_df *d, int P, canon_error *err) {
  int s = canon__plan_node(job, d->inputs[0], P, err);
  if (s < 0) return s;
  if (d->nkeys) {
    s = hash_stage(job, d, s, P, err);
  } else {
    if (d->n > 1 << 20) {
      canon__seterr(err, CANON_ERR_INVALID, "repartition num %lld is too large", (long long)d->n);
      return -1;
    }
    s = canon__exchange_stage(job, s, CANON_EXCHANGE_REBALANCE, d->n > 0 ? (int)d->n : P, err);
  }
  if (s < 0) return s;
  return canon__add_op(job, s, CANON__OP_PASS, d, err) ? -1 : s;
}

int canon__plan_rowops(canon_job *job, canon_df *d, int P, canon_error *err) {
  switch (d->kind) {
  case CANON__N_DROPNA: return in_stage(job, d, P, CANON__OP_DROPNA, err);
  case CANON__N_FILLNA: return in_stage(job, d, P, CANON__OP_FILLNA, err);
  case CANON__N_RENAME:
  case CANON__N_DROP:
  case CANON__N_CAST: return in_stage(job, d, P, CANON__OP_SELECT, err);
  case CANON__N_TAKE: return plan_take(job, d, P, err);
  case CANON__N_SAMPLE: return plan_sample(job, d, P, err);
  case CANON__N_REPARTITION: return plan_repartition(job, d, P, err);
  case CANON__N_PERSIST: {
    if (!d->table) return canon__plan_node(job, d->inputs[0], P, err);
    int s = canon__new_stage(job, P, err);
    if (s < 0) return s;
    return canon__add_op(job, s, CANON__OP_SCAN_TABLE, d, err) ? -1 : s;
  }
  default: break;
  }
  canon__seterr(err, CANON_ERR_INTERNAL, "node kind %d is not a row operation", d->kind);
  return -1;
}

/* ---- tasks ------------------------------------------------------------------ */

/* Global position of the first row of partition `part` behind a REBALANCE
 * exchange: row g goes to partition floor(g * P / T), so partition p starts
 * at ceil(p * T / P). */
static int first_position(const canon__stage *st, int part, int64_t *out, canon_error *err) {
  if (st->ninputs < 1 || st->in[0].kind != CANON_EXCHANGE_REBALANCE || !st->in[0].offsets)
    return canon__seterr(err, CANON_ERR_INTERNAL, "sample runs behind a prepared rebalance");
  __extension__ unsigned __int128 num =
      (unsigned __int128)(uint64_t)st->in[0].total * (unsigned)part + (unsigned)st->nparts - 1;
  *out = (int64_t)(num / (unsigned)st->nparts);
  return 0;
}

static canon_table *run_dropna(const canon_df *d, const canon_table *in, canon_error *err) {
  int n = d->nkeys ? d->nkeys : in->schema->n;
  int cols[n ? n : 1];
  for (int i = 0; i < n; i++) cols[i] = d->nkeys ? canon_schema_find(in->schema, d->keys[i]) : i;
  int need = d->thresh >= 0 ? (d->thresh > INT_MAX ? INT_MAX : (int)d->thresh)
             : d->how == CANON_DROPNA_ALL ? 1
                                          : n;
  return canon__dropna_rows(in, cols, n, need, err);
}

static canon_table *run_fillna(const canon_df *d, const canon_table *in, canon_error *err) {
  int n = d->nexprs;
  int cols[n ? n : 1];
  const canon__value *vals[n ? n : 1];
  for (int i = 0; i < n; i++) {
    cols[i] = canon_schema_find(in->schema, d->names[i]);
    vals[i] = &d->exprs[i]->lit;
  }
  return canon__fillna_cols(in, cols, vals, n, err);
}

static canon_table *run_take(const canon_df *d, const canon_table *in, canon_error *err) {
  int keys[d->nkeys ? d->nkeys : 1];
  canon__sortcol sort[d->nsort ? d->nsort : 1];
  for (int i = 0; i < d->nkeys; i++) keys[i] = canon_schema_find(in->schema, d->keys[i]);
  for (int i = 0; i < d->nsort; i++) {
    sort[i].col = canon_schema_find(in->schema, d->sort[i].column);
    sort[i].descending = d->sort[i].descending != 0;
    sort[i].nulls_first = d->sort[i].nulls_first != 0;
  }
  return canon__take_rows(in, d->n, sort, d->nsort, keys, d->nkeys, err);
}

canon_table *canon__rowops_run(const canon__stage *st, const canon__op *op, int part,
                               const canon_table *cur, canon_error *err) {
  const canon_df *d = op->node;
  int64_t first = 0;
  switch (op->kind) {
  case CANON__OP_DROPNA: return run_dropna(d, cur, err);
  case CANON__OP_FILLNA: return run_fillna(d, cur, err);
  case CANON__OP_TAKE: return run_take(d, cur, err);
  case CANON__OP_SAMPLE: {
    if (first_position(st, part, &first, err)) return NULL;
    /* For an integer h, h < f * 2^64 iff h < ceil(f * 2^64); with f < 1
     * that is at most 2^64 - 2^11, so it converts exactly. */
    bool all = d->fraction >= 1.0;
    uint64_t threshold = all ? 0 : (uint64_t)ceil(ldexp(d->fraction, 64));
    return canon__sample_fraction(cur, first, d->seed, threshold, all, err);
  }
  case CANON__OP_SAMPLE_PICK: {
    if (first_position(st, part, &first, err)) return NULL;
    /* A name no input column has (the final pick drops it by position). */
    char name[64] = SAMPLE_POS_COLUMN;
    for (int k = 1; canon_schema_find(cur->schema, name) >= 0; k++)
      snprintf(name, sizeof name, "%s_%d", SAMPLE_POS_COLUMN, k);
    return canon__sample_n(cur, d->n, d->seed, -1, first, name, err);
  }
  case CANON__OP_SAMPLE_FINAL:
    return canon__sample_n(cur, d->n, d->seed, cur->schema->n - 1, 0, NULL, err);
  case CANON__OP_PASS: return canon__table_share(cur, err);
  default: break;
  }
  canon__seterr(err, CANON_ERR_INTERNAL, "operator %d is not a row operation", op->kind);
  return NULL;
}

const char *canon__rowops_op_name(canon__op_kind k) {
  switch (k) {
  case CANON__OP_DROPNA: return "dropna";
  case CANON__OP_FILLNA: return "fillna";
  case CANON__OP_TAKE: return "take";
  case CANON__OP_SAMPLE: return "sample";
  case CANON__OP_SAMPLE_PICK: return "sample_pick";
  case CANON__OP_SAMPLE_FINAL: return "sample_final";
  case CANON__OP_PASS: return "pass";
  default: return NULL;
  }
}

/* ---- explain ------------------------------------------------------------------ */

static void print_names(FILE *out, const char *label, char *const *names, int n) {
  fprintf(out, " %s[", label);
  for (int i = 0; i < n; i++) fprintf(out, "%s%s", i ? ", " : "", names[i]);
  fprintf(out, "]");
}

void canon__rowops_describe(const canon_df *d, FILE *out) {
  switch (d->kind) {
  case CANON__N_DROPNA:
    if (d->thresh >= 0)
      fprintf(out, " thresh %lld", (long long)d->thresh);
    else
      fprintf(out, " how %s", d->how == CANON_DROPNA_ALL ? "all" : "any");
    if (d->nkeys) print_names(out, "subset ", d->keys, d->nkeys);
    break;
  case CANON__N_FILLNA:
    for (int i = 0; i < d->nexprs; i++) {
      char *t = canon_expr_to_string(d->exprs[i]);
      fprintf(out, "%s%s = %s", i ? ", " : " ", d->names[i], t ? t : "?");
      free(t);
    }
    break;
  case CANON__N_TAKE:
    fprintf(out, " %lld", (long long)d->n);
    if (d->nkeys) print_names(out, "by ", d->keys, d->nkeys);
    for (int i = 0; i < d->nsort; i++)
      fprintf(out, "%s%s %s NULLS %s", i ? ", " : " presort ", d->sort[i].column,
              d->sort[i].descending ? "DESC" : "ASC", d->sort[i].nulls_first ? "FIRST" : "LAST");
    break;
  case CANON__N_SAMPLE:
    if (d->fraction >= 0)
      fprintf(out, " fraction %.17g", d->fraction);
    else
      fprintf(out, " n %lld", (long long)d->n);
    fprintf(out, " seed %llu", (unsigned long long)d->seed);
    break;
  case CANON__N_RENAME:
  case CANON__N_CAST:
    /* The select's expressions: plain columns are untouched. */
    for (int i = 0, k = 0; i < d->nexprs; i++) {
      const canon_expr *e = d->exprs[i];
      if (d->kind == CANON__N_RENAME && strcmp(e->name, d->names[i]) != 0)
        fprintf(out, "%s%s -> %s", k++ ? ", " : " ", e->name, d->names[i]);
      if (d->kind == CANON__N_CAST && e->kind == CANON__E_CALL)
        fprintf(out, "%s%s %s %s", k++ ? ", " : " ", d->names[i],
                e->fn == CANON__F_TRY_CAST ? "TRY AS" : "AS", canon_type_name(e->cast_to));
    }
    break;
  case CANON__N_DROP: print_names(out, "", d->keys, d->nkeys); break;
  case CANON__N_REPARTITION:
    if (d->nkeys)
      print_names(out, "by ", d->keys, d->nkeys);
    else
      fprintf(out, " num %lld", (long long)d->n);
    break;
  case CANON__N_PERSIST:
    if (d->table)
      fprintf(out, " (computed: %lld rows)", (long long)d->table->nrows);
    else
      fprintf(out, " (not computed yet)");
    break;
  default: break;
  }
}
