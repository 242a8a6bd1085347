/* driver.c — running a job on the worker processes.
 *
 * The job is encoded once into a shared memory segment and every worker
 * (and every replacement forked during the job) is sent its descriptor.
 * In-memory and persisted tables of at least share_min bytes do not
 * travel inside the job: each is encoded once per session into a segment
 * of its own that workers map read-only and keep (their columns view the
 * mapping, no copy); the job references it by id, and the segments a job
 * uses are sent (as descriptors) before it.
 * Each stage then runs in two phases, like the threads engine:
 *   prepare  the driver maps the producers' outputs read-only, calls
 *            exchange_prepare (through the encoded variant, which reads
 *            only what the exchange needs) and encodes the exchange state
 *            into a segment sent with every task of the stage;
 *   split    one task per producer output: the worker maps it, splits it
 *            into P buckets and writes them into one new segment;
 *   run      one task per partition p: the worker maps bucket p of every
 *            split segment, concatenates them in producer order, runs the
 *            task and writes the output into a new segment.
 * Results come back as descriptors; data never goes through a socket.
 * A worker keeps the segments of its outputs mapped and writes its
 * next outputs into them once the driver has released them (PX_RELEASE):
 * after the phase that read them, or — for the job's results, which the
 * program's tables view — when the last such table is freed.  Rewriting
 * a page that is already there costs a copy; a fresh segment costs a page
 * fault, a zeroed page and its freeing per 4 KiB.
 *
 * Faults: a worker that dies (signal, exit, OOM kill) or outlives
 * task_timeout is reaped and replaced, and its task queued again, up to
 * `retries` more attempts; then the job fails naming the stage, the
 * partition, what the worker was running and how it died.  A task that
 * fails with a canon error fails the job with that error, unchanged; the
 * workers still running are killed and replaced so the next job starts
 * clean. */
#include "processes.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct px_task {
  int kind;            /* PX_SPLIT or PX_RUN */
  int input, part;     /* SPLIT: input and producer partition; RUN: partition */
  int attempts;        /* attempts that ended with the worker dying */
  int state;           /* 0 waiting, 1 running, 2 done */
  px_seg result;       /* fd -1: none */
} px_task;

#define NO_SEG ((px_seg){-1, -1, 0, 0, 0, 0, 0, false, false})

typedef struct stage_run {
  px_state *st;
  canon_job *job;
  int stage, nin;
  int xs[2];           /* exchange state segments, one per input */
  int C[2];            /* producer partitions per input */
  px_seg *prod[2];     /* producer output segments (split phase) */
  px_seg *split[2];    /* split segments per input (run phase) */
  int idle_deaths;     /* workers that died without a task */
  int failed;          /* first error code of the phase */
  bool hold;           /* run tasks keep their outputs (PX_F_HOLD) */
} stage_run;

static double deadline_s(const px_worker *w) {
  return (double)w->deadline.tv_sec + (double)w->deadline.tv_nsec / 1e9;
}

/* "stage 2 (transform#5) partition 3" / "... split of input 0 partition 1". */
static void task_label(const stage_run *r, const px_task *t, char *buf, size_t cap) {
  const char *name = r->st->host->stage_name(r->job, r->stage);
  if (t->kind == PX_SPLIT)
    snprintf(buf, cap, "stage %d (%s) input %d, split of partition %d", r->stage, name, t->input,
             t->part);
  else
    snprintf(buf, cap, "stage %d (%s) partition %d", r->stage, name, t->part);
}

