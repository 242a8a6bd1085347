/* Tests of the aggregates var, stddev, corr, median, quantile,
 * quantile_disc, count_distinct, any, all, of outputs that are expressions
 * over aggregates, and of drop_null_keys in the API (SEMANTICS §5).
 *
 * Every plan runs on the serial engine at 1, 2, 3 and 8 partitions and must
 * give the same text (floats print in shortest round-trip form, so equal
 * text means equal bits).  Expected values are worked out from §5: by hand,
 * or for the exact-rounding cases with exact rational arithmetic outside
 * canon (noted where used). */
#include "testutil.h"

#include <math.h>
#include <stdint.h>

#include "kernels.h"
#include "bigint.h"

static const int PARTS[] = {1, 2, 3, 8};

/* Aggregate the table (schema, rows) by keys with outputs (consumed) at
 * every partition count; returns the CSV with rows sorted after the header. */
static char *agg_opts(const char *schema, const char *rows, const char *const *keys, int nkeys,
                      canon_expr **outs, const char *const *names, int n, bool drop_null) {
  canon_error err;
  canon_error_clear(&err);
  canon_table *t = canon_table_from_csv_text(schema, rows, &err);
  cr_assert(t, "%s", err.message);
  char *first = NULL;
  for (size_t p = 0; p < sizeof PARTS / sizeof *PARTS; p++) {
    char engine[64];
    snprintf(engine, sizeof engine, "serial:partitions=%d", PARTS[p]);
    canon_session *s = tu_open(engine);
    canon_df *df = canon_from_table(s, t, &err);
    cr_assert(df, "%s", err.message);
    canon_expr *mine[16];
    for (int i = 0; i < n; i++) mine[i] = canon_expr_ref(outs[i]);
    canon_aggregate_options o = {.drop_null_keys = drop_null};
    df = canon_aggregate_opts(df, keys, nkeys, mine, names, n, &o, &err);
    cr_assert(df, "aggregate: %s", err.message);
    char *csv = tu_collect_csv(df);
    char *sorted = tu_sorted_lines(csv);
    free(csv);
    canon_session_close(s);
    if (!first) {
      first = sorted;
    } else {
      cr_assert_str_eq(sorted, first, "partitions=%d differs from partitions=1", PARTS[p]);
      free(sorted);
    }
  }
  for (int i = 0; i < n; i++) canon_expr_free(outs[i]);
  canon_table_free(t);
  return first;
}

static char *agg(const char *schema, const char *rows, const char *const *keys, int nkeys,
                 canon_expr **outs, const char *const *names, int n) {
  return agg_opts(schema, rows, keys, nkeys, outs, names, n, false);
}

static void expect(char *got, const char *want) {
  cr_assert_str_eq(got, want);
  free(got);
}

/* Building the aggregate must fail with code and a message containing want. */
static void build_fails(const char *schema, const char *const *keys, int nkeys, canon_expr *out,
                        int code, const char *want) {
  canon_error err;
  canon_error_clear(&err);
  canon_table *t = canon_table_from_csv_text(schema, "", &err);
  cr_assert(t, "%s", err.message);
  canon_session *s = tu_open("serial");
  canon_df *df = canon_from_table(s, t, &err);
  const char *names[] = {"out"};
  canon_df *r = canon_aggregate(df, keys, nkeys, &out, names, 1, &err);
  cr_assert_null(r);
  cr_assert_eq(err.code, code, "code %s: %s", canon_errcode_name(err.code), err.message);
  cr_assert(strstr(err.message, want), "message: %s\nwanted: %s", err.message, want);
  canon_session_close(s);
  canon_table_free(t);
}

#define C(n) canon_col(n)

/* ---- var, stddev ----------------------------------------------------------- */

Test(aggregate2, var_stddev_small_sets) {
  /* var(1,2,3,4) = 5/3; stddev its IEEE square root; one value: NULL;
   * var(0.1, 0.2, 0.3): the exact variance of the three doubles rounded
   * once (exact rational arithmetic: 0.009999999999999998). */
  const char *keys[] = {"k"};
  canon_expr *o[] = {canon_var(C("v")), canon_stddev(C("v")), canon_count(C("v"))};
  const char *names[] = {"var", "sd", "n"};
  expect(agg("k:string,v:float64",
             "a,1\na,2\nb,0.1\na,3\nb,0.2\na,4\nb,0.3\nc,7\nc,\nd,\n", keys, 1, o, names, 3),
         "k,var,sd,n\n"
         "a,1.6666666666666667,1.2909944487358056,4\n"
         "b,0.009999999999999998,0.09999999999999999,3\n"
         "c,,,1\n"
         "d,,,0\n");
}

