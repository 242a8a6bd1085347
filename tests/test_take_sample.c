/* test_take_sample.c — take (first n per group under a stable presort) and
 * sample (rows chosen by a hash of their global position): semantics,
 * identical results at every partition count, plan JSON round trips. */
#include "testutil.h"

typedef tu_plan_fn plan_fn;

static void expect(plan_fn plan, const void *arg, bool unordered, const char *want) {
  char *csv = tu_run_everywhere(plan, arg, unordered);
  cr_assert_str_eq(csv, want);
  free(csv);
}

/* ---- take ------------------------------------------------------------------- */

/* Ten rows; i is the row's position. */
static const char *ROWS = "a,3,0\n"
                          "b,,1\n"
                          "a,1,2\n"
                          "b,2,3\n"
                          ",5,4\n"
                          "a,3,5\n"
                          "b,1,6\n"
                          ",,7\n"
                          "a,,8\n"
                          "b,2,9\n";

typedef struct take_case {
  int64_t n;
  canon_sort_key presort[2];
  int npresort;
  bool by_k;
} take_case;

static canon_df *plan_take(canon_session *s, const void *arg) {
  const take_case *c = arg;
  canon_error err;
  canon_table *t = canon_table_from_csv_text("k:string,v:int64,i:int64", ROWS, &err);
  cr_assert(t, "%s", err.message);
  canon_df *df = canon_from_table(s, t, &err);
  canon_table_free(t);
  const char *by[] = {"k"};
  df = canon_take(df, c->n, c->presort, c->npresort, by, c->by_k ? 1 : 0, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

Test(take, presort_nulls_both_ways) {
  /* v ascending, NULLS LAST: 1 (rows 2, 6), 2 (3, 9), ... */
  take_case asc = {3, {{.column = "v"}}, 1, false};
  expect(plan_take, &asc, false, "k,v,i\na,1,2\nb,1,6\nb,2,3\n");
  take_case asc_nf = {4, {{.column = "v", .nulls_first = 1}}, 1, false};
  expect(plan_take, &asc_nf, false, "k,v,i\nb,,1\n,,7\na,,8\na,1,2\n");
  take_case desc_nf = {4, {{.column = "v", .descending = 1, .nulls_first = 1}}, 1, false};
  expect(plan_take, &desc_nf, false, "k,v,i\nb,,1\n,,7\na,,8\n,5,4\n");
  /* Ties (3 at rows 0 and 5, 2 at rows 3 and 9) keep input order. */
  take_case desc = {5, {{.column = "v", .descending = 1}}, 1, false};
  expect(plan_take, &desc, false, "k,v,i\n,5,4\na,3,0\na,3,5\nb,2,3\nb,2,9\n");
  /* A cut inside a run of ties keeps the earlier row. */
  take_case cut = {2, {{.column = "v", .descending = 1}}, 1, false};
  expect(plan_take, &cut, false, "k,v,i\n,5,4\na,3,0\n");
}

Test(take, without_presort_first_rows_in_order) {
  take_case first3 = {3, {{0}}, 0, false};
  expect(plan_take, &first3, false, "k,v,i\na,3,0\nb,,1\na,1,2\n");
  take_case none = {0, {{0}}, 0, false};
  expect(plan_take, &none, false, "k,v,i\n");
  take_case all = {100, {{0}}, 0, false};
  expect(plan_take, &all, false,
         "k,v,i\na,3,0\nb,,1\na,1,2\nb,2,3\n,5,4\na,3,5\nb,1,6\n,,7\na,,8\nb,2,9\n");
}

Test(take, by_groups) {
  /* NULL keys form a group; within a group ties keep input order. */
  take_case one_desc = {1, {{.column = "v", .descending = 1}}, 1, true};
  expect(plan_take, &one_desc, true, "k,v,i\n,5,4\na,3,0\nb,2,3\n");
  take_case two_asc = {2, {{.column = "v"}}, 1, true};
  expect(plan_take, &two_asc, true, "k,v,i\n,,7\n,5,4\na,1,2\na,3,0\nb,1,6\nb,2,3\n");
  take_case first = {1, {{0}}, 0, true};
  expect(plan_take, &first, true, "k,v,i\n,5,4\na,3,0\nb,,1\n");
  take_case two_nf = {2, {{.column = "v", .nulls_first = 1}, {.column = "i", .descending = 1}},
                      2, true};
  expect(plan_take, &two_nf, true, "k,v,i\n,,7\n,5,4\na,,8\na,1,2\nb,,1\nb,1,6\n");
}

/* 200 rows: i, v = i mod 7, k = i mod 3 (many ties, spread over partitions). */
static canon_df *big_source(canon_session *s) {
  canon_error err;
  canon_schema *sc = canon_schema_parse("i:int64,v:int64,k:int64", &err);
  canon_builder *b = canon_builder_new(sc, &err);
  canon_schema_free(sc);
  for (int i = 0; i < 200; i++) {
    canon_builder_append_int64(b, 0, i);
    canon_builder_append_int64(b, 1, i % 7);
    canon_builder_append_int64(b, 2, i % 3);
  }
  canon_table *t = canon_builder_finish(b, &err);
  canon_builder_free(b);
  cr_assert(t, "%s", err.message);
  canon_df *df = canon_from_table(s, t, &err);
  canon_table_free(t);
  return df;
}

static canon_df *plan_big_take(canon_session *s, const void *arg) {
  canon_error err;
  canon_sort_key k[] = {{.column = "v"}};
  const char *by[] = {"k"};
  bool grouped = arg != NULL;
  canon_df *df = canon_take(big_source(s), grouped ? 2 : 10, k, 1, by, grouped ? 1 : 0, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

Test(take, ties_across_partitions) {
  /* v = 0 at i = 0, 7, 14, ...: the first ten in input order. */
  expect(plan_big_take, NULL, false,
         "i,v,k\n0,0,0\n7,0,1\n14,0,2\n21,0,0\n28,0,1\n35,0,2\n42,0,0\n49,0,1\n56,0,2\n63,0,0\n");
  /* Per k: the first two rows with v = 0 (i = 0 mod 21 for k 0, ...). */
  expect(plan_big_take, "grouped", true, "i,v,k\n0,0,0\n14,0,2\n21,0,0\n28,0,1\n35,0,2\n7,0,1\n");
}

Test(take, errors) {
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_df *src = big_source(s);
  cr_assert_null(canon_take(src, -1, NULL, 0, NULL, 0, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  canon_sort_key bad[] = {{.column = "zz"}};
  cr_assert_null(canon_take(src, 1, bad, 1, NULL, 0, &err));
  cr_assert_eq(err.code, CANON_ERR_NOT_FOUND);
  const char *by[] = {"zz"};
  cr_assert_null(canon_take(src, 1, NULL, 0, by, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_NOT_FOUND);
  canon_session_close(s);
}

/* ---- sample ------------------------------------------------------------------- */

/* The rule, written out independently: SplitMix64's output g (0-based). */
static uint64_t ref_hash(uint64_t seed, uint64_t g) {
  uint64_t state = seed;
  for (uint64_t k = 0; k <= g; k++) state += 0x9E3779B97F4A7C15ull;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

typedef struct sample_case {
  double fraction;
  int64_t n;
  uint64_t seed;
  bool filtered; /* sample the rows with v != 3 */
} sample_case;

static canon_df *plan_sample(canon_session *s, const void *arg) {
  const sample_case *c = arg;
  canon_error err;
  canon_df *df = big_source(s);
  if (c->filtered) df = canon_filter(df, canon_ne(canon_col("v"), canon_lit_int64(3)), &err);
  df = canon_sample(df, c->fraction, c->n, c->seed, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

/* The expected CSV: rows of the (filtered) source at positions g whose
 * hash passes `keep`. */
static char *expected_sample(const sample_case *c) {
  size_t cap = 1 << 16, at = 0;
  char *out = malloc(cap);
  at += (size_t)snprintf(out, cap, "i,v,k\n");
  int rows[200], nrows = 0;
  for (int i = 0; i < 200; i++)
    if (!c->filtered || i % 7 != 3) rows[nrows++] = i;
  uint64_t h[200];
  for (int g = 0; g < nrows; g++) h[g] = ref_hash(c->seed, (uint64_t)g);
  for (int g = 0; g < nrows; g++) {
    bool keep;
    if (c->fraction >= 0) {
      keep = c->fraction >= 1.0 || (long double)h[g] < (long double)c->fraction * 18446744073709551616.0L;
    } else {
      int smaller = 0;
      for (int j = 0; j < nrows; j++) smaller += h[j] < h[g];
      keep = smaller < c->n;
    }
    if (keep) {
      int i = rows[g];
      at += (size_t)snprintf(out + at, cap - at, "%d,%d,%d\n", i, i % 7, i % 3);
    }
  }
  return out;
}

static void expect_sample(sample_case c) {
  char *want = expected_sample(&c);
  expect(plan_sample, &c, false, want);
  free(want);
}

Test(sample, fraction_same_at_every_partition_count) {
  expect_sample((sample_case){0.3, -1, 42, false});
  expect_sample((sample_case){0.3, -1, 43, false});
  expect_sample((sample_case){0.5, -1, 0, true});
  expect_sample((sample_case){0.999, -1, UINT64_MAX, false});
}

Test(sample, seeds_differ) {
  sample_case a = {0.5, -1, 1, false}, b = {0.5, -1, 2, false};
  char *x = tu_run_everywhere(plan_sample, &a, false), *y = tu_run_everywhere(plan_sample, &b, false);
  cr_assert_str_neq(x, y);
  free(x);
  free(y);
}

Test(sample, fraction_zero_and_one) {
  sample_case none = {0.0, -1, 7, false};
  expect(plan_sample, &none, false, "i,v,k\n");
  sample_case all = {1.0, -1, 7, true};
  char *want = expected_sample(&all);
  /* Every row, in input order. */
  cr_assert_eq(strlen(want) > 1000, true);
  expect(plan_sample, &all, false, want);
  free(want);
}

Test(sample, n_rows) {
  expect_sample((sample_case){-1, 5, 7, false});
  expect_sample((sample_case){-1, 17, 12345, true});
  expect_sample((sample_case){-1, 0, 7, false});
  /* More than there are: every row, in order. */
  sample_case more = {-1, 1000, 9, false};
  char *want = expected_sample(&more);
  cr_assert(strstr(want, "\n199,3,1\n"));
  expect(plan_sample, &more, false, want);
  free(want);
}

Test(sample, errors) {
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_df *src = big_source(s);
  cr_assert_null(canon_sample(src, 0.5, 3, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert_null(canon_sample(src, -1, -1, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert_null(canon_sample(src, 1.5, -1, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert_null(canon_sample(src, 0.0 / 0.0, -1, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  canon_session_close(s);
}

/* ---- plan JSON -------------------------------------------------------------- */

static void roundtrip(canon_df *df) {
  canon_error err;
  cr_assert(df);
  char *a = canon_plan_to_json(df, NULL, &err);
  cr_assert(a, "to_json: %s", err.message);
  canon_session *s2 = tu_open("serial:partitions=3");
  canon_df *back = NULL;
  cr_assert_eq(canon_plan_from_json(s2, a, "t.json", &back, NULL, &err), 0, "%s\n%s",
               err.message, a);
  char *b = canon_plan_to_json(back, NULL, &err);
  cr_assert(b, "%s", err.message);
  cr_assert_str_eq(a, b);
  char *r1 = tu_collect_csv(df), *r2 = tu_collect_csv(back);
  cr_assert_str_eq(r1, r2);
  free(r1);
  free(r2);
  free(a);
  free(b);
  canon_session_close(s2);
}

Test(plan_json, take_sample_roundtrip) {
  canon_session *s = tu_open("serial:partitions=2");
  canon_error err;
  canon_df *src = big_source(s);
  canon_sort_key k[] = {{.column = "v", .descending = 1, .nulls_first = 1}, {.column = "i"}};
  const char *by[] = {"k"};
  roundtrip(canon_take(src, 3, k, 2, by, 1, &err));
  roundtrip(canon_take(src, 9223372036854775807LL, NULL, 0, NULL, 0, &err));
  roundtrip(canon_sample(src, 0.1, -1, UINT64_MAX, &err));
  roundtrip(canon_sample(src, -1, 12, 0, &err));
  roundtrip(canon_sample(src, 5e-324, -1, 3, &err));
  char *json = canon_plan_to_json(canon_sample(src, 0.25, -1, 18446744073709551615ull, &err),
                                  NULL, &err);
  cr_assert(strstr(json, "\"fraction\":\t\"0.25\"") && strstr(json, "\"n\":\tnull") &&
                strstr(json, "\"seed\":\t\"18446744073709551615\""),
            "%s", json);
  free(json);
  canon_session_close(s);
}

Test(plan_json, sample_read_errors) {
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_df *root;
  const char *head = "{\"canon_plan\": 1, \"nodes\": [{\"id\": 1, \"op\": \"table\", "
                     "\"schema\": [{\"name\": \"a\", \"type\": \"int64\"}], \"rows\": [[\"1\"]]}, ";
  char doc[1024];
  snprintf(doc, sizeof doc, "%s{\"id\": 2, \"op\": \"sample\", \"input\": 1, \"fraction\": "
                            "\"0.5\", \"n\": null, \"seed\": \"-1\"}], \"root\": 2}", head);
  cr_assert_neq(canon_plan_from_json(s, doc, "p.json", &root, NULL, &err), 0);
  cr_assert(strstr(err.message, "$.nodes[1].seed"), "%s", err.message);
  snprintf(doc, sizeof doc, "%s{\"id\": 2, \"op\": \"sample\", \"input\": 1, \"fraction\": "
                            "\"0.5\", \"n\": \"3\", \"seed\": \"1\"}], \"root\": 2}", head);
  cr_assert_neq(canon_plan_from_json(s, doc, "p.json", &root, NULL, &err), 0);
  cr_assert(strstr(err.message, "exactly one"), "%s", err.message);
  snprintf(doc, sizeof doc, "%s{\"id\": 2, \"op\": \"take\", \"input\": 1, \"n\": 3}], "
                            "\"root\": 2}", head);
  cr_assert_neq(canon_plan_from_json(s, doc, "p.json", &root, NULL, &err), 0);
  cr_assert(strstr(err.message, "$.nodes[1].n"), "%s", err.message);
  canon_session_close(s);
}

static canon_df *plan_sample_clash(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  canon_table *t = canon_table_from_csv_text("__canon_sample_pos:int64",
                                             "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n", &err);
  cr_assert(t, "%s", err.message);
  canon_df *df = canon_sample(canon_from_table(s, t, &err), -1, 3, 5, &err);
  canon_table_free(t);
  cr_assert(df, "%s", err.message);
  return df;
}

Test(sample, column_named_like_the_internal_one) {
  /* The three rows with the smallest hashes, in input order. */
  char want[256];
  size_t at = (size_t)snprintf(want, sizeof want, "__canon_sample_pos\n");
  for (int g = 0; g < 10; g++) {
    int smaller = 0;
    for (int j = 0; j < 10; j++) smaller += ref_hash(5, (uint64_t)j) < ref_hash(5, (uint64_t)g);
    if (smaller < 3) at += (size_t)snprintf(want + at, sizeof want - at, "%d\n", g);
  }
  expect(plan_sample_clash, NULL, false, want);
}
