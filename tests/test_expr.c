/* test_expr.c — expressions: construction and ownership, text form,
 * binding (types and errors) and evaluation (SEMANTICS §4). */
#include <criterion/criterion.h>

#include <math.h>

#include "expr_testutil.h"

/* ---- helpers ------------------------------------------------------------- */

/* A one-row table, for expressions over literals. */
static canon_table *one_row(void) { return tbl("x:int64", "1\n"); }

/* Bool column against "TFN..." (true, false, NULL), then released. */
static void expect_bools(canon__column *c, const char *want) {
  cr_assert_eq(c->type, CANON_BOOL);
  cr_assert_eq(c->length, (int64_t)strlen(want));
  int64_t nulls = 0;
  for (int64_t i = 0; want[i]; i++) {
    if (want[i] == 'N') {
      nulls++;
      cr_assert(!canon__valid(c, i), "row %lld should be NULL", (long long)i);
    } else {
      cr_assert(canon__valid(c, i), "row %lld should not be NULL", (long long)i);
      cr_assert_eq(canon__u8(c)[i], want[i] == 'T', "row %lld should be %c", (long long)i,
                   want[i]);
    }
  }
  cr_assert_eq(c->null_count, nulls);
  canon__column_unref(c);
}

static int64_t one_i64(canon__column *c) {
  cr_assert_eq(c->type, CANON_INT64);
  cr_assert(canon__valid(c, 0));
  int64_t v = canon__i64(c)[0];
  canon__column_unref(c);
  return v;
}

static double one_f64(canon__column *c) {
  cr_assert_eq(c->type, CANON_FLOAT64);
  cr_assert(canon__valid(c, 0));
  double v = canon__f64(c)[0];
  canon__column_unref(c);
  return v;
}

static void expect_null(canon__column *c, int64_t row) {
  cr_assert(!canon__valid(c, row), "row %lld should be NULL", (long long)row);
  canon__column_unref(c);
}

static void expect_text(canon_expr *e, const char *want) {
  cr_assert(e);
  char *s = canon_expr_to_string(e);
  cr_assert_str_eq(s, want);
  free(s);
  canon_expr_free(e);
}

static void bind_fails(const canon_table *t, canon_expr *e, bool allow_agg, int code,
                       const char *msg) {
  canon_error err = {0};
  cr_assert(e);
  canon_expr *b = canon__expr_bind(e, t->schema, allow_agg, &err);
  canon_expr_free(e);
  cr_assert_null(b, "bind should fail: %s", msg);
  cr_assert_eq(err.code, code, "code %d (%s)", err.code, err.message);
  cr_assert_str_eq(err.message, msg);
}

static canon_type bound_type(const canon_table *t, canon_expr *e, bool allow_agg) {
  canon_error err = {0};
  canon_expr *b = canon__expr_bind(e, t->schema, allow_agg, &err);
  canon_expr_free(e);
  cr_assert(b, "bind: %s", err.message);
  canon_type ty = b->type;
  canon_expr_free(b);
  return ty;
}

#define C(n) canon_col(n)
#define I(v) canon_lit_int64(v)
#define F(v) canon_lit_float64(v)
#define S(v) canon_lit_string(v)

/* ---- logic --------------------------------------------------------------- */

/* Every combination of true, false and NULL. */
static const char *kleene_rows =
    "true,true\ntrue,false\ntrue,\nfalse,true\nfalse,false\nfalse,\n,true\n,false\n,\n";

Test(expr, kleene_and) {
  canon_table *t = tbl("a:bool,b:bool", kleene_rows);
  expect_bools(ok(t, canon_and(C("a"), C("b"))), "TFNFFFNFN");
  canon_table_free(t);
}

Test(expr, kleene_or) {
  canon_table *t = tbl("a:bool,b:bool", kleene_rows);
  expect_bools(ok(t, canon_or(C("a"), C("b"))), "TTTTFNTNN");
  canon_table_free(t);
}

Test(expr, not_and_null_tests) {
  canon_table *t = tbl("a:bool,b:bool", kleene_rows);
  expect_bools(ok(t, canon_not(C("b"))), "FTNFTNFTN");
  expect_bools(ok(t, canon_is_null(C("b"))), "FFTFFTFFT");
  expect_bools(ok(t, canon_is_not_null(C("a"))), "TTTTTTFFF");
  expect_bools(ok(t, canon_not(canon_lit_null(CANON_BOOL))), "NNNNNNNNN");
  canon_table_free(t);
}

