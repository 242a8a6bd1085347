/* session.c — one engine session of the benchmark (runs in its own child
 * process, so its peak memory is its own): load the tables once, persist
 * them, then time each selected question, materializing the answer. */
#include "bench.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_loadavg(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

/* ---- record lines ---------------------------------------------------------- */

void bench_result_write(FILE *f, const bench_result *r) {
  char note[sizeof r->note];
  snprintf(note, sizeof note, "%s", r->note);
  for (char *p = note; *p; p++)
    if (*p == '\t' || *p == '\n' || *p == '\r') *p = ' ';
  fprintf(f, "R\t%s\t%s\t%.6f\t%.6f\t%" PRId64 "\t%016" PRIx64 "\t%d\t%.1f\t%.1f\t%.2f\t%s\n",
          r->question, r->engine, r->run[0], r->run[1], r->rows, r->checksum, r->has_checksum,
          r->peak_mb, r->workers_mb, r->load1, note);
  fflush(f);
}

int bench_result_parse(const char *line, bench_result *r) {
  memset(r, 0, sizeof *r);
  char q[64], e[256];
  int used = 0;
  if (sscanf(line, "R\t%63[^\t]\t%255[^\t]\t%lf\t%lf\t%" SCNd64 "\t%" SCNx64 "\t%d\t%lf\t%lf\t%lf\t%n",
             q, e, &r->run[0], &r->run[1], &r->rows, &r->checksum, &r->has_checksum,
             &r->peak_mb, &r->workers_mb, &r->load1, &used) < 10)
    return -1;
  snprintf(r->question, sizeof r->question, "%s", q);
  snprintf(r->engine, sizeof r->engine, "%s", e);
  if (used > 0) snprintf(r->note, sizeof r->note, "%s", line + used);
  size_t n = strlen(r->note);
  while (n && (r->note[n - 1] == '\n' || r->note[n - 1] == '\r')) r->note[--n] = 0;
  return 0;
}

/* ---- checksum -------------------------------------------------------------- */

#define FNV_OFF 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

static inline uint64_t fnv(uint64_t h, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * FNV_PRIME;
  return h;
}

static inline uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* The canonical text of int64 and string cells is their decimal digits /
 * their bytes, produced here directly (canon_table_format_value gives the
 * same text) because formatting 10^8 cells through the API is slow; every
 * other type goes through canon_table_format_value. */
uint64_t bench_checksum(const canon_table *t) {
  int nc = canon_table_num_columns(t);
  int64_t nr = canon_table_num_rows(t);
  uint64_t names = FNV_OFF;
  for (int c = 0; c < nc; c++) {
    const char *nm = canon_table_column_name(t, c);
    names = fnv(names, nm, strlen(nm) + 1);
  }
  canon_type *ty = malloc((size_t)(nc > 0 ? nc : 1) * sizeof *ty);
  if (!ty) return 0;
  for (int c = 0; c < nc; c++) ty[c] = canon_table_column_type(t, c);
  uint64_t sum = mix(names);
  char buf[512];
  for (int64_t r = 0; r < nr; r++) {
    uint64_t h = FNV_OFF;
    for (int c = 0; c < nc; c++) {
      if (canon_table_is_null(t, c, r)) {
        h = (h ^ 0x1e) * FNV_PRIME;
        continue;
      }
      if (ty[c] == CANON_INT64) {
        int64_t v = canon_table_get_int64(t, c, r);
        char d[24];
        int n = 0;
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        do {
          d[sizeof d - 1 - n++] = (char)('0' + u % 10);
          u /= 10;
        } while (u);
        if (v < 0) d[sizeof d - 1 - n++] = '-';
        h = fnv(h, d + sizeof d - n, (size_t)n);
      } else if (ty[c] == CANON_STRING) {
        size_t len;
        const char *s = canon_table_get_string(t, c, r, &len);
        h = fnv(h, s, len);
      } else {
        size_t len = canon_table_format_value(t, c, r, buf, sizeof buf);
        h = fnv(h, buf, len < sizeof buf ? len : sizeof buf - 1);
      }
      h = (h ^ 0x1f) * FNV_PRIME;
    }
    sum += mix(h);
  }
  free(ty);
  return sum;
}

