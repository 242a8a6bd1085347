/* test_testing.c — canon_testing.h: building tables and comparing them
 * (multiset, sequence, runs of ties) with readable diffs. */
#include "testutil.h"

#include "canon_testing.h"

#include <math.h>

static canon_table *tab(const char *schema, const char *rows) {
  canon_error err;
  canon_error_clear(&err);
  canon_table *t = canon_testing_table(schema, rows, &err);
  cr_assert(t, "canon_testing_table(%s): %s", schema, err.message);
  return t;
}

/* Compare and return the result; *diff_out gets the diff (or NULL). */
static int cmp(const char *schema_e, const char *rows_e, const char *schema_a, const char *rows_a,
               canon_testing_order order, const char *const *ties, int nties, char **diff_out) {
  canon_table *e = tab(schema_e, rows_e), *a = tab(schema_a, rows_a);
  char *diff = (char *)"unset";
  int rc = canon_testing_compare(e, a, order, ties, nties, &diff);
  canon_table_free(e);
  canon_table_free(a);
  if (rc == 0) cr_assert_null(diff, "no diff when equal");
  else cr_assert_not_null(diff, "a diff when different");
  if (diff_out) *diff_out = diff;
  else free(diff);
  return rc;
}

Test(testing, table_wrapper_reads_null_and_empty) {
  canon_table *t = tab("s:string,v:int64", "a,1\n\"\",\n,2\n");
  cr_assert_eq(canon_table_num_rows(t), 3);
  cr_assert_not(canon_table_is_null(t, 0, 1), "\"\" is the empty string");
  cr_assert(canon_table_is_null(t, 1, 1));
  cr_assert(canon_table_is_null(t, 0, 2));
  canon_table_free(t);
}

Test(testing, multiset_with_duplicates) {
  cr_assert_eq(cmp("k:string", "a\na\nb\n", "k:string", "b\na\na\n", CANON_TESTING_ANY, NULL, 0, NULL), 0);
  char *d;
  /* Same size, different multiplicities: one a missing, one b extra. */
  cr_assert_eq(cmp("k:string", "a\na\nb\n", "k:string", "a\nb\nb\n", CANON_TESTING_ANY, NULL, 0, &d), 1);
  cr_assert(strstr(d, "- [1] a\n"), "%s", d);
  cr_assert(strstr(d, "+ [2] b\n"), "%s", d);
  free(d);
  cr_assert_eq(cmp("k:string", "a\na\n", "k:string", "a\n", CANON_TESTING_ANY, NULL, 0, &d), 1);
  cr_assert(strstr(d, "expected 2 rows, got 1"), "%s", d);
  free(d);
}

Test(testing, exact_order) {
  cr_assert_eq(cmp("v:int64", "1\n2\n3\n", "v:int64", "1\n2\n3\n", CANON_TESTING_EXACT, NULL, 0, NULL), 0);
  char *d;
  cr_assert_eq(cmp("v:int64", "1\n2\n3\n", "v:int64", "1\n3\n2\n", CANON_TESTING_EXACT, NULL, 0, &d), 1);
  cr_assert(strstr(d, "the same 3 rows in another order"), "%s", d);
  /* The LCS keeps 1 and one of 2/3; only the moved row shows. */
  cr_assert(strstr(d, "- [") && strstr(d, "+ ["), "%s", d);
  free(d);
  /* The multiset comparison ignores the order. */
  cr_assert_eq(cmp("v:int64", "1\n2\n3\n", "v:int64", "1\n3\n2\n", CANON_TESTING_ANY, NULL, 0, NULL), 0);
}

Test(testing, exact_diff_text) {
  char *d;
  cr_assert_eq(cmp("k:string,v:int64", "a,1\nb,2\nc,3\n", "k:string,v:int64", "a,1\nc,3\nd,\n",
                   CANON_TESTING_EXACT, NULL, 0, &d), 1);
  cr_assert_str_eq(d,
                   "expected 3 rows, got 3 (order: exact); rows missing (-) and unexpected (+):\n"
                   "- [1] b,2\n"
                   "+ [2] d,NULL\n");
  free(d);
}

