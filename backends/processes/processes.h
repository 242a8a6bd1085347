/* processes.h — the processes engine's state, shared by its files:
 * processes.c (options, the worker pool: fork, replace, reap), driver.c
 * (running a job from the driver) and worker.c (the worker loop). */
#ifndef CANON_PROCESSES_H
#define CANON_PROCESSES_H

#include "proto.h"

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
} px_worker;

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
} px_state;

/* processes.c: start the process of slot i (sending it the current job
 * when one runs); reap slot i's process (killing it first when `kill`)
 * and put its wait status in *status (-1 when unknown). */
int px_spawn(px_state *st, int i, canon_error *err);
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

/* worker.c: serve tasks on sock until the driver goes away; never returns. */
void px_worker_main(const canon_host *h, int sock, px_status *status) __attribute__((noreturn));

#endif