/* ---- session --------------------------------------------------------------- */

static double maxrss_mb(int who) {
  struct rusage ru;
  return getrusage(who, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : -1;
}

static double rss_now_mb(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

static void init_result(bench_result *r, const char *q, const char *engine) {
  memset(r, 0, sizeof *r);
  snprintf(r->question, sizeof r->question, "%s", q);
  snprintf(r->engine, sizeof r->engine, "%s", engine);
  r->run[0] = r->run[1] = -1;
  r->load1 = bench_loadavg();
}

/* Read one CSV with its declared schema, persist it and materialize the
 * persisted rows by counting them.  Returns the persisted df or NULL. */
static canon_df *load(canon_session *s, const char *dir, const char *name, const char *schema,
                      int64_t *rows, canon_error *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  canon_csv_options opts = {.schema = schema};
  canon_df *p = canon_persist(canon_read_csv(s, path, &opts, err), err);
  if (!p) return NULL;
  canon_expr *a[] = {canon_count_star()};
  const char *names[] = {"n"};
  canon_table *t = canon_collect(canon_aggregate(p, NULL, 0, a, names, 1, err), err);
  if (!t) return NULL;
  *rows = canon_table_get_int64(t, 0, 0);
  canon_table_free(t);
  return p;
}

/* NULLs last; bytewise string order; returns <0, 0, >0. */
static int cmp_str_cell(const canon_table *t, int c, int64_t a, int64_t b) {
  int na = canon_table_is_null(t, c, a), nb = canon_table_is_null(t, c, b);
  if (na || nb) return na - nb;
  size_t la, lb;
  const char *x = canon_table_get_string(t, c, a, &la), *y = canon_table_get_string(t, c, b, &lb);
  int m = memcmp(x, y, la < lb ? la : lb);
  return m ? m : (la > lb) - (la < lb);
}

/* The sort answer must be ordered by id1 asc, v3 desc (NULLs last). */
static int check_sorted(const canon_table *t) {
  int c1 = canon_table_find_column(t, "id1"), c3 = canon_table_find_column(t, "v3");
  if (c1 < 0 || c3 < 0) return 0;
  for (int64_t r = 1; r < canon_table_num_rows(t); r++) {
    int k = cmp_str_cell(t, c1, r - 1, r);
    if (k > 0) return 0;
    if (k < 0) continue;
    int na = canon_table_is_null(t, c3, r - 1), nb = canon_table_is_null(t, c3, r);
    if (na && !nb) return 0;
    if (!na && !nb && canon_table_get_float64(t, c3, r - 1) < canon_table_get_float64(t, c3, r))
      return 0;
  }
  return 1;
}

/* Profiling hook: with BENCH_PERF_CTL naming the control FIFO of
 * `perf record -D -1 --control fifo:FIFO`, only the timed collects are
 * recorded (not loads, checksums or plan building of other questions). */
static void perf_ctl(const char *cmd) {
  const char *path = getenv("BENCH_PERF_CTL");
  if (!path || !*path) return;
  FILE *f = fopen(path, "w");
  if (f) {
    fprintf(f, "%s\n", cmd);
    fclose(f);
  }
}

/* Time one question: up to o->runs collects, the answer of the last run
 * checksummed (outside the timing). */
static void time_question(const bench_options *o, const bench_question *q, const bench_tables *tb,
                          const char *engine, FILE *out) {
  bench_result r;
  init_result(&r, q->name, engine);
  for (int run = 0; run < o->runs; run++) {
    canon_error err = {0};
    perf_ctl("enable");
    double t0 = bench_now();
    canon_table *t = canon_collect(q->build(tb, &err), &err);
    double dt = bench_now() - t0;
    perf_ctl("disable");
    if (!t) {
      snprintf(r.note, sizeof r.note, "ERROR %s: %s", canon_errcode_name(err.code), err.message);
      break;
    }
    r.run[run] = dt;
    if (run == o->runs - 1 || dt > o->cap_seconds) {
      r.rows = canon_table_num_rows(t);
      r.checksum = bench_checksum(t);
      r.has_checksum = 1;
      if (strcmp(q->name, "sort") == 0 && !check_sorted(t))
        snprintf(r.note, sizeof r.note, "NOT SORTED by (id1 asc, v3 desc)");
    }
    canon_table_free(t);
    if (dt > o->cap_seconds && run + 1 < o->runs) {
      snprintf(r.note, sizeof r.note, "run 2 skipped: run 1 over --cap %.0f s", o->cap_seconds);
      break;
    }
  }
  r.peak_mb = maxrss_mb(RUSAGE_SELF);
  printf("  %-5s %-10s run1 %8.3f  run2 %8.3f  rows %10" PRId64 "  peak %7.0f MB  %s\n",
         r.question, engine, r.run[0], r.run[1], r.rows, r.peak_mb, r.note);
  fflush(stdout);
  bench_result_write(out, &r);
}

int bench_session_run(const bench_options *o, const char *engine, bench_session_kind kind,
                      FILE *out) {
  canon_error err = {0};
  canon_config *cfg = canon_config_new();
  canon_session *s = NULL;
  if (cfg && canon_config_set_engine(cfg, engine, &err) == 0) s = canon_session_open(cfg, &err);
  canon_config_free(cfg);
  if (!s) {
    fprintf(out, "SKIP\t%s\n", err.message[0] ? err.message : "cannot open the engine");
    fflush(out);
    return 0;
  }
  bench_tables tb = {.strategy = o->strategy};
  bench_result r;
  init_result(&r, kind == BENCH_GROUPBY ? "load" : "load_j", engine);
  char name[256];
  double t0 = bench_now();
  if (kind == BENCH_GROUPBY) {
    bench_g1_name(&o->gen, name, sizeof name);
    tb.g1 = load(s, o->data_dir, name, bench_g1_schema, &r.rows, &err);
    r.run[0] = bench_now() - t0;
    if (tb.g1) snprintf(r.note, sizeof r.note, "rss after load %.0f MB", rss_now_mb());
  } else {
    canon_df **dst[4] = {&tb.x, &tb.small, &tb.medium, &tb.big};
    int len = 0;
    for (int w = 0; w < 4; w++) {
      int64_t rows = 0;
      double t1 = bench_now();
      bench_j1_name(&o->gen, w, name, sizeof name);
      *dst[w] = load(s, o->data_dir, name, bench_j1_schema[w], &rows, &err);
      if (!*dst[w]) break;
      if (w == 0) r.rows = rows;
      len += snprintf(r.note + len, sizeof r.note - (size_t)len, "%s%s %.2f s",
                      w ? ", " : "", (const char *[]){"x", "small", "medium", "big"}[w],
                      bench_now() - t1);
    }
    r.run[0] = bench_now() - t0;
  }
  int loaded = kind == BENCH_GROUPBY ? tb.g1 != NULL : tb.big != NULL;
  if (!loaded)
    snprintf(r.note, sizeof r.note, "LOAD ERROR %s: %s", canon_errcode_name(err.code), err.message);
  r.peak_mb = maxrss_mb(RUSAGE_SELF);
  printf("  %-5s %-10s       %8.3f s  rows %10" PRId64 "  peak %7.0f MB  %s\n", r.question,
         engine, r.run[0], r.rows, r.peak_mb, r.note);
  fflush(stdout);
  bench_result_write(out, &r);
  for (int i = 0; loaded && i < bench_num_questions; i++)
    if (o->questions[i] && bench_questions[i].session == kind)
      time_question(o, &bench_questions[i], &tb, engine, out);
  canon_session_close(s);
  /* Workers (processes engine) are reaped by now: their peak is known. */
  init_result(&r, kind == BENCH_GROUPBY ? "mem_groupby" : "mem_join", engine);
  r.peak_mb = maxrss_mb(RUSAGE_SELF);
  r.workers_mb = maxrss_mb(RUSAGE_CHILDREN);
  bench_result_write(out, &r);
  fprintf(out, "END\n");
  fflush(out);
  return 0;
}
