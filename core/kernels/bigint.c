/* bigint.c — wide exact accumulators and the little big-integer arithmetic
 * that var, stddev and corr finish with (see bigint.h).
 *
 * Why integers: a double is m * 2^e with an integer m < 2^53 and e >= -1074,
 * so a square or a product of two doubles is an integer (m1 * m2 < 2^106,
 * exact in 128 bits) times 2^(e1 + e2) with e1 + e2 >= -2148.  Sums of such
 * terms are integers in units of 2^-2148; no fma splitting is needed and no
 * square can overflow, whatever the magnitude of the input.
 *
 * The accumulator follows exactsum.c: signed 64-bit limbs holding 32-bit
 * digits, carries propagated every WA_CARRY_EVERY adds and before reads.
 *
 * Sections: accumulator; big integers; division and rounding. */
#include "bigint.h"

#include <math.h>

#define WA_L CANON__WACC_LIMBS
#define BG_N CANON__BIG_DIGITS
/* Each add moves a limb by < 2^32: 2^30 adds keep |limb| < 2^62 + 2^32. */
#define WA_CARRY_EVERY ((int64_t)1 << 30)

/* ---- accumulator -------------------------------------------------------- */

/** An accumulator holding zero. */
void canon__wacc_init(canon__wacc *a) { memset(a, 0, sizeof *a); }

/* Propagate carries: limbs 0..L-2 in [0, 2^32), the top limb signed. */
static void wa_normalize(canon__wacc *a) {
  int64_t carry = 0;
  for (int i = 0; i < WA_L - 1; i++) {
    int64_t v = a->limb[i] + carry;
    carry = v >> 32; /* arithmetic shift: floor division (gcc, clang) */
    a->limb[i] = v & 0xffffffff;
  }
  a->limb[WA_L - 1] += carry;
  a->nadds = 0;
}

/** Add ±m * 2^pos units; a shifted 128-bit value spans five digits. */
void canon__wacc_add(canon__wacc *a, canon__u128 m, int pos, bool neg) {
  if (!m) return;
  int k = pos >> 5, sh = pos & 31;
  canon__u128 lo = m << sh;
  uint64_t hi = sh ? (uint64_t)(m >> (128 - sh)) : 0;
  int64_t dig[5] = {(int64_t)(uint32_t)lo, (int64_t)(uint32_t)(lo >> 32),
                    (int64_t)(uint32_t)(lo >> 64), (int64_t)(uint32_t)(lo >> 96), (int64_t)hi};
  for (int j = 0; j < 5 && k + j < WA_L; j++) a->limb[k + j] += neg ? -dig[j] : dig[j];
  if (++a->nadds >= WA_CARRY_EVERY) wa_normalize(a);
}

/** The value of a as a magnitude and a sign. */
void canon__wacc_to_big(const canon__wacc *a, canon__big *mag, bool *neg) {
  canon__wacc t = *a;
  wa_normalize(&t);
  *neg = t.limb[WA_L - 1] < 0;
  if (*neg) {
    for (int i = 0; i < WA_L; i++) t.limb[i] = -t.limb[i];
    wa_normalize(&t);
  }
  memset(mag, 0, sizeof *mag);
  for (int i = 0; i < WA_L - 1; i++) mag->d[i] = (uint32_t)t.limb[i];
  uint64_t top = (uint64_t)t.limb[WA_L - 1];
  mag->d[WA_L - 1] = (uint32_t)top;
  mag->d[WA_L] = (uint32_t)(top >> 32);
  mag->n = WA_L + 1;
  while (mag->n > 0 && !mag->d[mag->n - 1]) mag->n--;
  if (!mag->n) *neg = false;
}

static void put16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

/* Layout (little-endian): u8 flags (bit0: negative), u16 index of the first
 * digit written, u16 digit count, then the magnitude digits as u32. */
/** Serialize a into buf; returns the bytes written. */
size_t canon__wacc_serialize(const canon__wacc *a, uint8_t *buf) {
  canon__big m;
  bool neg;
  canon__wacc_to_big(a, &m, &neg);
  int lo = 0;
  while (lo < m.n && !m.d[lo]) lo++;
  int count = m.n - lo;
  if (!count) lo = 0;
  buf[0] = neg ? 1 : 0;
  put16(buf + 1, (unsigned)lo);
  put16(buf + 3, (unsigned)count);
  uint8_t *p = buf + 5;
  for (int i = 0; i < count; i++, p += 4) {
    uint32_t v = m.d[lo + i];
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
  }
  return (size_t)(p - buf);
}

