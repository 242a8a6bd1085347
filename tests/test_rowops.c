/* test_rowops.c — dropna, fillna, rename, drop, cast, repartition and
 * persist: semantics (docs/semantics.md §2, §8), errors, identical results
 * at every partition count, plan JSON round trips. */
#include "testutil.h"

#include <unistd.h>

typedef tu_plan_fn plan_fn;

static canon_table *table(const char *schema, const char *rows) {
  canon_error err;
  canon_table *t = canon_table_from_csv_text(schema, rows, &err);
  cr_assert(t, "%s", err.message);
  return t;
}

static void expect(plan_fn plan, const void *arg, bool unordered, const char *want) {
  char *csv = tu_run_everywhere(plan, arg, unordered);
  cr_assert_str_eq(csv, want);
  free(csv);
}

/* Write the plan, read it into a fresh session, write again: same bytes;
 * and the plan read back gives the same result. */
/* Plan JSON round trip; compared as multisets: repartition leaves the
 * order undefined. */
static void roundtrip(canon_df *df) { free(tu_plan_roundtrip(df, true)); }

/* ---- dropna ----------------------------------------------------------------- */

/* Non-NULL counts per row: 3, 2 (NaN counts), 0, 1, 3 ("" counts), 1. */
static const char *NA_ROWS = "1,1.5,x\n"
                             ",NaN,y\n"
                             ",,\n"
                             "4,,\n"
                             "5,NaN,\"\"\n"
                             ",2.5,\n";

typedef struct dropna_case {
  int how;
  const char *subset[3];
  int nsubset;
  int64_t thresh;
} dropna_case;