Test(expr, logic_without_nulls) {
  canon_table *t = tbl("a:bool,b:bool", "true,true\ntrue,false\nfalse,true\nfalse,false\n");
  expect_bools(ok(t, canon_and(C("a"), C("b"))), "TFFF");
  expect_bools(ok(t, canon_or(C("a"), C("b"))), "TTTF");
  canon_table_free(t);
}

/* ---- comparison ---------------------------------------------------------- */

Test(expr, comparison_with_null_is_null) {
  canon_table *t = tbl("a:int64,b:int64,s:string", "1,,x\n,2,\n1,1,y\n");
  expect_bools(ok(t, canon_eq(C("a"), C("b"))), "NNT");
  expect_bools(ok(t, canon_lt(C("a"), C("b"))), "NNF");
  expect_bools(ok(t, canon_ne(C("s"), S("x"))), "FNT");
  expect_bools(ok(t, canon_eq(C("a"), canon_lit_null(CANON_INT64))), "NNN");
  canon_table_free(t);
}

Test(expr, float_total_order) {
  canon_table *t =
      tbl("a:float64,b:float64", "NaN,NaN\nNaN,inf\n-0.0,0.0\n1.0,NaN\n-inf,-1e308\n");
  expect_bools(ok(t, canon_eq(C("a"), C("b"))), "TFTFF");
  expect_bools(ok(t, canon_gt(C("a"), C("b"))), "FTFFF");
  expect_bools(ok(t, canon_lt(C("a"), C("b"))), "FFFTT");
  expect_bools(ok(t, canon_ge(C("a"), C("b"))), "TTTFF");
  expect_bools(ok(t, canon_le(C("a"), C("b"))), "TFTTT");
  expect_bools(ok(t, canon_ne(C("a"), C("b"))), "FTFTT");
  canon_table_free(t);
}

Test(expr, int_float_mixed_comparison) {
  /* 2^53 + 1 converts to 2^53 (round to nearest even) before comparing. */
  canon_table *t = tbl("a:int64,b:float64", "1,1.0\n2,1.5\n9007199254740993,9007199254740992.0\n");
  expect_bools(ok(t, canon_eq(C("a"), C("b"))), "TFT");
  expect_bools(ok(t, canon_gt(C("a"), C("b"))), "FTF");
  expect_bools(ok(t, canon_lt(C("b"), C("a"))), "FTF");
  canon_table_free(t);
}

Test(expr, string_bool_date_comparison) {
  canon_table *t = tbl("s:string,u:string,p:bool,q:bool,d:date,e:date",
                       "ab,abc,false,true,2024-01-01,2023-12-31\n"
                       "b,abc,true,true,2024-01-01,2024-01-01\n"
                       "\"\",a,true,false,1969-12-31,1970-01-01\n");
  expect_bools(ok(t, canon_lt(C("s"), C("u"))), "TFT");
  expect_bools(ok(t, canon_lt(C("p"), C("q"))), "TFF");
  expect_bools(ok(t, canon_gt(C("d"), C("e"))), "TFF");
  expect_bools(ok(t, canon_eq(C("d"), C("e"))), "FTF");
  canon_table_free(t);
}

/* ---- integer arithmetic -------------------------------------------------- */

Test(expr, int_arithmetic) {
  canon_table *t = tbl("a:int64,b:int64", "7,2\n-7,2\n7,-2\n,3\n");
  canon__column *c = ok(t, canon_add(C("a"), C("b")));
  cr_assert_eq(c->type, CANON_INT64);
  cr_assert_eq(canon__i64(c)[0], 9);
  cr_assert_eq(canon__i64(c)[1], -5);
  cr_assert(!canon__valid(c, 3));
  cr_assert_eq(c->null_count, 1);
  canon__column_unref(c);
  c = ok(t, canon_idiv(C("a"), C("b")));
  cr_assert_eq(canon__i64(c)[0], 3);
  cr_assert_eq(canon__i64(c)[1], -3);
  cr_assert_eq(canon__i64(c)[2], -3);
  canon__column_unref(c);
  c = ok(t, canon_mod(C("a"), C("b")));
  cr_assert_eq(canon__i64(c)[0], 1);
  cr_assert_eq(canon__i64(c)[1], -1);
  cr_assert_eq(canon__i64(c)[2], 1);
  canon__column_unref(c);
  c = ok(t, canon_div(C("a"), C("b")));
  cr_assert_eq(c->type, CANON_FLOAT64);
  cr_assert_eq(canon__f64(c)[0], 3.5);
  cr_assert_eq(canon__f64(c)[1], -3.5);
  canon__column_unref(c);
  canon_table_free(t);
}

