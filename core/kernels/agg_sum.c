/* agg_sum.c — sum and mean of a group: exact superaccumulators (partial and
 * final), int64 values summed in 128 bits first, the compact one-value
 * states; the state layouts are in aggregate.c's header comment.
 *
 * Fixed-point fast paths (exactsum.c "fixed point"), each taken only when
 * a check over the whole run proves it exact, else the superaccumulator
 * paths run as before: partial sums of doubles whose exponents fit a
 * window are 128-bit integers per group (the count in their low bits when
 * there is room); the final step adds states whose bits fit a window into
 * 128-bit integers per group in one pass over the rows; int64 means over
 * few groups keep the count in the low bits of the sum (64 bits when the
 * values are small).  Every path writes the same states and answers. */
#include "agg_internal.h"

#include <math.h>

/* ---- superaccumulator groups (partial and final) ------------------------ */


int canon__ag_corrupt(canon_error *err, int i, int64_t row) {
  return canon__seterr(err, CANON_ERR_PARSE, "corrupt partial state in column __state%d, row %lld",
                       i, (long long)row);
}

/* Compact xsum states (see the header). */
#define AG_XS_NONE 0
#define AG_XS_ONE 1

/* The compact state of a group with one value (its 8 bytes). */
static int ag_xs_emit_one(const ag_xs_job *j, uint64_t value_bits) {
  uint8_t buf[9];
  buf[0] = AG_XS_ONE;
  ag_put64(buf + 1, value_bits);
  return canon__cb_str(j->out, (const char *)buf, 9);
}

/* Final: when group row i is the only state of its group and holds one
 * double, append the answer and set *done. */
static int ag_xs_final_one(const ag_xs_job *j, int64_t i, bool *done) {
  *done = false;
  if (j->spec->in_type != CANON_FLOAT64 || !canon__valid(j->col, i)) return 0;
  size_t len;
  const uint8_t *p = (const uint8_t *)canon__str(j->col, i, &len);
  if (len != 9 || p[0] != AG_XS_ONE) return 0;
  *done = true;
  return canon__cb_f64(j->out, ag_canon_f64(ag_f64(ag_get64(p + 1))));
}

/* Feed row i into (acc, count). */
static int ag_xs_feed(const ag_xs_job *j, canon__xsum *acc, int64_t *count, int64_t i) {
  const canon__column *c = j->col;
  if (!canon__valid(c, i)) {
    if (j->final) return canon__ag_corrupt(j->err, j->state_index, i);
    return 0;
  }
  if (!j->final) {
    if (j->spec->in_type == CANON_INT64) canon__xsum_add_i64(acc, canon__i64(c)[i]);
    else canon__xsum_add(acc, canon__f64(c)[i]);
    ++*count;
    return 0;
  }
  size_t len;
  const uint8_t *p = (const uint8_t *)canon__str(c, i, &len);
  if (len == 1 && p[0] == AG_XS_NONE) return 0;
  if (len == 9 && p[0] == AG_XS_ONE) {
    if (*count == INT64_MAX) return canon__ag_corrupt(j->err, j->state_index, i);
    uint64_t b = ag_get64(p + 1);
    if (j->spec->in_type == CANON_INT64) canon__xsum_add_i64(acc, (int64_t)b);
    else canon__xsum_add(acc, ag_f64(b));
    ++*count;
    return 0;
  }
  int64_t pc;
  if (len < 11 || (pc = (int64_t)ag_get64(p)) < 0 || pc > INT64_MAX - *count ||
      canon__xsum_add_serialized(acc, p + 8, len - 8) != (int64_t)(len - 8))
    return canon__ag_corrupt(j->err, j->state_index, i);
  *count += pc;
  return 0;
}

/* Emit one group's accumulator: a serialized state (partial) or the sum or
 * mean, NULL for a group without values (final). */
static int ag_xs_emit(const ag_xs_job *j, const canon__xsum *acc, int64_t count) {
  if (!j->final && !count) {
    uint8_t none = AG_XS_NONE;
    return canon__cb_str(j->out, (const char *)&none, 1);
  }
  if (!j->final) {
    uint8_t buf[8 + CANON__XSUM_MAX_BYTES];
    ag_put64(buf, (uint64_t)count);
    size_t len = 8 + canon__xsum_serialize(acc, buf + 8);
    return canon__cb_str(j->out, (const char *)buf, len);
  }
  if (!count) return canon__cb_null(j->out);
  double v = j->spec->is_mean ? canon__xsum_div_round(acc, count) : canon__xsum_round(acc);
  return canon__cb_f64(j->out, v);
}