Test(aggregate2, var_is_exact) {
  /* Cancellation: 1e16, 1e16+2, 1e16+4 have variance exactly 4.  Equal huge
   * values: 0 (a naive sum of squares overflows to inf - inf).  A variance
   * beyond the double range rounds to +inf (2e400), and so does stddev. */
  const char *keys[] = {"k"};
  canon_expr *o[] = {canon_var(C("v")), canon_stddev(C("v"))};
  const char *names[] = {"var", "sd"};
  expect(agg("k:string,v:float64",
             "a,1e16\na,10000000000000002\na,10000000000000004\n"
             "b,1e200\nb,1e200\nb,1e200\n"
             "c,1e200\nc,-1e200\n"
             "d,5e-324\nd,0\nd,1e-323\n"
             "e,-0.0\ne,0.0\n",
             keys, 1, o, names, 2),
         "k,var,sd\n"
         "a,4.0,2.0\n"
         "b,0.0,0.0\n"
         "c,inf,inf\n"
         "d,0.0,0.0\n"
         "e,0.0,0.0\n");
}

Test(aggregate2, var_of_int64_is_exact) {
  /* INT64_MAX, -1, -2: variance 1 (as doubles they would all be 2^63).
   * INT64_MIN and INT64_MAX: (2^127 - 2^64 + 1/2) rounds to 2^127. */
  const char *keys[] = {"k"};
  canon_expr *o[] = {canon_var(C("v")), canon_stddev(C("v"))};
  const char *names[] = {"var", "sd"};
  expect(agg("k:string,v:int64",
             "a,9223372036854775807\na,9223372036854775806\na,9223372036854775805\n"
             "b,-9223372036854775808\nb,9223372036854775807\n",
             keys, 1, o, names, 2),
         "k,var,sd\n"
         "a,1.0,1.0\n"
         "b,1.7014118346046923e+38,1.3043817825332783e+19\n");
}

Test(aggregate2, var_nan_and_inf) {
  /* Any NaN or infinity among two or more values gives NaN; one value (even
   * NaN) gives NULL; NULLs are skipped. */
  const char *keys[] = {"k"};
  canon_expr *o[] = {canon_var(C("v")), canon_stddev(C("v"))};
  const char *names[] = {"var", "sd"};
  expect(agg("k:string,v:float64",
             "a,1\na,inf\nb,NaN\nb,2\nc,NaN\nc,\nd,-inf\nd,-inf\n", keys, 1, o, names, 2),
         "k,var,sd\n"
         "a,NaN,NaN\n"
         "b,NaN,NaN\n"
         "c,,\n"
         "d,NaN,NaN\n");
}

Test(aggregate2, var_without_keys_and_empty) {
  canon_expr *o[] = {canon_var(C("v")), canon_corr(C("v"), C("v")), canon_median(C("v")),
                     canon_count_distinct(C("v"))};
  const char *names[] = {"var", "corr", "median", "nd"};
  expect(agg("v:float64", "", NULL, 0, o, names, 4), "var,corr,median,nd\n,,,0\n");
}

/* ---- corr ---------------------------------------------------------------- */

Test(aggregate2, corr_rules) {
  /* a: y = 2x -> 1; b: y = -x -> -1; c: constant y -> 0/0 = NaN; d: only
   * one complete pair -> NULL; e: NaN -> NaN; f: 1,2,3,4 vs 1,3,2,5:
   * c = 4/3, vx = 5/3, vy = 35/12 -> 0.8315218406202999 (the §5 formula in
   * float64 over the exactly rounded moments). */
  const char *keys[] = {"k"};
  canon_expr *o[] = {canon_corr(C("x"), C("y"))};
  const char *names[] = {"r"};
  expect(agg("k:string,x:float64,y:int64",
             "a,1,2\na,2,4\na,3,6\n"
             "b,1,-1\nb,2,-2\nb,3,-3\n"
             "c,1,5\nc,2,5\nc,3,5\n"
             "d,1,\nd,,2\nd,3,4\n"
             "e,NaN,1\ne,2,2\n"
             "f,1,1\nf,2,3\nf,3,2\nf,4,5\n",
             keys, 1, o, names, 1),
         "k,r\na,1.0\nb,-1.0\nc,NaN\nd,\ne,NaN\nf,0.8315218406202999\n");
}

