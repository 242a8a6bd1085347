/* agg_internal.h — what aggregate.c (grouping and the partial step),
 * agg_final.c (the final step) and agg_sum.c (sum and mean) share: the
 * aggregate specs, the grouping of a run, output builders, byte helpers. */
#ifndef CANON_AGG_INTERNAL_H
#define CANON_AGG_INTERNAL_H

#include "kernels.h"

#define AG_XSUM_ARRAY_MAX 4096
/* Key columns gathered whole (more keys than this: appended per value). */
#define AG_TAKE_MAX 64

__extension__ typedef __int128 ag_i128;
__extension__ typedef unsigned __int128 ag_u128;

/* AG_EXT: var, stddev, corr, median, quantile, quantile_disc,
 * count_distinct, any, all (agg_ext.h) */
typedef enum ag_kind { AG_COUNT, AG_SUM_I64, AG_XSUM, AG_MINMAX, AG_EXT } ag_kind;

/* What one aggregate needs to know. */
typedef struct ag_spec {
  const canon_expr *e;
  ag_kind kind;
  bool has_arg;        /* false for count(*) */
  bool is_max;
  bool is_mean;
  canon_type in_type;  /* argument type */
  canon_type out_type; /* result type */
} ag_spec;

/* ---- byte helpers ------------------------------------------------------ */

static inline void ag_put64(uint8_t *p, uint64_t v) {
  for (int k = 0; k < 8; k++) p[k] = (uint8_t)(v >> (8 * k));
}

static inline uint64_t ag_get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int k = 0; k < 8; k++) v |= (uint64_t)p[k] << (8 * k);
  return v;
}

static inline double ag_f64(uint64_t b) {
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}

/* The value an aggregate reports for a double: never -0.0, one NaN. */
static inline double ag_canon_f64(double d) {
  if (d != d) return ag_f64(UINT64_C(0x7ff8000000000000));
  return d == 0 ? 0.0 : d;
}

/* Rows in group order: order[start[g] .. start[g+1]) are the rows of group
 * g, in input order (rows with group -1 left out). */
typedef struct ag_csr {
  int64_t *start;
  int64_t *order;
} ag_csr;

static inline int ag_csr_build(ag_csr *c, const int64_t *gid, int64_t n, int64_t ngroups) {
  c->start = canon__calloc((size_t)ngroups + 1, sizeof *c->start);
  c->order = canon__reallocarray(NULL, n ? (size_t)n : 1, sizeof *c->order);
  if (!c->start || !c->order) return CANON_ERR_NOMEM;
  for (int64_t i = 0; i < n; i++)
    if (gid[i] >= 0) c->start[gid[i] + 1]++;
  for (int64_t g = 0; g < ngroups; g++) c->start[g + 1] += c->start[g];
  int64_t *pos = canon__reallocarray(NULL, (size_t)ngroups + 1, sizeof *pos);
  if (!pos) return CANON_ERR_NOMEM;
  memcpy(pos, c->start, ((size_t)ngroups + 1) * sizeof *pos);
  for (int64_t i = 0; i < n; i++)
    if (gid[i] >= 0) c->order[pos[gid[i]]++] = i;
  free(pos);
  return 0;
}

static inline void ag_csr_free(ag_csr *c) {
  free(c->start);
  free(c->order);
  c->start = c->order = NULL;
}

/* Shared state of one run: the grouping of the input rows. */
typedef struct ag_run {
  int64_t n;
  const int64_t *gid;  /* NULL: no keys, every row in group 0 */
  int64_t ngroups;
  ag_csr csr;          /* built on first need */
} ag_run;

#define AG_GID(r, i) ((r)->gid ? (r)->gid[i] : 0)

/* Build the group-order index (only needed with keys: without keys there
 * is one group, which the accumulator-array path handles). */
static inline int ag_run_csr(ag_run *r) {
  if (r->csr.order) return 0;
  return ag_csr_build(&r->csr, r->gid, r->n, r->ngroups);
}

/* ---- shared by the partial and final steps (aggregate.c) ---------------- */

/* Builders of an output table's columns, or for some leading key columns
 * a column gathered whole (pre[k]); freed by canon__ag_out_reset. */
typedef struct ag_out {
  int ncols;
  canon__colbuilder *cb;
  canon__column **pre;
  int ninit;
} ag_out;

/* The specs of aggregates aggs[0..naggs) (*out malloc'd). */
int canon__ag_specs(canon_expr *const *aggs, int naggs, ag_spec **out, canon_error *err);
int canon__ag_out_init(ag_out *o, const canon_type *types, int ncols, int64_t rows);
void canon__ag_out_reset(ag_out *o);
int canon__ag_out_take_keys(ag_out *o, int ncols, const canon_table *t, const int *cols,
                            int nkeys, const bool *take, const int64_t *first, int64_t ng,
                            canon_error *err);
canon_table *canon__ag_out_finish(ag_out *o, const canon_schema *s, int64_t rows,
                                  canon_error *err);
int canon__ag_group(const canon_table *t, const int *cols, int nkeys, bool drop_null_keys,
                    bool barely, ag_run *r, int64_t **gid, int64_t **first, canon_error *err);

/* ---- sum and mean (agg_sum.c) ------------------------------------------- */

/* How rows feed an accumulator and how a finished one is emitted. */
typedef struct ag_xs_job {
  const ag_spec *spec;
  const canon__column *col;  /* partial: the argument; final: the states */
  bool final;
  canon__colbuilder *out;
  int state_index;
  canon_error *err;
} ag_xs_job;

/* A state that does not parse: the error for aggregate i at row `row`. */
int canon__ag_corrupt(canon_error *err, int i, int64_t row);
/* Partial or final sums/means of one aggregate over the run's groups. */
int canon__ag_xs_run(ag_run *r, const ag_xs_job *j);
/* Exact int64 sums (two's complement in 128 bits) and non-NULL counts per
 * group of int64 column c into sum[] and cnt[] (zeroed, ngroups or 1
 * long).  Below 2^32 rows each group is one 128-bit slot holding
 * sum * 2^kb + count, so a row touches one slot (fetched 16 rows ahead
 * with many groups); the partial sum states and the int64 means share it. */
void canon__ag_i64_sums(const ag_run *r, const canon__column *c, ag_u128 *sum, int64_t *cnt);

#endif
