/* pool.c — the worker pool of the threads engine.
 *
 * Items are taken one at a time from a shared counter, so a slow or skewed
 * item never idles the other workers while items remain.  The first error
 * stops new items from starting; items already running finish. */
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Take and run items of the current batch until none is left (or the
 * batch failed).  Called with p->mu held; returns with it held. */
static void work_batch(pool *p) {
  while (p->active && !p->failed && p->next < p->total) {
    int i = p->next++;
    p->running++;
    pool_fn fn = p->fn;
    void *ctx = p->ctx;
    pthread_mutex_unlock(&p->mu);
    canon_error e;
    e.code = 0;
    e.message[0] = '\0';
    int rc = fn(ctx, i, &e);
    pthread_mutex_lock(&p->mu);
    p->running--;
    /* Keep the failure of the lowest item: every lower item had started
     * before it (items are taken in order) and finishes, so this is the
     * error the serial engine, running items in order, reports. */
    if (rc && (!p->failed || i < p->failed_item)) {
      p->failed = rc;
      p->failed_item = i;
      p->err = e;
      if (!p->err.code) p->err.code = rc;
    }
    if (p->running == 0 && (p->failed || p->next >= p->total)) pthread_cond_broadcast(&p->done_cv);
  }
}

static void *worker_main(void *arg) {
  pool *p = arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->stop && !(p->active && !p->failed && p->next < p->total))
      pthread_cond_wait(&p->work_cv, &p->mu);
    if (p->stop) break;
    work_batch(p);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

int pool_init(pool *p, int workers, canon_error *err) {
  memset(p, 0, sizeof *p);
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->work_cv, NULL);
  pthread_cond_init(&p->done_cv, NULL);
  int helpers = workers > 1 ? workers - 1 : 0;
  p->threads = calloc((size_t)(helpers ? helpers : 1), sizeof *p->threads);
  if (!p->threads) goto fail;
  for (int i = 0; i < helpers; i++) {
    if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) goto fail;
    p->nthreads++;
  }
  return 0;
fail:
  pool_destroy(p);
  if (err) {
    err->code = CANON_ERR_ENGINE;
    snprintf(err->message, sizeof err->message, "threads: cannot start %d worker threads", workers);
  }
  return CANON_ERR_ENGINE;
}

void pool_destroy(pool *p) {
  pthread_mutex_lock(&p->mu);
  p->stop = true;
  pthread_cond_broadcast(&p->work_cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
  free(p->threads);
  p->threads = NULL;
  p->nthreads = 0;
  pthread_cond_destroy(&p->work_cv);
  pthread_cond_destroy(&p->done_cv);
  pthread_mutex_destroy(&p->mu);
}

int pool_run(pool *p, int n, pool_fn fn, void *ctx, canon_error *err) {
  if (n <= 0) return 0;
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->ctx = ctx;
  p->total = n;
  p->next = 0;
  p->running = 0;
  p->failed = 0;
  p->active = true;
  pthread_cond_broadcast(&p->work_cv);
  work_batch(p);
  while (p->running > 0) pthread_cond_wait(&p->done_cv, &p->mu);
  p->active = false;
  int rc = p->failed;
  if (rc && err) *err = p->err;
  pthread_mutex_unlock(&p->mu);
  return rc;
}
