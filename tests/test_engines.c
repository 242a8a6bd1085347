/* End-to-end tests on every engine (serial, threads, processes) at several
 * partition counts: each plan must give the same answer everywhere. */
#include "testutil.h"

#include <unistd.h>

/* The engine matrix (TU_ENGINES x TU_PARTS) and tu_run_everywhere come from
 * testutil.h; the plans here take the data directory as their argument. */
#define PARTS TU_PARTS
#define NPARTS TU_NPARTS
#define ENGINES TU_ENGINES
#define NENGINES TU_NENGINES

static char *run_everywhere(tu_plan_fn plan, const char *dir, bool unordered) {
  return tu_run_everywhere(plan, dir, unordered);
}

static const char *SALES = TU_SALES_CSV;

static char *write_sales(const char *dir) {
  char *path = malloc(512);
  snprintf(path, 512, "%s/sales.csv", dir);
  tu_write_file(path, SALES);
  return path;
}

static canon_df *read_sales(canon_session *s, const void *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/sales.csv", (const char *)dir);
  canon_error err;
  canon_csv_options o = {.schema = "region:string,item:string,units:int64,price:float64"};
  canon_df *df = canon_read_csv(s, path, &o, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

static canon_df *plan_groupby(canon_session *s, const void *dir) {
  canon_error err;
  const char *keys[] = {"region"};
  canon_expr *aggs[] = {canon_count_star(), canon_count(canon_col("units")),
                        canon_sum(canon_col("units")), canon_mean(canon_col("price")),
                        canon_min(canon_col("item")), canon_max(canon_col("price"))};
  const char *names[] = {"n", "n_units", "units", "mean_price", "first_item", "max_price"};
  canon_df *df = canon_aggregate(read_sales(s, dir), keys, 1, aggs, names, 6, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

Test(engines, groupby_keeps_null_group_at_every_partition_count) {
  char *dir = tu_tmpdir();
  free(write_sales(dir));
  char *csv = run_everywhere(plan_groupby, dir, true);
  cr_assert_str_eq(csv,
                   "region,n,n_units,units,mean_price,first_item,max_price\n"
                   ",2,2,11,0.85,apple,1.5\n"
                   "east,2,1,9,0.3,kiwi,0.3\n"
                   "north,3,3,7,1.0333333333333334,apple,1.5\n"
                   "south,3,2,7,1.25,apple,2.25\n");
  free(csv);
  tu_rmdir(dir);
  free(dir);
}

static canon_df *plan_pipeline(canon_session *s, const void *dir) {
  canon_error err;
  canon_df *df = read_sales(s, dir);
  df = canon_filter(df, canon_or(canon_is_null(canon_col("units")),
                                 canon_gt(canon_col("units"), canon_lit_int64(2))), &err);
  canon_expr *add[] = {canon_mul(canon_cast(canon_col("units"), CANON_FLOAT64), canon_col("price"))};
  const char *an[] = {"revenue"};
  df = canon_assign(df, add, an, 1, &err);
  canon_sort_key k[] = {{.column = "region", .nulls_first = 1}, {.column = "revenue", .descending = 1}};
  df = canon_sort(df, k, 2, &err);
  canon_expr *cols[] = {canon_col("region"), canon_col("item"), canon_col("revenue")};
  df = canon_select(df, cols, NULL, 3, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

Test(engines, filter_assign_sort_select) {
  char *dir = tu_tmpdir();
  free(write_sales(dir));
  char *csv = run_everywhere(plan_pipeline, dir, false);
  cr_assert_str_eq(csv,
                   "region,item,revenue\n"
                   ",apple,10.5\n"
                   ",kiwi,0.8\n"
                   "east,pear,2.6999999999999997\n"
                   "east,kiwi,\n"
                   "north,apple,4.5\n"
                   "north,pear,4.5\n"
                   "south,kiwi,1.25\n"
                   "south,pear,\n");
  free(csv);
  tu_rmdir(dir);
  free(dir);
}

/* A stable sort keeps file order among ties at every partition count. */
static canon_df *plan_stable(canon_session *s, const void *dir) {
  (void)dir;
  canon_error err;
  char rows[20000] = "";
  for (int i = 0; i < 500; i++) {
    char line[32];
    snprintf(line, sizeof line, "%d,%d\n", (i * 37) % 5, i);
    strcat(rows, line);
  }
  canon_table *t = canon_table_from_csv_text("k:int64,pos:int64", rows, &err);
  cr_assert(t, "%s", err.message);
  canon_df *df = canon_from_table(s, t, &err);
  canon_table_free(t);
  canon_sort_key k[] = {{.column = "k", .descending = 1}};
  return canon_limit(canon_sort(df, k, 1, &err), 450, &err);
}

Test(engines, stable_sort_and_limit) {
  char *csv = run_everywhere(plan_stable, NULL, false);
  /* Check ties keep increasing positions. */
  int lastk = 99, lastpos = -1, lines = 0;
  char *save = NULL;
  char *copy = strdup(csv);
  for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    if (lines++ == 0) continue;
    int k, pos;
    cr_assert_eq(sscanf(l, "%d,%d", &k, &pos), 2);
    cr_assert_leq(k, lastk);
    if (k == lastk) cr_assert_gt(pos, lastpos);
    lastk = k;
    lastpos = pos;
  }
  cr_assert_eq(lines, 451);
  free(copy);
  free(csv);
}

/* A transform per group: the rows of each group arrive whole and presorted. */
static int rank_in_group(const canon_table *g, canon_builder *out, void *user, canon_error *err) {
  (void)user, (void)err;
  int reg = canon_table_find_column(g, "region"), item = canon_table_find_column(g, "item");
  for (int64_t r = 0; r < canon_table_num_rows(g); r++) {
    canon_builder_append_from(out, 0, g, reg, r);
    canon_builder_append_from(out, 1, g, item, r);
    canon_builder_append_int64(out, 2, r + 1);
    canon_builder_append_int64(out, 3, canon_table_num_rows(g));
  }
  return 0;
}

static canon_df *plan_transform(canon_session *s, const void *dir) {
  canon_error err;
  const char *by[] = {"region"};
  canon_sort_key pre[] = {{.column = "item", .descending = 1}};
  canon_partition_spec spec = {.by = by, .num_by = 1, .presort = pre, .num_presort = 1};
  canon_df *df = canon_transform(read_sales(s, dir), "rank_in_group",
                                 "region:string,item:string,rank:int64,size:int64", &spec, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

Test(engines, transform_per_group_with_presort) {
  canon_error err;
  cr_assert_eq(canon_register_transform("rank_in_group", rank_in_group, NULL, &err), 0);
  char *dir = tu_tmpdir();
  free(write_sales(dir));
  char *csv = run_everywhere(plan_transform, dir, true);
  cr_assert_str_eq(csv,
                   "region,item,rank,size\n"
                   ",apple,2,2\n"
                   ",kiwi,1,2\n"
                   "east,kiwi,2,2\n"
                   "east,pear,1,2\n"
                   "north,apple,3,3\n"
                   "north,kiwi,2,3\n"
                   "north,pear,1,3\n"
                   "south,apple,3,3\n"
                   "south,kiwi,2,3\n"
                   "south,pear,1,3\n");
  free(csv);
  tu_rmdir(dir);
  free(dir);
}

/* Without keys and with num: an even split by position, independent of the
 * engine's partition count. */
static int count_rows(const canon_table *g, canon_builder *out, void *user, canon_error *err) {
  (void)user, (void)err;
  return canon_builder_append_int64(out, 0, canon_table_num_rows(g));
}

static canon_df *plan_num(canon_session *s, const void *dir) {
  canon_error err;
  canon_partition_spec spec = {.num = 3};
  return canon_transform(read_sales(s, dir), "count_rows", "n:int64", &spec, &err);
}

Test(engines, transform_num_partitions_is_deterministic) {
  canon_error err;
  cr_assert_eq(canon_register_transform("count_rows", count_rows, NULL, &err), 0);
  char *dir = tu_tmpdir();
  free(write_sales(dir));
  char *csv = run_everywhere(plan_num, dir, false);
  cr_assert_str_eq(csv, "n\n4\n3\n3\n"); /* rows 0-3, 4-6, 7-9 */
  free(csv);
  tu_rmdir(dir);
  free(dir);
}

static int fail_on_south(const canon_table *g, canon_builder *out, void *user, canon_error *err) {
  (void)out, (void)user;
  size_t len;
  const char *r = canon_table_is_null(g, 0, 0) ? "" : canon_table_get_string(g, 0, 0, &len);
  if (strncmp(r, "south", 5) == 0) {
    snprintf(err->message, sizeof err->message, "cannot handle the south");
    return 1;
  }
  return 0;
}

static int wrong_schema(const canon_table *g, canon_builder *out, void *user, canon_error *err) {
  (void)user, (void)err;
  /* Declared n:int64 but appends a string, ignoring the return code. */
  canon_builder_append_string(out, 0, "oops", 4);
  (void)g;
  return 0;
}

Test(engines, transform_errors_name_group_and_leave_no_file) {
  canon_error err;
  canon_register_transform("fail_on_south", fail_on_south, NULL, &err);
  canon_register_transform("wrong_schema", wrong_schema, NULL, &err);
  char *dir = tu_tmpdir();
  free(write_sales(dir));
  char out[600];
  snprintf(out, sizeof out, "%s/out.csv", dir);
  for (int i = 0; i < NPARTS * NENGINES; i++) {
    char engine[64];
    snprintf(engine, sizeof engine, ENGINES[i / NPARTS], PARTS[i % NPARTS]);
    canon_session *s = tu_open(engine);
    const char *by[] = {"region"};
    canon_partition_spec spec = {.by = by, .num_by = 1};
    canon_df *df = canon_transform(read_sales(s, dir), "fail_on_south", "region:string", &spec, &err);
    cr_assert(df);
    cr_assert_neq(canon_write_csv(df, out, &err), 0);
    cr_assert_eq(err.code, CANON_ERR_TRANSFORM);
    cr_assert(strstr(err.message, "cannot handle the south"), "%s", err.message);
    cr_assert(strstr(err.message, "region=south"), "%s", err.message);
    cr_assert(strstr(err.message, "transform node"), "%s", err.message);
    cr_assert_eq(tu_dir_entries(dir), 1, "no output or temp file may be left");

    df = canon_transform(read_sales(s, dir), "wrong_schema", "n:int64", &spec, &err);
    cr_assert_neq(canon_write_csv(df, out, &err), 0);
    cr_assert_eq(err.code, CANON_ERR_TRANSFORM, "%s", err.message);
    cr_assert(strstr(err.message, "wrong_schema") && strstr(err.message, "declared schema"),
              "%s", err.message);
    cr_assert_eq(tu_dir_entries(dir), 1);
    canon_session_close(s);
  }
  tu_rmdir(dir);
  free(dir);
}

Test(engines, write_csv_atomic_roundtrip) {
  char *dir = tu_tmpdir();
  free(write_sales(dir));
  canon_session *s = tu_open("serial:partitions=3");
  char out[600];
  snprintf(out, sizeof out, "%s/copy.csv", dir);
  canon_error err;
  cr_assert_eq(canon_write_csv(read_sales(s, dir), out, &err), 0, "%s", err.message);
  FILE *f = fopen(out, "r");
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  cr_assert_str_eq(buf, SALES);
  cr_assert_eq(tu_dir_entries(dir), 2);
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
}

Test(engines, errors_at_build_time_and_run_time) {
  canon_session *s = tu_open("serial:partitions=2");
  canon_error err;
  char *dir = tu_tmpdir();
  free(write_sales(dir));
  canon_df *df = read_sales(s, dir);
  cr_assert_null(canon_filter(df, canon_gt(canon_col("unit"), canon_lit_int64(1)), &err));
  cr_assert_eq(err.code, CANON_ERR_NOT_FOUND);
  cr_assert(strstr(err.message, "filter node") && strstr(err.message, "'unit'"), "%s", err.message);
  cr_assert_null(canon_filter(df, canon_col("units"), &err));
  cr_assert_eq(err.code, CANON_ERR_TYPE);
  cr_assert_null(canon_transform(df, "nope", "a:int64", NULL, &err));
  cr_assert(strstr(err.message, "unknown transform 'nope'"), "%s", err.message);
  /* Division by zero is found while running and names the expression. */
  canon_expr *e[] = {canon_idiv(canon_col("units"), canon_lit_int64(0))};
  canon_df *bad = canon_select(df, e, (const char *[]){"q"}, 1, &err);
  cr_assert(bad, "%s", err.message);
  cr_assert_null(canon_collect(bad, &err));
  cr_assert_eq(err.code, CANON_ERR_DIV_ZERO, "%s", err.message);
  cr_assert(strstr(err.message, "select node"), "%s", err.message);
  /* A malformed file is an error naming file:line:column. */
  char path[600];
  snprintf(path, sizeof path, "%s/bad.csv", dir);
  tu_write_file(path, "a,b\n1,2\n3,x\n");
  canon_csv_options o = {.schema = "a:int64,b:int64"};
  canon_df *r = canon_read_csv(s, path, &o, &err);
  cr_assert(r, "%s", err.message);
  cr_assert_null(canon_collect(r, &err));
  cr_assert(strstr(err.message, "bad.csv:3:3"), "%s", err.message);
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
}

Test(engines, empty_inputs) {
  canon_session *s = tu_open("serial:partitions=3");
  canon_error err;
  canon_table *t = canon_table_from_csv_text("k:string,v:int64", "", &err);
  cr_assert(t, "%s", err.message);
  canon_df *df = canon_from_table(s, t, &err);
  canon_table_free(t);
  canon_expr *a1[] = {canon_count_star(), canon_sum(canon_col("v"))};
  char *csv = tu_collect_csv(canon_aggregate(df, NULL, 0, a1, (const char *[]){"n", "s"}, 2, &err));
  cr_assert_str_eq(csv, "n,s\n0,\n");
  free(csv);
  canon_expr *a2[] = {canon_count_star()};
  csv = tu_collect_csv(canon_aggregate(df, (const char *[]){"k"}, 1, a2, (const char *[]){"n"}, 1, &err));
  cr_assert_str_eq(csv, "k,n\n");
  free(csv);
  canon_session_close(s);
}

Test(engines, inferred_schema_and_arrow_in_and_out) {
  char *dir = tu_tmpdir();
  free(write_sales(dir));
  char path[600];
  snprintf(path, sizeof path, "%s/sales.csv", dir);
  canon_error err;
  for (int i = 0; i < NPARTS; i++) {
    char engine[64];
    snprintf(engine, sizeof engine, "serial:partitions=%d", PARTS[i]);
    canon_session *s = tu_open(engine);
    /* No schema given: inferred from a sample of the file. */
    canon_df *df = canon_read_csv(s, path, NULL, &err);
    cr_assert(df, "%s", err.message);
    char *sch = canon_schema_to_string(canon_df_schema(df));
    cr_assert_str_eq(sch, "region:string,item:string,units:int64,price:float64");
    free(sch);
    /* Export through the Arrow C Data Interface, import as a new source. */
    struct ArrowSchema as;
    struct ArrowArray aa;
    cr_assert_eq(canon_export_arrow(df, &as, &aa, &err), 0, "%s", err.message);
    cr_assert_eq(aa.length, 10);
    canon_df *back = canon_from_arrow(s, &as, &aa, &err);
    cr_assert(back, "%s", err.message);
    as.release(&as);
    char *csv = tu_collect_csv(back);
    cr_assert_str_eq(csv, SALES);
    free(csv);
    /* And as a stream. */
    struct ArrowArrayStream st;
    cr_assert_eq(canon_export_arrow_stream(df, &st, &err), 0, "%s", err.message);
    struct ArrowSchema ss;
    struct ArrowArray sa;
    cr_assert_eq(st.get_schema(&st, &ss), 0);
    cr_assert_str_eq(ss.format, "+s");
    cr_assert_eq(ss.n_children, 4);
    cr_assert_eq(st.get_next(&st, &sa), 0);
    cr_assert_eq(sa.length, 10);
    sa.release(&sa);
    cr_assert_eq(st.get_next(&st, &sa), 0);
    cr_assert_null(sa.release, "end of stream");
    ss.release(&ss);
    st.release(&st);
    canon_session_close(s);
  }
  tu_rmdir(dir);
  free(dir);
}

static int fail_every_group(const canon_table *g, canon_builder *out, void *user, canon_error *err) {
  (void)out, (void)user;
  size_t len = 0;
  const char *r = canon_table_is_null(g, 0, 0) ? "NULL" : canon_table_get_string(g, 0, 0, &len);
  snprintf(err->message, sizeof err->message, "no rows wanted for %.*s",
           (int)(len ? len : strlen(r)), r);
  return 1;
}

/* When many tasks fail, every engine reports the error the serial engine
 * meets first (the lowest failing task), not whichever failed first in time. */
Test(engines, many_failures_report_the_same_error_everywhere) {
  canon_error err;
  canon_register_transform("fail_every_group", fail_every_group, NULL, &err);
  char *dir = tu_tmpdir();
  free(write_sales(dir));
  for (int p = 0; p < NPARTS; p++) {
    char first[sizeof err.message] = "";
    for (int e = 0; e < NENGINES; e++) {
      char engine[64];
      snprintf(engine, sizeof engine, ENGINES[e], PARTS[p]);
      for (int rep = 0; rep < 3; rep++) {
        canon_session *s = tu_open(engine);
        const char *by[] = {"region"};
        canon_partition_spec spec = {.by = by, .num_by = 1};
        canon_df *df = canon_transform(read_sales(s, dir), "fail_every_group", "region:string",
                                       &spec, &err);
        cr_assert_null(canon_collect(df, &err));
        cr_assert_eq(err.code, CANON_ERR_TRANSFORM, "%s", err.message);
        if (!first[0])
          memcpy(first, err.message, sizeof first);
        else
          cr_assert_str_eq(err.message, first, "%s gave another error", engine);
        canon_session_close(s);
      }
    }
  }
  tu_rmdir(dir);
  free(dir);
}
