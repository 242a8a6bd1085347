/* physical_join.c — stages for joins, set operations and distinct, and
 * the per-task glue that runs their kernels.
 *
 *   join, hash       HASH both sides on the keys into P partitions -> one
 *                    stage with two inputs (in[0] left, in[1] right)
 *   join, broadcast  the right side BROADCAST into the left side's own
 *                    stage (no exchange of the left rows); inner, left,
 *                    semi, anti and cross only: an unmatched right row
 *                    would come out once per left partition otherwise
 *   union_all        FORWARD both: a stage of P(a) + P(b) partitions whose
 *                    first P(a) read a's partitions and the rest b's, so
 *                    the result is all of a, then all of b, in order
 *   union, intersect, except (and _all)
 *                    HASH both on every column -> one two-input stage
 *   distinct         first row per key locally -> HASH by the keys -> first
 *                    row per key again.  Buckets keep (source partition,
 *                    row) order, so the row kept is the first in input
 *                    order at every partition count.
 * Every input is planned before the stage that reads it, so stage numbers
 * stay in dependency order. */
#include "joins.h"
#include "physical.h"

/* Is the first op of stage s a scan (so the pipeline starts there, and
 * every input of the stage is free for operators to consume)? */
static bool starts_with_scan(const canon__stage *st) {
  return st->nops > 0 &&
         (st->ops[0].kind == CANON__OP_SCAN_CSV || st->ops[0].kind == CANON__OP_SCAN_TABLE);
}

/* Point input i of stage t at stage `from` through `kind`, HASH keys
 * `keys` (n of them; all columns of `sch` when keys is NULL). */
static int set_input(canon_job *job, int t, int i, int from, canon_exchange_kind kind,
                     const canon_schema *sch, char *const *keys, int n, canon_error *err) {
  canon__xin *x = &job->stages[t].in[i];
  memset(x, 0, sizeof *x);
  x->stage = from;
  x->kind = kind;
  if (kind != CANON_EXCHANGE_HASH) return 0;
  x->nkeys = keys ? n : sch->n;
  if (keys) {
    if (!(x->keys = canon__key_indices(sch, keys, n, err))) return -1;
  } else {
    if (!(x->keys = canon__calloc((size_t)(sch->n ? sch->n : 1), sizeof *x->keys)))
      return -canon__nomem(err);
    for (int c = 0; c < sch->n; c++) x->keys[c] = c;
  }
  return 0;
}

/* Add op `kind` for d reading its right side from input `input`. */
static int add_binary_op(canon_job *job, int s, canon__op_kind kind, canon_df *d, int input,
                         canon_error *err) {
  if (canon__add_op(job, s, kind, d, err)) return -1;
  job->stages[s].ops[job->stages[s].nops - 1].input = input;
  return s;
}

bool canon__join_may_broadcast_table(const canon_df *d) {
  if (d->join_type == CANON_JOIN_CROSS || d->join_type == CANON_JOIN_RIGHT ||
      d->join_type == CANON_JOIN_FULL || d->join_strategy != CANON_JOIN_AUTO)
    return false;
  int64_t max = d->broadcast_max_rows ? d->broadcast_max_rows : CANON__BROADCAST_MAX_ROWS;
  /* An in-memory right side: a table, or a persist already computed (its
   * rows are known; one not yet computed is planned as a hash join). */
  const canon_df *r = d->inputs[1];
  return max >= 0 && (r->kind == CANON__N_TABLE || r->kind == CANON__N_PERSIST) && r->table &&
         r->table->nrows <= max;
}

/* Should join d broadcast its right side? */
static bool use_broadcast(const canon_df *d) {
  if (d->join_type == CANON_JOIN_CROSS) return true;
  if (d->join_type == CANON_JOIN_RIGHT || d->join_type == CANON_JOIN_FULL) return false;
  if (d->join_strategy != CANON_JOIN_AUTO) return d->join_strategy == CANON_JOIN_BROADCAST;
  return canon__join_may_broadcast_table(d);
}

