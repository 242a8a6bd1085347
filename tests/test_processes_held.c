/* test_processes_held.c — a job's one-table result written by the
 * workers straight into its segment (backends/processes/held.c), after
 * one stage (a load) or several (a sort, a join, a keyed transform):
 * the same rows, NULLs and dictionary codes as the serial engine's, in
 * the same order; one copy of the table in the driver's memory, not two;
 * a worker that dies holding a finished result makes the job run again
 * (the plain way) with the same answer; concat_in_workers=0 turns it off
 * and is checked like every option. */
#include "codec_testutil.h"
#include "processes_testutil.h"

#include <sys/resource.h>
#include <sys/stat.h>

/* A CSV of n rows: k int64 (NULL every 7th), s strings of 37 values
 * (NULL every 11th; codes), f float64, b bool (NULL every 13th); the
 * last row has k = 999999. */
static void write_csv(const char *path, int64_t n) {
  FILE *f = fopen(path, "w");
  cr_assert(f);
  fprintf(f, "k,s,f,b\n");
  for (int64_t r = 0; r < n; r++) {
    if (r == n - 1) fprintf(f, "999999,");
    else if (r % 7 == 3) fprintf(f, ",");
    else fprintf(f, "%lld,", (long long)(r * 31 % 1000));
    if (r % 11 == 5) fprintf(f, ",");
    else fprintf(f, "v%lld,", (long long)(r % 37));
    fprintf(f, "%lld.25,", (long long)(r % 101));
    if (r % 13 == 2) fprintf(f, "\n");
    else fprintf(f, "%s\n", r % 2 ? "true" : "false");
  }
  fclose(f);
}

/* A new temporary directory (returned) holding data.csv of n rows, whose
 * path goes to path. */
static char *csv_in_tmpdir(int64_t n, char path[600]) {
  char *dir = tu_tmpdir();
  snprintf(path, 600, "%s/data.csv", dir);
  write_csv(path, n);
  return dir;
}

static const canon_csv_options OPTS = {.schema = "k:int64,s:string,f:float64,b:bool"};

/* The rows of the file at path as the engine loads and persists them. */
static canon_table *load(const char *engine, const char *path) {
  canon_session *s = tu_open(engine);
  canon_error err;
  canon_error_clear(&err);
  canon_df *kept = canon_persist(canon_read_csv(s, path, &OPTS, &err), &err);
  cr_assert(kept, "%s", err.message);
  canon_table *t = canon_collect(kept, &err);
  cr_assert(t, "%s: %s", engine, err.message);
  /* A later job reads the persisted table (shared with the workers). */
  canon_expr *k = canon_col("k");
  canon_table *again = canon_collect(canon_select(kept, &k, NULL, 1, &err), &err);
  cr_assert(again, "%s: %s", engine, err.message);
  cr_assert_eq(canon_table_num_rows(again), canon_table_num_rows(t));
  canon_table_free(again);
  canon_session_close(s);
  return t;
}

Test(processes_held, a_load_written_by_the_workers_is_the_serial_engines) {
  char path[600];
  char *dir = csv_in_tmpdir(20011, path);
  canon_table *want = load("serial", path);
  /* (Many more parts than a socket's buffer holds orders and answers.) */
  const char *engines[] = {"processes:workers=2,partitions=5", "processes:workers=3,partitions=8",
                           "processes:workers=2,partitions=400",
                           "processes:workers=2,partitions=5,concat_in_workers=0"};
  for (size_t e = 0; e < sizeof engines / sizeof *engines; e++) {
    canon_table *got = load(engines[e], path);
    ct_assert_same_bits(got, want);
    /* (Parts of 50 rows hold too many of the 37 strings to get codes.) */
    if (!strstr(engines[e], "partitions=400"))
      cr_assert(got->cols[1]->dict, "%s: the strings lost their codes", engines[e]);
    char *a = tu_csv(want), *b = tu_csv(got);
    cr_assert_str_eq(b, a, "%s", engines[e]);
    free(a);
    free(b);
    canon_table_free(got);
  }
  canon_table_free(want);
  assert_no_children();
  tu_rmdir(dir);
  free(dir);
}

static int64_t peak_resident_bytes(void) {
  struct rusage ru;
  cr_assert_eq(getrusage(RUSAGE_SELF, &ru), 0);
  return (int64_t)ru.ru_maxrss * 1024;
}

/* The driver's peak grows by at most the persisted table's bytes and a
 * half (it reads the one segment the workers wrote; the plain way it read
 * their segments and wrote the table's: twice the table). */
static int64_t driver_growth(const char *engine, const char *path, int64_t *table) {
  canon_session *s = tu_open(engine);
  canon_error err;
  canon_error_clear(&err);
  canon_df *kept = canon_persist(canon_read_csv(s, path, &OPTS, &err), &err);
  cr_assert(kept, "%s", err.message);
  int64_t before = peak_resident_bytes();
  canon_table *two = canon_collect(canon_limit(kept, 2, &err), &err);
  cr_assert(two, "%s: %s", engine, err.message);
  int64_t grew = peak_resident_bytes() - before;
  canon_table_free(two);
  canon_table *all = canon_collect(kept, &err);
  cr_assert(all, "%s", err.message);
  *table = canon__table_bytes(all);
  canon_table_free(all);
  canon_session_close(s);
  return grew;
}

