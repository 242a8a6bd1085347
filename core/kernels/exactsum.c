/* exactsum.c — the superaccumulator behind sum and mean (SEMANTICS §5).
 *
 * Every finite double is m * 2^e with an integer m < 2^53 and e >= -1074, so
 * the exact sum of any number of doubles is an integer N times 2^-1074.  We
 * keep N as a fixed-point big integer in CANON__XSUM_LIMBS signed 64-bit
 * limbs, each standing for a 32-bit digit: limb i weighs 2^(32 i) units of
 * 2^-1074.  The digits used by doubles reach bit 2097; the limbs above leave
 * about 200 bits of headroom, far more than 2^64 additions of DBL_MAX need.
 *
 * An add touches at most three limbs and never propagates carries: a limb
 * can absorb 2^30 adds of a 32-bit chunk before it could overflow, so
 * carries are propagated ("normalized") every XS_CARRY_EVERY adds and before
 * any read.  Normalized form: limbs 0..L-2 in [0, 2^32), the top limb signed
 * (it carries the sign, two's complement style).
 *
 * Only the limbs an add has touched are live: [lo, hi) is the window that
 * holds the sum and every limb outside it reads as zero without being
 * stored, so starting, normalizing, reading and serializing a sum cost
 * O(window) — a few limbs when the values have similar magnitudes — not
 * O(CANON__XSUM_LIMBS).  Normalized form within the window: limbs lo..hi-2
 * in [0, 2^32), limb hi-1 signed and nonzero (in [-2^31, 2^32) unless the
 * window reaches the top limb, which then absorbs carries as before).
 *
 * Reading rounds exactly once: the magnitude is turned into plain 32-bit
 * digits and the nearest double (ties to even) is assembled bit by bit, so
 * nothing depends on the FPU, libm or the rounding mode.  Division by a
 * count is a long division of the digits, with the remainder folded into a
 * sticky bit, followed by the same single rounding.
 *
 * Sections: adding; normalization and merge; rounding; serialization;
 * fixed point (runs of values in a narrow exponent window summed as 128-bit
 * integers, then added or serialized once).
 */
#include "kernels.h"

#define XS_L CANON__XSUM_LIMBS
/* Digits of a magnitude: the XS_L limbs, plus one more for the top limb's
 * high half, plus two zero digits below for the 64 extra quotient bits of a
 * division. */
#define XS_DIV_EXTRA 2
#define XS_DIGITS (XS_L + 1 + XS_DIV_EXTRA)
/* Adds between carry propagations: each add moves a limb by < 2^32, so 2^30
 * of them keep |limb| < 2^62 + 2^32. */
#define XS_CARRY_EVERY ((int64_t)1 << 30)

__extension__ typedef unsigned __int128 xs_u128;

static const uint64_t XS_QNAN_BITS = 0x7ff8000000000000ULL;
static const uint64_t XS_PINF_BITS = 0x7ff0000000000000ULL;
static const uint64_t XS_NINF_BITS = 0xfff0000000000000ULL;

static double bits_to_double(uint64_t b) {
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}

static uint64_t double_to_bits(double d) {
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  return b;
}

/* ---- adding ------------------------------------------------------------- */

void canon__xsum_init(canon__xsum *x) {
  x->nadds = 0;
  x->lo = x->hi = 0;
  x->has_nan = x->has_pinf = x->has_ninf = 0;
}

static void xs_normalize(canon__xsum *x);

/* Widen the window to cover limbs [a, b), zeroing the limbs it gains. */
static void xs_cover(canon__xsum *x, int a, int b) {
  if (x->lo == x->hi) {
    for (int i = a; i < b; i++) x->limb[i] = 0;
    x->lo = a;
    x->hi = b;
    return;
  }
  if (a < x->lo) {
    for (int i = a; i < x->lo; i++) x->limb[i] = 0;
    x->lo = a;
  }
  if (b > x->hi) {
    for (int i = x->hi; i < b; i++) x->limb[i] = 0;
    x->hi = b;
  }
}

/* Add (or subtract, when neg) m * 2^pos units of 2^-1074.  m < 2^64 shifted
 * by < 32 bits spans at most three 32-bit digits. */
