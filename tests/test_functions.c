/* test_functions.c — the scalar functions of expr_fn.c: strings (length ..
 * rtrim), numbers (abs .. exp) and conditionals (if_else, case_when,
 * in_list): values, NULLs, edge cases, errors, text form, plan JSON round
 * trips, and whole plans on the serial engine at several partition counts.
 * Expected values are worked out by hand from the rules in expr_fn.c's
 * documentation (and docs/semantics.md). */
#include "testutil.h"

#include <math.h>

#include "expr_testutil.h"

/* ---- helpers ------------------------------------------------------------- */

/* String column against want[] (NULL entries = NULL values), released. */
static void expect_strs(canon__column *c, const char *const *want, int n) {
  cr_assert_eq(c->type, CANON_STRING);
  cr_assert_eq(c->length, n);
  for (int i = 0; i < n; i++) {
    if (!want[i]) {
      cr_assert(!canon__valid(c, i), "row %d should be NULL", i);
      continue;
    }
    cr_assert(canon__valid(c, i), "row %d should be '%s', is NULL", i, want[i]);
    size_t len;
    const char *s = canon__str(c, i, &len);
    cr_assert(len == strlen(want[i]) && memcmp(s, want[i], len) == 0,
              "row %d: '%.*s', want '%s'", i, (int)len, s, want[i]);
  }
  canon__column_unref(c);
}

/* Bool column against "TFN..." (true, false, NULL), released. */
static void expect_bools(canon__column *c, const char *want) {
  cr_assert_eq(c->type, CANON_BOOL);
  cr_assert_eq(c->length, (int64_t)strlen(want));
  for (int64_t i = 0; want[i]; i++) {
    if (want[i] == 'N') {
      cr_assert(!canon__valid(c, i), "row %lld should be NULL", (long long)i);
    } else {
      cr_assert(canon__valid(c, i), "row %lld should not be NULL", (long long)i);
      cr_assert_eq(canon__u8(c)[i], want[i] == 'T', "row %lld should be %c", (long long)i,
                   want[i]);
    }
  }
  canon__column_unref(c);
}

/* int64 column: valid is "VN..." (V = value, N = NULL); released. */
static void expect_i64s(canon__column *c, const int64_t *want, const char *valid) {
  cr_assert_eq(c->type, CANON_INT64);
  cr_assert_eq(c->length, (int64_t)strlen(valid));
  for (int64_t i = 0; valid[i]; i++) {
    cr_assert_eq(canon__valid(c, i), valid[i] == 'V', "row %lld validity", (long long)i);
    if (valid[i] == 'V')
      cr_assert_eq(canon__i64(c)[i], want[i], "row %lld: %lld, want %lld", (long long)i,
                   (long long)canon__i64(c)[i], (long long)want[i]);
  }
  canon__column_unref(c);
}

/* Same value: both NaN, or equal with the same sign (so -0.0 != 0.0). */
static bool same_f64(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  return a == b && signbit(a) == signbit(b);
}

/* float64 column, as expect_i64s. */
static void expect_f64s(canon__column *c, const double *want, const char *valid) {
  cr_assert_eq(c->type, CANON_FLOAT64);
  cr_assert_eq(c->length, (int64_t)strlen(valid));
  for (int64_t i = 0; valid[i]; i++) {
    cr_assert_eq(canon__valid(c, i), valid[i] == 'V', "row %lld validity", (long long)i);
    if (valid[i] == 'V')
      cr_assert(same_f64(canon__f64(c)[i], want[i]), "row %lld: %.17g, want %.17g",
                (long long)i, canon__f64(c)[i], want[i]);
  }
  canon__column_unref(c);
}

/* One float64 result over a one-row table. */
static double f1(canon_expr *e) {
  canon_table *t = tbl("x:int64", "1\n");
  canon__column *c = ok(t, e);
  cr_assert_eq(c->type, CANON_FLOAT64);
  cr_assert(canon__valid(c, 0));
  double v = canon__f64(c)[0];
  canon__column_unref(c);
  canon_table_free(t);
  return v;
}

#define C(name) canon_col(name)
#define I(v) canon_lit_int64(v)
#define F(v) canon_lit_float64(v)
#define S(v) canon_lit_string(v)

/* ---- strings ----------------------------------------------------------- */

/* s: "abc", "", NULL, "é✓😀" (2+3+4 bytes, 3 code points), "naïve". */
static const char *STRS = "\"abc\"\n\"\"\n\n\"é✓😀\"\n\"naïve\"\n";

Test(functions, length_counts_code_points) {
  canon_table *t = tbl("s:string", STRS);
  int64_t want[] = {3, 0, 0, 3, 5};
  expect_i64s(ok(t, canon_length(C("s"))), want, "VVNVV");
  canon_table_free(t);
}

