/* test_observe.c — seeing a job run (docs/observability.md): the trace
 * file is Chrome Trace Event JSON with one event per task and a named track
 * per worker on every engine; the statistics count the rows the result
 * has; the progress line appears only where it may (never on a stderr that
 * is not a terminal); worker processes' event records survive the trip and
 * malformed ones are refused.  Nothing here depends on timing: tests look
 * at which events exist and what they count, never at how long they took. */
#include "testutil.h"

#include "observe.h"

#include <cJSON.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

extern const canon_host canon__host;

static const char *DATA = TU_REGION_UNITS_CSV;

/* (region, rows in the group). */
static int count_group(const canon_table *g, canon_builder *out, void *u, canon_error *e) {
  (void)u, (void)e;
  canon_builder_append_from(out, 0, g, canon_table_find_column(g, "region"), 0);
  return canon_builder_append_int64(out, 1, canon_table_num_rows(g));
}

/* Registered before any session opens, so worker processes know it. */
static void setup(void) {
  canon_error err;
  canon_register_transform("obs_count", count_group, NULL, &err);
  unsetenv("CANON_TRACE");
  unsetenv("CANON_PROGRESS");
}

TestSuite(observe, .init = setup);

static char *make_data(char *path, size_t cap) {
  char *dir = tu_tmpdir();
  snprintf(path, cap, "%s/data.csv", dir);
  tu_write_file(path, DATA);
  return dir;
}

/* scan -> hash -> transform per region -> range -> sort: 3 stages. */
static canon_df *plan(canon_session *s, const char *csv) {
  canon_error err;
  canon_csv_options o = {.schema = "region:string,units:int64"};
  const char *by[] = {"region"};
  canon_partition_spec spec = {.by = by, .num_by = 1};
  canon_df *df = canon_transform(canon_read_csv(s, csv, &o, &err), "obs_count",
                                 "region:string,n:int64", &spec, &err);
  canon_sort_key k = {.column = "region"};
  df = canon_sort(df, &k, 1, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

static const char *RESULT = "region,n\neast,2\nnorth,3\nsouth,3\nwest,2\n";

static canon_session *open_traced(const char *engine, const char *trace) {
  canon_error err;
  canon_error_clear(&err);
  canon_config *c = canon_config_new();
  cr_assert(c);
  cr_assert_eq(canon_config_set_engine(c, engine, &err), 0, "%s", err.message);
  if (trace) cr_assert_eq(canon_config_set_trace(c, trace), 0);
  canon_session *s = canon_session_open(c, &err);
  canon_config_free(c);
  cr_assert(s, "open %s: %s", engine, err.message);
  return s;
}

static cJSON *load_json(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert(f, "no trace file %s", path);
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  cJSON *doc = cJSON_Parse(buf);
  cr_assert(doc, "trace is not JSON: %.200s", buf);
  return doc;
}

static int64_t num(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  cr_assert(cJSON_IsNumber(v), "field %s missing or not a number", key);
  return (int64_t)v->valuedouble;
}

static const char *str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  cr_assert(cJSON_IsString(v), "field %s missing or not a string", key);
  return v->valuestring;
}

static bool has_meta(const cJSON *events, const char *name, int64_t pid, int64_t tid) {
  const cJSON *e;
  cJSON_ArrayForEach(e, events) {
    if (strcmp(str(e, "ph"), "M") == 0 && strcmp(str(e, "name"), name) == 0 &&
        num(e, "pid") == pid && (tid < 0 || num(e, "tid") == tid)) {
      const cJSON *args = cJSON_GetObjectItemCaseSensitive(e, "args");
      return cJSON_IsString(cJSON_GetObjectItemCaseSensitive(args, "name"));
    }
  }
  return false;
}

/* Check the trace of one run of plan() with P partitions; returns the
 * number of distinct (pid, tid) tracks that ran tasks and sets *pids to
 * the distinct pids among them. */
static int check_trace(const char *path, int P, int *pids) {
  cJSON *doc = load_json(path);
  const cJSON *events = cJSON_GetObjectItemCaseSensitive(doc, "traceEvents");
  cr_assert(cJSON_IsArray(events));
  int tasks[3][64] = {{0}}, ntransform = 0, njob = 0;
  int64_t track_pid[64], track_tid[64];
  int ntracks = 0;
  *pids = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, events) {
    const char *ph = str(e, "ph");
    if (strcmp(ph, "X") != 0) {
      cr_assert_str_eq(ph, "M");
      continue;
    }
    /* Every complete event: times, track, args; its track is named. */
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e, "ts")));
    cr_assert(num(e, "dur") >= 0);
    int64_t pid = num(e, "pid"), tid = num(e, "tid");
    cr_assert(has_meta(events, "thread_name", pid, tid), "track %lld/%lld has no name",
              (long long)pid, (long long)tid);
    cr_assert(has_meta(events, "process_name", pid, -1), "process %lld has no name",
              (long long)pid);
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(e, "args");
    cr_assert(cJSON_IsObject(args));
    const char *cat = str(e, "cat");
    if (strcmp(cat, "job") == 0) {
      njob++;
      cr_assert_eq(num(args, "result_rows"), 4);
      cr_assert_eq(num(args, "stages"), 3);
    } else if (strcmp(cat, "task") == 0) {
      int s = (int)num(args, "stage"), p = (int)num(args, "partition");
      cr_assert(s >= 0 && s < 3 && p >= 0 && p < P);
      tasks[s][p]++;
      (void)num(args, "rows_in"), (void)num(args, "rows_out"), (void)num(args, "cpu_us");
      (void)num(args, "bytes_in"), (void)num(args, "bytes_out");
      int t;
      for (t = 0; t < ntracks; t++)
        if (track_pid[t] == pid && track_tid[t] == tid) break;
      if (t == ntracks) {
        int k;
        for (k = 0; k < ntracks && track_pid[k] != pid; k++) {}
        if (k == ntracks) (*pids)++;
        track_pid[ntracks] = pid, track_tid[ntracks++] = tid;
      }
    } else if (strcmp(cat, "exchange") == 0) {
      (void)num(args, "producer_partition"), (void)str(args, "exchange");
    } else if (strcmp(cat, "transform") == 0) {
      ntransform++;
      cr_assert_str_eq(str(args, "transform"), "obs_count");
      cr_assert_eq(num(args, "stage"), 1);
    } else {
      cr_assert_str_eq(cat, "stage");
    }
  }
  cr_assert_eq(njob, 1);
  for (int s = 0; s < 3; s++)
    for (int p = 0; p < P; p++)
      cr_assert_eq(tasks[s][p], 1, "task (%d, %d) has %d events", s, p, tasks[s][p]);
  /* One transform batch per task of the transform stage (an empty
   * partition's batch calls the user zero times, but is still one). */
  cr_assert_eq(ntransform, P);
  cJSON_Delete(doc);
  return ntracks;
}

