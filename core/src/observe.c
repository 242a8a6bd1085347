/* observe.c — recording what a job does (see observe.h and
 * docs/observability.md): the wrappers the host table hands engines
 * instead of the bare run_task / exchange_split, the TRANSFORM batch
 * events, the binary event records worker processes send to the driver,
 * and the start and finish of every job a session runs. */
#include "observe.h"

#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Past this many events a job stops recording (the count is reported). */
#define MAX_EVENTS_PER_JOB (4 << 20)
#define RECORD_MAGIC 0x56454E43u /* "CNEV" */

struct canon__obs_session {
  pthread_mutex_t mu;
  int progress;             /* 0 off, 1 on (when stderr is a terminal) */
  canon__trace *trace;      /* NULL: no trace file */
  canon_stats *last;        /* the last job's statistics */
  int jobs;
};

static FILE *test_progress_out;

void canon__obs_test_progress(FILE *f) { test_progress_out = f; }

/* ---- clocks and identities ------------------------------------------------ */

int64_t canon__obs_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t thread_cpu_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Not cached: a forked worker must not see its parent's thread id. */
static int32_t thread_id(void) { return (int32_t)syscall(SYS_gettid); }

static int64_t maxrss_kb(void) {
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) == 0 ? (int64_t)ru.ru_maxrss : 0;
}

static void ev_begin(canon__obs_event *e, int kind, int stage, int part, int64_t *cpu0) {
  memset(e, 0, sizeof *e);
  e->kind = kind;
  e->stage = stage;
  e->part = part;
  e->input = -1;
  e->op = -1;
  e->pid = (int32_t)getpid();
  e->tid = thread_id();
  /* CPU time is read inside the wall interval, so it never exceeds it
   * on one thread. */
  e->start_ns = canon__obs_now_ns();
  *cpu0 = thread_cpu_ns();
}

static void ev_end(canon__obs_event *e, int64_t cpu0, int rc) {
  e->cpu_ns = thread_cpu_ns() - cpu0;
  e->end_ns = canon__obs_now_ns();
  if (e->cpu_ns < 0) e->cpu_ns = 0;
  e->failed = rc != 0;
  e->maxrss_kb = maxrss_kb();
}

/* ---- per-job event buffers -------------------------------------------------- */

canon__obs_job *canon__obs_job_new(const canon_job *job, canon_error *err) {
  canon__obs_job *oj = canon__calloc(1, sizeof *oj);
  if (!oj) {
    canon__nomem(err);
    return NULL;
  }
  oj->job = job;
  oj->progress.stage = -1;
  pthread_mutex_init(&oj->mu, NULL);
  return oj;
}

void canon__obs_job_free(canon__obs_job *oj) {
  if (!oj) return;
  pthread_mutex_destroy(&oj->mu);
  free(oj->ev);
  free(oj);
}

/* Append an event (any thread); the progress line follows task ends. */
static void record(canon__obs_job *oj, const canon__obs_event *e) {
  pthread_mutex_lock(&oj->mu);
  if (oj->nev == oj->capev) {
    int64_t nc = oj->capev ? oj->capev * 2 : 64;
    canon__obs_event *n = nc <= MAX_EVENTS_PER_JOB
                              ? canon__reallocarray(oj->ev, (size_t)nc, sizeof *n)
                              : NULL;
    if (n) {
      oj->ev = n;
      oj->capev = nc;
    }
  }
  if (oj->nev < oj->capev)
    oj->ev[oj->nev++] = *e;
  else
    oj->dropped++; /* statistics and trace say so; the job goes on */
  if (oj->progress.out && e->kind != CANON__EV_TRANSFORM) canon__progress_event(oj, e);
  pthread_mutex_unlock(&oj->mu);
}

/* ---- the recorded host calls ---------------------------------------------------- */

/* The task running on this thread, for TRANSFORM events. */
typedef struct task_ctx {
  const canon_job *job;
  int stage, part;
} task_ctx;

static _Thread_local task_ctx *current_task;

