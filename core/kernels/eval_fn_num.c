/* eval_fn_num.c — numeric functions: abs, round, floor, ceil, sqrt, pow,
 * ln, exp.
 *
 * float64 results follow IEEE-754 and the C math library (sqrt, pow, log,
 * exp, floor, ceil, fabs, round): sqrt(-1) and ln(-1) are NaN, ln(0) is
 * -inf, pow(0, 0) = 1, floor/ceil keep the sign of zero (ceil(-0.5) =
 * -0.0).  int64 arguments of sqrt, pow, ln and exp are converted to float64
 * first (round to nearest, ties to even).  abs, round, floor and ceil keep
 * an int64 argument int64.  Only non-NULL rows are computed, so only they
 * can raise errors. */
#include "eval_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

/* ---- round ---------------------------------------------------------------- */

/* Exact decimal rounding through the exact decimal expansion of |x| (glibc
 * printf prints it exactly, strtod rounds correctly): keep the digits up to
 * 10^-d, add one at the last kept digit when the first dropped digit is 5
 * or more (half away from zero on the exact value), convert back. */
static double round_slow(double x, int64_t d, int k) {
  double ax = fabs(x);
  /* Every finite double has at most 309 integer digits and k <= 1126
   * fractional binary digits, hence at most k fractional decimal ones. */
  char txt[1500];
  int len = snprintf(txt, sizeof txt, "%.*f", k > 0 ? k : 0, ax);
  if (len < 0 || len >= (int)sizeof txt) return NAN;  /* cannot happen */
  /* Digits without the point: intd integer digits, then the fraction. */
  char dig[1500];
  int nd = 0, intd = 0;
  for (int i = 0; i < len; i++) {
    if (txt[i] == '.') {
      intd = nd;
      continue;
    }
    dig[nd++] = txt[i];
  }
  if (k <= 0) intd = nd;
  int64_t keep = (int64_t)intd + d;  /* digits kept; |d| < 1500 here */
  if (keep < 0) return copysign(0.0, x);
  if (keep >= nd) return x;
  bool up = dig[keep] >= '5';
  /* One spare leading digit for the carry. */
  char out[1600];
  out[0] = '0';
  memcpy(out + 1, dig, (size_t)keep);
  int64_t m = keep + 1;
  for (int64_t i = m - 1; up && i >= 0; i--) {
    if (out[i] == '9') {
      out[i] = '0';
    } else {
      out[i]++;
      up = false;
    }
  }
  snprintf(out + m, sizeof out - (size_t)m, "e%" PRId64, -d);
  return copysign(strtod(out, NULL), x);
}

/* x rounded to d decimal places (d < 0: to tens, hundreds, ...), ties away
 * from zero, on the exact binary value of x; the result is the double
 * nearest that decimal number (±inf beyond the range), with x's sign. */
static double round_f64(double x, int64_t d) {
  if (!isfinite(x) || x == 0) return x;
  if (d == 0) return round(x);  /* C round: half away from zero, exact */
  int ex;
  double fr = frexp(x, &ex);  /* x = fr * 2^ex, 0.5 <= |fr| < 1 */
  int64_t m = (int64_t)ldexp(fabs(fr), 53);
  int k = 53 - ex;  /* x = ±m / 2^k exactly */
  while (k > 0 && (m & 1) == 0) {
    m >>= 1;
    k--;
  }
  /* m/2^k has at most k fractional decimal digits (1/2^k = 5^k/10^k), and
   * none when k <= 0. */
  if (d >= (k > 0 ? k : 0)) return x;
  if (d < -400) return copysign(0.0, x);  /* |x| < 10^309 rounds to 0 */
  if (d > 0 && d <= 22) {
    /* |m| < 2^53 and 10^22 < 2^74: N = m * 10^d fits in 127 bits. */
    static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    unsigned __int128 nn = (unsigned __int128)m, q;
    for (int64_t i = 0; i < d; i++) nn *= 10;
    if (k >= 128) {
      q = 0;  /* N < 2^127 <= 2^k / 2 */
    } else {
      q = nn >> k;
      unsigned __int128 rem = nn - (q << k);
      if (rem >= ((unsigned __int128)1 << (k - 1))) q++;
    }
    /* q and 10^d exact doubles: one correctly rounded division. */
    if (q < ((unsigned __int128)1 << 53)) return copysign((double)(uint64_t)q / p10[d], x);
  }
  return round_slow(x, d, k);
}

