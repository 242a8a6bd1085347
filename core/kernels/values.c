/* values.c — values as text: strict parsing and canonical formatting.
 *
 * Sections: error text helpers; calendar; parsing (int64, float64, bool,
 * date, timestamp); float formatting (shortest round trip); cell formatting.
 *
 * Nothing here depends on the C locale: float text is handed to strtod only
 * in the form "DIGITSe<exp>" (no decimal point), which every locale reads
 * the same way, and digits are taken out of printf output byte by byte.
 * Accepted spellings beyond SEMANTICS §10: bools and the float specials are
 * case-insensitive ("TRUE", "nan", "Infinity"); dates and timestamps accept
 * an ISO-8601 expanded year ("+12345", "-0001") so that every int32 date
 * and int64 timestamp formats to text that parses back.
 */
#include "kernels.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

/* ---- error text helpers ------------------------------------------------ */

/* Copy at most ~60 bytes of s into a one-line, quotable snippet: control
 * bytes become '?', and a cut never splits a UTF-8 sequence. */
static void vl_snippet(const char *s, size_t n, char *out, size_t cap) {
  size_t lim = n, j = 0;
  bool cut = false;
  if (lim > 60) {
    lim = 60;
    while (lim > 0 && ((unsigned char)s[lim] & 0xC0) == 0x80) lim--;
    cut = true;
  }
  for (size_t i = 0; i < lim && j + 4 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    out[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
  }
  if (cut && j + 4 < cap) {
    memcpy(out + j, "...", 3);
    j += 3;
  }
  out[j] = '\0';
}

/* Fill err with "'<text>' is not a valid <type>[ (why)]". */
static int vl_fail(canon_error *err, canon_type t, const char *s, size_t n,
                   const char *why) {
  char snip[96];
  if (!err) return CANON_ERR_CAST;
  vl_snippet(s, n, snip, sizeof snip);
  if (why)
    return canon__seterr(err, CANON_ERR_CAST, "'%s' is not a valid %s (%s)", snip,
                         canon_type_name(t), why);
  return canon__seterr(err, CANON_ERR_CAST, "'%s' is not a valid %s", snip,
                       canon_type_name(t));
}

/* ---- calendar ---------------------------------------------------------- */

/* Floor division for the era arithmetic below (C division truncates). */
static int64_t vl_floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b) != 0 && ((a < 0) != (b < 0))) q--;
  return q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date, in 64 bits.  The
 * year is shifted to start in March so the leap day is the last day of the
 * shifted year, and split into 400-year eras of 146097 days. */
static int64_t vl_days64(int64_t y, unsigned m, unsigned d) {
  int64_t yy = y - (m <= 2);
  int64_t era = vl_floordiv(yy, 400);
  int64_t yoe = yy - era * 400;                          /* 0..399 */
  int64_t mp = (m + 9) % 12;                             /* March = 0 */
  int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;     /* 0..365 */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;   /* 0..146096 */
  return era * 146097 + doe - 719468;                    /* 719468: 0000-03-01 */
}

/* Days since epoch of y-m-d (the caller keeps the result in int32 range). */
int32_t canon__days_from_civil(int64_t y, unsigned m, unsigned d) {
  return (int32_t)vl_days64(y, m, d);
}