Test(expr, int_overflow_is_an_error) {
  canon_table *t = tbl("a:int64,b:int64,c:int64",
                       "9223372036854775807,1,4611686018427387904\n"
                       "-9223372036854775808,-9223372036854775808,2\n");
  fails(t, canon_add(C("a"), C("b")), CANON_ERR_OVERFLOW, "integer overflow in (a + b)");
  fails(t, canon_sub(C("b"), I(1)), CANON_ERR_OVERFLOW, "integer overflow in (b - 1)");
  fails(t, canon_mul(C("c"), I(2)), CANON_ERR_OVERFLOW, "integer overflow in (c * 2)");
  fails(t, canon_neg(C("b")), CANON_ERR_OVERFLOW, "integer overflow in (-b)");
  fails(t, canon_idiv(C("b"), I(-1)), CANON_ERR_OVERFLOW, "integer overflow in (b div -1)");
  canon__column *c = ok(t, canon_mod(C("b"), I(-1)));
  cr_assert_eq(canon__i64(c)[1], 0);
  canon__column_unref(c);
  c = ok(t, canon_neg(C("c")));
  cr_assert_eq(canon__i64(c)[0], -INT64_C(4611686018427387904));
  canon__column_unref(c);
  canon_table_free(t);
}

Test(expr, overflow_under_null_is_not_an_error) {
  canon_table *t = tbl("a:int64,b:int64", "9223372036854775807,\n1,1\n");
  canon__column *c = ok(t, canon_add(C("a"), C("b")));
  cr_assert(!canon__valid(c, 0));
  cr_assert_eq(canon__i64(c)[1], 2);
  canon__column_unref(c);
  canon_table_free(t);
}

Test(expr, division_by_zero) {
  canon_table *t = tbl("a:int64,b:int64,f:float64", "1,0,1.0\n,0,\n");
  fails(t, canon_div(C("a"), C("b")), CANON_ERR_DIV_ZERO, "division_by_zero in (a / b)");
  fails(t, canon_idiv(C("a"), C("b")), CANON_ERR_DIV_ZERO, "division_by_zero in (a div b)");
  fails(t, canon_mod(C("a"), C("b")), CANON_ERR_DIV_ZERO, "division_by_zero in (a mod b)");
  /* The divisor is an integer zero even when the dividend is a float. */
  fails(t, canon_div(C("f"), C("b")), CANON_ERR_DIV_ZERO, "division_by_zero in (f / b)");
  canon_table_free(t);

  /* NULL / 0 is NULL, not an error. */
  t = tbl("a:int64,b:int64", ",0\n4,2\n");
  canon__column *c = ok(t, canon_div(C("a"), C("b")));
  cr_assert(!canon__valid(c, 0));
  cr_assert_eq(canon__f64(c)[1], 2.0);
  canon__column_unref(c);
  expect_null(ok(t, canon_idiv(C("a"), C("b"))), 0);
  expect_null(ok(t, canon_mod(C("a"), C("b"))), 0);
  canon_table_free(t);
}

Test(expr, try_div_gives_null) {
  canon_table *t = tbl("a:int64,b:int64", "1,0\n1,2\n,0\n");
  canon__column *c = ok(t, canon_try_div(C("a"), C("b")));
  cr_assert_eq(c->type, CANON_FLOAT64);
  cr_assert(!canon__valid(c, 0));
  cr_assert_eq(canon__f64(c)[1], 0.5);
  cr_assert(!canon__valid(c, 2));
  cr_assert_eq(c->null_count, 2);
  canon__column_unref(c);
  canon_table_free(t);
}

/* ---- float arithmetic ---------------------------------------------------- */

Test(expr, float_ieee) {
  canon_table *t = one_row();
  double v = one_f64(ok(t, canon_div(F(1.0), F(0.0))));
  cr_assert(isinf(v) && v > 0);
  v = one_f64(ok(t, canon_div(F(-1.0), F(0.0))));
  cr_assert(isinf(v) && v < 0);
  cr_assert(isnan(one_f64(ok(t, canon_div(F(0.0), F(0.0))))));
  v = one_f64(ok(t, canon_neg(F(0.0))));
  cr_assert(v == 0.0 && signbit(v), "-(0.0) is -0.0");
  v = one_f64(ok(t, canon_mul(F(-0.0), F(1.0))));
  cr_assert(v == 0.0 && signbit(v));
  v = one_f64(ok(t, canon_add(F(-0.0), F(-0.0))));
  cr_assert(v == 0.0 && signbit(v));
  /* int64 meets float64: the int is converted first. */
  cr_assert_eq(one_f64(ok(t, canon_add(I(1), F(0.5)))), 1.5);
  cr_assert_eq(one_f64(ok(t, canon_mul(F(0.5), I(3)))), 1.5);
  /* try_div by a float zero is IEEE, not NULL. */
  v = one_f64(ok(t, canon_try_div(I(1), F(0.0))));
  cr_assert(isinf(v));
  canon_table_free(t);
}