static void run_traced(const char *engine, int P, int max_tracks, bool other_processes) {
  char csv[600], trace[700];
  char *dir = make_data(csv, sizeof csv);
  snprintf(trace, sizeof trace, "%s/trace.json", dir);
  canon_session *s = open_traced(engine, trace);
  char *text = tu_collect_csv(plan(s, csv)), *got = tu_sorted_lines(text);
  cr_assert_str_eq(got, RESULT);
  free(text);
  free(got);
  canon_session_close(s);
  int pids;
  int tracks = check_trace(trace, P, &pids);
  cr_assert(tracks >= 1 && tracks <= max_tracks, "%s: %d task tracks", engine, tracks);
  if (other_processes)
    cr_assert(pids >= 1 && pids <= max_tracks, "%s: %d worker processes", engine, pids);
  else
    cr_assert_eq(pids, 1, "%s: tasks ran in %d processes", engine, pids);
  cr_assert_eq(tu_dir_entries(dir), 2, "a temporary trace file was left");
  tu_rmdir(dir);
  free(dir);
}

Test(observe, trace_serial) { run_traced("serial:partitions=3", 3, 1, false); }
Test(observe, trace_threads) { run_traced("threads:workers=2,partitions=4", 4, 2, false); }
Test(observe, trace_processes) { run_traced("processes:workers=2,partitions=3", 3, 2, true); }

/* Statistics: rows out of the last stage are the result's rows; every
 * planned task ran; rows in of a stage are what its producer put out. */