/* The y-m-d of a day number (inverse of canon__days_from_civil). */
void canon__civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d) {
  int64_t z = days + 719468;
  int64_t era = vl_floordiv(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static bool vl_leap(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

static unsigned vl_days_in_month(int64_t y, unsigned m) {
  static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && vl_leap(y) ? 29u : dim[m - 1];
}

/* ---- parsing ----------------------------------------------------------- */

static bool vl_digit(char c) { return c >= '0' && c <= '9'; }

/* Case-insensitive equality of s[0..n) with a lowercase word. */
static bool vl_ieq(const char *s, size_t n, const char *word) {
  size_t k = strlen(word);
  if (n != k) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != word[i]) return false;
  }
  return true;
}

/* int64: optional sign and at least one decimal digit.  Returns 0, or 1 for
 * bad syntax, or 2 when out of range. */
static int vl_parse_i64(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  bool neg = false;
  if (n > 0 && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == n) return 1;
  uint64_t limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
  uint64_t acc = 0;
  bool over = false;
  for (; i < n; i++) {
    unsigned dgt = (unsigned)(unsigned char)s[i] - '0';
    if (dgt > 9) return 1;
    /* Keep scanning after an overflow so "99999999999999999999x" reports
     * bad syntax rather than range. */
    if (!over) {
      if (acc > (limit - dgt) / 10) over = true;
      else acc = acc * 10 + dgt;
    }
  }
  if (over) return 2;
  *out = neg ? (int64_t)(0u - acc) : (int64_t)acc;
  return 0;
}

/* Powers of ten that are exact doubles. */
static const double vl_p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* m x 10^e without strtod when that is exact to compute: m <= 2^53 and
 * |e| <= 22 make both factors exact doubles, so one IEEE multiply or
 * divide rounds correctly (Clinger's fast path).  Needs double arithmetic
 * without excess precision. */
static bool vl_fast_decimal(uint64_t m, int64_t e, double *out) {
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
  if (m > (1ull << 53) || e < -22 || e > 22) return false;
  *out = e < 0 ? (double)m / vl_p10[-e] : (double)m * vl_p10[e];
  return true;
#else
  (void)m, (void)e, (void)out;
  return false;
#endif
}

/* Write "e<exp>" and a NUL at p. */
static void vl_put_exp(char *p, int64_t e) {
  char tmp[24];
  int k = 0;
  uint64_t u = e < 0 ? 0u - (uint64_t)e : (uint64_t)e;
  do {
    tmp[k++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  *p++ = 'e';
  if (e < 0) *p++ = '-';
  while (k) *p++ = tmp[--k];
  *p = '\0';
}

/* float64 in decimal or exponent form, or a special name.  Returns 0, 1 for
 * bad syntax, 2 when finite text is beyond the float64 range, -1 on OOM.
 * The digits are rewritten as "[-]DDDDe<exp>" before strtod so neither the
 * locale's decimal point nor strtod's extra forms (hex, "nan(...)", leading
 * spaces) can come into play. */
static int vl_parse_f64(const char *s, size_t n, double *out) {
  size_t i = 0;
  bool neg = false;
  if (n > 0 && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    i = 1;
  }
  {
    /* Common case first, in one pass: plain "digits[.digits]" with at most
     * 19 digits in all (so the integer m cannot overflow).  Anything else —
     * exponents, names, long or malformed text, a zero, or values the
     * exact fast path cannot take — goes the general way below, which gives
     * the same answer for these texts. */
    uint64_t m = 0;
    size_t j = i, nd = 0;
    int64_t frac = 0;
    while (j < n && vl_digit(s[j])) m = m * 10 + (uint64_t)(s[j++] - '0'), nd++;
    if (j < n && s[j] == '.') {
      size_t f0 = ++j;
      while (j < n && vl_digit(s[j])) m = m * 10 + (uint64_t)(s[j++] - '0'), nd++;
      frac = (int64_t)(j - f0);
    }
    double v;
    if (j == n && nd > 0 && nd <= 19 && m != 0 && vl_fast_decimal(m, -frac, &v)) {
      *out = neg ? -v : v;
      return 0;
    }
  }
  if (i == 0 && vl_ieq(s, n, "nan")) {
    *out = NAN;
    return 0;
  }
  if (vl_ieq(s + i, n - i, "inf") || vl_ieq(s + i, n - i, "infinity")) {
    *out = neg ? -INFINITY : INFINITY;
    return 0;
  }
  /* Mantissa: digits [ '.' digits ], at least one digit in all. */
  size_t int_start = i;
  while (i < n && vl_digit(s[i])) i++;
  size_t int_end = i, frac_start = i, frac_end = i;
  if (i < n && s[i] == '.') {
    frac_start = ++i;
    while (i < n && vl_digit(s[i])) i++;
    frac_end = i;
  }
  if (int_end == int_start && frac_end == frac_start) return 1;
  int64_t exp = 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    bool eneg = false;
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    if (i == n || !vl_digit(s[i])) return 1;
    for (; i < n && vl_digit(s[i]); i++)
      if (exp < 100000000) exp = exp * 10 + (s[i] - '0');  /* saturate */
    if (eneg) exp = -exp;
  }
  if (i != n) return 1;

  /* Significant digits without leading zeros; the exponent absorbs the
   * fraction's length. */
  size_t ndig = (int_end - int_start) + (frac_end - frac_start);
  char stackbuf[128];
  char *buf = ndig + 24 <= sizeof stackbuf ? stackbuf : canon__malloc(ndig + 24);
  if (!buf) return -1;
  size_t k = 0;
  if (neg) buf[k++] = '-';
  size_t first = k;
  for (size_t j = int_start; j < int_end; j++)
    if (k > first || s[j] != '0') buf[k++] = s[j];
  int64_t frac_len = 0;
  for (size_t j = frac_start; j < frac_end; j++) {
    frac_len++;
    if (k > first || s[j] != '0') buf[k++] = s[j];
  }
  if (k == first) {  /* all zeros: a signed zero whatever the exponent */
    if (buf != stackbuf) free(buf);
    *out = neg ? -0.0 : 0.0;
    return 0;
  }
  exp -= frac_len;
  if (exp < -2000000000) exp = -2000000000;
  double v;
  uint64_t m = 0;
  if (k - first <= 16) {
    for (size_t j = first; j < k; j++) m = m * 10 + (uint64_t)(buf[j] - '0');
    if (vl_fast_decimal(m, exp, &v)) {
      if (buf != stackbuf) free(buf);
      *out = neg ? -v : v;
      return 0;
    }
  }
  vl_put_exp(buf + k, exp);
  v = strtod(buf, NULL);
  if (buf != stackbuf) free(buf);
  if (isinf(v)) return 2;
  *out = v;
  return 0;
}

/* Parse exactly `cnt` digits at s[*i] into *v. */
static bool vl_digits(const char *s, size_t n, size_t *i, int cnt, unsigned *v) {
  unsigned acc = 0;
  if (*i + (size_t)cnt > n) return false;
  for (int k = 0; k < cnt; k++) {
    char c = s[*i + (size_t)k];
    if (!vl_digit(c)) return false;
    acc = acc * 10 + (unsigned)(c - '0');
  }
  *i += (size_t)cnt;
  *v = acc;
  return true;
}

/* YYYY-MM-DD (or an expanded year "+YYYYY"/"-YYYY", 4..7 digits) at the
 * start of s; *i receives the end.  Returns NULL or why it failed. */
static const char *vl_parse_ymd(const char *s, size_t n, size_t *i, int64_t *days) {
  size_t p = 0;
  bool signed_year = n > 0 && (s[0] == '+' || s[0] == '-');
  bool neg = n > 0 && s[0] == '-';
  if (signed_year) p = 1;
  size_t ys = p;
  int64_t y = 0;
  while (p < n && vl_digit(s[p]) && p - ys < 8) y = y * 10 + (s[p++] - '0');
  size_t ylen = p - ys;
  if (signed_year ? (ylen < 4 || ylen > 7) : ylen != 4) return "expected YYYY-MM-DD";
  if (neg) y = -y;
  unsigned m, d;
  if (p >= n || s[p] != '-') return "expected YYYY-MM-DD";
  p++;
  if (!vl_digits(s, n, &p, 2, &m)) return "expected YYYY-MM-DD";
  if (p >= n || s[p] != '-') return "expected YYYY-MM-DD";
  p++;
  if (!vl_digits(s, n, &p, 2, &d)) return "expected YYYY-MM-DD";
  if (m < 1 || m > 12) return "month out of range";
  if (d < 1 || d > vl_days_in_month(y, m)) return "day out of range";
  *days = vl_days64(y, m, d);
  *i = p;
  return NULL;
}

static const char *vl_parse_date(const char *s, size_t n, int32_t *out) {
  size_t p;
  int64_t days;
  const char *why = vl_parse_ymd(s, n, &p, &days);
  if (why) return why;
  if (p != n) return "expected YYYY-MM-DD";
  if (days < INT32_MIN || days > INT32_MAX) return "out of range";
  *out = (int32_t)days;
  return NULL;
}

static const char *vl_parse_timestamp(const char *s, size_t n, int64_t *out) {
  static const char shape[] = "expected YYYY-MM-DDTHH:MM:SS[.ffffff]Z";
  size_t p;
  int64_t days;
  const char *why = vl_parse_ymd(s, n, &p, &days);
  if (why) return why[0] == 'e' ? shape : why;
  unsigned hh, mm, ss, frac = 0;
  if (p >= n || (s[p] != 'T' && s[p] != ' ')) return shape;
  p++;
  if (!vl_digits(s, n, &p, 2, &hh) || p >= n || s[p++] != ':' ||
      !vl_digits(s, n, &p, 2, &mm) || p >= n || s[p++] != ':' ||
      !vl_digits(s, n, &p, 2, &ss))
    return shape;
  if (p < n && s[p] == '.') {
    int nd = 0;
    p++;
    while (p < n && vl_digit(s[p])) {
      if (++nd > 6) return "more than 6 fraction digits";
      frac = frac * 10 + (unsigned)(s[p++] - '0');
    }
    if (nd == 0) return shape;
    for (; nd < 6; nd++) frac *= 10;
  }
  if (p >= n || s[p] != 'Z' || p + 1 != n) return shape;
  if (hh > 23) return "hour out of range";
  if (mm > 59) return "minute out of range";
  if (ss > 59) return "second out of range";
  const int64_t per_day = 86400000000;
  int64_t us, tod = ((int64_t)hh * 3600 + mm * 60 + ss) * 1000000 + (int64_t)frac;
  /* Before the epoch, count from the next midnight back, so the first day
   * representable (partly before INT64_MIN) does not overflow midway. */
  if (days < 0) {
    days++;
    tod -= per_day;
  }
  if (__builtin_mul_overflow(days, per_day, &us) || __builtin_add_overflow(us, tod, &us))
    return "out of range";
  *out = us;
  return NULL;
}

/* Strict parse of text as type t; see kernels.h. */
int canon__parse_value(canon_type t, const char *s, size_t n, bool trim_spaces,
                       canon__value *out, canon_error *err) {
  const char *txt = s;
  size_t len = n;
  out->type = t;
  out->is_null = false;
  out->s = NULL;
  out->slen = 0;
  if (trim_spaces && t != CANON_STRING) {
    while (len > 0 && txt[0] == ' ') txt++, len--;
    while (len > 0 && txt[len - 1] == ' ') len--;
  }
  const char *why = NULL;
  switch (t) {
  case CANON_BOOL:
    if (vl_ieq(txt, len, "true")) out->v.b = true;
    else if (vl_ieq(txt, len, "false")) out->v.b = false;
    else return vl_fail(err, t, s, n, NULL);
    return 0;
  case CANON_INT64: {
    int rc = vl_parse_i64(txt, len, &out->v.i);
    if (rc) return vl_fail(err, t, s, n, rc == 2 ? "out of range" : NULL);
    return 0;
  }
  case CANON_FLOAT64: {
    int rc = vl_parse_f64(txt, len, &out->v.f);
    if (rc < 0) return canon__nomem(err);
    if (rc) return vl_fail(err, t, s, n, rc == 2 ? "out of range" : NULL);
    return 0;
  }
  case CANON_DATE:
    why = vl_parse_date(txt, len, &out->v.d);
    return why ? vl_fail(err, t, s, n, why) : 0;
  case CANON_TIMESTAMP:
    why = vl_parse_timestamp(txt, len, &out->v.i);
    return why ? vl_fail(err, t, s, n, why) : 0;
  case CANON_STRING:
    out->s = canon__malloc(len + 1);
    if (!out->s) return canon__nomem(err);
    memcpy(out->s, txt, len);
    out->s[len] = '\0';
    out->slen = len;
    return 0;
  default:
    return canon__seterr(err, CANON_ERR_INVALID, "cannot parse values of type %d",
                         (int)t);
  }
}

/* ---- float formatting -------------------------------------------------- */

/* Decimal digits of v, zero-padded to at least minw; returns the count. */
static int vl_put_u(char *o, uint64_t v, int minw) {
  char tmp[24];
  int k = 0;
  do {
    tmp[k++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (k < minw) tmp[k++] = '0';
  for (int j = 0; j < k; j++) o[j] = tmp[k - 1 - j];
  return k;
}

/* Decimal text of an int64; returns the length. */
static int vl_fmt_i64(char *o, int64_t v) {
  if (v >= 0) return vl_put_u(o, (uint64_t)v, 1);
  o[0] = '-';
  return 1 + vl_put_u(o + 1, 0u - (uint64_t)v, 1);
}

/* Decimal digits of d (non-zero, finite) rounded to p significant digits:
 * dig receives p ASCII digits, *x the decimal exponent of the first one.
 * `d18`/`x18` hold the 18-digit correctly rounded text of d; rounding that
 * again is exact except when the dropped digits read exactly "500...", where
 * the 18-digit text itself may have been rounded, so printf decides. */
static void vl_round_digits(double d, const char *d18, int x18, int p, char *dig, int *x) {
  memcpy(dig, d18, (size_t)p);
  *x = x18;
  if (p >= 18) return;
  int up;
  if (d18[p] != '5') {
    up = d18[p] > '5';
  } else {
    bool rest = false;
    for (int k = p + 1; k < 18; k++) rest |= d18[k] != '0';
    if (!rest) {
      char tmp[64];
      snprintf(tmp, sizeof tmp, "%.*e", p - 1, fabs(d));
      int k = 0;
      const char *q = tmp;
      for (; *q && *q != 'e'; q++)
        if (vl_digit(*q) && k < p) dig[k++] = *q;
      *x = *q == 'e' ? atoi(q + 1) : x18;
      return;
    }
    up = 1;
  }
  if (!up) return;
  int k = p - 1;
  while (k >= 0 && dig[k] == '9') dig[k--] = '0';
  if (k >= 0) {
    dig[k]++;
  } else {  /* 999.. rounded up to 1000.. */
    dig[0] = '1';
    (*x)++;
  }
}

/* Does [-]dig[0..p) x 10^(x-p+1) read back as exactly d? */
static bool vl_reads_back(double d, const char *dig, int p, int x) {
  double back;
  uint64_t m = 0;
  for (int j = 0; j < p; j++) m = m * 10 + (uint64_t)(dig[j] - '0');
  if (vl_fast_decimal(m, x - (p - 1), &back)) {
    back = signbit(d) ? -back : back;
  } else {
    char tmp[64];
    int k = 0;
    if (signbit(d)) tmp[k++] = '-';
    memcpy(tmp + k, dig, (size_t)p);
    vl_put_exp(tmp + k + p, x - (p - 1));
    back = strtod(tmp, NULL);
  }
  return memcmp(&back, &d, sizeof d) == 0;
}

/* Shortest round-trip text of d into out (at least 32 bytes); returns its
 * length. */
static size_t vl_fmt_f64(double d, char *out) {
  if (isnan(d)) return (size_t)sprintf(out, "NaN");
  if (isinf(d)) return (size_t)sprintf(out, d < 0 ? "-inf" : "inf");
  if (d == 0) return (size_t)sprintf(out, signbit(d) ? "-0.0" : "0.0");
  if (fabs(d) < 1e16 && d == trunc(d)) {  /* integers: exact and shortest */
    size_t k = (size_t)vl_fmt_i64(out, (int64_t)d);
    memcpy(out + k, ".0", 3);
    return k + 2;
  }

  /* 18 correctly rounded digits; the exponent follows 'e' whatever the
   * locale's decimal point looks like. */
  char tmp[64], d18[18];
  snprintf(tmp, sizeof tmp, "%.17e", fabs(d));
  int k = 0;
  const char *q = tmp;
  for (; *q && *q != 'e'; q++)
    if (vl_digit(*q) && k < 18) d18[k++] = *q;
  int x18 = atoi(q + 1);

  /* The shortest p in 1..17 that reads back.  Where the rounding interval
   * of d is symmetric (every d but exact powers of two), "p digits read
   * back" is monotone in p, so a binary search finds the least p; powers of
   * two scan upward.  17 digits always read back. */
  char dig[18];
  int x, lo = 1, hi = 17;
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  bool pow2 = (bits & 0xFFFFFFFFFFFFFull) == 0;
  if (pow2) {
    for (lo = 1; lo < 17; lo++) {
      vl_round_digits(d, d18, x18, lo, dig, &x);
      if (vl_reads_back(d, dig, lo, x)) break;
    }
  } else {
    /* Most data is either short (0.1) or needs 16-17 digits; probe 15
     * first to halve the work for the latter. */
    vl_round_digits(d, d18, x18, 15, dig, &x);
    if (vl_reads_back(d, dig, 15, x)) {
      hi = 15;
    } else {
      lo = 16;
    }
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      vl_round_digits(d, d18, x18, mid, dig, &x);
      if (vl_reads_back(d, dig, mid, x)) hi = mid;
      else lo = mid + 1;
    }
  }
  int p = lo;
  vl_round_digits(d, d18, x18, p, dig, &x);
  while (p > 1 && dig[p - 1] == '0') p--;

  /* Fixed notation for 1e-4 <= |d| < 1e16, exponent notation otherwise
   * (the rule Python's repr uses); always a '.' or an 'e'. */
  char *o = out;
  if (d < 0) *o++ = '-';
  if (x >= 16 || x < -4) {
    *o++ = dig[0];
    if (p > 1) {
      *o++ = '.';
      memcpy(o, dig + 1, (size_t)p - 1);
      o += p - 1;
    }
    *o++ = 'e';
    *o++ = x < 0 ? '-' : '+';
    o += vl_put_u(o, (uint64_t)(x < 0 ? -x : x), 2);
  } else if (x >= 0) {
    for (int j = 0; j <= x; j++) *o++ = j < p ? dig[j] : '0';
    *o++ = '.';
    if (p > x + 1) {
      memcpy(o, dig + x + 1, (size_t)(p - x - 1));
      o += p - x - 1;
    } else {
      *o++ = '0';
    }
  } else {
    *o++ = '0';
    *o++ = '.';
    for (int j = -1; j > x; j--) *o++ = '0';
    memcpy(o, dig, (size_t)p);
    o += p;
  }
  *o = '\0';
  return (size_t)(o - out);
}

/* Copy len bytes into buf snprintf-style: NUL-terminated when cap > 0,
 * returns len. */
static size_t vl_emit(const char *src, size_t len, char *buf, size_t cap) {
  if (cap > 0) {
    size_t k = len < cap - 1 ? len : cap - 1;
    memcpy(buf, src, k);
    buf[k] = '\0';
  }
  return len;
}

/* Shortest text that reads back as exactly d; see kernels.h. */
size_t canon__format_f64(double d, char *buf, size_t cap) {
  char tmp[40];
  size_t len = vl_fmt_f64(d, tmp);
  return vl_emit(tmp, len, buf, cap);
}

/* ---- cell formatting --------------------------------------------------- */

/* The year as YYYY inside 0..9999, else ISO-8601 expanded ("+10000",
 * "-0001") so the parser reads it back. */
static int vl_fmt_year(char *o, int64_t y) {
  if (y >= 0 && y <= 9999) return vl_put_u(o, (uint64_t)y, 4);
  o[0] = y < 0 ? '-' : '+';
  return 1 + vl_put_u(o + 1, y < 0 ? 0u - (uint64_t)y : (uint64_t)y, 4);
}

static int vl_fmt_date(char *o, int64_t days) {
  int64_t y;
  unsigned m, d;
  canon__civil_from_days(days, &y, &m, &d);
  int k = vl_fmt_year(o, y);
  o[k++] = '-';
  k += vl_put_u(o + k, m, 2);
  o[k++] = '-';
  k += vl_put_u(o + k, d, 2);
  o[k] = '\0';
  return k;
}

static int vl_fmt_timestamp(char *o, int64_t us) {
  const int64_t per_day = 86400000000;
  int64_t days = us / per_day, rem = us % per_day;
  if (rem < 0) {  /* floor division without overflow at INT64_MIN */
    rem += per_day;
    days--;
  }
  int k = vl_fmt_date(o, days);
  uint64_t secs = (uint64_t)rem / 1000000, frac = (uint64_t)rem % 1000000;
  o[k++] = 'T';
  k += vl_put_u(o + k, secs / 3600, 2);
  o[k++] = ':';
  k += vl_put_u(o + k, secs / 60 % 60, 2);
  o[k++] = ':';
  k += vl_put_u(o + k, secs % 60, 2);
  if (frac) {  /* microseconds, trailing zeros trimmed */
    int nd = 6;
    while (frac % 10 == 0) frac /= 10, nd--;
    o[k++] = '.';
    k += vl_put_u(o + k, frac, nd);
  }
  o[k++] = 'Z';
  o[k] = '\0';
  return k;
}

/* Text of value i of column c as CSV writes it; see kernels.h. */
size_t canon__format_cell(const canon__column *c, int64_t i, char *buf, size_t cap) {
  char tmp[64];
  size_t len = 0;
  if (!canon__valid(c, i)) return vl_emit("", 0, buf, cap);
  switch (c->type) {
  case CANON_BOOL:
    return canon__u8(c)[i] ? vl_emit("true", 4, buf, cap) : vl_emit("false", 5, buf, cap);
  case CANON_INT64:
    len = (size_t)vl_fmt_i64(tmp, canon__i64(c)[i]);
    break;
  case CANON_FLOAT64:
    len = vl_fmt_f64(canon__f64(c)[i], tmp);
    break;
  case CANON_DATE:
    len = (size_t)vl_fmt_date(tmp, canon__i32(c)[i]);
    break;
  case CANON_TIMESTAMP:
    len = (size_t)vl_fmt_timestamp(tmp, canon__i64(c)[i]);
    break;
  case CANON_STRING: {
    const char *s = canon__str(c, i, &len);
    return vl_emit(s, len, buf, cap);
  }
  default:
    break;
  }
  return vl_emit(tmp, len, buf, cap);
}