/* Partial sums over many groups: scatter the non-NULL values into group
 * order first (the writes stream through the store buffer), then sum each
 * group's run sequentially with one accumulator. */
static int ag_xs_partial_scatter(ag_run *r, const ag_xs_job *j) {
  const canon__column *c = j->col;
  size_t ng = (size_t)r->ngroups;
  int64_t *start = canon__calloc(ng + 1, sizeof *start);
  int64_t *pos = canon__reallocarray(NULL, ng + 1, sizeof *pos);
  /* The values in group order, as their own type. */
  union {
    void *any;
    int64_t *i;
    double *f;
  } vals = {NULL};
  int rc = 0;
  if (!start || !pos) goto oom;
  for (int64_t i = 0; i < r->n; i++) {
    int64_t g = AG_GID(r, i);
    if (g >= 0 && canon__valid(c, i)) start[g + 1]++;
  }
  for (size_t g = 0; g < ng; g++) start[g + 1] += start[g];
  memcpy(pos, start, (ng + 1) * sizeof *pos);
  vals.any = canon__reallocarray(NULL, start[ng] ? (size_t)start[ng] : 1, 8);
  if (!vals.any) goto oom;
  bool ints = j->spec->in_type == CANON_INT64;
  for (int64_t i = 0; i < r->n; i++) {
    int64_t g = AG_GID(r, i);
    if (g < 0 || !canon__valid(c, i)) continue;
    if (ints) vals.i[pos[g]++] = canon__i64(c)[i];
    else vals.f[pos[g]++] = canon__f64(c)[i];
  }
  canon__xsum acc;
  for (size_t g = 0; g < ng && !rc; g++) {
    if (start[g + 1] - start[g] == 1) {
      uint64_t b;
      if (ints) b = (uint64_t)vals.i[start[g]];
      else memcpy(&b, &vals.f[start[g]], sizeof b);
      rc = ag_xs_emit_one(j, b);
      continue;
    }
    canon__xsum_init(&acc);
    if (ints) {
      /* Exact in 128 bits (fewer than 2^63 values), added once. */
      ag_u128 sum = 0;
      for (int64_t k = start[g]; k < start[g + 1]; k++) sum += (ag_u128)(ag_i128)vals.i[k];
      canon__xsum_add_i128(&acc, (uint64_t)sum, (int64_t)(uint64_t)(sum >> 64));
    } else {
      canon__xsum_add_run(&acc, vals.f + start[g], start[g + 1] - start[g]);
    }
    rc = ag_xs_emit(j, &acc, start[g + 1] - start[g]);
  }
  goto done;
oom:
  rc = CANON_ERR_NOMEM;
done:
  free(start);
  free(pos);
  free(vals.any);
  return rc;
}

/* Partial sums of doubles in fixed point (exactsum.c), any number of
 * groups: when every value fits a window, one pass adds each into its
 * group's 128-bit integer, whose low kbits bits count the values (or, when
 * the window leaves no room for that, a count array does); *done is false
 * (nothing written) when they do not fit.  The states are the ones the
 * superaccumulator paths write, except that a lone -0.0 becomes 0.0 (the
 * final step reads both as 0.0). */