/* ---- median, quantile ------------------------------------------------------ */

Test(aggregate2, median_rules) {
  /* §5 examples: median(-1.7e308, 1.7e308) = 0, median(-inf, 1) = -inf, a
   * NaN at hi gives NaN; int64 is converted first; -0.0 comes out as 0.0. */
  const char *keys[] = {"k"};
  canon_expr *o[] = {canon_median(C("v"))};
  const char *names[] = {"m"};
  expect(agg("k:string,v:float64",
             "a,-1.7e308\na,1.7e308\nb,1\nb,-inf\nc,NaN\nc,1\nd,-0.0\ne,\n"
             "f,3\nf,1\nf,2\ng,NaN\ng,NaN\n",
             keys, 1, o, names, 1),
         "k,m\na,0.0\nb,-inf\nc,NaN\nd,0.0\ne,\nf,2.0\ng,NaN\n");
  canon_expr *o2[] = {canon_median(C("v"))};
  expect(agg("k:string,v:int64", "a,1\na,2\nb,9223372036854775807\nb,9223372036854775806\n",
             keys, 1, o2, names, 1),
         "k,m\na,1.5\nb,9.223372036854776e+18\n");
}

Test(aggregate2, quantile_interpolation_methods) {
  /* 1,2,3,4 at p = 0.5: h = 1.5 between 2 and 3; nearest rounds h half to
   * even (2 -> x[2] = 3).  10,20,30,40 at p = 0.25: h = 0.75.
   * 1..6 at p = 0.5: h = 2.5, nearest -> x[2] = 3. */
  const char *keys[] = {"k"};
  const char *methods[] = {"linear", "lower", "higher", "midpoint", "nearest"};
  canon_expr *o[6];
  const char *names[] = {"linear", "lower", "higher", "midpoint", "nearest", "default"};
  for (int round = 0; round < 3; round++) {
    double p = round == 1 ? 0.25 : 0.5;
    for (int m = 0; m < 5; m++) o[m] = canon_quantile(C("v"), p, methods[m]);
    o[5] = canon_quantile(C("v"), p, NULL);
    const char *rows = round == 0   ? "a,4\na,1\na,3\na,2\n"
                       : round == 1 ? "a,40\na,10\na,30\na,20\n"
                                    : "a,6\na,5\na,4\na,3\na,2\na,1\n";
    const char *want = round == 0   ? "k,linear,lower,higher,midpoint,nearest,default\n"
                                      "a,2.5,2.0,3.0,2.5,3.0,2.5\n"
                       : round == 1 ? "k,linear,lower,higher,midpoint,nearest,default\n"
                                      "a,17.5,10.0,20.0,15.0,20.0,17.5\n"
                                    : "k,linear,lower,higher,midpoint,nearest,default\n"
                                      "a,3.5,3.0,4.0,3.5,3.0,3.5\n";
    expect(agg("k:string,v:int64", rows, keys, 1, o, names, 6), want);
  }
}

Test(aggregate2, quantile_ends_and_equal_neighbours) {
  /* p = 0 and 1 are min and max; equal neighbours give x[lo] itself even
   * for infinities (inf·(1-d) + inf·d would be fine, but -inf at both is
   * kept rather than computed). */
  const char *keys[] = {"k"};
  canon_expr *o[] = {canon_quantile(C("v"), 0, "linear"), canon_quantile(C("v"), 1, "linear"),
                     canon_quantile(C("v"), 0.3, "linear")};
  const char *names[] = {"q0", "q1", "q3"};
  expect(agg("k:string,v:float64", "a,5\na,-inf\na,-inf\na,NaN\n", keys, 1, o, names, 3),
         "k,q0,q1,q3\na,-inf,NaN,-inf\n");
}

