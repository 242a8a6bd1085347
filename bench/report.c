/* report.c — the benchmark's result table, cross-engine answer check,
 * comparison with the targets (bench/README.md) and CSV output. */
#include "bench.h"

#include <inttypes.h>
#include <string.h>

/* DuckDB, 2 threads, best of two runs, N = 1e7 (the reference). */
static const struct { const char *q; double s; } duckdb[] = {
    {"q1", 0.016}, {"q2", 0.054}, {"q3", 0.242}, {"q4", 0.034}, {"q5", 0.130},
    {"q6", 0.305}, {"q7", 0.201}, {"q8", 0.232}, {"q9", 0.096}, {"q10", 1.54},
    {"j1", 1.36},  {"j2", 1.25},  {"j3", 1.44},  {"j4", 1.26},  {"j5", 2.72}};

static double duckdb_s(const char *q) {
  for (size_t i = 0; i < sizeof duckdb / sizeof duckdb[0]; i++)
    if (strcmp(duckdb[i].q, q) == 0) return duckdb[i].s;
  return -1;
}

static double best(const bench_result *r) {
  double b = -1;
  for (int i = 0; i < 2; i++)
    if (r->run[i] >= 0 && (b < 0 || r->run[i] < b)) b = r->run[i];
  return b;
}

static int is_mem(const bench_result *r) { return strncmp(r->question, "mem_", 4) == 0; }

double bench_g1_bytes(const bench_gen_params *p) {
  double n = (double)p->n;
  int kd = 1, nkd = 1;
  for (int64_t v = p->k; v >= 10; v /= 10) kd++;
  for (int64_t v = p->n / p->k; v >= 10; v /= 10) nkd++;
  /* strings: int64 offsets + bytes ("id" + >= 3 / >= 10 digits) */
  double s12 = 2 * (8 * (n + 1) + n * (2 + (kd > 3 ? kd : 3)));
  double s3 = 8 * (n + 1) + n * (2 + (nkd > 10 ? nkd : 10));
  double fixed = 6 * 8 * n; /* id4 id5 id6 v1 v2 int64, v3 float64 */
  double validity = p->na ? 9 * n / 8 : 0;
  return s12 + s3 + fixed + validity;
}

/* The engine's name: the engine string up to its options. */
static void engine_base(const char *e, char *out, size_t cap) {
  snprintf(out, cap, "%.*s", (int)strcspn(e, ":"), e);
}

static const bench_result *find(const bench_result *r, int n, const char *q, const char *e) {
  for (int i = 0; i < n; i++)
    if (strcmp(r[i].question, q) == 0 && strcmp(r[i].engine, e) == 0) return &r[i];
  return NULL;
}

/* Sum of best times of questions with the given prefix ('q' or 'j'); -1 if
 * any of them is missing. */
static double sum_best(const bench_result *r, int n, const char *e, char prefix, int *count) {
  double s = 0;
  *count = 0;
  for (int i = 0; i < n; i++) {
    if (strcmp(r[i].engine, e) || r[i].question[0] != prefix || is_mem(&r[i])) continue;
    double b = best(&r[i]);
    if (b < 0) return -1;
    s += b;
    (*count)++;
  }
  return s;
}

static int check_answers(const bench_result *r, int n, FILE *out) {
  int bad = 0;
  for (int i = 0; i < n; i++) {
    if (!r[i].has_checksum) continue;
    for (int j = 0; j < i; j++) {
      if (!r[j].has_checksum || strcmp(r[i].question, r[j].question)) continue;
      if (r[i].checksum != r[j].checksum || r[i].rows != r[j].rows) {
        fprintf(out, "!!! MISMATCH %s: %s gives %" PRId64 " rows, checksum %016" PRIx64
                     "; %s gives %" PRId64 " rows, checksum %016" PRIx64 " !!!\n",
                r[i].question, r[j].engine, r[j].rows, r[j].checksum, r[i].engine, r[i].rows,
                r[i].checksum);
        bad++;
      }
      break; /* compare with the first engine that answered */
    }
  }
  return bad;
}

