/* test_exactsum.c — the superaccumulator (kernels/exactsum.c).
 *
 * References used: IEEE hardware operations that are themselves correctly
 * rounded (x + y of two doubles, x / n for n < 2^53), exact __int128
 * fixed-point sums over narrow exponent ranges, and an exact check that a
 * result lies between the midpoints to its neighbours (ties to even). */
#include <criterion/criterion.h>

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

/* splitmix-style test generator (fixed seeds: failures reproduce). */
static uint64_t rng_state;
static uint64_t rnd(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static uint64_t rnd_below(uint64_t n) { return rnd() % n; }

static double sum_of(const double *v, int n) {
  canon__xsum x;
  canon__xsum_init(&x);
  for (int i = 0; i < n; i++) canon__xsum_add(&x, v[i]);
  return canon__xsum_round(&x);
}

static double mean_of(const double *v, int n) {
  canon__xsum x;
  canon__xsum_init(&x);
  for (int i = 0; i < n; i++) canon__xsum_add(&x, v[i]);
  return canon__xsum_div_round(&x, n);
}

#define ASSERT_BITS(got, want)                                                          \
  do {                                                                                  \
    double g_ = (got), w_ = (want);                                                     \
    cr_assert_eq(bits(g_), bits(w_), "%s: got %a (%016llx), want %a (%016llx)", #got,   \
                 g_, (unsigned long long)bits(g_), w_, (unsigned long long)bits(w_));   \
  } while (0)

static const uint64_t QNAN = 0x7ff8000000000000ULL;

/* Result of IEEE addition with the aggregate conventions: -0 -> +0, NaN
 * canonical. */
static double canonical(double d) {
  if (d != d) return from_bits(QNAN);
  if (d == 0) return 0.0;
  return d;
}

/* A random double over the whole range, subnormals and specials rare. */
static double rnd_double(void) {
  uint64_t r = rnd();
  switch (r & 15) {
  case 0: return from_bits(rnd() & 0x800fffffffffffffULL);  /* subnormal */
  case 1: return ldexp((double)(int64_t)(rnd() >> 11), -1074);
  default: {
    uint64_t e = 1 + rnd_below(2046);
    return from_bits((rnd() & 0x800fffffffffffffULL) | (e << 52));
  }
  }
}

Test(exactsum, cancellation_in_every_order) {
  double v[4] = {1e16, 1, -1e16, 1};
  int perm[24][4], np = 0;
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++)
      for (int c = 0; c < 4; c++)
        for (int d = 0; d < 4; d++)
          if (a != b && a != c && a != d && b != c && b != d && c != d) {
            perm[np][0] = a, perm[np][1] = b, perm[np][2] = c, perm[np][3] = d;
            np++;
          }
  cr_assert_eq(np, 24);
  for (int p = 0; p < np; p++) {
    double w[4];
    for (int i = 0; i < 4; i++) w[i] = v[perm[p][i]];
    ASSERT_BITS(sum_of(w, 4), 2.0);
  }
}

Test(exactsum, mean_point_one_two_three) {
  double v[3] = {0.1, 0.2, 0.3};
  ASSERT_BITS(mean_of(v, 3), 0.2);
  double w[3] = {0.3, 0.1, 0.2};
  ASSERT_BITS(mean_of(w, 3), 0.2);
}

Test(exactsum, ties_to_even) {
  double p53 = 9007199254740992.0;  /* 2^53 */
  double a[2] = {p53, 1};
  ASSERT_BITS(sum_of(a, 2), p53);
  double b[2] = {p53, 3};
  ASSERT_BITS(sum_of(b, 2), p53 + 4);
  double c[3] = {p53, 1, 0x1p-1074};  /* just above the tie: rounds up */
  ASSERT_BITS(sum_of(c, 3), p53 + 2);
  double d[3] = {p53, 1, -0x1p-1074};  /* just below: rounds down */
  ASSERT_BITS(sum_of(d, 3), p53);
  double e[3] = {1.0, 0x1p-53, 0x1p-1000};
  ASSERT_BITS(sum_of(e, 3), 1.0 + 0x1p-52);
  double f[2] = {-p53, -1};
  ASSERT_BITS(sum_of(f, 2), -p53);
}

