/* observe_stats.c — run statistics (docs/observability.md): built from a
 * finished job's events, copied out to callers, printed as a table, and
 * printed over the physical plan by canon_explain_analyze. */
#include "observe.h"

#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct stage_info {
  canon_stage_stats s;      /* s.name points at name */
  char name[96];
  int nops;
  char ops[16][48];         /* "agg_final #4", first to last (at most 16 shown) */
  int ninputs;
  int in_stage[2];
  char in_kind[2][16];
} stage_info;

struct canon_stats {
  canon_job_stats job;      /* job.engine points at engine */
  char engine[256];
  int nstages;
  stage_info *st;
};

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The figures of stage s from the events. */
static void stage_figures(stage_info *si, const canon__obs_job *oj, int s, int64_t *times) {
  canon_stage_stats *o = &si->s;
  int64_t lo = 0, hi = 0, nt = 0, cpu = 0;
  bool any = false;
  for (int64_t i = 0; i < oj->nev; i++) {
    const canon__obs_event *e = &oj->ev[i];
    if (e->stage != s || e->kind == CANON__EV_TRANSFORM) continue;
    if (!any || e->start_ns < lo) lo = e->start_ns;
    if (!any || e->end_ns > hi) hi = e->end_ns;
    any = true;
    cpu += e->cpu_ns;
    if (e->maxrss_kb > o->peak_rss_kb) o->peak_rss_kb = e->maxrss_kb;
    if (e->kind == CANON__EV_SPLIT) {
      o->splits++;
      o->bytes_exchanged += e->bytes_out;
      continue;
    }
    o->tasks++;
    o->rows_in += e->rows_in;
    o->rows_out += e->rows_out;
    o->bytes_in += e->bytes_in;
    o->bytes_out += e->bytes_out;
    times[nt++] = e->end_ns - e->start_ns;
  }
  o->wall_seconds = any ? (double)(hi - lo) / 1e9 : 0;
  o->cpu_seconds = (double)cpu / 1e9;
  if (nt) {
    qsort(times, (size_t)nt, sizeof *times, cmp_i64);
    /* The lower median for an even count: a skew of one slow task of
     * two still shows. */
    int64_t med = times[(nt - 1) / 2], max = times[nt - 1];
    o->task_max_seconds = (double)max / 1e9;
    o->task_median_seconds = (double)med / 1e9;
    o->skew = med > 0 ? (double)max / (double)med : 0;
  }
}

canon_stats *canon__stats_build(const canon_job *job, const canon__obs_job *oj,
                                const char *engine, int64_t result_rows, int failed) {
  canon_stats *st = canon__calloc(1, sizeof *st);
  int64_t *times = canon__calloc((size_t)(oj->nev ? oj->nev : 1), sizeof *times);
  if (!st || !times || !(st->st = canon__calloc((size_t)(job->nstages ? job->nstages : 1),
                                                sizeof *st->st))) {
    free(times);
    if (st) free(st->st);
    free(st);
    return NULL;
  }
  snprintf(st->engine, sizeof st->engine, "%s", engine ? engine : "?");
  st->nstages = job->nstages;
  canon_job_stats *j = &st->job;
  j->engine = st->engine;
  j->stages = job->nstages;
  j->failed = failed;
  j->result_rows = result_rows;
  j->wall_seconds = (double)(oj->end_ns - oj->start_ns) / 1e9;
  int32_t me = (int32_t)getpid();
  for (int64_t i = 0; i < oj->nev; i++) {
    const canon__obs_event *e = &oj->ev[i];
    if (e->kind != CANON__EV_TRANSFORM) j->cpu_seconds += (double)e->cpu_ns / 1e9;
    if (e->pid != me && e->maxrss_kb > j->worker_peak_rss_kb) j->worker_peak_rss_kb = e->maxrss_kb;
  }
  struct rusage ru;
  j->driver_peak_rss_kb = getrusage(RUSAGE_SELF, &ru) == 0 ? (int64_t)ru.ru_maxrss : 0;
  for (int s = 0; s < job->nstages; s++) {
    stage_info *si = &st->st[s];
    const canon__stage *js = &job->stages[s];
    snprintf(si->name, sizeof si->name, "%s", js->name);
    si->s.stage = s;
    si->s.name = si->name;
    si->s.partitions = js->nparts;
    si->nops = js->nops < 16 ? js->nops : 16;
    for (int i = 0; i < si->nops; i++)
      snprintf(si->ops[i], sizeof si->ops[i], "%s #%d", canon__op_name(js->ops[i].kind),
               canon_df_id(js->ops[i].node));
    si->ninputs = js->ninputs;
    for (int i = 0; i < js->ninputs; i++) {
      si->in_stage[i] = js->in[i].stage;
      snprintf(si->in_kind[i], sizeof si->in_kind[i], "%s", canon__exchange_name(js->in[i].kind));
    }
    stage_figures(si, oj, s, times);
  }
  free(times);
  return st;
}