static void check_stats(const char *engine, int P) {
  char csv[600];
  char *dir = make_data(csv, sizeof csv);
  canon_session *s = tu_open(engine);
  canon_stats *st = NULL;
  canon_error err;
  cr_assert_eq(canon_session_last_stats(s, &st, &err), CANON_ERR_NOT_FOUND);
  canon_table *t = canon_collect(plan(s, csv), &err);
  cr_assert(t, "%s", err.message);
  cr_assert_eq(canon_session_last_stats(s, &st, &err), 0, "%s", err.message);
  const canon_job_stats *j = canon_stats_job(st);
  cr_assert_eq(j->result_rows, canon_table_num_rows(t));
  cr_assert_eq(j->failed, 0);
  cr_assert_eq(canon_stats_num_stages(st), 3);
  cr_assert_eq(j->stages, 3);
  const canon_stage_stats *g0 = canon_stats_stage(st, 0), *g1 = canon_stats_stage(st, 1),
                          *g2 = canon_stats_stage(st, 2);
  cr_assert_null(canon_stats_stage(st, 3));
  cr_assert_eq(g2->rows_out, canon_table_num_rows(t));
  cr_assert_eq(g0->rows_in, 0);
  cr_assert_eq(g0->rows_out, 10);      /* the data rows */
  cr_assert_eq(g1->rows_in, 10);
  cr_assert_eq(g1->rows_out, 4);       /* one per region */
  cr_assert_eq(g2->rows_in, 4);
  for (int k = 0; k < 3; k++) {
    const canon_stage_stats *g = canon_stats_stage(st, k);
    cr_assert_eq(g->partitions, P);
    cr_assert_eq(g->tasks, P);
    cr_assert_eq(g->splits, k ? P : 0);
    cr_assert(g->wall_seconds >= 0 && g->cpu_seconds >= 0);
    cr_assert(g->peak_rss_kb > 0);
    cr_assert(g->skew == 0 || g->skew >= 1);
    cr_assert(g->task_max_seconds >= g->task_median_seconds);
  }
  cr_assert(strstr(g1->name, "transform#"), "%s", g1->name);
  cr_assert(j->driver_peak_rss_kb > 0);
  /* The table prints every stage and the job line. */
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  cr_assert_eq(canon_stats_print(st, m), 0);
  fclose(m);
  cr_assert(strstr(buf, "rows_out") && strstr(buf, "transform#") && strstr(buf, "job: ok on "),
            "%s", buf);
  free(buf);
  canon_stats_free(st);
  canon_table_free(t);
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
}

Test(observe, stats_serial) { check_stats("serial:partitions=3", 3); }
Test(observe, stats_threads) { check_stats("threads:workers=2,partitions=4", 4); }
Test(observe, stats_processes) { check_stats("processes:workers=2,partitions=3", 3); }

Test(observe, worker_peak_memory_only_with_worker_processes) {
  char csv[600];
  char *dir = make_data(csv, sizeof csv);
  const char *engines[] = {"threads:workers=2", "processes:workers=2"};
  for (int i = 0; i < 2; i++) {
    canon_session *s = tu_open(engines[i]);
    free(tu_collect_csv(plan(s, csv)));
    canon_stats *st;
    cr_assert_eq(canon_session_last_stats(s, &st, NULL), 0);
    if (i == 0)
      cr_assert_eq(canon_stats_job(st)->worker_peak_rss_kb, 0);
    else
      cr_assert(canon_stats_job(st)->worker_peak_rss_kb > 0);
    canon_stats_free(st);
    canon_session_close(s);
  }
  tu_rmdir(dir);
  free(dir);
}

/* Each job adds to the file: two jobs, two job events. */
Test(observe, trace_keeps_every_job_of_the_session) {
  char csv[600], trace[700];
  char *dir = make_data(csv, sizeof csv);
  snprintf(trace, sizeof trace, "%s/t.json", dir);
  setenv("CANON_TRACE", trace, 1);
  canon_session *s = tu_open("serial:partitions=2");
  unsetenv("CANON_TRACE");
  free(tu_collect_csv(plan(s, csv)));
  free(tu_collect_csv(plan(s, csv)));
  canon_session_close(s);
  cJSON *doc = load_json(trace);
  int jobs = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, "traceEvents")) {
    const cJSON *cat = cJSON_GetObjectItemCaseSensitive(e, "cat");
    if (cJSON_IsString(cat) && strcmp(cat->valuestring, "job") == 0)
      cr_assert_eq(num(cJSON_GetObjectItemCaseSensitive(e, "args"), "job"), ++jobs);
  }
  cr_assert_eq(jobs, 2);
  cJSON_Delete(doc);
  tu_rmdir(dir);
  free(dir);
}

