/* bigint.h — exact wide arithmetic behind var, stddev and corr (bigint.c).
 *
 * A wide accumulator (canon__wacc) holds an exact signed integer in units of
 * 2^-2148, wide enough for sums of squares and cross products of any
 * doubles (a square of a double is a multiple of 2^-2148 below 2^2048).
 * A canon__big is a plain non-negative integer of 32-bit digits; the final
 * step of an aggregate multiplies, subtracts and divides them and rounds
 * once.  Everything is integer arithmetic, so results depend on nothing but
 * the data. */
#ifndef CANON_BIGINT_H
#define CANON_BIGINT_H

#include "kernels.h"

/* Limbs of a wide accumulator: 32-bit digits with carry headroom.  Squares
 * reach bit 4196 (plus 64 bits of count growth), digit 133. */
#define CANON__WACC_LIMBS 140
/* Digits of a canon__big: a product of two accumulator magnitudes plus
 * room for the scaling shift of a division. */
#define CANON__BIG_DIGITS (2 * CANON__WACC_LIMBS + 24)
/* Largest serialized accumulator. */
#define CANON__WACC_MAX_BYTES (5 + 4 * (CANON__WACC_LIMBS + 1))

__extension__ typedef unsigned __int128 canon__u128;
__extension__ typedef __int128 canon__i128;

typedef struct canon__wacc {
  int64_t limb[CANON__WACC_LIMBS];
  int64_t nadds;  /* adds since the last carry propagation */
} canon__wacc;

typedef struct canon__big {
  int n;  /* digits in use (d[n-1] != 0, or n == 0 for zero) */
  uint32_t d[CANON__BIG_DIGITS];
} canon__big;

void canon__wacc_init(canon__wacc *a);
/* Add (or subtract, when neg) m * 2^pos units; pos >= 0, pos + 128 below
 * the top limb. */
void canon__wacc_add(canon__wacc *a, canon__u128 m, int pos, bool neg);
/* Serialize into buf (CANON__WACC_MAX_BYTES); returns the bytes written. */
size_t canon__wacc_serialize(const canon__wacc *a, uint8_t *buf);
/* The bytes canon__wacc_serialize writes for an accumulator holding
 * v * 2^pos units (pos + 160 below the top limb), without one. */
size_t canon__wacc_serialize_i128(canon__i128 v, int pos, uint8_t *buf);
/* Add a serialized accumulator into a; bytes consumed or -1 if invalid. */
int64_t canon__wacc_add_serialized(canon__wacc *a, const uint8_t *buf, size_t len);
/* The value of a as magnitude and sign. */
void canon__wacc_to_big(const canon__wacc *a, canon__big *mag, bool *neg);

/* out = a * b (out must not alias a or b). */
void canon__big_mul(const canon__big *a, const canon__big *b, canon__big *out);
/* a *= m. */
void canon__big_mul_u64(canon__big *a, uint64_t m);
/* Signed difference (an, a) - (bn, b) into (*on, out). */
void canon__big_sub_signed(const canon__big *a, bool an, const canon__big *b, bool bn,
                           canon__big *out, bool *on);
/* The value (neg ? -1 : 1) * mag / (d1 * d2) * 2^exp2 rounded once to the
 * nearest double (ties to even); +0.0 for zero, ±inf beyond the range.
 * d1, d2 > 0. */
double canon__big_div_round(const canon__big *mag, bool neg, uint64_t d1, uint64_t d2, int exp2);

/* Split a finite double or an int64 into an exact magnitude and the bit
 * position of its unit in 2^-1074 units: value = ±m * 2^(pos - 1074). */
static inline void canon__exact_parts_f64(double v, uint64_t *m, int *pos, bool *neg) {
  uint64_t b;
  memcpy(&b, &v, sizeof b);
  unsigned e = (unsigned)(b >> 52) & 0x7ff;
  *neg = (b >> 63) != 0;
  *m = b & ((UINT64_C(1) << 52) - 1);
  if (e == 0) {
    *pos = 0;
  } else {
    *m |= UINT64_C(1) << 52;
    *pos = (int)e - 1;
  }
}
static inline void canon__exact_parts_i64(int64_t v, uint64_t *m, int *pos, bool *neg) {
  *neg = v < 0;
  *m = *neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  *pos = 1074;
}

#endif