Test(aggregate2, quantile_disc_rules) {
  /* x[max(0, ceil(n·p) - 1)]: p = 0.1 over 10 values picks the first
   * (10 · 0.1 = 1.0 in float64); the input type is kept. */
  const char *keys[] = {"k"};
  canon_expr *o[] = {canon_quantile_disc(C("v"), 0.1), canon_quantile_disc(C("v"), 0.5),
                     canon_quantile_disc(C("v"), 0), canon_quantile_disc(C("v"), 1),
                     canon_quantile_disc(C("v"), 0.11)};
  const char *names[] = {"p10", "p50", "p0", "p100", "p11"};
  expect(agg("k:string,v:int64",
             "a,10\na,9\na,8\na,7\na,6\na,5\na,4\na,3\na,2\na,1\nb,\n", keys, 1, o, names, 5),
         "k,p10,p50,p0,p100,p11\na,1,5,1,10,2\nb,,,,,\n");
  canon_expr *o2[] = {canon_quantile_disc(C("s"), 0.5), canon_quantile_disc(C("f"), 0.5)};
  const char *names2[] = {"s", "f"};
  expect(agg("k:string,s:string,f:float64", "a,b,-0.0\na,a,-0.0\na,c,1\n", keys, 1, o2, names2, 2),
         "k,s,f\na,b,0.0\n");
}

Test(aggregate2, quantile_needs_literal_p) {
  const char *keys[] = {"k"};
  build_fails("k:string,v:float64", keys, 1, canon_quantile(C("v"), 1.5, "linear"),
              CANON_ERR_INVALID, "p must be a number literal in [0, 1]");
  build_fails("k:string,v:float64", keys, 1, canon_quantile(C("v"), NAN, "linear"),
              CANON_ERR_INVALID, "p must be a number literal in [0, 1]");
  build_fails("k:string,v:float64", keys, 1, canon_quantile_disc(C("v"), -0.5), CANON_ERR_INVALID,
              "p must be a number literal in [0, 1]");
  build_fails("k:string,v:float64", keys, 1, canon_quantile(C("v"), 0.5, "cubic"),
              CANON_ERR_INVALID, "interpolation must be");
  build_fails("k:string,v:string", keys, 1, canon_median(C("v")), CANON_ERR_TYPE,
              "cannot apply median to string");
  build_fails("k:string,v:int64", keys, 1, canon_any(C("v")), CANON_ERR_TYPE,
              "cannot apply any to int64");
  build_fails("k:string,v:int64", keys, 1, canon_corr(C("v"), C("k")), CANON_ERR_TYPE,
              "cannot apply corr to int64 and string");
}

/* ---- count_distinct, any, all ---------------------------------------------- */

Test(aggregate2, count_distinct_rules) {
  /* NULL ignored; NaN once; -0.0 and 0.0 once; no values: 0. */
  const char *keys[] = {"k"};
  canon_expr *o[] = {canon_count_distinct(C("f")), canon_count_distinct(C("s"))};
  const char *names[] = {"nf", "ns"};
  expect(agg("k:string,f:float64,s:string",
             "a,NaN,x\na,-0.0,y\na,,\na,0.0,x\na,NaN,\na,1.5,\"\"\na,1.5,y\nb,,\n", keys, 1, o,
             names, 2),
         "k,nf,ns\na,3,3\nb,0,0\n");
}

Test(aggregate2, any_all_rules) {
  const char *keys[] = {"k"};
  canon_expr *o[] = {canon_any(C("b")), canon_all(C("b"))};
  const char *names[] = {"any", "all"};
  expect(agg("k:string,b:bool",
             "a,true\na,\na,false\nb,true\nb,\nc,\nd,false\nd,false\n", keys, 1, o, names, 2),
         "k,any,all\na,true,false\nb,true,true\nc,,\nd,false,false\n");
}

/* ---- expressions over aggregates ------------------------------------------ */

Test(aggregate2, expressions_over_aggregates) {
  /* max(v1) - min(v2), sum/count, a key outside the aggregates, a key-only
   * output, an aggregate used twice (computed once), a literal output. */
  const char *keys[] = {"k"};
  canon_expr *o[] = {
      canon_sub(canon_max(C("v1")), canon_min(C("v2"))),
      canon_div(canon_sum(C("v1")), canon_count(C("v1"))),
      canon_add(C("k"), canon_sum(C("v1"))),
      canon_mul(C("k"), canon_lit_int64(2)),
      canon_mul(canon_max(C("v1")), canon_max(C("v1"))),
      canon_lit_string("x"),
  };
  const char *names[] = {"range", "avg", "k_plus", "k2", "sq", "lit"};
  expect(agg("k:int64,v1:int64,v2:int64", "1,5,2\n1,7,3\n2,-1,10\n1,,0\n", keys, 1, o, names, 6),
         "k,range,avg,k_plus,k2,sq,lit\n"
         "1,7,6.0,13,2,49,x\n"
         "2,-11,-1.0,1,4,1,x\n");
}