/* ---- casts --------------------------------------------------------------- */

Test(expr, cast_from_string) {
  canon_table *t = one_row();
  canon_error err;
  cr_assert_eq(one_i64(ok(t, canon_cast(S(" 12 "), CANON_INT64))), 12);
  cr_assert_eq(one_f64(ok(t, canon_cast(S("1e3"), CANON_FLOAT64))), 1000.0);
  fails(t, canon_cast(S("12x"), CANON_INT64), CANON_ERR_CAST,
        "cannot cast '12x' to int64 in cast('12x' AS int64)");
  fails(t, canon_cast(S("1e3"), CANON_INT64), CANON_ERR_CAST,
        "cannot cast '1e3' to int64 in cast('1e3' AS int64)");
  fails(t, canon_cast(S(""), CANON_INT64), CANON_ERR_CAST,
        "cannot cast '' to int64 in cast('' AS int64)");
  expect_null(ok(t, canon_try_cast(S("12x"), CANON_INT64)), 0);
  expect_null(ok(t, canon_try_cast(S("abc"), CANON_DATE)), 0);
  canon__column *c = run(t, canon_cast(S("true"), CANON_BOOL), &err);
  cr_assert(c && canon__u8(c)[0] == 1);
  canon__column_unref(c);
  c = ok(t, canon_cast(S("2024-02-29"), CANON_DATE));
  cr_assert_eq(canon__i32(c)[0], 19782);
  canon__column_unref(c);
  canon_table_free(t);

  t = tbl("s:string", "abc\n7\n");
  fails(t, canon_cast(C("s"), CANON_INT64), CANON_ERR_CAST,
        "cannot cast 'abc' to int64 in cast(s AS int64)");
  c = ok(t, canon_try_cast(C("s"), CANON_INT64));
  cr_assert(!canon__valid(c, 0));
  cr_assert_eq(canon__i64(c)[1], 7);
  cr_assert_eq(c->null_count, 1);
  canon__column_unref(c);
  canon_table_free(t);
}

Test(expr, cast_float_to_int) {
  canon_table *t = one_row();
  cr_assert_eq(one_i64(ok(t, canon_cast(F(3.9), CANON_INT64))), 3);
  cr_assert_eq(one_i64(ok(t, canon_cast(F(-3.9), CANON_INT64))), -3);
  cr_assert_eq(one_i64(ok(t, canon_cast(F(-9223372036854775808.0), CANON_INT64))), INT64_MIN);
  fails(t, canon_cast(F(NAN), CANON_INT64), CANON_ERR_CAST,
        "cannot cast NaN to int64 in cast(NaN AS int64)");
  canon_error err;
  cr_assert_null(run(t, canon_cast(F(1e19), CANON_INT64), &err));
  cr_assert_eq(err.code, CANON_ERR_CAST);
  cr_assert_null(run(t, canon_cast(F(INFINITY), CANON_INT64), &err));
  cr_assert_eq(err.code, CANON_ERR_CAST);
  cr_assert_null(run(t, canon_cast(F(-INFINITY), CANON_INT64), &err));
  cr_assert_eq(err.code, CANON_ERR_CAST);
  /* 9223372036854775807.0 is 2^63: one past the largest int64. */
  cr_assert_null(run(t, canon_cast(F(9223372036854775807.0), CANON_INT64), &err));
  cr_assert_eq(err.code, CANON_ERR_CAST);
  expect_null(ok(t, canon_try_cast(F(NAN), CANON_INT64)), 0);
  expect_null(ok(t, canon_try_cast(F(1e19), CANON_INT64)), 0);
  canon_table_free(t);
}

