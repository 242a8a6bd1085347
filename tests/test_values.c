/* test_values.c — values as text (kernels/values.c): strict parsing of
 * every type, shortest float formatting, cell formatting and the calendar.
 */
#include <criterion/criterion.h>

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "kernels.h"

/* ---- helpers ----------------------------------------------------------- */

static canon__value parse_ok(canon_type t, const char *s, bool trim) {
  canon__value v;
  canon_error err;
  canon_error_clear(&err);
  int rc = canon__parse_value(t, s, strlen(s), trim, &v, &err);
  cr_assert_eq(rc, 0, "parse '%s' as %s: %s", s, canon_type_name(t), err.message);
  return v;
}

/* Parsing fails with CANON_ERR_CAST; returns the message (static). */
static const char *parse_bad(canon_type t, const char *s, bool trim) {
  static canon_error err;
  canon__value v;
  canon_error_clear(&err);
  int rc = canon__parse_value(t, s, strlen(s), trim, &v, &err);
  cr_assert_eq(rc, CANON_ERR_CAST, "'%s' as %s should fail, got rc %d", s, canon_type_name(t),
               rc);
  cr_assert_eq(err.code, CANON_ERR_CAST);
  cr_assert(strstr(err.message, canon_type_name(t)), "message names the type: %s",
            err.message);
  return err.message;
}

static int64_t i64_of(const char *s) { return parse_ok(CANON_INT64, s, false).v.i; }
static double f64_of(const char *s) { return parse_ok(CANON_FLOAT64, s, false).v.f; }

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Format d, check the text and that it reads back to identical bits with
 * both strtod and the strict parser. */
static void check_fmt(double d, const char *want) {
  char buf[64];
  size_t n = canon__format_f64(d, buf, sizeof buf);
  cr_assert_eq(n, strlen(buf));
  if (want) cr_assert_str_eq(buf, want, "format %.17g", d);
  if (isnan(d)) {
    cr_assert(isnan(f64_of(buf)));
    return;
  }
  double back = strtod(buf, NULL);
  cr_assert(same_bits(back, d), "'%s' reads back as %.17g, not %.17g", buf, back, d);
  cr_assert(same_bits(f64_of(buf), d), "strict parse of '%s'", buf);
  cr_assert(strpbrk(buf, ".e") || !strcmp(buf, "inf") || !strcmp(buf, "-inf"),
            "'%s' looks like a float", buf);
}

/* The reference: shortest %.{p}g that round-trips. */
static int ref_digits(double d) {
  char buf[64];
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, sizeof buf, "%.*g", p, d);
    if (same_bits(strtod(buf, NULL), d)) return p;
  }
  return 17;
}

/* Significant digits of a formatted float ("1.25e-05" -> 3). */
static int sig_digits(const char *s) {
  int n = 0, lead = 1, zeros = 0;
  for (; *s && *s != 'e'; s++) {
    if (*s < '0' || *s > '9') continue;
    if (lead && *s == '0') continue;
    lead = 0;
    if (*s == '0') {
      zeros++;
    } else {
      n += zeros + 1;
      zeros = 0;
    }
  }
  return n ? n : 1;
}