Test(aggregate2, expression_errors_name_the_expression) {
  const char *keys[] = {"k"};
  build_fails("k:string,v:int64", keys, 1, canon_add(C("v"), canon_sum(C("v"))), CANON_ERR_PLAN,
              "column 'v' must be a group key or inside an aggregate call");
  build_fails("k:string,v:int64", keys, 1, canon_sum(canon_max(C("v"))), CANON_ERR_TYPE,
              "cannot be nested inside another aggregate");
  /* Overflow in the outer expression at run time names it. */
  canon_error err;
  canon_error_clear(&err);
  canon_table *t =
      canon_table_from_csv_text("v:int64", "9223372036854775807\n-9223372036854775808\n", &err);
  canon_session *s = tu_open("serial:partitions=2");
  canon_df *df = canon_from_table(s, t, &err);
  canon_expr *o[] = {canon_sub(canon_max(C("v")), canon_min(C("v")))};
  const char *names[] = {"range"};
  df = canon_aggregate(df, NULL, 0, o, names, 1, &err);
  cr_assert(df, "%s", err.message);
  cr_assert_null(canon_collect(df, &err));
  cr_assert_eq(err.code, CANON_ERR_OVERFLOW, "%s", err.message);
  cr_assert(strstr(err.message, "(max(v) - min(v))"), "%s", err.message);
  canon_session_close(s);
  canon_table_free(t);
}

Test(aggregate2, drop_null_keys_option) {
  const char *keys[] = {"k", "j"};
  canon_expr *o[] = {canon_count_star(), canon_median(C("v"))};
  const char *names[] = {"n", "m"};
  expect(agg_opts("k:string,j:int64,v:float64", "a,1,1\na,,2\n,1,3\na,1,4\n,,5\n", keys, 2, o,
                  names, 2, true),
         "k,j,n,m\na,1,2,2.5\n");
  canon_expr *o2[] = {canon_count_star(), canon_median(C("v"))};
  expect(agg_opts("k:string,j:int64,v:float64", "a,1,1\na,,2\n,1,3\na,1,4\n,,5\n", keys, 2, o2,
                  names, 2, false),
         "k,j,n,m\n,,1,5.0\n,1,1,3.0\na,,1,2.0\na,1,2,2.5\n");
}

/* Many rows, many groups: every partition count gives the same bits. */
Test(aggregate2, same_bits_at_every_partition_count) {
  size_t cap = 1 << 20, at = 0;
  char *rows = malloc(cap);
  uint64_t st = 12345;
  for (int i = 0; i < 3000; i++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    double v = (double)(int64_t)(st >> 20) * 1e-7 * ((st & 1) ? 1e12 : 1e-3);
    at += (size_t)snprintf(rows + at, cap - at, "%d,%.17g,%lld,%s\n", (int)(st % 37), v,
                           (long long)((int64_t)(st >> 40) - 5000), (st >> 7) & 1 ? "true" : "false");
  }
  const char *keys[] = {"k"};
  canon_expr *o[] = {canon_var(C("v")),          canon_stddev(C("i")),
                     canon_corr(C("v"), C("i")), canon_median(C("v")),
                     canon_quantile(C("i"), 0.37, "nearest"), canon_quantile_disc(C("v"), 0.9),
                     canon_count_distinct(C("i")), canon_any(C("b")), canon_all(C("b")),
                     canon_sub(canon_max(C("v")), canon_mean(C("v")))};
  const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
  free(agg("k:int64,v:float64,i:int64,b:bool", rows, keys, 1, o, names, 10));
  free(rows);
}

/* ---- the small-int64 path of var, stddev, corr ---------------------------- */