static inline void xs_add_mag(canon__xsum *x, uint64_t m, int pos, bool neg) {
  int k = pos >> 5;
  xs_u128 w = (xs_u128)m << (pos & 31);
  int64_t a = (int64_t)(uint32_t)w;
  int64_t b = (int64_t)(uint32_t)(w >> 32);
  int64_t c = (int64_t)(uint64_t)(w >> 64);
  if (__builtin_expect(k < x->lo || k + 3 > x->hi, 0)) xs_cover(x, k, k + 3);
  if (neg) {
    x->limb[k] -= a;
    x->limb[k + 1] -= b;
    x->limb[k + 2] -= c;
  } else {
    x->limb[k] += a;
    x->limb[k + 1] += b;
    x->limb[k + 2] += c;
  }
  if (++x->nadds >= XS_CARRY_EVERY) xs_normalize(x);
}

/* Add an int64 exactly: |v| < 2^64 placed at the units digit 2^0, which is
 * bit 1074 of the accumulator. */
void canon__xsum_add_i64(canon__xsum *x, int64_t v) {
  if (!v) return;
  bool neg = v < 0;
  uint64_t m = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  xs_add_mag(x, m, 1074, neg);
}

/* Add a 128-bit integer: its magnitude's two 64-bit halves at the units
 * digit and 64 bits above. */
void canon__xsum_add_i128(canon__xsum *x, uint64_t lo, int64_t hi) {
  xs_u128 v = (xs_u128)(uint64_t)hi << 64 | lo;
  if (!v) return;
  bool neg = hi < 0;
  if (neg) v = (xs_u128)0 - v;
  if ((uint64_t)v) xs_add_mag(x, (uint64_t)v, 1074, neg);
  if ((uint64_t)(v >> 64)) xs_add_mag(x, (uint64_t)(v >> 64), 1074 + 64, neg);
}

/* The body of canon__xsum_add, inlined into the loops below. */
static inline void xs_add_f64(canon__xsum *x, double v) {
  uint64_t bits = double_to_bits(v);
  unsigned e = (unsigned)(bits >> 52) & 0x7ff;
  uint64_t m = bits & ((UINT64_C(1) << 52) - 1);
  bool neg = (bits >> 63) != 0;
  if (__builtin_expect(e == 0x7ff, 0)) {
    if (m) x->has_nan = 1;
    else if (neg) x->has_ninf = 1;
    else x->has_pinf = 1;
    return;
  }
  if (__builtin_expect(e == 0, 0)) {
    if (m) xs_add_mag(x, m, 0, neg);
    return;
  }
  xs_add_mag(x, m | (UINT64_C(1) << 52), (int)e - 1, neg);
}

/* Add one double exactly; NaN and the infinities only set flags. */
void canon__xsum_add(canon__xsum *x, double v) { xs_add_f64(x, v); }

void canon__xsum_add_run(canon__xsum *x, const double *v, int64_t n) {
  for (int64_t i = 0; i < n; i++) xs_add_f64(x, v[i]);
}

void canon__xsum_add_grouped(canon__xsum *acc, const int64_t *gid, const double *v,
                             const uint8_t *valid, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    if (valid && !((valid[i >> 3] >> (i & 7)) & 1)) continue;
    int64_t g = gid ? gid[i] : 0;
    if (g >= 0) xs_add_f64(&acc[g], v[i]);
  }
}

/* ---- normalization and merge -------------------------------------------- */

/* Propagate carries through the window limb[*lo .. *hi) so limbs lo..hi-2
 * are in [0, 2^32); the carry out of the window becomes a new (signed) top
 * limb, or is absorbed by the top limb when the window reaches it.  Zero
 * limbs at either end then leave the window.  The arithmetic shift of a
 * negative limb is floor division by 2^32 (gcc and clang define >> on
 * negative values that way). */
