/* processes.h — the processes engine's state, shared by its files:
 * processes.c (options, the worker pool: fork, replace, reap), driver.c
 * (running a job from the driver) and worker.c (the worker loop). */
#ifndef CANON_PROCESSES_H
#define CANON_PROCESSES_H

#include "proto.h"
#include "spares.h"

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

/* A page shared with one worker: what its current task is doing, written
 * by the worker (the transform observer), read by the driver when the
 * worker dies. */
typedef struct px_status {
  char what[512];
} px_status;

typedef struct px_worker {
  pid_t pid;            /* 0: no process */
  int sock;             /* the driver's end of the socket pair */
  int task;             /* index of the running task in the current phase, -1: idle */
  struct timespec deadline;
  bool timed_out;       /* killed by the driver for task_timeout */
  px_status *status;
  uint32_t gen;         /* which process of the slot: bumped by each spawn */
} px_worker;

/* A segment a task returned: its descriptor (held by the driver) and,
 * when the worker keeps it to write again (id != 0), whose it is. */
typedef struct px_seg {
  int fd;
  int slot;
  uint32_t gen;
  uint64_t id;
  /* A result that is no segment (fd -1) but rows [first, first + rows) of
   * the session's shared table range_id (0: not such a result). */
  uint64_t range_id;
  int64_t first, rows;
  /* The segment's encoding holds column references (PX_F_REFS). */
  bool refs;
  /* The segment holds a sketch of the result, which its worker keeps
   * (PX_F_HOLD) for a concatenation written in the workers. */
  bool held;
} px_seg;

/* Kept result segments the program's tables stopped reading: filled by
 * the views' release (any thread, any time, even after the session
 * closed), emptied by the driver before each job, which then releases
 * them to their workers. */
typedef struct px_recycler {
  pthread_mutex_t lock;
  int refs;             /* the session and each result view */
  bool closed;          /* the session is gone: forget, do not queue */
  px_seg *done;
  int ndone, capdone;
} px_recycler;

/* A table put in shared memory once per session, for every job that
 * carries it (the job references it by id).  `key` shares the table's
 * buffers: it identifies the data (host->table_same_data) and keeps it
 * alive, so no other table can ever take its place under the same
 * buffers.  Dropped when nothing else holds the data any more
 * (host->table_data_orphaned, checked before each job) and when the
 * session closes. */
typedef struct px_shared {
  uint64_t id;
  canon_table *key;
  int fd;               /* the segment: the encoded table (held) */
  uint64_t last_job;    /* job_seq of the last job that used it */
} px_shared;

/* Shared tables a session keeps (beyond that, the least recently used one
 * no current job needs is dropped for a new one): each holds a descriptor
 * and a copy of its table in shared memory. */
#define PX_SHARED_MAX 64

typedef struct px_state {
  const canon_host *host;
  int nworkers, partitions, retries;
  double task_timeout;  /* seconds; 0: none */
  px_worker *w;
  px_status *pages;     /* one shared page per worker slot */
  size_t pages_size;
  pthread_mutex_t lock; /* one job at a time per session */
  int job_fd;           /* the current job's encoding (for replacements), -1 */
  uint64_t job_seq;
  size_t share_min;     /* tables encoding to fewer bytes travel inside the job */
  px_shared *shared;    /* the session's shared tables */
  int nshared, capshared;
  uint64_t next_shared_id;
  int *job_tables;      /* indices into shared[] of the current job's tables */
  int njob_tables, capjob_tables;
  size_t seg_cache;     /* bytes of free output segments a worker keeps */
  bool seg_cache_set;   /* segment_cache was given (else default_seg_cache) */
  bool no_reuse;        /* a worker kept a view of a task input: segments
                           are never written twice any more */
  bool share_ranges;    /* workers send an output that is a row range of a
                           shared table as (id, first row, rows) */
  bool concat_in_workers; /* one-table results are written by the workers
                           into the table's segment */
  px_recycler *rec;
  px_mapcache *maps;    /* workers' segments mapped here, kept across jobs */
  px_spares *spares;    /* concatenation segments kept for the next one */
} px_state;