/* How a reaped worker ended. */
static void describe_death(int status, bool timed_out, double timeout, char *buf, size_t cap) {
  if (timed_out)
    snprintf(buf, cap, "task timed out after %g s (worker killed)", timeout);
  else if (status != -1 && WIFSIGNALED(status))
    snprintf(buf, cap, "worker killed by signal %d (%s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)));
  else if (status != -1 && WIFEXITED(status))
    snprintf(buf, cap, "worker exited with status %d", WEXITSTATUS(status));
  else
    snprintf(buf, cap, "worker died");
}

static int fail(stage_run *r, canon_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(stage_run *r, canon_error *err, int code, const char *fmt, ...) {
  if (r->failed) return r->failed;
  r->failed = code;
  va_list ap;
  va_start(ap, fmt);
  px_verr(err, code, fmt, ap);
  va_end(ap);
  return code;
}

/* ---- one task on one worker ------------------------------------------------------ */

static int send_task(stage_run *r, px_task *t, px_worker *w) {
  int n = r->nin + (t->kind == PX_SPLIT ? 1 : r->C[0] + r->C[1]);
  int *fds = malloc((size_t)(n ? n : 1) * sizeof *fds), k = 0;
  if (!fds) return -1;
  px_msg m;
  memset(&m, 0, sizeof m);
  m.type = (uint32_t)t->kind;
  m.job_seq = r->st->job_seq;
  m.stage = r->stage;
  m.input = t->input;
  m.part = t->part;
  m.nstate = r->nin;
  for (int i = 0; i < r->nin; i++) fds[k++] = r->xs[i];
  if (t->kind == PX_SPLIT) {
    const px_seg *p = &r->prod[t->input][t->part];
    if (p->range_id) {
      m.flags |= PX_F_RANGE;
      m.range_id = p->range_id;
      m.range_first = p->first;
      m.range_rows = p->rows;
    } else {
      fds[k++] = p->fd;
    }
  } else {
    if (r->hold) m.flags |= PX_F_HOLD;
    for (int i = 0; i < r->nin; i++) {
      m.count[i] = r->C[i];
      for (int c = 0; c < r->C[i]; c++) fds[k++] = r->split[i][c].fd;
    }
  }
  int rc = px_send(w->sock, &m, fds, k);
  free(fds);
  return rc;
}

/* The tasks of one phase and how they stand.  When several tasks fail,
 * the job reports the failure of the lowest task index — the one the
 * serial engine (which runs tasks in index order) meets first — so the
 * error does not depend on timing: after a failure at index f, tasks
 * before f still run, tasks after f are dropped. */
typedef struct phase {
  px_task *tasks;
  int n;
  int running;
  int best;              /* lowest failed task index; n: none */
  canon_error best_err;
} phase;

static void task_failed(phase *ph, int ti, const canon_error *e) {
  if (ti >= ph->best) return;
  ph->best = ti;
  ph->best_err = *e;
}

/* Worker wi died (or was killed): reap it, start a replacement, and put
 * its task back in the queue unless it has used its attempts. */
static void on_death(stage_run *r, phase *ph, int wi, canon_error *err) {
  px_state *st = r->st;
  px_worker *w = &st->w[wi];
  int ti = w->task;
  bool timed_out = w->timed_out;
  char what[sizeof w->status->what];
  /* The worker may have died while writing it: bounded copy. */
  snprintf(what, sizeof what, "%.*s", (int)sizeof what - 1, w->status->what);
  int status;
  px_reap(st, wi, false, &status);
  char how[160];
  describe_death(status, timed_out, st->task_timeout, how, sizeof how);
  canon_error spawn_err;
  /* Without a replacement the pool shrinks; with no worker left the
   * phase fails ("no worker process is available"). */
  px_spawn(st, wi, &spawn_err);
  if (ti < 0) {
    if (++r->idle_deaths > st->retries + st->nworkers)
      fail(r, err, CANON_ERR_ENGINE, "processes: workers keep dying outside tasks (%s)", how);
    return;
  }
  px_task *t = &ph->tasks[ti];
  ph->running--;
  t->state = 0;
  t->attempts++;
  if (t->attempts > st->retries) {
    char label[256];
    canon_error e;
    task_label(r, t, label, sizeof label);
    px_err(&e, CANON_ERR_ENGINE, "%s: %s on %d attempt%s%s%s", label, how, t->attempts,
           t->attempts == 1 ? "" : "s", what[0] ? "; it was running " : "", what);
    t->state = 3; /* failed for good */
    task_failed(ph, ti, &e);
  }
}

/* A reply from worker wi. */
static void on_reply(stage_run *r, phase *ph, int wi, const px_msg *m, int *fds, int nfds,
                     canon_error *err) {
  px_worker *w = &r->st->w[wi];
  int ti = w->task;
  px_task *t = &ph->tasks[ti];
  w->task = -1;
  ph->running--;
  canon_error eerr;
  const canon_host *h = r->st->host;
  if (m->type != PX_REPLY || m->job_seq != r->st->job_seq) {
    fail(r, err, CANON_ERR_INTERNAL, "processes: unexpected message from a worker");
  } else if (m->events_len && PX_HOST_HAS_EVENTS(h) &&
             (m->events_len > sizeof m->events ||
              h->task_events_add(r->job, m->events, m->events_len, &eerr) != 0)) {
    fail(r, err, CANON_ERR_INTERNAL, "processes: bad task events from a worker");
  } else if (m->err.code) {
    t->state = 3;
    task_failed(ph, ti, &m->err); /* the task's own error, unchanged */
  } else if (m->flags & PX_F_RANGE) {
    /* Rows of a shared table: checked against the driver's own copy, so a
     * bad id or range fails the job here, before anyone reads it (and
     * never through slots a host older than 1.2 does not have).  A worker
     * still holding input views stops segment reuse, as below. */
    if (m->flags & PX_F_VIEWS_HELD) r->st->no_reuse = true;
    const canon_table *base = PX_HOST_HAS_RANGES(h) ? px_shared_find(r->st, m->range_id) : NULL;
    if (t->kind != PX_RUN || nfds != 0 || !base || !px_range_ok(m, h->table_num_rows(base))) {
      fail(r, err, CANON_ERR_INTERNAL,
           "processes: a worker replied with rows [%lld, +%lld) of shared table %llu, which "
           "the session does not have",
           (long long)m->range_first, (long long)m->range_rows,
           (unsigned long long)m->range_id);
    } else {
      t->result = (px_seg){-1, wi, w->gen, 0, m->range_id, m->range_first, m->range_rows, false, false};
      t->state = 2;
      return;
    }
  } else if (nfds != 1) {
    fail(r, err, CANON_ERR_INTERNAL, "processes: a worker replied without its result");
  } else if ((m->flags & PX_F_HOLD) && (t->kind != PX_RUN || !r->hold)) {
    fail(r, err, CANON_ERR_INTERNAL, "processes: a worker held an output nobody asked it to");
  } else if (px_hold(r->st, fds[0]) != 0) {
    fail(r, err, CANON_ERR_NOMEM, "out of memory");
  } else {
    /* (A held result keeps its rows, to check its sketch against.) */
    t->result = (px_seg){fds[0], wi, w->gen, m->seg_id, 0, 0, m->nrows, (m->flags & PX_F_REFS) != 0,
                         (m->flags & PX_F_HOLD) != 0};
    t->state = 2;
    if (m->flags & PX_F_VIEWS_HELD) r->st->no_reuse = true;
    /* Its split was the producer output's only reader (the exchange was
     * prepared before the phase): let its worker write the next split
     * into it now rather than into fresh memory. */
    if (t->kind == PX_SPLIT) px_seg_release(r->st, &r->prod[t->input][t->part]);
    return;
  }
  for (int i = 0; i < nfds; i++) close(fds[i]);
}

/* The first waiting task worth running (index below any failure), or -1. */
static int next_task(const phase *ph) {
  for (int i = 0; i < ph->best; i++)
    if (ph->tasks[i].state == 0) return i;
  return -1;
}

/* Give waiting tasks to idle workers. */
static void dispatch(stage_run *r, phase *ph, canon_error *err) {
  px_state *st = r->st;
  for (int wi = 0; wi < st->nworkers && !r->failed; wi++) {
    px_worker *w = &st->w[wi];
    if (w->pid <= 0 || w->task >= 0) continue;
    int ti = next_task(ph);
    if (ti < 0) return;
    px_task *t = &ph->tasks[ti];
    if (send_task(r, t, w) != 0) {
      on_death(r, ph, wi, err); /* idle: the task stays queued */
      continue;
    }
    t->state = 1;
    w->task = ti;
    w->timed_out = false;
    ph->running++;
    if (st->task_timeout > 0) {
      double d = px_now_s() + st->task_timeout;
      w->deadline.tv_sec = (time_t)d;
      w->deadline.tv_nsec = (long)((d - (double)(time_t)d) * 1e9);
    }
  }
}

/* Kill and replace the workers running tasks at index >= from (all: 0):
 * their results can no longer matter.  Their tasks go back to waiting. */
static void abandon_from(stage_run *r, phase *ph, int from) {
  px_state *st = r->st;
  for (int wi = 0; wi < st->nworkers; wi++) {
    int ti = st->w[wi].task;
    if (ti < from) continue;
    int status;
    px_reap(st, wi, true, &status);
    canon_error e;
    px_spawn(st, wi, &e);
    ph->tasks[ti].state = 0;
    ph->running--;
  }
}

/* Run every task of a phase to completion or failure (see `phase`). */
static int run_phase(stage_run *r, px_task *tasks, int n, canon_error *err) {
  px_state *st = r->st;
  phase ph = {.tasks = tasks, .n = n, .best = n};
  struct pollfd *pfd = calloc((size_t)st->nworkers, sizeof *pfd);
  int *who = calloc((size_t)st->nworkers, sizeof *who);
  if (!pfd || !who) {
    free(pfd);
    free(who);
    return fail(r, err, CANON_ERR_NOMEM, "out of memory");
  }
  for (;;) {
    if (!r->failed) dispatch(r, &ph, err);
    if (r->failed) {
      abandon_from(r, &ph, 0);
      break;
    }
    if (ph.running == 0) {
      if (next_task(&ph) >= 0) fail(r, err, CANON_ERR_ENGINE, "processes: no worker process is available");
      break;
    }
    int np = 0;
    double first = 0;
    for (int wi = 0; wi < st->nworkers; wi++) {
      px_worker *w = &st->w[wi];
      if (w->task < 0) continue;
      pfd[np].fd = w->sock;
      pfd[np].events = POLLIN;
      pfd[np].revents = 0;
      who[np++] = wi;
      if (st->task_timeout > 0 && !w->timed_out && (first == 0 || deadline_s(w) < first))
        first = deadline_s(w);
    }
    int got = poll(pfd, (nfds_t)np, px_poll_ms(first));
    if (got < 0 && errno != EINTR) {
      fail(r, err, CANON_ERR_ENGINE, "processes: poll failed: %s", strerror(errno));
      continue;
    }
    for (int k = 0; got > 0 && k < np; k++) {
      if (!pfd[k].revents) continue;
      int wi = who[k];
      px_msg m;
      int *fds = NULL;
      if (px_recv(st->w[wi].sock, &m, &fds) == 1)
        on_reply(r, &ph, wi, &m, fds, (int)m.nfds, err);
      else
        on_death(r, &ph, wi, err);
      free(fds);
    }
    /* A task past its deadline: kill the worker; its death arrives as
     * end-of-file on the socket. */
    double t = px_now_s();
    for (int wi = 0; st->task_timeout > 0 && wi < st->nworkers; wi++) {
      px_worker *w = &st->w[wi];
      if (w->task >= 0 && !w->timed_out && deadline_s(w) <= t) {
        w->timed_out = true;
        kill(w->pid, SIGKILL);
      }
    }
    if (ph.best < n) abandon_from(r, &ph, ph.best + 1);
  }
  if (!r->failed && ph.best < n) {
    r->failed = ph.best_err.code ? ph.best_err.code : CANON_ERR_ENGINE;
    if (err) *err = ph.best_err;
  }
  free(pfd);
  free(who);
  return r->failed;
}

/* ---- stages and jobs ------------------------------------------------------------- */

/* ---- result segments ------------------------------------------------------- */

void px_seg_release(px_state *st, px_seg *s) {
  if (s->fd >= 0) px_close_held(st, s->fd);
  s->fd = -1;
  uint64_t id = s->id;
  s->id = 0; /* once: a second release could free the segment's next use */
  if (!id || s->slot < 0 || s->slot >= st->nworkers) return;
  px_worker *w = &st->w[s->slot];
  /* A worker that died took its kept segments with it. */
  if (w->pid <= 0 || w->gen != s->gen) return;
  px_msg m;
  memset(&m, 0, sizeof m);
  m.type = PX_RELEASE;
  m.job_seq = st->job_seq;
  m.flags = st->no_reuse ? PX_F_DROP : 0;
  m.events_len = 8;
  memcpy(m.events, &id, 8);
  px_send(w->sock, &m, NULL, 0); /* a failure shows up as a death */
}

static void close_all(px_state *st, px_seg *segs, int n) {
  for (int i = 0; segs && i < n; i++) px_seg_release(st, &segs[i]);
  free(segs);
}

void px_recycler_unref(px_recycler *r, bool close) {
  pthread_mutex_lock(&r->lock);
  if (close) r->closed = true;
  int left = --r->refs;
  pthread_mutex_unlock(&r->lock);
  if (left) return;
  pthread_mutex_destroy(&r->lock);
  free(r->done);
  free(r);
}

/* A result view over a kept segment: when the program's tables stop
 * reading it, queue it for its worker. */
typedef struct result_ref {
  px_recycler *rec;
  px_seg seg;           /* fd unused: closed when the view was made */
} result_ref;

static void result_gone(void *ctx) {
  result_ref *x = ctx;
  px_recycler *r = x->rec;
  pthread_mutex_lock(&r->lock);
  if (!r->closed) {
    if (r->ndone == r->capdone) {
      int nc = r->capdone ? r->capdone * 2 : 16;
      px_seg *n = realloc(r->done, (size_t)nc * sizeof *n);
      if (n) r->done = n, r->capdone = nc;
    }
    /* Without room the segment stays busy in its worker until it leaves. */
    if (r->ndone < r->capdone) r->done[r->ndone++] = x->seg;
  }
  pthread_mutex_unlock(&r->lock);
  px_recycler_unref(r, false);
  free(x);
}

/* Release the result segments the program has stopped reading. */
static void recycle_results(px_state *st) {
  px_recycler *r = st->rec;
  pthread_mutex_lock(&r->lock);
  px_seg *done = r->done;
  int n = r->ndone;
  r->done = NULL;
  r->ndone = r->capdone = 0;
  pthread_mutex_unlock(&r->lock);
  for (int i = 0; i < n; i++) {
    done[i].fd = -1; /* closed when the view was made */
    px_seg_release(st, &done[i]);
  }
  free(done);
}

/* The driver's mapping cache, unless segment reuse stopped: workers then
 * drop each segment once read, and a kept mapping would keep it alive. */
px_mapcache *px_driver_maps(const px_state *st) { return st->no_reuse ? NULL : st->maps; }

/* The driver's copy of shared table id, for column references. */
static const canon_table *shared_lookup(void *ctx, uint64_t id, canon_error *err) {
  const canon_table *t = px_shared_find(ctx, id);
  if (!t)
    px_err(err, CANON_ERR_INTERNAL, "processes: shared table %llu is gone", (unsigned long long)id);
  return t;
}

/* A result that is rows of a shared table, as a view of the driver's own
 * copy of the table (checked when the reply came). */
static canon_table *range_table(px_state *st, const px_seg *s, canon_error *err) {
  const canon_table *base = PX_HOST_HAS_RANGES(st->host) ? px_shared_find(st, s->range_id) : NULL;
  if (!base) {
    px_err(err, CANON_ERR_INTERNAL, "processes: shared table %llu is gone",
           (unsigned long long)s->range_id);
    return NULL;
  }
  return st->host->table_slice(base, s->first, s->rows, err);
}

/* A result of the job as a view of its segment (no copy).  A kept
 * segment is then released by the view (when the program frees the
 * tables reading it), never by the caller: s->id is cleared. */
static canon_table *map_result(px_state *st, px_seg *s, canon_error *err) {
  const canon_host *h = st->host;
  if (s->range_id) return range_table(st, s, err);
  px_lookup lk = {shared_lookup, st};
  if (!s->id || st->no_reuse)
    return px_table_map_in(h, px_driver_maps(st), s->fd, NULL, NULL, &lk, err);
  result_ref *x = malloc(sizeof *x);
  if (!x) {
    px_err(err, CANON_ERR_NOMEM, "out of memory");
    return NULL;
  }
  x->rec = st->rec;
  x->seg = *s;
  s->id = 0;
  pthread_mutex_lock(&st->rec->lock);
  st->rec->refs++;
  pthread_mutex_unlock(&st->rec->lock);
  return px_table_map_in(h, px_driver_maps(st), s->fd, result_gone, x, &lk, err);
}

/* Mapping the job's results, a thread per core: decoding checks every
 * value of a result (string offsets, dictionary codes against their
 * dictionary's size), and the workers are idle meanwhile. */
typedef struct map_all {
  px_state *st;
  px_seg *segs;
  canon_table **res;
  int n;
  int next;             /* the next result to map (atomic) */
  pthread_mutex_t lock;
  int failed_at;        /* lowest result that failed; n: none */
  canon_error err;
} map_all;

static void *map_worker(void *arg) {
  map_all *m = arg;
  for (int p; (p = __atomic_fetch_add(&m->next, 1, __ATOMIC_RELAXED)) < m->n;) {
    canon_error e;
    memset(&e, 0, sizeof e);
    /* Views of the output segments: the rows are not copied again. */
    if ((m->res[p] = map_result(m->st, &m->segs[p], &e))) continue;
    if (!e.code) e.code = CANON_ERR_ENGINE;
    pthread_mutex_lock(&m->lock);
    if (p < m->failed_at) {
      m->failed_at = p;
      m->err = e;
    }
    pthread_mutex_unlock(&m->lock);
  }
  return NULL;
}

static int map_results(px_state *st, px_seg *segs, int P, canon_table **res, canon_error *err) {
  map_all m = {.st = st, .segs = segs, .res = res, .n = P, .failed_at = P};
  pthread_mutex_init(&m.lock, NULL);
  int threads = px_driver_threads();
  px_run_threads(map_worker, &m, threads < P ? threads : P);
  pthread_mutex_destroy(&m.lock);
  if (m.failed_at == P) return 0;
  if (err) *err = m.err;
  return m.err.code;
}

/* exchange_prepare over the producers' outputs as tables, when some are
 * row ranges of shared tables (the others are mapped: views, no copy). */
static int prepare_tables(stage_run *r, int i, canon_error *err) {
  const canon_host *h = r->st->host;
  int C = r->C[i] > 0 ? r->C[i] : 0, rc = 0;
  canon_table **t = calloc((size_t)(C ? C : 1), sizeof *t);
  if (!t) return fail(r, err, CANON_ERR_NOMEM, "out of memory");
  px_lookup lk = {shared_lookup, r->st};
  for (int k = 0; k < C && rc == 0; k++) {
    const px_seg *p = &r->prod[i][k];
    t[k] = p->range_id ? range_table(r->st, p, err)
                       : px_table_map_in(h, px_driver_maps(r->st), p->fd, NULL, NULL, &lk, err);
    if (!t[k]) rc = err && err->code ? err->code : CANON_ERR_ENGINE;
  }
  if (rc == 0) rc = h->exchange_prepare(r->job, r->stage, i, t, C, err);
  if (rc) fail(r, err, rc, "%s", err && err->message[0] ? err->message : "exchange failed");
  for (int k = 0; k < C; k++)
    if (t[k]) h->table_free(t[k]);
  free(t);
  return rc;
}

/* exchange_prepare over the producers' mapped outputs. */
static int prepare_mapped(stage_run *r, int i, canon_error *err) {
  const canon_host *h = r->st->host;
  px_mapcache *mc = px_driver_maps(r->st);
  int C = r->C[i] > 0 ? r->C[i] : 0, rc = 0;
  const uint8_t **maps = calloc((size_t)C, sizeof *maps);
  size_t *lens = calloc((size_t)C, sizeof *lens), *sizes = calloc((size_t)C, sizeof *sizes);
  if (!maps || !lens || !sizes) rc = fail(r, err, CANON_ERR_NOMEM, "out of memory");
  int k;
  for (k = 0; rc == 0 && k < C; k++)
    if (px_mapcache_map(mc, r->prod[i][k].fd, &maps[k], &sizes[k]) != 0)
      rc = fail(r, err, CANON_ERR_ENGINE, "processes: cannot map a task output: %s", strerror(errno));
    else
      lens[k] = px_table_len(maps[k], sizes[k]); /* a kept segment is bigger */
  if (rc == 0 && (rc = h->exchange_prepare_encoded(r->job, r->stage, i, maps, lens, C, err)))
    r->failed = rc;
  for (int j = 0; maps && sizes && j < C; j++)
    if (maps[j]) px_mapcache_put(mc, maps[j], sizes[j]);
  free(maps);
  free(sizes);
  free(lens);
  return rc;
}

/* exchange_prepare over the producers' outputs, then the encoded state
 * into a segment.  The outputs go as tables when some are row ranges of
 * shared tables (no segment), or hold column references and the exchange
 * reads rows (a range exchange samples its keys): only the driver's
 * lookup resolves a reference, and the host's encoded prepare has none.
 * The other exchanges read no more than the encodings' headers. */
static int prepare_input(stage_run *r, int i, canon_error *err) {
  const canon_host *h = r->st->host;
  int kind = h->stage_input_exchange(r->job, r->stage, i);
  bool reads_rows = kind == CANON_EXCHANGE_RANGE || kind > CANON_EXCHANGE_FORWARD;
  bool ranges = false;
  for (int k = 0; k < r->C[i]; k++)
    ranges |= r->prod[i][k].range_id != 0 || (reads_rows && r->prod[i][k].refs);
  int rc = ranges ? prepare_tables(r, i, err) : prepare_mapped(r, i, err);
  uint8_t *buf = NULL;
  size_t len = 0;
  if (rc == 0 && (rc = h->exchange_state_encode(r->job, r->stage, i, &buf, &len, err)) == 0 &&
      (rc = px_bytes_write(buf, len, &r->xs[i], err)) == 0 && px_hold(r->st, r->xs[i]) != 0) {
    close(r->xs[i]);
    r->xs[i] = -1;
    rc = fail(r, err, CANON_ERR_NOMEM, "out of memory");
  }
  free(buf);
  return rc;
}

/* Run stage s; outs[c] are the producers' output segments (consumed);
 * `hold`: its run tasks keep their outputs and reply with sketches. */
static int run_stage(px_state *st, canon_job *job, int s, px_seg **outs, bool hold,
                     canon_error *err) {
  const canon_host *h = st->host;
  stage_run r;
  memset(&r, 0, sizeof r);
  r.st = st;
  r.job = job;
  r.stage = s;
  r.nin = h->stage_num_inputs(job, s);
  r.xs[0] = r.xs[1] = -1;
  r.hold = hold;
  int P = h->stage_num_partitions(job, s), nsplit = 0, rc = 0;
  for (int i = 0; i < r.nin; i++) {
    int c = h->stage_input(job, s, i);
    r.C[i] = h->stage_num_partitions(job, c);
    r.prod[i] = outs[c];
    outs[c] = NULL; /* each output feeds one consumer */
    nsplit += r.C[i];
  }
  for (int i = 0; i < r.nin && rc == 0; i++) rc = prepare_input(&r, i, err);
  px_task *tasks = calloc((size_t)(nsplit > P ? nsplit : P), sizeof *tasks);
  if (rc == 0 && !tasks) rc = fail(&r, err, CANON_ERR_NOMEM, "out of memory");
  if (rc == 0 && nsplit) {
    int n = 0;
    for (int i = 0; i < r.nin; i++)
      for (int k = 0; k < r.C[i]; k++) tasks[n++] = (px_task){PX_SPLIT, i, k, 0, 0, NO_SEG};
    rc = run_phase(&r, tasks, n, err);
    n = 0;
    for (int i = 0; i < r.nin; i++) {
      r.split[i] = malloc((size_t)r.C[i] * sizeof *r.split[i]);
      for (int k = 0; k < r.C[i]; k++, n++)
        if (r.split[i])
          r.split[i][k] = tasks[n].result;
        else
          px_seg_release(st, &tasks[n].result);
      if (!r.split[i] && rc == 0) rc = fail(&r, err, CANON_ERR_NOMEM, "out of memory");
    }
  }
  for (int i = 0; i < r.nin; i++) close_all(st, r.prod[i], r.C[i]), r.prod[i] = NULL;
  if (rc == 0) {
    for (int p = 0; p < P; p++) tasks[p] = (px_task){PX_RUN, 0, p, 0, 0, NO_SEG};
    rc = run_phase(&r, tasks, P, err);
    outs[s] = malloc((size_t)P * sizeof *outs[s]);
    for (int p = 0; p < P; p++)
      if (outs[s])
        outs[s][p] = tasks[p].result;
      else
        px_seg_release(st, &tasks[p].result);
    if (!outs[s] && rc == 0) rc = fail(&r, err, CANON_ERR_NOMEM, "out of memory");
  }
  for (int i = 0; i < r.nin; i++) {
    close_all(st, r.split[i], r.split[i] ? r.C[i] : 0);
    px_close_held(st, r.xs[i]);
  }
  free(tasks);
  return rc;
}

/* ---- jobs ------------------------------------------------------------------------ */

/* Before a job: replace workers that died while idle; encode the job and
 * send it (after the shared tables it references) to every worker. */
static int start_job(px_state *st, canon_job *job, canon_error *err) {
  for (int i = 0; i < st->nworkers; i++) {
    px_worker *w = &st->w[i];
    int status;
    if (w->pid > 0) {
      pid_t got = waitpid(w->pid, &status, WNOHANG);
      /* -1: not waitable (SIGCHLD ignored by the program); alive if it
       * still answers to signal 0. */
      if (got == 0 || (got < 0 && kill(w->pid, 0) == 0)) continue;
      w->pid = 0; /* gone, and reaped */
    }
    px_reap(st, i, false, &status);
    int rc = px_spawn(st, i, err);
    if (rc) return rc;
  }
  recycle_results(st);
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc;
  st->njob_tables = 0;
  if (PX_HOST_HAS_SHARING(st->host)) {
    px_collect_shared(st);
    rc = st->host->job_encode_shared(job, px_share_table, st, &buf, &len, err);
  } else {
    rc = st->host->job_encode(job, &buf, &len, err);
  }
  /* After the collection: the segments of the tables it dropped came
   * back (and their mappings went idle), and wait through this job for a
   * concatenation to take them. */
  px_mapcache_tick(st->maps);
  px_spares_tick(st->spares);
  if (rc == 0) rc = px_bytes_write(buf, len, &st->job_fd, err);
  free(buf);
  if (rc) return rc;
  if (px_hold(st, st->job_fd) != 0) {
    close(st->job_fd);
    st->job_fd = -1;
    return px_err(err, CANON_ERR_NOMEM, "out of memory");
  }
  st->job_seq++;
  for (int i = 0; i < st->nworkers; i++) {
    px_msg m;
    memset(&m, 0, sizeof m);
    m.type = PX_JOB;
    m.job_seq = st->job_seq;
    /* A failure shows up as a death. */
    if (px_send_tables(st, st->w[i].sock) == 0) px_send(st->w[i].sock, &m, &st->job_fd, 1);
  }
  return 0;
}

/* One run of the job; `hold`: its results stay in the workers, which
 * write them into one table's segment (px_concat_held).  PX_AGAIN: run
 * it again without holding. */
static int run_job(px_state *st, canon_job *job, bool hold, canon_table ***results, int *nresults,
                   canon_error *err) {
  const canon_host *h = st->host;
  int S = h->num_stages(job), rc = start_job(st, job, err);
  px_seg **outs = calloc((size_t)S, sizeof *outs);
  if (rc == 0 && !outs) rc = px_err(err, CANON_ERR_NOMEM, "out of memory");
  for (int s = 0; s < S && rc == 0; s++) rc = run_stage(st, job, s, outs, hold && s == S - 1, err);
  canon_table **res = NULL;
  int P = h->stage_num_partitions(job, S - 1);
  if (rc == 0 && !(res = calloc((size_t)P, sizeof *res))) rc = px_err(err, CANON_ERR_NOMEM, "out of memory");
  canon_table *one = NULL;
  if (rc == 0 && hold) {
    rc = px_concat_held(st, job, outs[S - 1], P, &one, err);
  } else if (rc == 0) {
    rc = map_results(st, outs[S - 1], P, res, err);
    /* Only when the program makes one table of them anyway: write_csv
     * writes the parts, and a concatenation would be a copy it never used. */
    if (rc == 0 && S == 1 && PX_HOST_HAS_ONE_TABLE(h) && h->job_result_one_table(job))
      one = px_concat_results(st, res, P);
  }
  if (one) {
    /* The views of the workers' segments go (queued for reuse). */
    for (int p = 0; p < P; p++)
      if (res[p]) h->table_free(res[p]);
    res[0] = one;
    P = 1;
  }
  if (rc == 0) {
    *results = res;
    *nresults = P;
    res = NULL;
  }
  for (int p = 0; res && p < P; p++)
    if (res[p]) h->table_free(res[p]);
  free(res);
  for (int s = 0; outs && s < S; s++)
    if (outs[s]) close_all(st, outs[s], h->stage_num_partitions(job, s));
  free(outs);
  px_close_held(st, st->job_fd);
  st->job_fd = -1;
  st->njob_tables = 0;
  return rc;
}

int px_execute(void *state, canon_job *job, canon_table ***results, int *nresults,
               canon_error *err) {
  px_state *st = state;
  const canon_host *h = st->host;
  pthread_mutex_lock(&st->lock);
  int S = h->num_stages(job);
  /* A job the program makes one table of (a load it persists, an answer
   * it collects): the rows of its last stage are written once, by the
   * workers, into that table's segment. */
  bool hold = st->concat_in_workers && h->stage_num_partitions(job, S - 1) > 1 &&
              PX_HOST_HAS_RCAT(h) && PX_HOST_HAS_OWN(h) && h->job_result_one_table(job);
  int rc = run_job(st, job, hold, results, nresults, err);
  if (rc == PX_AGAIN) rc = run_job(st, job, false, results, nresults, err);
  if (rc == PX_AGAIN) rc = px_err(err, CANON_ERR_INTERNAL, "processes: a job ran again without end");
  /* Outputs still held after a failure go now, not with the next job. */
  if (rc && hold) px_unhold_all(st);
  pthread_mutex_unlock(&st->lock);
  return rc;
}
