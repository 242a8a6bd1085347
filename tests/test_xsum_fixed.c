/* test_xsum_fixed.c — the fixed-point fast paths of exact sums
 * (kernels/exactsum.c "fixed point", kernels/agg_sum.c): every result must
 * be the one the general superaccumulator gives, bit for bit, and a run
 * that does not fit the window must be refused. */
#include "testutil.h"

#include <float.h>
#include <math.h>

#include "kernels.h"

typedef __int128 i128;

static uint64_t bits(double d) {
  uint64_t b;
  memcpy(&b, &d, 8);
  return b;
}

static double from_bits(uint64_t b) {
  double d;
  memcpy(&d, &b, 8);
  return d;
}

static int64_t below(int64_t n) { return (int64_t)(tu_rnd() % (uint64_t)n); }

/* A double with exponent field in [elo, ehi] (0 = subnormal), random sign
 * and mantissa; now and then a zero of either sign. */
static double rnd_in(int elo, int ehi) {
  uint64_t r = tu_rnd();
  if ((r & 31) == 0) return (r & 32) ? -0.0 : 0.0;
  uint64_t e = (uint64_t)(elo + below(ehi - elo + 1));
  uint64_t m = tu_rnd() & 0xfffffffffffffULL;
  if ((r & 64) && (r & 128)) m &= ~0xffffffULL;  /* trailing zeros */
  if (!e && !m) m = 1;
  return from_bits((tu_rnd() & 0x8000000000000000ULL) | e << 52 | m);
}