static const char *verdict(double v, double target) {
  return v < 0 ? "n/a " : v <= target ? "MET " : "MISS";
}

/* One target line: verdict, label, value, target text. */
static void line(FILE *out, const char *label, double v, double target, const char *unit,
                 const char *what) {
  char val[32] = "-";
  if (v >= 0) snprintf(val, sizeof val, "%.3f %s", v, unit);
  fprintf(out, "  %s %-22s %12s  (%s)\n", verdict(v, target), label, val, what);
}

static void targets(const bench_options *o, const bench_result *r, int n, FILE *out) {
  double table_mb = bench_g1_bytes(&o->gen) / 1048576.0;
  fprintf(out, "\n# targets (benchmark figures, not tests); G1 in-memory size ~%.0f MB\n",
          table_mb);
  const char *seen[16];
  int nseen = 0;
  double q_threads = -1, j_threads = -1;
  for (int i = 0; i < n; i++) {
    const char *e = r[i].engine;
    int dup = 0;
    for (int s = 0; s < nseen; s++) dup |= strcmp(seen[s], e) == 0;
    if (dup || nseen == 16) continue;
    seen[nseen++] = e;
    char base[64];
    engine_base(e, base, sizeof base);
    int cq, cj;
    double sq = sum_best(r, n, e, 'q', &cq), sj = sum_best(r, n, e, 'j', &cj);
    if (strcmp(base, "threads") == 0 && q_threads < 0) {
      q_threads = cq == 10 ? sq : -1;
      j_threads = cj == 5 ? sj : -1;
    }
    const bench_result *ld = find(r, n, "load", e), *so = find(r, n, "sort", e);
    const bench_result *mem = find(r, n, "mem_groupby", e);
    double peak = -1;
    for (int k = 0; k < n; k++)
      if (strcmp(r[k].engine, e) == 0 && (r[k].question[0] == 'q' || strcmp(r[k].question, "load") == 0) &&
          r[k].peak_mb > peak)
        peak = r[k].peak_mb;
    fprintf(out, "## %s\n", e);
    if (ld && strncmp(ld->note, "SKIPPED", 7) == 0) {
      fprintf(out, "  skipped: the engine could not be opened\n");
      nseen--;
      continue;
    }
    line(out, "q1..q10 best-run sum", cq == 10 ? sq : -1, 2.5, "s", "target <= 2.5 s");
    line(out, "j1..j5 best-run sum", cj == 5 ? sj : -1, 6, "s", "target <= 6 s");
    line(out, "load G1", ld ? ld->run[0] : -1, 1.5, "s", "target <= 1.5 s");
    line(out, "sort", so ? best(so) : -1, 1.2, "s", "target <= 1.2 s");
    char t[96];
    snprintf(t, sizeof t, "target <= 2 x %.0f MB; load..q10", table_mb);
    line(out, "group-by peak memory", peak > 0 ? peak : -1, 2 * table_mb, "MB", t);
    if (mem && mem->workers_mb > 0)
      fprintf(out, "       largest worker process peak %.0f MB (group-by session, incl. sort)\n",
              mem->workers_mb);
    if (o->gen.n != 10000000) {
      fprintf(out, "       (DuckDB figures are for N=1e7: per-question comparison omitted)\n");
      continue;
    }
    for (int k = 0; k < n; k++) {
      if (strcmp(r[k].engine, e)) continue;
      double d = duckdb_s(r[k].question), b = best(&r[k]);
      if (d < 0 || b < 0) continue;
      fprintf(out, "  %s %-4s %8.3f s vs 1.5 x DuckDB %.3f = %.3f s (%.1fx DuckDB)\n",
              verdict(b, 1.5 * d), r[k].question, b, d, 1.5 * d, b / d);
    }
  }
  /* Engine ratios against threads. */
  for (int s = 0; s < nseen; s++) {
    char base[64];
    engine_base(seen[s], base, sizeof base);
    double limit = strcmp(base, "serial") == 0 ? 2.0 : strcmp(base, "processes") == 0 ? 1.3 : -1;
    if (limit < 0) continue;
    int cq, cj;
    double sq = sum_best(r, n, seen[s], 'q', &cq), sj = sum_best(r, n, seen[s], 'j', &cj);
    if (q_threads > 0 && cq == 10)
      fprintf(out, "  %s %s / threads q1..q10: %.2fx (target <= %.1fx)\n",
              verdict(sq / q_threads, limit), seen[s], sq / q_threads, limit);
    if (j_threads > 0 && cj == 5)
      fprintf(out, "  %s %s / threads j1..j5:  %.2fx (target <= %.1fx)\n",
              verdict(sj / j_threads, limit), seen[s], sj / j_threads, limit);
  }
}