Test(functions, lower_upper_ascii_only) {
  canon_table *t = tbl("s:string", "\"AbC xYz 09!\"\n\"\"\n\n\"ÉCOLE é\"\n\"straße\"\n");
  const char *lo[] = {"abc xyz 09!", "", NULL, "École é", "straße"};
  const char *up[] = {"ABC XYZ 09!", "", NULL, "ÉCOLE é", "STRAßE"};
  expect_strs(ok(t, canon_lower(C("s"))), lo, 5);
  expect_strs(ok(t, canon_upper(C("s"))), up, 5);
  canon_table_free(t);
}

/* SQL substring: positions start .. start+len-1, clipped to 1 .. length. */
Test(functions, substring_positions) {
  /* "hé😀lo": h, é, 😀, l, o */
  canon_table *t = tbl("s:string,a:int64,n:int64",
                       "\"hé😀lo\",2,2\n"
                       "\"hé😀lo\",0,3\n"
                       "\"hé😀lo\",-1,2\n"
                       "\"hé😀lo\",4,100\n"
                       "\"hé😀lo\",6,1\n"
                       "\"hé😀lo\",1,0\n"
                       "\"hé😀lo\",3,1\n"
                       "\"\",1,5\n"
                       ",1,1\n"
                       "\"abc\",,1\n"
                       "\"abc\",1,\n"
                       "\"abc\",9223372036854775807,9223372036854775807\n"
                       "\"abc\",-9223372036854775808,9223372036854775807\n"
                       "\"abc\",-2,4\n");
  const char *want3[] = {"é😀", "hé", "", "lo", "", "", "😀", "", NULL, NULL, NULL, "", "", "a"};
  expect_strs(ok(t, canon_substring(C("s"), C("a"), C("n"))), want3, 14);
  const char *want2[] = {"é😀lo", "hé😀lo", "hé😀lo", "lo", "", "hé😀lo", "😀lo", "", NULL, NULL,
                         "abc", "", "abc", "abc"};
  expect_strs(ok(t, canon_substring_from(C("s"), C("a"))), want2, 14);
  canon_table_free(t);
}

Test(functions, substring_negative_length_is_an_error) {
  canon_table *t = tbl("s:string,n:int64", "\"abc\",1\n,-1\n\"abc\",-1\n");
  fails(t, canon_substring(C("s"), I(1), C("n")), CANON_ERR_INVALID,
        "negative substring length in substring(s, 1, n)");
  /* A NULL string on the negative row: no value is needed, so no error. */
  canon_table *u = tbl("s:string,n:int64", "\"abc\",1\n,-1\n");
  const char *want[] = {"a", NULL};
  expect_strs(ok(u, canon_substring(C("s"), I(1), C("n"))), want, 2);
  canon_table_free(t);
  canon_table_free(u);
}

Test(functions, concat_null_if_any_null) {
  canon_table *t = tbl("a:string,b:string", "\"x\",\"é\"\n\"\",\"\"\n,\"y\"\n\"z\",\n");
  canon_expr *args[] = {C("a"), S("-"), C("b")};
  const char *want[] = {"x-é", "-", NULL, NULL};
  expect_strs(ok(t, canon_concat(args, 3)), want, 4);
  canon_expr *one[] = {C("a")};
  const char *same[] = {"x", "", NULL, "z"};
  expect_strs(ok(t, canon_concat(one, 1)), same, 4);
  cr_assert_null(canon_concat(one, 0));
  canon_table_free(t);
}

Test(functions, starts_with_and_contains) {
  canon_table *t = tbl("s:string,p:string",
                       "\"abc\",\"ab\"\n"
                       "\"abc\",\"\"\n"
                       "\"\",\"\"\n"
                       "\"ab\",\"abc\"\n"
                       "\"aaab\",\"aab\"\n"
                       "\"héllo\",\"él\"\n"
                       ",\"a\"\n"
                       "\"a\",\n"
                       "\"xbc\",\"bc\"\n");
  expect_bools(ok(t, canon_starts_with(C("s"), C("p"))), "TTTFFFNNF");
  expect_bools(ok(t, canon_contains(C("s"), C("p"))), "TTTFTTNNT");
  canon_table_free(t);
}

Test(functions, trim_ascii_spaces) {
  canon_table *t = tbl("s:string", "\"  a b  \"\n\"   \"\n\"\"\n\n\"\ta \"\n\" é \"\n");
  const char *both[] = {"a b", "", "", NULL, "\ta", "é"};
  const char *left[] = {"a b  ", "", "", NULL, "\ta ", "é "};
  const char *right[] = {"  a b", "", "", NULL, "\ta", " é"};
  expect_strs(ok(t, canon_trim(C("s"))), both, 6);
  expect_strs(ok(t, canon_ltrim(C("s"))), left, 6);
  expect_strs(ok(t, canon_rtrim(C("s"))), right, 6);
  canon_table_free(t);
}

