/* test_processes.c — the processes engine's own promises, beyond giving
 * every engine test's answers (tests/test_engines.c runs them all on it):
 * a crashing, killed or stuck worker is detected, replaced and its task
 * retried or the job failed with a message naming stage, partition, group
 * and signal; task errors are the serial engine's; options are checked;
 * sessions are independent and workers run no atexit handler; nothing
 * leaks (child processes, descriptors, shared memory), also when the
 * driver is killed.  Shared tables and kept output segments are
 * test_processes_shared.c's.  Faults are injected deterministically: a
 * transform crashes on a given group, or only while a marker file does not
 * exist yet. */
#include "processes_testutil.h"

#include <sys/prctl.h>
#include <sys/stat.h>

static const char *DATA = TU_REGION_UNITS_CSV;

static bool group_is(const canon_table *g, const char *region) {
  int c = canon_table_find_column(g, "region");
  if (canon_table_num_rows(g) == 0 || c < 0 || canon_table_is_null(g, c, 0)) return false;
  size_t len;
  const char *v = canon_table_get_string(g, c, 0, &len);
  return v && len == strlen(region) && memcmp(v, region, len) == 0;
}

/* (region, rows in the group). */
static int count_group(const canon_table *g, canon_builder *out) {
  canon_builder_append_from(out, 0, g, canon_table_find_column(g, "region"), 0);
  return canon_builder_append_int64(out, 1, canon_table_num_rows(g));
}

static int crash_on_south(const canon_table *g, canon_builder *out, void *u, canon_error *e) {
  (void)u, (void)e;
  if (group_is(g, "south")) die_by(SIGSEGV);
  return count_group(g, out);
}

static int crash_once_on_east(const canon_table *g, canon_builder *out, void *u, canon_error *e) {
  (void)u, (void)e;
  if (group_is(g, "east") && first_time()) die_by(SIGSEGV);
  return count_group(g, out);
}

static int sigkill_once_on_west(const canon_table *g, canon_builder *out, void *u, canon_error *e) {
  (void)u, (void)e;
  if (group_is(g, "west") && first_time()) kill(getpid(), SIGKILL);
  return count_group(g, out);
}

static int hang_on_north(const canon_table *g, canon_builder *out, void *u, canon_error *e) {
  (void)u, (void)e;
  if (group_is(g, "north"))
    for (;;) pause();
  return count_group(g, out);
}

static int exit_on_north(const canon_table *g, canon_builder *out, void *u, canon_error *e) {
  (void)u, (void)e;
  if (group_is(g, "north")) _exit(3);
  return count_group(g, out);
}

static int error_on_west(const canon_table *g, canon_builder *out, void *u, canon_error *e) {
  (void)u;
  if (group_is(g, "west")) {
    snprintf(e->message, sizeof e->message, "west is not allowed");
    return 1;
  }
  return count_group(g, out);
}

/* Appends the worker's pid to the file `marker` names, passes rows on. */
/* Register the transforms before any session opens: workers are forked
 * then and know them by name. */
static void setup(void) {
  canon_error err;
  canon_register_transform("crash_on_south", crash_on_south, NULL, &err);
  canon_register_transform("crash_once_on_east", crash_once_on_east, NULL, &err);
  canon_register_transform("sigkill_once_on_west", sigkill_once_on_west, NULL, &err);
  canon_register_transform("hang_on_north", hang_on_north, NULL, &err);
  canon_register_transform("exit_on_north", exit_on_north, NULL, &err);
  canon_register_transform("error_on_west", error_on_west, NULL, &err);
}

TestSuite(processes, .init = setup);

static char *make_data(void) {
  char *dir = tu_tmpdir();
  char path[600];
  snprintf(path, sizeof path, "%s/data.csv", dir);
  tu_write_file(path, DATA);
  snprintf(marker, sizeof marker, "%s/crashed-once", dir);
  return dir;
}