int bench_report(const bench_options *o, const bench_result *r, int n, FILE *out) {
  fprintf(out, "\n%-6s %-22s %9s %9s %10s %18s %8s %5s  %s\n", "q", "engine", "run1_s",
          "run2_s", "rows", "checksum", "peak_MB", "load", "note");
  for (int i = 0; i < n; i++) {
    const bench_result *x = &r[i];
    if (is_mem(x)) continue;
    char r1[16] = "-", r2[16] = "-", ck[20] = "-";
    if (x->run[0] >= 0) snprintf(r1, sizeof r1, "%.3f", x->run[0]);
    if (x->run[1] >= 0) snprintf(r2, sizeof r2, "%.3f", x->run[1]);
    if (x->has_checksum) snprintf(ck, sizeof ck, "%016" PRIx64, x->checksum);
    fprintf(out, "%-6s %-22s %9s %9s %10" PRId64 " %18s %8.0f %5.2f  %s\n", x->question,
            x->engine, r1, r2, x->rows, ck, x->peak_mb, x->load1, x->note);
  }
  for (int i = 0; i < n; i++)
    if (is_mem(&r[i]))
      fprintf(out, "%-11s %-22s session peak %.0f MB, largest child process %.0f MB\n",
              r[i].question, r[i].engine, r[i].peak_mb, r[i].workers_mb);
  int bad = check_answers(r, n, out);
  if (!bad) fprintf(out, "# answers agree across engines (rows and checksums)\n");
  targets(o, r, n, out);
  return bad;
}

int bench_write_csv(const char *path, const bench_result *r, int n) {
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    return -1;
  }
  fprintf(f, "question,engine,run1_s,run2_s,best_s,rows,checksum,peak_mb,workers_peak_mb,"
             "load1,note\n");
  for (int i = 0; i < n; i++) {
    const bench_result *x = &r[i];
    char note[sizeof x->note];
    snprintf(note, sizeof note, "%s", x->note);
    for (char *p = note; *p; p++)
      if (*p == '"') *p = '\'';
    char r1[16] = "", r2[16] = "", b[16] = "", ck[20] = "";
    if (x->run[0] >= 0) snprintf(r1, sizeof r1, "%.4f", x->run[0]);
    if (x->run[1] >= 0) snprintf(r2, sizeof r2, "%.4f", x->run[1]);
    if (best(x) >= 0) snprintf(b, sizeof b, "%.4f", best(x));
    if (x->has_checksum) snprintf(ck, sizeof ck, "%016" PRIx64, x->checksum);
    fprintf(f, "%s,%s,%s,%s,%s,%" PRId64 ",%s,%.1f,%.1f,%.2f,\"%s\"\n", x->question, x->engine,
            r1, r2, b, x->rows, ck, x->peak_mb, x->workers_mb, x->load1, note);
  }
  return fclose(f) == 0 ? 0 : -1;
}