Test(functions, string_type_errors) {
  canon_table *t = tbl("x:int64,s:string", "1,a\n");
  fails(t, canon_length(C("x")), CANON_ERR_TYPE,
        "type error in length(x): argument 1 of length must be string, got int64");
  fails(t, canon_substring(C("s"), F(1.0), I(2)), CANON_ERR_TYPE,
        "type error in substring(s, 1.0, 2): argument 2 of substring must be int64, got "
        "float64");
  canon_expr *args[] = {C("s"), C("x")};
  fails(t, canon_concat(args, 2), CANON_ERR_TYPE,
        "type error in concat(s, x): argument 2 of concat must be string, got int64");
  canon_table_free(t);
}

/* ---- numbers ----------------------------------------------------------- */

Test(functions, abs_values_and_overflow) {
  canon_table *t = tbl("x:int64,f:float64", "-5,-0.0\n0,-inf\n,NaN\n7,\n");
  int64_t wi[] = {5, 0, 0, 7};
  expect_i64s(ok(t, canon_abs(C("x"))), wi, "VVNV");
  double wf[] = {0.0, INFINITY, NAN, 0};
  expect_f64s(ok(t, canon_abs(C("f"))), wf, "VVVN");
  canon_table *m = tbl("x:int64", "1\n-9223372036854775808\n");
  fails(m, canon_abs(C("x")), CANON_ERR_OVERFLOW, "integer overflow in abs(x)");
  /* A NULL on the INT64_MIN row needs no value and raises nothing. */
  canon_table *n = tbl("x:int64", "1\n\n");
  int64_t w1[] = {1, 0};
  expect_i64s(ok(n, canon_abs(C("x"))), w1, "VN");
  canon_table_free(t);
  canon_table_free(m);
  canon_table_free(n);
}

Test(functions, round_float_half_away_from_zero_on_exact_value) {
  cr_assert(same_f64(f1(canon_round(F(2.5), I(0))), 3.0));
  cr_assert(same_f64(f1(canon_round(F(-2.5), I(0))), -3.0));
  cr_assert(same_f64(f1(canon_round(F(0.5), I(0))), 1.0));
  cr_assert(same_f64(f1(canon_round(F(-0.4), I(0))), -0.0));
  /* 0.125 is exact: a true tie, away from zero. */
  cr_assert(same_f64(f1(canon_round(F(0.125), I(2))), 0.13));
  cr_assert(same_f64(f1(canon_round(F(-0.125), I(2))), -0.13));
  /* 2.675 is 2.67499999999999982236431605997495353221893310546875. */
  cr_assert(same_f64(f1(canon_round(F(2.675), I(2))), 2.67));
  cr_assert(same_f64(f1(canon_round(F(1.005), I(2))), 1.0));
  cr_assert(same_f64(f1(canon_round(F(9.995), I(2))), 9.99));
  cr_assert(same_f64(f1(canon_round(F(123.456), I(1))), 123.5));
  cr_assert(same_f64(f1(canon_round(F(0.30000000000000004), I(15))), 0.3));
  cr_assert(same_f64(f1(canon_round(F(0.001), I(2))), 0.0));
  cr_assert(same_f64(f1(canon_round(F(-0.001), I(2))), -0.0));
  /* Negative digits: tens, hundreds, ... */
  cr_assert(same_f64(f1(canon_round(F(1234.5678), I(-2))), 1200.0));
  cr_assert(same_f64(f1(canon_round(F(1250.0), I(-2))), 1300.0));
  cr_assert(same_f64(f1(canon_round(F(-1250.0), I(-2))), -1300.0));
  cr_assert(same_f64(f1(canon_round(F(1.5e300), I(-300))), 2e300));
  cr_assert(same_f64(f1(canon_round(F(1e22), I(-22))), 1e22));
  cr_assert(same_f64(f1(canon_round(F(4.9e22), I(-23))), 0.0));
  cr_assert(same_f64(f1(canon_round(F(1.7976931348623157e308), I(-308))), INFINITY));
  cr_assert(same_f64(f1(canon_round(F(5.0), I(INT64_MIN))), 0.0));
  /* Many digits: exact already, or the nearest double of the decimal. */
  cr_assert(same_f64(f1(canon_round(F(0.1), I(25))), 0.1));
  cr_assert(same_f64(f1(canon_round(F(1.0 / 3), I(30))), 1.0 / 3));
  cr_assert(same_f64(f1(canon_round(F(123456789.123456789), I(10))), 123456789.12345679));
  cr_assert(same_f64(f1(canon_round(F(5e-324), I(323))), 0.0));
  cr_assert(same_f64(f1(canon_round(F(2.5e-323), I(323))), 2e-323));
  cr_assert(same_f64(f1(canon_round(F(5e-324), I(INT64_MAX))), 5e-324));
  /* Specials pass through. */
  cr_assert(same_f64(f1(canon_round(F(NAN), I(2))), NAN));
  cr_assert(same_f64(f1(canon_round(F(-INFINITY), I(-1))), -INFINITY));
  cr_assert(same_f64(f1(canon_round(F(-0.0), I(3))), -0.0));
  cr_assert(same_f64(f1(canon_round(F(7.0), I(3))), 7.0));
}

