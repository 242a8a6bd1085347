/* test_setops.c — set operations and distinct (SEMANTICS §3, §7):
 * union_all order, §3 equality (NULL = NULL, NaN = NaN, -0.0 = 0.0) and
 * canonical output values, multiplicities of intersect_all / except_all,
 * schema checks, distinct keeping the first row, and plan JSON.  Every
 * plan runs on every engine at partitions 1, 2, 3 and 8; expectations are
 * written by hand. */
#include "joins_testutil.h"

#include <math.h>

/* ---- union_all ------------------------------------------------------------- */

static canon_df *plan_union_all(canon_session *s, const void *arg) {
  (void)arg;
  canon_df *a = jt_src(s, "k:int64,v:string", "5,a\n3,b\n9,c\n1,d\n7,e\n");
  canon_df *b = jt_src(s, "n:int64,w:string", "2,f\n8,g\n4,h\n6,i\n");
  canon_error err;
  canon_df *u = canon_union_all(a, b, &err);
  cr_assert(u, "%s", err.message);
  /* A second level, and an order-keeping step on top. */
  canon_df *c = jt_src(s, "k:int64,v:string", "0,j\n");
  canon_df *u2 = canon_union_all(u, c, &err);
  cr_assert(u2, "%s", err.message);
  canon_df *f = canon_filter(u2, canon_ne(canon_col("v"), canon_lit_string("e")), &err);
  cr_assert(f, "%s", err.message);
  return f;
}

Test(setops, union_all_keeps_order_and_takes_names_from_the_first) {
  char *got = jt_run(plan_union_all, NULL, false);
  cr_assert_str_eq(got, "k,v\n5,a\n3,b\n9,c\n1,d\n2,f\n8,g\n4,h\n6,i\n0,j\n");
  free(got);
}

static canon_df *plan_union_all_sorted(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  canon_sort_key k = {.column = "k", .descending = 1};
  canon_df *a = canon_sort(jt_src(s, "k:int64", "1\n3\n2\n"), &k, 1, &err);
  canon_df *b = canon_sort(jt_src(s, "k:int64", "6\n4\n5\n"), &k, 1, &err);
  canon_df *u = canon_union_all(a, b, &err);
  cr_assert(u, "%s", err.message);
  return canon_limit(u, 5, &err);
}

Test(setops, union_all_of_sorted_inputs_then_limit) {
  char *got = jt_run(plan_union_all_sorted, NULL, false);
  cr_assert_str_eq(got, "k\n3\n2\n1\n6\n5\n");
  free(got);
}

/* ---- union, intersect, except (and _all) -------------------------------------- */

typedef struct setcase {
  canon_df *(*op)(canon_df *, canon_df *, canon_error *);
} setcase;

/* Counts per row: a holds x3 y1 z2 NULL2 NaN1 -0.0; b holds x2 y2 NULL1
 * w1 NaN1 +0.0. */
static canon_df *plan_multi(canon_session *s, const void *arg) {
  const setcase *c = arg;
  canon_df *a = jt_src(s, "v:string,f:float64",
                       "x,1.0\nx,1.0\nz,2.0\ny,3.0\n,\nx,1.0\nz,2.0\n,\nn,NaN\nq,-0.0\n");
  canon_df *b = jt_src(s, "v2:string,f2:float64", "y,3.0\nx,1.0\nw,4.0\n,\ny,3.0\nx,1.0\nn,NaN\nq,0.0\n");
  canon_error err;
  canon_df *d = c->op(a, b, &err);
  cr_assert(d, "%s", err.message);
  return d;
}

Test(setops, multiplicities_and_equality) {
  /* q: -0.0 and 0.0 are one value, written canonically as 0.0. */
  setcase c = {canon_union};
  jt_expect(plan_multi, &c, "v,f\nx,1.0\nz,2.0\ny,3.0\n,\nn,NaN\nq,0.0\nw,4.0\n");
  c.op = canon_intersect;
  jt_expect(plan_multi, &c, "v,f\nx,1.0\ny,3.0\n,\nn,NaN\nq,0.0\n");
  c.op = canon_intersect_all; /* min(m, n) copies */
  jt_expect(plan_multi, &c, "v,f\nx,1.0\nx,1.0\ny,3.0\n,\nn,NaN\nq,0.0\n");
  c.op = canon_except;
  jt_expect(plan_multi, &c, "v,f\nz,2.0\n");
  c.op = canon_except_all; /* max(m - n, 0) copies */
  jt_expect(plan_multi, &c, "v,f\nx,1.0\nz,2.0\nz,2.0\n,\n");
}

static canon_df *plan_empty_side(canon_session *s, const void *arg) {
  const setcase *c = arg;
  canon_df *a = jt_src(s, "v:int64", "1\n1\n2\n");
  canon_df *b = jt_src(s, "v:int64", "");
  canon_error err;
  canon_df *d = c->op(a, b, &err);
  cr_assert(d, "%s", err.message);
  return d;
}