/* The driver's growth over the load of a 1.5 million-row file (a
 * process of its own each: the peak is the process's). */
static void check_growth(const char *engine, bool held) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  cr_skip_test("sanitizers change the driver's memory");
#endif
  char path[600];
  char *dir = csv_in_tmpdir(1500000, path);
  int64_t table = 0;
  int64_t grew = driver_growth(engine, path, &table);
  cr_assert_gt(table, (int64_t)30 << 20);
  cr_log_info("%s: the driver grew by %lld MB for a %lld MB table", engine, (long long)(grew >> 20),
              (long long)(table >> 20));
  if (held)
    cr_assert_lt(grew, table * 3 / 2, "the driver grew by %lld MB for a %lld MB table",
                 (long long)(grew >> 20), (long long)(table >> 20));
  else
    cr_assert_gt(grew, table * 3 / 2, "the plain way grew by %lld MB for a %lld MB table",
                 (long long)(grew >> 20), (long long)(table >> 20));
  tu_rmdir(dir);
  free(dir);
}

Test(processes_held, the_driver_holds_one_copy_of_a_load) {
  check_growth("processes:workers=2,partitions=4", true);
}

/* The plain way, for the record: the measure tells the two apart. */
Test(processes_held, the_plain_way_held_two) {
  check_growth("processes:workers=2,partitions=4,concat_in_workers=0", false);
}

/* Per partition: every row passed on. */
static int pass_rows(const canon_table *t, canon_builder *out, void *u, canon_error *e) {
  (void)u, (void)e;
  for (int c = 0; c < 4; c++)
    for (int64_t r = 0; r < canon_table_num_rows(t); r++)
      if (canon_builder_append_from(out, c, t, c, r) != 0) return 1;
  return 0;
}

/* Per partition: rows passed on; the partition holding the file's last
 * row kills its worker the first time.  With one worker, the partitions
 * before it are finished and held by the worker that dies. */
static int kill_once_at_the_end(const canon_table *t, canon_builder *out, void *u, canon_error *e) {
  int k = canon_table_find_column(t, "k");
  for (int64_t r = 0; r < canon_table_num_rows(t); r++)
    if (!canon_table_is_null(t, k, r) && canon_table_get_int64(t, k, r) == 999999 && first_time())
      kill(getpid(), SIGKILL);
  return pass_rows(t, out, u, e);
}

static void setup(void) {
  canon_error err;
  canon_register_transform("kill_once_at_the_end", kill_once_at_the_end, NULL, &err);
  canon_register_transform("pass_rows", pass_rows, NULL, &err);
}

/* The table's rows as CSV, in sorted order. */
static char *sorted_csv(const canon_table *t) {
  char *csv = tu_csv(t), *sorted = tu_sorted_lines(csv);
  free(csv);
  return sorted;
}

/* The answer of a job whose transform killed its worker once (it did):
 * want's rows, in order or (an engine's own order) as a set; both freed. */
static void assert_answer_after_the_kill(canon_table *want, canon_table *got, bool in_order) {
  struct stat sb;
  cr_assert_eq(stat(marker, &sb), 0, "the transform never killed its worker");
  char *a = in_order ? tu_csv(want) : sorted_csv(want), *b = in_order ? tu_csv(got) : sorted_csv(got);
  cr_assert_str_eq(b, a);
  free(a);
  free(b);
  canon_table_free(got);
  canon_table_free(want);
}

Test(processes_held, a_holder_that_dies_makes_the_job_run_again, .init = setup) {
  char path[600];
  char *dir = csv_in_tmpdir(3001, path);
  snprintf(marker, sizeof marker, "%s/killed-once", dir);
  canon_table *want = load("serial", path);
  canon_session *s = tu_open("processes:workers=1,partitions=4");
  canon_error err;
  canon_error_clear(&err);
  canon_partition_spec spec = {0};
  canon_df *df = canon_transform(canon_read_csv(s, path, &OPTS, &err), "kill_once_at_the_end",
                                 "k:int64,s:string,f:float64,b:bool", &spec, &err);
  canon_table *got = canon_collect(df, &err);
  cr_assert(got, "%s", err.message);
  assert_answer_after_the_kill(want, got, true);
  canon_session_close(s);
  assert_no_children();
  tu_rmdir(dir);
  free(dir);
}

/* The rows of the file at path through a job of several stages: sorted
 * by (s, k) (an exchange by ranges), joined on k with a few of its own
 * rows (a broadcast), or passed through a transform per key (a hash
 * exchange; `transform` names it). */
