/* reversed.c — a deliberately wrong engine for the conformance suite's own
 * test: the serial engine, except that it hands back the root stage's
 * output partitions in reverse order.  Every result whose order is defined
 * (a sort, a filter over file-ordered input) then comes out wrong at two
 * or more partitions, and canon-conformance must say so with a diff.
 *
 * It reuses the serial engine's code by including it, renaming serial's
 * entry point so this file can export its own. */
#define canon_backend_entry canon_backend_entry_serial_inner
#include "serial.c"
#undef canon_backend_entry

static canon_backend reversed_backend;

/* Run the job as serial does, then reverse the partition order. */
static int reversed_execute(void *state, canon_job *job, canon_table ***results, int *n,
                            canon_error *err) {
  int rc = serial_execute(state, job, results, n, err);
  if (rc == 0)
    for (int i = 0, j = *n - 1; i < j; i++, j--) {
      canon_table *t = (*results)[i];
      (*results)[i] = (*results)[j];
      (*results)[j] = t;
    }
  return rc;
}

EXPORT const canon_backend *canon_backend_entry(void) {
  reversed_backend = serial_backend;
  reversed_backend.name = "reversed";
  reversed_backend.description = "serial with the result partitions reversed (a broken engine, for tests)";
  reversed_backend.execute = reversed_execute;
  return &reversed_backend;
}