int canon__obs_run_task(const canon_job *job, int stage, int part, canon_table *const *inputs,
                        canon_table **out, canon_error *err) {
  canon__obs_job *oj = job->obs;
  if (!oj) return canon__run_task(job, stage, part, inputs, out, err);
  canon__obs_event e;
  int64_t cpu0;
  ev_begin(&e, CANON__EV_TASK, stage, part, &cpu0);
  if (stage >= 0 && stage < job->nstages && inputs)
    for (int i = 0; i < job->stages[stage].ninputs; i++)
      if (inputs[i]) {
        e.rows_in += inputs[i]->nrows;
        e.bytes_in += canon__table_bytes(inputs[i]);
      }
  task_ctx ctx = {job, stage, part}, *outer = current_task;
  current_task = &ctx;
  int rc = canon__run_task(job, stage, part, inputs, out, err);
  current_task = outer;
  if (rc == 0 && *out) {
    e.rows_out = (*out)->nrows;
    e.bytes_out = canon__table_bytes(*out);
  }
  ev_end(&e, cpu0, rc);
  record(oj, &e);
  return rc;
}

/* A split event's start: its input's rows and bytes. */
static void split_begin(canon__obs_event *e, int stage, int input, int child_part,
                        const canon_table *t, int64_t *cpu0) {
  ev_begin(e, CANON__EV_SPLIT, stage, child_part, cpu0);
  e->input = input;
  if (t) {
    e->rows_in = t->nrows;
    e->bytes_in = canon__table_bytes(t);
  }
}

int canon__obs_split(canon__split_fn fn, const canon_job *job, int stage, int input,
                     int child_part, const canon_table *t, canon_table **buckets,
                     canon_error *err) {
  canon__obs_job *oj = job->obs;
  if (!oj) return fn(job, stage, input, child_part, t, buckets, err);
  canon__obs_event e;
  int64_t cpu0;
  split_begin(&e, stage, input, child_part, t, &cpu0);
  int rc = fn(job, stage, input, child_part, t, buckets, err);
  if (rc == 0 && stage >= 0 && stage < job->nstages)
    for (int k = 0; k < job->stages[stage].nparts; k++)
      if (buckets[k]) {
        e.rows_out += buckets[k]->nrows;
        e.bytes_out += canon__table_bytes(buckets[k]);
      }
  ev_end(&e, cpu0, rc);
  record(oj, &e);
  return rc;
}

int canon__obs_split_encode(canon__split_encode_fn fn, const canon_job *job, int stage, int input,
                            int child_part, const canon_table *t,
                            uint8_t *(*alloc)(void *ctx, size_t len), void *ctx, size_t *len,
                            canon_error *err) {
  canon__obs_job *oj = job->obs;
  canon__split_out out = {0, 0};
  if (!oj) return fn(job, stage, input, child_part, t, alloc, ctx, len, NULL, err);
  canon__obs_event e;
  int64_t cpu0;
  split_begin(&e, stage, input, child_part, t, &cpu0);
  int rc = fn(job, stage, input, child_part, t, alloc, ctx, len, &out, err);
  if (rc == 0) {
    e.rows_out = out.rows;
    e.bytes_out = out.bytes;
  }
  ev_end(&e, cpu0, rc);
  record(oj, &e);
  return rc;
}

canon_table *canon__obs_transform(canon__transform_op_fn fn, const canon_df *d,
                                  const canon_table *in, canon_error *err) {
  task_ctx *tc = current_task;
  if (!tc || !tc->job->obs) return fn(d, in, err);
  canon__obs_event e;
  int64_t cpu0;
  ev_begin(&e, CANON__EV_TRANSFORM, tc->stage, tc->part, &cpu0);
  const canon__stage *st = &tc->job->stages[tc->stage];
  for (int i = 0; i < st->nops && e.op < 0; i++)
    if (st->ops[i].node == d) e.op = i;
  e.rows_in = in ? in->nrows : 0;
  canon_table *out = fn(d, in, err);
  e.rows_out = out ? out->nrows : 0;
  ev_end(&e, cpu0, out == NULL);
  record(tc->job->obs, &e);
  return out;
}

/* ---- events between processes ---------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* Layout: magic, kind, stage, part, input, op, failed, pid, tid, 0 (u32
 * each), then start, end, cpu, rows in/out, bytes in/out, maxrss, 0 (u64
 * each), little-endian: 112 bytes. */