/* The state bytes of a 128-bit sum equal an accumulator's. */
Test(aggregate2, wacc_serialize_i128_matches_the_accumulator) {
  uint64_t st = 31;
  for (int t = 0; t < 20000; t++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t a = st ^ (st >> 29);
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t b = st ^ (st >> 31);
    canon__i128 v = (canon__i128)(((canon__u128)a << 64) | b);
    switch (t % 6) {
    case 0: v >>= a % 127; break;
    case 1: v = (canon__i128)(int64_t)b >> (a % 64); break;
    case 2: v = t % 12 == 2 ? 0 : (t % 12 == 8 ? -1 : 1); break;
    case 3: v = (canon__i128)((canon__u128)1 << 127); break; /* the most negative */
    default: break;
    }
    int pos = t % 3 == 0 ? 1074 : t % 3 == 1 ? 2148 : (int)(b % 4000);
    canon__wacc w;
    canon__wacc_init(&w);
    bool neg = v < 0;
    canon__wacc_add(&w, neg ? (canon__u128)0 - (canon__u128)v : (canon__u128)v, pos, neg);
    uint8_t want[CANON__WACC_MAX_BYTES], got[CANON__WACC_MAX_BYTES];
    size_t wl = canon__wacc_serialize(&w, want), gl = canon__wacc_serialize_i128(v, pos, got);
    cr_assert_eq(gl, wl, "case %d", t);
    cr_assert(!memcmp(got, want, wl), "case %d: bytes differ", t);
  }
}

/* Field f (0-based) of a CSV line, copied into out. */
static void csv_field(const char *line, int f, char *out, size_t cap) {
  for (; f > 0; f--) line = strchr(line, ',') + 1;
  size_t n = strcspn(line, ",\n");
  cr_assert_lt(n, cap);
  memcpy(out, line, n);
  out[n] = '\0';
}

/* Groups of int64 values within 2^31 take a 128-bit path, others (and
 * float64 values) the wide accumulators: the same integers given as int64
 * and as float64 must give the same bits, whichever path a partition's
 * group takes (values at and just past the 2^31 limit, large values, NULLs,
 * one-row and all-NULL groups, mixed int64 and float64 arguments). */
static void small_ints_vs_floats(bool only_small) {
  size_t cap = 1 << 21, at = 0;
  char *rows = malloc(cap);
  uint64_t st = 777;
  static const int64_t edge[] = {2147483648LL,  -2147483648LL, 2147483647LL, 2147483649LL,
                                 -2147483649LL, 4503599627370496LL, -9007199254740991LL, 0};
  for (int i = 0; i < 6000; i++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t r = st ^ (st >> 27);
    int k = (int)(r % 400);
    int64_t x, y;
    if (only_small && k % 5 < 2) {
      x = (int64_t)((r >> 16) % 4294967297ULL) - 2147483648LL; /* the whole small range */
      y = k % 5 ? 2147483648LL : -2147483648LL;
    } else if (k % 5 == 0) {
      x = edge[(r >> 12) % 8];
      y = edge[(r >> 20) % 8];
    } else if (k % 5 == 1) {
      x = (int64_t)(r >> 20) % 3000000000LL; /* beyond 2^31 now and then */
      y = -(int64_t)(r >> 30);
    } else {
      x = (int64_t)((r >> 16) % 2001) - 1000;
      y = (int64_t)((r >> 40) % 31) - 15;
    }
    char xs[32] = "", ys[32] = "";
    if ((r >> 50) % 9) snprintf(xs, sizeof xs, "%lld", (long long)x);
    if ((r >> 54) % 9) snprintf(ys, sizeof ys, "%lld", (long long)y);
    if (k == 399) xs[0] = '\0';           /* an all-NULL group */
    if (k == 398 && i % 2) continue;       /* a group with fewer rows */
    at += (size_t)snprintf(rows + at, cap - at, "%d,%s,%s,%s,%s\n", k, xs, ys, xs, ys);
  }
  /* A one-row group. */
  at += (size_t)snprintf(rows + at, cap - at, "1000,5,6,5,6\n");
  const char *keys[] = {"k"};
  canon_expr *o[] = {canon_var(C("xi")),           canon_var(C("xf")),
                     canon_stddev(C("yi")),        canon_stddev(C("yf")),
                     canon_corr(C("xi"), C("yi")), canon_corr(C("xf"), C("yf")),
                     canon_corr(C("xi"), C("yf"))};
  const char *names[] = {"a", "b", "c", "d", "e", "f", "g"};
  char *csv = agg("k:int64,xi:int64,yi:int64,xf:float64,yf:float64", rows, keys, 1, o, names, 7);
  int lines = 0, nonnull = 0;
  for (char *line = strchr(csv, '\n') + 1; *line; line = strchr(line, '\n') + 1, lines++) {
    char a[64], b[64];
    for (int f = 1; f <= 5; f += 2) {
      csv_field(line, f, a, sizeof a);
      csv_field(line, f + 1, b, sizeof b);
      cr_assert_str_eq(a, b, "columns %d and %d: %.60s", f, f + 1, line);
      nonnull += a[0] != '\0';
    }
    csv_field(line, 7, b, sizeof b);
    cr_assert_str_eq(a, b, "mixed corr: %.60s", line);
  }
  cr_assert_eq(lines, 401);
  cr_assert_gt(nonnull, 1000);
  free(csv);
  free(rows);
}