/** Serialized bytes of v * 2^pos units (see bigint.h). */
size_t canon__wacc_serialize_i128(canon__i128 v, int pos, uint8_t *buf) {
  bool neg = v < 0;
  canon__u128 m = neg ? (canon__u128)0 - (canon__u128)v : (canon__u128)v;
  int k = pos >> 5, sh = pos & 31;
  canon__u128 lo = m << sh;
  uint32_t dig[5] = {(uint32_t)lo, (uint32_t)(lo >> 32), (uint32_t)(lo >> 64),
                     (uint32_t)(lo >> 96), sh ? (uint32_t)(m >> (128 - sh)) : 0};
  int a = 0, b = 5;
  while (a < b && !dig[a]) a++;
  while (b > a && !dig[b - 1]) b--;
  buf[0] = neg && a < b ? 1 : 0;
  put16(buf + 1, a < b ? (unsigned)(k + a) : 0);
  put16(buf + 3, (unsigned)(b - a));
  uint8_t *p = buf + 5;
  for (int i = a; i < b; i++, p += 4) {
    p[0] = (uint8_t)dig[i];
    p[1] = (uint8_t)(dig[i] >> 8);
    p[2] = (uint8_t)(dig[i] >> 16);
    p[3] = (uint8_t)(dig[i] >> 24);
  }
  return (size_t)(p - buf);
}

/** Add serialized bytes into a; the bytes consumed, or -1 (a unchanged). */
int64_t canon__wacc_add_serialized(canon__wacc *a, const uint8_t *buf, size_t len) {
  if (len < 5 || buf[0] > 1) return -1;
  unsigned lo = (unsigned)buf[1] | (unsigned)buf[2] << 8;
  unsigned count = (unsigned)buf[3] | (unsigned)buf[4] << 8;
  /* Real values stay far below the top limb; refusing digits there keeps
   * corrupt states from overflowing it. */
  if (lo + count > WA_L - 2 || len - 5 < (size_t)count * 4) return -1;
  if (a->nadds >= WA_CARRY_EVERY - 1) wa_normalize(a);
  const uint8_t *p = buf + 5;
  for (unsigned i = 0; i < count; i++, p += 4) {
    int64_t v = (int64_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                          (uint32_t)p[3] << 24);
    a->limb[lo + i] += buf[0] ? -v : v;
  }
  a->nadds++;
  return (int64_t)(5 + (size_t)count * 4);
}

/* ---- big integers ------------------------------------------------------- */

static void bg_trim(canon__big *a) {
  while (a->n > 0 && !a->d[a->n - 1]) a->n--;
}

/** out = a * b, schoolbook over the non-zero digits. */
void canon__big_mul(const canon__big *a, const canon__big *b, canon__big *out) {
  memset(out, 0, sizeof *out);
  if (!a->n || !b->n) return;
  int alo = 0, blo = 0;
  while (!a->d[alo]) alo++;
  while (!b->d[blo]) blo++;
  int n = a->n + b->n;
  if (n > BG_N) n = BG_N; /* cannot happen for accumulator values */
  for (int i = alo; i < a->n; i++) {
    uint64_t carry = 0;
    int j = blo;
    for (; j < b->n && i + j < n; j++) {
      uint64_t t = (uint64_t)a->d[i] * b->d[j] + out->d[i + j] + carry;
      out->d[i + j] = (uint32_t)t;
      carry = t >> 32;
    }
    for (int k = i + j; carry && k < n; k++) {
      uint64_t t = (uint64_t)out->d[k] + carry;
      out->d[k] = (uint32_t)t;
      carry = t >> 32;
    }
  }
  out->n = n;
  bg_trim(out);
}

/** a *= m. */
void canon__big_mul_u64(canon__big *a, uint64_t m) {
  canon__big b;
  b.n = 2;
  b.d[0] = (uint32_t)m;
  b.d[1] = (uint32_t)(m >> 32);
  bg_trim(&b);
  canon__big r;
  canon__big_mul(a, &b, &r);
  *a = r;
}

static int bg_cmp(const canon__big *a, const canon__big *b) {
  if (a->n != b->n) return a->n < b->n ? -1 : 1;
  for (int i = a->n - 1; i >= 0; i--)
    if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
  return 0;
}

/* out = a + b (magnitudes). */
static void bg_add(const canon__big *a, const canon__big *b, canon__big *out) {
  int n = a->n > b->n ? a->n : b->n;
  uint64_t carry = 0;
  for (int i = 0; i < n; i++) {
    uint64_t t = (uint64_t)(i < a->n ? a->d[i] : 0) + (i < b->n ? b->d[i] : 0) + carry;
    out->d[i] = (uint32_t)t;
    carry = t >> 32;
  }
  out->n = n;
  if (carry && n < BG_N) out->d[out->n++] = (uint32_t)carry;
}

/* out = a - b for a >= b (magnitudes). */
static void bg_sub(const canon__big *a, const canon__big *b, canon__big *out) {
  int64_t borrow = 0;
  for (int i = 0; i < a->n; i++) {
    int64_t t = (int64_t)a->d[i] - (i < b->n ? b->d[i] : 0) - borrow;
    borrow = t < 0;
    out->d[i] = (uint32_t)(t + (borrow ? ((int64_t)1 << 32) : 0));
  }
  out->n = a->n;
  bg_trim(out);
}

/** (*on, out) = (an, a) - (bn, b) with signed operands. */
void canon__big_sub_signed(const canon__big *a, bool an, const canon__big *b, bool bn,
                           canon__big *out, bool *on) {
  memset(out, 0, sizeof *out);
  /* a - b = a + (-b) */
  bool nb = !bn;
  if (an == nb) {
    bg_add(a, b, out);
    *on = an;
  } else if (bg_cmp(a, b) >= 0) {
    bg_sub(a, b, out);
    *on = an;
  } else {
    bg_sub(b, a, out);
    *on = nb;
  }
  if (!out->n) *on = false;
}