Test(exactsum, subnormals) {
  double tiny = 0x1p-1074;
  double a[2] = {tiny, tiny};
  ASSERT_BITS(sum_of(a, 2), 0x1p-1073);
  double b[2] = {DBL_MIN, -tiny};  /* largest subnormal */
  ASSERT_BITS(sum_of(b, 2), from_bits(0x000fffffffffffffULL));
  double c[3] = {DBL_MIN, -tiny, tiny};
  ASSERT_BITS(sum_of(c, 3), DBL_MIN);
  double d[2] = {1e-310, -1e-310};
  ASSERT_BITS(sum_of(d, 2), 0.0);
  /* Division into the subnormal range: 0.5 ulp ties to even (0), 1.5 ulp to
   * 2 ulp, 1.25 ulp to 1 ulp. */
  double e[2] = {tiny, 0};
  ASSERT_BITS(mean_of(e, 2), 0.0);
  double f[2] = {3 * tiny, 0};
  ASSERT_BITS(mean_of(f, 2), 2 * tiny);
  double g[4] = {5 * tiny, 0, 0, 0};
  ASSERT_BITS(mean_of(g, 4), tiny);
  double h[2] = {-3 * tiny, 0};
  ASSERT_BITS(mean_of(h, 2), -2 * tiny);
  double i[3] = {DBL_MIN, DBL_MIN, DBL_MIN};
  ASSERT_BITS(mean_of(i, 3), DBL_MIN);
}

Test(exactsum, overflow) {
  double a[2] = {DBL_MAX, DBL_MAX};
  ASSERT_BITS(sum_of(a, 2), INFINITY);
  double b[3] = {DBL_MAX, DBL_MAX, -DBL_MAX};
  ASSERT_BITS(sum_of(b, 3), DBL_MAX);
  double c[2] = {-DBL_MAX, -DBL_MAX};
  ASSERT_BITS(sum_of(c, 2), -INFINITY);
  /* DBL_MAX + half an ulp is a tie; DBL_MAX's mantissa is odd, so it rounds
   * away to infinity; a hair less stays DBL_MAX. */
  double d[2] = {DBL_MAX, 0x1p970};
  ASSERT_BITS(sum_of(d, 2), INFINITY);
  double e[3] = {DBL_MAX, 0x1p970, -0x1p-1074};
  ASSERT_BITS(sum_of(e, 3), DBL_MAX);
  ASSERT_BITS(mean_of(a, 2), DBL_MAX);
  /* Many DBL_MAX: the headroom keeps the sum exact. */
  canon__xsum x;
  canon__xsum_init(&x);
  for (int k = 0; k < 100000; k++) canon__xsum_add(&x, DBL_MAX);
  ASSERT_BITS(canon__xsum_round(&x), INFINITY);
  ASSERT_BITS(canon__xsum_div_round(&x, 100000), DBL_MAX);
  for (int k = 0; k < 100000; k++) canon__xsum_add(&x, -DBL_MAX);
  canon__xsum_add(&x, 1.5);
  ASSERT_BITS(canon__xsum_round(&x), 1.5);
}

Test(exactsum, nan_and_inf_rules) {
  double a[3] = {1, NAN, 2};
  ASSERT_BITS(sum_of(a, 3), from_bits(QNAN));
  double b[3] = {INFINITY, 1, -INFINITY};
  ASSERT_BITS(sum_of(b, 3), from_bits(QNAN));
  double c[3] = {INFINITY, -DBL_MAX, -DBL_MAX};
  ASSERT_BITS(sum_of(c, 3), INFINITY);
  double d[2] = {-INFINITY, 5};
  ASSERT_BITS(sum_of(d, 2), -INFINITY);
  ASSERT_BITS(mean_of(d, 2), -INFINITY);
  double e[2] = {-NAN, INFINITY};
  ASSERT_BITS(sum_of(e, 2), from_bits(QNAN));
  double f[1] = {from_bits(0xfff0000000000123ULL)};  /* signalling, negative */
  ASSERT_BITS(mean_of(f, 1), from_bits(QNAN));
}

Test(exactsum, never_negative_zero) {
  double a[2] = {-0.0, -0.0};
  ASSERT_BITS(sum_of(a, 2), 0.0);
  ASSERT_BITS(mean_of(a, 2), 0.0);
  double b[2] = {-1.5, 1.5};
  ASSERT_BITS(sum_of(b, 2), 0.0);
  canon__xsum x;
  canon__xsum_init(&x);
  ASSERT_BITS(canon__xsum_round(&x), 0.0);
  canon__xsum_add(&x, -0x1p-1074);
  ASSERT_BITS(canon__xsum_div_round(&x, 3), 0.0);  /* rounds to zero */
}