static int ag_xs_partial_fixed(ag_run *r, const ag_xs_job *j, bool *done) {
  *done = false;
  const canon__column *c = j->col;
  const uint8_t *valid = c->validity ? c->validity->data : NULL;
  /* Each group has at most n < 2^kbits values, so its sum needs kbits
   * bits more than the largest value. */
  int kbits = r->n ? 64 - __builtin_clzll((uint64_t)r->n) : 1;
  int mbits;
  int pos = canon__xsum_fix_window(canon__f64(c), valid, r->n, &mbits);
  if (pos < 0 || mbits + kbits > 126) return 0;
  bool packed = mbits + 2 * kbits <= 126;
  size_t ng = r->ngroups ? (size_t)r->ngroups : 1;
  canon__i128 *acc = canon__calloc(ng, sizeof *acc);
  int64_t *cnt = packed ? NULL : canon__calloc(ng, sizeof *cnt);
  int rc = 0;
  if (!acc || (!packed && !cnt)) {
    rc = CANON_ERR_NOMEM;
    goto done;
  }
  canon__xsum_fix_grouped(acc, cnt, (int64_t)ng, r->gid, canon__f64(c), valid, r->n, pos, kbits);
  uint8_t buf[8 + CANON__XSUM_MAX_BYTES];
  canon__i128 mask = ((canon__i128)1 << kbits) - 1;
  for (int64_t g = 0; g < r->ngroups && !rc; g++) {
    int64_t n = packed ? (int64_t)(acc[g] & mask) : cnt[g];
    canon__i128 sum = packed ? acc[g] >> kbits : acc[g];  /* arithmetic: the count's bits drop */
    if (n == 0) {
      buf[0] = AG_XS_NONE;
      rc = canon__cb_str(j->out, (const char *)buf, 1);
    } else if (n == 1) {
      rc = ag_xs_emit_one(j, canon__xsum_fix_f64_bits(sum, pos));
    } else {
      ag_put64(buf, (uint64_t)n);
      size_t len = 8 + canon__xsum_fix_serialize(sum, pos, buf + 8);
      rc = canon__cb_str(j->out, (const char *)buf, len);
    }
  }
  *done = !rc;
done:
  free(acc);
  free(cnt);
  return rc;
}

/* The set bits [*low, *high] (-1: zero) of the one value a compact state
 * holds, as a superaccumulator places it; false for NaN and inf. */
static bool ag_xs_one_span(const ag_xs_job *j, uint64_t b, int *low, int *high) {
  *low = *high = -1;
  int base;
  uint64_t m;
  if (j->spec->in_type == CANON_INT64) {
    base = 1074;  /* the units digit */
    m = (int64_t)b < 0 ? (uint64_t)0 - b : b;
  } else {
    unsigned e = (unsigned)(b >> 52) & 0x7ff;
    if (e == 0x7ff) return false;
    m = b & ((UINT64_C(1) << 52) - 1);
    if (e) m |= UINT64_C(1) << 52;
    base = e ? (int)e - 1 : 0;
  }
  if (m) {
    *low = base + __builtin_ctzll(m);
    *high = base + 63 - __builtin_clzll(m);
  }
  return true;
}

/* The one value of a compact state in units of 2^(pos - 1074), its set
 * bits within [pos, pos + 126]. */
static canon__i128 ag_xs_one_fixed(const ag_xs_job *j, uint64_t b, int pos) {
  bool neg;
  uint64_t m;
  int at;
  if (j->spec->in_type == CANON_INT64) {
    neg = (int64_t)b < 0;
    m = neg ? (uint64_t)0 - b : b;
    at = 1074 - pos;
  } else {
    unsigned e = (unsigned)(b >> 52) & 0x7ff;
    neg = b >> 63;
    m = b & ((UINT64_C(1) << 52) - 1);
    if (e) m |= UINT64_C(1) << 52;
    at = (e ? (int)e - 1 : 0) - pos;
  }
  if (!m) return 0;
  /* at > -64: the bits below pos are zero. */
  ag_u128 u = at < 0 ? (ag_u128)(m >> -at) : (ag_u128)m << at;
  return neg ? -(canon__i128)u : (canon__i128)u;
}

/* The final step in fixed point: when every state of the run is valid,
 * without NaN or inf, and all their set bits fit a window that leaves
 * headroom for the number of states, each is added to its group's 128-bit
 * integer in one pass over the rows (no group-order index, no
 * superaccumulator per state); *done false (nothing written) otherwise,
 * and the general paths then also report any corrupt state. */
