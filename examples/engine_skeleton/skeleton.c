/* skeleton.c — a minimal third-party canon engine, built out of tree.
 *
 * Copy this directory to start your own engine.  It needs nothing but the
 * installed canon_backend.h (found with `pkg-config --cflags canon`) and
 * does not link against libcanon: every row operation — reading, filtering,
 * sorting, splitting rows into exchange buckets — is a call into the core
 * through the canon_host table that `open` receives.  An engine only
 * decides where and when tasks run, so it inherits canon's semantics by
 * construction and proves it by passing the conformance suite.
 *
 * To show that scheduling freedom does not change answers, this engine
 * runs each stage's tasks in REVERSE partition order (a real engine might
 * run them on threads, processes or other machines, in any order).  What
 * it must keep is partition ORDER where results are put together: the
 * buckets for a task are concatenated in producer-partition order, and
 * the root stage's outputs are returned in partition order.
 *
 * Engine string: the path of the built .so, or "skeleton" when it is on
 * CANON_BACKEND_PATH; option partitions=N (default 1). */
#include <canon_backend.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The one exported symbol must be visible; build with -fvisibility=hidden
 * so nothing else is. */
#define SKELETON_EXPORT __attribute__((visibility("default")))

typedef struct skeleton {
  const canon_host *host;   /* the core's services, valid until close */
  int partitions;
} skeleton;

/* Fill err with a one-line message; returns code. */
static int fail(canon_error *err, int code, const char *fmt, const char *arg) {
  if (err) {
    err->code = code;
    snprintf(err->message, sizeof err->message, fmt, arg);
  }
  return code;
}

/* open: parse the engine string's options; reject unknown keys. */
static int sk_open(const canon_host *host, const canon_option *opts, int nopts, void **state,
                   canon_error *err) {
  skeleton *sk = calloc(1, sizeof *sk);
  if (!sk) return fail(err, CANON_ERR_NOMEM, "%s", "skeleton: out of memory");
  sk->host = host;
  sk->partitions = 1;
  for (int i = 0; i < nopts; i++) {
    if (strcmp(opts[i].key, "partitions") != 0) {
      free(sk);
      return fail(err, CANON_ERR_CONFIG, "skeleton: unknown option '%s' (known: partitions)",
                  opts[i].key);
    }
    char *end;
    errno = 0;
    long v = strtol(opts[i].value, &end, 10);
    if (errno || *end || end == opts[i].value || v < 1 || v > 4096) {
      free(sk);
      return fail(err, CANON_ERR_CONFIG,
                  "skeleton: partitions must be an integer from 1 to 4096, not '%s'", opts[i].value);
    }
    sk->partitions = (int)v;
  }
  *state = sk;
  return 0;
}

static void sk_close(void *state) { free(state); }

/* How many partitions the core plans per stage. */
static int sk_default_partitions(void *state) { return ((skeleton *)state)->partitions; }

static void free_tables(const canon_host *h, canon_table **t, int n) {
  for (int i = 0; t && i < n; i++)
    if (t[i]) h->table_free(t[i]);
  free(t);
}

/* The input tables of every task of stage s: in[p] for task p, built from
 * the outputs of producer stage c = stage_input(s, i).  The core computes
 * how to split (hash, range, rebalance, broadcast); the engine only moves
 * the buckets — here in memory, in a real engine over a wire. */
