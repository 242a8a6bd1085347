/* observe_trace.c — the timeline trace file (docs/observability.md).
 *
 * Chrome Trace Event JSON ({"traceEvents": [...]}), which Perfetto and
 * chrome://tracing open.  The file holds every job the session has run so
 * far: after each job its events are rendered and kept, and the whole file
 * is rewritten to a temporary file beside the path and renamed over it, so
 * a reader never sees half a file and a crash leaves the last complete
 * version.  Tracks: one per thread (pid, tid) that ran work, named by
 * "M" metadata events; times are microseconds since the session's first
 * traced job started. */
#include "observe.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

/* Past this much rendered text, later events are counted, not kept. */
#define MAX_TEXT ((size_t)256 << 20)

typedef struct track {
  int32_t pid, tid;
  char name[64];
} track;

struct canon__trace {
  char *path;
  int64_t epoch_ns;         /* start of the first job: ts 0 */
  bool have_epoch;
  char *text;               /* rendered events, each ending in ",\n" */
  size_t len;
  int64_t dropped;
  track *tracks;
  int ntracks, captracks, driver_threads;
  char engine[256];
};

canon__trace *canon__trace_new(const char *path) {
  canon__trace *tr = canon__calloc(1, sizeof *tr);
  if (!tr || !(tr->path = canon__strdup(path))) {
    free(tr);
    return NULL;
  }
  return tr;
}

void canon__trace_free(canon__trace *tr) {
  if (!tr) return;
  free(tr->path);
  free(tr->text);
  free(tr->tracks);
  free(tr);
}

/* A JSON string literal. */
static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

/* Microseconds since the epoch, exact to the nanosecond. */
static void json_us(FILE *f, int64_t ns) {
  fprintf(f, "%s%lld.%03lld", ns < 0 ? "-" : "", (long long)(ns < 0 ? -ns : ns) / 1000,
          (long long)(ns < 0 ? -ns : ns) % 1000);
}

/* Name the thread (pid, tid) on first sight. */
static int add_track(canon__trace *tr, int32_t pid, int32_t tid, int32_t driver, int32_t caller) {
  for (int i = 0; i < tr->ntracks; i++)
    if (tr->tracks[i].pid == pid && tr->tracks[i].tid == tid) return 0;
  if (tr->ntracks == tr->captracks) {
    int nc = tr->captracks ? tr->captracks * 2 : 16;
    track *n = canon__reallocarray(tr->tracks, (size_t)nc, sizeof *n);
    if (!n) return CANON_ERR_NOMEM;
    tr->tracks = n;
    tr->captracks = nc;
  }
  track *t = &tr->tracks[tr->ntracks++];
  t->pid = pid;
  t->tid = tid;
  if (pid != driver)
    snprintf(t->name, sizeof t->name, "worker process %d", (int)pid);
  else if (tid == caller)
    snprintf(t->name, sizeof t->name, "driver thread %d", (int)tid);
  else
    snprintf(t->name, sizeof t->name, "worker thread %d", ++tr->driver_threads);
  return 0;
}

static void event_head(FILE *f, const canon__trace *tr, const char *cat, int64_t start,
                       int64_t end, int32_t pid, int32_t tid) {
  fprintf(f, "{\"cat\":\"%s\",\"ph\":\"X\",\"ts\":", cat);
  json_us(f, start - tr->epoch_ns);
  fputs(",\"dur\":", f);
  json_us(f, end - start);
  fprintf(f, ",\"pid\":%d,\"tid\":%d,\"name\":", (int)pid, (int)tid);
}