static void xs_norm_window(int64_t *limb, int32_t *lo, int32_t *hi) {
  int a = *lo, b = *hi;
  if (a == b) return;
  int end = b < XS_L ? b : XS_L - 1;
  int64_t carry = 0;
  for (int i = a; i < end; i++) {
    int64_t v = limb[i] + carry;
    carry = v >> 32;
    limb[i] = v & 0xffffffff;
  }
  if (b == XS_L) limb[XS_L - 1] += carry;
  else if (carry) limb[b++] = carry;
  while (a < b && !limb[a]) a++;
  /* At the top, zero limbs go, and so does a -1 over a digit >= 2^31 (the
   * digit takes the sign instead), or negative sums would grow the window
   * by one limb of 0xffffffff per normalization. */
  while (b > a) {
    int64_t t = limb[b - 1];
    if (t && !(t == -1 && b - 2 >= a && limb[b - 2] >= ((int64_t)1 << 31))) break;
    if (t) limb[b - 2] -= (int64_t)1 << 32;
    b--;
  }
  if (a == b) a = b = 0;
  *lo = a;
  *hi = b;
}

static void xs_normalize(canon__xsum *x) {
  xs_norm_window(x->limb, &x->lo, &x->hi);
  x->nadds = 0;
}

/* Add y into x; exact, so any merge order gives the same sum. */
void canon__xsum_merge(canon__xsum *x, const canon__xsum *y) {
  canon__xsum t = *y;
  xs_normalize(&t);
  xs_normalize(x);
  if (t.lo < t.hi) xs_cover(x, t.lo, t.hi);
  for (int i = t.lo; i < t.hi; i++) x->limb[i] += t.limb[i];
  /* Each limb now holds at most two normalized digits: count that as two
   * adds of headroom. */
  x->nadds = 2;
  x->has_nan |= t.has_nan;
  x->has_pinf |= t.has_pinf;
  x->has_ninf |= t.has_ninf;
}

/* The magnitude of x as plain digits d[XS_DIV_EXTRA ..]: digits below
 * XS_DIV_EXTRA + *nd are written (zeros included, the extra low digits
 * too), the ones above are zero and left unwritten.  Returns whether the
 * sum is negative. */
static bool xs_magnitude(const canon__xsum *x, uint32_t d[XS_DIGITS], int *nd) {
  int64_t t[XS_L];
  int32_t lo = x->lo, hi = x->hi;
  memcpy(t + lo, x->limb + lo, (size_t)(hi - lo) * sizeof *t);
  xs_norm_window(t, &lo, &hi);
  bool neg = lo < hi && t[hi - 1] < 0;
  if (neg) {
    /* -N: negate the window and propagate again; the top turns >= 0. */
    for (int i = lo; i < hi; i++) t[i] = -t[i];
    xs_norm_window(t, &lo, &hi);
  }
  memset(d, 0, (XS_DIV_EXTRA + (size_t)lo) * sizeof *d);
  for (int i = lo; i < hi; i++) d[XS_DIV_EXTRA + i] = (uint32_t)t[i];
  *nd = hi;
  if (hi == XS_L) {
    /* Only the top limb may exceed a digit. */
    uint64_t top = (uint64_t)t[XS_L - 1];
    d[XS_DIV_EXTRA + XS_L] = (uint32_t)(top >> 32);
    *nd = XS_L + 1;
  }
  return neg;
}

/* ---- rounding ----------------------------------------------------------- */

static inline int xs_bit(const uint32_t *d, int i) { return (int)((d[i >> 5] >> (i & 31)) & 1); }

/* Bits [lo, lo+n) of the digit string d (n <= 64, lo >= 0; n <= 0 when
 * the value lies wholly below lo): the (up to) three digits holding them,
 * shifted down. */
static uint64_t xs_bits(const uint32_t *d, int nd, int lo, int n) {
  if (n <= 0) return 0;
  int k = lo >> 5;
  xs_u128 w = 0;
  for (int j = 2; j >= 0; j--) w = (w << 32) | (k + j < nd ? d[k + j] : 0);
  w >>= lo & 31;
  return n >= 64 ? (uint64_t)w : (uint64_t)w & ((UINT64_C(1) << n) - 1);
}