Test(functions, round_int64) {
  canon_table *t = tbl("x:int64,d:int64",
                       "1234,2\n1250,-2\n-1250,-2\n1249,-2\n-1249,-2\n"
                       "4999999999999999999,-19\n123,-20\n123,-9223372036854775808\n,1\n5,\n");
  int64_t want[] = {1234, 1300, -1300, 1200, -1200, 0, 0, 0, 0, 0};
  expect_i64s(ok(t, canon_round(C("x"), C("d"))), want, "VVVVVVVVNN");
  const char *over[] = {"9223372036854775807,-1\n", "-9223372036854775808,-1\n",
                        "5000000000000000000,-19\n"};
  for (int i = 0; i < 3; i++) {
    canon_table *o = tbl("x:int64,d:int64", over[i]);
    fails(o, canon_round(C("x"), C("d")), CANON_ERR_OVERFLOW, "integer overflow in round(x, d)");
    canon_table_free(o);
  }
  canon_table_free(t);
}

Test(functions, floor_ceil) {
  canon_table *t = tbl("x:int64,f:float64", "-7,1.5\n7,-1.5\n0,-0.5\n,NaN\n1,-inf\n2,\n");
  double fl[] = {1.0, -2.0, -1.0, NAN, -INFINITY, 0};
  double ce[] = {2.0, -1.0, -0.0, NAN, -INFINITY, 0};
  expect_f64s(ok(t, canon_floor(C("f"))), fl, "VVVVVN");
  expect_f64s(ok(t, canon_ceil(C("f"))), ce, "VVVVVN");
  int64_t xi[] = {-7, 7, 0, 0, 1, 2};
  expect_i64s(ok(t, canon_floor(C("x"))), xi, "VVVNVV");
  expect_i64s(ok(t, canon_ceil(C("x"))), xi, "VVVNVV");
  canon_table_free(t);
}

Test(functions, sqrt_pow_ln_exp) {
  cr_assert(same_f64(f1(canon_sqrt(F(4.0))), 2.0));
  cr_assert(same_f64(f1(canon_sqrt(I(2))), 1.4142135623730951));
  cr_assert(same_f64(f1(canon_sqrt(F(-1.0))), NAN));
  cr_assert(same_f64(f1(canon_sqrt(F(-0.0))), -0.0));
  cr_assert(same_f64(f1(canon_sqrt(F(INFINITY))), INFINITY));
  cr_assert(same_f64(f1(canon_pow(F(0.0), F(0.0))), 1.0));
  cr_assert(same_f64(f1(canon_pow(I(0), I(0))), 1.0));
  cr_assert(same_f64(f1(canon_pow(I(2), I(10))), 1024.0));
  cr_assert(same_f64(f1(canon_pow(I(2), I(-1))), 0.5));
  cr_assert(same_f64(f1(canon_pow(F(-8.0), F(1.0 / 3))), NAN));
  cr_assert(same_f64(f1(canon_pow(F(0.0), I(-1))), INFINITY));
  cr_assert(same_f64(f1(canon_pow(F(NAN), I(0))), 1.0));
  cr_assert(same_f64(f1(canon_pow(I(1), F(NAN))), 1.0));
  cr_assert(same_f64(f1(canon_ln(F(0.0))), -INFINITY));
  cr_assert(same_f64(f1(canon_ln(I(0))), -INFINITY));
  cr_assert(same_f64(f1(canon_ln(F(-1.0))), NAN));
  cr_assert(same_f64(f1(canon_ln(I(1))), 0.0));
  cr_assert(same_f64(f1(canon_ln(F(INFINITY))), INFINITY));
  cr_assert(same_f64(f1(canon_exp(I(0))), 1.0));
  cr_assert(same_f64(f1(canon_exp(F(-INFINITY))), 0.0));
  cr_assert(same_f64(f1(canon_exp(F(1000.0))), INFINITY));
  cr_assert(same_f64(f1(canon_exp(I(1))), 2.718281828459045));
  /* NULL in, NULL out. */
  canon_table *t = tbl("x:float64,y:float64", ",2\n2,\n");
  double z[] = {0, 0};
  expect_f64s(ok(t, canon_pow(C("x"), C("y"))), z, "NN");
  double r2[] = {1.4142135623730951, 0};
  expect_f64s(ok(t, canon_sqrt(C("y"))), r2, "VN");
  canon_table_free(t);
}

Test(functions, numeric_type_errors) {
  canon_table *t = tbl("x:int64,s:string", "1,a\n");
  fails(t, canon_sqrt(C("s")), CANON_ERR_TYPE,
        "type error in sqrt(s): argument 1 of sqrt must be int64 or float64, got string");
  fails(t, canon_round(C("x"), F(1.0)), CANON_ERR_TYPE,
        "type error in round(x, 1.0): argument 2 of round must be int64, got float64");
  canon_table_free(t);
}