static int ag_xs_final_fixed(ag_run *r, const ag_xs_job *j, bool *done) {
  *done = false;
  const canon__column *c = j->col;
  int lo_all = INT32_MAX, hi_all = -1;
  for (int64_t i = 0; i < r->n; i++) {
    if (AG_GID(r, i) < 0) continue;
    if (!canon__valid(c, i)) return 0;
    size_t len;
    const uint8_t *p = (const uint8_t *)canon__str(c, i, &len);
    int low, high;
    bool special;
    if (len == 1 && p[0] == AG_XS_NONE) continue;
    if (len == 9 && p[0] == AG_XS_ONE) {
      if (!ag_xs_one_span(j, ag_get64(p + 1), &low, &high)) return 0;
    } else if (len < 11 || (int64_t)ag_get64(p) < 0 ||
               canon__xsum_serialized_span(p + 8, len - 8, &low, &high, &special) !=
                   (int64_t)(len - 8) ||
               special) {
      return 0;
    }
    if (low >= 0 && low < lo_all) lo_all = low;
    if (high > hi_all) hi_all = high;
  }
  /* At most n < 2^kbits states per group, each below 2^(hi - lo + 1). */
  int kbits = r->n ? 64 - __builtin_clzll((uint64_t)r->n) : 1;
  int pos = hi_all < 0 ? 0 : lo_all;
  if (hi_all >= 0 && hi_all - lo_all + 1 + kbits > 126) return 0;
  size_t ng = r->ngroups ? (size_t)r->ngroups : 1;
  canon__i128 *sum = canon__calloc(ng, sizeof *sum);
  int64_t *cnt = canon__calloc(ng, sizeof *cnt);
  int rc = 0;
  if (!sum || !cnt) {
    rc = CANON_ERR_NOMEM;
    goto done;
  }
  for (int64_t i = 0; i < r->n; i++) {
    int64_t g = AG_GID(r, i);
    if (g < 0) continue;
    size_t len;
    const uint8_t *p = (const uint8_t *)canon__str(c, i, &len);
    if (len == 1) continue; /* no values */
    int64_t pc = 1;
    if (len == 9 && p[0] == AG_XS_ONE) {
      sum[g] += ag_xs_one_fixed(j, ag_get64(p + 1), pos);
    } else {
      pc = (int64_t)ag_get64(p);
      sum[g] += canon__xsum_serialized_fixed(p + 8, pos);
    }
    /* A count past INT64_MAX is corrupt: the general path reports it. */
    if (pc > INT64_MAX - cnt[g]) goto done;
    cnt[g] += pc;
  }
  for (int64_t g = 0; g < r->ngroups && !rc; g++) {
    if (!cnt[g]) {
      rc = canon__cb_null(j->out);
      continue;
    }
    canon__xsum acc;
    canon__xsum_init(&acc);
    canon__xsum_add_fixed(&acc, sum[g], pos);
    double v = j->spec->is_mean ? canon__xsum_div_round(&acc, cnt[g]) : canon__xsum_round(&acc);
    rc = canon__cb_f64(j->out, v);
  }
  *done = !rc;
done:
  free(sum);
  free(cnt);
  return rc;
}

/* The largest magnitude of v[0..n) (|INT64_MIN| is 2^63), in four
 * independent chains of max. */
static uint64_t ag_i64_magnitude(const int64_t *v, int64_t n) {
  uint64_t m0 = 0, m1 = 0, m2 = 0, m3 = 0;
#define AG_MAG(m, x)                                                          \
  do {                                                                        \
    uint64_t s_ = (uint64_t)((x) >> 63), a_ = ((uint64_t)(x) ^ s_) - s_;      \
    m = a_ > m ? a_ : m;                                                      \
  } while (0)
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    AG_MAG(m0, v[i]);
    AG_MAG(m1, v[i + 1]);
    AG_MAG(m2, v[i + 2]);
    AG_MAG(m3, v[i + 3]);
  }
  for (; i < n; i++) AG_MAG(m0, v[i]);
#undef AG_MAG
  m0 = m0 > m1 ? m0 : m1;
  m2 = m2 > m3 ? m2 : m3;
  return m0 > m2 ? m0 : m2;
}