static int plan_join_broadcast(canon_job *job, canon_df *d, int P, canon_error *err) {
  int r, s;
  if ((r = canon__plan_node(job, d->inputs[1], P, err)) < 0) return r;
  if ((s = canon__plan_node(job, d->inputs[0], P, err)) < 0) return s;
  canon__stage *st = &job->stages[s];
  /* The stage needs a free input slot and a pipeline that does not start
   * from input 0 being taken; else the left rows pass 1:1 into a new
   * stage first. */
  if (st->ninputs >= 2 || (st->ninputs == 0 && !starts_with_scan(st))) {
    if ((s = canon__exchange_stage(job, s, CANON_EXCHANGE_FORWARD, st->nparts, err)) < 0)
      return s;
    st = &job->stages[s];
  }
  int i = st->ninputs;
  if (set_input(job, s, i, r, CANON_EXCHANGE_BROADCAST, NULL, NULL, 0, err)) return -1;
  job->stages[s].ninputs = i + 1;
  return add_binary_op(job, s, CANON__OP_JOIN, d, i, err);
}

/* Both inputs of d HASH-exchanged (on lkeys / rkeys, or every column when
 * NULL) into a new stage of P partitions. */
static int plan_hashed_pair(canon_job *job, canon_df *d, int P, char *const *lkeys,
                            char *const *rkeys, int nkeys, canon_error *err) {
  int a, b, t;
  if ((a = canon__plan_node(job, d->inputs[0], P, err)) < 0) return a;
  if ((b = canon__plan_node(job, d->inputs[1], P, err)) < 0) return b;
  if ((t = canon__new_stage(job, P, err)) < 0) return t;
  job->stages[t].ninputs = 2;
  if (set_input(job, t, 0, a, CANON_EXCHANGE_HASH, d->inputs[0]->schema, lkeys, nkeys, err) ||
      set_input(job, t, 1, b, CANON_EXCHANGE_HASH, d->inputs[1]->schema, rkeys, nkeys, err))
    return -1;
  return t;
}

static int plan_union_all(canon_job *job, canon_df *d, int P, canon_error *err) {
  int a, b, t;
  if ((a = canon__plan_node(job, d->inputs[0], P, err)) < 0) return a;
  if ((b = canon__plan_node(job, d->inputs[1], P, err)) < 0) return b;
  int pa = job->stages[a].nparts, pb = job->stages[b].nparts;
  if ((t = canon__new_stage(job, pa + pb, err)) < 0) return t;
  job->stages[t].ninputs = 2;
  set_input(job, t, 0, a, CANON_EXCHANGE_FORWARD, NULL, NULL, 0, err);
  set_input(job, t, 1, b, CANON_EXCHANGE_FORWARD, NULL, NULL, 0, err);
  job->stages[t].in[1].forward_offset = pa;
  return add_binary_op(job, t, CANON__OP_UNION_ALL, d, 1, err);
}

static int plan_distinct(canon_job *job, canon_df *d, int P, canon_error *err) {
  int s, t;
  if ((s = canon__plan_node(job, d->inputs[0], P, err)) < 0) return s;
  if (canon__add_op(job, s, CANON__OP_DISTINCT, d, err)) return -1;
  if ((t = canon__exchange_stage(job, s, CANON_EXCHANGE_HASH, P, err)) < 0) return t;
  if (set_input(job, t, 0, s, CANON_EXCHANGE_HASH, d->schema, d->nkeys ? d->keys : NULL,
                d->nkeys, err))
    return -1;
  return canon__add_op(job, t, CANON__OP_DISTINCT, d, err) ? -1 : t;
}

