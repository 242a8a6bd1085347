/* test_processes_shared.c — the processes engine's shared memory: big
 * in-memory tables go to shared memory once per session and jobs reference
 * them (share_min=0 shares every table); segments live as long as the
 * session, the least recently used go past 64, and a worker killed while
 * it holds them is replaced and sent them again.  Outputs go into
 * segments their worker keeps and reuses, never while a result still
 * reads them (small outputs: test_processes_segments.c).  Answers are the serial engine's; nothing leaks. */
#include "processes_testutil.h"

#include "canon_testing.h"
#include "internal.h"

#include <sys/resource.h>
#include <sys/stat.h>

/* Appends the worker's pid to the file `marker` names, passes rows on. */
static int note_pid(const canon_table *g, canon_builder *out, void *u, canon_error *e) {
  (void)u, (void)e;
  FILE *f = fopen(marker, "a");
  if (f) {
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
  }
  for (int64_t r = 0; r < canon_table_num_rows(g); r++)
    for (int c = 0; c < 2; c++) canon_builder_append_from(out, c, g, c, r);
  return 0;
}

/* The test process itself (serial runs transforms here: no crashing). */
static pid_t test_pid;

/* (k, rows) per group of k; crashes its worker on the first attempt at k=3. */
static int crash_once_on_k3(const canon_table *g, canon_builder *out, void *u, canon_error *e) {
  (void)u, (void)e;
  int c = canon_table_find_column(g, "k");
  if (getpid() != test_pid && canon_table_num_rows(g) > 0 && !canon_table_is_null(g, c, 0) &&
      canon_table_get_int64(g, c, 0) == 3 && first_time())
    die_by(SIGSEGV);
  canon_builder_append_from(out, 0, g, c, 0);
  return canon_builder_append_int64(out, 1, canon_table_num_rows(g));
}

/* Register the transforms before any session opens: workers are forked
 * then and know them by name. */
static void setup(void) {
  canon_error err;
  canon_register_transform("note_pid", note_pid, NULL, &err);
  canon_register_transform("crash_once_on_k3", crash_once_on_k3, NULL, &err);
}

TestSuite(processes_shared, .init = setup);

/* The shared-table segments (memfd "canon-table") this process has
 * descriptors on, each counted once however many it has; their inodes
 * into ino[0..max) when ino is given. */
static int table_segments(ino_t *ino, int max) {
  DIR *d = opendir("/proc/self/fd");
  cr_assert(d);
  ino_t seen[256];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    char path[300], target[300];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t len = readlink(path, target, sizeof target - 1);
    if (len <= 0) continue;
    target[len] = '\0';
    struct stat sb;
    if (!strstr(target, "canon-table") || stat(path, &sb) != 0) continue;
    bool dup = false;
    for (int i = 0; i < n; i++) dup |= seen[i] == sb.st_ino;
    if (!dup && n < 256) seen[n++] = sb.st_ino;
  }
  closedir(d);
  for (int i = 0; ino && i < n && i < max; i++) ino[i] = seen[i];
  return n;
}

static int shared_table_segments(void) { return table_segments(NULL, 0); }

/* n rows with NULLs, NaN, +-0.0, infinities, huge and tiny magnitudes,
 * empty and long strings, bools and dates; `salt` varies the values. */
static canon_table *mixed_table(int n, int salt) {
  static const char *floats[] = {"0.5", "-0.0", "0.0", "nan", "inf", "-inf", "1e308",
                                 "-1e-308", "", "3.25", "-7.125"};
  size_t cap = (size_t)n * 96 + 64, at = 0;
  char *text = malloc(cap);
  cr_assert(text);
  for (int i = 0; i < n; i++) {
    int h = (i * 7919 + salt * 104729) % 1009;
    char k[24] = "", str[64] = "";
    if (h % 13) snprintf(k, sizeof k, "%d", h % 10);
    if (h % 11 == 1)
      snprintf(str, sizeof str, "\"\"");
    else if (h % 11)
      snprintf(str, sizeof str, "s%d-%s", h % 17, h % 5 ? "x" : "a-rather-longer-string-value");
    at += (size_t)snprintf(text + at, cap - at, "%s,%s,%s,%s,%s,%d\n", k, str,
                           floats[h % (int)(sizeof floats / sizeof *floats)],
                           h % 9 == 0 ? "" : (h % 2 ? "true" : "false"),
                           h % 7 == 0 ? "" : (h % 3 ? "2024-02-29" : "1969-12-31"), i + salt);
  }
  canon_error err;
  canon_table *t =
      canon_table_from_csv_text("k:int64,s:string,f:float64,b:bool,d:date,i:int64", text, &err);
  cr_assert(t, "%s", err.message);
  free(text);
  return t;
}

typedef canon_df *(*shared_plan)(canon_session *s, const canon_table *a, const canon_table *b);