void canon__ag_i64_sums(const ag_run *r, const canon__column *c, ag_u128 *sum, int64_t *cnt) {
  size_t ng = r->ngroups ? (size_t)r->ngroups : 1;
  const int64_t *v = canon__i64(c);
  const int64_t *gid = r->gid;
  int64_t n = r->n;
  int kb = n ? 64 - __builtin_clzll((uint64_t)n) : 1;
  if (kb > 32) {
    /* 2^32 rows or more: sum and count apart (2^64 rows of int64 cannot
     * overflow 128 bits; wrapping unsigned arithmetic is two's complement). */
    for (int64_t i = 0; i < n; i++) {
      int64_t g = AG_GID(r, i);
      if (g < 0 || !canon__valid(c, i)) continue;
      sum[g] += (ag_u128)(ag_i128)v[i];
      cnt[g]++;
    }
    return;
  }
  /* One slot per group: sum * 2^kb + count, the count < 2^kb in the low
   * bits (|sum| < 2^(63 + kb) keeps the slot within 128 bits). */
  if (!gid) {
    for (int64_t i = 0; i < n; i++)
      if (canon__valid(c, i)) sum[0] += ((ag_u128)(ag_i128)v[i] << kb) + 1;
  } else if (c->null_count == 0 && ng > 1024) {
    for (int64_t i = 0; i < n; i++) {
      if (i + 16 < n) __builtin_prefetch(&sum[gid[i + 16] < 0 ? 0 : gid[i + 16]], 1);
      if (gid[i] >= 0) sum[gid[i]] += ((ag_u128)(ag_i128)v[i] << kb) + 1;
    }
  } else {
    for (int64_t i = 0; i < n; i++)
      if (gid[i] >= 0 && canon__valid(c, i)) sum[gid[i]] += ((ag_u128)(ag_i128)v[i] << kb) + 1;
  }
  for (size_t g = 0; g < ng; g++) {
    cnt[g] = (int64_t)(sum[g] & (((ag_u128)1 << kb) - 1));
    sum[g] = (ag_u128)((ag_i128)sum[g] >> kb); /* arithmetic: the count drops */
  }
}

/* Partial sums over few groups: one pass over the rows into the array of
 * accumulators acc (initialized) and counts cnt (zeroed).  int64 values are
 * summed exactly in 128 bits first and added once per group. */
static int ag_xs_partial_array(ag_run *r, const ag_xs_job *j, canon__xsum *acc, int64_t *cnt) {
  const canon__column *c = j->col;
  const uint8_t *valid = c->validity ? c->validity->data : NULL;
  size_t ng = r->ngroups ? (size_t)r->ngroups : 1;
  if (j->spec->in_type == CANON_INT64) {
    const int64_t *v = canon__i64(c);
    int kbits = r->n ? 64 - __builtin_clzll((uint64_t)r->n) : 1;
    /* Small values (every |v| < 2^vbits, NULL slots included) have sums
     * below 2^(vbits + kbits): when that times 2^kbits plus the count fits
     * 63 bits, one 64-bit add per row. */
    uint64_t vmag = ag_i64_magnitude(v, r->n);
    int vbits = vmag ? 64 - __builtin_clzll(vmag) : 0;
    if (vbits + 2 * kbits <= 63) {
      uint64_t *a = canon__calloc(ng, sizeof *a);
      if (!a) return CANON_ERR_NOMEM;
      for (int64_t i = 0; i < r->n; i++) {
        int64_t g = AG_GID(r, i);
        if (g < 0 || (valid && !canon__valid(c, i))) continue;
        a[g] += ((uint64_t)v[i] << kbits) + 1;  /* wrapping: two's complement */
      }
      for (size_t g = 0; g < ng; g++) {
        cnt[g] = (int64_t)(a[g] & ((UINT64_C(1) << kbits) - 1));
        canon__xsum_add_i64(&acc[g], (int64_t)a[g] >> kbits);  /* arithmetic */
      }
      free(a);
      return 0;
    }
    ag_u128 *sum = canon__calloc(ng, sizeof *sum);
    if (!sum) return CANON_ERR_NOMEM;
    canon__ag_i64_sums(r, c, sum, cnt);
    for (size_t g = 0; g < ng; g++)
      canon__xsum_add_i128(&acc[g], (uint64_t)sum[g], (int64_t)(uint64_t)(sum[g] >> 64));
    free(sum);
    return 0;
  }
  for (int64_t i = 0; i < r->n; i++) {
    int64_t g = AG_GID(r, i);
    if (g >= 0 && (!valid || canon__valid(c, i))) cnt[g]++;
  }
  canon__xsum_add_grouped(acc, r->gid, canon__f64(c), valid, r->n);
  return 0;
}