/* Some values beyond 2^31: groups take either path per partition. */
Test(aggregate2, small_int_moments_match_the_general_path) { small_ints_vs_floats(false); }

/* All values within 2^31: the one-pass array of 128-bit sums. */
Test(aggregate2, small_int_array_matches_the_general_path) { small_ints_vs_floats(true); }

/* ---- plan JSON -------------------------------------------------------------- */

Test(aggregate2, plan_json_round_trip) {
  canon_error err;
  canon_error_clear(&err);
  canon_table *t = canon_table_from_csv_text("k:string,v:float64,i:int64,b:bool",
                                             "a,1.5,2,true\nb,,3,\na,2.5,4,false\n", &err);
  canon_session *s = tu_open("serial:partitions=3");
  canon_df *df = canon_from_table(s, t, &err);
  const char *keys[] = {"k"};
  canon_expr *o[] = {canon_var(C("v")),
                     canon_stddev(C("i")),
                     canon_corr(C("v"), C("i")),
                     canon_median(C("v")),
                     canon_quantile(C("v"), 0.25, "midpoint"),
                     canon_quantile_disc(C("i"), 0.5),
                     canon_count_distinct(C("i")),
                     canon_any(C("b")),
                     canon_all(C("b")),
                     canon_sub(canon_max(C("v")), canon_min(C("i")))};
  const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
  canon_aggregate_options opts = {.drop_null_keys = 1};
  df = canon_aggregate_opts(df, keys, 1, o, names, 10, &opts, &err);
  cr_assert(df, "%s", err.message);
  char *json = canon_plan_to_json(df, NULL, &err);
  cr_assert(json, "%s", err.message);
  cr_assert(strstr(json, "\"quantile\""), "%s", json);
  cr_assert(strstr(json, "\"midpoint\""), "%s", json);
  cr_assert(strstr(json, "\"drop_null_keys\":\ttrue"), "%s", json);
  char *direct = tu_collect_csv(df);

  canon_session *s2 = tu_open("serial:partitions=2");
  canon_df *root = NULL;
  cr_assert_eq(canon_plan_from_json(s2, json, "plan.json", &root, NULL, &err), 0, "%s",
               err.message);
  char *again = canon_plan_to_json(root, NULL, &err);
  cr_assert_str_eq(again, json);
  char *loaded = tu_collect_csv(root);
  char *a = tu_sorted_lines(direct), *b = tu_sorted_lines(loaded);
  cr_assert_str_eq(a, b);
  free(a);
  free(b);
  free(direct);
  free(loaded);
  free(again);
  free(json);
  canon_session_close(s2);
  canon_session_close(s);
  canon_table_free(t);
}

