/* agg_ext.h — the aggregates beyond count/sum/mean/min/max that
 * aggregate.c hands off: var, stddev, corr (agg_moments.c) and median,
 * quantile, quantile_disc, count_distinct, any, all (agg_values.c).
 *
 * Each works like the others in aggregate.c: the partial step writes one
 * serialized state (a string) per group, the final step merges the states
 * of each group and writes the result.  `gid` gives each row's group (-1:
 * row dropped; NULL: every row in group 0), groups numbered 0..ngroups-1. */
#ifndef CANON_AGG_EXT_H
#define CANON_AGG_EXT_H

#include "kernels.h"

/* Whether aggregate fn is implemented here. */
bool canon__aggx_handles(canon__fn fn);
/* Partial states of bound aggregate e over the rows of in. */
int canon__aggx_partial(const canon_expr *e, const canon_table *in, const int64_t *gid,
                        int64_t ngroups, canon__colbuilder *out, canon_error *err);
/* Merge the states (column `states`, state column index idx for messages)
 * of each group and append the results. */
int canon__aggx_final(const canon_expr *e, int idx, const canon__column *states,
                      const int64_t *gid, int64_t ngroups, canon__colbuilder *out,
                      canon_error *err);

/* The two families (dispatched by the functions above). */
bool canon__aggm_handles(canon__fn fn);
int canon__aggm_partial(const canon_expr *e, const canon_table *in, const int64_t *gid,
                        int64_t ngroups, canon__colbuilder *out, canon_error *err);
int canon__aggm_final(const canon_expr *e, int idx, const canon__column *states,
                      const int64_t *gid, int64_t ngroups, canon__colbuilder *out,
                      canon_error *err);
bool canon__aggv_handles(canon__fn fn);
int canon__aggv_partial(const canon_expr *e, const canon_table *in, const int64_t *gid,
                        int64_t ngroups, canon__colbuilder *out, canon_error *err);
int canon__aggv_final(const canon_expr *e, int idx, const canon__column *states,
                      const int64_t *gid, int64_t ngroups, canon__colbuilder *out,
                      canon_error *err);

/* Rows in group order: order[start[g] .. start[g+1]) are group g's rows in
 * input order.  Both arrays malloc'd; CANON_ERR_NOMEM on failure. */
int canon__aggx_csr(const int64_t *gid, int64_t n, int64_t ngroups, int64_t **start,
                    int64_t **order);
/* "corrupt partial state in column __state<idx>, row <row>" */
int canon__aggx_corrupt(canon_error *err, int idx, int64_t row);
/* The double an aggregate reports: never -0.0, one NaN. */
double canon__aggx_canon_f64(double d);

#endif