/* Whether any bit below position p is set. */
static bool xs_any_below(const uint32_t *d, int p) {
  int full = p >> 5;
  for (int i = 0; i < full; i++)
    if (d[i]) return true;
  int rest = p & 31;
  return rest && (d[full] & ((UINT32_C(1) << rest) - 1));
}

/* Round the digit string d (nd digits; value = d * 2^-(1074+fbits), plus a
 * nonzero tail below it when sticky) to the nearest double, ties to even.
 * The bits of the result are assembled directly: with q units of 2^-1074
 * and q < 2^53, the IEEE encoding of q * 2^-1074 is q itself, subnormals
 * included, and each further binade adds one to the exponent field. */
static double xs_round_digits(const uint32_t *d, int nd, int fbits, bool sticky, bool neg) {
  int top = nd - 1;
  while (top >= 0 && !d[top]) top--;
  if (top < 0) return 0.0;  /* a tail below 2^-1074-fbits rounds to +0 */
  int p = top * 32 + 31 - __builtin_clz(d[top]);  /* highest set bit */
  int lsb = p - 52 > fbits ? p - 52 : fbits;       /* weight of the result's ulp */
  uint64_t m = xs_bits(d, nd, lsb, p - lsb + 1);
  if (lsb > 0) {
    bool half = xs_bit(d, lsb - 1);
    bool rest = sticky || xs_any_below(d, lsb - 1);
    if (half && (rest || (m & 1))) m++;
  }
  int s = lsb - fbits;  /* the result is m * 2^s units of 2^-1074 */
  uint64_t bits;
  if (s == 0) {
    bits = m;  /* m <= 2^53: subnormal or the lowest normal binades */
  } else {
    if (m == UINT64_C(1) << 53) {
      m >>= 1;
      s++;
    }
    if (s + 1 >= 0x7ff) return bits_to_double(neg ? XS_NINF_BITS : XS_PINF_BITS);
    bits = ((uint64_t)(s + 1) << 52) | (m - (UINT64_C(1) << 52));
  }
  if (bits >= UINT64_C(0x7ff) << 52) return bits_to_double(neg ? XS_NINF_BITS : XS_PINF_BITS);
  if (neg && bits) bits |= UINT64_C(1) << 63;
  return bits_to_double(bits);
}

/* The special result the NaN/inf flags force, or 0 when the sum is finite
 * (then *special is false). */
static double xs_special(const canon__xsum *x, bool *special) {
  *special = true;
  if (x->has_nan || (x->has_pinf && x->has_ninf)) return bits_to_double(XS_QNAN_BITS);
  if (x->has_pinf) return bits_to_double(XS_PINF_BITS);
  if (x->has_ninf) return bits_to_double(XS_NINF_BITS);
  *special = false;
  return 0.0;
}

/* The exact sum rounded once to double; never -0.0, NaN canonical. */
double canon__xsum_round(const canon__xsum *x) {
  bool special;
  double r = xs_special(x, &special);
  if (special) return r;
  uint32_t d[XS_DIGITS];
  int nd;
  bool neg = xs_magnitude(x, d, &nd);
  return xs_round_digits(d + XS_DIV_EXTRA, nd, 0, false, neg);
}

/* The exact sum divided by n (> 0) and rounded once.  The magnitude,
 * scaled by 2^64 (the two zero low digits), is divided digit by digit; the
 * quotient keeps at least 64 bits below 2^-1074, enough to hold the rounding
 * bit, and a nonzero remainder becomes the sticky bit. */
double canon__xsum_div_round(const canon__xsum *x, int64_t n) {
  bool special;
  double r = xs_special(x, &special);
  if (special) return r;
  if (n <= 0) return bits_to_double(XS_QNAN_BITS);
  uint32_t d[XS_DIGITS];
  int nd;
  bool neg = xs_magnitude(x, d, &nd);
  uint64_t rem = 0, un = (uint64_t)n;
  int top = XS_DIV_EXTRA + nd - 1;
  while (top >= 0 && !d[top]) top--;
  if (un <= UINT32_MAX) {
    /* rem < n < 2^32, so each step fits 64-bit division. */
    for (int i = top; i >= 0; i--) {
      uint64_t cur = (rem << 32) | d[i];
      d[i] = (uint32_t)(cur / un);
      rem = cur % un;
    }
  } else {
    for (int i = top; i >= 0; i--) {
      xs_u128 cur = ((xs_u128)rem << 32) | d[i];
      d[i] = (uint32_t)(cur / un);
      rem = (uint64_t)(cur % un);
    }
  }
  return xs_round_digits(d, XS_DIV_EXTRA + nd, 32 * XS_DIV_EXTRA, rem != 0, neg);
}