static uint64_t rng = 0x853c49e6748fea9bULL;
static uint64_t rnd(void) {
  uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* ---- int64 ------------------------------------------------------------- */

Test(values, int64_accepts) {
  cr_assert_eq(i64_of("0"), 0);
  cr_assert_eq(i64_of("-0"), 0);
  cr_assert_eq(i64_of("+5"), 5);
  cr_assert_eq(i64_of("-17"), -17);
  cr_assert_eq(i64_of("000123"), 123);
  cr_assert_eq(i64_of("9223372036854775807"), INT64_MAX);
  cr_assert_eq(i64_of("-9223372036854775808"), INT64_MIN);
  cr_assert_eq(parse_ok(CANON_INT64, " 12 ", true).v.i, 12);
  cr_assert_eq(parse_ok(CANON_INT64, "  -3", true).v.i, -3);
}

Test(values, int64_rejects) {
  const char *m = parse_bad(CANON_INT64, "9223372036854775808", false);
  cr_assert(strstr(m, "out of range"), "%s", m);
  parse_bad(CANON_INT64, "-9223372036854775809", false);
  parse_bad(CANON_INT64, "99999999999999999999999", false);
  m = parse_bad(CANON_INT64, "12x", false);
  cr_assert_str_eq(m, "'12x' is not a valid int64");
  const char *bad[] = {"", "-", "+", " 12 ", "12 ", "1e3", "0x10", "1.0", "1,000", "--1",
                       "+-1", "１２", "1_000", "12\n", "NaN"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) parse_bad(CANON_INT64, bad[i], false);
  parse_bad(CANON_INT64, "1 2", true);
  parse_bad(CANON_INT64, "   ", true);
  parse_bad(CANON_INT64, "\t12", true); /* only ASCII spaces are trimmed */
}

Test(values, error_message_is_one_bounded_line) {
  char big[300];
  memset(big, '7', sizeof big - 2);
  big[sizeof big - 2] = 'x';
  big[sizeof big - 1] = '\0';
  const char *m = parse_bad(CANON_INT64, big, false);
  cr_assert(strlen(m) < 120, "%s", m);
  cr_assert(strstr(m, "..."), "%s", m);
  m = parse_bad(CANON_INT64, "1\n2", false);
  cr_assert_null(strchr(m, '\n'));
}

/* ---- float64 ----------------------------------------------------------- */

Test(values, float64_accepts) {
  cr_assert_eq(f64_of("1.5"), 1.5);
  cr_assert_eq(f64_of(".5"), 0.5);
  cr_assert_eq(f64_of("5."), 5.0);
  cr_assert_eq(f64_of("-2"), -2.0);
  cr_assert_eq(f64_of("+2.5e3"), 2500.0);
  cr_assert_eq(f64_of("1E-3"), 0.001);
  cr_assert_eq(f64_of("1e+2"), 100.0);
  cr_assert(same_bits(f64_of("-0.0"), -0.0));
  cr_assert(same_bits(f64_of("-0"), -0.0));
  cr_assert(same_bits(f64_of("0e999999999999"), 0.0));
  cr_assert(isnan(f64_of("NaN")));
  cr_assert(isnan(f64_of("nan")));
  cr_assert(isnan(f64_of("NAN")));
  cr_assert_eq(f64_of("inf"), INFINITY);
  cr_assert_eq(f64_of("+inf"), INFINITY);
  cr_assert_eq(f64_of("-inf"), -INFINITY);
  cr_assert_eq(f64_of("Infinity"), INFINITY);
  cr_assert_eq(f64_of("-INFINITY"), -INFINITY);
  cr_assert_eq(f64_of("1e-400"), 0.0); /* underflow rounds */
  cr_assert_eq(f64_of("4.9406564584124654e-324"), 5e-324);
  cr_assert_eq(f64_of("0.1000000000000000055511151231257827021181583404541015625"), 0.1);
  cr_assert_eq(parse_ok(CANON_FLOAT64, "  2.25 ", true).v.f, 2.25);
  /* long mantissas take the heap path */
  char longnum[400] = "0.";
  memset(longnum + 2, '0', 300);
  strcpy(longnum + 302, "15e301");
  cr_assert_eq(f64_of(longnum), 1.5);
}

Test(values, float64_rejects) {
  const char *bad[] = {"", "-", ".", "e5", "1e", "1e+", "0x1p3", "0x10", "1.5 ", " 1.5",
                       "1,5", "--1", "nan(1)", "-nan", "+nan", "infx", "in", "1.2.3",
                       "1e5.5", "١", "Inf inity", "1d"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) parse_bad(CANON_FLOAT64, bad[i], false);
  const char *m = parse_bad(CANON_FLOAT64, "1e400", false);
  cr_assert(strstr(m, "out of range"), "%s", m);
  parse_bad(CANON_FLOAT64, "-1e400", false);
}

/* ---- bool -------------------------------------------------------------- */

Test(values, bool_parse) {
  cr_assert(parse_ok(CANON_BOOL, "true", false).v.b);
  cr_assert(!parse_ok(CANON_BOOL, "false", false).v.b);
  cr_assert(parse_ok(CANON_BOOL, "TRUE", false).v.b); /* case-insensitive */
  cr_assert(!parse_ok(CANON_BOOL, "False", false).v.b);
  cr_assert(parse_ok(CANON_BOOL, " true ", true).v.b);
  const char *bad[] = {"", "1", "0", "yes", "t", "truee", " true", "tru"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) parse_bad(CANON_BOOL, bad[i], false);
}

/* ---- string ------------------------------------------------------------ */

Test(values, string_parse_copies_bytes) {
  canon__value v;
  cr_assert_eq(canon__parse_value(CANON_STRING, "a\0b", 3, true, &v, NULL), 0);
  cr_assert_eq(v.slen, 3);
  cr_assert_eq(memcmp(v.s, "a\0b", 4), 0);
  free(v.s);
  v = parse_ok(CANON_STRING, " x ", true); /* strings keep their spaces */
  cr_assert_str_eq(v.s, " x ");
  free(v.s);
}

/* ---- dates ------------------------------------------------------------- */

Test(values, date_parse) {
  cr_assert_eq(parse_ok(CANON_DATE, "1970-01-01", false).v.d, 0);
  cr_assert_eq(parse_ok(CANON_DATE, "1970-01-02", false).v.d, 1);
  cr_assert_eq(parse_ok(CANON_DATE, "1969-12-31", false).v.d, -1);
  cr_assert_eq(parse_ok(CANON_DATE, "2000-03-01", false).v.d, 11017);
  cr_assert_eq(parse_ok(CANON_DATE, "2000-02-29", false).v.d, 11016);
  cr_assert_eq(parse_ok(CANON_DATE, "2024-02-29", false).v.d, 19782);
  cr_assert_eq(parse_ok(CANON_DATE, "0000-01-01", false).v.d, -719528);
  cr_assert_eq(parse_ok(CANON_DATE, "9999-12-31", false).v.d, 2932896);
  cr_assert_eq(parse_ok(CANON_DATE, " 1970-01-01 ", true).v.d, 0);
  const char *m = parse_bad(CANON_DATE, "2023-02-29", false);
  cr_assert(strstr(m, "day out of range"), "%s", m);
  parse_bad(CANON_DATE, "1900-02-29", false);
  parse_bad(CANON_DATE, "2023-04-31", false);
  parse_bad(CANON_DATE, "2023-00-10", false);
  m = parse_bad(CANON_DATE, "2023-13-01", false);
  cr_assert(strstr(m, "month out of range"), "%s", m);
  const char *bad[] = {"", "2023-1-01", "2023-01-1", "23-01-01", "2023/01/01", "2023-01-01x",
                       "2023-01-01T00:00:00Z", "20230101", "2023-01-00", " 2023-01-01",
                       "12023-01-01"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) parse_bad(CANON_DATE, bad[i], false);
}

Test(values, calendar_helpers) {
  cr_assert_eq(canon__days_from_civil(1970, 1, 1), 0);
  cr_assert_eq(canon__days_from_civil(2000, 3, 1), 11017);
  cr_assert_eq(canon__days_from_civil(1600, 2, 29), -135081);
  int64_t y;
  unsigned m, d;
  canon__civil_from_days(-1, &y, &m, &d);
  cr_assert(y == 1969 && m == 12 && d == 31);
  /* Consecutive days walk the calendar one step at a time. */
  int64_t py = -401;
  unsigned pm = 12, pd = 31;
  for (int64_t day = canon__days_from_civil(-400, 1, 1); day < 800000; day++) {
    canon__civil_from_days(day, &y, &m, &d);
    bool next_day = y == py && m == pm && d == pd + 1;
    bool next_month = y == py && m == pm + 1 && d == 1;
    bool next_year = y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31;
    cr_assert(next_day || next_month || next_year, "day %" PRId64, day);
    cr_assert_eq(canon__days_from_civil(y, m, d), day);
    py = y, pm = m, pd = d;
  }
}

/* ---- timestamps -------------------------------------------------------- */

Test(values, timestamp_parse) {
  cr_assert_eq(parse_ok(CANON_TIMESTAMP, "1970-01-01T00:00:00Z", false).v.i, 0);
  cr_assert_eq(parse_ok(CANON_TIMESTAMP, "1970-01-01 00:00:01Z", false).v.i, 1000000);
  cr_assert_eq(parse_ok(CANON_TIMESTAMP, "1970-01-01T00:00:00.5Z", false).v.i, 500000);
  cr_assert_eq(parse_ok(CANON_TIMESTAMP, "1970-01-01T00:00:00.000001Z", false).v.i, 1);
  cr_assert_eq(parse_ok(CANON_TIMESTAMP, "1969-12-31T23:59:59.999999Z", false).v.i, -1);
  cr_assert_eq(parse_ok(CANON_TIMESTAMP, "2000-02-29T12:34:56.123456Z", false).v.i,
               951827696123456);
  cr_assert_eq(parse_ok(CANON_TIMESTAMP, " 1970-01-01T00:00:00Z  ", true).v.i, 0);
  const char *bad[] = {"", "1970-01-01", "1970-01-01T00:00:00", "1970-01-01T00:00Z",
                       "1970-01-01T24:00:00Z", "1970-01-01T00:60:00Z", "1970-01-01T00:00:60Z",
                       "1970-01-01T00:00:00.Z", "1970-01-01T00:00:00.1234567Z",
                       "1970-01-01X00:00:00Z", "1970-01-01T00:00:00+00:00",
                       "1970-01-01T00:00:00z", "1970-01-01T00:00:00ZZ",
                       "2023-02-29T00:00:00Z", "1970-01-01T0:00:00Z"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    parse_bad(CANON_TIMESTAMP, bad[i], false);
}

/* ---- float formatting -------------------------------------------------- */

Test(values, float_format_known) {
  check_fmt(0.1, "0.1");
  check_fmt(1.0, "1.0");
  check_fmt(-1.0, "-1.0");
  check_fmt(100.0, "100.0");
  check_fmt(1.5, "1.5");
  check_fmt(0.0, "0.0");
  check_fmt(-0.0, "-0.0");
  check_fmt(NAN, "NaN");
  check_fmt(INFINITY, "inf");
  check_fmt(-INFINITY, "-inf");
  check_fmt(1e16, "1e+16");
  check_fmt(1e15, "1000000000000000.0");
  check_fmt(1e-4, "0.0001");
  check_fmt(1e-5, "1e-05");
  check_fmt(1.0 / 3.0, "0.3333333333333333");
  check_fmt(2.0 / 3.0, "0.6666666666666666");
  check_fmt(5e-324, "5e-324");
  check_fmt(1e-320, "1e-320");
  check_fmt(DBL_MAX, "1.7976931348623157e+308");
  check_fmt(-DBL_MAX, "-1.7976931348623157e+308");
  check_fmt(DBL_MIN, "2.2250738585072014e-308");
  check_fmt(123456789012345678.0, "1.2345678901234568e+17");
  check_fmt(0.1 + 0.2, "0.30000000000000004");
  check_fmt(9007199254740993.0, "9007199254740992.0");
  check_fmt(1.7976931348623157e308, NULL);
  check_fmt(0x1p-1022, NULL);
  check_fmt(0x1p-1074, NULL);
  check_fmt(0x1p1023, NULL);
  check_fmt(-123.456e-200, "-1.23456e-198");
}

Test(values, float_format_buffer_contract) {
  char buf[8];
  cr_assert_eq(canon__format_f64(0.30000000000000004, NULL, 0), 19);
  memset(buf, 'x', sizeof buf);
  cr_assert_eq(canon__format_f64(0.30000000000000004, buf, sizeof buf), 19);
  cr_assert_str_eq(buf, "0.30000");
  cr_assert_eq(canon__format_f64(1.0, buf, 1), 3);
  cr_assert_str_eq(buf, "");
}

/* Random bit patterns and random short decimals: the text round-trips to
 * identical bits and has as few significant digits as the reference. */
Test(values, float_format_random_shortest) {
  char buf[64], txt[64];
  for (int i = 0; i < 40000; i++) {
    double d;
    uint64_t b = rnd();
    if (i % 4 == 1) b = (b & 0x800FFFFFFFFFFFFFull) | ((uint64_t)(1023 + (int)(b % 60) - 30) << 52);
    if (i % 4 == 2) b &= 0x800FFFFFFFFFFFFFull; /* subnormals */
    memcpy(&d, &b, 8);
    if (i % 4 == 3) {
      snprintf(txt, sizeof txt, "%" PRIu64 "e%d", rnd() % 100000, (int)(rnd() % 40) - 20);
      d = strtod(txt, NULL);
    }
    if (i % 16 == 15) d = ldexp(1.0, (int)(rnd() % 2098) - 1074); /* powers of two */
    if (isnan(d)) continue;
    canon__format_f64(d, buf, sizeof buf);
    cr_assert(same_bits(strtod(buf, NULL), d), "%s vs %.17g", buf, d);
    if (!isinf(d) && d != 0)
      cr_assert_eq(sig_digits(buf), ref_digits(d), "%.17g formatted '%s'", d, buf);
  }
}

/* ---- cell formatting --------------------------------------------------- */

static canon__column *col_i64(canon_type t, const int64_t *v, int n) {
  canon__colbuilder b;
  cr_assert_eq(canon__cb_init(&b, t, n), 0);
  for (int i = 0; i < n; i++) cr_assert_eq(canon__cb_i64(&b, v[i]), 0);
  cr_assert_eq(canon__cb_null(&b), 0);
  return canon__cb_finish(&b);
}

Test(values, format_cell_every_type) {
  char buf[64];
  canon__colbuilder b;
  cr_assert_eq(canon__cb_init(&b, CANON_BOOL, 0), 0);
  canon__cb_bool(&b, true);
  canon__cb_bool(&b, false);
  canon__cb_null(&b);
  canon__column *c = canon__cb_finish(&b);
  cr_assert_eq(canon__format_cell(c, 0, buf, sizeof buf), 4);
  cr_assert_str_eq(buf, "true");
  canon__format_cell(c, 1, buf, sizeof buf);
  cr_assert_str_eq(buf, "false");
  cr_assert_eq(canon__format_cell(c, 2, buf, sizeof buf), 0);
  cr_assert_str_eq(buf, "");
  canon__column_unref(c);

  int64_t iv[] = {0, -1, INT64_MAX, INT64_MIN};
  c = col_i64(CANON_INT64, iv, 4);
  const char *iw[] = {"0", "-1", "9223372036854775807", "-9223372036854775808"};
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(canon__format_cell(c, i, buf, sizeof buf), strlen(iw[i]));
    cr_assert_str_eq(buf, iw[i]);
  }
  canon__column_unref(c);

  int64_t tv[] = {0, -1, 951827696123456, 1500000, INT64_MIN, INT64_MAX};
  c = col_i64(CANON_TIMESTAMP, tv, 6);
  const char *tw[] = {"1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999Z",
                      "2000-02-29T12:34:56.123456Z", "1970-01-01T00:00:01.5Z"};
  for (int i = 0; i < 4; i++) {
    canon__format_cell(c, i, buf, sizeof buf);
    cr_assert_str_eq(buf, tw[i]);
  }
  for (int i = 0; i < 6; i++) { /* extremes read back too */
    canon__format_cell(c, i, buf, sizeof buf);
    cr_assert_eq(parse_ok(CANON_TIMESTAMP, buf, false).v.i, tv[i], "%s", buf);
  }
  cr_assert_eq(canon__format_cell(c, 6, buf, sizeof buf), 0);
  canon__column_unref(c);

  cr_assert_eq(canon__cb_init(&b, CANON_DATE, 0), 0);
  int32_t dv[] = {0, -1, 19782, INT32_MIN, INT32_MAX, -719529, 2932897};
  for (int i = 0; i < 7; i++) canon__cb_i32(&b, dv[i]);
  c = canon__cb_finish(&b);
  const char *dw[] = {"1970-01-01", "1969-12-31", "2024-02-29"};
  for (int i = 0; i < 3; i++) {
    canon__format_cell(c, i, buf, sizeof buf);
    cr_assert_str_eq(buf, dw[i]);
  }
  for (int i = 0; i < 7; i++) {
    canon__format_cell(c, i, buf, sizeof buf);
    cr_assert_eq(parse_ok(CANON_DATE, buf, false).v.d, dv[i], "%s", buf);
  }
  canon__format_cell(c, 5, buf, sizeof buf);
  cr_assert_str_eq(buf, "-0001-12-31");
  canon__format_cell(c, 6, buf, sizeof buf);
  cr_assert_str_eq(buf, "+10000-01-01");
  canon__column_unref(c);

  cr_assert_eq(canon__cb_init(&b, CANON_STRING, 0), 0);
  canon__cb_str(&b, "a,\"b\"\n", 6);
  canon__cb_str(&b, "", 0);
  canon__cb_null(&b);
  c = canon__cb_finish(&b);
  cr_assert_eq(canon__format_cell(c, 0, buf, sizeof buf), 6);
  cr_assert_str_eq(buf, "a,\"b\"\n"); /* raw: quoting is the writer's job */
  cr_assert_eq(canon__format_cell(c, 0, buf, 3), 6);
  cr_assert_str_eq(buf, "a,");
  cr_assert_eq(canon__format_cell(c, 1, buf, sizeof buf), 0);
  cr_assert_eq(canon__format_cell(c, 2, buf, sizeof buf), 0);
  canon__column_unref(c);

  cr_assert_eq(canon__cb_init(&b, CANON_FLOAT64, 0), 0);
  canon__cb_f64(&b, -0.0);
  c = canon__cb_finish(&b);
  canon__format_cell(c, 0, buf, sizeof buf);
  cr_assert_str_eq(buf, "-0.0");
  canon__column_unref(c);
}

/* Timestamps and dates round-trip through text across a wide range. */
Test(values, temporal_round_trip_random) {
  char buf[64];
  canon__colbuilder b;
  cr_assert_eq(canon__cb_init(&b, CANON_TIMESTAMP, 0), 0);
  for (int i = 0; i < 5000; i++) {
    int64_t v = (int64_t)rnd();
    if (i % 2) v %= 400LL * 365 * 86400000000LL; /* within ±400 years */
    if (i % 3 == 0) v -= v % 1000000;             /* whole seconds */
    canon__cb_i64(&b, v);
  }
  canon__column *c = canon__cb_finish(&b);
  for (int64_t i = 0; i < c->length; i++) {
    canon__format_cell(c, i, buf, sizeof buf);
    cr_assert_eq(parse_ok(CANON_TIMESTAMP, buf, false).v.i, canon__i64(c)[i], "%s", buf);
  }
  canon__column_unref(c);
}

/* Plain decimals (the one-pass path) agree with the C library's correctly
 * rounded strtod, bit for bit, over 1..22 digits and every point position:
 * up to 15 digits the exact fast path answers, beyond it the general one. */
Test(values, float64_plain_decimals_match_strtod) {
  uint64_t st = 88172645463325252ULL;
  for (int iter = 0; iter < 200000; iter++) {
    st ^= st << 13, st ^= st >> 7, st ^= st << 17;
    int nd = 1 + (int)(st % 22);
    int point = (int)((st >> 8) % (uint64_t)(nd + 2)) - 1; /* -1: no point */
    char txt[40];
    int k = 0;
    if ((st >> 20) & 1) txt[k++] = '-';
    uint64_t r = st;
    for (int d = 0; d < nd; d++) {
      if (d == point) txt[k++] = '.';
      r = r * 6364136223846793005ULL + 1442695040888963407ULL;
      txt[k++] = (char)('0' + (r >> 33) % 10);
    }
    if (point == nd) txt[k++] = '.';
    txt[k] = '\0';
    double want = strtod(txt, NULL), got = f64_of(txt);
    cr_assert(same_bits(got, want), "'%s': got %a, want %a", txt, got, want);
  }
}