Test(exactsum, int64_exact) {
  canon__xsum x;
  canon__xsum_init(&x);
  canon__xsum_add_i64(&x, INT64_MAX);
  canon__xsum_add_i64(&x, INT64_MAX);
  ASSERT_BITS(canon__xsum_round(&x), 0x1p64);  /* 2^64 - 2 rounds to 2^64 */
  ASSERT_BITS(canon__xsum_div_round(&x, 2), 0x1p63);
  canon__xsum_add_i64(&x, INT64_MIN);
  canon__xsum_add_i64(&x, INT64_MIN);
  ASSERT_BITS(canon__xsum_round(&x), -2.0);
  canon__xsum_add_i64(&x, 3);
  ASSERT_BITS(canon__xsum_round(&x), 1.0);
  /* 2^53 + 1 as an integer is exact in the accumulator: adding 0.5 then
   * lifts it past the tie. */
  canon__xsum_init(&x);
  canon__xsum_add_i64(&x, (INT64_C(1) << 53) + 1);
  ASSERT_BITS(canon__xsum_round(&x), 0x1p53);
  canon__xsum_add(&x, 0.5);
  ASSERT_BITS(canon__xsum_round(&x), 0x1p53 + 2);
  /* Mixed int64 and double. */
  canon__xsum_init(&x);
  canon__xsum_add_i64(&x, 1);
  canon__xsum_add_i64(&x, 2);
  ASSERT_BITS(canon__xsum_div_round(&x, 2), 1.5);
}

Test(exactsum, int64_random_against_int128) {
  rng_state = 11;
  for (int trial = 0; trial < 2000; trial++) {
    int n = 1 + (int)rnd_below(50);
    canon__xsum x;
    canon__xsum_init(&x);
    i128 ref = 0;
    for (int i = 0; i < n; i++) {
      int64_t v = (int64_t)rnd() >> rnd_below(64);
      canon__xsum_add_i64(&x, v);
      ref += v;
    }
    ASSERT_BITS(canon__xsum_round(&x), canonical((double)ref));
  }
}

/* Two doubles: IEEE addition is the correctly rounded exact sum. */
Test(exactsum, pairs_match_hardware_addition) {
  rng_state = 1;
  for (int trial = 0; trial < 200000; trial++) {
    double v[2] = {rnd_double(), rnd_double()};
    if (trial & 1) v[1] = -v[0] * ldexp(1.0 + (double)rnd_below(8), -(int)rnd_below(60));
    ASSERT_BITS(sum_of(v, 2), canonical(v[0] + v[1]));
  }
}

/* One double divided by n < 2^53: IEEE division is correctly rounded. */
Test(exactsum, division_matches_hardware) {
  rng_state = 2;
  for (int trial = 0; trial < 200000; trial++) {
    double v = rnd_double();
    int64_t n = (int64_t)(1 + rnd_below((trial & 3) ? 1000 : (UINT64_C(1) << 53) - 1));
    canon__xsum x;
    canon__xsum_init(&x);
    canon__xsum_add(&x, v);
    ASSERT_BITS(canon__xsum_div_round(&x, n), canonical(v / (double)n));
  }
}

/* Three terms with heavy cancellation: TwoSum gives s + e == a + b exactly,
 * so a + b - s must come out as e. */
Test(exactsum, twosum_error_terms) {
  rng_state = 3;
  for (int trial = 0; trial < 100000; trial++) {
    double a = rnd_double(), b = rnd_double();
    if (!isfinite(a) || !isfinite(b) || fabs(a) > 0x1p1020 || fabs(b) > 0x1p1020) continue;
    double s = a + b, bb = s - a, e = (a - (s - bb)) + (b - bb);
    double v[3] = {a, -s, b};
    ASSERT_BITS(sum_of(v, 3), canonical(e));
  }
}

/* Is r the correctly rounded value of S * 2^-scale / n (ties to even)?
 * Compares r's midpoints to its neighbours with the target, exactly. */
static int cmp_scaled(i128 a, int t, i128 s) {
  /* sign of a * 2^t - s, for a, s >= 0 */
  if (t >= 0) {
    if (t > 60 || (a >> (126 - t)) != 0) return a ? 1 : (s ? -1 : 0);
    i128 l = a << t;
    return (l > s) - (l < s);
  }
  int u = -t;
  i128 q = u >= 127 ? 0 : a >> u;
  i128 rem = u >= 127 ? a : a - (q << u);
  if (q != s) return q > s ? 1 : -1;
  return rem != 0;
}