/* ---- conditionals ------------------------------------------------------ */

Test(functions, if_else_null_condition_takes_else) {
  canon_table *t = tbl("c:bool,a:int64,b:float64", "true,1,1.5\nfalse,2,2.5\n,3,3.5\ntrue,,4.5\n");
  double want[] = {1.0, 2.5, 3.5, 0};
  expect_f64s(ok(t, canon_if_else(C("c"), C("a"), C("b"))), want, "VVVN");
  canon_table *s = tbl("c:bool,a:string", "true,x\nfalse,y\n,z\n");
  const char *ws[] = {"x", "-", "-"};
  expect_strs(ok(s, canon_if_else(C("c"), C("a"), S("-"))), ws, 3);
  fails(s, canon_if_else(C("c"), C("a"), I(1)), CANON_ERR_TYPE,
        "type error in if_else(c, a, 1): if_else branches have incompatible types string and "
        "int64");
  fails(s, canon_if_else(C("a"), C("a"), C("a")), CANON_ERR_TYPE,
        "type error in if_else(a, a, a): argument 1 of if_else must be bool, got string");
  canon_table_free(t);
  canon_table_free(s);
}

/* Rows a branch does not supply are never evaluated in it. */
Test(functions, conditionals_skip_errors_of_unselected_rows) {
  canon_table *t = tbl("x:int64", "0\n-9223372036854775808\n4\n");
  /* if_else(x = 0, 0, 100 div x): the zero row never reaches the division;
   * the INT64_MIN row never reaches abs. */
  canon_expr *e = canon_if_else(canon_eq(C("x"), I(0)), I(-1),
                                canon_if_else(canon_eq(C("x"), I(INT64_MIN)), I(-2),
                                              canon_idiv(I(100), canon_abs(C("x")))));
  int64_t want[] = {-1, -2, 25};
  expect_i64s(ok(t, e), want, "VVV");
  /* Later conditions see only the rows earlier ones left open. */
  canon_expr *conds[] = {canon_eq(C("x"), I(0)), canon_gt(canon_idiv(I(8), C("x")), I(1)),
                         canon_lt(C("x"), I(0))};
  canon_expr *vals[] = {S("zero"), S("small"), S("neg")};
  const char *ws[] = {"zero", "neg", "small"};
  expect_strs(ok(t, canon_case_when(conds, vals, 3, S("other"))), ws, 3);
  /* A selected row still raises. */
  fails(t, canon_if_else(canon_lt(C("x"), I(1)), canon_abs(C("x")), I(0)), CANON_ERR_OVERFLOW,
        "integer overflow in abs(x)");
  canon_table_free(t);
}

Test(functions, case_when_first_true_wins) {
  canon_table *t = tbl("x:int64,f:float64", "1,0.5\n5,1.5\n10,\n,2.5\n-3,3.5\n");
  canon_expr *conds[] = {canon_lt(C("x"), I(3)), canon_lt(C("x"), I(8)),
                         canon_is_null(C("x"))};
  canon_expr *vals[] = {C("f"), C("x"), I(100)};
  /* int64 branches become float64; NULL condition (x NULL in row 4 for the
   * first two) counts as false. */
  double want[] = {0.5, 5.0, 0, 100.0, 3.5};
  expect_f64s(ok(t, canon_case_when(conds, vals, 3, canon_lit_null(CANON_FLOAT64))), want,
              "VVNVV");
  canon_table_free(t);
}

Test(functions, case_when_values_and_else) {
  canon_table *t = tbl("x:int64", "1\n2\n\n3\n");
  canon_expr *conds[] = {canon_eq(C("x"), I(1)), canon_eq(C("x"), I(2))};
  canon_expr *vals[] = {S("one"), canon_lit_null(CANON_STRING)};
  const char *want[] = {"one", NULL, "many", "many"};
  expect_strs(ok(t, canon_case_when(conds, vals, 2, S("many"))), want, 4);
  canon_expr *c1[] = {canon_eq(C("x"), I(1))};
  canon_expr *v1[] = {I(1)};
  fails(t, canon_case_when(c1, v1, 1, S("a")), CANON_ERR_TYPE,
        "type error in case_when((x = 1), 1, 'a'): case_when branches have incompatible types "
        "int64 and string");
  cr_assert_null(canon_case_when(c1, v1, 0, S("a")));
  canon_table_free(t);
}

Test(functions, case_when_text_form) {
  canon_expr *conds[] = {canon_gt(C("x"), I(1))};
  canon_expr *vals[] = {S("big")};
  canon_expr *e = canon_case_when(conds, vals, 1, canon_lit_null(CANON_STRING));
  char *txt = canon_expr_to_string(e);
  cr_assert_str_eq(txt, "case_when((x > 1), 'big', NULL::string)");
  free(txt);
  canon_expr_free(e);
  canon_expr *v[] = {I(1), canon_lit_null(CANON_INT64)};
  e = canon_in_list(C("x"), v, 2);
  txt = canon_expr_to_string(e);
  cr_assert_str_eq(txt, "in_list(x, 1, NULL::int64)");
  free(txt);
  canon_expr_free(e);
}