static canon_df *plan_sum_by_k(canon_session *s, const canon_table *a, const canon_table *b) {
  (void)b;
  canon_error err;
  const char *keys[] = {"k"}, *names[] = {"n", "fsum", "isum"};
  canon_expr *aggs[] = {canon_count_star(), canon_sum(canon_col("f")), canon_sum(canon_col("i"))};
  canon_df *df = canon_aggregate(canon_from_table(s, a, &err), keys, 1, aggs, names, 3, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

static canon_df *plan_sort(canon_session *s, const canon_table *a, const canon_table *b) {
  (void)b;
  canon_error err;
  canon_sort_key keys[] = {{"s", 1, 1}, {"f", 0, 0}, {"i", 0, 0}};
  canon_df *df = canon_sort(canon_from_table(s, a, &err), keys, 3, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

/* The same table in two branches: one node read twice, and a second node
 * over the same table. */
static canon_df *plan_self_join(canon_session *s, const canon_table *a, const canon_table *b) {
  (void)b;
  canon_error err;
  canon_df *x = canon_from_table(s, a, &err);
  canon_df *small = canon_filter(canon_from_table(s, a, &err),
                                 canon_gt(canon_col("i"), canon_lit_int64(1000000)), &err);
  const char *k[] = {"i"};
  canon_join_options bc = {.right_suffix = "_r", .strategy = CANON_JOIN_BROADCAST};
  canon_join_options hash = {.right_suffix = "_r", .strategy = CANON_JOIN_HASH};
  canon_df *j = canon_join(x, small, CANON_JOIN_LEFT, k, k, 1, &bc, &err);
  cr_assert(j, "%s", err.message);
  canon_df *u = canon_union_all(j, canon_join(x, x, CANON_JOIN_INNER, k, k, 1, &hash, &err), &err);
  cr_assert(u, "%s", err.message);
  return u;
}

static canon_df *plan_two_tables(canon_session *s, const canon_table *a, const canon_table *b) {
  canon_error err;
  canon_df *u = canon_union_all(canon_from_table(s, a, &err), canon_from_table(s, b, &err), &err);
  canon_sort_key keys[] = {{"i", 0, 0}, {"s", 0, 0}};
  canon_df *df = canon_sort(u, keys, 2, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

/* A computed persist (kept in the session) read by a later plan. */
static canon_df *plan_persisted(canon_session *s, const canon_table *a, const canon_table *b) {
  canon_error err;
  canon_df *p = canon_persist(canon_from_table(s, b, &err), &err);
  canon_table *t = canon_collect(canon_limit(p, 1, &err), &err);
  cr_assert(t, "%s", err.message);
  canon_table_free(t);
  const char *k[] = {"i"};
  canon_join_options o = {.right_suffix = "_r"};
  canon_df *df = canon_join(canon_from_table(s, a, &err), p, CANON_JOIN_INNER, k, k, 1, &o, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

/* Rows of plan on engine (sorted lines: order is the plan's business). */
static char *run_shared(const char *engine, shared_plan plan, const canon_table *a,
                        const canon_table *b) {
  canon_session *s = tu_open(engine);
  canon_error err;
  canon_df *df = plan(s, a, b);
  char *csv = try_collect(df, &err);
  cr_assert(csv, "%s: %s", engine, err.message);
  /* A second job over the same tables reuses the segments. */
  int held = shared_table_segments();
  char *again = try_collect(df, &err);
  cr_assert(again, "%s: %s", engine, err.message);
  cr_assert_str_eq(again, csv);
  cr_assert_eq(shared_table_segments(), held, "%s: a second job made new segments", engine);
  free(again);
  canon_session_close(s);
  return csv;
}

Test(processes_shared, shared_tables_give_the_serial_answers) {
  int fds = count_fds();
  canon_table *a = mixed_table(3000, 1), *b = mixed_table(700, 2);
  shared_plan plans[] = {plan_sum_by_k, plan_sort, plan_self_join, plan_two_tables,
                         plan_persisted};
  for (size_t i = 0; i < sizeof plans / sizeof *plans; i++) {
    char *want = run_shared("serial:partitions=1", plans[i], a, b);
    const char *engines[] = {"processes:workers=2,partitions=3,share_min=0",
                             "processes:workers=3,partitions=1,share_min=0",
                             "processes:workers=2,partitions=5,share_min=100000000"};
    for (size_t e = 0; e < sizeof engines / sizeof *engines; e++) {
      char *got = run_shared(engines[e], plans[i], a, b);
      cr_assert_str_eq(got, want, "plan %zu on %s", i, engines[e]);
      free(got);
    }
    free(want);
  }
  canon_table_free(a);
  canon_table_free(b);
  cr_assert_eq(count_fds(), fds, "descriptors leaked");
  assert_no_children();
}

/* Segments are made once per table per session, outlive the program's own
 * copy of the table (the session still holds its rows), and go with the
 * session. */
Test(processes_shared, shared_table_segments_live_as_long_as_the_session) {
  int fds = count_fds();
  canon_session *s = tu_open("processes:workers=2,partitions=3,share_min=0");
  canon_table *a = mixed_table(2000, 3), *b = mixed_table(500, 4);
  char *want_a = NULL, *want_b = NULL;
  {
    canon_session *ser = tu_open("serial");
    canon_error err;
    want_a = try_collect(plan_sum_by_k(ser, a, NULL), &err);
    want_b = try_collect(plan_sum_by_k(ser, b, NULL), &err);
    canon_session_close(ser);
  }
  canon_error err;
  canon_df *da = plan_sum_by_k(s, a, NULL), *db = plan_sum_by_k(s, b, NULL);
  cr_assert_eq(shared_table_segments(), 0);
  char *got = try_collect(da, &err);
  cr_assert(got, "%s", err.message);
  cr_assert_str_eq(got, want_a);
  free(got);
  cr_assert_eq(shared_table_segments(), 1);
  /* The program frees its tables between collects: the session's nodes
   * keep the rows, and the segments stay valid. */
  canon_table_free(a);
  canon_table_free(b);
  got = try_collect(db, &err);
  cr_assert(got, "%s", err.message);
  cr_assert_str_eq(got, want_b);
  free(got);
  cr_assert_eq(shared_table_segments(), 2);
  got = try_collect(da, &err);
  cr_assert(got, "%s", err.message);
  cr_assert_str_eq(got, want_a);
  free(got);
  cr_assert_eq(shared_table_segments(), 2);
  /* Small tables travel inside the job (default share_min). */
  canon_session_close(s);
  cr_assert_eq(shared_table_segments(), 0);
  s = tu_open("processes:workers=2,partitions=3");
  canon_table *c = mixed_table(50, 5);
  got = try_collect(plan_sum_by_k(s, c, NULL), &err);
  cr_assert(got, "%s", err.message);
  free(got);
  cr_assert_eq(shared_table_segments(), 0);
  canon_table_free(c);
  canon_session_close(s);
  free(want_a);
  free(want_b);
  cr_assert_eq(count_fds(), fds, "descriptors leaked");
  assert_no_children();
}

/* More tables in one job than one message names. */
Test(processes_shared, many_shared_tables_in_one_job) {
  enum { N = 130 };
  canon_table *t[N];
  for (int i = 0; i < N; i++) t[i] = mixed_table(3 + i % 5, i);
  char *want = NULL;
  const char *engines[] = {"serial", "processes:workers=2,partitions=2,share_min=0"};
  for (int e = 0; e < 2; e++) {
    canon_session *s = tu_open(engines[e]);
    canon_error err;
    /* A balanced tree of union_all (a deep chain takes long to plan). */
    canon_df *level[N];
    for (int i = 0; i < N; i++) level[i] = canon_from_table(s, t[i], &err);
    for (int n = N; n > 1; n = (n + 1) / 2)
      for (int i = 0; i < n; i += 2)
        level[i / 2] = i + 1 < n ? canon_union_all(level[i], level[i + 1], &err) : level[i];
    canon_df *u = level[0];
    cr_assert(u, "%s", err.message);
    char *got = try_collect(u, &err);
    cr_assert(got, "%s: %s", engines[e], err.message);
    if (e == 1) {
      cr_assert_eq(shared_table_segments(), N);
      cr_assert_str_eq(got, want);
      free(got);
      /* A later job's new table makes room: the session keeps at most 64
       * (the least recently used go). */
      canon_table *extra = mixed_table(20, 999);
      char *one = try_collect(plan_sum_by_k(s, extra, NULL), &err);
      cr_assert(one, "%s", err.message);
      free(one);
      cr_assert_eq(shared_table_segments(), 64);
      /* An evicted table comes back when a job needs it. */
      one = try_collect(plan_sum_by_k(s, t[0], NULL), &err);
      cr_assert(one, "%s", err.message);
      free(one);
      cr_assert_eq(shared_table_segments(), 64);
      canon_table_free(extra);
    } else {
      want = got;
    }
    canon_session_close(s);
  }
  free(want);
  for (int i = 0; i < N; i++) canon_table_free(t[i]);
  cr_assert_eq(shared_table_segments(), 0);
  assert_no_children();
}

/* A worker dies while it holds mapped tables — mid-job (the task is
 * retried on a replacement, which is sent the tables again) and between
 * jobs (killed from outside while idle). */
Test(processes_shared, worker_killed_while_holding_shared_tables) {
  char *dir = tu_tmpdir();
  snprintf(marker, sizeof marker, "%s/crashed-once", dir);
  test_pid = getpid();
  canon_table *a = mixed_table(1500, 7);
  const char *by[] = {"k"};
  canon_partition_spec spec = {.by = by, .num_by = 1};
  char *want = NULL;
  const char *engines[] = {"serial", "processes:workers=2,partitions=3,share_min=0,retries=1"};
  for (int e = 0; e < 2; e++) {
    unlink(marker);
    canon_session *s = tu_open(engines[e]);
    canon_error err;
    canon_df *df = canon_transform(canon_from_table(s, a, &err), "crash_once_on_k3",
                                   "k:int64,n:int64", &spec, &err);
    char *got = try_collect(df, &err);
    cr_assert(got, "%s: %s", engines[e], err.message);
    struct stat sb;
    cr_assert_eq(stat(marker, &sb) == 0, e == 1, "the transform crashed %s", e ? "never" : "in serial");
    if (e == 0) {
      want = got;
      canon_session_close(s);
      continue;
    }
    cr_assert_str_eq(got, want);
    free(got);
    /* Note the workers' pids, kill them all while idle, run again. */
    unlink(marker);
    {
      const char *by2[] = {"i"};
      canon_partition_spec sp2 = {.by = by2, .num_by = 1};
      canon_df *n = canon_transform(canon_select(canon_from_table(s, a, &err),
                                                 (canon_expr *[]){canon_col("i"), canon_col("k")},
                                                 NULL, 2, &err),
                                    "note_pid", "i:int64,k:int64", &sp2, &err);
      canon_table *t = canon_collect(n, &err);
      cr_assert(t, "%s", err.message);
      canon_table_free(t);
    }
    FILE *f = fopen(marker, "r");
    cr_assert(f);
    long pid;
    int killed = 0;
    while (fscanf(f, "%ld", &pid) == 1)
      if (pid != (long)getpid() && kill((pid_t)pid, SIGKILL) == 0) killed++;
    fclose(f);
    cr_assert_gt(killed, 0);
    usleep(20000);
    got = try_collect(df, &err);
    cr_assert(got, "%s", err.message);
    cr_assert_str_eq(got, want);
    free(got);
    canon_session_close(s);
  }
  free(want);
  canon_table_free(a);
  assert_no_children();
  tu_rmdir(dir);
  free(dir);
}

/* Out of descriptors when the driver puts a table in shared memory: a
 * clear error, no hang, and the session works once descriptors are back. */
Test(processes_shared, no_descriptor_for_a_shared_table_is_a_clear_error) {
  canon_session *s = tu_open("processes:workers=2,partitions=2,share_min=0");
  canon_table *a = mixed_table(400, 9);
  canon_error err;
  canon_df *df = plan_sum_by_k(s, a, NULL);
  struct rlimit old, low;
  cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
  /* Fill the table up to the limit, so no new descriptor can be made. */
  low = old;
  low.rlim_cur = (rlim_t)count_fds() + 2;
  cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
  int pads[8], npad = 0;
  for (; npad < 8; npad++)
    if ((pads[npad] = dup(0)) < 0) break;
  char *got = try_collect(df, &err);
  for (int i = 0; i < npad; i++) close(pads[i]);
  cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
  cr_assert_null(got);
  cr_assert(strstr(err.message, "Too many open files"), "%s", err.message);
  got = try_collect(df, &err);
  cr_assert(got, "%s", err.message);
  free(got);
  canon_table_free(a);
  canon_session_close(s);
  assert_no_children();
}

static canon_table *collect_ok(canon_df *df) {
  canon_error err;
  canon_table *t = canon_collect(df, &err);
  cr_assert(t, "%s", err.message);
  return t;
}

static void assert_same_rows(const canon_table *want, const canon_table *got, const char *what) {
  char *diff = NULL;
  int rc = canon_testing_compare(want, got, CANON_TESTING_ANY, NULL, 0, &diff);
  cr_assert_eq(rc, 0, "%s: %s", what, diff ? diff : "cannot compare");
  free(diff);
}

static canon_df *plan_k_at_least(canon_session *s, const canon_table *a, int64_t lo) {
  canon_error err;
  canon_df *df = canon_filter(canon_from_table(s, a, &err),
                              canon_ge(canon_col("k"), canon_lit_int64(lo)), &err);
  cr_assert(df, "%s", err.message);
  return df;
}

/* Outputs of a MiB or more go into segments their worker keeps and writes
 * again once nobody reads them any more.  A collected result still held
 * (with one partition the result is a view of its segment) must never
 * change while later jobs run, nor after the session closed; answers stay
 * the serial engine's, also when a worker crashes mid-job and with
 * segment_cache=0; nothing leaks. */
Test(processes_shared, kept_output_segments_are_not_rewritten_while_read) {
  char *dir = tu_tmpdir();
  snprintf(marker, sizeof marker, "%s/crashed-once", dir);
  test_pid = getpid();
  /* Big enough for outputs of a MiB with one partition. */
  canon_table *a = mixed_table(40000, 3), *b = mixed_table(50000, 5);
  const char *by[] = {"k"};
  canon_partition_spec spec = {.by = by, .num_by = 1};
  canon_session *s = tu_open("serial:partitions=3");
  canon_error err;
  canon_table *want_sort = collect_ok(plan_sort(s, a, NULL));
  canon_table *want_held = collect_ok(plan_sort(s, b, NULL));
  canon_table *want_join = collect_ok(plan_self_join(s, a, NULL));
  canon_table *want_k[5], *want_crash;
  for (int lo = 0; lo < 5; lo++) want_k[lo] = collect_ok(plan_k_at_least(s, a, lo));
  want_crash = collect_ok(
      canon_transform(canon_from_table(s, a, &err), "crash_once_on_k3", "k:int64,n:int64", &spec, &err));
  canon_session_close(s);
  const char *engines[] = {"processes:workers=2,partitions=1,share_min=0",
                           "processes:workers=2,partitions=1,retries=1",
                           "processes:workers=2,partitions=2,segment_cache=0"};
  for (int e = 0; e < 3; e++) {
    int fds = count_fds();
    s = tu_open(engines[e]);
    /* Bigger than the later outputs: its segment, once free, would be
     * the one to write them into. */
    canon_table *held = collect_ok(plan_sort(s, b, NULL));
    assert_same_rows(want_held, held, engines[e]);
    for (int round = 0; round < 4; round++) {
      canon_table *got = collect_ok(plan_k_at_least(s, a, round % 5));
      assert_same_rows(want_k[round % 5], got, engines[e]);
      canon_table_free(got);
      got = collect_ok(round % 2 ? plan_self_join(s, a, NULL) : plan_sort(s, a, NULL));
      assert_same_rows(round % 2 ? want_join : want_sort, got, engines[e]);
      canon_table_free(got);
      assert_same_rows(want_held, held, "the held result");
    }
    unlink(marker);
    canon_table *got = collect_ok(canon_transform(canon_from_table(s, a, &err), "crash_once_on_k3",
                                                  "k:int64,n:int64", &spec, &err));
    struct stat sb;
    cr_assert_eq(stat(marker, &sb), 0, "the transform never crashed");
    assert_same_rows(want_crash, got, engines[e]);
    canon_table_free(got);
    got = collect_ok(plan_self_join(s, a, NULL));
    assert_same_rows(want_join, got, engines[e]);
    canon_table_free(got);
    canon_session_close(s);
    assert_same_rows(want_held, held, "the result held past the session");
    canon_table_free(held);
    cr_assert_eq(count_fds(), fds, "descriptors leaked");
    assert_no_children();
  }
  canon_table_free(want_sort);
  canon_table_free(want_held);
  canon_table_free(want_join);
  canon_table_free(want_crash);
  for (int lo = 0; lo < 5; lo++) canon_table_free(want_k[lo]);
  canon_table_free(a);
  canon_table_free(b);
  unlink(marker);
  tu_rmdir(dir);
  free(dir);
}

/* Mappings of workers' output segments this process holds. */
static int segment_mappings(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  cr_assert_not_null(f);
  char line[1024];
  int n = 0;
  while (fgets(line, sizeof line, f)) n += strstr(line, "memfd:canon-segment") != NULL;
  fclose(f);
  return n;
}

/* The driver keeps its mappings of the segments workers keep (so a
 * segment read again is not mapped again), but never of segments nobody
 * keeps: with segment_cache=0 every output is a fresh segment, and each
 * mapping must go with the tables reading it (it kept 100+ MiB of dead
 * segments alive before).  Idle mappings go when the session closes. */
Test(processes_shared, the_driver_keeps_only_mappings_of_kept_segments) {
  canon_table *a = mixed_table(40000, 3);
  const char *engines[] = {"processes:workers=2,partitions=3,segment_cache=0",
                           "processes:workers=2,partitions=3"};
  for (int e = 0; e < 2; e++) {
    int before = segment_mappings();
    canon_session *s = tu_open(engines[e]);
    for (int round = 0; round < 3; round++) {
      canon_table *got = collect_ok(round % 2 ? plan_self_join(s, a, NULL) : plan_sort(s, a, NULL));
      cr_assert_gt(canon_table_num_rows(got), 0);
      canon_table_free(got);
      if (e == 0) cr_assert_eq(segment_mappings(), before, "%s: round %d", engines[e], round);
    }
    if (e == 1) cr_assert_gt(segment_mappings(), before, "%s: nothing kept mapped", engines[e]);
    canon_session_close(s);
    cr_assert_eq(segment_mappings(), before, "%s: mappings left after close", engines[e]);
  }
  canon_table_free(a);
}

/* ---- row ranges of shared tables (share_ranges) ------------------------------ */

/* Joins, a sort and an aggregate over persisted tables: the scan tasks'
 * outputs are row ranges of shared tables, sent by reference. */
static canon_df *ranges_plan(canon_session *s, const canon_table *a, const canon_table *b,
                             int which) {
  canon_error err;
  canon_df *x = canon_persist(canon_from_table(s, a, &err), &err);
  canon_df *y = canon_persist(canon_from_table(s, b, &err), &err);
  cr_assert(x && y, "%s", err.message);
  const char *k[] = {"k"}, *str[] = {"s"}, *i[] = {"i"}, *f[] = {"f"};
  canon_join_options hash = {.right_suffix = "_r", .strategy = CANON_JOIN_HASH};
  canon_join_options bc = {.right_suffix = "_r", .strategy = CANON_JOIN_BROADCAST};
  canon_join_options any = {.right_suffix = "_r"};
  canon_df *df = NULL;
  switch (which) {
  case 0: df = canon_join(x, y, CANON_JOIN_INNER, k, k, 1, &hash, &err); break;
  case 1: df = canon_join(x, y, CANON_JOIN_LEFT, str, str, 1, &hash, &err); break;
  case 2: df = canon_join(x, y, CANON_JOIN_INNER, i, i, 1, &any, &err); break;
  case 3: df = canon_join(x, y, CANON_JOIN_LEFT, f, f, 1, &bc, &err); break;
  case 4: df = canon_join(x, x, CANON_JOIN_INNER, i, i, 1, &hash, &err); break;
  case 5: {
    canon_sort_key keys[] = {{"s", 1, 1}, {"f", 0, 0}, {"i", 0, 0}};
    df = canon_sort(x, keys, 3, &err);
    break;
  }
  case 6: df = plan_sum_by_k(s, a, NULL); break;
  case 7: df = canon_union_all(x, y, &err); break; /* ordered: x's rows, then y's */
  case 8: {
    /* x's columns unchanged next to a new one: sent as column references */
    canon_expr *e[] = {canon_mul(canon_col("i"), canon_lit_int64(3))};
    const char *names[] = {"i3"};
    df = canon_assign(x, e, names, 1, &err);
    break;
  }
  default: {
    /* some of x's columns, renamed and reordered */
    canon_expr *e[] = {canon_col("s"), canon_col("d"), canon_col("k")};
    const char *names[] = {"s2", NULL, "kk"};
    df = canon_select(x, e, names, 3, &err);
    break;
  }
  }
  cr_assert(df, "%s", err.message);
  return df;
}
#define RANGES_PLANS 10

/* The collected answer of every ranges_plan on engine. */
static void ranges_answers(const char *engine, const canon_table *a, const canon_table *b,
                           canon_table **out) {
  canon_session *s = tu_open(engine);
  for (int p = 0; p < RANGES_PLANS; p++) {
    out[p] = collect_ok(ranges_plan(s, a, b, p));
    /* Again: the same segments and ranges serve a second job. */
    canon_table *again = collect_ok(ranges_plan(s, a, b, p));
    char *x = tu_csv(out[p]), *y = tu_csv(again);
    cr_assert_str_eq(x, y, "%s: plan %d differs on its second run", engine, p);
    free(x);
    free(y);
    canon_table_free(again);
  }
  canon_session_close(s);
}

/* Answers identical to the threads engine's, cell for cell (NULLs, NaN,
 * -0.0, infinities, coded strings), in order where the plan defines one,
 * with ranges sent by reference and written out (share_ranges=0). */
Test(processes_shared, row_ranges_give_the_threads_answers) {
  int fds = count_fds();
  /* Few keys (k: 10, s: 35 values): b stays small, so joins stay small. */
  canon_table *a = mixed_table(3000, 11), *b = mixed_table(60, 12);
  canon_table *want[RANGES_PLANS];
  ranges_answers("threads:partitions=3", a, b, want);
  const char *engines[] = {"processes:workers=2,partitions=3,share_min=0",
                           "processes:workers=2,partitions=8,share_min=0",
                           "processes:workers=2,partitions=1,share_min=0",
                           "processes:workers=2,partitions=3,share_min=0,share_ranges=0"};
  for (size_t e = 0; e < sizeof engines / sizeof *engines; e++) {
    canon_table *got[RANGES_PLANS];
    ranges_answers(engines[e], a, b, got);
    for (int p = 0; p < RANGES_PLANS; p++) {
      bool ordered = p == 5 || p >= 7;
      char *diff = NULL;
      int rc = canon_testing_compare(want[p], got[p],
                                     ordered ? CANON_TESTING_EXACT : CANON_TESTING_ANY, NULL, 0,
                                     &diff);
      cr_assert_eq(rc, 0, "plan %d on %s: %s", p, engines[e], diff ? diff : "?");
      free(diff);
      char *w = tu_csv(want[p]), *g = tu_csv(got[p]);
      if (!ordered) {
        char *ws = tu_sorted_lines(w), *gs = tu_sorted_lines(g);
        free(w);
        free(g);
        w = ws;
        g = gs;
      }
      cr_assert_str_eq(g, w, "plan %d on %s", p, engines[e]);
      free(w);
      free(g);
      canon_table_free(got[p]);
    }
  }
  for (int p = 0; p < RANGES_PLANS; p++) canon_table_free(want[p]);
  canon_table_free(a);
  canon_table_free(b);
  cr_assert_eq(count_fds(), fds, "descriptors leaked");
  assert_no_children();
}

/* Where t's first non-NULL string of column "s" lives (*col, *row): a
 * result that reads those bytes shares t's memory. */
static const char *first_string(const canon_table *t, int *col, int64_t *row) {
  *col = canon_table_find_column(t, "s");
  for (*row = 0; canon_table_is_null(t, *col, *row);) ++*row;
  size_t len;
  return canon_table_get_string(t, *col, *row, &len);
}

/* A job whose result is the shared table's own rows (a scan and nothing
 * else) comes back as ranges of the driver's copy: nothing is copied
 * (with one partition the collected table reads the program's own string
 * bytes), every row is there in order, also for partitions that are not
 * multiples of 64 rows and empty ones; with share_ranges=0 the rows are
 * copies, and the answer the same.  A result still read after the
 * program freed its table and the session closed stays intact. */
Test(processes_shared, a_scan_result_is_a_range_of_the_drivers_table) {
  int fds = count_fds();
  canon_table *a = mixed_table(1000, 13);
  int sc;
  int64_t r0;
  const char *own = first_string(a, &sc, &r0);
  size_t len;
  char *want = tu_csv(a);
  const char *engines[] = {"processes:workers=2,partitions=1,share_min=0",
                           "processes:workers=2,partitions=1,share_min=0,share_ranges=0",
                           "processes:workers=2,partitions=7,share_min=0",
                           "processes:workers=3,partitions=1500,share_min=0"};
  canon_table *held = NULL;
  for (size_t e = 0; e < sizeof engines / sizeof *engines; e++) {
    canon_session *s = tu_open(engines[e]);
    canon_error err;
    canon_df *df = canon_from_table(s, a, &err);
    cr_assert(df, "%s", err.message);
    canon_table *got = collect_ok(df);
    char *csv = tu_csv(got);
    cr_assert_str_eq(csv, want, "%s", engines[e]);
    free(csv);
    const char *at = canon_table_get_string(got, sc, r0, &len);
    if (e == 0)
      cr_assert_eq(at, own, "%s: the rows were copied", engines[e]);
    else if (e == 1)
      cr_assert_neq(at, own, "%s: the rows were not written out", engines[e]);
    if (e == 0)
      held = got;
    else
      canon_table_free(got);
    canon_session_close(s);
  }
  /* The held result shares a's buffers: freeing a leaves it intact. */
  canon_table_free(a);
  char *csv = tu_csv(held);
  cr_assert_str_eq(csv, want, "the held result changed");
  free(csv);
  canon_table_free(held);
  free(want);
  cr_assert_eq(count_fds(), fds, "descriptors leaked");
  assert_no_children();
}

/* The columns of a task's output that are a shared table's own rows (an
 * assign keeps every column of its input) go as references to the
 * driver's copy: with one partition the collected table reads the
 * program's own string bytes, though a new column came with them; with
 * share_ranges=0 they are written out.  The answer is the same. */
Test(processes_shared, unchanged_columns_go_as_references_to_the_drivers_table) {
  int fds = count_fds();
  canon_table *a = mixed_table(1000, 17);
  int sc;
  int64_t r0;
  const char *own = first_string(a, &sc, &r0);
  size_t len;
  const char *engines[] = {"processes:workers=2,partitions=1,share_min=0",
                           "processes:workers=2,partitions=1,share_min=0,share_ranges=0"};
  char *want = NULL;
  for (size_t e = 0; e < sizeof engines / sizeof *engines; e++) {
    canon_session *s = tu_open(engines[e]);
    canon_error err;
    canon_expr *x[] = {canon_add(canon_col("k"), canon_col("i"))};
    const char *names[] = {"ki"};
    canon_df *df = canon_assign(canon_persist(canon_from_table(s, a, &err), &err), x, names, 1,
                                &err);
    cr_assert(df, "%s", err.message);
    canon_table *got = collect_ok(df);
    cr_assert_eq(canon_table_num_columns(got), 7);
    char *csv = tu_csv(got);
    if (!want)
      want = csv;
    else {
      cr_assert_str_eq(csv, want, "%s", engines[e]);
      free(csv);
    }
    const char *at = canon_table_get_string(got, sc, r0, &len);
    if (e == 0)
      cr_assert_eq(at, own, "%s: the unchanged column was copied", engines[e]);
    else
      cr_assert_neq(at, own, "%s: the column was not written out", engines[e]);
    canon_table_free(got);
    canon_session_close(s);
  }
  /* The serial engine's answer, cell for cell. */
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_expr *x[] = {canon_add(canon_col("k"), canon_col("i"))};
  const char *names[] = {"ki"};
  canon_table *ref = collect_ok(canon_assign(canon_from_table(s, a, &err), x, names, 1, &err));
  char *csv = tu_csv(ref);
  cr_assert_str_eq(csv, want);
  free(csv);
  canon_table_free(ref);
  canon_session_close(s);
  free(want);
  canon_table_free(a);
  cr_assert_eq(count_fds(), fds, "descriptors leaked");
  assert_no_children();
}

/* Mappings of shared-table segments in this process (/proc/self/maps). */
static int shared_table_maps(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  cr_assert(f);
  char line[1024];
  int n = 0;
  while (fgets(line, sizeof line, f))
    if (strstr(line, "canon-table")) n++;
  fclose(f);
  return n;
}

static canon_df *plan_filtered(canon_session *s, const canon_table *a) {
  canon_error err;
  canon_df *df = canon_filter(canon_from_table(s, a, &err),
                              canon_ne(canon_col("i"), canon_lit_int64(12)), &err);
  cr_assert(df, "%s", err.message);
  return df;
}

/* Every row of t in order, as CSV. */
static char *ordered(canon_table *t) {
  cr_assert(t);
  char *csv = tu_csv(t);
  canon_table_free(t);
  return csv;
}

/* The result of at least 1 MiB of a job (a scan, filtered) comes back as
 * one table written into a segment of the driver, in order and with its
 * NULLs and codes, and is a shared table of the session: a persisted
 * result is not put in shared memory a second time for the jobs that
 * read it, and a collected one goes once the program frees it.  Its
 * segment is then kept for the next big result (spares.h), of any job
 * (here a sort, with exchanges), until a whole job went by without one.
 * Small results stay as they were. */
Test(processes_shared, big_results_are_one_table_in_a_shared_segment) {
  canon_error err;
  canon_table *a = mixed_table(40000, 7);
  /* Coded strings, as CSV reads give them. */
  a = canon__table_dict_encode(a, &err);
  cr_assert(a, "%s", err.message);
  canon_session *ser = tu_open("serial");
  char *want = ordered(canon_collect(plan_filtered(ser, a), &err));
  char *want_sum = try_collect(plan_sum_by_k(ser, a, NULL), &err);
  canon_sort_key keys[] = {{"i", 0, 0}};
  char *want_sorted = ordered(canon_collect(canon_sort(canon_from_table(ser, a, &err), keys, 1, &err), &err));
  canon_session_close(ser);
  canon_session *s = tu_open("processes:workers=2,partitions=3");
  cr_assert_eq(shared_table_maps(), 0);
  canon_table *t = canon_collect(plan_filtered(s, a), &err);
  cr_assert(t, "%s", err.message);
  cr_assert_eq(canon_table_num_rows(t), 39999);
  cr_assert_eq(shared_table_maps(), 1, "the result is not in a segment");
  cr_assert_eq(shared_table_segments(), 2, "a and the result");
  cr_assert(t->cols[1]->dict, "the result's strings have codes");
  ino_t before[2], after[2];
  cr_assert_eq(table_segments(before, 2), 2);
  char *got = ordered(t);
  cr_assert_str_eq(got, want);
  free(got);
  /* The session holds it until the next job, which drops it (nobody else
   * holds its rows) and keeps its segment: a big result of a job with
   * exchanges (a sort) is written into it. */
  t = canon_collect(canon_sort(canon_from_table(s, a, &err), keys, 1, &err), &err);
  cr_assert(t, "%s", err.message);
  cr_assert_eq(canon_table_num_rows(t), 40000);
  cr_assert_eq(shared_table_maps(), 1, "the sorted result is not in a segment");
  cr_assert_eq(table_segments(after, 2), 2, "the sorted result is in a new segment");
  cr_assert((after[0] == before[0] && after[1] == before[1]) ||
            (after[0] == before[1] && after[1] == before[0]), "the sorted result is in a new segment");
  got = ordered(t);
  cr_assert_str_eq(got, want_sorted);
  free(got);
  /* Its segment comes back at the next job's start, whose result is
   * small (and stays where it was); once that whole job went by without
   * a big result, the segment and its mapping are gone. */
  got = try_collect(plan_sum_by_k(s, a, NULL), &err);
  cr_assert(got, "%s", err.message);
  cr_assert_str_eq(got, want_sum);
  free(got);
  cr_assert_eq(shared_table_segments(), 2, "a and the kept segment");
  got = try_collect(plan_sum_by_k(s, a, NULL), &err);
  cr_assert_str_eq(got, want_sum);
  free(got);
  cr_assert_eq(shared_table_segments(), 1, "only a is left");
  cr_assert_eq(shared_table_maps(), 0, "the result's segment outlived it");
  /* A persisted result lives in its segment, which later jobs share. */
  canon_df *p = canon_persist(plan_filtered(s, a), &err);
  got = ordered(canon_collect(canon_limit(p, 100000, &err), &err));
  cr_assert_str_eq(got, want);
  free(got);
  cr_assert_eq(shared_table_maps(), 1, "the persisted rows are not in a segment");
  cr_assert_eq(shared_table_segments(), 2);
  got = ordered(canon_collect(canon_limit(p, 100000, &err), &err));
  cr_assert_str_eq(got, want);
  free(got);
  cr_assert_eq(shared_table_segments(), 2, "the persisted rows were shared again");
  canon_session_close(s);
  cr_assert_eq(shared_table_segments(), 0);
  cr_assert_eq(shared_table_maps(), 0);
  canon_table_free(a);
  free(want);
  free(want_sum);
  free(want_sorted);
  assert_no_children();
}

/* Read-write mappings of shared-table segments in the workers: the
 * concatenations they wrote, whose mappings they keep (spares.h). */
static int worker_rw_table_maps(void) {
  pid_t pids[64];
  int n = tu_children(pids, 64), maps = 0;
  for (int i = 0; i < n && i < 64; i++) {
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pids[i]);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    while (fgets(line, sizeof line, f))
      if (strstr(line, "canon-table") && strstr(line, " rw-s ")) maps++;
    fclose(f);
  }
  return maps;
}

/* Big results written one after the other go into one segment, which
 * each worker keeps mapped (read-write) from one to the next instead of
 * mapping it and faulting in its pages again; the mappings go once a
 * whole job went by without a big result. */
Test(processes_shared, workers_keep_their_mapping_of_a_reused_segment) {
  canon_error err;
  canon_table *a = mixed_table(40000, 7);
  canon_session *ser = tu_open("serial");
  char *want = ordered(canon_collect(plan_filtered(ser, a), &err));
  canon_session_close(ser);
  canon_session *s = tu_open("processes:workers=2,partitions=4");
  ino_t first[2], now[2];
  for (int round = 0; round < 3; round++) {
    char *got = ordered(canon_collect(plan_filtered(s, a), &err));
    cr_assert_str_eq(got, want, "round %d", round);
    free(got);
    /* One per worker that wrote a part (which ones do is the scheduler's
     * choice), the same one each round. */
    int maps = worker_rw_table_maps();
    cr_assert(maps >= 1 && maps <= 2, "round %d: %d mappings in the workers", round, maps);
    cr_assert_eq(table_segments(round ? now : first, 2), 2, "round %d", round);
  }
  cr_assert((now[0] == first[0] && now[1] == first[1]) || (now[0] == first[1] && now[1] == first[0]),
            "the results went to new segments");
  for (int k = 0; k < 2; k++) {
    char *got = try_collect(plan_sum_by_k(s, a, NULL), &err);
    cr_assert(got, "%s", err.message);
    free(got);
  }
  cr_assert_eq(worker_rw_table_maps(), 0, "the workers kept a mapping nothing uses");
  canon_session_close(s);
  canon_table_free(a);
  free(want);
  assert_no_children();
}

/* The answer's segment of a filter, and then of the same filter again:
 * whether the second went into the first's (kept for reuse, spares.h). */
static bool second_answer_reuses_the_first(canon_session *s, const canon_table *a, const char *want) {
  canon_error err;
  ino_t first[2], second[2];
  for (int k = 0; k < 2; k++) {
    canon_table *t = canon_collect(plan_filtered(s, a), &err);
    cr_assert(t, "%s", err.message);
    cr_assert_eq(table_segments(k ? second : first, 2), 2);
    char *got = ordered(t);
    cr_assert_str_eq(got, want);
    free(got);
  }
  return (second[0] == first[0] && second[1] == first[1]) ||
         (second[0] == first[1] && second[1] == first[0]);
}

/* A last stage whose output is its input as it came (a repartition of
 * rows from one producer: the task's input, a view of the split segment,
 * is its output) holds that view until the output is written into the
 * answer; that is no view kept past its task, and must not stop segment
 * reuse for the rest of the session. */
Test(processes_shared, a_held_output_viewing_its_input_keeps_reuse_on) {
  canon_error err;
  canon_table *a = mixed_table(40000, 7);
  canon_session *ser = tu_open("serial");
  char *want = ordered(canon_collect(plan_filtered(ser, a), &err));
  char *want_all = try_collect(canon_repartition(canon_repartition(canon_from_table(ser, a, &err), 1, NULL, 0, &err), 3, NULL, 0, &err), &err);
  canon_session_close(ser);
  canon_session *s = tu_open("processes:workers=2,partitions=3");
  char *got = try_collect(canon_repartition(canon_repartition(canon_from_table(s, a, &err), 1, NULL, 0, &err), 3, NULL, 0, &err), &err);
  cr_assert(got, "%s", err.message);
  cr_assert_str_eq(got, want_all);
  free(got);
  cr_assert(second_answer_reuses_the_first(s, a, want), "segment reuse stopped");
  canon_session_close(s);
  canon_table_free(a);
  free(want);
  free(want_all);
  assert_no_children();
}

/* A kept segment under half of the next answer is not grown for it (a
 * new one is made): it stays for answers of its own size, as a worker's
 * small output segments do. */
Test(processes_shared, a_much_smaller_kept_segment_is_not_grown) {
  canon_error err;
  canon_table *a = mixed_table(40000, 7), *b = mixed_table(120000, 3);
  canon_session *s = tu_open("processes:workers=2,partitions=3");
  free(ordered(canon_collect(plan_filtered(s, a), &err)));
  /* The next job drops that answer and keeps its segment; b goes to
   * shared memory, and b's answer, three times a's, to a segment of its
   * own: a, b, the kept one and the answer's. */
  canon_table *big = canon_collect(plan_filtered(s, b), &err);
  cr_assert(big, "%s", err.message);
  cr_assert_eq(canon_table_num_rows(big), 119999);
  cr_assert_eq(shared_table_segments(), 4, "the kept segment was grown for a bigger answer");
  canon_table_free(big);
  canon_session_close(s);
  canon_table_free(a);
  canon_table_free(b);
  assert_no_children();
}

/* write_csv writes a job's results part by part: a big one-stage result is
 * not concatenated into a segment first (a copy nobody would read, kept
 * by the session until its next job), and the file is the same. */
Test(processes_shared, write_csv_does_not_concatenate_big_results) {
  canon_error err;
  canon_table *a = mixed_table(40000, 7);
  a = canon__table_dict_encode(a, &err);
  cr_assert(a, "%s", err.message);
  char *dir = tu_tmpdir();
  char want_path[600], got_path[600];
  snprintf(want_path, sizeof want_path, "%s/want.csv", dir);
  snprintf(got_path, sizeof got_path, "%s/got.csv", dir);
  canon_session *ser = tu_open("serial");
  cr_assert_eq(canon_write_csv(plan_filtered(ser, a), want_path, &err), 0, "%s", err.message);
  canon_session_close(ser);
  canon_session *s = tu_open("processes:workers=2,partitions=3");
  cr_assert_eq(canon_write_csv(plan_filtered(s, a), got_path, &err), 0, "%s", err.message);
  cr_assert_eq(shared_table_maps(), 0, "write_csv's result went to a segment");
  cr_assert_eq(shared_table_segments(), 1, "only a is shared");
  char *want = tu_read_file(want_path), *got = tu_read_file(got_path);
  cr_assert_str_eq(got, want);
  free(want);
  free(got);
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
  canon_table_free(a);
  assert_no_children();
}
