/* serial.c — the serial engine: every task in turn on the calling thread.
 *
 * It is the reference engine and the one for unit tests.  Option
 * `partitions=N` (default 1) makes the core plan N partitions per stage, so
 * partition-sensitive logic is exercised without any parallelism.
 *
 * The engine only schedules: each stage's tasks run after its inputs'
 * outputs have been split into buckets and the buckets for each task
 * concatenated in source-partition order; all row work is the core's, via
 * the host table. */
#include "canon_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef struct serial_state {
  const canon_host *host;
  int partitions;
} serial_state;

static int set_error(canon_error *err, int code, const char *msg, const char *arg) {
  if (err) {
    err->code = code;
    snprintf(err->message, sizeof err->message, msg, arg);
  }
  return code;
}

static int serial_open(const canon_host *host, const canon_option *opts, int nopts, void **state,
                       canon_error *err) {
  serial_state *st = calloc(1, sizeof *st);
  if (!st) return set_error(err, CANON_ERR_NOMEM, "%s", "out of memory");
  st->host = host;
  st->partitions = 1;
  for (int i = 0; i < nopts; i++) {
    if (strcmp(opts[i].key, "partitions") == 0) {
      char *end;
      errno = 0;
      long v = strtol(opts[i].value, &end, 10);
      if (errno || *end || end == opts[i].value || v < 1 || v > 4096) {
        free(st);
        return set_error(err, CANON_ERR_CONFIG,
                         "serial: partitions must be an integer from 1 to 4096, not '%s'",
                         opts[i].value);
      }
      st->partitions = (int)v;
    } else {
      free(st);
      return set_error(err, CANON_ERR_CONFIG,
                       "serial: unknown option '%s' (known: partitions)", opts[i].key);
    }
  }
  *state = st;
  return 0;
}

static void serial_close(void *state) { free(state); }

static int serial_default_partitions(void *state) { return ((serial_state *)state)->partitions; }

static void free_tables(const canon_host *h, canon_table **t, int n) {
  if (!t) return;
  for (int i = 0; i < n; i++)
    if (t[i]) h->table_free(t[i]);
  free(t);
}

/* Build the inputs of every task of stage s from its producers' outputs:
 * ins[i][p] is input i of task p. */
static int gather_inputs(const canon_host *h, canon_job *job, int s, canon_table ***outs,
                         canon_table **ins[2], canon_error *err) {
  int P = h->stage_num_partitions(job, s);
  for (int i = 0; i < h->stage_num_inputs(job, s); i++) {
    int c = h->stage_input(job, s, i);
    int C = h->stage_num_partitions(job, c);
    int rc = h->exchange_prepare(job, s, i, outs[c], C, err);
    if (rc) return rc;
    /* buckets[c * P + p]: bucket p of producer partition c. */
    canon_table **buckets = calloc((size_t)C * (size_t)P, sizeof *buckets);
    canon_table **parts = calloc((size_t)C, sizeof *parts);
    ins[i] = calloc((size_t)P, sizeof *ins[i]);
    if (!buckets || !parts || !ins[i]) {
      free(buckets);
      free(parts);
      return set_error(err, CANON_ERR_NOMEM, "%s", "out of memory");
    }
    for (int k = 0; k < C && rc == 0; k++)
      rc = h->exchange_split(job, s, i, k, outs[c][k], buckets + (size_t)k * P, err);
    for (int p = 0; p < P && rc == 0; p++) {
      for (int k = 0; k < C; k++) parts[k] = buckets[(size_t)k * P + p];
      if (!(ins[i][p] = h->concat(parts, C, err))) rc = err ? err->code : CANON_ERR_NOMEM;
    }
    free_tables(h, buckets, C * P);
    free(parts);
    if (rc) return rc;
    /* Each stage's output feeds exactly one consumer: free it now. */
    free_tables(h, outs[c], C);
    outs[c] = NULL;
  }
  return 0;
}

static int serial_execute(void *state, canon_job *job, canon_table ***results, int *nresults,
                          canon_error *err) {
  serial_state *st = state;
  const canon_host *h = st->host;
  int S = h->num_stages(job);
  canon_table ***outs = calloc((size_t)S, sizeof *outs);
  if (!outs) return set_error(err, CANON_ERR_NOMEM, "%s", "out of memory");
  int rc = 0;
  for (int s = 0; s < S && rc == 0; s++) {
    int P = h->stage_num_partitions(job, s);
    canon_table **ins[2] = {NULL, NULL};
    rc = gather_inputs(h, job, s, outs, ins, err);
    if (rc == 0 && !(outs[s] = calloc((size_t)P, sizeof *outs[s])))
      rc = set_error(err, CANON_ERR_NOMEM, "%s", "out of memory");
    for (int p = 0; p < P && rc == 0; p++) {
      canon_table *task_in[2] = {ins[0] ? ins[0][p] : NULL, ins[1] ? ins[1][p] : NULL};
      rc = h->run_task(job, s, p, task_in, &outs[s][p], err);
    }
    free_tables(h, ins[0], ins[0] ? P : 0);
    free_tables(h, ins[1], ins[1] ? P : 0);
  }
  if (rc == 0) {
    *results = outs[S - 1];
    *nresults = h->stage_num_partitions(job, S - 1);
    outs[S - 1] = NULL;
  }
  for (int s = 0; s < S; s++) free_tables(h, outs[s], outs[s] ? h->stage_num_partitions(job, s) : 0);
  free(outs);
  return rc;
}

static const canon_backend serial_backend = {
  .abi_major = CANON_BACKEND_ABI_MAJOR,
  .abi_minor = CANON_BACKEND_ABI_MINOR,
  .struct_size = sizeof(canon_backend),
  .capabilities = CANON_CAP_PARTITIONS | CANON_CAP_TRANSFORM,
  .name = "serial",
  .description = "every task in turn on one thread; partitions=N simulates N partitions",
  .open = serial_open,
  .close = serial_close,
  .default_partitions = serial_default_partitions,
  .execute = serial_execute,
};

EXPORT const canon_backend *canon_backend_entry(void) { return &serial_backend; }