static void encode(const canon__obs_event *e, uint8_t *p) {
  const int32_t h[9] = {e->kind, e->stage, e->part, e->input, e->op, e->failed, e->pid, e->tid, 0};
  const int64_t v[9] = {e->start_ns, e->end_ns, e->cpu_ns, e->rows_in, e->rows_out,
                        e->bytes_in, e->bytes_out, e->maxrss_kb, 0};
  put32(p, RECORD_MAGIC);
  for (int i = 0; i < 9; i++) put32(p + 4 + 4 * i, (uint32_t)h[i]);
  for (int i = 0; i < 9; i++) put64(p + 40 + 8 * i, (uint64_t)v[i]);
}

static int decode(const canon_job *job, const uint8_t *p, canon__obs_event *e, canon_error *err) {
  if (get32(p) != RECORD_MAGIC)
    return canon__seterr(err, CANON_ERR_PARSE, "task event record: bad magic");
  int32_t h[9];
  int64_t v[9];
  for (int i = 0; i < 9; i++) h[i] = (int32_t)get32(p + 4 + 4 * i);
  for (int i = 0; i < 9; i++) v[i] = (int64_t)get64(p + 40 + 8 * i);
  *e = (canon__obs_event){.kind = h[0], .stage = h[1], .part = h[2], .input = h[3], .op = h[4],
                          .failed = h[5] != 0, .pid = h[6], .tid = h[7], .start_ns = v[0],
                          .end_ns = v[1], .cpu_ns = v[2], .rows_in = v[3], .rows_out = v[4],
                          .bytes_in = v[5], .bytes_out = v[6], .maxrss_kb = v[7]};
  if (e->kind < CANON__EV_TASK || e->kind > CANON__EV_TRANSFORM || e->stage < 0 ||
      e->stage >= job->nstages || e->part < 0 || e->end_ns < e->start_ns)
    return canon__seterr(err, CANON_ERR_PARSE, "task event record: bad kind, stage or times");
  const canon__stage *st = &job->stages[e->stage];
  bool ok = e->kind == CANON__EV_SPLIT
                ? e->input >= 0 && e->input < st->ninputs &&
                      e->part < job->stages[st->in[e->input].stage].nparts
                : e->part < st->nparts && (e->kind == CANON__EV_TASK || e->op < st->nops);
  if (!ok) return canon__seterr(err, CANON_ERR_PARSE, "task event record: no such task");
  return 0;
}

size_t canon__obs_events_take(canon_job *job, uint8_t *buf, size_t cap) {
  canon__obs_job *oj = job ? job->obs : NULL;
  if (!oj || !buf) return 0;
  pthread_mutex_lock(&oj->mu);
  int64_t n = (int64_t)(cap / CANON__OBS_RECORD_SIZE);
  if (n > oj->nev) n = oj->nev;
  for (int64_t i = 0; i < n; i++) encode(&oj->ev[i], buf + i * CANON__OBS_RECORD_SIZE);
  if (n > 0) { /* none recorded yet: ev may still be NULL */
    memmove(oj->ev, oj->ev + n, (size_t)(oj->nev - n) * sizeof *oj->ev);
    oj->nev -= n;
  }
  pthread_mutex_unlock(&oj->mu);
  return (size_t)n * CANON__OBS_RECORD_SIZE;
}

int canon__obs_events_add(canon_job *job, const uint8_t *buf, size_t len, canon_error *err) {
  if (!job || !job->obs) return 0;
  if (len % CANON__OBS_RECORD_SIZE)
    return canon__seterr(err, CANON_ERR_PARSE, "task events: %zu bytes is not whole records", len);
  for (size_t at = 0; at < len; at += CANON__OBS_RECORD_SIZE) {
    canon__obs_event e;
    int rc = decode(job, buf + at, &e, err);
    if (rc) return rc;
    record(job->obs, &e);
  }
  return 0;
}

/* ---- sessions and jobs ------------------------------------------------------------ */

