/* result.c — asking for results: collect, write_csv, Arrow export.
 *
 * Each plans the dataframe for the session's engine, hands the job to the
 * engine, and takes back the root stage's outputs in partition order. */
#include "physical.h"
#include "observe.h"
#include "rowops.h"

#include <stdio.h>

int canon__run_plan(canon_df *root, bool one_table, canon_table ***parts, int *nparts,
                    canon_error *err) {
  *parts = NULL;
  *nparts = 0;
  canon_session *s = root->session;
  int P = s->backend->default_partitions(s->backend_state);
  canon_job *job = canon__job_new(root, P, err);
  if (!job) return err && err->code ? err->code : CANON_ERR_NOMEM;
  job->one_table = one_table;
  /* A bare CSV read made into one table is written straight into it. */
  if (one_table) canon__load_sink_attach(job, s->backend->capabilities);
  int rc = canon__obs_execute(s, job, parts, nparts, err);
  if (rc == 0 && (!*parts || *nparts < 1))
    rc = canon__seterr(err, CANON_ERR_ENGINE, "engine '%s' returned no result", s->backend->name);
  if (rc != 0 && err && err->code == CANON_OK)
    canon__seterr(err, CANON_ERR_ENGINE, "engine '%s' failed without a message", s->backend->name);
  canon__job_free(job);
  return rc;
}

/* Run the plan of df (its persisted inputs computed first); on success
 * *parts holds the ordered outputs. */
static int run_job(canon_df *df, bool one_table, canon_table ***parts, int *nparts,
                   canon_error *err) {
  *parts = NULL;
  *nparts = 0;
  if (!df) return canon__seterr(err, CANON_ERR_INVALID, "no dataframe (an earlier step failed)");
  /* Persisted inputs are computed (once) before the plan that reads them. */
  if (canon__persist_materialize(df, err)) return err ? err->code : CANON_ERR_NOMEM;
  return canon__run_plan(df, one_table, parts, nparts, err);
}

static void free_parts(canon_table **parts, int n) {
  for (int i = 0; i < n; i++) canon_table_free(parts[i]);
  free(parts);
}

canon_table *canon_collect(canon_df *df, canon_error *err) {
  canon_table **parts;
  int n;
  if (run_job(df, true, &parts, &n, err)) return NULL;
  /* Each part's column is released as soon as it is copied: the peak is
   * the answer plus one column of the parts, not twice the answer. */
  canon_table *t = canon__table_concat_free(parts, n, err);
  free(parts);
  return t;
}

int canon_write_csv(canon_df *df, const char *path, canon_error *err) {
  if (!path || !*path) return canon__seterr(err, CANON_ERR_INVALID, "write_csv needs a path");
  canon_table **parts;
  int n;
  int rc = run_job(df, false, &parts, &n, err);
  if (rc) return rc;
  rc = canon__csv_write_atomic(path, parts, n, err);
  free_parts(parts, n);
  return rc;
}

int canon_export_arrow(canon_df *df, struct ArrowSchema *schema_out, struct ArrowArray *array_out,
                       canon_error *err) {
  canon_table *t = canon_collect(df, err);
  if (!t) return err ? err->code : CANON_ERR_NOMEM;
  int rc = canon_table_export_arrow(t, schema_out, array_out, err);
  canon_table_free(t);
  return rc;
}

int canon_export_arrow_stream(canon_df *df, struct ArrowArrayStream *out, canon_error *err) {
  canon_table *t = canon_collect(df, err);
  if (!t) return err ? err->code : CANON_ERR_NOMEM;
  int rc = canon_table_export_arrow_stream(t, out, err);
  canon_table_free(t);
  return rc;
}