Test(expr, cast_other_pairs) {
  canon_table *t = one_row();
  cr_assert_eq(one_f64(ok(t, canon_cast(I(3), CANON_FLOAT64))), 3.0);
  cr_assert_eq(one_i64(ok(t, canon_cast(canon_lit_bool(1), CANON_INT64))), 1);
  cr_assert_eq(one_f64(ok(t, canon_cast(canon_lit_bool(0), CANON_FLOAT64))), 0.0);
  canon__column *c = ok(t, canon_cast(I(-4), CANON_BOOL));
  cr_assert_eq(canon__u8(c)[0], 1);
  canon__column_unref(c);
  c = ok(t, canon_cast(canon_lit_date(1), CANON_TIMESTAMP));
  cr_assert_eq(canon__i64(c)[0], INT64_C(86400000000));
  canon__column_unref(c);
  c = ok(t, canon_cast(canon_lit_timestamp(-1), CANON_DATE));
  cr_assert_eq(canon__i32(c)[0], -1, "floors to the day before 1970");
  canon__column_unref(c);
  c = ok(t, canon_cast(I(-5), CANON_STRING));
  size_t len;
  const char *s = canon__str(c, 0, &len);
  cr_assert_eq(len, 2);
  cr_assert(memcmp(s, "-5", 2) == 0);
  canon__column_unref(c);
  c = ok(t, canon_cast(F(2.5), CANON_STRING));
  s = canon__str(c, 0, &len);
  cr_assert(len == 3 && memcmp(s, "2.5", 3) == 0);
  canon__column_unref(c);
  /* NULL stays NULL through every cast. */
  expect_null(ok(t, canon_cast(canon_lit_null(CANON_STRING), CANON_INT64)), 0);
  expect_null(ok(t, canon_cast(canon_lit_null(CANON_FLOAT64), CANON_STRING)), 0);
  /* Identity. */
  cr_assert_eq(one_i64(ok(t, canon_cast(I(9), CANON_INT64))), 9);
  /* A date too far out for microseconds in int64. */
  canon_error err;
  cr_assert_null(run(t, canon_cast(canon_lit_date(INT32_MAX), CANON_TIMESTAMP), &err));
  cr_assert_eq(err.code, CANON_ERR_CAST, "%s", err.message);
  expect_null(ok(t, canon_try_cast(canon_lit_date(INT32_MIN), CANON_TIMESTAMP)), 0);
  canon_table_free(t);
}

Test(expr, cast_column_with_nulls) {
  canon_table *t = tbl("a:int64,f:float64", "1,2.5\n,NaN\n3,\n");
  canon__column *c = ok(t, canon_cast(C("a"), CANON_STRING));
  cr_assert_eq(c->type, CANON_STRING);
  cr_assert(canon__valid(c, 0) && !canon__valid(c, 1) && canon__valid(c, 2));
  canon__column_unref(c);
  c = ok(t, canon_try_cast(C("f"), CANON_INT64));
  cr_assert_eq(canon__i64(c)[0], 2);
  cr_assert(!canon__valid(c, 1) && !canon__valid(c, 2));
  cr_assert_eq(c->null_count, 2);
  canon__column_unref(c);
  canon_table_free(t);
}

/* ---- coalesce, literals -------------------------------------------------- */

Test(expr, coalesce) {
  canon_table *t = tbl("a:int64,b:float64,s:string,u:string", "1,2.5,x,y\n,2.5,,y\n,,,\n");
  canon_expr *args[] = {C("a"), C("b")};
  canon__column *c = ok(t, canon_coalesce(args, 2));
  cr_assert_eq(c->type, CANON_FLOAT64);
  cr_assert_eq(canon__f64(c)[0], 1.0);
  cr_assert_eq(canon__f64(c)[1], 2.5);
  cr_assert(!canon__valid(c, 2));
  canon__column_unref(c);
  canon_expr *sargs[] = {C("s"), C("u"), S("z")};
  c = ok(t, canon_coalesce(sargs, 3));
  size_t len;
  cr_assert(memcmp(canon__str(c, 0, &len), "x", 1) == 0 && len == 1);
  cr_assert(memcmp(canon__str(c, 1, &len), "y", 1) == 0 && len == 1);
  cr_assert(memcmp(canon__str(c, 2, &len), "z", 1) == 0 && len == 1);
  cr_assert_eq(c->null_count, 0);
  canon__column_unref(c);
  canon_table_free(t);
}

Test(expr, literals_broadcast) {
  canon_table *t = tbl("a:int64,b:int64", "1,2\n3,4\n5,6\n");
  canon__column *c = ok(t, S("hi"));
  size_t len;
  for (int64_t i = 0; i < 3; i++)
    cr_assert(memcmp(canon__str(c, i, &len), "hi", 2) == 0 && len == 2);
  canon__column_unref(c);
  c = ok(t, canon_lit_null(CANON_DATE));
  cr_assert_eq(c->type, CANON_DATE);
  cr_assert_eq(c->null_count, 3);
  canon__column_unref(c);
  /* A column reference shares the column. */
  c = ok(t, C("b"));
  cr_assert_eq(c, t->cols[1]);
  canon__column_unref(c);
  canon_table_free(t);
}

Test(expr, empty_table) {
  canon_table *t = tbl("a:int64,b:int64", "");
  canon__column *c = ok(t, canon_add(C("a"), I(1)));
  cr_assert_eq(c->length, 0);
  cr_assert_eq(c->type, CANON_INT64);
  canon__column_unref(c);
  canon_table_free(t);
}

