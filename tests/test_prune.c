/* test_prune.c — projection pushdown (core/src/plan_prune.c).
 *
 * Every plan runs twice on each engine, with the pass off and on: the
 * results (names, types, column order, rows in order) must be the same.
 * Each test also checks in the pruned plan that columns were in fact
 * dropped where they should be, so a pass that silently gives up (it falls
 * back to the unpruned plan when anything does not fit) fails too. */
#include "physical.h"
#include "joins_testutil.h"

#include <math.h>

/* ---- data ------------------------------------------------------------------ */

/* A random table: k int64 1..7 (some NULL), g string of 4 values (some
 * NULL), v float64 with NaN, -0.0, +-inf, huge and tiny magnitudes, NULL;
 * x int64 with NULLs; s string; w float64. */
static canon_table *random_table(uint64_t seed, int64_t rows) {
  tu_rnd_state = seed;
  canon_error err;
  canon_schema *sc = canon_schema_parse("k:int64,g:string,v:float64,x:int64,s:string,w:float64", &err);
  cr_assert(sc, "%s", err.message);
  canon_builder *b = canon_builder_new(sc, &err);
  cr_assert(b, "%s", err.message);
  static const char *const gs[] = {"north", "south", "east", "west"};
  static const double specials[] = {NAN, -0.0, 0.0, INFINITY, -INFINITY, 1e300, -1e-300, 5e-324};
  for (int64_t r = 0; r < rows; r++) {
    if (tu_rnd_below(10) == 0) canon_builder_append_null(b, 0);
    else canon_builder_append_int64(b, 0, 1 + tu_rnd_below(7));
    if (tu_rnd_below(8) == 0) canon_builder_append_null(b, 1);
    else {
      const char *gv = gs[tu_rnd_below(4)];
      canon_builder_append_string(b, 1, gv, strlen(gv));
    }
    int64_t pick = tu_rnd_below(12);
    if (pick == 0) canon_builder_append_null(b, 2);
    else if (pick < 4) canon_builder_append_float64(b, 2, specials[tu_rnd_below(8)]);
    else canon_builder_append_float64(b, 2, (double)tu_rnd_below(2000) / 8.0 - 100.0);
    if (tu_rnd_below(6) == 0) canon_builder_append_null(b, 3);
    else canon_builder_append_int64(b, 3, tu_rnd_below(41) - 20);
    char txt[32];
    snprintf(txt, sizeof txt, "s%lld", (long long)tu_rnd_below(50));
    canon_builder_append_string(b, 4, txt, strlen(txt));
    canon_builder_append_float64(b, 5, (double)tu_rnd_below(1000) / 4.0);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(sc);
  return t;
}

static canon_df *src(canon_session *s, uint64_t seed, int64_t rows) {
  canon_error err;
  canon_table *t = random_table(seed, rows);
  canon_df *df = canon_from_table(s, t, &err);
  cr_assert(df, "%s", err.message);
  canon_table_free(t);
  return df;
}

/* ---- running both ways ----------------------------------------------------- */

/* The result of df as "schema\ncsv" text, the pass on or off. */
static char *run(canon_df *df, int prune) {
  canon__prune_set(prune);
  canon_error err;
  canon_table *t = canon_collect(df, &err);
  canon__prune_set(-1);
  cr_assert(t, "collect (prune %d): %s", prune, err.message);
  char *sch = canon_schema_to_string(canon_table_schema(t));
  char *csv = tu_csv(t);
  char *out = NULL;
  cr_assert(asprintf(&out, "%s\n%s", sch, csv) > 0);
  free(sch);
  free(csv);
  canon_table_free(t);
  return out;
}

static const char *const ENGINES[] = {"serial:partitions=1", "serial:partitions=3",
                                      "threads:workers=2,partitions=4",
                                      "processes:workers=2,partitions=2"};
#define NENGINES 4

/* Run plan on every engine with the pass off and on: identical results,
 * and the same on every engine (compared line-sorted when unordered).
 * Returns the text of the pruned plan (explain's "pruned plan:" section,
 * "" when nothing was pruned) on the last engine. */
static char *check(tu_plan_fn plan, const void *arg, bool unordered) {
  char *first = NULL, *pruned = NULL;
  for (int e = 0; e < NENGINES; e++) {
    canon_session *s = tu_open(ENGINES[e]);
    canon_df *df = plan(s, arg);
    cr_assert(df, "plan failed on %s", ENGINES[e]);
    char *off = run(df, 0), *on = run(df, 1);
    cr_assert_str_eq(on, off, "%s: pruned result differs", ENGINES[e]);
    if (unordered) {
      char *sorted = tu_sorted_lines(on);
      free(on);
      on = sorted;
    }
    if (!first) first = strdup(on);
    else cr_assert_str_eq(on, first, "%s differs from %s", ENGINES[e], ENGINES[0]);
    free(off);
    free(on);
    /* The pruned plan, from explain. */
    free(pruned);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    canon_error err;
    cr_assert_eq(canon_explain(df, f, 1, 0, &err), 0, "%s", err.message);
    fclose(f);
    char *at = strstr(buf, "pruned plan:\n"), *end = strstr(buf, "physical plan");
    pruned = at && end ? strndup(at, (size_t)(end - at)) : strdup("");
    free(buf);
    canon_session_close(s);
  }
  free(first);
  if (getenv("PRUNE_SHOW")) fprintf(stderr, "%s", pruned); /* for debugging a test */
  return pruned;
}

/* The line of the pruned plan that starts (after indentation) with
 * `start`; fails when there is none. */
static const char *line_of(const char *plan, const char *start) {
  for (const char *l = plan; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    const char *p = l;
    while (*p == ' ') p++;
    if (strncmp(p, start, strlen(start)) == 0) return l;
  }
  cr_assert_fail("no line starting with '%s' in\n%s", start, plan);
  return NULL;
}

/* The line starting with `start` ends with "-> (schema)". */
static void expect_schema(const char *plan, const char *start, const char *schema) {
  const char *l = line_of(plan, start);
  const char *eol = strchr(l, '\n');
  size_t n = eol ? (size_t)(eol - l) : strlen(l);
  char want[512];
  snprintf(want, sizeof want, "-> (%s)", schema);
  size_t w = strlen(want);
  cr_assert(n >= w && memcmp(l + n - w, want, w) == 0, "'%.*s' does not end with '%s' in\n%s",
            (int)n, l, want, plan);
}

/* ---- row-wise pipelines ------------------------------------------------------ */

/* q8 of the benchmark: filter v not NULL -> take 2 per k under v desc ->
 * select k, v. */
static canon_df *plan_top2(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  canon_df *nn = canon_filter(src(s, 1, 600), canon_is_not_null(canon_col("v")), &err);
  const canon_sort_key pre[] = {{.column = "v", .descending = 1}};
  const char *by[] = {"k"};
  canon_df *top = canon_take(nn, 2, pre, 1, by, 1, &err);
  canon_expr *cols[] = {canon_col("k"), canon_col("v")};
  const char *names[] = {NULL, "largest2_v"};
  return canon_select(top, cols, names, 2, &err);
}

Test(prune, take_reads_only_its_columns) {
  char *p = check(plan_top2, NULL, true);
  expect_schema(p, "select #1 ", "k:int64,v:float64");
  expect_schema(p, "filter #2 ", "k:int64,v:float64");
  expect_schema(p, "take #3 ", "k:int64,v:float64");
  expect_schema(p, "select #4 ", "k:int64,largest2_v:float64");
  free(p);
}

/* A filter on a column nothing reads later, then an aggregate. */
static canon_df *plan_filter_dropped(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  canon_df *f = canon_filter(src(s, 2, 500), canon_gt(canon_col("x"), canon_lit_int64(0)), &err);
  const char *keys[] = {"g"};
  canon_expr *a[] = {canon_sum(canon_col("v")), canon_count_star()};
  const char *names[] = {"sv", "n"};
  canon_df *agg = canon_aggregate(f, keys, 1, a, names, 2, &err);
  const canon_sort_key by[] = {{.column = "g"}};
  return canon_sort(agg, by, 1, &err);
}

Test(prune, filter_on_a_dropped_column) {
  char *p = check(plan_filter_dropped, NULL, false);
  /* the scan keeps g, v, x (the aggregate reads the filter's output by
   * name, so x is not cut again before it) */
  expect_schema(p, "select #1 ", "g:string,v:float64,x:int64");
  expect_schema(p, "filter #2 ", "g:string,v:float64,x:int64");
  free(p);
}

/* rename, cast, fillna, dropna, assign, sort, limit, then two columns. */
static canon_df *plan_rowops_chain(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  canon_df *d = src(s, 3, 400);
  const char *from[] = {"x"}, *to[] = {"xx"};
  d = canon_rename(d, from, to, 1, &err);
  const char *cc[] = {"k"};
  const canon_type ct[] = {CANON_STRING};
  d = canon_cast_columns(d, cc, ct, 1, 0, &err);
  const char *fc[] = {"xx", "w"};
  canon_expr *fv[] = {canon_lit_int64(99), canon_lit_float64(-1.0)};
  d = canon_fillna(d, fc, fv, 2, &err);
  const char *sub[] = {"v"};
  d = canon_dropna(d, CANON_DROPNA_ANY, sub, 1, -1, &err);
  canon_expr *as[] = {canon_add(canon_col("xx"), canon_lit_int64(1)), canon_mul(canon_col("w"), canon_lit_float64(2))};
  const char *an[] = {"y", "w"};
  d = canon_assign(d, as, an, 2, &err);
  const canon_sort_key sk[] = {{.column = "s"}, {.column = "xx", .descending = 1}};
  d = canon_sort(d, sk, 2, &err);
  d = canon_limit(d, 57, &err);
  canon_expr *out[] = {canon_col("y"), canon_col("k")};
  cr_assert(d, "%s", err.message);
  return canon_select(d, out, NULL, 2, &err);
}

Test(prune, row_operations_keep_what_they_read) {
  char *p = check(plan_rowops_chain, NULL, false);
  /* g and w are never read: w is reassigned and then dropped by the
   * select, so neither its fill nor its assignment survives */
  expect_schema(p, "rename #2 ", "k:int64,v:float64,xx:int64,s:string");
  expect_schema(p, "fillna #4 ", "k:string,v:float64,xx:int64,s:string");
  expect_schema(p, "assign #6 ", "k:string,xx:int64,s:string,y:int64");
  cr_assert(!strstr(p, "w = "), "%s", p);
  /* the sort keys are dropped right after the sort */
  expect_schema(p, "sort #7 ", "k:string,xx:int64,s:string,y:int64");
  expect_schema(p, "limit #8 ", "k:string,y:int64");
  free(p);
}

/* ---- aggregates ------------------------------------------------------------- */

static canon_df *plan_agg_exprs(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  const char *keys[] = {"g", "k"};
  canon_expr *a[] = {canon_sub(canon_max(canon_col("x")), canon_min(canon_col("v"))),
                     canon_sum(canon_col("w")), canon_count_star(),
                     canon_add(canon_mean(canon_col("v")), canon_lit_float64(1))};
  const char *names[] = {"range", "sw", "n", "m1"};
  canon_df *agg = canon_aggregate(src(s, 4, 700), keys, 2, a, names, 4, &err);
  canon_expr *out[] = {canon_col("k"), canon_col("m1"), canon_col("range")};
  return canon_select(agg, out, NULL, 3, &err);
}

Test(prune, aggregate_outputs_nobody_reads_are_not_computed) {
  char *p = check(plan_agg_exprs, NULL, true);
  const char *l = line_of(p, "aggregate #2 ");
  cr_assert(strstr(l, "range = ") && strstr(l, "m1 = ") && !strstr(l, "sw = ") && !strstr(l, "n = "),
            "%s", p);
  free(p);
}

/* count(*) over a filter, and the number of distinct keys: the scan keeps
 * one column, and an aggregate may keep keys only. */
static canon_df *plan_counts(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  canon_df *base = src(s, 5, 300);
  canon_df *f = canon_filter(base, canon_lt(canon_col("w"), canon_lit_float64(100)), &err);
  canon_expr *c1[] = {canon_count_star()};
  const char *n1[] = {"rows"};
  canon_df *a = canon_aggregate(f, NULL, 0, c1, n1, 1, &err);
  const char *keys[] = {"g", "s"};
  canon_expr *c2[] = {canon_sum(canon_col("v"))};
  const char *n2[] = {"sv"};
  canon_df *groups = canon_aggregate(base, keys, 2, c2, n2, 1, &err);
  canon_expr *c3[] = {canon_count_star()};
  const char *n3[] = {"groups"};
  canon_df *b = canon_aggregate(groups, NULL, 0, c3, n3, 1, &err);
  canon_join_options o = {.strategy = CANON_JOIN_HASH};
  return canon_join(a, b, CANON_JOIN_CROSS, NULL, NULL, 0, &o, &err);
}

Test(prune, counting_rows_reads_one_column) {
  char *p = check(plan_counts, NULL, false);
  expect_schema(p, "filter #2 ", "w:float64");
  /* the grouping keeps its keys and no aggregate at all */
  const char *l = line_of(p, "aggregate #4 ");
  cr_assert(!strstr(l, "sv = "), "%s", p);
  expect_schema(p, "aggregate #4 ", "g:string,s:string");
  free(p);
}

/* ---- joins ------------------------------------------------------------------ */

typedef struct jarg {
  canon_join_type how;
  canon_join_strategy strategy;
} jarg;

/* Left (k, g, v, x, s, w) and right (k, v, w2, g2) joined on k with
 * suffixes: v and w... clash; only a few columns are read afterwards. */
static canon_df *plan_join(canon_session *s, const void *arg) {
  const jarg *a = arg;
  canon_error err;
  canon_df *left = src(s, 6, 300);
  canon_df *r0 = src(s, 7, 40);
  const char *from[] = {"g", "w", "x"}, *to[] = {"g2", "w2", "rk"};
  canon_df *right = canon_rename(r0, from, to, 3, &err);
  canon_join_options o = {.left_suffix = "_l", .right_suffix = "_r", .strategy = a->strategy};
  const char *lk[] = {"k"}, *rk[] = {"k"};
  canon_df *j = canon_join(left, right, a->how, lk, rk, 1, &o, &err);
  cr_assert(j, "%s", err.message);
  bool left_only = a->how == CANON_JOIN_SEMI || a->how == CANON_JOIN_ANTI;
  canon_expr *out[] = {canon_col("k"), canon_col(left_only ? "v" : "v_l"),
                       canon_col(left_only ? "g" : "g2")};
  return canon_select(j, out, NULL, 3, &err);
}

Test(prune, joins_keep_clashing_names) {
  const canon_join_type hows[] = {CANON_JOIN_INNER, CANON_JOIN_LEFT, CANON_JOIN_RIGHT,
                                  CANON_JOIN_FULL, CANON_JOIN_SEMI, CANON_JOIN_ANTI};
  for (int h = 0; h < 6; h++)
    for (int st = 0; st < 3; st++) {
      jarg a = {hows[h], (canon_join_strategy)st};
      char *p = check(plan_join, &a, true);
      bool left_only = a.how == CANON_JOIN_SEMI || a.how == CANON_JOIN_ANTI;
      /* the left side keeps k and v (read), plus g when it is read */
      expect_schema(p, "select #1 ", left_only ? "k:int64,g:string,v:float64" : "k:int64,v:float64");
      if (!left_only) {
        /* the right keeps its v, so the left one stays v_l */
        const char *l = line_of(p, "join #4 ");
        cr_assert(strstr(l, "-> (k:int64,v_l:float64,g2:string,v_r:float64)"), "%s", p);
      }
      free(p);
    }
}

/* One node on both sides of a join: the two uses' columns together,
 * clash partners included. */
static canon_df *plan_self_join(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  canon_df *x = src(s, 14, 120);
  canon_join_options o = {.left_suffix = "_a", .right_suffix = "_b", .strategy = CANON_JOIN_HASH};
  const char *keys[] = {"k"};
  canon_df *j = canon_join(x, x, CANON_JOIN_FULL, keys, NULL, 1, &o, &err);
  canon_expr *out[] = {canon_col("w_b"), canon_col("k"), canon_col("v_a")};
  return canon_select(j, out, NULL, 3, &err);
}

Test(prune, a_self_join_reads_both_uses) {
  char *p = check(plan_self_join, NULL, true);
  expect_schema(p, "select #1 ", "k:int64,v:float64,w:float64");
  expect_schema(p, "join #2 ", "k:int64,v_a:float64,w_a:float64,v_b:float64,w_b:float64");
  free(p);
}

/* A small in-memory right table is broadcast: a select over it would turn
 * the join into a hash join, so it stays whole. */
static canon_df *plan_broadcast(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  canon_df *right = jt_src(s, "k:int64,name:string,extra:float64", "1,one,1.5\n2,two,\n3,,3.5\n");
  const char *keys[] = {"k"};
  canon_df *j = canon_join(src(s, 8, 200), right, CANON_JOIN_LEFT, keys, NULL, 1, NULL, &err);
  canon_expr *out[] = {canon_col("name"), canon_col("v")};
  return canon_select(j, out, NULL, 2, &err);
}

Test(prune, small_right_table_still_broadcasts) {
  char *p = check(plan_broadcast, NULL, false);
  expect_schema(p, "select #2 ", "k:int64,v:float64");
  expect_schema(p, "table #1 ", "k:int64,name:string,extra:float64");
  expect_schema(p, "join #3 ", "k:int64,v:float64,name:string,extra:float64");
  free(p);
  canon_session *s = tu_open("serial:partitions=2");
  char *plan = jt_explain(plan_broadcast(s, NULL));
  cr_assert(strstr(plan, "exchange broadcast") && !strstr(plan, "exchange hash"), "%s", plan);
  free(plan);
  canon_session_close(s);
}

/* ---- shared subplans, set operations, transforms ------------------------------ */

/* One assign used by an aggregate (k, y) and by a select (k, s): each use
 * sees only its columns, the shared node their union. */
static canon_df *plan_shared(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  canon_expr *as[] = {canon_mul(canon_col("v"), canon_lit_float64(2)),
                      canon_add(canon_col("x"), canon_lit_int64(1))};
  const char *an[] = {"y", "z"};
  canon_df *shared = canon_assign(src(s, 9, 300), as, an, 2, &err);
  const char *keys[] = {"k"};
  canon_expr *a[] = {canon_sum(canon_col("y"))};
  const char *n[] = {"sy"};
  canon_df *agg = canon_aggregate(shared, keys, 1, a, n, 1, &err);
  canon_expr *sel[] = {canon_col("k"), canon_col("s")};
  canon_df *pick = canon_select(shared, sel, NULL, 2, &err);
  canon_df *d = canon_distinct(pick, NULL, 0, &err);
  canon_join_options o = {.strategy = CANON_JOIN_HASH};
  canon_df *j = canon_join(agg, d, CANON_JOIN_INNER, keys, NULL, 1, &o, &err);
  /* and the same node once more, whole, through a union_all by position */
  canon_expr *sel2[] = {canon_col("k"), canon_col("s"), canon_col("sy")};
  canon_expr *sel3[] = {canon_col("x"), canon_col("g"), canon_col("y")};
  canon_df *u = canon_union_all(canon_select(j, sel2, NULL, 3, &err),
                                canon_select(shared, sel3, NULL, 3, &err), &err);
  canon_expr *fin[] = {canon_col("s"), canon_col("sy")};
  return canon_select(u, fin, NULL, 2, &err);
}

Test(prune, shared_subplans_get_the_union_of_their_needs) {
  char *p = check(plan_shared, NULL, true);
  /* shared reads k, v, s, g (for the union_all's second column); it
   * computes y but not z */
  expect_schema(p, "select #1 ", "k:int64,g:string,v:float64,s:string");
  expect_schema(p, "assign #2 ", "k:int64,g:string,v:float64,s:string,y:float64");
  cr_assert(!strstr(p, "z = "), "%s", p);
  /* its uses: (k, y) for the aggregate, (k, s) for the select, (g, y) for
   * the union_all */
  expect_schema(p, "aggregate #3 ", "k:int64,sy:float64");
  expect_schema(p, "select #4 ", "k:int64,s:string");
  expect_schema(p, "union_all #9 ", "s:string,sy:float64");
  expect_schema(p, "select #7 ", "g:string,y:float64");
  free(p);
}

/* union (a set operation) compares whole rows: nothing below it is cut,
 * but what is above it is. */
static canon_df *plan_setop(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  canon_expr *a[] = {canon_col("g"), canon_col("k")};
  canon_expr *b[] = {canon_col("g"), canon_col("k")};
  canon_df *u = canon_union(canon_select(src(s, 10, 200), a, NULL, 2, &err),
                            canon_select(src(s, 11, 200), b, NULL, 2, &err), &err);
  canon_expr *o[] = {canon_col("k")};
  return canon_select(u, o, NULL, 1, &err);
}

Test(prune, set_operations_read_whole_rows) {
  char *p = check(plan_setop, NULL, true);
  expect_schema(p, "select #6 ", "k:int64");
  expect_schema(p, "union #5 ", "g:string,k:int64");
  expect_schema(p, "select #2 ", "g:string,k:int64");
  expect_schema(p, "select #4 ", "g:string,k:int64");
  free(p);
}

/* The transform reports how many columns it was handed: its input must be
 * exactly what the user wrote. */
static int column_count(const canon_table *group, canon_builder *out, void *ud, canon_error *err) {
  (void)ud, (void)err;
  canon_builder_append_int64(out, 0, canon_table_num_columns(group));
  canon_builder_append_int64(out, 1, canon_table_num_rows(group));
  canon_builder_append_string(out, 2, "pad", 3);
  return 0;
}

static canon_df *plan_transform(canon_session *s, const void *arg) {
  (void)arg;
  canon_error err;
  canon_expr *sel[] = {canon_col("k"), canon_col("v"), canon_col("s")};
  canon_df *d = canon_select(src(s, 12, 300), sel, NULL, 3, &err);
  const char *by[] = {"k"};
  canon_partition_spec spec = {.by = by, .num_by = 1};
  canon_df *t = canon_transform(d, "prune_ncols", "ncols:int64,rows:int64,pad:string", &spec, &err);
  cr_assert(t, "%s", err.message);
  canon_df *f = canon_filter(t, canon_gt(canon_col("rows"), canon_lit_int64(1)), &err);
  canon_expr *o[] = {canon_col("ncols")};
  return canon_select(f, o, NULL, 1, &err);
}

Test(prune, transforms_see_whole_rows) {
  canon_error err;
  cr_assert_eq(canon_register_transform("prune_ncols", column_count, NULL, &err), 0);
  char *p = check(plan_transform, NULL, true);
  expect_schema(p, "select #2 ", "k:int64,v:float64,s:string");
  expect_schema(p, "transform #3 ", "ncols:int64,rows:int64,pad:string");
  expect_schema(p, "select #3 ", "ncols:int64,rows:int64");
  expect_schema(p, "filter #4 ", "ncols:int64,rows:int64");
  free(p);
}

/* ---- CSV, errors, the switch ------------------------------------------------- */

static canon_df *plan_csv(canon_session *s, const void *arg) {
  canon_error err;
  canon_csv_options o = {.schema = "region:string,item:string,units:int64,price:float64"};
  canon_df *d = canon_read_csv(s, arg, &o, &err);
  cr_assert(d, "%s", err.message);
  d = canon_filter(d, canon_gt(canon_col("units"), canon_lit_int64(2)), &err);
  const char *keys[] = {"region"};
  canon_expr *a[] = {canon_sum(canon_col("units"))};
  const char *n[] = {"u"};
  return canon_aggregate(d, keys, 1, a, n, 1, &err);
}

Test(prune, csv_scans_are_narrowed) {
  char *dir = tu_tmpdir(), path[512];
  snprintf(path, sizeof path, "%s/sales.csv", dir);
  tu_write_file(path, TU_SALES_CSV);
  char *p = check(plan_csv, path, true);
  expect_schema(p, "select #1 ", "region:string,units:int64");
  free(p);
  tu_rmdir(dir);
  free(dir);
}

/* An error in a kept expression names the same node either way. */
Test(prune, errors_name_the_users_node) {
  canon_session *s = tu_open("serial:partitions=2");
  canon_error err;
  canon_df *f = canon_filter(src(s, 13, 100),
                             canon_gt(canon_idiv(canon_col("x"), canon_lit_int64(0)), canon_lit_int64(1)), &err);
  canon_expr *o[] = {canon_col("k")};
  canon_df *d = canon_select(f, o, NULL, 1, &err);
  char msg[2][1024];
  for (int on = 0; on < 2; on++) {
    canon__prune_set(on);
    cr_assert_null(canon_collect(d, &err));
    snprintf(msg[on], sizeof msg[on], "%s", err.message);
  }
  canon__prune_set(-1);
  cr_assert_str_eq(msg[1], msg[0]);
  cr_assert(strstr(msg[1], "filter node 2"), "%s", msg[1]);
  canon_session_close(s);
}

/* A narrowed cast is named as the user's node: a failing strict cast says
 * "cast node 2" with the pass on as with it off, and the pruned plan
 * prints "cast #2".  (A processes worker, which gets the pruned plan as
 * JSON with the node's id only, calls it a select.) */
Test(prune, a_narrowed_cast_is_named_in_errors) {
  const char *engines[] = {"serial:partitions=2", "threads:workers=2,partitions=2"};
  for (size_t e = 0; e < sizeof engines / sizeof *engines; e++) {
    canon_session *s = tu_open(engines[e]);
    canon_error err;
    canon_table *t = canon_table_from_csv_text("a:string,b:int64,c:int64", "1,1,1\nx,2,2\n", &err);
    cr_assert(t, "%s", err.message);
    const char *cols[] = {"a"};
    canon_type types[] = {CANON_INT64};
    canon_df *cast = canon_cast_columns(canon_from_table(s, t, &err), cols, types, 1, 0, &err);
    canon_expr *o[] = {canon_col("a"), canon_col("b")};
    canon_df *d = canon_select(cast, o, NULL, 2, &err);
    cr_assert(d, "%s", err.message);
    char msg[2][1024];
    for (int on = 0; on < 2; on++) {
      canon__prune_set(on);
      cr_assert_null(canon_collect(d, &err));
      snprintf(msg[on], sizeof msg[on], "%s", err.message);
    }
    canon__prune_set(1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(canon_explain(d, f, 1, 0, &err), 0, "%s", err.message);
    fclose(f);
    canon__prune_set(-1);
    cr_assert_str_eq(msg[1], msg[0], "%s", engines[e]);
    cr_assert(strstr(msg[1], "cast node 2"), "%s: %s", engines[e], msg[1]);
    const char *pruned = strstr(buf, "pruned plan:");
    cr_assert(pruned && strstr(pruned, "cast #2"), "%s", buf);
    free(buf);
    canon_table_free(t);
    canon_session_close(s);
  }
}

Test(prune, the_pass_can_be_turned_off) {
  canon_session *s = tu_open("serial:partitions=2");
  canon_df *d = plan_top2(s, NULL);
  canon__prune_set(0);
  char *off = jt_explain(d);
  canon__prune_set(1);
  char *on = jt_explain(d);
  canon__prune_set(-1);
  cr_assert(!strstr(off, "pruned plan:") && strstr(on, "pruned plan:"), "%s\n%s", off, on);
  /* stage 0: scan, select, filter and the local take */
  cr_assert(strstr(on, "filter #2\n      select #1\n      scan_table #1"), "%s", on);
  cr_assert(strstr(off, "filter #2\n      scan_table #1"), "%s", off);
  free(off);
  free(on);
  /* nothing to drop: the plan is the user's own */
  canon_session_close(s);
  s = tu_open("serial:partitions=2");
  canon_session *owned = (canon_session *)1;
  canon_df *whole = src(s, 1, 10);
  cr_assert_eq(canon__prune(whole, &owned), whole);
  cr_assert_null(owned);
  canon_session_close(s);
}