Test(testing, ties_runs_are_multisets) {
  const char *ties[] = {"n"};
  const char *e = "a,3\nb,2\nc,2\nd,1\ne,1\nf,1\n";
  cr_assert_eq(cmp("k:string,n:int64", e, "k:string,n:int64", "a,3\nc,2\nb,2\nf,1\nd,1\ne,1\n",
                   CANON_TESTING_TIES, ties, 1, NULL), 0);
  char *d;
  /* b (n=2) and d (n=1) swapped across runs. */
  cr_assert_eq(cmp("k:string,n:int64", e, "k:string,n:int64", "a,3\nd,1\nc,2\nb,2\ne,1\nf,1\n",
                   CANON_TESTING_TIES, ties, 1, &d), 1);
  cr_assert(strstr(d, "rows 1..2 (one run of ties) differ:"), "%s", d);
  cr_assert(strstr(d, "- [1] b,2"), "%s", d);
  cr_assert(strstr(d, "+ [1] d,1"), "%s", d);
  free(d);
  /* Exact order would reject the reordered tie. */
  cr_assert_eq(cmp("k:string,n:int64", e, "k:string,n:int64", "a,3\nc,2\nb,2\nf,1\nd,1\ne,1\n",
                   CANON_TESTING_EXACT, NULL, 0, NULL), 1);
}

Test(testing, ties_use_sort_equality) {
  /* -0.0 and 0.0 tie in a sort; so do NaNs and NULLs. */
  const char *ties[] = {"x"};
  cr_assert_eq(cmp("id:int64,x:float64", "1,0.0\n2,-0.0\n3,NaN\n4,NaN\n5,\n6,\n", "id:int64,x:float64",
                   "2,-0.0\n1,0.0\n4,NaN\n3,NaN\n6,\n5,\n", CANON_TESTING_TIES, ties, 1, NULL), 0);
}

