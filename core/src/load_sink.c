/* load_sink.c — a load written straight into the table it keeps.
 *
 * A persist or a collect of a bare CSV read parses each byte range into a
 * part, and the concatenation then copies every part into one table: the table is
 * written twice, and the parts' pages are faulted in only to be given back.
 * When the engine runs its tasks in this process (no CANON_CAP_ISOLATION or
 * CANON_CAP_DISTRIBUTED: serial, threads), the driver instead bounds each
 * range's records by its line breaks before the job runs, and allocates each
 * fixed-width column of the table once, with room for every bound; the task
 * of range p writes its rows into its window of each such column, from row
 * rows_max[0] + ... + rows_max[p-1].  When every range holds as many records
 * as its bound (one line per record, the usual case), the windows meet and
 * the concatenation (table.c) takes the buffer as it is instead of copying.
 *
 * Nothing here can change an answer.  A window is only room: a part that
 * outgrows it moves into a buffer of its own (canon__buffer_reserve), and
 * parts whose windows do not meet (records spanning lines, a blank tail)
 * are copied as before.  A task of another process (a worker rebuilds the
 * job from its JSON) or a second run of the same range's task builds the
 * plain way.  String columns are always built the plain way: their bytes are
 * not known before the parse.  CANON_LOAD_SINK=0 in the environment turns
 * it all off.
 */
#include "physical.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct canon__load_sink {
  pid_t pid;             /* the process whose tasks may write */
  int nparts, ncols;
  canon__buffer **cols;  /* fixed-width columns (NULL: built the plain way) */
  int64_t *row_at;       /* first row of each range's window */
  int64_t *rows_max;     /* room of each window */
  int *claimed;          /* set (atomically) by the task writing a window */
};

void canon__load_sink_free(canon__load_sink *s) {
  if (!s) return;
  for (int c = 0; c < s->ncols && s->cols; c++) canon__buffer_unref(s->cols[c]);
  free(s->cols);
  free(s->row_at);
  free(s->rows_max);
  free(s->claimed);
  free(s);
}

/* Whether job is a bare CSV read of several ranges. */
static bool bare_scan(const canon_job *job) {
  if (job->nstages != 1) return false;
  const canon__stage *st = &job->stages[0];
  return st->nops == 1 && st->ops[0].kind == CANON__OP_SCAN_CSV && st->nparts > 1 && st->ranges;
}

/* CANON_LOAD_SINK=0 turns the sink off (to compare, or to rule it out). */
static bool sink_wanted(void) {
  const char *v = getenv("CANON_LOAD_SINK");
  return !v || strcmp(v, "0") != 0;
}

void canon__load_sink_attach(canon_job *job, uint32_t capabilities) {
  if (job->sink || !bare_scan(job) ||
      (capabilities & (CANON_CAP_ISOLATION | CANON_CAP_DISTRIBUTED)) || !sink_wanted())
    return;
  const canon__stage *st = &job->stages[0];
  const canon_df *d = st->ops[0].node;
  const canon_schema *schema = d->csv_schema;
  int n = st->nparts;
  canon__load_sink *s = canon__calloc(1, sizeof *s);
  if (!s) return;
  s->nparts = n;
  s->ncols = schema->n;
  s->cols = canon__calloc((size_t)(schema->n ? schema->n : 1), sizeof *s->cols);
  s->row_at = canon__calloc((size_t)n + 1, sizeof *s->row_at);
  s->rows_max = canon__calloc((size_t)n, sizeof *s->rows_max);
  s->claimed = canon__calloc((size_t)n, sizeof *s->claimed);
  canon_error quiet = {0};
  /* (a failure here leaves the load to the plain way, which reports it) */
  if (!s->cols || !s->row_at || !s->rows_max || !s->claimed ||
      canon__csv_rows_max(d->path, st->ranges, n, s->rows_max, &quiet) != 0)
    goto drop;
  for (int p = 0; p < n; p++) {
    if (s->rows_max[p] < 0 || s->rows_max[p] > (INT64_MAX >> 4) - s->row_at[p]) goto drop;
    s->row_at[p + 1] = s->row_at[p] + s->rows_max[p];
  }
  int64_t total = s->row_at[n];
  bool any = false;
  for (int c = 0; c < schema->n; c++) {
    if (schema->types[c] == CANON_STRING) continue;
    size_t bytes;
    if (__builtin_mul_overflow((size_t)total, canon__type_width(schema->types[c]), &bytes) ||
        !(s->cols[c] = canon__buffer_new(bytes)))
      goto drop;
    s->cols[c]->size = bytes;
    any = true;
  }
  if (!any || total == 0) goto drop;
  s->pid = getpid();
  job->sink = s;
  return;
drop:
  canon__load_sink_free(s);
}

bool canon__load_sink_claim(const canon_job *job, const canon__stage *st, int part,
                            canon__csv_dest *dest) {
  canon__load_sink *s = job->sink;
  if (!s || st != &job->stages[0] || part < 0 || part >= s->nparts || s->pid != getpid())
    return false;
  if (__atomic_exchange_n(&s->claimed[part], 1, __ATOMIC_ACQ_REL)) return false;
  *dest = (canon__csv_dest){s->cols, s->row_at[part], s->rows_max[part]};
  return true;
}