canon__obs_session *canon__obs_session_new(const canon_config *c, canon_error *err) {
  int progress = canon__config_progress(c);
  const char *env = getenv("CANON_PROGRESS");
  if (progress < 0 && env && *env) {
    if (strcmp(env, "on") != 0 && strcmp(env, "off") != 0) {
      canon__seterr(err, CANON_ERR_CONFIG, "CANON_PROGRESS must be 'on' or 'off', not '%s'", env);
      return NULL;
    }
    progress = strcmp(env, "on") == 0;
  }
  const char *trace = NULL;
  if (!canon__config_trace(c, &trace) && (env = getenv("CANON_TRACE")) && *env) trace = env;
  canon__obs_session *os = canon__calloc(1, sizeof *os);
  if (!os || (trace && !(os->trace = canon__trace_new(trace)))) {
    free(os);
    canon__nomem(err);
    return NULL;
  }
  os->progress = progress > 0;
  pthread_mutex_init(&os->mu, NULL);
  return os;
}

void canon__obs_session_free(canon__obs_session *os) {
  if (!os) return;
  canon__trace_free(os->trace);
  canon_stats_free(os->last);
  pthread_mutex_destroy(&os->mu);
  free(os);
}

int canon__obs_execute(canon_session *s, canon_job *job, canon_table ***parts, int *nparts,
                       canon_error *err) {
  canon__obs_session *os = s->obs;
  canon__obs_job *oj = job->obs;
  if (!os || !oj) return s->backend->execute(s->backend_state, job, parts, nparts, err);
  FILE *pout = test_progress_out;
  if (!pout && os->progress && isatty(STDERR_FILENO)) pout = stderr;
  pthread_mutex_lock(&oj->mu);
  oj->caller_tid = thread_id();
  oj->start_ns = canon__obs_now_ns();
  canon__progress_start(&oj->progress, pout);
  pthread_mutex_unlock(&oj->mu);

  int rc = s->backend->execute(s->backend_state, job, parts, nparts, err);

  int64_t rows = 0;
  for (int p = 0; rc == 0 && *parts && p < *nparts; p++)
    if ((*parts)[p]) rows += (*parts)[p]->nrows;
  pthread_mutex_lock(&oj->mu);
  oj->end_ns = canon__obs_now_ns();
  canon__progress_finish(&oj->progress);
  canon_stats *st = canon__stats_build(job, oj, s->engine_string, rows, rc != 0);
  pthread_mutex_lock(&os->mu);
  int jobno = ++os->jobs, trc = 0;
  canon_error terr;
  canon_error_clear(&terr);
  if (st) {
    canon_stats_free(os->last);
    os->last = st;
  }
  if (os->trace)
    trc = canon__trace_job(os->trace, job, oj, s->engine_string, rows, rc != 0, jobno, &terr);
  pthread_mutex_unlock(&os->mu);
  pthread_mutex_unlock(&oj->mu);
  /* A trace that was asked for and could not be written fails the job. */
  if (rc == 0 && trc != 0) {
    for (int p = 0; *parts && p < *nparts; p++) canon_table_free((*parts)[p]);
    free(*parts);
    *parts = NULL;
    *nparts = 0;
    if (err) *err = terr;
    rc = trc;
  }
  return rc;
}

/* ---- the public statistics calls that need the session ---------------------- */

int canon_session_last_stats(canon_session *s, canon_stats **out, canon_error *err) {
  if (!s || !out) return canon__seterr(err, CANON_ERR_INVALID, "session and out needed");
  *out = NULL;
  if (!s->obs) return canon__seterr(err, CANON_ERR_NOT_FOUND, "no job has run in this session");
  pthread_mutex_lock(&s->obs->mu);
  canon_stats *copy = s->obs->last ? canon__stats_copy(s->obs->last) : NULL;
  bool none = !s->obs->last;
  pthread_mutex_unlock(&s->obs->mu);
  if (none) return canon__seterr(err, CANON_ERR_NOT_FOUND, "no job has run in this session");
  if (!copy) return canon__nomem(err);
  *out = copy;
  return 0;
}

int canon_session_print_stats(canon_session *s, FILE *out) {
  canon_stats *st;
  int rc = canon_session_last_stats(s, &st, NULL);
  if (rc) return rc;
  rc = canon_stats_print(st, out);
  canon_stats_free(st);
  return rc;
}