canon_stats *canon__stats_copy(const canon_stats *src) {
  canon_stats *st = canon__calloc(1, sizeof *st);
  if (!st) return NULL;
  *st = *src;
  st->st = canon__calloc((size_t)(src->nstages ? src->nstages : 1), sizeof *st->st);
  if (!st->st) {
    free(st);
    return NULL;
  }
  memcpy(st->st, src->st, (size_t)src->nstages * sizeof *st->st);
  st->job.engine = st->engine;
  for (int s = 0; s < st->nstages; s++) st->st[s].s.name = st->st[s].name;
  return st;
}

void canon_stats_free(canon_stats *st) {
  if (!st) return;
  free(st->st);
  free(st);
}

const canon_job_stats *canon_stats_job(const canon_stats *st) { return st ? &st->job : NULL; }

int canon_stats_num_stages(const canon_stats *st) { return st ? st->nstages : 0; }

const canon_stage_stats *canon_stats_stage(const canon_stats *st, int stage) {
  return st && stage >= 0 && stage < st->nstages ? &st->st[stage].s : NULL;
}

static void fmt_time(double s, char *buf, size_t cap) {
  if (s < 10)
    snprintf(buf, cap, "%.1f ms", s * 1e3);
  else
    snprintf(buf, cap, "%.2f s", s);
}

static void fmt_kb(int64_t kb, char *buf, size_t cap) {
  if (kb <= 0)
    snprintf(buf, cap, "-");
  else
    canon__fmt_bytes(kb * 1024, buf, cap);
}

int canon_stats_print(const canon_stats *st, FILE *out) {
  if (!st || !out) return CANON_ERR_INVALID;
  fprintf(out, "%5s %6s %6s %10s %10s %10s %10s %10s %10s %10s %10s %6s  %s\n", "stage", "parts",
          "tasks", "rows_in", "rows_out", "bytes_in", "bytes_out", "exchanged", "wall", "cpu",
          "peak_rss", "skew", "name");
  for (int s = 0; s < st->nstages; s++) {
    const canon_stage_stats *g = &st->st[s].s;
    char bi[32], bo[32], bx[32], w[32], c[32], m[32], sk[16];
    canon__fmt_bytes(g->bytes_in, bi, sizeof bi);
    canon__fmt_bytes(g->bytes_out, bo, sizeof bo);
    if (g->splits)
      canon__fmt_bytes(g->bytes_exchanged, bx, sizeof bx);
    else
      snprintf(bx, sizeof bx, "-");
    fmt_time(g->wall_seconds, w, sizeof w);
    fmt_time(g->cpu_seconds, c, sizeof c);
    fmt_kb(g->peak_rss_kb, m, sizeof m);
    if (g->skew > 0)
      snprintf(sk, sizeof sk, "%.2f", g->skew);
    else
      snprintf(sk, sizeof sk, "-");
    fprintf(out, "%5d %6d %6lld %10lld %10lld %10s %10s %10s %10s %10s %10s %6s  %s\n", g->stage,
            g->partitions, (long long)g->tasks, (long long)g->rows_in, (long long)g->rows_out, bi,
            bo, bx, w, c, m, sk, g->name);
  }
  const canon_job_stats *j = &st->job;
  char w[32], c[32], dm[32], wm[32];
  fmt_time(j->wall_seconds, w, sizeof w);
  fmt_time(j->cpu_seconds, c, sizeof c);
  fmt_kb(j->driver_peak_rss_kb, dm, sizeof dm);
  fmt_kb(j->worker_peak_rss_kb, wm, sizeof wm);
  fprintf(out,
          "job: %s on %s, %d stage%s, %lld result rows, wall %s, cpu %s, peak rss %s driver, "
          "%s workers\n",
          j->failed ? "FAILED" : "ok", j->engine, j->stages, j->stages == 1 ? "" : "s",
          (long long)j->result_rows, w, c, dm, wm);
  return ferror(out) ? CANON_ERR_IO : 0;
}