/* ---- binding ------------------------------------------------------------- */

Test(expr, bind_unknown_column) {
  canon_table *t = tbl("a:int64,b:float64,s:string", "");
  bind_fails(t, canon_add(C("a"), C("x")), false, CANON_ERR_NOT_FOUND,
             "unknown column 'x' (available: a, b, s)");
  canon_table_free(t);
}

Test(expr, bind_type_errors) {
  canon_table *t = tbl("a:int64,b:float64,s:string,p:bool,d:date", "");
  bind_fails(t, canon_add(C("a"), C("s")), false, CANON_ERR_TYPE,
             "type error in (a + s): cannot apply + to int64 and string");
  bind_fails(t, canon_idiv(C("a"), C("b")), false, CANON_ERR_TYPE,
             "type error in (a div b): cannot apply div to int64 and float64");
  bind_fails(t, canon_and(C("p"), C("a")), false, CANON_ERR_TYPE,
             "type error in (p AND a): cannot apply AND to bool and int64");
  bind_fails(t, canon_not(C("a")), false, CANON_ERR_TYPE,
             "type error in NOT a: cannot apply NOT to int64");
  bind_fails(t, canon_neg(C("s")), false, CANON_ERR_TYPE,
             "type error in (-s): cannot apply - to string");
  bind_fails(t, canon_eq(C("a"), C("s")), false, CANON_ERR_TYPE,
             "type error in (a = s): cannot apply = to int64 and string");
  bind_fails(t, canon_cast(C("d"), CANON_INT64), false, CANON_ERR_TYPE,
             "type error in cast(d AS int64): cannot cast date to int64");
  bind_fails(t, canon_add(C("d"), I(1)), false, CANON_ERR_TYPE,
             "type error in (d + 1): cannot apply + to date and int64");
  bind_fails(t, canon_add(C("a"), canon_lit_null(CANON_STRING)), false, CANON_ERR_TYPE,
             "type error in (a + NULL::string): cannot apply + to int64 and string");
  canon_expr *args[] = {C("a"), C("s")};
  bind_fails(t, canon_coalesce(args, 2), false, CANON_ERR_TYPE,
             "type error in coalesce(a, s): coalesce arguments have incompatible types int64 "
             "and string");
  bind_fails(t, canon_sum(C("s")), true, CANON_ERR_TYPE,
             "type error in sum(s): cannot apply sum to string");
  canon_table_free(t);
}

Test(expr, bind_result_types) {
  canon_table *t = tbl("a:int64,b:float64,s:string,p:bool,d:date", "");
  cr_assert_eq(bound_type(t, canon_add(C("a"), C("a")), false), CANON_INT64);
  cr_assert_eq(bound_type(t, canon_sub(C("a"), C("b")), false), CANON_FLOAT64);
  cr_assert_eq(bound_type(t, canon_div(C("a"), C("a")), false), CANON_FLOAT64);
  cr_assert_eq(bound_type(t, canon_mod(C("a"), C("a")), false), CANON_INT64);
  cr_assert_eq(bound_type(t, canon_lt(C("d"), C("d")), false), CANON_BOOL);
  cr_assert_eq(bound_type(t, canon_is_null(C("s")), false), CANON_BOOL);
  cr_assert_eq(bound_type(t, canon_cast(C("p"), CANON_FLOAT64), false), CANON_FLOAT64);
  cr_assert_eq(bound_type(t, canon_count_star(), true), CANON_INT64);
  cr_assert_eq(bound_type(t, canon_count(C("s")), true), CANON_INT64);
  cr_assert_eq(bound_type(t, canon_sum(C("a")), true), CANON_INT64);
  cr_assert_eq(bound_type(t, canon_sum(C("b")), true), CANON_FLOAT64);
  cr_assert_eq(bound_type(t, canon_mean(C("a")), true), CANON_FLOAT64);
  cr_assert_eq(bound_type(t, canon_min(C("s")), true), CANON_STRING);
  cr_assert_eq(bound_type(t, canon_max(canon_add(C("a"), I(1))), true), CANON_INT64);
  canon_error err = {0};
  canon_expr *e = canon_add(C("b"), C("a"));
  canon_expr *b = canon__expr_bind(e, t->schema, false, &err);
  cr_assert(b);
  cr_assert_eq(b->args[0]->col, 1);
  cr_assert_eq(b->args[1]->col, 0);
  cr_assert_eq(e->args[0]->col, -1, "binding leaves the original unbound");
  canon_expr_free(b);
  canon_expr_free(e);
  canon_table_free(t);
}