/* ---- division and rounding ---------------------------------------------- */

/* a = floor(a / d), returning whether the remainder is non-zero. */
static bool bg_divmod(canon__big *a, uint64_t d) {
  if (d <= UINT32_MAX) {
    /* rem < d < 2^32: each step fits 64-bit division. */
    uint64_t r = 0;
    for (int i = a->n - 1; i >= 0; i--) {
      uint64_t cur = (r << 32) | a->d[i];
      a->d[i] = (uint32_t)(cur / d);
      r = cur % d;
    }
    bg_trim(a);
    return r != 0;
  }
  canon__u128 rem = 0;
  for (int i = a->n - 1; i >= 0; i--) {
    canon__u128 cur = (rem << 32) | a->d[i];
    a->d[i] = (uint32_t)(cur / d);
    rem = cur % d;
  }
  bg_trim(a);
  return rem != 0;
}

/* a <<= s bits (the caller leaves room). */
static void bg_shl(canon__big *a, int s) {
  int dw = s >> 5, sh = s & 31;
  if (!a->n || !s) return;
  int n = a->n + dw + 1;
  for (int i = n - 1; i >= 0; i--) {
    int j = i - dw;
    uint64_t hi = j >= 0 && j < a->n ? a->d[j] : 0;
    uint64_t lo = j - 1 >= 0 && j - 1 < a->n ? a->d[j - 1] : 0;
    a->d[i] = (uint32_t)(sh ? (hi << sh | lo >> (32 - sh)) : hi);
  }
  a->n = n;
  bg_trim(a);
}

static int bg_bitlen(const canon__big *a) {
  return a->n ? 32 * (a->n - 1) + 32 - __builtin_clz(a->d[a->n - 1]) : 0;
}

/* Round M * 2^E (M has its top bit set), plus a non-zero tail below 2^E
 * when sticky, to the nearest double, ties to even. */
static double bg_round64(uint64_t M, int E, bool sticky, bool neg) {
  int top = E + 63;
  if (top > 1023) return neg ? -INFINITY : INFINITY;
  int u = top - 52 > -1074 ? top - 52 : -1074; /* weight of the result's ulp */
  int shift = u - E;                           /* bits of M below the ulp */
  uint64_t q;
  if (shift >= 65) {
    q = 0; /* below a quarter ulp of the smallest subnormal */
  } else {
    q = shift >= 64 ? 0 : M >> shift;
    bool half = (M >> (shift - 1)) & 1;
    bool rest = sticky || (shift >= 2 && (M & ((UINT64_C(1) << (shift - 1)) - 1)) != 0);
    if (half && (rest || (q & 1))) q++;
  }
  if (!q) return 0.0;
  /* q <= 2^53 and u >= -1074: q * 2^u is exact, or overflows to inf. */
  double r = ldexp((double)q, u);
  return neg ? -r : r;
}

/** mag / (d1 d2) * 2^exp2, rounded once (see bigint.h). */
double canon__big_div_round(const canon__big *mag, bool neg, uint64_t d1, uint64_t d2, int exp2) {
  canon__big q = *mag;
  bg_trim(&q);
  if (!q.n) return 0.0;
  /* Drop zero low digits (a power of two moves to the exponent), then
   * scale so the quotient keeps at least 72 bits: with d1 d2 < 2^128 a
   * numerator of 200 bits leaves plenty for the 54 that rounding reads. */
  int z = 0;
  while (!q.d[z]) z++;
  if (z) {
    memmove(q.d, q.d + z, (size_t)(q.n - z) * sizeof q.d[0]);
    memset(q.d + q.n - z, 0, (size_t)z * sizeof q.d[0]);
    q.n -= z;
  }
  int e = exp2 + 32 * z;
  int s = 200 - bg_bitlen(&q);
  if (s > 0) {
    bg_shl(&q, s);
    e -= s;
  }
  /* floor(floor(N / d1) / d2) = floor(N / (d1 d2)); the remainder of the
   * whole is zero exactly when both steps leave none. */
  bool sticky = bg_divmod(&q, d1);
  sticky |= bg_divmod(&q, d2);
  int b = bg_bitlen(&q);
  /* Top 64 bits of the quotient; the rest folds into sticky. */
  int lo = b - 64;
  uint64_t M = 0;
  for (int k = 0; k < 64; k++) {
    int bit = lo + k;
    if (bit >= 0 && ((q.d[bit >> 5] >> (bit & 31)) & 1)) M |= UINT64_C(1) << k;
  }
  if (lo > 0 && !sticky) {
    for (int i = 0; i < (lo >> 5) && !sticky; i++) sticky = q.d[i] != 0;
    if (lo & 31) sticky |= (q.d[lo >> 5] & ((UINT32_C(1) << (lo & 31)) - 1)) != 0;
  }
  return bg_round64(M, e + lo, sticky, neg);
}