static canon_table **gather_input(const canon_host *h, canon_job *job, int s, int i,
                                  canon_table **const *outs, canon_error *err) {
  int c = h->stage_input(job, s, i), C = h->stage_num_partitions(job, c);
  int P = h->stage_num_partitions(job, s);
  if (h->exchange_prepare(job, s, i, outs[c], C, err)) return NULL;
  canon_table **buckets = calloc((size_t)C * (size_t)P, sizeof *buckets);  /* [k * P + p] */
  canon_table **parts = calloc((size_t)C, sizeof *parts);
  canon_table **in = calloc((size_t)P, sizeof *in);
  int rc = buckets && parts && in ? 0 : fail(err, CANON_ERR_NOMEM, "%s", "skeleton: out of memory");
  /* Splitting may happen in any order (here: last producer first)... */
  for (int k = C - 1; k >= 0 && rc == 0; k--)
    rc = h->exchange_split(job, s, i, k, outs[c][k], buckets + (size_t)k * (size_t)P, err);
  /* ...but bucket p of every producer is concatenated in producer order:
   * ordered results (sorts, file order, union_all) depend on it. */
  for (int p = 0; p < P && rc == 0; p++) {
    for (int k = 0; k < C; k++) parts[k] = buckets[(size_t)k * (size_t)P + (size_t)p];
    if (!(in[p] = h->concat(parts, C, err))) rc = err && err->code ? err->code : CANON_ERR_NOMEM;
  }
  free_tables(h, buckets, buckets ? C * P : 0);
  free(parts);
  if (rc) {
    free_tables(h, in, in ? P : 0);
    return NULL;
  }
  return in;
}

/* execute: run the job's stages in dependency order (stage s reads only
 * stages < s) and hand back the root stage's outputs in partition order. */
static int sk_execute(void *state, canon_job *job, canon_table ***results, int *nresults,
                      canon_error *err) {
  const canon_host *h = ((skeleton *)state)->host;
  int S = h->num_stages(job), rc = 0;
  canon_table ***outs = calloc((size_t)S, sizeof *outs);   /* outs[s][p] */
  if (!outs) return fail(err, CANON_ERR_NOMEM, "%s", "skeleton: out of memory");
  for (int s = 0; s < S && rc == 0; s++) {
    int P = h->stage_num_partitions(job, s), ninputs = h->stage_num_inputs(job, s);
    canon_table **in[2] = {NULL, NULL};
    for (int i = 0; i < ninputs && rc == 0; i++)
      if (!(in[i] = gather_input(h, job, s, i, outs, err))) rc = err && err->code ? err->code : CANON_ERR_NOMEM;
    if (rc == 0 && !(outs[s] = calloc((size_t)P, sizeof *outs[s])))
      rc = fail(err, CANON_ERR_NOMEM, "%s", "skeleton: out of memory");
    /* Tasks of one stage are independent: run them in any order (here in
     * reverse); each output goes to its own slot, so the order is kept. */
    for (int p = P - 1; p >= 0 && rc == 0; p--) {
      canon_table *task_in[2] = {in[0] ? in[0][p] : NULL, in[1] ? in[1][p] : NULL};
      rc = h->run_task(job, s, p, task_in, &outs[s][p], err);
    }
    for (int i = 0; i < 2; i++) free_tables(h, in[i], in[i] ? P : 0);
    /* Every stage feeds exactly one consumer, which has now read it. */
    for (int i = 0; i < ninputs && rc == 0; i++) {
      int c = h->stage_input(job, s, i);
      free_tables(h, outs[c], h->stage_num_partitions(job, c));
      outs[c] = NULL;
    }
  }
  if (rc == 0) {
    *results = outs[S - 1];
    *nresults = h->stage_num_partitions(job, S - 1);
    outs[S - 1] = NULL;
  }
  for (int s = 0; s < S; s++) free_tables(h, outs[s], outs[s] ? h->stage_num_partitions(job, s) : 0);
  free(outs);
  return rc;  /* on failure err is already filled (by the host or by us) */
}

static const canon_backend skeleton_backend = {
  .abi_major = CANON_BACKEND_ABI_MAJOR,
  .abi_minor = CANON_BACKEND_ABI_MINOR,
  .struct_size = sizeof(canon_backend),
  /* Declare only what the engine honours: the conformance suite skips the
   * cases that need a capability an engine lacks (and says so). */
  .capabilities = CANON_CAP_PARTITIONS | CANON_CAP_TRANSFORM,
  .name = "skeleton",
  .description = "template engine: tasks in reverse partition order, results in order",
  .open = sk_open,
  .close = sk_close,
  .default_partitions = sk_default_partitions,
  .execute = sk_execute,
};

SKELETON_EXPORT const canon_backend *canon_backend_entry(void) { return &skeleton_backend; }