/* canon_config_set_trace(NULL) wins over CANON_TRACE. */
Test(observe, explicit_no_trace_beats_environment) {
  char csv[600], trace[700];
  char *dir = make_data(csv, sizeof csv);
  snprintf(trace, sizeof trace, "%s/t.json", dir);
  setenv("CANON_TRACE", trace, 1);
  canon_config *c = canon_config_new();
  canon_error err;
  canon_config_set_engine(c, "serial", &err);
  cr_assert_eq(canon_config_set_trace(c, NULL), 0);
  cr_assert_eq(canon_config_set_trace(c, ""), CANON_ERR_INVALID);
  canon_session *s = canon_session_open(c, &err);
  unsetenv("CANON_TRACE");
  canon_config_free(c);
  cr_assert(s, "%s", err.message);
  free(tu_collect_csv(plan(s, csv)));
  canon_session_close(s);
  cr_assert_eq(access(trace, F_OK), -1);
  tu_rmdir(dir);
  free(dir);
}

Test(observe, unwritable_trace_fails_the_job_naming_it) {
  char csv[600];
  char *dir = make_data(csv, sizeof csv);
  canon_session *s = open_traced("serial", "/nonexistent-dir/trace.json");
  canon_error err;
  canon_error_clear(&err);
  cr_assert_null(canon_collect(plan(s, csv), &err));
  cr_assert_eq(err.code, CANON_ERR_IO);
  cr_assert(strstr(err.message, "trace '/nonexistent-dir/trace.json'"), "%s", err.message);
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
}

Test(observe, bad_progress_setting_is_a_config_error) {
  setenv("CANON_PROGRESS", "sometimes", 1);
  canon_config *c = canon_config_new();
  canon_error err;
  canon_config_set_engine(c, "serial", &err);
  canon_session *s = canon_session_open(c, &err);
  cr_assert_null(s);
  cr_assert_eq(err.code, CANON_ERR_CONFIG);
  cr_assert(strstr(err.message, "CANON_PROGRESS"), "%s", err.message);
  /* An explicit setting does not read the variable. */
  canon_config_set_progress(c, 0);
  s = canon_session_open(c, &err);
  cr_assert(s, "%s", err.message);
  unsetenv("CANON_PROGRESS");
  canon_session_close(s);
  canon_config_free(c);
}

/* Progress on, stderr a file: nothing is written to it. */
static void progress_silent_off_terminal(const char *engine) {
  char csv[600], errpath[700];
  char *dir = make_data(csv, sizeof csv);
  snprintf(errpath, sizeof errpath, "%s/stderr.txt", dir);
  canon_config *c = canon_config_new();
  canon_error err;
  canon_config_set_engine(c, engine, &err);
  canon_config_set_progress(c, 1);
  canon_session *s = canon_session_open(c, &err);
  canon_config_free(c);
  cr_assert(s, "%s", err.message);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  cr_assert(saved >= 0 && fd >= 0);
  dup2(fd, STDERR_FILENO);
  close(fd);
  char *got = tu_collect_csv(plan(s, csv));
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  free(got);
  canon_session_close(s);
  struct stat sb;
  cr_assert_eq(stat(errpath, &sb), 0);
  cr_assert_eq(sb.st_size, 0, "progress written to a stderr that is not a terminal");
  tu_rmdir(dir);
  free(dir);
}

Test(observe, progress_silent_when_stderr_is_not_a_terminal) {
  progress_silent_off_terminal("serial:partitions=3");
  progress_silent_off_terminal("threads:workers=2,partitions=3");
  progress_silent_off_terminal("processes:workers=2,partitions=3");
}

/* Forced on (the test hook stands in for a terminal): the line is drawn
 * with carriage return and clear-to-end-of-line, and cleared at the end.
 * The first event of a job always draws, so this holds at any speed. */
static void progress_forced(const char *engine) {
  char csv[600];
  char *dir = make_data(csv, sizeof csv);
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  canon__obs_test_progress(m);
  canon_session *s = tu_open(engine);
  free(tu_collect_csv(plan(s, csv)));
  canon_session_close(s);
  canon__obs_test_progress(NULL);
  fclose(m);
  cr_assert(len > 0, "%s: no progress line", engine);
  cr_assert(strncmp(buf, "\rcanon: stage ", 14) == 0, "%s: %s", engine, buf);
  cr_assert(strstr(buf, " tasks ") && strstr(buf, " rows "), "%s: %s", engine, buf);
  cr_assert(len >= 4 && strcmp(buf + len - 4, "\r\033[K") == 0, "%s: line not cleared", engine);
  free(buf);
  tu_rmdir(dir);
  free(dir);
}