static void decompose(double x, i128 *m, int *e) {
  if (x == 0) {
    *m = 0;
    *e = 0;
    return;
  }
  int ex;
  double fr = frexp(x, &ex);
  *m = (i128)ldexp(fr, 53);
  *e = ex - 53;
}

/* a*2^ea + b*2^eb (a, b >= 0) as m*2^e */
static void add_dyadic(i128 a, int ea, i128 b, int eb, i128 *m, int *e) {
  if (!a) ea = eb;
  if (!b) eb = ea;
  int lo = ea < eb ? ea : eb;
  *m = (a << (ea - lo)) + (b << (eb - lo));
  *e = lo;
}

static void assert_correctly_rounded(double r, i128 s, int scale, int64_t n) {
  bool neg = s < 0;
  if (neg) {
    s = -s;
    r = -r;
  }
  if (r == 0) r = 0.0;
  cr_assert(r >= 0, "sign: %a", r);
  double lo = nextafter(r, -INFINITY), hi = nextafter(r, INFINITY);
  i128 mr, ml, mh, m;
  int er, el, eh, e;
  decompose(r, &mr, &er);
  decompose(fabs(lo), &ml, &el);
  decompose(hi, &mh, &eh);
  bool even = (bits(r) & 1) == 0;
  /* upper midpoint (r + hi) / 2 must be >= target (> unless r is even) */
  add_dyadic(mr, er, mh, eh, &m, &e);
  int c = cmp_scaled(m * n, e - 1 + scale, s);
  cr_assert(c > 0 || (c == 0 && even), "%a too small", r);
  if (lo < 0) return;  /* r == 0: the lower midpoint is negative */
  /* lower midpoint (lo + r) / 2 must be <= target */
  add_dyadic(ml, el, mr, er, &m, &e);
  c = cmp_scaled(m * n, e - 1 + scale, s);
  cr_assert(c < 0 || (c == 0 && even), "%a too large", r);
}

/* Narrow exponent range: exact sum as __int128 in units of 2^-62. */
Test(exactsum, random_sums_and_means_against_fixed_point) {
  rng_state = 4;
  for (int trial = 0; trial < 20000; trial++) {
    int n = 1 + (int)rnd_below(200);
    double v[200];
    i128 s = 0;
    i128 part[200];
    for (int i = 0; i < n; i++) {
      if (trial % 7 == 0 && i % 2) {
        v[i] = -v[i - 1];  /* cancellation */
        part[i] = -part[i - 1];
      } else {
        int64_t m = (int64_t)(rnd() >> 11);  /* 53 bits */
        if (rnd() & 1) m = -m;
        int e = (int)rnd_below(21) - 10 - 52;  /* |v| < 2^11 */
        v[i] = ldexp((double)m, e);
        part[i] = (i128)m * ((i128)1 << (e + 62));
      }
      s += part[i];
    }
    double r = sum_of(v, n);
    assert_correctly_rounded(r, s, 62, 1);
    double mn = mean_of(v, n);
    assert_correctly_rounded(mn, s, 62, n);
    if (s == 0) {
      ASSERT_BITS(r, 0.0);
      ASSERT_BITS(mn, 0.0);
    }
  }
}

/* Near the bottom: multiples of 2^-1074, exact sum in units of 2^-1074. */
Test(exactsum, random_subnormal_means) {
  rng_state = 5;
  for (int trial = 0; trial < 20000; trial++) {
    int n = 1 + (int)rnd_below(20);
    double v[20];
    i128 s = 0;
    for (int i = 0; i < n; i++) {
      int64_t k = (int64_t)(rnd() >> (11 + rnd_below(50)));  /* exact: < 2^53 */
      if (rnd() & 1) k = -k;
      v[i] = ldexp((double)k, -1074);
      s += k;
    }
    assert_correctly_rounded(sum_of(v, n), s, 1074, 1);
    assert_correctly_rounded(mean_of(v, n), s, 1074, n);
  }
}