static void render_event(FILE *f, const canon__trace *tr, const canon_job *job,
                         const canon__obs_event *e, int jobno) {
  const canon__stage *st = &job->stages[e->stage];
  static const char *const cats[] = {"", "task", "exchange", "transform"};
  event_head(f, tr, cats[e->kind], e->start_ns, e->end_ns, e->pid, e->tid);
  if (e->kind == CANON__EV_TASK) {
    json_str(f, st->name);
    fprintf(f, ",\"args\":{\"job\":%d,\"stage\":%d,\"partition\":%d,\"stage_name\":", jobno,
            e->stage, e->part);
    json_str(f, st->name);
  } else if (e->kind == CANON__EV_SPLIT) {
    const canon__xin *x = &st->in[e->input];
    fprintf(f, "\"split for stage %d input %d (%s)\",\"args\":{\"job\":%d,\"stage\":%d,"
            "\"input\":%d,\"producer_stage\":%d,\"producer_partition\":%d,\"exchange\":\"%s\"",
            e->stage, e->input, canon__exchange_name(x->kind), jobno, e->stage, e->input,
            x->stage, e->part, canon__exchange_name(x->kind));
  } else {
    const canon_df *d = e->op >= 0 && e->op < st->nops ? st->ops[e->op].node : NULL;
    const char *name = d && d->transform ? d->transform : "?";
    char label[300];
    snprintf(label, sizeof label, "transform '%s'", name);
    json_str(f, label);
    fprintf(f, ",\"args\":{\"job\":%d,\"stage\":%d,\"partition\":%d,\"node\":%d,\"transform\":",
            jobno, e->stage, e->part, d ? canon_df_id(d) : -1);
    json_str(f, name);
  }
  fprintf(f, ",\"rows_in\":%lld,\"rows_out\":%lld", (long long)e->rows_in, (long long)e->rows_out);
  if (e->kind != CANON__EV_TRANSFORM)
    fprintf(f, ",\"bytes_in\":%lld,\"bytes_out\":%lld", (long long)e->bytes_in,
            (long long)e->bytes_out);
  fprintf(f, ",\"cpu_us\":");
  json_us(f, e->cpu_ns);
  fprintf(f, ",\"max_rss_kb\":%lld,\"failed\":%s}},\n", (long long)e->maxrss_kb,
          e->failed ? "true" : "false");
}

/* The job, its stages (spans over their events) and every event. */
static int render_job(FILE *f, canon__trace *tr, const canon_job *job, const canon__obs_job *oj,
                      const char *engine, int64_t rows, int failed, int jobno) {
  int32_t driver = (int32_t)getpid();
  if (add_track(tr, driver, oj->caller_tid, driver, oj->caller_tid)) return CANON_ERR_NOMEM;
  event_head(f, tr, "job", oj->start_ns, oj->end_ns, driver, oj->caller_tid);
  fprintf(f, "\"job %d\",\"args\":{\"job\":%d,\"engine\":", jobno, jobno);
  json_str(f, engine);
  fprintf(f, ",\"stages\":%d,\"result_rows\":%lld,\"failed\":%s,\"dropped_events\":%lld}},\n",
          job->nstages, (long long)rows, failed ? "true" : "false", (long long)oj->dropped);
  for (int s = 0; s < job->nstages; s++) {
    int64_t lo = 0, hi = 0, tasks = 0;
    bool any = false;
    for (int64_t i = 0; i < oj->nev; i++) {
      const canon__obs_event *e = &oj->ev[i];
      if (e->stage != s || e->kind == CANON__EV_TRANSFORM) continue;
      if (!any || e->start_ns < lo) lo = e->start_ns;
      if (!any || e->end_ns > hi) hi = e->end_ns;
      any = true;
      tasks += e->kind == CANON__EV_TASK;
    }
    if (!any) continue;
    event_head(f, tr, "stage", lo, hi, driver, oj->caller_tid);
    fprintf(f, "\"stage %d\",\"args\":{\"job\":%d,\"stage\":%d,\"stage_name\":", s, jobno, s);
    json_str(f, job->stages[s].name);
    fprintf(f, ",\"partitions\":%d,\"tasks\":%lld}},\n", job->stages[s].nparts, (long long)tasks);
  }
  for (int64_t i = 0; i < oj->nev; i++) {
    const canon__obs_event *e = &oj->ev[i];
    if (add_track(tr, e->pid, e->tid, driver, oj->caller_tid)) return CANON_ERR_NOMEM;
    render_event(f, tr, job, e, jobno);
  }
  return 0;
}