/* One stage's figures on one line, for explain --analyze. */
static void stage_line(FILE *out, const canon_stage_stats *g) {
  char w[32], c[32], m[32], bo[32];
  fmt_time(g->wall_seconds, w, sizeof w);
  fmt_time(g->cpu_seconds, c, sizeof c);
  fmt_kb(g->peak_rss_kb, m, sizeof m);
  canon__fmt_bytes(g->bytes_out, bo, sizeof bo);
  fprintf(out, "[tasks %lld, rows %lld -> %lld, out %s, wall %s, cpu %s, peak rss %s",
          (long long)g->tasks, (long long)g->rows_in, (long long)g->rows_out, bo, w, c, m);
  if (g->skew > 0) fprintf(out, ", skew %.2f", g->skew);
  fputs("]\n", out);
}

int canon_explain_analyze(canon_df *df, FILE *out, canon_error *err) {
  if (!df || !out)
    return canon__seterr(err, CANON_ERR_INVALID, "no dataframe (an earlier step failed)");
  canon_table *t = canon_collect(df, err);
  if (!t) return err && err->code ? err->code : CANON_ERR_ENGINE;
  canon_table_free(t);
  canon_stats *st;
  int rc = canon_session_last_stats(df->session, &st, err);
  if (rc) return rc;
  fprintf(out, "physical plan (engine %s), analyzed:\n", st->engine);
  /* From the root down, inputs indented below their consumer, as explain
   * prints it. */
  int depth[64], stack[64], sp = 0;
  stack[sp] = st->nstages - 1;
  depth[sp++] = 0;
  while (sp > 0 && st->nstages > 0) {
    sp--;
    int s = stack[sp], dd = depth[sp];
    const stage_info *si = &st->st[s];
    fprintf(out, "%*sstage %d: %d partition%s  ", dd * 2, "", s, si->s.partitions,
            si->s.partitions == 1 ? "" : "s");
    stage_line(out, &si->s);
    for (int i = si->nops - 1; i >= 0; i--) fprintf(out, "%*s%s\n", dd * 2 + 2, "", si->ops[i]);
    for (int i = si->ninputs - 1; i >= 0 && sp < 63; i--) {
      fprintf(out, "%*s<- exchange %s from stage %d\n", dd * 2 + 2, "", si->in_kind[i],
              si->in_stage[i]);
      stack[sp] = si->in_stage[i];
      depth[sp++] = dd + 2;
    }
    if (si->ninputs) {
      char bx[32];
      canon__fmt_bytes(si->s.bytes_exchanged, bx, sizeof bx);
      fprintf(out, "%*s(%lld splits, %s exchanged into this stage)\n", dd * 2 + 2, "",
              (long long)si->s.splits, bx);
    }
  }
  const canon_job_stats *j = &st->job;
  char w[32], c[32];
  fmt_time(j->wall_seconds, w, sizeof w);
  fmt_time(j->cpu_seconds, c, sizeof c);
  fprintf(out, "job: %lld result rows, wall %s, cpu %s\n", (long long)j->result_rows, w, c);
  canon_stats_free(st);
  return ferror(out) ? canon__seterr(err, CANON_ERR_IO, "writing the plan failed") : 0;
}