Test(setops, empty_second_input) {
  setcase c = {canon_union};
  jt_expect(plan_empty_side, &c, "v\n1\n2\n");
  c.op = canon_intersect_all;
  jt_expect(plan_empty_side, &c, "v\n");
  c.op = canon_except_all;
  jt_expect(plan_empty_side, &c, "v\n1\n1\n2\n");
  c.op = canon_union_all;
  char *got = jt_run(plan_empty_side, &c, false);
  cr_assert_str_eq(got, "v\n1\n1\n2\n");
  free(got);
}

/* NaN payloads and -0.0 become one canonical value in the output. */
static canon_df *plan_canonical(canon_session *s, const void *arg) {
  const setcase *c = arg;
  canon_error err;
  canon_schema *sch = canon_schema_parse("f:float64", &err);
  canon_builder *b = canon_builder_new(sch, &err);
  uint64_t bits[] = {UINT64_C(0xfff8000000000001), UINT64_C(0x8000000000000000)};
  for (int i = 0; i < 2; i++) {
    double d;
    memcpy(&d, &bits[i], sizeof d);
    cr_assert_eq(canon_builder_append_float64(b, 0, d), 0);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_df *a = canon_from_table(s, t, &err);
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(sch);
  canon_df *other = jt_src(s, "f:float64", "NaN\n0.0\n");
  canon_df *d = c->op ? c->op(a, other, &err) : canon_distinct(a, NULL, 0, &err);
  cr_assert(d, "%s", err.message);
  return d;
}

Test(setops, float_output_is_canonical) {
  canon_df *(*ops[])(canon_df *, canon_df *, canon_error *) = {canon_union, canon_intersect,
                                                                 canon_intersect_all, NULL};
  for (int i = 0; i < 4; i++) {
    setcase c = {ops[i]};
    canon_session *s = tu_open("serial:partitions=2");
    canon_error err;
    canon_table *t = canon_collect(plan_canonical(s, &c), &err);
    cr_assert(t, "%s", err.message);
    cr_assert_eq(canon_table_num_rows(t), 2);
    for (int64_t r = 0; r < 2; r++) {
      double d = canon_table_get_float64(t, 0, r);
      uint64_t b;
      memcpy(&b, &d, sizeof b);
      cr_assert(b == UINT64_C(0x7ff8000000000000) || b == 0, "op %d row %lld: bits %llx", i,
                (long long)r, (unsigned long long)b);
    }
    canon_table_free(t);
    canon_session_close(s);
  }
}

Test(setops, schemas_must_line_up) {
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_df *a = jt_src(s, "k:int64,v:string,w:float64", "1,a,1.0\n");
  canon_df *b = jt_src(s, "k:int64,v:int64,w:string", "1,2,x\n");
  canon_df *c = jt_src(s, "k:int64,v:string", "1,a\n");
  cr_assert_null(canon_union_all(a, b, &err));
  cr_assert_eq(err.code, CANON_ERR_TYPE);
  cr_assert(strstr(err.message, "column 2 differs: 'v' is string in the first input, 'v' is "
                                "int64 in the second"),
            "%s", err.message);
  cr_assert(strstr(err.message, "union_all node"), "%s", err.message);
  cr_assert_null(canon_except(a, c, &err));
  cr_assert(strstr(err.message, "have 3 and 2 columns"), "%s", err.message);
  cr_assert(strstr(err.message, "'w'"), "%s", err.message);
  cr_assert_null(canon_intersect(NULL, c, &err));
  cr_assert(strstr(err.message, "first input is NULL"), "%s", err.message);
  canon_session_close(s);
}

/* ---- distinct ------------------------------------------------------------------ */

static char *mod_rows(int n, int mod) {
  char *buf = malloc((size_t)n * 32 + 1);
  size_t at = 0;
  for (int i = 0; i < n; i++) at += (size_t)sprintf(buf + at, "%d,%d\n", (i * 7 + 3) % mod, i);
  buf[at] = '\0';
  return buf;
}

static canon_df *plan_distinct_subset(canon_session *s, const void *arg) {
  (void)arg;
  char *rows = mod_rows(100, 9);
  canon_df *t = jt_src(s, "k:int64,i:int64", rows);
  free(rows);
  const char *sub[] = {"k"};
  canon_error err;
  canon_df *d = canon_distinct(t, sub, 1, &err);
  cr_assert(d, "%s", err.message);
  return d;
}

Test(setops, distinct_subset_keeps_the_first_row) {
  /* k = (7i + 3) mod 9 first takes each value at i = 0..8: k 3 at i 0,
   * 1 at 1, 8 at 2, 6 at 3, 4 at 4, 2 at 5, 0 at 6, 7 at 7, 5 at 8. */
  jt_expect(plan_distinct_subset, NULL, "k,i\n3,0\n1,1\n8,2\n6,3\n4,4\n2,5\n0,6\n7,7\n5,8\n");
}

static canon_df *plan_distinct_after_sort(canon_session *s, const void *arg) {
  (void)arg;
  canon_df *t = jt_src(s, "k:string,v:int64,f:float64",
                       "a,1,-0.0\nb,5,NaN\na,7,0.0\n,2,1.0\nb,3,2.0\n,9,3.0\nc,4,4.0\n");
  canon_sort_key key = {.column = "v", .descending = 1};
  canon_error err;
  canon_df *sorted = canon_sort(t, &key, 1, &err);
  const char *sub[] = {"k"};
  canon_df *d = canon_distinct(sorted, sub, 1, &err);
  cr_assert(d, "%s", err.message);
  return d;
}

Test(setops, distinct_after_a_sort_keeps_the_first_in_sorted_order) {
  /* First per k by v descending: NULL 9, a 7, b 5, c 4; the non-key f is
   * the kept row's own value. */
  jt_expect(plan_distinct_after_sort, NULL, "k,v,f\n,9,3.0\na,7,0.0\nb,5,NaN\nc,4,4.0\n");
}

static canon_df *plan_distinct_all(canon_session *s, const void *arg) {
  (void)arg;
  canon_df *t = jt_src(s, "k:string,f:float64", "a,-0.0\na,0.0\nb,NaN\n,\nb,NaN\n,\na,1.0\n");
  canon_error err;
  canon_df *d = canon_distinct(t, NULL, 0, &err);
  cr_assert(d, "%s", err.message);
  return d;
}

Test(setops, distinct_on_every_column) {
  /* -0.0 and 0.0 are one key, written canonically. */
  jt_expect(plan_distinct_all, NULL, "k,f\na,0.0\nb,NaN\n,\na,1.0\n");
}

Test(setops, distinct_canonical_key_over_a_negative_zero_first) {
  /* The first row of key a holds -0.0; as a key it comes out +0.0. */
  canon_session *s = tu_open("serial:partitions=3");
  canon_df *t = jt_src(s, "f:float64,v:int64", "-0.0,1\n0.0,2\n");
  const char *sub[] = {"f"};
  canon_error err;
  char *csv = tu_collect_csv(canon_distinct(t, sub, 1, &err));
  cr_assert_str_eq(csv, "f,v\n0.0,1\n");
  free(csv);
  canon_session_close(s);
}

Test(setops, distinct_errors) {
  canon_session *s = tu_open("serial");
  canon_df *t = jt_src(s, "k:int64", "1\n");
  canon_error err;
  const char *bad[] = {"nope"}, *twice[] = {"k", "k"};
  cr_assert_null(canon_distinct(t, bad, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_NOT_FOUND);
  cr_assert(strstr(err.message, "unknown distinct column 'nope'"), "%s", err.message);
  cr_assert_null(canon_distinct(t, twice, 2, &err));
  cr_assert(strstr(err.message, "given twice"), "%s", err.message);
  cr_assert_null(canon_distinct(NULL, NULL, 0, &err));
  canon_session_close(s);
}

/* ---- plan JSON -------------------------------------------------------------------- */

Test(setops, plan_json_round_trip_each_op) {
  canon_session *s = tu_open("serial:partitions=2");
  canon_df *(*ops[])(canon_df *, canon_df *, canon_error *) = {
      canon_union_all, canon_union, canon_intersect, canon_intersect_all, canon_except,
      canon_except_all};
  const char *names[] = {"union_all", "union", "intersect", "intersect_all", "except",
                         "except_all"};
  for (int i = 0; i < 6; i++) {
    setcase c = {ops[i]};
    char *json = jt_round_trip(plan_multi(s, &c), i != 0);
    char want[64];
    snprintf(want, sizeof want, "\"op\":\t\"%s\"", names[i]);
    cr_assert(strstr(json, want), "%s", json);
    cr_assert(strstr(json, "\"inputs\":\t[1, 2]"), "%s", json);
    free(json);
  }
  free(jt_round_trip(plan_distinct_after_sort(s, NULL), true));
  char *json = jt_round_trip(plan_distinct_all(s, NULL), true);
  cr_assert(strstr(json, "\"subset\":\t[]"), "%s", json);
  free(json);
  /* A union of a node with itself writes the node once. */
  canon_df *t = jt_src(s, "k:int64", "1\n2\n");
  canon_error err;
  json = jt_round_trip(canon_union_all(t, t, &err), false);
  cr_assert_eq(jt_count(json, "\"table\""), 1, "%s", json);
  free(json);
  canon_session_close(s);
}
