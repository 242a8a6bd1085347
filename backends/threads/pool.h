/* pool.h — a fixed pool of worker threads running "parallel for" batches. */
#ifndef CANON_THREADS_POOL_H
#define CANON_THREADS_POOL_H

#include "canon.h"

#include <pthread.h>
#include <stdbool.h>

/* One item of a batch: returns 0 or a canon_errcode after filling err. */
typedef int (*pool_fn)(void *ctx, int item, canon_error *err);

typedef struct pool {
  pthread_t *threads;
  int nthreads;             /* helper threads; the caller works too */
  pthread_mutex_t mu;
  pthread_cond_t work_cv;   /* a batch has items to take, or stop */
  pthread_cond_t done_cv;   /* the last running item of a batch ended */
  bool stop;
  /* The current batch (valid while active). */
  bool active;
  pool_fn fn;
  void *ctx;
  int total, next, running;
  int failed;               /* error code of a failed item; stops further items */
  int failed_item;          /* the lowest failed item so far */
  canon_error err;          /* its message */
} pool;

/* Start `workers - 1` helper threads (the caller is the last worker). */
int pool_init(pool *p, int workers, canon_error *err);
void pool_destroy(pool *p);
/* Run fn(ctx, i) for i in [0, n) on all workers; returns when every taken
 * item has ended.  After a failure no new item starts and the first
 * error is returned. */
int pool_run(pool *p, int n, pool_fn fn, void *ctx, canon_error *err);

#endif
