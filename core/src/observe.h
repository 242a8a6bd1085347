/* observe.h — seeing a job run (docs/observability.md): per-task events
 * recorded by the core around the host's run_task / exchange_split and
 * around user-transform calls, the live progress line, the Chrome trace
 * file and the run statistics.
 *
 * Every job carries a canon__obs_job (created with the job, so a job a
 * worker process decoded records too).  Engines never measure anything:
 * the host table's run_task and exchange_split are wrapped here.  A process
 * that runs tasks for another (the processes engine's workers) hands its
 * events to the driver with the host slots task_events_take /
 * task_events_add, which move fixed-size binary records.
 *
 * Files: observe.c (recording, the event codec, job start and finish),
 * observe_progress.c (the progress line), observe_trace.c (the trace file),
 * observe_stats.c (statistics, their table and explain --analyze). */
#ifndef CANON_OBSERVE_H
#define CANON_OBSERVE_H

#include "physical.h"

#include <pthread.h>

typedef enum canon__obs_kind {
  CANON__EV_TASK = 1,       /* run_task (stage, part) */
  CANON__EV_SPLIT,          /* exchange_split of producer part `part` of input `input` */
  CANON__EV_TRANSFORM       /* the user-transform calls of one operator in a task */
} canon__obs_kind;

/* One recorded event.  Times are CLOCK_MONOTONIC nanoseconds (one clock for
 * every process of the machine), cpu is the thread's CPU time. */
typedef struct canon__obs_event {
  int32_t kind;
  int32_t stage, part, input;
  int32_t op;               /* TRANSFORM: operator index in the stage's pipeline */
  int32_t failed;           /* the call returned an error */
  int32_t pid, tid;
  int64_t start_ns, end_ns, cpu_ns;
  int64_t rows_in, rows_out, bytes_in, bytes_out;
  int64_t maxrss_kb;        /* the process's peak RSS when the event ended */
} canon__obs_event;

/* Bytes of one encoded event (task_events_take / task_events_add). */
#define CANON__OBS_RECORD_SIZE 112

/* The progress line's state (observe_progress.c); under canon__obs_job.mu. */
typedef struct canon__obs_progress {
  FILE *out;                /* NULL: no progress line */
  int width;                /* terminal columns */
  int stage;                /* stage shown, -1 before the first event */
  int64_t stage_start_ns;
  int64_t tasks_done, splits_done, rows_in, rows_out, bytes_out;
  int64_t last_draw_ns;
  bool drawn;               /* something is on the line */
} canon__obs_progress;

typedef struct canon__obs_job {
  const canon_job *job;
  pthread_mutex_t mu;
  canon__obs_event *ev;
  int64_t nev, capev, dropped;
  int64_t start_ns, end_ns;  /* set by canon__obs_execute */
  int32_t caller_tid;
  canon__obs_progress progress;
} canon__obs_job;

/* Per-session settings and what jobs left behind (observe.c). */
typedef struct canon__obs_session canon__obs_session;

/* ---- observe.c ---- */
canon__obs_job *canon__obs_job_new(const canon_job *job, canon_error *err);
void canon__obs_job_free(canon__obs_job *oj);
canon__obs_session *canon__obs_session_new(const canon_config *c, canon_error *err);
void canon__obs_session_free(canon__obs_session *os);
/* Run job on the session's engine, recording it: progress line, trace file,
 * statistics.  Every job a session runs goes through here. */
int canon__obs_execute(canon_session *s, canon_job *job, canon_table ***parts, int *nparts,
                       canon_error *err);
/* Host slots: run_task and exchange_split, recorded. */
int canon__obs_run_task(const canon_job *job, int stage, int part, canon_table *const *inputs,
                        canon_table **out, canon_error *err);
typedef int (*canon__split_fn)(const canon_job *job, int stage, int input, int child_part,
                               const canon_table *t, canon_table **buckets, canon_error *err);
int canon__obs_split(canon__split_fn fn, const canon_job *job, int stage, int input,
                     int child_part, const canon_table *t, canon_table **buckets,
                     canon_error *err);
/* exchange_split_encode, recorded as exchange_split is. */
typedef int (*canon__split_encode_fn)(const canon_job *job, int stage, int input, int child_part,
                                      const canon_table *t, uint8_t *(*alloc)(void *ctx, size_t len),
                                      void *ctx, size_t *len, canon__split_out *out,
                                      canon_error *err);
int canon__obs_split_encode(canon__split_encode_fn fn, const canon_job *job, int stage, int input,
                            int child_part, const canon_table *t,
                            uint8_t *(*alloc)(void *ctx, size_t len), void *ctx, size_t *len,
                            canon_error *err);
/* host.c's transform operator, recorded as one TRANSFORM event. */
typedef canon_table *(*canon__transform_op_fn)(const canon_df *d, const canon_table *in,
                                               canon_error *err);
canon_table *canon__obs_transform(canon__transform_op_fn fn, const canon_df *d,
                                  const canon_table *in, canon_error *err);
/* Host slots: move a process's recorded events to the driver. */
size_t canon__obs_events_take(canon_job *job, uint8_t *buf, size_t cap);
int canon__obs_events_add(canon_job *job, const uint8_t *buf, size_t len, canon_error *err);
int64_t canon__obs_now_ns(void);
/* Test hook: draw the progress line on f whatever stderr is and whatever
 * the settings say (NULL: back to normal). */
void canon__obs_test_progress(FILE *f);
/* config.c: the progress setting (-1 unset, 0 off, 1 on); whether the
 * trace was set, and its path (NULL: none). */
int canon__config_progress(const canon_config *c);
bool canon__config_trace(const canon_config *c, const char **path);

/* ---- observe_progress.c ---- */
/* Start the line for a job (out NULL: none). */
void canon__progress_start(canon__obs_progress *pg, FILE *out);
/* A TASK or SPLIT event was recorded (oj->mu held). */
void canon__progress_event(canon__obs_job *oj, const canon__obs_event *e);
/* Clear the line at the end of the job. */
void canon__progress_finish(canon__obs_progress *pg);
/* "1.2 MiB", "12.3k": for the line and the statistics table. */
void canon__fmt_bytes(int64_t b, char *buf, size_t cap);
void canon__fmt_count(int64_t n, char *buf, size_t cap);

/* ---- observe_trace.c ---- */
typedef struct canon__trace canon__trace;
canon__trace *canon__trace_new(const char *path);
void canon__trace_free(canon__trace *tr);
/* Add the finished job's events and rewrite the file atomically. */
int canon__trace_job(canon__trace *tr, const canon_job *job, const canon__obs_job *oj,
                     const char *engine, int64_t result_rows, int failed, int jobno,
                     canon_error *err);

/* ---- observe_stats.c ---- */
/* Statistics of a finished job (events of oj). */
canon_stats *canon__stats_build(const canon_job *job, const canon__obs_job *oj,
                                const char *engine, int64_t result_rows, int failed);
canon_stats *canon__stats_copy(const canon_stats *st);

#endif