/* ---- serialization ------------------------------------------------------ */

/* Layout (little-endian, the same on every machine):
 *   u8 flags   bit0 NaN seen, bit1 +inf, bit2 -inf, bit3 negative sum
 *   u8 lo      index of the first magnitude digit written
 *   u8 count   number of digits written
 *   count x u32  magnitude digits lo .. lo+count-1 (all others zero)
 * The magnitude has XS_L + 1 digits (the top limb's high half is the last);
 * a zero sum writes no digits. */
size_t canon__xsum_serialize(const canon__xsum *x, uint8_t *buf) {
  uint32_t d[XS_DIGITS];
  int nd;
  bool neg = xs_magnitude(x, d, &nd);
  const uint32_t *mag = d + XS_DIV_EXTRA;
  int lo = 0, hi = nd - 1;
  while (lo < nd && !mag[lo]) lo++;
  while (hi >= lo && !mag[hi]) hi--;
  int count = hi >= lo ? hi - lo + 1 : 0;
  if (!count) lo = 0;
  buf[0] = (uint8_t)((x->has_nan ? 1 : 0) | (x->has_pinf ? 2 : 0) | (x->has_ninf ? 4 : 0) |
                     (neg && count ? 8 : 0));
  buf[1] = (uint8_t)lo;
  buf[2] = (uint8_t)count;
  uint8_t *p = buf + 3;
  for (int i = 0; i < count; i++, p += 4) {
    uint32_t v = mag[lo + i];
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
  }
  return (size_t)(p - buf);
}

/* Parse a serialized sum and add it into x (exact, like a merge); returns
 * the bytes consumed, or -1 (x untouched) when the bytes are not a valid
 * encoding. */
int64_t canon__xsum_add_serialized(canon__xsum *x, const uint8_t *buf, size_t len) {
  if (len < 3) return -1;
  unsigned flags = buf[0], lo = buf[1], count = buf[2];
  if (flags & ~15u) return -1;
  /* Real sums stay far below the top limb (|sum| < 2^1100 needs at most
   * digit 67); refusing digits there keeps merges of corrupt states from
   * overflowing a limb. */
  if (lo + count > XS_L - 1) return -1;
  if (len - 3 < (size_t)count * 4) return -1;
  /* Each digit moves one limb by < 2^32: the same headroom as one add. */
  if (x->nadds >= XS_CARRY_EVERY - 1) xs_normalize(x);
  if (count) xs_cover(x, (int)lo, (int)(lo + count));
  const uint8_t *p = buf + 3;
  for (unsigned i = 0; i < count; i++, p += 4) {
    int64_t v = (int64_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                          (uint32_t)p[3] << 24);
    x->limb[lo + i] += flags & 8 ? -v : v;
  }
  x->nadds++;
  x->has_nan |= (flags & 1) != 0;
  x->has_pinf |= (flags & 2) != 0;
  x->has_ninf |= (flags & 4) != 0;
  return (int64_t)(3 + (size_t)count * 4);
}

/* Read a serialized sum into x; returns the bytes consumed, or -1 when the
 * bytes are not a valid encoding. */
int64_t canon__xsum_deserialize(canon__xsum *x, const uint8_t *buf, size_t len) {
  canon__xsum_init(x);
  return canon__xsum_add_serialized(x, buf, len);
}

/* ---- fixed point -------------------------------------------------------- */

/* A finite double is m * 2^(e - 1075) with e its exponent field (a
 * subnormal counts as e = 1 without the implicit bit), so when every value
 * of a run has e in [emin, emax] each is the integer m << (e - emin) in
 * units of 2^(emin - 1075): bit pos = emin - 1 of the accumulator, where
 * xs_add_f64 puts the value's lowest mantissa bit when e = emin.  Its
 * magnitude is below 2^(emax - emin + 53); many of them sum exactly in a
 * signed 128-bit integer when that leaves headroom for their count, and the
 * total is added (or serialized) once — the same exact sum, so the same
 * bits, as adding them one by one. */