Test(aggregate2, plan_json_quantile_default_and_errors) {
  /* quantile with two arguments reads as "linear" (written back with all
   * three); a p outside [0, 1] is refused when the plan loads. */
  canon_error err;
  canon_error_clear(&err);
  canon_table *t = canon_table_from_csv_text("v:float64", "1\n2\n", &err);
  canon_session *s = tu_open("serial");
  canon_df *df = canon_from_table(s, t, &err);
  canon_expr *o[] = {canon_quantile(C("v"), 0.5, "linear")};
  const char *names[] = {"q"};
  df = canon_aggregate(df, NULL, 0, o, names, 1, &err);
  char *json = canon_plan_to_json(df, NULL, &err);
  cr_assert(json, "%s", err.message);
  /* Drop the third argument: ", {...linear...}" up to the closing bracket. */
  char *lin = strstr(json, "\"linear\"");
  cr_assert(lin, "%s", json);
  char *open = lin;
  while (open > json && *open != '{') open--;
  char *comma = open;
  while (comma > json && *comma != ',') comma--;
  char *close = strchr(lin, '}');
  size_t len = strlen(json);
  char *two = malloc(len + 1);
  size_t head = (size_t)(comma - json);
  memcpy(two, json, head);
  strcpy(two + head, close + 1);
  canon_session *s2 = tu_open("serial");
  canon_df *root = NULL;
  cr_assert_eq(canon_plan_from_json(s2, two, "plan.json", &root, NULL, &err), 0, "%s\n%s",
               err.message, two);
  char *again = canon_plan_to_json(root, NULL, &err);
  cr_assert_str_eq(again, json);
  free(again);
  char *bad = strdup(json);
  char *p = strstr(bad, "\"0.5\"");
  cr_assert(p, "%s", bad);
  memcpy(p, "\"1.5\"", 5);
  canon_df *r2 = NULL;
  cr_assert_neq(canon_plan_from_json(s2, bad, "plan.json", &r2, NULL, &err), 0);
  cr_assert(strstr(err.message, "p must be a number literal"), "%s", err.message);
  free(bad);
  free(two);
  free(json);
  canon_session_close(s2);
  canon_session_close(s);
  canon_table_free(t);
}

/* Partitions whose keys are nearly all distinct skip partial grouping (each
 * row becomes its own partial group, the final step merges equal keys).
 * 80 000 rows: at partitions=1 the partition is big enough to be judged and
 * takes that path; at 2, 3 and 8 it is too small and groups as usual, so
 * agg_opts's comparison across partition counts checks the shortcut.  Keys
 * repeat a little (a few groups of 2–3 rows) and include NULL, both with
 * and without drop_null_keys. */
Test(aggregate2, distinct_keys_skip_partial_grouping) {
  size_t cap = 80000 * 64, n = 0;
  char *rows = malloc(cap);
  uint64_t st = 7;
  for (int i = 0; i < 80000; i++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    int k = (st >> 40) % 50 == 0 ? i / 3 : i;  /* 2% share a key with a neighbour */
    int v = (int)((st >> 20) % 1000) - 500;
    if (i % 997 == 5)
      n += (size_t)snprintf(rows + n, cap - n, ",%d,\n", v);
    else
      n += (size_t)snprintf(rows + n, cap - n, "k%d,%d,%d.%03d\n", k, v, v, i % 1000);
  }
  const char *keys[] = {"k"};
  const char *names[] = {"s", "n", "m", "lo", "hi", "med", "sd", "sf"};
  for (int drop = 0; drop <= 1; drop++) {
    canon_expr *outs[] = {canon_sum(canon_col("v")), canon_count_star(),
                          canon_mean(canon_col("f")), canon_min(canon_col("f")),
                          canon_max(canon_col("v")), canon_median(canon_col("f")),
                          canon_stddev(canon_col("v")), canon_sum(canon_col("f"))};
    char *got = agg_opts("k:string,v:int64,f:float64", rows, keys, 1, outs, names, 8, drop);
    free(got);
  }
  /* partitions=1 really took the shortcut: the partial stage emits a row
   * per input row instead of one per key. */
  canon_error err;
  canon_table *t = canon_table_from_csv_text("k:string,v:int64,f:float64", rows, &err);
  cr_assert(t, "%s", err.message);
  canon_session *s = tu_open("serial:partitions=1");
  canon_df *df = canon_from_table(s, t, &err);
  canon_expr *outs[] = {canon_sum(canon_col("v"))};
  const char *one[] = {"s"};
  df = canon_aggregate(df, keys, 1, outs, one, 1, &err);
  cr_assert(df, "%s", err.message);
  canon_table *res = canon_collect(df, &err);
  cr_assert(res, "%s", err.message);
  canon_stats *stats;
  cr_assert_eq(canon_session_last_stats(s, &stats, &err), 0, "%s", err.message);
  cr_assert_eq(canon_stats_stage(stats, 0)->rows_out, 80000);
  cr_assert_lt(canon_table_num_rows(res), 80000);
  canon_stats_free(stats);
  canon_table_free(res);
  canon_session_close(s);
  canon_table_free(t);
  free(rows);
}