int canon__plan_binary(canon_job *job, canon_df *d, int P, canon_error *err) {
  int t;
  switch (d->kind) {
  case CANON__N_JOIN:
    if (use_broadcast(d)) return plan_join_broadcast(job, d, P, err);
    t = plan_hashed_pair(job, d, P, d->keys, d->rkeys, d->nkeys, err);
    return t < 0 ? t : add_binary_op(job, t, CANON__OP_JOIN, d, 1, err);
  case CANON__N_UNION_ALL: return plan_union_all(job, d, P, err);
  case CANON__N_UNION:
  case CANON__N_INTERSECT:
  case CANON__N_INTERSECT_ALL:
  case CANON__N_EXCEPT:
  case CANON__N_EXCEPT_ALL:
    t = plan_hashed_pair(job, d, P, NULL, NULL, 0, err);
    return t < 0 ? t : add_binary_op(job, t, CANON__OP_SETOP, d, 1, err);
  case CANON__N_DISTINCT: return plan_distinct(job, d, P, err);
  default: break;
  }
  canon__seterr(err, CANON_ERR_INTERNAL, "cannot plan node kind %d here", d->kind);
  return -1;
}

/* ---- tasks ---------------------------------------------------------------- */

static canon_table *run_join(const canon_df *d, const canon_table *left,
                             const canon_table *right, canon_error *err) {
  canon__join_layout lay;
  if (canon__join_layout_make(d, &lay, err)) return NULL;
  canon__join_spec sp = {
    .type = d->join_type,
    .nkeys = d->nkeys,
    .lkeys = lay.lkeys,
    .rkeys = lay.rkeys,
    .nulls_equal = d->nulls_equal,
    .out = d->schema,
    .out_left = lay.out_left,
    .out_right = lay.out_right,
  };
  canon_table *out = canon__join(left, right, &sp, err);
  canon__join_layout_free(&lay);
  return out;
}

static canon_table *run_union_all(const canon_df *d, const canon_table *a, const canon_table *b,
                                  canon_error *err) {
  canon_table *parts[2] = {canon__table_relabel(a, d->schema, err), NULL};
  canon_table *out = NULL;
  if (parts[0] && (parts[1] = canon__table_relabel(b, d->schema, err)))
    out = canon__table_concat(parts, 2, err);
  canon_table_free(parts[0]);
  canon_table_free(parts[1]);
  return out;
}

static canon_table *run_distinct(const canon_df *d, const canon_table *in, canon_error *err) {
  int n = d->nkeys ? d->nkeys : in->schema->n;
  int *keys = canon__calloc((size_t)(n ? n : 1), sizeof *keys);
  if (!keys) {
    canon__nomem(err);
    return NULL;
  }
  for (int k = 0; k < n; k++) keys[k] = d->nkeys ? canon_schema_find(in->schema, d->keys[k]) : k;
  canon_table *out = canon__distinct(in, keys, n, err);
  free(keys);
  return out;
}

static canon__setop_kind setop_of(canon__node_kind k) {
  switch (k) {
  case CANON__N_INTERSECT: return CANON__SET_INTERSECT;
  case CANON__N_INTERSECT_ALL: return CANON__SET_INTERSECT_ALL;
  case CANON__N_EXCEPT: return CANON__SET_EXCEPT;
  case CANON__N_EXCEPT_ALL: return CANON__SET_EXCEPT_ALL;
  default: return CANON__SET_UNION;
  }
}

canon_table *canon__run_binary_op(const canon__op *op, const canon_table *cur,
                                  canon_table *const *inputs, canon_error *err) {
  const canon_df *d = op->node;
  const canon_table *other = NULL;
  if (!cur) {
    canon__seterr(err, CANON_ERR_INTERNAL, "%s without input", canon__op_name(op->kind));
    return NULL;
  }
  if (op->kind != CANON__OP_DISTINCT) {
    if (!inputs || op->input < 0 || op->input > 1 || !(other = inputs[op->input])) {
      canon__seterr(err, CANON_ERR_INTERNAL, "%s without its second input",
                    canon__op_name(op->kind));
      return NULL;
    }
  }
  switch (op->kind) {
  case CANON__OP_JOIN: return run_join(d, cur, other, err);
  case CANON__OP_UNION_ALL: return run_union_all(d, cur, other, err);
  case CANON__OP_SETOP: return canon__setop(cur, other, setop_of(d->kind), d->schema, err);
  case CANON__OP_DISTINCT: return run_distinct(d, cur, err);
  default: break;
  }
  canon__seterr(err, CANON_ERR_INTERNAL, "unknown operator %d", op->kind);
  return NULL;
}