Test(testing, nan_equal_negative_zero_different) {
  cr_assert_eq(cmp("x:float64", "NaN\n", "x:float64", "NaN\n", CANON_TESTING_EXACT, NULL, 0, NULL), 0);
  char *d;
  cr_assert_eq(cmp("x:float64", "0.0\n", "x:float64", "-0.0\n", CANON_TESTING_ANY, NULL, 0, &d), 1);
  cr_assert(strstr(d, "- [0] 0.0\n+ [0] -0.0\n"), "%s", d);
  free(d);
  /* A NaN with other bits (the negative NaN x86 makes for 0.0/0.0) is still NaN. */
  canon_error err;
  canon_schema *s = canon_schema_parse("x:float64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  volatile double zero = 0.0;
  cr_assert_eq(canon_builder_append_float64(b, 0, -(zero / zero)), 0);
  cr_assert_eq(canon_builder_append_float64(b, 0, zero / zero), 0);
  canon_table *odd = canon_builder_finish(b, &err);
  canon_table *nan2 = tab("x:float64", "NaN\nNaN\n");
  cr_assert_eq(canon_testing_compare(nan2, odd, CANON_TESTING_EXACT, NULL, 0, NULL), 0);
  canon_table_free(odd);
  canon_table_free(nan2);
  canon_builder_free(b);
  canon_schema_free(s);
  /* Bit-for-bit otherwise: neighbouring doubles differ. */
  cr_assert_eq(cmp("x:float64", "0.1\n", "x:float64", "0.10000000000000002\n", CANON_TESTING_ANY, NULL, 0, NULL), 1);
}

Test(testing, null_is_not_empty_string) {
  char *d;
  cr_assert_eq(cmp("s:string,t:string", "\"\",x\n", "s:string,t:string", ",x\n", CANON_TESTING_ANY, NULL, 0, &d), 1);
  cr_assert(strstr(d, "- [0] \"\",x\n"), "%s", d);
  cr_assert(strstr(d, "+ [0] NULL,x\n"), "%s", d);
  free(d);
  /* The string "NULL" is quoted so it cannot be mistaken for NULL. */
  cr_assert_eq(cmp("s:string", "NULL\n", "s:string", "\n", CANON_TESTING_ANY, NULL, 0, &d), 1);
  cr_assert(strstr(d, "- [0] \"NULL\"\n+ [0] NULL\n"), "%s", d);
  free(d);
}

Test(testing, schema_mismatch) {
  char *d;
  cr_assert_eq(cmp("k:string,v:int64", "a,1\n", "k:string,v:float64", "a,1\n", CANON_TESTING_ANY, NULL, 0, &d), 1);
  cr_assert_str_eq(d, "schema differs:\n- k:string,v:int64\n+ k:string,v:float64\n");
  free(d);
  cr_assert_eq(cmp("k:string", "a\n", "key:string", "a\n", CANON_TESTING_ANY, NULL, 0, &d), 1);
  cr_assert(strstr(d, "schema differs"), "%s", d);
  free(d);
  cr_assert_eq(cmp("k:string", "a\n", "k:string,v:int64", "a,1\n", CANON_TESTING_ANY, NULL, 0, NULL), 1);
}

Test(testing, empty_tables) {
  cr_assert_eq(cmp("v:int64", "", "v:int64", "", CANON_TESTING_EXACT, NULL, 0, NULL), 0);
  char *d;
  cr_assert_eq(cmp("v:int64", "", "v:int64", "7\n", CANON_TESTING_ANY, NULL, 0, &d), 1);
  cr_assert(strstr(d, "+ [0] 7\n"), "%s", d);
  free(d);
}

Test(testing, bad_arguments) {
  canon_table *t = tab("v:int64", "1\n");
  char *d = NULL;
  cr_assert_eq(canon_testing_compare(NULL, t, CANON_TESTING_ANY, NULL, 0, &d), -1);
  cr_assert(d && strstr(d, "NULL"), "%s", d ? d : "(no diff)");
  free(d);
  const char *ties[] = {"nope"};
  cr_assert_eq(canon_testing_compare(t, t, CANON_TESTING_TIES, ties, 1, &d), -1);
  cr_assert(d && strstr(d, "unknown tie key 'nope'"), "%s", d ? d : "(no diff)");
  free(d);
  /* diff may be NULL when the caller only wants the verdict. */
  cr_assert_eq(canon_testing_compare(t, t, CANON_TESTING_EXACT, NULL, 0, NULL), 0);
  canon_table_free(t);
}

Test(testing, long_cells_are_cut_in_diffs) {
  char rows[600];
  memset(rows, 'x', 500);
  strcpy(rows + 500, "\n");
  char *d;
  cr_assert_eq(cmp("s:string", rows, "s:string", "y\n", CANON_TESTING_ANY, NULL, 0, &d), 1);
  cr_assert(strstr(d, "...(500 bytes)"), "%s", d);
  cr_assert_lt(strlen(d), 400);
  free(d);
}

Test(testing, compares_collected_results) {
  /* The intended use: a plan's result against a hand-written table. */
  canon_session *s = tu_open("serial:partitions=3");
  canon_error err;
  canon_error_clear(&err);
  canon_table *in = tab("k:string,v:int64", "a,1\n,2\na,3\n");
  canon_df *df = canon_from_table(s, in, &err);
  const char *keys[] = {"k"};
  canon_expr *aggs[] = {canon_sum(canon_col("v"))};
  const char *names[] = {"s"};
  df = canon_aggregate(df, keys, 1, aggs, names, 1, &err);
  cr_assert(df, "%s", err.message);
  canon_table *got = canon_collect(df, &err);
  cr_assert(got, "%s", err.message);
  canon_table *want = tab("k:string,s:int64", ",2\na,4\n");
  char *d = NULL;
  cr_assert_eq(canon_testing_compare(want, got, CANON_TESTING_ANY, NULL, 0, &d), 0, "%s", d);
  canon_table_free(want);
  canon_table_free(got);
  canon_table_free(in);
  canon_session_close(s);
}