#define ASSERT_SAME(got, want, c)                                                          \
  do {                                                                                     \
    double g_ = (got), w_ = (want);                                                        \
    cr_assert_eq(bits(g_), bits(w_), "case %d: %s = %a, want %a", (int)(c), #got, g_, w_); \
  } while (0)

/* The unit for v[0..n) when its largest magnitude leaves `headroom` bits
 * of a signed 128-bit integer free (one spare), else -1. */
static int window(const double *v, const uint8_t *valid, int64_t n, int headroom) {
  int mbits;
  int pos = canon__xsum_fix_window(v, valid, n, &mbits);
  return pos >= 0 && mbits + headroom <= 126 ? pos : -1;
}

static int bits_for(int64_t n) { return n ? 64 - __builtin_clzll((uint64_t)n) : 1; }

/* Group the values v[0..n) (validity valid, may be NULL) by gid through the
 * fixed path and compare every group's count, state bytes, lone value and
 * rounded sum with the superaccumulator's. */
static void check_groups1(const double *v, const uint8_t *valid, const int64_t *gid, int64_t n,
                          int ng, int pos, int kbits, bool sep, int trial) {
  i128 *acc = calloc((size_t)ng, sizeof *acc);
  int64_t *counts = sep ? calloc((size_t)ng, sizeof *counts) : NULL;
  canon__xsum_fix_grouped(acc, counts, ng, gid, v, valid, n, pos, kbits);
  canon__xsum *ref = malloc((size_t)ng * sizeof *ref);
  int64_t *cnt = calloc((size_t)ng, sizeof *cnt);
  int64_t *last = calloc((size_t)ng, sizeof *last);
  for (int g = 0; g < ng; g++) canon__xsum_init(&ref[g]);
  for (int64_t i = 0; i < n; i++) {
    if (valid && !((valid[i >> 3] >> (i & 7)) & 1)) continue;
    int64_t g = gid ? gid[i] : 0;
    if (g < 0) continue;
    canon__xsum_add(&ref[g], v[i]);
    cnt[g]++;
    last[g] = i;
  }
  i128 mask = ((i128)1 << kbits) - 1;
  for (int g = 0; g < ng; g++) {
    cr_assert_eq(sep ? counts[g] : (int64_t)(acc[g] & mask), cnt[g], "trial %d group %d: count",
                 trial, g);
    i128 s = sep ? acc[g] : acc[g] >> kbits;
    uint8_t want[CANON__XSUM_MAX_BYTES], got[CANON__XSUM_MAX_BYTES];
    size_t lw = canon__xsum_serialize(&ref[g], want);
    size_t lg = canon__xsum_fix_serialize(s, pos, got);
    cr_assert_eq(lg, lw, "trial %d group %d: state length %zu, want %zu", trial, g, lg, lw);
    cr_assert(!memcmp(got, want, lw), "trial %d group %d: state bytes", trial, g);
    canon__xsum x;
    canon__xsum_init(&x);
    canon__xsum_add_fixed(&x, s, pos);
    cr_assert_eq(bits(canon__xsum_round(&x)), bits(canon__xsum_round(&ref[g])),
                 "trial %d group %d: sum", trial, g);
    if (cnt[g])
      cr_assert_eq(bits(canon__xsum_div_round(&x, cnt[g])),
                   bits(canon__xsum_div_round(&ref[g], cnt[g])), "trial %d group %d: mean",
                   trial, g);
    if (cnt[g] == 1) {
      double one = v[last[g]] == 0 ? 0.0 : v[last[g]];
      cr_assert_eq(canon__xsum_fix_f64_bits(s, pos), bits(one), "trial %d group %d: lone %a",
                   trial, g, one);
    }
  }
  free(acc);
  free(ref);
  free(cnt);
  free(last);
  free(counts);
}

/* Both ways of counting: in the low kbits bits, and in a count array (the
 * values not shifted). */
static void check_groups(const double *v, const uint8_t *valid, const int64_t *gid, int64_t n,
                         int ng, int pos, int kbits, int trial) {
  check_groups1(v, valid, gid, n, ng, pos, kbits, false, trial);
  check_groups1(v, valid, gid, n, ng, pos, kbits, true, trial);
}

Test(xsum_fixed, random_windows_match_the_superaccumulator) {
  tu_rnd_state = 11;
  for (int trial = 0; trial < 400; trial++) {
    int64_t n = 1 + below(trial % 4 == 0 ? 3 : 3000);
    int kbits = bits_for(n);
    int width = (int)below(126 - 2 * kbits - 53 + 1);  /* exponent span that fits */
    int elo = trial % 7 == 0 ? 0 : (int)below(2047 - width);
    int ehi = elo + width;
    if (ehi > 2046) ehi = 2046;
    double *v = malloc((size_t)n * sizeof *v);
    int64_t *gid = malloc((size_t)n * sizeof *gid);
    uint8_t *valid = calloc((size_t)(n + 7) / 8, 1);
    int ng = 1 + (int)below(trial % 3 == 0 ? 2 : trial % 3 == 1 ? 200 : 3000);
    bool with_nulls = trial % 2;
    for (int64_t i = 0; i < n; i++) {
      v[i] = rnd_in(elo, ehi);
      gid[i] = below(10) == 0 ? -1 : below(ng);
      if (!with_nulls || below(5)) valid[i >> 3] |= (uint8_t)(1 << (i & 7));
      else if (below(2)) v[i] = NAN;  /* a NULL slot's value is not read */
    }
    int pos = window(v, with_nulls ? valid : NULL, n, 2 * kbits);
    cr_assert_geq(pos, 0, "trial %d: window [%d, %d] refused", trial, elo, ehi);
    check_groups(v, with_nulls ? valid : NULL, trial % 5 == 0 ? NULL : gid, n, trial % 5 ? ng : 1,
                 pos, kbits, trial);
    free(v);
    free(gid);
    free(valid);
  }
}

Test(xsum_fixed, window_refuses_what_does_not_fit) {
  double v[3] = {1.0, 2.0, 3.0};
  cr_assert_geq(window(v, NULL, 3, 4), 0);
  const double specials[] = {NAN, -NAN, INFINITY, -INFINITY};
  for (int k = 0; k < 4; k++) {
    v[1] = specials[k];
    cr_assert_eq(window(v, NULL, 3, 4), -1, "special %d", k);
    uint8_t valid = 5;  /* row 1 NULL: its value does not count */
    cr_assert_geq(window(v, &valid, 3, 4), 0, "special %d under NULL", k);
  }
  /* The widest span that fits: exponent fields e and e + 126 - headroom - 53. */
  for (int headroom = 0; headroom <= 73; headroom += 7) {
    int span = 126 - headroom - 53;
    v[0] = 1.0;
    v[1] = ldexp(1.0, span);
    v[2] = -ldexp(1.5, span);
    cr_assert_eq(window(v, NULL, 3, headroom), 1023 - 1, "headroom %d", headroom);
    v[1] = ldexp(1.0, span + 1);
    cr_assert_eq(window(v, NULL, 3, headroom), -1, "headroom %d, +1", headroom);
    v[1] = ldexp(1.0, -1);  /* the low end too */
    v[0] = ldexp(1.0, span - 1);
    v[2] = -ldexp(1.5, span - 1);
    cr_assert_eq(window(v, NULL, 3, headroom), 1022 - 1, "headroom %d low", headroom);
  }
  cr_assert_eq(window(v, NULL, 0, 10), 0, "no values");
  /* Zeros of either sign do not widen the window; a huge and a tiny value do. */
  double z[4] = {0.0, -0.0, 1e300, 2e300};
  cr_assert_eq(window(z, NULL, 4, 40), (int)(bits(1e300) >> 52) - 1);
  z[0] = 1e-300;
  cr_assert_eq(window(z, NULL, 4, 40), -1);
  double zeros[2] = {-0.0, -0.0};
  cr_assert_eq(window(zeros, NULL, 2, 40), 0);
  /* Subnormals count as exponent field 1. */
  double sub[2] = {DBL_TRUE_MIN, -DBL_MIN};
  cr_assert_eq(window(sub, NULL, 2, 40), 0);
  sub[1] = 1.0;
  cr_assert_eq(window(sub, NULL, 2, 40), -1);
}

Test(xsum_fixed, edge_values) {
  const double vals[][4] = {
      {-0.0, -0.0, -0.0, -0.0},               /* sum of -0.0 is +0.0 */
      {DBL_MAX, DBL_MAX, -0.0, 0.0},          /* overflows to inf when rounded */
      {-DBL_MAX, -DBL_MAX, -DBL_MAX, 1e308},  /* to -inf */
      {DBL_MAX, -DBL_MAX, DBL_MAX, 0x1p971},  /* exact: DBL_MAX + 2^971, still inf */
      {DBL_TRUE_MIN, DBL_TRUE_MIN, -DBL_MIN, DBL_MIN},
      {0x1.fffffffffffffp-1022, DBL_TRUE_MIN, 0, 0},  /* subnormal + subnormal: normal */
      {1e16, 1, -1e16, 1},
      {0.1, 0.2, 0.3, -0.6},
  };
  for (int c = 0; c < (int)(sizeof vals / sizeof *vals); c++) {
    for (int64_t n = 1; n <= 4; n++) {
      int pos = window(vals[c], NULL, n, 2 * bits_for(n));
      cr_assert_geq(pos, 0, "case %d n %lld", c, (long long)n);
      check_groups(vals[c], NULL, NULL, n, 1, pos, bits_for(n), c * 10 + (int)n);
    }
  }
}

/* The largest magnitudes a window allows, as many as the count bits allow:
 * the 128-bit sum must neither overflow nor lose the count. */
Test(xsum_fixed, long_runs_at_the_headroom_limit) {
  tu_rnd_state = 5;
  const int64_t ns[] = {2, 3, 255, 4095, 4096, 70000};
  for (int t = 0; t < (int)(sizeof ns / sizeof *ns); t++) {
    int64_t n = ns[t];
    int kbits = bits_for(n);
    int span = 126 - 2 * kbits - 53;
    int elo = 600, ehi = elo + span;
    double *v = malloc((size_t)n * sizeof *v);
    for (int neg = 0; neg < 2; neg++) {
      for (int64_t i = 0; i < n; i++)
        v[i] = from_bits((uint64_t)neg << 63 | (uint64_t)ehi << 52 | 0xfffffffffffffULL);
      v[0] = from_bits((uint64_t)elo << 52 | 1);  /* pins the window's low end */
      int pos = window(v, NULL, n, 2 * kbits);
      cr_assert_eq(pos, elo - 1, "n %lld", (long long)n);
      check_groups(v, NULL, NULL, n, 1, pos, kbits, (int)t * 2 + neg);
      /* One binade more does not fit. */
      v[1] = from_bits((uint64_t)(ehi + 1) << 52);
      cr_assert_eq(window(v, NULL, n, 2 * kbits), -1);
      /* With the counts apart, the window may be kbits wider. */
      int wide = ehi + kbits;
      for (int64_t i = 1; i < n; i++)
        v[i] = from_bits((uint64_t)neg << 63 | (uint64_t)wide << 52 | 0xfffffffffffffULL);
      cr_assert_eq(window(v, NULL, n, 2 * kbits), -1);
      pos = window(v, NULL, n, kbits);
      cr_assert_eq(pos, elo - 1, "n %lld, counts apart", (long long)n);
      check_groups1(v, NULL, NULL, n, 1, pos, 0, true, (int)t * 2 + neg);
      v[1] = from_bits((uint64_t)(wide + 1) << 52);
      cr_assert_eq(window(v, NULL, n, kbits), -1);
    }
    free(v);
  }
}

Test(xsum_fixed, scaled_adds_match_double_adds) {
  tu_rnd_state = 9;
  for (int trial = 0; trial < 2000; trial++) {
    /* A random 128-bit value at a random unit, added to a random sum. */
    int pos = (int)below(2046 - 128);
    i128 s = (i128)((unsigned __int128)tu_rnd() << 64 | tu_rnd()) >> below(127);
    canon__xsum a, b;
    canon__xsum_init(&a);
    canon__xsum_init(&b);
    double base = rnd_in(0, 2046);
    canon__xsum_add(&a, base);
    canon__xsum_add(&b, base);
    canon__xsum_add_fixed(&a, s, pos);
    /* The reference adds the value in 32-bit pieces of exact doubles. */
    bool neg = s < 0;
    unsigned __int128 u = neg ? -(unsigned __int128)s : (unsigned __int128)s;
    for (int k = 0; k < 4; k++) {
      uint32_t d = (uint32_t)(u >> (32 * k));
      if (!d) continue;
      int p = pos + 32 * k;  /* d * 2^(p - 1074): an exact double (p < 2014) */
      double piece = ldexp((double)d, p - 1074);
      cr_assert(isfinite(piece) && ldexp(piece, 1074 - p) == (double)d, "piece not exact");
      canon__xsum_add(&b, neg ? -piece : piece);
    }
    uint8_t x[CANON__XSUM_MAX_BYTES], y[CANON__XSUM_MAX_BYTES];
    size_t lx = canon__xsum_serialize(&a, x), ly = canon__xsum_serialize(&b, y);
    cr_assert(lx == ly && !memcmp(x, y, lx), "trial %d", trial);
    cr_assert_eq(bits(canon__xsum_round(&a)), bits(canon__xsum_round(&b)), "trial %d", trial);
  }
}

/* ---- through the aggregate (kernels/aggregate.c, agg_sum.c) -------------- */

/* sum(v) and mean(v) by k over t split into nparts contiguous pieces:
 * partial per piece, concat, final; returns the result. */
static canon_table *agg_parts(const canon_table *t, int nparts, canon_error *err) {
  int key = 0;
  canon_expr *aggs[2] = {canon_sum(canon_col("v")), canon_mean(canon_col("v"))};
  canon_expr *bound[2];
  for (int i = 0; i < 2; i++) {
    bound[i] = canon__expr_bind(aggs[i], canon_table_schema(t), true, err);
    cr_assert(bound[i], "%s", err->message);
  }
  canon_schema *os = canon_schema_parse("k:int64,s:float64,m:float64", err);
  int64_t n = canon_table_num_rows(t);
  canon_table *parts[8];
  for (int p = 0; p < nparts; p++) {
    int64_t a = n * p / nparts, b = n * (p + 1) / nparts;
    int64_t *idx = malloc(sizeof *idx * (size_t)(b - a + 1));
    for (int64_t i = a; i < b; i++) idx[i - a] = i;
    canon_table *piece = canon__table_take(t, idx, b - a, err);
    free(idx);
    cr_assert(piece, "%s", err->message);
    parts[p] = canon__agg_partial(piece, &key, 1, bound, 2, false, err);
    cr_assert(parts[p], "%s", err->message);
    canon_table_free(piece);
  }
  canon_table *all = canon__table_concat(parts, nparts, err);
  cr_assert(all, "%s", err->message);
  canon_table *res = canon__agg_final(all, 1, bound, 2, os, err);
  for (int p = 0; p < nparts; p++) canon_table_free(parts[p]);
  canon_table_free(all);
  for (int i = 0; i < 2; i++) {
    canon_expr_free(bound[i]);
    canon_expr_free(aggs[i]);
  }
  canon_schema_free(os);
  return res;
}

/* Random tables (keys 0..ng-1, NULL values, values drawn from a window or,
 * now and then, from anywhere with NaN and inf, which no window fits) give
 * sums and means equal to the superaccumulator's per group, for every
 * partition count. */
Test(xsum_fixed, aggregate_matches_reference) {
  tu_rnd_state = 21;
  canon_error err;
  canon_error_clear(&err);
  canon_schema *s = canon_schema_parse("k:int64,v:float64", &err);
  for (int trial = 0; trial < 24; trial++) {
    int ng = trial % 3 == 0 ? 3 : trial % 3 == 1 ? 300 : 6000;  /* both sides of the array limit */
    int64_t n = trial % 4 == 0 ? ng / 2 + 1 : ng * (1 + below(12));
    /* Some windows are too wide for the count bits, some too wide for
     * any fixed path. */
    int elo = trial % 6 == 5 ? 0 : 900 + (int)below(200);
    int ehi = elo + (trial % 5 == 2 ? 40 + (int)below(30) : (int)below(30));
    bool wild = trial % 8 == 7;
    canon_builder *b = canon_builder_new(s, &err);
    canon__xsum *ref = malloc(sizeof *ref * (size_t)ng);
    int64_t *cnt = calloc((size_t)ng, sizeof *cnt);
    for (int g = 0; g < ng; g++) canon__xsum_init(&ref[g]);
    for (int64_t i = 0; i < n; i++) {
      int64_t k = below(ng);
      canon_builder_append_int64(b, 0, k);
      if (below(9) == 0) {
        canon_builder_append_null(b, 1);
        continue;
      }
      double v = rnd_in(elo, ehi);
      if (wild && below(50) == 0) v = below(3) == 0 ? NAN : below(2) ? INFINITY : -DBL_MAX;
      canon_builder_append_float64(b, 1, v);
      canon__xsum_add(&ref[k], v);
      cnt[k]++;
    }
    canon_table *t = canon_builder_finish(b, &err);
    cr_assert(t, "%s", err.message);
    for (int nparts = 1; nparts <= 8; nparts += nparts < 3 ? 1 : 5) {
      canon_table *r = agg_parts(t, nparts, &err);
      cr_assert(r, "trial %d parts %d: %s", trial, nparts, err.message);
      int64_t seen = 0;
      for (int64_t row = 0; row < canon_table_num_rows(r); row++) {
        int64_t k = canon_table_get_int64(r, 0, row);
        cr_assert(k >= 0 && k < ng);
        seen++;
        if (!cnt[k]) {
          cr_assert(canon_table_is_null(r, 1, row) && canon_table_is_null(r, 2, row));
          continue;
        }
        double ws = canon__xsum_round(&ref[k]), wm = canon__xsum_div_round(&ref[k], cnt[k]);
        double gs = canon_table_get_float64(r, 1, row), gm = canon_table_get_float64(r, 2, row);
        cr_assert_eq(bits(gs), bits(ws), "trial %d parts %d key %lld: sum %a, want %a", trial,
                     nparts, (long long)k, gs, ws);
        cr_assert_eq(bits(gm), bits(wm), "trial %d parts %d key %lld: mean %a, want %a", trial,
                     nparts, (long long)k, gm, wm);
      }
      canon_table_free(r);
      (void)seen;
    }
    canon_table_free(t);
    canon_builder_free(b);
    free(ref);
    free(cnt);
  }
  canon_schema_free(s);
}

/* ---- the final step over hand-made states -------------------------------- */

static void put64(uint8_t *p, uint64_t v) {
  for (int k = 0; k < 8; k++) p[k] = (uint8_t)(v >> (8 * k));
}

/* A random state of an xsum aggregate over `type` values (into buf; returns
 * its length), added into ref/cnt the way the general final step reads it:
 * no values, one value, or a count and a serialized sum, sometimes with
 * zero digits at either end (valid, though the partial step never writes
 * them). */
/* Now and then a NaN or an infinity among the values of many-value states
 * (wild 1) or of one-value states (wild 2). */
static int wild;

static double state_value(int elo, int ehi, int where) {
  if (wild == where && below(40) == 0) return below(3) == 0 ? NAN : below(2) ? INFINITY : -INFINITY;
  return rnd_in(elo, ehi);
}

static size_t rnd_state(uint8_t *buf, bool ints, int elo, int ehi, canon__xsum *ref,
                        int64_t *cnt) {
  uint64_t r = below(10);
  if (r == 0) {
    buf[0] = 0;
    return 1;
  }
  if (r <= 3) {
    double v = state_value(elo, ehi, 2);
    int64_t iv = (int64_t)(tu_rnd() >> below(64)) * (below(2) ? 1 : -1);
    buf[0] = 1;
    put64(buf + 1, ints ? (uint64_t)iv : bits(v));
    if (ints) canon__xsum_add_i64(ref, iv);
    else canon__xsum_add(ref, v);
    ++*cnt;
    return 9;
  }
  canon__xsum x;
  canon__xsum_init(&x);
  int64_t k = 2 + below(20);
  for (int64_t i = 0; i < k; i++) {
    if (ints) canon__xsum_add_i64(&x, (int64_t)(tu_rnd() >> below(64)) * (below(2) ? 1 : -1));
    else canon__xsum_add(&x, state_value(elo, ehi, 1));
  }
  put64(buf, (uint64_t)k);
  size_t len = 8 + canon__xsum_serialize(&x, buf + 8);
  if (below(4) == 0 && buf[9] > 0 && buf[9] + buf[10] < CANON__XSUM_LIMBS - 2) {
    /* A zero digit below and one above. */
    memmove(buf + 8 + 3 + 4, buf + 8 + 3, len - 11);
    memset(buf + 11, 0, 4);
    buf[9]--;
    buf[10] += 2;
    memset(buf + len + 4, 0, 4);
    len += 8;
  }
  canon__xsum y;
  canon__xsum_init(&y);
  cr_assert_eq(canon__xsum_add_serialized(&y, buf + 8, len - 8), (int64_t)(len - 8));
  uint8_t a[CANON__XSUM_MAX_BYTES], b[CANON__XSUM_MAX_BYTES];
  size_t la = canon__xsum_serialize(&x, a), lb = canon__xsum_serialize(&y, b);
  cr_assert(la == lb && !memcmp(a, b, la), "padded state reads back");
  cr_assert_eq(canon__xsum_add_serialized(ref, buf + 8, len - 8), (int64_t)(len - 8));
  *cnt += k;
  return len;
}

/* Run the final step of sum and mean (over `type`) on a table of keys and
 * states (the same states for both). */
static canon_table *final_of(canon_table *p, bool ints, canon_error *err) {
  canon_schema *in = canon_schema_parse(ints ? "v:int64" : "v:float64", err);
  canon_expr *aggs[2] = {canon_mean(canon_col("v")), canon_sum(canon_col("v"))};
  canon_expr *bound[2];
  for (int i = 0; i < 2; i++) bound[i] = canon__expr_bind(aggs[i], in, true, err);
  canon_schema *os =
      canon_schema_parse(ints ? "k:int64,m:float64" : "k:int64,m:float64,s:float64", err);
  /* sum of int64 has another state: aggregate only the mean then. */
  canon_table *f = canon__agg_final(p, 1, bound, ints ? 1 : 2, os, err);
  for (int i = 0; i < 2; i++) {
    canon_expr_free(bound[i]);
    canon_expr_free(aggs[i]);
  }
  canon_schema_free(os);
  canon_schema_free(in);
  return f;
}

Test(xsum_fixed, final_over_made_states_matches_reference) {
  tu_rnd_state = 33;
  canon_error err;
  canon_error_clear(&err);
  for (int trial = 0; trial < 40; trial++) {
    bool ints = trial % 4 == 2 || trial % 12 == 3;
    wild = trial % 6 == 5 ? 1 + trial % 4 / 2 : 0;
    int ng = trial % 2 ? 5000 : 1 + (int)below(50);
    int64_t n = ng * (1 + below(4));
    int elo = trial % 5 == 4 ? 0 : 1 + (int)below(2000), ehi = elo + (int)below(trial % 7 ? 20 : 60);
    if (ehi > 2046) ehi = 2046;
    canon_schema *ps = canon_schema_parse(
        ints ? "k:int64,__state0:string" : "k:int64,__state0:string,__state1:string", &err);
    canon_builder *b = canon_builder_new(ps, &err);
    canon__xsum *ref = malloc(sizeof *ref * (size_t)ng);
    int64_t *cnt = calloc((size_t)ng, sizeof *cnt);
    for (int g = 0; g < ng; g++) canon__xsum_init(&ref[g]);
    for (int64_t i = 0; i < n; i++) {
      int64_t k = i < ng ? i : below(ng);
      uint8_t buf[8 + CANON__XSUM_MAX_BYTES + 8];
      size_t len = rnd_state(buf, ints, elo, ehi, &ref[k], &cnt[k]);
      canon_builder_append_int64(b, 0, k);
      canon_builder_append_string(b, 1, (const char *)buf, len);
      if (!ints) canon_builder_append_string(b, 2, (const char *)buf, len);
    }
    canon_table *p = canon_builder_finish(b, &err);
    canon_table *f = final_of(p, ints, &err);
    cr_assert(f, "trial %d: %s", trial, err.message);
    cr_assert_eq(canon_table_num_rows(f), ng);
    for (int64_t row = 0; row < ng; row++) {
      int64_t k = canon_table_get_int64(f, 0, row);
      if (!cnt[k]) {
        cr_assert(canon_table_is_null(f, 1, row), "trial %d key %lld", trial, (long long)k);
        continue;
      }
      double wm = canon__xsum_div_round(&ref[k], cnt[k]);
      double gm = canon_table_get_float64(f, 1, row);
      cr_assert_eq(bits(gm), bits(wm), "trial %d key %lld: mean %a, want %a", trial, (long long)k,
                   gm, wm);
      if (ints) continue;
      double ws = canon__xsum_round(&ref[k]), gs = canon_table_get_float64(f, 2, row);
      cr_assert_eq(bits(gs), bits(ws), "trial %d key %lld: sum %a, want %a", trial, (long long)k,
                   gs, ws);
    }
    canon_table_free(f);
    canon_table_free(p);
    canon_builder_free(b);
    canon_schema_free(ps);
    free(ref);
    free(cnt);
  }
}

/* A corrupt state among valid ones, with few and with many groups, is
 * still a parse error; NaN and inf flags and states too far apart for a
 * window still give the general path's answers (checked above). */
Test(xsum_fixed, final_rejects_corrupt_states) {
  tu_rnd_state = 44;
  wild = 0;
  canon_error err;
  const char *bad[] = {
      "",                                      /* empty */
      "\x02",                                  /* unknown compact tag */
      "\x01\0\0\0\0\0\0",                      /* one value, short */
      "\x01\0\0\0\0\0\0\0\0\0",                /* 10 bytes */
      "\x02\0\0\0\0\0\0\x80\0\0\0",            /* negative count */
      "\x02\0\0\0\0\0\0\0\x10\0\0",            /* unknown flag */
      "\x02\0\0\0\0\0\0\0\0\x20\x01",          /* digits missing */
      "\x02\0\0\0\0\0\0\0\0\x20\x01\1\0\0\0\0", /* a byte too many */
      "\x02\0\0\0\0\0\0\0\0\x47\x01\1\0\0\0",  /* digit at the top limb */
  };
  size_t lens[] = {0, 1, 8, 10, 11, 11, 11, 16, 15};
  for (int c = 0; c < (int)(sizeof bad / sizeof *bad) * 2 + 2; c++) {
    int ng = c % 2 ? 5000 : 10;
    canon_schema *ps = canon_schema_parse("k:int64,__state0:string,__state1:string", &err);
    canon_builder *b = canon_builder_new(ps, &err);
    canon__xsum ref;
    int64_t cnt = 0;
    canon__xsum_init(&ref);
    int64_t at = below(ng * 2);
    for (int64_t i = 0; i < ng * 2; i++) {
      uint8_t buf[8 + CANON__XSUM_MAX_BYTES + 8];
      size_t len = rnd_state(buf, false, 1000, 1010, &ref, &cnt);
      canon_builder_append_int64(b, 0, i % ng);
      if (i == at && c / 2 < (int)(sizeof bad / sizeof *bad)) {
        canon_builder_append_string(b, 1, bad[c / 2], lens[c / 2]);
      } else if (i == at) {
        canon_builder_append_null(b, 1);  /* a NULL state */
      } else {
        canon_builder_append_string(b, 1, (const char *)buf, len);
      }
      canon_builder_append_string(b, 2, (const char *)buf, len);
    }
    canon_table *p = canon_builder_finish(b, &err);
    canon_error_clear(&err);
    canon_table *f = final_of(p, false, &err);
    cr_assert_null(f, "case %d", c);
    cr_assert_eq(err.code, CANON_ERR_PARSE, "case %d: %s", c, err.message);
    cr_assert(strstr(err.message, "corrupt partial state in column __state0"), "%s", err.message);
    canon_table_free(p);
    canon_builder_free(b);
    canon_schema_free(ps);
  }
}

/* States whose bits span a wide window, many in one group: the fixed final
 * step must leave room for their count (or leave them to the general
 * path), or the 128-bit sum would overflow. */
Test(xsum_fixed, final_states_at_the_headroom_limit) {
  canon_error err;
  canon_error_clear(&err);
  for (int span = 118; span <= 128; span++) {
    for (int neg = 0; neg < 2; neg++) {
      canon_schema *ps = canon_schema_parse("k:int64,__state0:string,__state1:string", &err);
      canon_builder *b = canon_builder_new(ps, &err);
      canon__xsum ref;
      canon__xsum_init(&ref);
      int64_t cnt = 0;
      /* 31 states (a window needs 5 bits of headroom), each with every bit
       * set from bit L to bit L + span - 1 of the accumulator. */
      int L = 1000;
      for (int i = 0; i < 31; i++) {
        canon__xsum x;
        canon__xsum_init(&x);
        for (int at = L; at < L + span; at += 53) {
          int w = L + span - at < 53 ? L + span - at : 53;
          double v = ldexp((double)((UINT64_C(1) << w) - 1), at - 1074);
          canon__xsum_add(&x, neg ? -v : v);
        }
        uint8_t buf[8 + CANON__XSUM_MAX_BYTES];
        put64(buf, 3);
        size_t len = 8 + canon__xsum_serialize(&x, buf + 8);
        canon__xsum_add_serialized(&ref, buf + 8, len - 8);
        cnt += 3;
        canon_builder_append_int64(b, 0, 0);
        canon_builder_append_string(b, 1, (const char *)buf, len);
        canon_builder_append_string(b, 2, (const char *)buf, len);
      }
      canon_table *p = canon_builder_finish(b, &err);
      canon_table *f = final_of(p, false, &err);
      cr_assert(f, "%s", err.message);
      ASSERT_SAME(canon_table_get_float64(f, 1, 0), canon__xsum_div_round(&ref, cnt), span);
      ASSERT_SAME(canon_table_get_float64(f, 2, 0), canon__xsum_round(&ref), span);
      canon_table_free(f);
      canon_table_free(p);
      canon_builder_free(b);
      canon_schema_free(ps);
    }
  }
}

/* One group of values at the top of windows around the widest the partial
 * step's count bits allow: sums near 2^126 must not overflow, whichever
 * way the step counts (or when it leaves the run to the superaccumulator). */
Test(xsum_fixed, aggregate_at_the_headroom_limit) {
  canon_error err;
  canon_error_clear(&err);
  canon_schema *s = canon_schema_parse("k:int64,v:float64", &err);
  const int64_t ns[] = {100, 3000};
  for (int t = 0; t < 2; t++) {
    int64_t n = ns[t];
    int kbits = bits_for(n);
    for (int delta = -kbits - 1; delta <= 5; delta++) {
      int mbits = 126 - kbits + delta;
      int elo = 100, ehi = elo + mbits - 53;
      for (int neg = 0; neg < 2; neg++) {
        canon_builder *b = canon_builder_new(s, &err);
        canon__xsum ref;
        canon__xsum_init(&ref);
        for (int64_t i = 0; i < n; i++) {
          double v = from_bits((uint64_t)neg << 63 |
                               (i ? (uint64_t)ehi << 52 | 0xfffffffffffffULL : (uint64_t)elo << 52));
          canon_builder_append_int64(b, 0, 0);
          canon_builder_append_float64(b, 1, v);
          canon__xsum_add(&ref, v);
        }
        canon_table *tb = canon_builder_finish(b, &err);
        canon_table *r = agg_parts(tb, 1, &err);
        cr_assert(r, "%s", err.message);
        ASSERT_SAME(canon_table_get_float64(r, 1, 0), canon__xsum_round(&ref), delta);
        ASSERT_SAME(canon_table_get_float64(r, 2, 0), canon__xsum_div_round(&ref, n), delta);
        canon_table_free(r);
        canon_table_free(tb);
        canon_builder_free(b);
      }
    }
  }
  canon_schema_free(s);
}

/* Means of int64 over few groups (the partial step sums them with the
 * count in the low bits of a 128-bit integer), extremes included. */
Test(xsum_fixed, int_means_match_reference) {
  tu_rnd_state = 55;
  canon_error err;
  canon_error_clear(&err);
  canon_schema *s = canon_schema_parse("k:int64,v:int64", &err);
  canon_schema *os = canon_schema_parse("k:int64,m:float64", &err);
  canon_expr *agg = canon_mean(canon_col("v"));
  canon_expr *bound = canon__expr_bind(agg, s, true, &err);
  int key = 0;
  for (int trial = 0; trial < 42; trial++) {
    int ng = trial % 3 == 0 ? 1 : trial % 3 == 1 ? 7 : 300;
    int64_t n = trial % 7 >= 4 ? 4095 : 1 + below(trial % 2 ? 50 : 5000);
    /* Values at the limit of 64-bit sums with the count in the low bits
     * (one partition: n < 2^12), and one bit past it. */
    int64_t edge = (INT64_C(1) << (63 - 2 * 12 + trial % 7 - 5)) - 1;
    canon_builder *b = canon_builder_new(s, &err);
    canon__xsum *ref = malloc(sizeof *ref * (size_t)ng);
    int64_t *cnt = calloc((size_t)ng, sizeof *cnt);
    for (int g = 0; g < ng; g++) canon__xsum_init(&ref[g]);
    for (int64_t i = 0; i < n; i++) {
      int64_t k = below(ng);
      canon_builder_append_int64(b, 0, k);
      if (below(8) == 0 && i < n - 1) {
        canon_builder_append_null(b, 1);
        continue;
      }
      int64_t v;
      switch (trial % 7) {
      case 0: v = INT64_MIN; break;  /* the largest magnitude, all of one sign */
      case 1: v = INT64_MAX; break;
      case 2: v = below(2) ? INT64_MIN : INT64_MAX; break;
      case 3: v = (int64_t)(tu_rnd() >> below(64)) * (below(2) ? 1 : -1); break;
      case 4: v = i == n - 1 ? INT64_C(1) << 60 : below(2001) - 1000; break; /* big one last */
      default: v = trial % 2 ? edge : -edge; break;
      }
      canon_builder_append_int64(b, 1, v);
      canon__xsum_add_i64(&ref[k], v);
      cnt[k]++;
    }
    canon_table *t = canon_builder_finish(b, &err);
    for (int nparts = 1; nparts <= 3; nparts += 2) {
      canon_table *parts[3];
      for (int p = 0; p < nparts; p++) {
        int64_t a = n * p / nparts, e = n * (p + 1) / nparts;
        int64_t *idx = malloc(sizeof *idx * (size_t)(e - a + 1));
        for (int64_t i = a; i < e; i++) idx[i - a] = i;
        canon_table *piece = canon__table_take(t, idx, e - a, &err);
        free(idx);
        parts[p] = canon__agg_partial(piece, &key, 1, &bound, 1, false, &err);
        cr_assert(parts[p], "%s", err.message);
        canon_table_free(piece);
      }
      canon_table *all = canon__table_concat(parts, nparts, &err);
      canon_table *r = canon__agg_final(all, 1, &bound, 1, os, &err);
      cr_assert(r, "%s", err.message);
      for (int64_t row = 0; row < canon_table_num_rows(r); row++) {
        int64_t k = canon_table_get_int64(r, 0, row);
        if (!cnt[k]) {
          cr_assert(canon_table_is_null(r, 1, row));
          continue;
        }
        ASSERT_SAME(canon_table_get_float64(r, 1, row), canon__xsum_div_round(&ref[k], cnt[k]),
                    trial * 10 + nparts);
      }
      canon_table_free(r);
      canon_table_free(all);
      for (int p = 0; p < nparts; p++) canon_table_free(parts[p]);
    }
    canon_table_free(t);
    canon_builder_free(b);
    free(ref);
    free(cnt);
  }
  canon_expr_free(bound);
  canon_expr_free(agg);
  canon_schema_free(s);
  canon_schema_free(os);
}