Test(expr, bind_aggregate_placement) {
  canon_table *t = tbl("a:int64", "");
  bind_fails(t, canon_sum(C("a")), false, CANON_ERR_TYPE,
             "aggregate sum(a) is only allowed as an output of aggregate");
  bind_fails(t, canon_sum(canon_max(C("a"))), true, CANON_ERR_TYPE,
             "aggregate max(a) cannot be nested inside another aggregate");
  /* Aggregate outputs may compute over aggregate calls (test_aggregate2.c). */
  cr_assert_eq(bound_type(t, canon_add(canon_count_star(), I(1)), true), CANON_INT64);
  canon_table_free(t);
}

/* ---- text form ----------------------------------------------------------- */

Test(expr, to_string_forms) {
  expect_text(canon_add(C("a"), C("b")), "(a + b)");
  expect_text(canon_sub(C("a"), I(-1)), "(a - -1)");
  expect_text(canon_mul(C("a"), F(2.5)), "(a * 2.5)");
  expect_text(canon_div(C("a"), C("b")), "(a / b)");
  expect_text(canon_try_div(C("a"), C("b")), "try_div(a, b)");
  expect_text(canon_idiv(C("a"), C("b")), "(a div b)");
  expect_text(canon_mod(C("a"), C("b")), "(a mod b)");
  expect_text(canon_neg(C("a")), "(-a)");
  expect_text(canon_eq(C("a"), C("b")), "(a = b)");
  expect_text(canon_ne(C("a"), C("b")), "(a <> b)");
  expect_text(canon_le(C("a"), C("b")), "(a <= b)");
  expect_text(canon_and(C("a"), canon_or(C("b"), canon_lit_bool(1))), "(a AND (b OR true))");
  expect_text(canon_not(C("a")), "NOT a");
  expect_text(canon_not(canon_is_null(C("a"))), "NOT (a IS NULL)");
  expect_text(canon_is_null(C("a")), "a IS NULL");
  expect_text(canon_is_not_null(C("a")), "a IS NOT NULL");
  canon_expr *args[] = {C("a"), canon_lit_null(CANON_STRING)};
  expect_text(canon_coalesce(args, 2), "coalesce(a, NULL::string)");
  expect_text(canon_cast(C("a"), CANON_INT64), "cast(a AS int64)");
  expect_text(canon_try_cast(S("it's"), CANON_DATE), "try_cast('it''s' AS date)");
  expect_text(canon_sum(C("v")), "sum(v)");
  expect_text(canon_count_star(), "count(*)");
  expect_text(canon_count(C("v")), "count(v)");
  expect_text(canon_mean(C("v")), "mean(v)");
  expect_text(C("my col"), "\"my col\"");
  expect_text(C("1st"), "\"1st\"");
  expect_text(C("_ok9"), "_ok9");
  expect_text(canon_lit_date(0), "'1970-01-01'::date");
  expect_text(canon_lit_timestamp(-1), "'1969-12-31T23:59:59.999999Z'::timestamp");
  expect_text(F(NAN), "NaN");
}

Test(expr, fn_names) {
  static const char *names[] = {"add", "sub", "mul", "div", "try_div", "idiv", "mod", "neg",
                                "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not",
                                "is_null", "is_not_null", "coalesce", "cast", "try_cast",
                                "count_star", "count", "sum", "mean", "min", "max"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    canon__fn f = canon__fn_from_name(names[i]);
    cr_assert_neq(f, 0, "%s", names[i]);
    cr_assert_str_eq(canon__fn_name(f), names[i]);
  }
  cr_assert_eq(canon__fn_from_name("nope"), 0);
  cr_assert_null(canon__fn_name((canon__fn)0));
}

/* ---- ownership ----------------------------------------------------------- */

Test(expr, null_arguments_free_the_others) {
  /* Each of these must return NULL and free what it was given (ASan
   * reports leaks otherwise). */
  cr_assert_null(canon_add(C("a"), NULL));
  cr_assert_null(canon_add(NULL, C("b")));
  cr_assert_null(canon_and(canon_eq(C("a"), I(1)), NULL));
  cr_assert_null(canon_neg(NULL));
  cr_assert_null(canon_sum(NULL));
  cr_assert_null(canon_cast(NULL, CANON_INT64));
  cr_assert_null(canon_cast(C("a"), CANON_TYPE_INVALID));
  cr_assert_null(canon_col(NULL));
  cr_assert_null(canon_lit_string(NULL));
  cr_assert_null(canon_lit_null(CANON_TYPE_INVALID));
  canon_expr *args[] = {C("a"), NULL, S("x")};
  cr_assert_null(canon_coalesce(args, 3));
  cr_assert_null(canon_coalesce(NULL, 2));
  /* A failure deep in a tree surfaces at the top. */
  cr_assert_null(canon_not(canon_or(canon_lt(C("a"), NULL), canon_lit_bool(1))));
}