/* The final step when every group has exactly one state row (*done); when
 * some group has two, nothing is written and *done is false. */
static int ag_xs_final_single(ag_run *r, const ag_xs_job *j, bool *done) {
  *done = false;
  int64_t *row = canon__reallocarray(NULL, r->ngroups ? (size_t)r->ngroups : 1, sizeof *row);
  if (!row) return CANON_ERR_NOMEM;
  for (int64_t g = 0; g < r->ngroups; g++) row[g] = -1;
  bool single = true;
  for (int64_t i = 0; i < r->n && single; i++) {
    int64_t g = AG_GID(r, i);
    if (g < 0) continue;
    if (row[g] >= 0) single = false;
    row[g] = i;
  }
  int rc = 0;
  for (int64_t g = 0; g < r->ngroups && single && !rc; g++) {
    bool one;
    if (row[g] < 0) { /* no state: not produced by grouping, but harmless */
      rc = canon__cb_null(j->out);
      continue;
    }
    if ((rc = ag_xs_final_one(j, row[g], &one)) != 0 || one) continue;
    canon__xsum acc;
    canon__xsum_init(&acc);
    int64_t cnt = 0;
    if (!(rc = ag_xs_feed(j, &acc, &cnt, row[g]))) rc = ag_xs_emit(j, &acc, cnt);
  }
  *done = single;
  free(row);
  return rc;
}

int canon__ag_xs_run(ag_run *r, const ag_xs_job *j) {
  int rc = 0;
  if (!j->final && j->spec->in_type == CANON_FLOAT64) {
    bool done;
    if ((rc = ag_xs_partial_fixed(r, j, &done)) != 0 || done) return rc;
  }
  if (j->final && r->ngroups > AG_XSUM_ARRAY_MAX) {
    /* When no group has two states (groups disjoint across partitions,
     * as with about one row per group), each is finished from its one
     * state, without the group-order index. */
    bool done;
    if ((rc = ag_xs_final_single(r, j, &done)) != 0 || done) return rc;
  }
  if (j->final) {
    bool done;
    if ((rc = ag_xs_final_fixed(r, j, &done)) != 0 || done) return rc;
  }
  if (!j->final && r->ngroups > AG_XSUM_ARRAY_MAX) return ag_xs_partial_scatter(r, j);
  if (r->ngroups <= AG_XSUM_ARRAY_MAX) {
    /* Few groups: one pass over the rows into an array of accumulators. */
    size_t ng = r->ngroups ? (size_t)r->ngroups : 1;
    canon__xsum *acc = canon__reallocarray(NULL, ng, sizeof *acc);
    int64_t *cnt = canon__calloc(ng, sizeof *cnt);
    if (!acc || !cnt) {
      rc = CANON_ERR_NOMEM;
    } else {
      for (size_t g = 0; g < ng; g++) canon__xsum_init(&acc[g]);
      if (!j->final) rc = ag_xs_partial_array(r, j, acc, cnt);
      for (int64_t i = 0; i < r->n && !rc && j->final; i++) {
        int64_t g = AG_GID(r, i);
        if (g >= 0) rc = ag_xs_feed(j, &acc[g], &cnt[g], i);
      }
      for (int64_t g = 0; g < r->ngroups && !rc; g++) rc = ag_xs_emit(j, &acc[g], cnt[g]);
    }
    free(acc);
    free(cnt);
    return rc;
  }
  /* Many groups, one at a time, in group order. */
  if ((rc = ag_run_csr(r)) != 0) return rc;
  canon__xsum acc;
  for (int64_t g = 0; g < r->ngroups && !rc; g++) {
    if (r->csr.start[g + 1] - r->csr.start[g] == 1) {
      bool done;
      rc = ag_xs_final_one(j, r->csr.order[r->csr.start[g]], &done);
      if (done || rc) continue;
    }
    canon__xsum_init(&acc);
    int64_t cnt = 0;
    for (int64_t k = r->csr.start[g]; k < r->csr.start[g + 1] && !rc; k++)
      rc = ag_xs_feed(j, &acc, &cnt, r->csr.order[k]);
    if (!rc) rc = ag_xs_emit(j, &acc, cnt);
  }
  return rc;
}