static canon_df *per_region(canon_session *s, const char *dir, const char *fn) {
  char path[600];
  snprintf(path, sizeof path, "%s/data.csv", dir);
  canon_error err;
  canon_csv_options o = {.schema = "region:string,units:int64"};
  const char *by[] = {"region"};
  canon_partition_spec spec = {.by = by, .num_by = 1};
  canon_df *df = canon_transform(canon_read_csv(s, path, &o, &err), fn, "region:string,n:int64",
                                 &spec, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

static const char *COUNTS = "region,n\neast,2\nnorth,3\nsouth,3\nwest,2\n";

Test(processes, segfault_on_one_group_names_it_and_the_session_survives) {
  char *dir = make_data();
  canon_session *s = tu_open("processes:workers=2,partitions=3,retries=1");
  canon_error err;
  canon_error_clear(&err);
  cr_assert_null(try_collect(per_region(s, dir, "crash_on_south"), &err));
  cr_assert_eq(err.code, CANON_ERR_ENGINE, "%s", err.message);
  cr_assert(strstr(err.message, "worker killed by signal 11"), "%s", err.message);
  cr_assert(strstr(err.message, "on 2 attempts"), "%s", err.message);
  cr_assert(strstr(err.message, "group (region=south)"), "%s", err.message);
  cr_assert(strstr(err.message, "transform 'crash_on_south' (transform node "), "%s", err.message);
  cr_assert(strstr(err.message, "stage 1 (transform#"), "%s", err.message);
  cr_assert(strstr(err.message, "partition "), "%s", err.message);
  /* The same session runs the next job. */
  char *csv = try_collect(per_region(s, dir, "crash_once_on_east"), &err);
  cr_assert(csv, "%s", err.message);
  cr_assert_str_eq(csv, COUNTS);
  free(csv);
  canon_session_close(s);
  assert_no_children();
  tu_rmdir(dir);
  free(dir);
}

Test(processes, crash_on_first_attempt_is_retried) {
  char *dir = make_data();
  canon_session *s = tu_open("processes:workers=2,partitions=3");
  canon_error err;
  char *csv = try_collect(per_region(s, dir, "crash_once_on_east"), &err);
  cr_assert(csv, "%s", err.message);
  cr_assert_str_eq(csv, COUNTS);
  struct stat sb;
  cr_assert_eq(stat(marker, &sb), 0, "the transform never crashed");
  free(csv);
  canon_session_close(s);
  /* Same answer as serial (the crash left no trace in the result). */
  s = tu_open("serial:partitions=3");
  csv = try_collect(per_region(s, dir, "crash_once_on_east"), &err);
  cr_assert_str_eq(csv, COUNTS);
  free(csv);
  canon_session_close(s);
  assert_no_children();
  tu_rmdir(dir);
  free(dir);
}

Test(processes, worker_killed_with_sigkill_mid_job_is_replaced) {
  char *dir = make_data();
  canon_session *s = tu_open("processes:workers=3,partitions=4,retries=1");
  canon_error err;
  char *csv = try_collect(per_region(s, dir, "sigkill_once_on_west"), &err);
  cr_assert(csv, "%s", err.message);
  cr_assert_str_eq(csv, COUNTS);
  free(csv);
  canon_session_close(s);
  assert_no_children();
  tu_rmdir(dir);
  free(dir);
}

Test(processes, retries_zero_fails_on_the_first_crash) {
  char *dir = make_data();
  canon_session *s = tu_open("processes:workers=2,partitions=2,retries=0");
  canon_error err;
  cr_assert_null(try_collect(per_region(s, dir, "crash_once_on_east"), &err));
  cr_assert(strstr(err.message, "signal 11 (") && strstr(err.message, "on 1 attempt"), "%s",
            err.message);
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
}

Test(processes, worker_exit_is_reported_with_its_status) {
  char *dir = make_data();
  canon_session *s = tu_open("processes:workers=2,partitions=2,retries=1");
  canon_error err;
  cr_assert_null(try_collect(per_region(s, dir, "exit_on_north"), &err));
  cr_assert(strstr(err.message, "worker exited with status 3 on 2 attempts"), "%s", err.message);
  canon_session_close(s);
  assert_no_children();
  tu_rmdir(dir);
  free(dir);
}

Test(processes, stuck_task_is_bounded_by_task_timeout) {
  char *dir = make_data();
  canon_session *s = tu_open("processes:workers=2,partitions=2,retries=1,task_timeout=0.3");
  canon_error err;
  cr_assert_null(try_collect(per_region(s, dir, "hang_on_north"), &err));
  cr_assert_eq(err.code, CANON_ERR_ENGINE);
  cr_assert(strstr(err.message, "task timed out after 0.3 s"), "%s", err.message);
  cr_assert(strstr(err.message, "on 2 attempts"), "%s", err.message);
  cr_assert(strstr(err.message, "group (region=north)"), "%s", err.message);
  canon_session_close(s);
  assert_no_children();
  tu_rmdir(dir);
  free(dir);
}

/* Task errors travel back unchanged: code and message as serial gives. */
static void same_error(const char *dir, canon_df *(*plan)(canon_session *, const char *)) {
  canon_error a, b;
  canon_session *s = tu_open("serial:partitions=3");
  cr_assert_null(try_collect(plan(s, dir), &a));
  canon_session_close(s);
  s = tu_open("processes:workers=2,partitions=3");
  cr_assert_null(try_collect(plan(s, dir), &b));
  canon_session_close(s);
  cr_assert_neq(a.code, CANON_OK);
  cr_assert_eq(a.code, b.code, "serial %s / processes %s", a.message, b.message);
  cr_assert_str_eq(a.message, b.message);
}

static canon_df *plan_div_zero(canon_session *s, const char *dir) {
  char path[600];
  snprintf(path, sizeof path, "%s/data.csv", dir);
  canon_error err;
  canon_csv_options o = {.schema = "region:string,units:int64"};
  canon_expr *e[] = {canon_idiv(canon_lit_int64(10), canon_col("units"))};
  const char *n[] = {"q"};
  return canon_assign(canon_read_csv(s, path, &o, &err), e, n, 1, &err);
}

static canon_df *plan_transform_error(canon_session *s, const char *dir) {
  return per_region(s, dir, "error_on_west");
}

static canon_df *plan_bad_csv(canon_session *s, const char *dir) {
  char path[600];
  snprintf(path, sizeof path, "%s/data.csv", dir);
  canon_error err;
  canon_csv_options o = {.schema = "region:string,units:bool"}; /* "3" is no bool */
  return canon_read_csv(s, path, &o, &err);
}

/* When several partitions fail, the error is the one serial meets first
 * (the lowest task index), whatever finishes first: repeated to give a
 * timing-dependent choice a chance to show. */
Test(processes, task_errors_are_the_serial_engines) {
  char *dir = make_data();
  same_error(dir, plan_div_zero);
  same_error(dir, plan_transform_error);
  for (int i = 0; i < 10; i++) same_error(dir, plan_bad_csv); /* every partition fails */
  assert_no_children();
  tu_rmdir(dir);
  free(dir);
}

Test(processes, options_are_checked) {
  const char *bad[] = {"processes:workers=0", "processes:partitions=x", "processes:retries=-1",
                       "processes:task_timeout=0", "processes:task_timeout=soon",
                       "processes:color=blue", "processes:segment_cache=-1",
                       "processes:segment_cache=1.5G", "processes:segment_cache=4X",
                       "processes:segment_cache=G", "processes:segment_cache=",
                       "processes:share_min=4GB", "processes:segment_cache=281474976710657",
                       "processes:segment_cache=257T", "processes:segment_cache=+1",
                       "processes:segment_cache= 1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    canon_error err;
    canon_config *c = canon_config_new();
    canon_session *s = NULL;
    if (canon_config_set_engine(c, bad[i], &err) == 0) s = canon_session_open(c, &err);
    canon_config_free(c);
    cr_assert_null(s, "%s accepted", bad[i]);
    cr_assert_eq(err.code, CANON_ERR_CONFIG, "%s: %s", bad[i], err.message);
  }
  canon_error err;
  canon_config *c = canon_config_new();
  canon_config_set_engine(c, "processes:color=blue", &err);
  cr_assert_null(canon_session_open(c, &err));
  cr_assert(strstr(err.message, "unknown option 'color'"), "%s", err.message);
  canon_config_free(c);
  assert_no_children();
}

/* Byte options take more than 2^31 and a binary suffix (a 4 GiB segment
 * cache was refused as "not an integer from 0 to 2147483647"). */
Test(processes, byte_options_take_sizes_and_suffixes) {
  const char *good[] = {"processes:workers=1,segment_cache=8589934592",
                        "processes:workers=1,segment_cache=4G,share_min=64K",
                        "processes:workers=1,segment_cache=0,share_min=1M",
                        "processes:workers=1,segment_cache=262144G",
                        "processes:workers=1,segment_cache=281474976710656,share_min=0K"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    canon_error err;
    canon_config *c = canon_config_new();
    canon_session *s = NULL;
    if (canon_config_set_engine(c, good[i], &err) == 0) s = canon_session_open(c, &err);
    canon_config_free(c);
    cr_assert_not_null(s, "%s: %s", good[i], err.message);
    canon_table *in = canon_table_from_csv_text("x:int64", "1\n2\n3\n4\n5\n", &err);
    cr_assert_not_null(in, "%s", err.message);
    canon_table *t = canon_collect(canon_from_table(s, in, &err), &err);
    cr_assert_not_null(t, "%s: %s", good[i], err.message);
    cr_assert_eq(canon_table_num_rows(t), 5);
    canon_table_free(t);
    canon_table_free(in);
    canon_session_close(s);
  }
  assert_no_children();
}

/* Workers of one session must not keep another session's workers alive:
 * closing the first session while the second is open must not wait on it. */
Test(processes, two_open_sessions_close_independently, .timeout = 60) {
  char *dir = make_data();
  canon_session *a = tu_open("processes:workers=2,partitions=2");
  canon_session *b = tu_open("processes:workers=2,partitions=3");
  canon_error err;
  char *csv = try_collect(per_region(a, dir, "crash_once_on_east"), &err);
  cr_assert(csv, "%s", err.message);
  free(csv);
  canon_session_close(a);
  csv = try_collect(per_region(b, dir, "crash_once_on_east"), &err);
  cr_assert(csv, "%s", err.message);
  cr_assert_str_eq(csv, COUNTS);
  free(csv);
  canon_session_close(b);
  assert_no_children();
  tu_rmdir(dir);
  free(dir);
}

static int late(const canon_table *g, canon_builder *out, void *u, canon_error *e) {
  (void)u, (void)e;
  return count_group(g, out);
}

/* Workers are forked when the session opens: a transform registered
 * later is unknown there, and the error says what to do. */
Test(processes, transform_registered_after_open_is_reported) {
  char *dir = make_data();
  canon_session *s = tu_open("processes:workers=2");
  canon_error err;
  cr_assert_eq(canon_register_transform("late", late, NULL, &err), 0);
  cr_assert_null(try_collect(per_region(s, dir, "late"), &err));
  cr_assert_eq(err.code, CANON_ERR_NOT_FOUND, "%s", err.message);
  cr_assert(strstr(err.message, "unknown transform 'late'"), "%s", err.message);
  cr_assert(strstr(err.message, "before opening the session"), "%s", err.message);
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
}

static char atexit_file[600];

static void note_exit(void) {
  FILE *f = fopen(atexit_file, "a");
  if (f) fprintf(f, "%ld\n", (long)getpid()), fclose(f);
}

/* Workers leave with _exit: the program's atexit handlers do not run in
 * them, and output buffered before the fork is written once. */
Test(processes, workers_run_no_atexit_handler_and_never_duplicate_output) {
  char *dir = make_data();
  char out[600];
  snprintf(out, sizeof out, "%s/out.txt", dir);
  snprintf(atexit_file, sizeof atexit_file, "%s/atexit.txt", dir);
  cr_assert_eq(atexit(note_exit), 0);
  FILE *f = fopen(out, "w");
  cr_assert(f);
  fputs("once\n", f); /* still buffered */
  canon_session *s = tu_open("processes:workers=2,partitions=2");
  canon_error err;
  free(try_collect(per_region(s, dir, "crash_once_on_east"), &err));
  cr_assert_null(try_collect(per_region(s, dir, "crash_on_south"), &err));
  canon_session_close(s);
  fclose(f);
  struct stat sb;
  cr_assert_neq(stat(atexit_file, &sb), 0, "a worker ran the program's atexit handler");
  f = fopen(out, "r");
  char buf[64] = {0};
  cr_assert(f && fread(buf, 1, sizeof buf - 1, f) > 0);
  fclose(f);
  cr_assert_str_eq(buf, "once\n");
  tu_rmdir(dir);
  free(dir);
}

/* Entries of /dev/shm whose name mentions canon. */
static int canon_shm_entries(void) {
  DIR *d = opendir("/dev/shm");
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strstr(e->d_name, "canon")) n++;
  closedir(d);
  return n;
}

Test(processes, many_partitions_and_no_leaks) {
  char *dir = make_data();
  int fds = count_fds(), shm = canon_shm_entries();
  /* 300 producer partitions: a run task gets more descriptors than one
   * message carries. */
  canon_session *s = tu_open("processes:workers=3,partitions=300");
  canon_error err;
  char *csv = try_collect(per_region(s, dir, "crash_once_on_east"), &err);
  cr_assert(csv, "%s", err.message);
  cr_assert_str_eq(csv, COUNTS);
  free(csv);
  cr_assert_null(try_collect(per_region(s, dir, "crash_on_south"), &err));
  canon_session_close(s);
  cr_assert_eq(count_fds(), fds, "descriptors leaked");
  cr_assert_eq(canon_shm_entries(), shm, "shared memory left in /dev/shm");
  assert_no_children();
  tu_rmdir(dir);
  free(dir);
}

/* Run processes_driver, wait until its transform runs in a worker, kill
 * the driver with sig: every process of its group must be gone (this test
 * process is their subreaper, so it reaps them) and nothing left behind. */
static void interrupt_driver(int sig) {
  char *dir = tu_tmpdir();
  char path[600], started[600];
  snprintf(path, sizeof path, "%s/data.csv", dir);
  tu_write_file(path, "k\n1\n2\n3\n4\n");
  snprintf(started, sizeof started, "%s/started", dir);
  int shm = canon_shm_entries();
  cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    setpgid(0, 0);
    execl(CANON_TEST_BUILD_DIR "/processes_driver", "processes_driver", dir, (char *)NULL);
    _exit(127);
  }
  setpgid(pid, pid);
  /* The marker says a worker is inside the transform; the bound only
   * guards against a broken driver. */
  struct stat sb;
  for (int i = 0; i < 30000 && stat(started, &sb) != 0; i++) {
    int st;
    cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "driver ended early (status %d)", st);
    usleep(1000);
  }
  cr_assert_eq(stat(started, &sb), 0, "the transform never started");
  cr_assert_eq(kill(pid, sig), 0);
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == sig, "driver status %d", status);
  /* Orphaned workers come to us: reap until none is left. */
  while (waitpid(-1, NULL, 0) > 0) {
  }
  cr_assert_eq(errno, ECHILD);
  cr_assert_eq(kill(-pid, 0), -1, "a process of the driver's group is alive");
  cr_assert_eq(errno, ESRCH);
  cr_assert_eq(canon_shm_entries(), shm, "shared memory left in /dev/shm");
  cr_assert_eq(tu_dir_entries(dir), 2, "files left in the driver's directory");
  tu_rmdir(dir);
  free(dir);
}

Test(processes, driver_killed_by_sigterm_leaves_nothing) { interrupt_driver(SIGTERM); }

Test(processes, driver_killed_by_sigint_leaves_nothing) { interrupt_driver(SIGINT); }
