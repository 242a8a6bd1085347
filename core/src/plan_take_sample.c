/* plan_take_sample.c — constructors of take (first n rows per group under a
 * stable presort) and sample (a reproducible choice of rows by a hash of
 * their global position).  Planning is in physical_rowops.c, kernels in
 * kernels/take_sample.c. */
#include "rowops.h"

canon_df *canon_take(canon_df *in, int64_t n, const canon_sort_key *presort, int npresort,
                     const char *const *by, int nby, canon_error *err) {
  canon_df *d = canon__rowops_unary(in, CANON__N_TAKE, err);
  if (!d) return NULL;
  if (n < 0) {
    canon__seterr(err, CANON_ERR_INVALID, "take n must be >= 0, not %lld", (long long)n);
    return canon__rowops_fail(d, err);
  }
  d->n = n;
  if (canon__rowops_sort(d, presort, npresort, in->schema, err) ||
      canon__rowops_keys(d, by, nby, in->schema, "take group key", err))
    return canon__rowops_fail(d, err);
  if (!(d->schema = canon__schema_copy(in->schema))) {
    canon__nomem(err);
    return canon__rowops_fail(d, err);
  }
  return d;
}

canon_df *canon_sample(canon_df *in, double fraction, int64_t n, uint64_t seed,
                       canon_error *err) {
  canon_df *d = canon__rowops_unary(in, CANON__N_SAMPLE, err);
  if (!d) return NULL;
  /* A NaN fraction counts as given (and then fails the range check). */
  bool has_fraction = !(fraction < 0), has_n = n >= 0;
  if (has_fraction == has_n) {
    canon__seterr(err, CANON_ERR_INVALID,
                  "sample takes exactly one of fraction (in [0, 1]) or n (>= 0); pass a "
                  "negative value for the other");
    return canon__rowops_fail(d, err);
  }
  if (has_fraction && !(fraction <= 1.0)) {
    canon__seterr(err, CANON_ERR_INVALID, "sample fraction must be in [0, 1], not %g", fraction);
    return canon__rowops_fail(d, err);
  }
  /* -0.0 keeps the same rows as 0.0; store one form so plans compare. */
  d->fraction = has_fraction ? fraction + 0.0 : -1.0;
  d->n = has_n ? n : -1;
  d->seed = seed;
  if (!(d->schema = canon__schema_copy(in->schema))) {
    canon__nomem(err);
    return canon__rowops_fail(d, err);
  }
  return d;
}