/* processes.c: start the process of slot i (sending it the current job
 * when one runs); reap slot i's process (killing it first when `kill`)
 * and put its wait status in *status (-1 when unknown). */
int px_spawn(px_state *st, int i, canon_error *err);
/* Bytes of idle segment mappings the driver and each worker keep. */
size_t px_maps_max(const px_state *st);
void px_reap(px_state *st, int i, bool kill, int *status);
/* Track a descriptor the driver holds (segments, worker sockets of every
 * session in the process), so workers forked later close their copies;
 * px_close_held forgets and closes it.  st is unused: the list is
 * process-wide, as fork is. */
int px_hold(px_state *st, int fd);
void px_close_held(px_state *st, int fd);

/* driver.c */
int px_execute(void *state, canon_job *job, canon_table ***results, int *nresults,
               canon_error *err);
/* Send the current job's shared tables to a worker (before the job);
 * 0, or -1 when the socket failed (the worker is gone). */
int px_send_tables(px_state *st, int sock);
/* The shared table with this id (its key), or NULL. */
const canon_table *px_shared_find(const px_state *st, uint64_t id);
/* Release every shared table (session close). */
void px_drop_all_shared(px_state *st);
/* Done with a task's result segment: close it, and let its worker write
 * it again (or drop it, once reuse is off). */
void px_seg_release(px_state *st, px_seg *s);
/* The recycler's reference of the session (session close). */
void px_recycler_unref(px_recycler *r, bool close);

/* The driver's mapping cache (NULL once segment reuse stopped). */
px_mapcache *px_driver_maps(const px_state *st);

/* One-table results smaller than this (and than share_min) are not
 * adopted as shared tables: they would travel inside a job anyway, and
 * below 1 MiB a segment costs more than it saves. */
#define PX_ADOPT_MIN ((size_t)1 << 20)
static inline bool px_worth_sharing(const px_state *st, size_t bytes) {
  return bytes >= st->share_min && bytes >= PX_ADOPT_MIN;
}

/* held.c: the results segs[0..P) of a job's last stage, held by their
 * workers (px_seg.held), written by them straight into one segment the
 * driver plans from their sketches (a spare, or a new one), adopted as a
 * shared table of the session when big enough (PX_ADOPT_MIN): 0 with *one
 * set; PX_AGAIN when a worker holding one is gone (run the job again
 * without holding); or an error. */
#define PX_AGAIN (-1)
int px_concat_held(px_state *st, const canon_job *job, const px_seg *segs, int P, canon_table **one,
                   canon_error *err);
/* Tell every worker to let go of the outputs it holds (a job that failed
 * while its results were held). */
void px_unhold_all(px_state *st);

/* shared.c: drop the shared tables nobody else holds any more (before a
 * job); job_encode_shared's question for each table of the job; adopt
 * segment fd (held by the driver, taken), which holds exactly t's
 * encoding, as a shared table of the session: a later job carrying t's
 * data sends fd instead of encoding t again (on failure fd is closed). */
void px_collect_shared(px_state *st);
int px_share_table(void *ctx, const canon_table *t, uint64_t *id, canon_error *err);
void px_shared_adopt(px_state *st, const canon_table *t, int fd);
/* A one-stage job's results res[0..P) as one table in a segment adopted
 * by px_shared_adopt (the caller frees res), or NULL: keep them. */
canon_table *px_concat_results(px_state *st, canon_table *const *res, int P);

/* worker.c: serve tasks on sock until the driver goes away; never returns.
 * keep_max: bytes of free output segments it keeps; maps_max: bytes of
 * idle mappings of segments (its own and other workers') it keeps. */
void px_worker_main(const canon_host *h, int sock, px_status *status, size_t keep_max,
                    size_t maps_max, bool share_ranges)
    __attribute__((noreturn));

#endif