/* The whole file into f. */
static void write_file(FILE *f, const canon__trace *tr) {
  int32_t driver = (int32_t)getpid();
  fputs("{\"traceEvents\":[\n", f);
  fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":",
          (int)driver, (int)driver);
  char pname[320];
  snprintf(pname, sizeof pname, "canon driver (engine %s)", tr->engine);
  json_str(f, pname);
  fputs("}},\n", f);
  for (int i = 0; i < tr->ntracks; i++) {
    const track *t = &tr->tracks[i];
    bool first_of_pid = t->pid != driver;
    for (int j = 0; j < i && first_of_pid; j++) first_of_pid = tr->tracks[j].pid != t->pid;
    if (first_of_pid)
      fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
              "\"args\":{\"name\":\"canon worker process %d\"}},\n", (int)t->pid, (int)t->tid,
              (int)t->pid);
    fprintf(f, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":",
            (int)t->pid, (int)t->tid);
    json_str(f, t->name);
    fputs("}},\n", f);
  }
  if (tr->len) fwrite(tr->text, 1, tr->len, f);
  /* Last, so it closes the array without a trailing comma: the driver
   * thread's track sorts first. */
  fprintf(f, "{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
          "\"args\":{\"sort_index\":0}}\n],\n\"displayTimeUnit\":\"ms\",\n"
          "\"otherData\":{\"generator\":\"canon\",\"format\":\"docs/observability.md\","
          "\"dropped_events\":%lld}}\n",
          (int)driver, (int)driver, (long long)tr->dropped);
}

static int rewrite(const canon__trace *tr, canon_error *err) {
  size_t n = strlen(tr->path);
  char *tmp = canon__calloc(n + 16, 1);
  if (!tmp) return canon__nomem(err);
  snprintf(tmp, n + 16, "%s.tmp.XXXXXX", tr->path);
  int fd = mkstemp(tmp);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  int rc = 0;
  if (!f) {
    rc = canon__seterr(err, CANON_ERR_IO, "trace '%s': %s", tr->path, strerror(errno));
    if (fd >= 0) close(fd), unlink(tmp);
    free(tmp);
    return rc;
  }
  write_file(f, tr);
  bool bad = ferror(f) != 0;
  if (fclose(f) != 0 || bad) {
    rc = canon__seterr(err, CANON_ERR_IO, "trace '%s': write failed", tr->path);
  } else if (rename(tmp, tr->path) != 0) {
    rc = canon__seterr(err, CANON_ERR_IO, "trace '%s': %s", tr->path, strerror(errno));
  }
  if (rc) unlink(tmp);
  free(tmp);
  return rc;
}

int canon__trace_job(canon__trace *tr, const canon_job *job, const canon__obs_job *oj,
                     const char *engine, int64_t result_rows, int failed, int jobno,
                     canon_error *err) {
  if (!tr->have_epoch) {
    tr->epoch_ns = oj->start_ns;
    tr->have_epoch = true;
  }
  snprintf(tr->engine, sizeof tr->engine, "%s", engine ? engine : "?");
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  if (!m) return canon__nomem(err);
  int rc = render_job(m, tr, job, oj, engine ? engine : "?", result_rows, failed, jobno);
  if (fclose(m) != 0 || !buf) rc = CANON_ERR_NOMEM;
  if (rc) {
    free(buf);
    return canon__nomem(err);
  }
  if (tr->len + len > MAX_TEXT) {
    tr->dropped += oj->nev;
  } else {
    char *n = realloc(tr->text, tr->len + len + 1);
    if (!n) {
      free(buf);
      return canon__nomem(err);
    }
    memcpy(n + tr->len, buf, len);
    tr->text = n;
    tr->len += len;
  }
  tr->dropped += oj->dropped;
  free(buf);
  return rewrite(tr, err);
}