static canon_df *plan_dropna(canon_session *s, const void *arg) {
  const dropna_case *c = arg;
  canon_error err;
  canon_table *t = table("a:int64,b:float64,c:string", NA_ROWS);
  canon_df *df = canon_from_table(s, t, &err);
  canon_table_free(t);
  df = canon_dropna(df, c->how, c->subset, c->nsubset, c->thresh, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

Test(dropna, any_all_thresh) {
  dropna_case any = {CANON_DROPNA_ANY, {0}, 0, -1};
  expect(plan_dropna, &any, false, "a,b,c\n1,1.5,x\n5,NaN,\"\"\n");
  dropna_case all = {CANON_DROPNA_ALL, {0}, 0, -1};
  expect(plan_dropna, &all, false, "a,b,c\n1,1.5,x\n,NaN,y\n4,,\n5,NaN,\"\"\n,2.5,\n");
  dropna_case t2 = {CANON_DROPNA_ANY, {0}, 0, 2};
  expect(plan_dropna, &t2, false, "a,b,c\n1,1.5,x\n,NaN,y\n5,NaN,\"\"\n");
  dropna_case t0 = {CANON_DROPNA_ALL, {0}, 0, 0};
  expect(plan_dropna, &t0, false, "a,b,c\n1,1.5,x\n,NaN,y\n,,\n4,,\n5,NaN,\"\"\n,2.5,\n");
  dropna_case t4 = {CANON_DROPNA_ANY, {0}, 0, 4};
  expect(plan_dropna, &t4, false, "a,b,c\n");
}

Test(dropna, subset_and_nan_is_not_null) {
  dropna_case a = {CANON_DROPNA_ANY, {"a"}, 1, -1};
  expect(plan_dropna, &a, false, "a,b,c\n1,1.5,x\n4,,\n5,NaN,\"\"\n");
  /* NaN is a value: rows 2 and 5 stay. */
  dropna_case b = {CANON_DROPNA_ANY, {"b"}, 1, -1};
  expect(plan_dropna, &b, false, "a,b,c\n1,1.5,x\n,NaN,y\n5,NaN,\"\"\n,2.5,\n");
  dropna_case ab_all = {CANON_DROPNA_ALL, {"a", "b"}, 2, -1};
  expect(plan_dropna, &ab_all, false, "a,b,c\n1,1.5,x\n,NaN,y\n4,,\n5,NaN,\"\"\n,2.5,\n");
  /* thresh overrides how. */
  dropna_case ac1 = {CANON_DROPNA_ANY, {"a", "c"}, 2, 1};
  expect(plan_dropna, &ac1, false, "a,b,c\n1,1.5,x\n,NaN,y\n4,,\n5,NaN,\"\"\n");
}

Test(dropna, errors) {
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_table *t = table("a:int64,b:float64", "1,2.0\n");
  canon_df *src = canon_from_table(s, t, &err);
  canon_table_free(t);
  const char *bad[] = {"zz"};
  cr_assert_null(canon_dropna(src, CANON_DROPNA_ANY, bad, 1, -1, &err));
  cr_assert_eq(err.code, CANON_ERR_NOT_FOUND);
  cr_assert(strstr(err.message, "'zz'"), "%s", err.message);
  const char *twice[] = {"a", "a"};
  cr_assert_null(canon_dropna(src, CANON_DROPNA_ANY, twice, 2, -1, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert_null(canon_dropna(src, 7, NULL, 0, -1, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert_null(canon_dropna(NULL, 0, NULL, 0, -1, &err));
  canon_session_close(s);
}

/* ---- fillna ----------------------------------------------------------------- */

static canon_df *plan_fillna(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  canon_table *t = table("i:int64,f:float64,s:string,b:bool,d:date",
                         "1,NaN,x,true,2024-01-01\n"
                         ",,,,\n"
                         "3,2.5,\"\",false,\n");
  canon_df *df = canon_from_table(s, t, &err);
  canon_table_free(t);
  /* Falsy fills: 0, 0.0, "", false, the epoch. */
  const char *cols[] = {"i", "f", "s", "b", "d"};
  canon_expr *vals[] = {canon_lit_int64(0), canon_lit_float64(0.0), canon_lit_string(""),
                        canon_lit_bool(0), canon_lit_date(0)};
  df = canon_fillna(df, cols, vals, 5, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

Test(fillna, falsy_values_and_nan_untouched) {
  expect(plan_fillna, NULL, false,
         "i,f,s,b,d\n"
         "1,NaN,x,true,2024-01-01\n"
         "0,0.0,\"\",false,1970-01-01\n"
         "3,2.5,\"\",false,1970-01-01\n");
}

static canon_df *plan_fillna_some(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  canon_table *t = table("k:string,v:float64", "a,\n,NaN\nb,-1.5\n,\n");
  canon_df *df = canon_from_table(s, t, &err);
  canon_table_free(t);
  const char *cols[] = {"v"};
  canon_expr *vals[] = {canon_lit_float64(-0.0)};
  df = canon_fillna(df, cols, vals, 1, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

Test(fillna, only_listed_columns) {
  expect(plan_fillna_some, NULL, false, "k,v\na,-0.0\n,NaN\nb,-1.5\n,-0.0\n");
}

Test(fillna, type_errors) {
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_table *t = table("i:int64,f:float64,s:string", "1,2.0,x\n");
  canon_df *src = canon_from_table(s, t, &err);
  canon_table_free(t);
  const char *f[] = {"f"};
  /* An int64 literal for a float64 column: no silent conversion. */
  canon_expr *v1[] = {canon_lit_int64(0)};
  cr_assert_null(canon_fillna(src, f, v1, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_TYPE);
  cr_assert(strstr(err.message, "'f'") && strstr(err.message, "int64") &&
                strstr(err.message, "float64"),
            "%s", err.message);
  const char *sc[] = {"s"};
  canon_expr *v2[] = {canon_lit_null(CANON_STRING)};
  cr_assert_null(canon_fillna(src, sc, v2, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert(strstr(err.message, "NULL"), "%s", err.message);
  const char *ic[] = {"i"};
  canon_expr *v3[] = {canon_add(canon_lit_int64(1), canon_lit_int64(2))};
  cr_assert_null(canon_fillna(src, ic, v3, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert(strstr(err.message, "literal"), "%s", err.message);
  const char *unk[] = {"nope"};
  canon_expr *v4[] = {canon_lit_int64(1)};
  cr_assert_null(canon_fillna(src, unk, v4, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_NOT_FOUND);
  const char *two[] = {"i", "i"};
  canon_expr *v5[] = {canon_lit_int64(1), canon_lit_int64(2)};
  cr_assert_null(canon_fillna(src, two, v5, 2, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  canon_session_close(s);
}

/* ---- rename, drop, cast ------------------------------------------------------- */

static canon_df *src_abc(canon_session *s) {
  canon_error err;
  canon_table *t = table("a:int64,b:string,c:float64", "1,x,0.5\n2,,\n3,z,-2.0\n");
  canon_df *df = canon_from_table(s, t, &err);
  canon_table_free(t);
  cr_assert(df, "%s", err.message);
  return df;
}

static canon_df *plan_rename(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  const char *from[] = {"c", "a"}, *to[] = {"y", "x"};
  canon_df *df = canon_rename(src_abc(s), from, to, 2, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

static canon_df *plan_swap(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  const char *from[] = {"a", "b"}, *to[] = {"b", "a"};
  canon_df *df = canon_rename(src_abc(s), from, to, 2, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

static canon_df *plan_drop(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  const char *cols[] = {"b"};
  canon_df *df = canon_drop(src_abc(s), cols, 1, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

Test(columns, rename_and_drop) {
  expect(plan_rename, NULL, false, "x,b,y\n1,x,0.5\n2,,\n3,z,-2.0\n");
  /* A swap is no clash: the names stay unique. */
  expect(plan_swap, NULL, false, "b,a,c\n1,x,0.5\n2,,\n3,z,-2.0\n");
  expect(plan_drop, NULL, false, "a,c\n1,0.5\n2,\n3,-2.0\n");
}

Test(columns, rename_drop_errors) {
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_df *src = src_abc(s);
  const char *q[] = {"q"}, *z[] = {"z"}, *b[] = {"b"}, *ab[] = {"a", "b"}, *zz[] = {"z", "z"};
  cr_assert_null(canon_rename(src, q, z, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_NOT_FOUND);
  cr_assert(strstr(err.message, "'q'"), "%s", err.message);
  /* a -> b while b stays: two columns named b. */
  const char *a[] = {"a"};
  cr_assert_null(canon_rename(src, a, b, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert(strstr(err.message, "'b'"), "%s", err.message);
  cr_assert_null(canon_rename(src, ab, zz, 2, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  const char *aa[] = {"a", "a"};
  cr_assert_null(canon_rename(src, aa, ab, 2, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  const char *empty[] = {""};
  cr_assert_null(canon_rename(src, a, empty, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert_null(canon_drop(src, q, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_NOT_FOUND);
  const char *all[] = {"a", "b", "c"};
  cr_assert_null(canon_drop(src, all, 3, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert_null(canon_drop(src, aa, 2, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  canon_session_close(s);
}

static canon_df *src_cast(canon_session *s) {
  canon_error err;
  canon_table *t = table("s:string,i:int64", "1,5\n\" 2 \",6\nx,7\n,8\n");
  canon_df *df = canon_from_table(s, t, &err);
  canon_table_free(t);
  return df;
}

static canon_df *plan_try_cast(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  const char *cols[] = {"i", "s"};
  canon_type types[] = {CANON_FLOAT64, CANON_INT64};
  canon_df *df = canon_cast_columns(src_cast(s), cols, types, 2, 1, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

Test(columns, cast_try_and_strict) {
  /* Spaces around a number are allowed; "x" is not a number. */
  expect(plan_try_cast, NULL, false, "s,i\n1,5.0\n2,6.0\n,7.0\n,8.0\n");
  for (int p = 0; p < TU_NPARTS; p++) {
    char engine[64];
    snprintf(engine, sizeof engine, "serial:partitions=%d", TU_PARTS[p]);
    canon_session *s = tu_open(engine);
    canon_error err;
    const char *cols[] = {"s"};
    canon_type types[] = {CANON_INT64};
    canon_df *df = canon_cast_columns(src_cast(s), cols, types, 1, 0, &err);
    cr_assert(df, "%s", err.message);
    canon_table *t = canon_collect(df, &err);
    cr_assert_null(t);
    cr_assert_eq(err.code, CANON_ERR_CAST, "%s", err.message);
    cr_assert(strstr(err.message, "cast node"), "%s", err.message);
    canon_session_close(s);
  }
}

Test(columns, cast_errors) {
  canon_session *s = tu_open("serial");
  canon_error err;
  const char *q[] = {"q"};
  canon_type t[] = {CANON_INT64};
  cr_assert_null(canon_cast_columns(src_cast(s), q, t, 1, 0, &err));
  cr_assert_eq(err.code, CANON_ERR_NOT_FOUND);
  const char *s1[] = {"s"};
  canon_type bad[] = {(canon_type)42};
  cr_assert_null(canon_cast_columns(src_cast(s), s1, bad, 1, 0, &err));
  cr_assert_eq(err.code, CANON_ERR_TYPE);
  canon_session_close(s);
}

/* ---- repartition -------------------------------------------------------------- */

static const char *GROUP_ROWS = "a,1\nb,2\n,3\na,4\nc,5\nb,6\na,7\n,8\nc,9\na,10\n";

typedef struct repart_case {
  int num;
  bool by_key;
} repart_case;

static canon_df *plan_repart_agg(canon_session *s, const void *arg) {
  const repart_case *c = arg;
  canon_error err;
  canon_table *t = table("k:string,v:int64", GROUP_ROWS);
  canon_df *df = canon_from_table(s, t, &err);
  canon_table_free(t);
  const char *by[] = {"k"};
  df = canon_repartition(df, c->num, c->by_key ? by : NULL, c->by_key ? 1 : 0, &err);
  cr_assert(df, "%s", err.message);
  canon_expr *aggs[] = {canon_count_star(), canon_sum(canon_col("v"))};
  const char *names[] = {"n", "total"};
  df = canon_aggregate(df, by, 1, aggs, names, 2, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

Test(repartition, then_aggregate) {
  const char *want = "k,n,total\n,2,11\na,4,22\nb,2,8\nc,2,14\n";
  repart_case c1 = {3, false}, c2 = {0, false}, c3 = {0, true}, c4 = {5, false};
  expect(plan_repart_agg, &c1, true, want);
  expect(plan_repart_agg, &c2, true, want);
  expect(plan_repart_agg, &c3, true, want);
  expect(plan_repart_agg, &c4, true, want);
}

Test(repartition, errors) {
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_table *t = table("k:string,v:int64", GROUP_ROWS);
  canon_df *src = canon_from_table(s, t, &err);
  canon_table_free(t);
  const char *by[] = {"k"}, *bad[] = {"zz"};
  cr_assert_null(canon_repartition(src, 2, by, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert_null(canon_repartition(src, -1, NULL, 0, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert_null(canon_repartition(src, 0, bad, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_NOT_FOUND);
  canon_session_close(s);
}

/* ---- persist ------------------------------------------------------------------ */

static int calls;

/* Copies its rows and counts its calls. */
static int counting(const canon_table *group, canon_builder *out, void *user, canon_error *err) {
  (void)user, (void)err;
  calls++;
  for (int64_t r = 0; r < canon_table_num_rows(group); r++)
    if (canon_builder_append_row(out, group, r)) return 1;
  return 0;
}

Test(persist, computes_once) {
  canon_error err;
  cr_assert_eq(canon_register_transform("rowops_counting", counting, NULL, &err), 0);
  for (int p = 0; p < TU_NPARTS; p++) {
    char engine[64];
    snprintf(engine, sizeof engine, "serial:partitions=%d", TU_PARTS[p]);
    canon_session *s = tu_open(engine);
    canon_table *t = table("k:string,v:int64", GROUP_ROWS);
    canon_df *df = canon_from_table(s, t, &err);
    canon_table_free(t);
    df = canon_transform(df, "rowops_counting", "k:string,v:int64", NULL, &err);
    canon_df *kept = canon_persist(df, &err);
    cr_assert(kept, "%s", err.message);
    calls = 0;
    canon_df *big = canon_filter(kept, canon_gt(canon_col("v"), canon_lit_int64(6)), &err);
    char *a = tu_collect_csv(big);
    cr_assert_str_eq(a, "k,v\na,7\n,8\nc,9\na,10\n");
    int after_first = calls;
    cr_assert_gt(after_first, 0);
    /* A second plan over the persisted rows: no further calls. */
    const char *by[] = {"k"};
    canon_expr *aggs[] = {canon_sum(canon_col("v"))};
    canon_df *agg = canon_aggregate(kept, by, 1, aggs, NULL, 1, &err);
    cr_assert(agg, "%s", err.message);
    char *b = tu_collect_csv(agg), *bs = tu_sorted_lines(b);
    cr_assert_str_eq(bs, "k,sum(v)\n,11\na,22\nb,8\nc,14\n");
    char *c = tu_collect_csv(kept);
    cr_assert_str_eq(c, "k,v\na,1\nb,2\n,3\na,4\nc,5\nb,6\na,7\n,8\nc,9\na,10\n");
    cr_assert_eq(calls, after_first, "persist recomputed at partitions=%d", TU_PARTS[p]);
    free(a);
    free(b);
    free(bs);
    free(c);
    canon_session_close(s);
  }
}

Test(persist, survives_its_source_file) {
  char *dir = tu_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/in.csv", dir);
  for (int p = 0; p < TU_NPARTS; p++) {
    tu_write_file(path, "k,v\nb,2\na,1\nc,3\na,0\n");
    char engine[64];
    snprintf(engine, sizeof engine, "serial:partitions=%d", TU_PARTS[p]);
    canon_session *s = tu_open(engine);
    canon_error err;
    canon_csv_options o = {.schema = "k:string,v:int64"};
    canon_df *kept = canon_persist(canon_read_csv(s, path, &o, &err), &err);
    cr_assert(kept, "%s", err.message);
    char *first = tu_collect_csv(kept);
    cr_assert_eq(unlink(path), 0);
    /* Order is kept through persist: the sort of the kept rows is stable. */
    canon_sort_key k[] = {{.column = "k"}};
    char *second = tu_collect_csv(canon_sort(kept, k, 1, &err));
    cr_assert_str_eq(first, "k,v\nb,2\na,1\nc,3\na,0\n");
    cr_assert_str_eq(second, "k,v\na,1\na,0\nb,2\nc,3\n");
    free(first);
    free(second);
    canon_session_close(s);
  }
  tu_rmdir(dir);
  free(dir);
}

/* ---- plan JSON -------------------------------------------------------------- */

Test(plan_json, rowops_roundtrip) {
  canon_session *s = tu_open("serial:partitions=2");
  canon_error err;
  canon_table *t = table("a:int64,b:float64,c:string", NA_ROWS);
  canon_df *df = canon_from_table(s, t, &err);
  canon_table_free(t);
  const char *sub[] = {"c", "a"};
  canon_df *d1 = canon_dropna(df, CANON_DROPNA_ALL, sub, 2, -1, &err);
  roundtrip(d1);
  roundtrip(canon_dropna(df, CANON_DROPNA_ANY, NULL, 0, 2, &err));
  const char *fc[] = {"c", "b", "a"};
  canon_expr *fv[] = {canon_lit_string("q\"\n"), canon_lit_float64(-0.0),
                      canon_lit_int64(INT64_MIN)};
  canon_df *d2 = canon_fillna(d1, fc, fv, 3, &err);
  cr_assert(d2, "%s", err.message);
  roundtrip(d2);
  const char *from[] = {"c", "a"}, *to[] = {"a", "c"};
  canon_df *d3 = canon_rename(d2, from, to, 2, &err);
  cr_assert(d3, "%s", err.message);
  roundtrip(d3);
  const char *dc[] = {"b"};
  canon_df *d4 = canon_drop(d3, dc, 1, &err);
  roundtrip(d4);
  const char *cc[] = {"c"};
  canon_type ct[] = {CANON_STRING};
  canon_df *d5 = canon_cast_columns(d4, cc, ct, 1, 0, &err);
  cr_assert(d5, "%s", err.message);
  roundtrip(d5);
  const char *cb[] = {"b"};
  canon_type ct2[] = {CANON_INT64};
  roundtrip(canon_cast_columns(df, cb, ct2, 1, 1, &err));
  canon_df *d6 = canon_repartition(d5, 4, NULL, 0, &err);
  roundtrip(d6);
  const char *by[] = {"a"};
  roundtrip(canon_repartition(d5, 0, by, 1, &err));
  canon_df *d7 = canon_persist(d5, &err);
  roundtrip(d7);
  /* The document says what the ops are. */
  char *json = canon_plan_to_json(d7, NULL, &err);
  cr_assert(strstr(json, "\"op\":\t\"persist\"") && strstr(json, "\"how\":\t\"all\"") &&
                strstr(json, "\"thresh\":\tnull") && strstr(json, "\"from\":\t\"a\"") &&
                strstr(json, "\"try\":\tfalse"),
            "%s", json);
  free(json);
  canon_session_close(s);
}

Test(plan_json, rowops_read_errors) {
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_df *root;
  const char *head = "{\"canon_plan\": 1, \"nodes\": [{\"id\": 1, \"op\": \"table\", "
                     "\"schema\": [{\"name\": \"a\", \"type\": \"int64\"}], \"rows\": [[\"1\"]]}, ";
  char doc[1024];
  snprintf(doc, sizeof doc, "%s{\"id\": 2, \"op\": \"dropna\", \"input\": 1, \"how\": \"some\"}], "
                            "\"root\": 2}", head);
  cr_assert_neq(canon_plan_from_json(s, doc, "p.json", &root, NULL, &err), 0);
  cr_assert(strstr(err.message, "$.nodes[1].how"), "%s", err.message);
  snprintf(doc, sizeof doc, "%s{\"id\": 2, \"op\": \"fillna\", \"input\": 1, \"values\": "
                            "[{\"column\": \"a\", \"value\": {\"lit\": \"1.5\", \"type\": "
                            "\"float64\"}}]}], \"root\": 2}", head);
  cr_assert_neq(canon_plan_from_json(s, doc, "p.json", &root, NULL, &err), 0);
  cr_assert_eq(err.code, CANON_ERR_TYPE, "%s", err.message);
  cr_assert(strstr(err.message, "(fillna, id 2)"), "%s", err.message);
  snprintf(doc, sizeof doc, "%s{\"id\": 2, \"op\": \"cast\", \"input\": 1, \"columns\": "
                            "[{\"column\": \"a\", \"type\": \"decimal\"}]}], \"root\": 2}", head);
  cr_assert_neq(canon_plan_from_json(s, doc, "p.json", &root, NULL, &err), 0);
  cr_assert(strstr(err.message, "$.nodes[1].columns[0].type"), "%s", err.message);
  snprintf(doc, sizeof doc, "%s{\"id\": 2, \"op\": \"rename\", \"input\": 1, \"columns\": "
                            "[{\"from\": \"a\"}]}], \"root\": 2}", head);
  cr_assert_neq(canon_plan_from_json(s, doc, "p.json", &root, NULL, &err), 0);
  cr_assert(strstr(err.message, "\"to\""), "%s", err.message);
  canon_session_close(s);
}

/* ---- explain ------------------------------------------------------------------ */

Test(explain, rowops_describe) {
  canon_session *s = tu_open("serial:partitions=2");
  canon_error err;
  canon_df *df = src_abc(s);
  const char *from[] = {"a"}, *to[] = {"x"};
  df = canon_rename(df, from, to, 1, &err);
  df = canon_persist(df, &err);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_eq(canon_explain(df, f, 1, 0, &err), 0, "%s", err.message);
  fclose(f);
  cr_assert(strstr(buf, "rename #") && strstr(buf, "a -> x") && strstr(buf, "not computed yet"),
            "%s", buf);
  free(buf);
  canon_session_close(s);
}