static canon_table *staged(const char *engine, const char *path, int which, const char *transform) {
  canon_session *s = tu_open(engine);
  canon_error err;
  canon_error_clear(&err);
  canon_df *df = canon_read_csv(s, path, &OPTS, &err);
  canon_table *got = NULL;
  if (which == 0) {
    canon_sort_key keys[] = {{"s", 0, 0}, {"k", 0, 0}, {"f", 1, 0}};
    got = canon_collect(canon_sort(df, keys, 3, &err), &err);
  } else if (which == 1) {
    canon_expr *few = canon_lt(canon_col("k"), canon_lit_int64(40));
    canon_expr *cols[] = {canon_col("k"), canon_col("s")};
    const char *names[] = {"k", "s2"};
    canon_df *right = canon_select(canon_filter(canon_read_csv(s, path, &OPTS, &err), few, &err),
                                   cols, names, 2, &err);
    const char *on[] = {"k"};
    canon_join_options o = {.right_suffix = "_r", .strategy = CANON_JOIN_BROADCAST};
    canon_sort_key keys[] = {{"k", 0, 0}, {"s", 0, 0}, {"s2", 0, 0}, {"f", 0, 0}, {"b", 0, 0}};
    /* Sorted after the join: a join's rows come in no set order. */
    got = canon_collect(canon_sort(canon_join(df, right, CANON_JOIN_INNER, on, NULL, 1, &o, &err),
                                   keys, 5, &err), &err);
  } else {
    static const char *const by[] = {"k"};
    canon_partition_spec spec = {.by = by, .num_by = 1};
    got = canon_collect(canon_transform(df, transform, "k:int64,s:string,f:float64,b:bool", &spec, &err),
                        &err);
  }
  cr_assert(got, "%s: %s", engine, err.message);
  canon_session_close(s);
  return got;
}

/* The result of the last stage of a job of several stages, written by the
 * workers into one segment: the serial engine's rows bit for bit (the
 * transform's, whose order is the engine's own, as the same rows). */
Test(processes_held, results_of_jobs_with_exchanges_are_the_serial_engines, .init = setup) {
  char path[600];
  char *dir = csv_in_tmpdir(30011, path);
  const char *engines[] = {"processes:workers=2,partitions=5", "processes:workers=3,partitions=64",
                           "processes:workers=2,partitions=5,concat_in_workers=0"};
  for (int which = 0; which < 3; which++) {
    canon_table *want = staged("serial", path, which, "pass_rows");
    char *a = which == 2 ? sorted_csv(want) : tu_csv(want);
    for (size_t e = 0; e < sizeof engines / sizeof *engines; e++) {
      canon_table *got = staged(engines[e], path, which, "pass_rows");
      if (which < 2) ct_assert_same_bits(got, want);
      char *b = which == 2 ? sorted_csv(got) : tu_csv(got);
      cr_assert_str_eq(b, a, "%s, job %d", engines[e], which);
      free(b);
      canon_table_free(got);
    }
    free(a);
    canon_table_free(want);
  }
  assert_no_children();
  tu_rmdir(dir);
  free(dir);
}

/* The same after an exchange: the transform runs per key, in the last
 * stage of a job of two; its worker dies holding the partitions it
 * finished before (if any: the scheduler's order decides). */
Test(processes_held, a_holder_that_dies_after_an_exchange_makes_the_job_run_again, .init = setup) {
  char path[600];
  char *dir = csv_in_tmpdir(3001, path);
  snprintf(marker, sizeof marker, "%s/killed-once", dir);
  canon_table *want = load("serial", path);
  canon_table *got = staged("processes:workers=1,partitions=4", path, 2, "kill_once_at_the_end");
  assert_answer_after_the_kill(want, got, false);
  assert_no_children();
  tu_rmdir(dir);
  free(dir);
}

/* A small result is written the same way but not kept among the
 * session's shared tables (each holds a descriptor until the session
 * closes or drops it): collecting one leaves no descriptor behind. */
Test(processes_held, a_small_result_is_not_kept_as_a_shared_table) {
  char path[600];
  char *dir = csv_in_tmpdir(500, path);
  canon_session *s = tu_open("processes:workers=2,partitions=4,share_min=0");
  int fds = count_fds();
  canon_error err;
  canon_error_clear(&err);
  canon_table *t = canon_collect(canon_read_csv(s, path, &OPTS, &err), &err);
  cr_assert(t, "%s", err.message);
  cr_assert_eq(canon_table_num_rows(t), 500);
  canon_table_free(t);
  cr_assert_eq(count_fds(), fds, "collecting a small result kept a descriptor");
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
}

Test(processes_held, concat_in_workers_is_checked) {
  canon_error err;
  const char *bad[] = {"processes:concat_in_workers=2", "processes:concat_in_workers=yes",
                       "processes:concat_in_workers="};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    canon_error_clear(&err);
    canon_config *c = canon_config_new();
    canon_session *s = NULL;
    if (canon_config_set_engine(c, bad[i], &err) == 0) s = canon_session_open(c, &err);
    canon_config_free(c);
    cr_assert_null(s, "%s was accepted", bad[i]);
    cr_assert_eq(err.code, CANON_ERR_CONFIG, "%s: %s", bad[i], err.message);
    cr_assert(strstr(err.message, "concat_in_workers"), "%s", err.message);
  }
}