/* The largest and the smallest nonzero magnitude of the valid values, as
 * the bits of |v| shifted left by one (unsigned order is magnitude order;
 * NaN and inf are above every finite value).  Four independent chains of
 * max and min, so the loop is not bound by one chain's latency. */
static inline __attribute__((always_inline)) void xs_mag_range(const double *v,
                                                               const uint8_t *valid, int64_t n,
                                                               bool check, uint64_t *hi,
                                                               uint64_t *lo) {
  uint64_t x0 = 0, x1 = 0, x2 = 0, x3 = 0;
  uint64_t m0 = UINT64_MAX, m1 = UINT64_MAX, m2 = UINT64_MAX, m3 = UINT64_MAX;
  /* Row i's magnitude (0 when NULL); minus one, zero wraps to the largest
   * value: no minimum. */
#define XS_MAG(i) \
  ((double_to_bits(v[i]) << 1) & (check ? (uint64_t)0 - ((valid[(i) >> 3] >> ((i) & 7)) & 1) : ~(uint64_t)0))
#define XS_RANGE(x, m, i)         \
  do {                            \
    uint64_t a_ = XS_MAG(i);      \
    x = a_ > x ? a_ : x;          \
    a_ -= 1;                      \
    m = a_ < m ? a_ : m;          \
  } while (0)
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    XS_RANGE(x0, m0, i);
    XS_RANGE(x1, m1, i + 1);
    XS_RANGE(x2, m2, i + 2);
    XS_RANGE(x3, m3, i + 3);
  }
  for (; i < n; i++) XS_RANGE(x0, m0, i);
#undef XS_RANGE
#undef XS_MAG
  x0 = x0 > x1 ? x0 : x1;
  x2 = x2 > x3 ? x2 : x3;
  m0 = m0 < m1 ? m0 : m1;
  m2 = m2 < m3 ? m2 : m3;
  *hi = x0 > x2 ? x0 : x2;
  *lo = (m0 < m2 ? m0 : m2) + 1;  /* 0: no nonzero value */
}

int canon__xsum_fix_window(const double *v, const uint8_t *valid, int64_t n, int *mbits) {
  uint64_t hi, lo;
  if (valid) xs_mag_range(v, valid, n, true, &hi, &lo);
  else xs_mag_range(v, valid, n, false, &hi, &lo);
  /* Exponent fields; a subnormal counts as 1.  NaN and inf have field
   * 0x7ff, which no window fits. */
  int emax = (int)(hi >> 53), emin = (int)(lo >> 53);
  *mbits = 0;
  if (emax == 0x7ff) return -1;
  if (!lo) return 0;  /* all zeros: any unit */
  if (emin < 1) emin = 1;
  if (emax < emin) emax = emin;  /* only subnormals */
  *mbits = emax - emin + 53;
  return emin - 1;
}

/* v in units of 2^(pos - 1074), times 2^kbits: exact for a finite v with
 * e >= pos + 1 (zeros anywhere).  The 128-bit shift is spelled out in
 * 64-bit halves, which compilers turn into fewer instructions. */
static inline xs_u128 xs_fix(double v, int pos, int kbits) {
  uint64_t b = double_to_bits(v);
  unsigned e = (unsigned)(b >> 52) & 0x7ff;
  uint64_t m = b & ((UINT64_C(1) << 52) - 1);
  if (e) m |= UINT64_C(1) << 52;
  else e = 1;
  /* A zero below the window would shift by a negative count: any count
   * in [0, 128) shifts m = 0 to 0. */
  unsigned sh = (unsigned)((int)e - 1 - pos + kbits) & 127;
  uint64_t lo, hi;
  if (sh >= 64) {
    lo = 0;
    hi = m << (sh - 64);
  } else {
    lo = m << sh;
    hi = sh ? m >> (64 - sh) : 0;
  }
  xs_u128 x = (xs_u128)hi << 64 | lo;
  xs_u128 s = (xs_u128)0 - (xs_u128)(b >> 63);
  return (x ^ s) - s;  /* negated when the sign bit is set */
}