Test(observe, progress_drawn_and_cleared_when_forced) {
  progress_forced("serial:partitions=3");
  progress_forced("threads:workers=2,partitions=3");
  progress_forced("processes:workers=2,partitions=3");
}

/* The records a worker process sends: what one job recorded, taken and
 * added to another copy of the job, arrives field for field; garbage is
 * refused. */
Test(observe, event_records_round_trip_and_bad_ones_are_refused) {
  char csv[600];
  char *dir = make_data(csv, sizeof csv);
  canon_session *s = tu_open("serial");
  canon_df *df = plan(s, csv);
  canon_error err;
  canon_job *a = canon__job_new(df, 2, &err), *b = canon__job_new(df, 2, &err);
  cr_assert(a && b, "%s", err.message);
  canon_table *out = NULL;
  cr_assert_eq(canon__host.run_task(a, 0, 1, NULL, &out, &err), 0, "%s", err.message);
  cr_assert_eq(a->obs->nev, 1);
  canon__obs_event want = a->obs->ev[0];
  cr_assert_eq(want.kind, CANON__EV_TASK);
  cr_assert_eq(want.rows_out, canon_table_num_rows(out));
  uint8_t buf[CANON__OBS_RECORD_SIZE * 2];
  cr_assert_eq(canon__host.task_events_take(a, buf, 10), 0); /* no whole record fits */
  cr_assert_eq(canon__host.task_events_take(a, buf, sizeof buf), CANON__OBS_RECORD_SIZE);
  cr_assert_eq(a->obs->nev, 0);
  cr_assert_eq(canon__host.task_events_add(b, buf, CANON__OBS_RECORD_SIZE, &err), 0, "%s",
               err.message);
  cr_assert_eq(b->obs->nev, 1);
  cr_assert_eq(memcmp(&b->obs->ev[0], &want, sizeof want), 0);
  cr_assert_eq(canon__host.task_events_add(b, buf, CANON__OBS_RECORD_SIZE - 1, &err),
               CANON_ERR_PARSE);
  buf[0] ^= 1; /* magic */
  cr_assert_eq(canon__host.task_events_add(b, buf, CANON__OBS_RECORD_SIZE, &err), CANON_ERR_PARSE);
  buf[0] ^= 1;
  buf[8] = 7; /* stage 7 does not exist */
  cr_assert_eq(canon__host.task_events_add(b, buf, CANON__OBS_RECORD_SIZE, &err), CANON_ERR_PARSE);
  cr_assert_eq(b->obs->nev, 1);
  canon_table_free(out);
  canon__job_free(a);
  canon__job_free(b);
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
}

/* A job that has recorded nothing yet (a worker's first task failed
 * before any event) has nothing to take: zero bytes, no sanitizer report. */
Test(observe, taking_events_from_a_job_that_recorded_none) {
  char csv[600];
  char *dir = make_data(csv, sizeof csv);
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_job *a = canon__job_new(plan(s, csv), 2, &err);
  cr_assert(a, "%s", err.message);
  cr_assert(a->obs);
  cr_assert_eq(a->obs->nev, 0);
  uint8_t buf[CANON__OBS_RECORD_SIZE * 2];
  cr_assert_eq(canon__host.task_events_take(a, buf, sizeof buf), 0);
  cr_assert_eq(a->obs->nev, 0);
  canon__job_free(a);
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
}

Test(observe, explain_analyze_annotates_the_physical_plan) {
  char csv[600];
  char *dir = make_data(csv, sizeof csv);
  canon_session *s = tu_open("serial:partitions=2");
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  canon_error err;
  cr_assert_eq(canon_explain_analyze(plan(s, csv), m, &err), 0, "%s", err.message);
  fclose(m);
  cr_assert(strstr(buf, "analyzed:"), "%s", buf);
  cr_assert(strstr(buf, "stage 2: 2 partitions  [tasks 2, rows 4 -> 4"), "%s", buf);
  cr_assert(strstr(buf, "stage 0: 2 partitions  [tasks 2, rows 0 -> 10"), "%s", buf);
  cr_assert(strstr(buf, "<- exchange hash from stage 0"), "%s", buf);
  cr_assert(strstr(buf, "job: 4 result rows"), "%s", buf);
  free(buf);
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
}