static void shuffle(double *v, int n) {
  for (int i = n - 1; i > 0; i--) {
    int j = (int)rnd_below((uint64_t)i + 1);
    double t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
}

/* Permutations and partitionings (through serialized states) of the same
 * values give identical bits. */
Test(exactsum, partitions_and_permutations_agree) {
  rng_state = 6;
  enum { N = 3000 };
  static double v[N];
  for (int trial = 0; trial < 40; trial++) {
    for (int i = 0; i < N; i++) {
      v[i] = rnd_double();
      if (!isfinite(v[i])) v[i] = 1.0;
      if (trial % 3 == 0) v[i] = ldexp(v[i], -(int)rnd_below(5));
    }
    double want = sum_of(v, N), want_mean = mean_of(v, N);
    for (int round = 0; round < 5; round++) {
      shuffle(v, N);
      int parts = 1 + (int)rnd_below(9);
      canon__xsum total;
      canon__xsum_init(&total);
      int start = 0;
      for (int p = 0; p < parts; p++) {
        int end = p == parts - 1 ? N : start + (int)rnd_below((uint64_t)(N - start + 1));
        canon__xsum part;
        canon__xsum_init(&part);
        for (int i = start; i < end; i++) canon__xsum_add(&part, v[i]);
        uint8_t buf[CANON__XSUM_MAX_BYTES];
        size_t len = canon__xsum_serialize(&part, buf);
        canon__xsum back;
        cr_assert_eq(canon__xsum_deserialize(&back, buf, len), (int64_t)len);
        canon__xsum_merge(&total, &back);
        start = end;
      }
      ASSERT_BITS(canon__xsum_round(&total), want);
      ASSERT_BITS(canon__xsum_div_round(&total, N), want_mean);
    }
  }
}

Test(exactsum, serialization) {
  canon__xsum x, y;
  uint8_t buf[CANON__XSUM_MAX_BYTES];
  canon__xsum_init(&x);
  size_t len = canon__xsum_serialize(&x, buf);
  cr_assert_eq(len, 3u);  /* flags, lo, count and no digits */
  cr_assert_eq(canon__xsum_deserialize(&y, buf, len), 3);
  ASSERT_BITS(canon__xsum_round(&y), 0.0);

  canon__xsum_add(&x, -1e300);
  canon__xsum_add(&x, 3e-300);
  canon__xsum_add(&x, INFINITY);
  len = canon__xsum_serialize(&x, buf);
  cr_assert_eq(canon__xsum_deserialize(&y, buf, len), (int64_t)len);
  cr_assert(y.has_pinf && !y.has_ninf && !y.has_nan);
  y.has_pinf = 0;
  ASSERT_BITS(canon__xsum_round(&y), -1e300);
  canon__xsum_add(&y, 1e300);
  ASSERT_BITS(canon__xsum_round(&y), 3e-300);

  /* Truncated or corrupt encodings are refused. */
  cr_assert_eq(canon__xsum_deserialize(&y, buf, len - 1), -1);
  cr_assert_eq(canon__xsum_deserialize(&y, buf, 2), -1);
  uint8_t bad[3 + 4 * 3] = {0x10, 0, 0};
  cr_assert_eq(canon__xsum_deserialize(&y, bad, 3), -1);  /* unknown flag */
  uint8_t high[3 + 4] = {0, CANON__XSUM_LIMBS - 1, 1, 1, 0, 0, 0};
  cr_assert_eq(canon__xsum_deserialize(&y, high, sizeof high), -1);  /* top limb */
  uint8_t ok[3 + 4] = {8, 33, 1, 5, 0, 0, 0};  /* -5 * 2^(32*33-1074) = -5 * 2^-18 */
  cr_assert_eq(canon__xsum_deserialize(&y, ok, sizeof ok), 7);
  ASSERT_BITS(canon__xsum_round(&y), -5 * 0x1p-18);
}

/* More adds than a limb can take without a carry propagation (2^30). */
Test(exactsum, carry_propagation_over_many_adds, .timeout = 100) {
  canon__xsum x;
  canon__xsum_init(&x);
  int64_t n = (INT64_C(1) << 30) + 12345;
  for (int64_t i = 0; i < n; i++) canon__xsum_add(&x, 0x1.fffffffffffffp-1);
  /* n * (1 - 2^-53) = n - n * 2^-53 with n just above 2^30: the deficit
   * is a bit more than half an ulp (2^-22), so it rounds down one ulp. */
  ASSERT_BITS(canon__xsum_round(&x), (double)n - 0x1p-22);
  ASSERT_BITS(canon__xsum_div_round(&x, n), 0x1.fffffffffffffp-1);
  for (int64_t i = 0; i < n; i++) canon__xsum_add(&x, -0x1.fffffffffffffp-1);
  canon__xsum_add(&x, 0.1);
  ASSERT_BITS(canon__xsum_round(&x), 0.1);
}

/* ---- the windowed accumulator against a full-width reference ---------- */

/* The accumulator without a window: every limb live, carries propagated
 * through all of them.  Same value representation, so the digits of the
 * magnitude (and hence the serialized bytes) must be identical. */
#define REF_L CANON__XSUM_LIMBS
typedef struct ref_acc {
  int64_t limb[REF_L];
  uint8_t flags;
} ref_acc;

static void ref_norm(ref_acc *r) {
  int64_t carry = 0;
  for (int i = 0; i < REF_L - 1; i++) {
    int64_t v = r->limb[i] + carry;
    carry = v >> 32;
    r->limb[i] = v & 0xffffffff;
  }
  r->limb[REF_L - 1] += carry;
}

static void ref_add_mag(ref_acc *r, unsigned __int128 m, int pos, bool neg) {
  /* Add m one bit at a time at pos: slow and obviously right. */
  for (int b = 0; b < 128; b++) {
    if (!((m >> b) & 1)) continue;
    int at = pos + b;
    r->limb[at >> 5] += (neg ? -1 : 1) * ((int64_t)1 << (at & 31));
  }
  ref_norm(r);
}

static void ref_add(ref_acc *r, double v) {
  uint64_t b = bits(v);
  unsigned e = (unsigned)(b >> 52) & 0x7ff;
  uint64_t m = b & ((UINT64_C(1) << 52) - 1);
  bool neg = b >> 63;
  if (e == 0x7ff) {
    r->flags |= m ? 1 : neg ? 4 : 2;
    return;
  }
  if (e) m |= UINT64_C(1) << 52;
  ref_add_mag(r, m, e ? (int)e - 1 : 0, neg);
}

static void ref_add_i64(ref_acc *r, int64_t v) {
  bool neg = v < 0;
  ref_add_mag(r, neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, 1074, neg);
}

/* The serialized form, computed from the full-width magnitude. */
static size_t ref_serialize(const ref_acc *x, uint8_t *buf) {
  ref_acc t = *x;
  ref_norm(&t);
  bool neg = t.limb[REF_L - 1] < 0;
  if (neg) {
    for (int i = 0; i < REF_L; i++) t.limb[i] = -t.limb[i];
    ref_norm(&t);
  }
  uint32_t mag[REF_L + 1];
  for (int i = 0; i < REF_L - 1; i++) mag[i] = (uint32_t)t.limb[i];
  mag[REF_L - 1] = (uint32_t)t.limb[REF_L - 1];
  mag[REF_L] = (uint32_t)((uint64_t)t.limb[REF_L - 1] >> 32);
  int lo = 0, hi = REF_L;
  while (lo <= REF_L && !mag[lo]) lo++;
  while (hi >= lo && !mag[hi]) hi--;
  int count = hi >= lo ? hi - lo + 1 : 0;
  if (!count) lo = 0;
  buf[0] = (uint8_t)(x->flags | (neg && count ? 8 : 0));
  buf[1] = (uint8_t)lo;
  buf[2] = (uint8_t)count;
  for (int i = 0; i < count; i++)
    for (int k = 0; k < 4; k++) buf[3 + 4 * i + k] = (uint8_t)(mag[lo + i] >> (8 * k));
  return 3 + 4 * (size_t)count;
}

/* Edge values first, then random ones over every magnitude. */
static double edge_or_random(void) {
  static const double edge[] = {0.0, -0.0, 1.0, -1.0, 0.1, -0.1, DBL_MAX, -DBL_MAX, 1e308,
                                -1e308, DBL_MIN, -DBL_MIN, 0x1p-1074, -0x1p-1074,
                                0x1.fffffffffffffp-1023, 0x1p-1022 - 0x1p-1074, 1e-300,
                                12345.678901, -99.999999, 0x1p52, 0x1p53 + 2};
  uint64_t r = rnd_below(8);
  if (r == 0) return edge[rnd_below(sizeof edge / sizeof edge[0])];
  if (r == 1) return ldexp((double)(int64_t)(rnd() >> 11), (int)rnd_below(40) - 20); /* similar */
  return rnd_double();
}

static void assert_same_as_ref(const canon__xsum *x, const ref_acc *r, int trial) {
  uint8_t got[CANON__XSUM_MAX_BYTES], want[CANON__XSUM_MAX_BYTES + 8];
  size_t gl = canon__xsum_serialize(x, got), wl = ref_serialize(r, want);
  cr_assert_eq(gl, wl, "trial %d: %zu bytes, want %zu", trial, gl, wl);
  cr_assert(!memcmp(got, want, gl), "trial %d: serialized bytes differ", trial);
  /* Reading: the incrementally built window and a fresh one from the
   * reference bytes (a different window) round alike. */
  canon__xsum y;
  if (want[1] + want[2] > CANON__XSUM_LIMBS - 1) {
    /* Beyond what states may hold: reading it back is refused. */
    cr_assert_eq(canon__xsum_deserialize(&y, want, wl), -1);
    return;
  }
  cr_assert_eq(canon__xsum_deserialize(&y, want, wl), (int64_t)wl);
  ASSERT_BITS(canon__xsum_round(x), canon__xsum_round(&y));
  int64_t n = 1 + (int64_t)rnd_below(1000);
  if (rnd_below(4) == 0) n = (int64_t)(rnd() >> 1) | 1;
  ASSERT_BITS(canon__xsum_div_round(x, n), canon__xsum_div_round(&y, n));
}

Test(exactsum, window_matches_full_width_reference) {
  rng_state = 4242;
  for (int trial = 0; trial < 3000; trial++) {
    canon__xsum x, part;
    ref_acc r;
    memset(&r, 0, sizeof r);
    canon__xsum_init(&x);
    canon__xsum_init(&part);
    int n = (int)rnd_below(trial % 10 == 0 ? 200 : 12);
    for (int i = 0; i < n; i++) {
      double v = edge_or_random();
      if (rnd_below(40) == 0) v = from_bits(0x7ff0000000000000ULL | (rnd_below(3) ? 0 : 1) |
                                            (rnd_below(2) ? 1ULL << 63 : 0));
      switch (rnd_below(5)) {
      case 0: /* into a side sum merged later */
        canon__xsum_add(&part, v);
        break;
      case 1: { /* an int64 */
        int64_t k = (int64_t)rnd() >> rnd_below(64);
        canon__xsum_add_i64(&x, k);
        ref_add_i64(&r, k);
        continue;
      }
      case 2: /* a value and (often) its negation: cancellation */
        canon__xsum_add(&x, v);
        if (rnd_below(2)) {
          canon__xsum_add(&x, -v);
          ref_add(&r, -v);
        }
        break;
      default: canon__xsum_add(&x, v); break;
      }
      ref_add(&r, v);
      if (rnd_below(6) == 0) {
        if (rnd_below(2)) {
          canon__xsum_merge(&x, &part);
        } else {
          uint8_t buf[CANON__XSUM_MAX_BYTES];
          size_t len = canon__xsum_serialize(&part, buf);
          cr_assert_eq(canon__xsum_add_serialized(&x, buf, len), (int64_t)len);
        }
        canon__xsum_init(&part);
      }
    }
    canon__xsum_merge(&x, &part);
    assert_same_as_ref(&x, &r, trial);
  }
}

/* Sums reaching the top limbs (only corrupt-looking but valid states get
 * there): the window grows into the top limb, which absorbs carries. */
Test(exactsum, window_reaching_the_top_limb) {
  rng_state = 77;
  canon__xsum x;
  ref_acc r;
  memset(&r, 0, sizeof r);
  canon__xsum_init(&x);
  uint8_t st[3 + 8] = {0, CANON__XSUM_LIMBS - 3, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  for (int i = 0; i < 5000; i++) {
    st[0] = rnd_below(3) ? 0 : 8;
    cr_assert_eq(canon__xsum_add_serialized(&x, st, sizeof st), (int64_t)sizeof st);
    int64_t s = st[0] ? -1 : 1;
    r.limb[CANON__XSUM_LIMBS - 3] += s * 0xffffffffLL;
    r.limb[CANON__XSUM_LIMBS - 2] += s * 0xffffffffLL;
    ref_norm(&r);
    double v = edge_or_random();
    canon__xsum_add(&x, v);
    ref_add(&r, v);
    if (i % 97 == 0) assert_same_as_ref(&x, &r, i);
  }
  assert_same_as_ref(&x, &r, -1);
}

/* The window stays as narrow as the value: repeated normalizations of a
 * negative sum (each merge normalizes) do not grow it. */
Test(exactsum, window_stays_narrow) {
  canon__xsum x, y;
  canon__xsum_init(&x);
  canon__xsum_init(&y);
  cr_assert_eq(x.hi - x.lo, 0);
  canon__xsum_add(&y, -1.0);
  for (int i = 0; i < 1000; i++) canon__xsum_merge(&x, &y);
  cr_assert_leq(x.hi - x.lo, 3, "window [%d, %d)", (int)x.lo, (int)x.hi);
  ASSERT_BITS(canon__xsum_round(&x), -1000.0);
  canon__xsum_add(&y, 2.0);
  for (int i = 0; i < 1000; i++) canon__xsum_merge(&x, &y);
  ASSERT_BITS(canon__xsum_round(&x), 0.0);
  cr_assert_leq(x.hi - x.lo, 3, "window [%d, %d)", (int)x.lo, (int)x.hi);
}

/* The batch entry points add exactly what one add per value does. */
Test(exactsum, batch_adds_match_single_adds) {
  rng_state = 99;
  enum { N = 3000, G = 5 };
  static double v[N];
  static int64_t gid[N];
  uint8_t valid[N / 8 + 1];
  for (int i = 0; i < N; i++) {
    v[i] = edge_or_random();
    if (rnd_below(50) == 0) v[i] = from_bits(0x7ff0000000000000ULL | rnd_below(2) << 63 | rnd_below(2));
    gid[i] = (int64_t)rnd_below(G + 1) - 1; /* -1: dropped */
  }
  for (int i = 0; i < N / 8 + 1; i++) valid[i] = (uint8_t)rnd();
  canon__xsum grouped[G], want[G], run, run_want;
  for (int g = 0; g < G; g++) {
    canon__xsum_init(&grouped[g]);
    canon__xsum_init(&want[g]);
  }
  canon__xsum_add_grouped(grouped, gid, v, valid, N);
  for (int i = 0; i < N; i++)
    if (gid[i] >= 0 && ((valid[i >> 3] >> (i & 7)) & 1)) canon__xsum_add(&want[gid[i]], v[i]);
  canon__xsum_init(&run);
  canon__xsum_init(&run_want);
  canon__xsum_add_run(&run, v, N);
  for (int i = 0; i < N; i++) canon__xsum_add(&run_want, v[i]);
  uint8_t a[CANON__XSUM_MAX_BYTES], b[CANON__XSUM_MAX_BYTES];
  for (int g = 0; g < G; g++) {
    size_t la = canon__xsum_serialize(&grouped[g], a), lb = canon__xsum_serialize(&want[g], b);
    cr_assert(la == lb && !memcmp(a, b, la), "group %d", g);
  }
  size_t la = canon__xsum_serialize(&run, a), lb = canon__xsum_serialize(&run_want, b);
  cr_assert(la == lb && !memcmp(a, b, la));
  /* 128-bit integers: the same as adding their two 64-bit halves. */
  for (int t = 0; t < 5000; t++) {
    uint64_t lo = rnd();
    int64_t hi = (int64_t)rnd() >> rnd_below(64);
    if (t % 7 == 0) hi = 0;
    if (t % 11 == 0) hi = -1;
    if (t % 13 == 0) lo = 0;
    canon__xsum x, y;
    canon__xsum_init(&x);
    canon__xsum_init(&y);
    canon__xsum_add(&x, 0.25); /* a window already in use */
    canon__xsum_add(&y, 0.25);
    canon__xsum_add_i128(&x, lo, hi);
    /* hi * 2^64 + lo = (hi >> 32) * 2^96 + (hi & (2^32 - 1)) * 2^64
     *                 + (lo - 2^63) + 2^62 + 2^62, each part exact */
    canon__xsum_add(&y, ldexp((double)(hi >> 32), 96));
    canon__xsum_add(&y, ldexp((double)(hi & 0xffffffff), 64));
    canon__xsum_add_i64(&y, (int64_t)(lo ^ (UINT64_C(1) << 63)));
    canon__xsum_add_i64(&y, INT64_C(1) << 62);
    canon__xsum_add_i64(&y, INT64_C(1) << 62);
    la = canon__xsum_serialize(&x, a);
    lb = canon__xsum_serialize(&y, b);
    cr_assert(la == lb && !memcmp(a, b, la), "case %d", t);
  }
}