/* Rows ahead whose accumulator is prefetched: with many groups the
 * accumulators miss the caches, and the rows' groups are known early. */
#define XS_PREFETCH 16
#define XS_PREFETCH_GROUPS 1024

/* The loop of canon__xsum_fix_grouped, inlined with constant `sep` (counts
 * apart) and `check` (validity present) so each variant has no per-row
 * tests of them. */
static inline __attribute__((always_inline)) void xs_fix_rows(
    xs_u128 *a, int64_t *cnt, const int64_t *gid, const double *v, const uint8_t *valid,
    int64_t n, int pos, int kbits, bool sep, bool check, bool fetch) {
  int64_t ahead = fetch ? n - XS_PREFETCH : 0;
  for (int64_t i = 0; i < n; i++) {
    /* The address is computed as an integer: a group of -1 prefetches a
     * harmless address outside the array. */
    if (i < ahead)
      __builtin_prefetch((const void *)((uintptr_t)a + (uintptr_t)gid[i + XS_PREFETCH] * sizeof *a),
                         1);
    int64_t g = gid[i];
    if (g < 0 || (check && !((valid[i >> 3] >> (i & 7)) & 1))) continue;
    if (sep) {
      a[g] += xs_fix(v[i], pos, 0);
      cnt[g]++;
    } else {
      a[g] += xs_fix(v[i], pos, kbits) + 1;
    }
  }
}

void canon__xsum_fix_grouped(canon__i128 *acc, int64_t *cnt, int64_t ngroups, const int64_t *gid,
                             const double *v, const uint8_t *valid, int64_t n, int pos,
                             int kbits) {
  xs_u128 *a = (xs_u128 *)acc;  /* wrapping arithmetic: two's complement */
  if (!gid) {
    for (int64_t i = 0; i < n; i++) {
      if (valid && !((valid[i >> 3] >> (i & 7)) & 1)) continue;
      if (cnt) {
        a[0] += xs_fix(v[i], pos, 0);
        cnt[0]++;
      } else {
        a[0] += xs_fix(v[i], pos, kbits) + 1;
      }
    }
    return;
  }
  /* Accumulators that fit the first-level cache need no prefetch. */
  if (ngroups <= XS_PREFETCH_GROUPS) {
    if (cnt || valid) xs_fix_rows(a, cnt, gid, v, valid, n, pos, kbits, cnt, valid, false);
    else xs_fix_rows(a, cnt, gid, v, valid, n, pos, kbits, false, false, false);
  } else if (cnt) {
    if (valid) xs_fix_rows(a, cnt, gid, v, valid, n, pos, kbits, true, true, true);
    else xs_fix_rows(a, cnt, gid, v, valid, n, pos, kbits, true, false, true);
  } else {
    if (valid) xs_fix_rows(a, cnt, gid, v, valid, n, pos, kbits, false, true, true);
    else xs_fix_rows(a, cnt, gid, v, valid, n, pos, kbits, false, false, true);
  }
}

void canon__xsum_add_fixed(canon__xsum *x, canon__i128 s, int pos) {
  if (!s) return;
  bool neg = s < 0;
  xs_u128 u = neg ? (xs_u128)0 - (xs_u128)s : (xs_u128)s;
  if ((uint64_t)u) xs_add_mag(x, (uint64_t)u, pos, neg);
  if ((uint64_t)(u >> 64)) xs_add_mag(x, (uint64_t)(u >> 64), pos + 64, neg);
}

/* Bits [at, at + 32) of u, for at in (-32, 128); those below 0 are 0. */
static inline uint32_t xs_fix_digit(xs_u128 u, int at) {
  return at < 0 ? (uint32_t)(u << -at) : (uint32_t)(u >> at);
}

/* The same bytes canon__xsum_serialize writes: the magnitude's nonzero
 * digit span, the sign flag. */