/* int64 x rounded to a multiple of 10^-d (d < 0), ties away from zero;
 * false when the result does not fit int64. */
static bool round_i64(int64_t x, int64_t d, int64_t *out) {
  if (d >= 0) {
    *out = x;
    return true;
  }
  if (d <= -20) {  /* |x| < 9.3e18 < 10^20 / 2 */
    *out = 0;
    return true;
  }
  __int128 p = 1;
  for (int64_t i = 0; i < -d; i++) p *= 10;
  __int128 q = x / p, r = x % p;
  if (2 * (r < 0 ? -r : r) >= p) q += x < 0 ? -1 : 1;
  __int128 v = q * p;
  if (v > INT64_MAX || v < INT64_MIN) return false;
  *out = (int64_t)v;
  return true;
}

/* ---- evaluation ------------------------------------------------------------ */

/* Bitmap of rows valid in all of a[0..k): fresh, or NULL with *oom false
 * when none has NULLs. */
static canon__buffer *valid_all(canon__column *const *a, int k, int64_t n, bool *oom) {
  *oom = false;
  canon__buffer *v = NULL;
  for (int j = 0; j < k; j++) {
    if (!a[j]->validity) continue;
    if (!v) {
      if (!(v = canon__ev_bitmap(a[j], n))) {
        *oom = true;
        return NULL;
      }
    } else {
      for (size_t b = 0; b < v->size; b++) v->data[b] &= a[j]->validity->data[b];
    }
  }
  return v;
}

/* Argument j of row i as a double (int64 converted). */
static double arg_f64(const canon__column *c, int64_t i) {
  return c->type == CANON_FLOAT64 ? canon__f64(c)[i] : (double)canon__i64(c)[i];
}

/* One float64 result for a non-NULL row. */
static double f64_row(canon__fn fn, canon__column *const *a, int64_t i) {
  double x = arg_f64(a[0], i);
  switch (fn) {
  case CANON__F_ABS: return fabs(x);
  case CANON__F_FLOOR: return floor(x);
  case CANON__F_CEIL: return ceil(x);
  case CANON__F_SQRT: return sqrt(x);
  case CANON__F_POW: return pow(x, arg_f64(a[1], i));
  case CANON__F_LN: return log(x);
  case CANON__F_EXP: return exp(x);
  default: return round_f64(x, canon__i64(a[1])[i]);
  }
}

/** The numeric functions over their evaluated arguments. */
canon__column *canon__ev_num(const canon_expr *e, canon__column *const *a, int64_t n,
                             canon_error *err) {
  /* floor and ceil of an integer are the integer itself. */
  if (e->type == CANON_INT64 && (e->fn == CANON__F_FLOOR || e->fn == CANON__F_CEIL))
    return canon__column_ref(a[0]);
  bool oom;
  canon__buffer *vb = valid_all(a, e->nargs, n, &oom);
  canon__buffer *out = oom ? NULL : canon__ev_buffer((size_t)n * 8);
  if (!out) {
    canon__buffer_unref(vb);
    canon__nomem(err);
    return NULL;
  }
  const uint8_t *v = vb ? vb->data : NULL;
  if (e->type == CANON_FLOAT64) {
    double *r = (double *)out->data;
    for (int64_t i = 0; i < n; i++) r[i] = canon__ev_bit(v, i) ? f64_row(e->fn, a, i) : 0.0;
  } else {
    /* int64 abs and round: the only int64 results that can overflow. */
    const int64_t *x = canon__i64(a[0]);
    int64_t *r = (int64_t *)out->data;
    for (int64_t i = 0; i < n; i++) {
      bool fits = true;
      r[i] = 0;
      if (!canon__ev_bit(v, i))
        continue;
      if (e->fn == CANON__F_ABS) {
        fits = x[i] != INT64_MIN;  /* -INT64_MIN does not fit */
        if (fits) r[i] = x[i] < 0 ? -x[i] : x[i];
      } else {
        fits = round_i64(x[i], canon__i64(a[1])[i], &r[i]);
      }
      if (!fits) {
        canon__buffer_unref(vb);
        canon__buffer_unref(out);
        canon__ev_error(err, CANON_ERR_OVERFLOW, e, "integer overflow");
        return NULL;
      }
    }
  }
  canon__column *c = canon__ev_column(e->type, n, out, vb, NULL);
  if (!c) canon__nomem(err);
  return c;
}