Test(expr, refs_and_copy) {
  canon_expr *a = C("a");
  canon_expr *e = canon_add(canon_expr_ref(a), canon_mul(a, I(2)));
  cr_assert_eq(a->refs, 2);
  canon_expr *c = canon__expr_copy(e);
  char *s1 = canon_expr_to_string(e), *s2 = canon_expr_to_string(c);
  cr_assert_str_eq(s1, "(a + (a * 2))");
  cr_assert_str_eq(s1, s2);
  cr_assert_neq(c->args[0], a, "deep copy");
  free(s1);
  free(s2);
  canon_expr_free(e);
  canon_expr_free(c);
  canon__value v = {0}, w;
  v.type = CANON_STRING;
  v.s = canon__strdup("abc");
  v.slen = 3;
  cr_assert_eq(canon__value_copy(&w, &v), 0);
  cr_assert_str_eq(w.s, "abc");
  cr_assert_neq(w.s, v.s);
  canon__value_reset(&v);
  canon__value_reset(&w);
  cr_assert_null(w.s);
}

/* ---- many rows ----------------------------------------------------------- */

/* Validity bitmaps span several bytes: check each row against a scalar
 * model of the same expressions. */
Test(expr, many_rows_match_scalar_model) {
  canon_error err = {0};
  canon_schema *s = canon_schema_parse("a:int64,b:int64,f:float64", &err);
  cr_assert(s, "%s", err.message);
  canon_builder *bld = canon_builder_new(s, &err);
  cr_assert(bld);
  const int64_t n = 203;
  for (int64_t i = 0; i < n; i++) {
    cr_assert_eq(i % 7 == 0 ? canon_builder_append_null(bld, 0)
                            : canon_builder_append_int64(bld, 0, i - 100), 0);
    cr_assert_eq(i % 11 == 0 ? canon_builder_append_null(bld, 1)
                             : canon_builder_append_int64(bld, 1, i % 5 - 2), 0);
    cr_assert_eq(canon_builder_append_float64(bld, 2, (double)(i % 9) - 4.0), 0);
  }
  canon_table *t = canon_builder_finish(bld, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(bld);
  canon_schema_free(s);

  canon__column *sum = ok(t, canon_add(C("a"), C("b")));
  canon__column *lt = ok(t, canon_lt(C("a"), C("f")));
  canon__column *kl = ok(t, canon_or(canon_gt(C("b"), I(0)), canon_is_null(C("a"))));
  canon__column *td = ok(t, canon_try_div(C("a"), C("b")));
  for (int64_t i = 0; i < n; i++) {
    bool an = i % 7 == 0, bn = i % 11 == 0;
    int64_t a = i - 100, b = i % 5 - 2;
    double f = (double)(i % 9) - 4.0;
    cr_assert_eq(canon__valid(sum, i), !an && !bn, "row %lld", (long long)i);
    if (!an && !bn) cr_assert_eq(canon__i64(sum)[i], a + b);
    cr_assert_eq(canon__valid(lt, i), !an);
    if (!an) cr_assert_eq(canon__u8(lt)[i], (double)a < f);
    /* (b > 0) OR (a IS NULL): NULL only when b is NULL and a is not. */
    cr_assert_eq(canon__valid(kl, i), !(bn && !an), "row %lld", (long long)i);
    if (canon__valid(kl, i)) cr_assert_eq(canon__u8(kl)[i], an || (!bn && b > 0));
    bool tv = !an && !bn && b != 0;
    cr_assert_eq(canon__valid(td, i), tv, "row %lld", (long long)i);
    if (tv) cr_assert_eq(canon__f64(td)[i], (double)a / (double)b);
  }
  canon__column_unref(sum);
  canon__column_unref(lt);
  canon__column_unref(kl);
  canon__column_unref(td);
  canon_table_free(t);
}

Test(expr, absurd_nesting_is_refused_not_a_crash) {
  canon_table *t = tbl("a:int64", "1\n");
  canon_expr *e = C("a");
  for (int i = 0; i < 20000; i++) e = canon_neg(e);
  cr_assert(e);
  char *s = canon_expr_to_string(e);
  cr_assert(s && strstr(s, "..."));
  free(s);
  bind_fails(t, e, false, CANON_ERR_UNSUPPORTED, "expression nested deeper than 10000 levels");
  /* Deep but allowed: evaluates. */
  e = C("a");
  for (int i = 0; i < 1000; i++) e = canon_neg(e);
  cr_assert_eq(one_i64(ok(t, e)), 1);
  canon_table_free(t);
}