size_t canon__xsum_fix_serialize(canon__i128 s, int pos, uint8_t *buf) {
  bool neg = s < 0;
  xs_u128 u = neg ? (xs_u128)0 - (xs_u128)s : (xs_u128)s;
  buf[0] = neg ? 8 : 0;
  buf[1] = buf[2] = 0;
  if (!u) return 3;
  uint64_t ul = (uint64_t)u, uh = (uint64_t)(u >> 64);
  int low = pos + (ul ? __builtin_ctzll(ul) : 64 + __builtin_ctzll(uh));
  int high = pos + (uh ? 127 - __builtin_clzll(uh) : 63 - __builtin_clzll(ul));
  int lo = low >> 5, count = (high >> 5) - lo + 1;
  buf[1] = (uint8_t)lo;
  buf[2] = (uint8_t)count;
  uint8_t *p = buf + 3;
  for (int i = 0; i < count; i++, p += 4) {
    uint32_t d = xs_fix_digit(u, 32 * (lo + i) - pos);
    p[0] = (uint8_t)d;
    p[1] = (uint8_t)(d >> 8);
    p[2] = (uint8_t)(d >> 16);
    p[3] = (uint8_t)(d >> 24);
  }
  return (size_t)(p - buf);
}

uint64_t canon__xsum_fix_f64_bits(canon__i128 s, int pos) {
  if (!s) return 0;
  bool neg = s < 0;
  xs_u128 u = neg ? (xs_u128)0 - (xs_u128)s : (xs_u128)s;
  uint64_t uh = (uint64_t)(u >> 64);
  int p = uh ? 127 - __builtin_clzll(uh) : 63 - __builtin_clzll((uint64_t)u);
  /* The value is u * 2^(pos - 1074) with its top bit at pos + p: exponent
   * field pos + p - 51 when normal; else a subnormal, whose mantissa field
   * is the value in units of 2^-1074. */
  int e = pos + p - 51;
  uint64_t bits;
  if (e >= 1) {
    uint64_t m = p >= 52 ? (uint64_t)(u >> (p - 52)) : (uint64_t)u << (52 - p);
    bits = (uint64_t)e << 52 | (m & ((UINT64_C(1) << 52) - 1));
  } else {
    bits = (uint64_t)u << pos;
  }
  return bits | (uint64_t)neg << 63;
}

/* The same checks as canon__xsum_add_serialized; on success *low and *high
 * bound the magnitude's set bits (-1 for a zero sum) and *special tells
 * whether a NaN or infinity flag is set. */
int64_t canon__xsum_serialized_span(const uint8_t *buf, size_t len, int *low, int *high,
                                    bool *special) {
  if (len < 3) return -1;
  unsigned flags = buf[0], lo = buf[1], count = buf[2];
  if (flags & ~15u) return -1;
  if (lo + count > XS_L - 1) return -1;
  if (len - 3 < (size_t)count * 4) return -1;
  *special = (flags & 7) != 0;
  *low = *high = -1;
  const uint8_t *p = buf + 3;
  for (unsigned i = 0; i < count; i++, p += 4) {
    uint32_t d = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (!d) continue;
    int at = 32 * (int)(lo + i);
    if (*low < 0) *low = at + __builtin_ctz(d);
    *high = at + 31 - __builtin_clz(d);
  }
  return (int64_t)(3 + (size_t)count * 4);
}

/* A serialized sum that canon__xsum_serialized_span accepted, without
 * special flags, whose set bits lie in [pos, pos + 126], as s in units of
 * 2^(pos - 1074). */
canon__i128 canon__xsum_serialized_fixed(const uint8_t *buf, int pos) {
  unsigned lo = buf[1], count = buf[2];
  xs_u128 u = 0;
  const uint8_t *p = buf + 3;
  for (unsigned i = 0; i < count; i++, p += 4) {
    uint32_t d = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (!d) continue;
    int at = 32 * (int)(lo + i) - pos;  /* > -32: the digit's bits below pos are zero */
    u += at < 0 ? (xs_u128)(d >> -at) : (xs_u128)d << at;
  }
  return buf[0] & 8 ? -(canon__i128)u : (canon__i128)u;
}