Test(functions, in_list_three_valued) {
  canon_table *t = tbl("x:int64", "1\n3\n\n2\n");
  canon_expr *v12[] = {I(1), I(2)};
  expect_bools(ok(t, canon_in_list(C("x"), v12, 2)), "TFNT");
  canon_expr *v1n[] = {I(1), canon_lit_null(CANON_INT64)};
  expect_bools(ok(t, canon_in_list(C("x"), v1n, 2)), "TNNN");
  canon_expr *vn1[] = {canon_lit_null(CANON_INT64), I(1)};
  expect_bools(ok(t, canon_in_list(C("x"), vn1, 2)), "TNNN");
  canon_table_free(t);
}

Test(functions, in_list_float_equality) {
  canon_table *t = tbl("f:float64,x:int64", "NaN,1\n-0.0,9007199254740993\n1.0,2\n,\n");
  canon_expr *v[] = {F(NAN), F(0.0), I(1)};
  expect_bools(ok(t, canon_in_list(C("f"), v, 3)), "TTTN");
  /* int64 meets float64: 2^53+1 converts to 2^53 first (§4). */
  canon_expr *w[] = {F(1.0), F(9007199254740992.0)};
  expect_bools(ok(t, canon_in_list(C("x"), w, 2)), "TTFN");
  canon_table *s = tbl("s:string", "\"é\"\n\"e\"\n\n");
  canon_expr *sv[] = {S("a"), S("é")};
  expect_bools(ok(s, canon_in_list(C("s"), sv, 2)), "TFN");
  canon_expr *bad[] = {S("a")};
  fails(t, canon_in_list(C("x"), bad, 1), CANON_ERR_TYPE,
        "type error in in_list(x, 'a'): cannot compare int64 with list value 1 of type string");
  canon_table_free(t);
  canon_table_free(s);
}

Test(functions, names_and_aggregate_split) {
  static const char *names[] = {"length", "lower",   "upper", "substring", "concat",
                                "starts_with", "contains", "trim",  "ltrim",     "rtrim",
                                "abs",    "round",   "floor", "ceil",      "sqrt",
                                "pow",    "ln",      "exp",   "if_else",   "case_when",
                                "in_list"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    canon__fn f = canon__fn_from_name(names[i]);
    cr_assert_neq(f, 0, "%s", names[i]);
    cr_assert_str_eq(canon__fn_name(f), names[i]);
    cr_assert(!canon__fn_is_agg(f), "%s is a scalar", names[i]);
  }
  cr_assert(canon__fn_is_agg(CANON__A_COUNT_STAR));
  cr_assert(canon__fn_is_agg(CANON__A_MAX));
  cr_assert(!canon__fn_is_agg(CANON__F_TRY_CAST));
  /* Scalars are not aggregates when binding an aggregate's output. */
  canon_table *t = tbl("s:string", "a\n");
  canon_error err = {0};
  canon_expr *e = canon_length(C("s"));
  canon_expr *b = canon__expr_bind(e, t->schema, true, &err);
  cr_assert(b, "%s", err.message);
  canon_expr_free(b);
  canon_expr_free(e);
  canon_table_free(t);
}

/* ---- whole plans ----------------------------------------------------------- */

static const char *ITEMS =
    "name,qty,price,flag\n"
    "\"  Apple \",3,2.5,true\n"
    "émile,-7,-0.125,false\n"
    "\"\",,1.005,\n"
    "ZOË✓,12,,true\n"
    "kiwi,0,-2.5,false\n"
    ",5,NaN,true\n";

static canon_df *read_items(canon_session *s, const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/items.csv", dir);
  canon_error err = {0};
  canon_csv_options o = {.schema = "name:string,qty:int64,price:float64,flag:bool"};
  canon_df *df = canon_read_csv(s, path, &o, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

/* One select using most of the functions (expected values below). */
static canon_df *plan_items(canon_session *s, const char *dir) {
  canon_error err = {0};
  canon_expr *cat[] = {canon_trim(C("name")), S("#"), canon_cast(C("qty"), CANON_STRING)};
  canon_expr *conds[] = {canon_lt(C("qty"), I(0)), canon_eq(C("qty"), I(0))};
  canon_expr *vals[] = {S("neg"), S("zero")};
  canon_expr *list[] = {I(3), I(0), canon_lit_null(CANON_INT64)};
  canon_expr *ex[] = {
      canon_trim(C("name")),
      canon_upper(canon_trim(C("name"))),
      canon_length(C("name")),
      canon_substring(canon_trim(C("name")), I(2), I(3)),
      canon_concat(cat, 3),
      canon_starts_with(canon_lower(canon_trim(C("name"))), S("é")),
      canon_abs(C("qty")),
      canon_round(C("price"), I(2)),
      canon_round(C("price"), I(0)),
      canon_sqrt(C("qty")),
      canon_case_when(conds, vals, 2, S("pos")),
      canon_if_else(C("flag"), canon_floor(C("price")), canon_ceil(C("price"))),
      canon_in_list(C("qty"), list, 3),
      canon_pow(C("qty"), I(2)),
  };
  const char *names[] = {"t", "u", "len", "sub", "cat", "sw", "a",
                         "r", "r0", "sq", "c", "ie", "inl", "p"};
  canon_df *df = canon_select(read_items(s, dir), ex, names, 14, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

/* The rest of the functions, on top of plan_items's input. */
static canon_df *plan_rest(canon_session *s, const char *dir) {
  canon_error err = {0};
  canon_expr *list[] = {S("kiwi"), S("émile")};
  canon_df *df = canon_filter(read_items(s, dir),
                              canon_not(canon_in_list(C("name"), list, 2)), &err);
  cr_assert(df, "%s", err.message);
  canon_expr *ex[] = {
      canon_ltrim(C("name")), canon_rtrim(C("name")), canon_contains(C("name"), S("pl")),
      canon_substring_from(C("name"), I(3)), canon_lower(C("name")),
      canon_ln(canon_abs(C("qty"))), canon_exp(canon_mul(C("qty"), I(0))),
  };
  const char *names[] = {"l", "r", "has", "from3", "low", "ln", "one"};
  df = canon_select(df, ex, names, 7, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

static const int PARTS[] = {1, 2, 3, 8};

/* Collect plan at every partition count of the serial engine; the results
 * must be the same text.  Returns it (malloc'd). */
static char *run_everywhere(canon_df *(*plan)(canon_session *, const char *), const char *dir) {
  char *first = NULL;
  for (int i = 0; i < 4; i++) {
    char engine[64];
    snprintf(engine, sizeof engine, "serial:partitions=%d", PARTS[i]);
    canon_session *s = tu_open(engine);
    char *csv = tu_collect_csv(plan(s, dir));
    canon_session_close(s);
    if (!first) {
      first = csv;
    } else {
      cr_assert_str_eq(csv, first, "partitions=%d differs from partitions=1", PARTS[i]);
      free(csv);
    }
  }
  return first;
}

static char *items_dir(void) {
  char *dir = tu_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/items.csv", dir);
  tu_write_file(path, ITEMS);
  return dir;
}

Test(functions, plan_select_every_partition_count) {
  char *dir = items_dir();
  char *csv = run_everywhere(plan_items, dir);
  cr_assert_str_eq(csv,
                   "t,u,len,sub,cat,sw,a,r,r0,sq,c,ie,inl,p\n"
                   "Apple,APPLE,8,ppl,Apple#3,false,3,2.5,3.0,1.7320508075688772,pos,2.0,true,"
                   "9.0\n"
                   "émile,éMILE,5,mil,émile#-7,true,7,-0.13,-0.0,NaN,neg,-0.0,,49.0\n"
                   "\"\",\"\",0,\"\",,false,,1.0,1.0,,pos,2.0,,\n"
                   "ZOË✓,ZOË✓,4,OË✓,ZOË✓#12,false,12,,,3.4641016151377544,pos,,,144.0\n"
                   "kiwi,KIWI,4,iwi,kiwi#0,false,0,-2.5,-3.0,0.0,zero,-2.0,true,0.0\n"
                   ",,,,,,5,NaN,NaN,2.23606797749979,pos,NaN,,25.0\n");
  free(csv);
  csv = run_everywhere(plan_rest, dir);
  /* not in_list(name, 'kiwi', 'émile'): a NULL name gives NULL, dropped. */
  cr_assert_str_eq(csv,
                   "l,r,has,from3,low,ln,one\n"
                   "Apple ,  Apple,true,Apple ,  apple ,1.0986122886681098,1.0\n"
                   "\"\",\"\",false,\"\",\"\",,\n"
                   "ZOË✓,ZOË✓,false,Ë✓,zoË✓,2.4849066497880004,1.0\n");
  free(csv);
  tu_rmdir(dir);
  free(dir);
}

/* An error in a row the plan needs fails the job at every partition count. */
static canon_df *plan_overflow(canon_session *s, const char *dir) {
  (void)dir;
  canon_error err = {0};
  canon_table *t = tbl("x:int64", "1\n2\n-9223372036854775808\n4\n");
  canon_df *df = canon_from_table(s, t, &err);
  canon_table_free(t);
  canon_expr *ex[] = {canon_abs(C("x"))};
  df = canon_select(df, ex, NULL, 1, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

Test(functions, plan_error_every_partition_count) {
  for (int i = 0; i < 4; i++) {
    char engine[64];
    snprintf(engine, sizeof engine, "serial:partitions=%d", PARTS[i]);
    canon_session *s = tu_open(engine);
    canon_error err = {0};
    canon_table *t = canon_collect(plan_overflow(s, NULL), &err);
    cr_assert_null(t);
    cr_assert_eq(err.code, CANON_ERR_OVERFLOW, "%s", err.message);
    cr_assert(strstr(err.message, "integer overflow in abs(x)"), "%s", err.message);
    canon_session_close(s);
  }
}

/* ---- plan JSON ------------------------------------------------------------- */

/* Write df, read it into a fresh session, write again: same bytes; and the
 * reloaded plan computes the same table. */
static void json_round_trip(canon_df *df) {
  canon_error err = {0};
  char *json = canon_plan_to_json(df, NULL, &err);
  cr_assert(json, "to_json: %s", err.message);
  canon_session *s2 = tu_open("serial:partitions=3");
  canon_df *root = NULL;
  cr_assert_eq(canon_plan_from_json(s2, json, "plan.json", &root, NULL, &err), 0, "%s\n%s",
               err.message, json);
  char *again = canon_plan_to_json(root, NULL, &err);
  cr_assert(again, "to_json: %s", err.message);
  cr_assert_str_eq(again, json);
  char *a = tu_collect_csv(df), *b = tu_collect_csv(root);
  cr_assert_str_eq(b, a);
  free(a);
  free(b);
  free(again);
  free(json);
  canon_session_close(s2);
}

Test(functions, plan_json_round_trip_every_function) {
  char *dir = items_dir();
  canon_session *s = tu_open("serial:partitions=2");
  json_round_trip(plan_items(s, dir));
  json_round_trip(plan_rest(s, dir));
  /* if_else and the names not used above, in one more select. */
  canon_error err = {0};
  canon_expr *ex[] = {canon_if_else(canon_is_null(C("qty")), F(0.5), C("qty")),
                      canon_round(C("qty"), I(-1))};
  canon_df *df = canon_select(read_items(s, dir), ex, NULL, 2, &err);
  cr_assert(df, "%s", err.message);
  json_round_trip(df);
  char *json = canon_plan_to_json(plan_items(s, dir), NULL, &err);
  const char *fns[] = {"trim", "upper", "length", "substring", "concat", "starts_with",
                       "lower", "abs", "round", "sqrt", "case_when", "if_else", "floor",
                       "ceil", "in_list", "pow"};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    char want[64];
    snprintf(want, sizeof want, "\"fn\":\t\"%s\"", fns[i]);
    cr_assert(strstr(json, want), "%s missing from\n%s", want, json);
  }
  free(json);
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
}

/* Loading json must fail with code, and the message must contain want. */
static void load_fails(const char *json, int code, const char *want) {
  canon_session *s = tu_open("serial");
  canon_error err = {0};
  canon_df *root = NULL;
  int rc = canon_plan_from_json(s, json, "plan.json", &root, NULL, &err);
  cr_assert_neq(rc, 0, "expected an error for:\n%s", json);
  cr_assert_eq(err.code, code, "code %s: %s", canon_errcode_name(err.code), err.message);
  cr_assert(strstr(err.message, want), "message: %s\nwanted: ...%s...", err.message, want);
  canon_session_close(s);
}

/* A plan selecting one expression (JSON text) over a table with x:int64. */
static char *plan_with(const char *expr) {
  static const char *fmt =
      "{\"canon_plan\": 1, \"root\": 2, \"nodes\": ["
      "{\"id\": 1, \"op\": \"table\", \"schema\": [{\"name\": \"x\", \"type\": \"int64\"}],"
      " \"rows\": [[\"1\"]]},"
      "{\"id\": 2, \"op\": \"select\", \"input\": 1, \"columns\": [{\"name\": \"y\", "
      "\"expr\": %s}]}]}";
  char *out = malloc(strlen(fmt) + strlen(expr) + 1);
  sprintf(out, fmt, expr);
  return out;
}

Test(functions, plan_json_bad_arity) {
  char *j = plan_with("{\"fn\": \"substring\", \"args\": [{\"col\": \"x\"}]}");
  load_fails(j, CANON_ERR_PLAN, "fn \"substring\" takes 2 to 3 arguments, got 1");
  free(j);
  j = plan_with("{\"fn\": \"in_list\", \"args\": [{\"col\": \"x\"}]}");
  load_fails(j, CANON_ERR_PLAN, "fn \"in_list\" takes at least 2 arguments, got 1");
  free(j);
  j = plan_with("{\"fn\": \"case_when\", \"args\": [{\"lit\": \"true\", \"type\": \"bool\"}, "
                "{\"col\": \"x\"}, {\"lit\": \"true\", \"type\": \"bool\"}, {\"col\": \"x\"}]}");
  load_fails(j, CANON_ERR_INVALID,
             "case_when takes condition/value pairs and an else value (an odd number of "
             "arguments), got 4");
  free(j);
  j = plan_with("{\"fn\": \"length\", \"args\": [{\"col\": \"x\"}]}");
  load_fails(j, CANON_ERR_TYPE, "argument 1 of length must be string, got int64");
  free(j);
}
