/* test_load_sink.c — a load written straight into the table it keeps
 * (core/src/load_sink.c, the windows of core/src/column.c, the adopting
 * concatenation of core/src/table.c).
 *
 * The tasks of a persisted CSV read on an engine running them in this
 * process write their fixed-width columns into windows of the kept table's
 * buffers; the concatenation then takes those buffers as they are.  Every
 * test also checks the rows against the serial engine's plain read. */
#include "testutil.h"

#include "physical.h"
#include "rowops.h"

#include <sys/wait.h>
#include <unistd.h>

static char *dir;

/* Write text (freed) to a file of the test's directory; its path. */
static char *write_csv(const char *name, char *text) {
  if (!dir) dir = tu_tmpdir();
  size_t n = strlen(dir) + strlen(name) + 2;
  char *path = malloc(n);
  cr_assert(path);
  snprintf(path, n, "%s/%s", dir, name);
  tu_write_file(path, text);
  free(text);
  return path;
}

static void cleanup(void) {
  if (dir) tu_rmdir(dir);
  free(dir);
  dir = NULL;
}

static const char *SCHEMA = "i:int64,f:float64,s:string,b:bool,d:date,t:timestamp";

/* rows records of every type, NULLs here and there; with `multiline`, every
 * seventh string holds a line break inside its quotes. */
static char *make_text(int rows, bool multiline) {
  size_t cap = (size_t)rows * 96 + 64, len = 0;
  char *text = malloc(cap);
  cr_assert(text);
  len += (size_t)snprintf(text, cap, "i,f,s,b,d,t\n");
  for (int r = 0; r < rows; r++) {
    char i[32] = "", f[32] = "", s[32] = "";
    if (r % 11) snprintf(i, sizeof i, "%d", r * 3 - 7);
    if (r % 13) snprintf(f, sizeof f, "%d.25", r - 100);
    if (multiline && r % 7 == 3)
      snprintf(s, sizeof s, "\"k%d\nnext\"", r % 5);
    else if (r % 17)
      snprintf(s, sizeof s, "k%d", r % 5);
    len += (size_t)snprintf(text + len, cap - len, "%s,%s,%s,%s,%s,%s\n", i, f, s,
                            r % 19 ? (r % 2 ? "true" : "false") : "",
                            r % 23 ? "2024-02-29" : "", r % 29 ? "2024-02-29T10:11:12Z" : "");
  }
  return text;
}

static canon_schema *schema(void) {
  canon_error err;
  canon_schema *sc = canon_schema_parse(SCHEMA, &err);
  cr_assert(sc, "%s", err.message);
  return sc;
}

static canon_df *read_csv(canon_session *s, const char *path) {
  canon_error err;
  canon_csv_options opts = {0};
  opts.schema = SCHEMA;
  canon_df *df = canon_read_csv(s, path, &opts, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

/* The persisted table of a CSV read on `engine` (the df keeps it; the
 * session must stay open), and the plain read's text in *want. */
static const canon_table *persisted(canon_session *s, const char *path) {
  canon_error err;
  canon_df *kept = canon_persist(read_csv(s, path), &err);
  cr_assert(kept, "%s", err.message);
  cr_assert_eq(canon__persist_materialize(kept, &err), 0, "%s", err.message);
  cr_assert(kept->table);
  return kept->table;
}

static char *plain_text(const char *path) {
  canon_session *s = tu_open("serial");
  char *want = tu_collect_csv(read_csv(s, path));
  canon_session_close(s);
  return want;
}

/* df planned for `parts` partitions. */
static canon_job *job_of(canon_df *df, int parts) {
  canon_error err;
  canon_job *job = canon__job_new(df, parts, &err);
  cr_assert(job, "%s", err.message);
  return job;
}

/* Whether every fixed-width column of t lies in a buffer made for it by a
 * load (an alias of another buffer) rather than in a copy. */
static int adopted_columns(const canon_table *t) {
  int n = 0;
  for (int c = 0; c < t->schema->n; c++)
    if (t->cols[c]->type != CANON_STRING && canon__buffer_parent(t->cols[c]->values)) n++;
  return n;
}

/* Before, the parts were parsed into buffers of their own and every one
 * copied into the kept table (or a collect's answer). */
Test(load_sink, a_kept_load_is_written_once_into_its_columns) {
  char *path = write_csv("a.csv", make_text(5000, false));
  char *want = plain_text(path);
  const char *engines[] = {"threads:workers=2,partitions=4", "serial:partitions=3",
                           "threads:workers=3,partitions=16"};
  for (int e = 0; e < 3; e++) {
    canon_session *s = tu_open(engines[e]);
    const canon_table *t = persisted(s, path);
    cr_assert_eq(adopted_columns(t), 5, "%s: %d of 5 columns adopted", engines[e],
                 adopted_columns(t));
    char *got = tu_csv(t);
    cr_assert_str_eq(got, want, "%s", engines[e]);
    free(got);
    /* A collect of the read makes one table the same way. */
    canon_error err;
    canon_table *c = canon_collect(read_csv(s, path), &err);
    cr_assert(c, "%s", err.message);
    cr_assert_eq(adopted_columns(c), 5, "%s: collect", engines[e]);
    got = tu_csv(c);
    cr_assert_str_eq(got, want, "%s: collect", engines[e]);
    free(got);
    canon_table_free(c);
    canon_session_close(s);
  }
  free(want);
  free(path);
  cleanup();
}

/* Records spanning lines leave gaps between the windows: the parts are
 * copied as before, and the rows are the same. */
Test(load_sink, records_spanning_lines_are_copied_as_before) {
  char *path = write_csv("m.csv", make_text(3000, true));
  char *want = plain_text(path);
  canon_session *s = tu_open("threads:workers=2,partitions=5");
  const canon_table *t = persisted(s, path);
  cr_assert_eq(adopted_columns(t), 0);
  char *got = tu_csv(t);
  cr_assert_str_eq(got, want);
  free(got);
  canon_session_close(s);
  free(want);
  free(path);
  cleanup();
}

/* Engines whose tasks run elsewhere get no sink; plans other than a bare
 * read neither, nor anything with CANON_LOAD_SINK=0; and a small file cut
 * into fewer ranges than parts still loads whole. */
Test(load_sink, only_bare_reads_on_engines_running_tasks_here_get_one) {
  char *path = write_csv("o.csv", make_text(50, false));
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_df *df = read_csv(s, path);
  canon_job *job = job_of(df, 4);
  canon__load_sink_attach(job, CANON_CAP_PARALLEL | CANON_CAP_ISOLATION);
  cr_assert_null(job->sink);
  canon__load_sink_attach(job, CANON_CAP_DISTRIBUTED);
  cr_assert_null(job->sink);
  setenv("CANON_LOAD_SINK", "0", 1);
  canon__load_sink_attach(job, CANON_CAP_PARALLEL);
  cr_assert_null(job->sink, "CANON_LOAD_SINK=0 turns it off");
  unsetenv("CANON_LOAD_SINK");
  canon__load_sink_attach(job, CANON_CAP_PARALLEL);
  cr_assert_not_null(job->sink);
  canon__job_free(job);
  canon_df *filtered = canon_filter(df, canon_gt(canon_col("i"), canon_lit_int64(0)), &err);
  job = job_of(filtered, 4);
  canon__load_sink_attach(job, CANON_CAP_PARALLEL);
  cr_assert_null(job->sink);
  canon__job_free(job);
  job = job_of(df, 1);
  canon__load_sink_attach(job, CANON_CAP_PARALLEL);
  cr_assert_null(job->sink, "one range is never copied: nothing to gain");
  canon__job_free(job);
  canon_session_close(s);
  /* 50 rows in 64 ranges: most are empty. */
  char *want = plain_text(path);
  s = tu_open("threads:workers=2,partitions=64");
  char *got = tu_csv(persisted(s, path));
  cr_assert_str_eq(got, want);
  free(got);
  free(want);
  canon_session_close(s);
  free(path);
  cleanup();
}

/* A range's window is handed out once: a task run again for it (an engine
 * retrying it, say) builds the plain way, and so does a task in another
 * process (a forked child here). */
Test(load_sink, each_window_is_handed_out_once_and_only_here) {
  char *path = write_csv("w.csv", make_text(400, false));
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_job *job = job_of(read_csv(s, path), 3);
  canon__load_sink_attach(job, 0);
  cr_assert_not_null(job->sink);
  pid_t child = fork();
  cr_assert_geq(child, 0);
  if (child == 0) {
    canon__csv_dest dest;
    _exit(canon__load_sink_claim(job, &job->stages[0], 1, &dest) ? 1 : 0);
  }
  int status;
  cr_assert_eq(waitpid(child, &status, 0), child);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "another process got a window");
  canon_table *first = NULL, *again = NULL;
  cr_assert_eq(canon__run_task(job, 0, 1, NULL, &first, &err), 0, "%s", err.message);
  cr_assert_eq(canon__run_task(job, 0, 1, NULL, &again, &err), 0, "%s", err.message);
  cr_assert_not_null(canon__buffer_parent(first->cols[0]->values));
  cr_assert_null(canon__buffer_parent(again->cols[0]->values));
  char *a = tu_csv(first), *b = tu_csv(again);
  cr_assert_str_eq(a, b);
  free(a);
  free(b);
  canon__csv_dest dest;
  cr_assert(!canon__load_sink_claim(job, &job->stages[0], 1, &dest));
  cr_assert(!canon__load_sink_claim(job, &job->stages[0], 3, &dest));
  cr_assert(!canon__load_sink_claim(job, &job->stages[0], -1, &dest));
  cr_assert(canon__load_sink_claim(job, &job->stages[0], 2, &dest));
  canon_table_free(first);
  canon_table_free(again);
  canon__job_free(job);
  canon_session_close(s);
  free(path);
  cleanup();
}

/* A bound that is too small (a hand-made range here; the split's bounds
 * hold) costs a copy: the part moves into buffers of its own, with the
 * same rows, and writes nothing past its window. */
Test(load_sink, a_window_too_small_moves_the_part_out) {
  char *path = write_csv("s.csv", make_text(300, false));
  canon_schema *sc = schema();
  canon_error err;
  canon__csv_range *r = NULL;
  cr_assert_eq(canon__csv_split(path, ',', sc, 1, &r, &err), 0, "%s", err.message);
  canon_table *plain = canon__csv_read_range(path, ',', sc, &r[0], NULL, &err);
  cr_assert(plain, "%s", err.message);
  canon__buffer *cols[6] = {0};
  for (int c = 0; c < 6; c++) {
    if (sc->types[c] == CANON_STRING) continue;
    size_t bytes = 400 * canon__type_width(sc->types[c]);
    cols[c] = canon__buffer_new(bytes);
    cr_assert(cols[c]);
    memset(cols[c]->data, 0xab, bytes);
    cols[c]->size = bytes;
  }
  int64_t rows_max[1];
  cr_assert_eq(canon__csv_rows_max(path, r, 1, rows_max, &err), 0, "%s", err.message);
  cr_assert_eq(rows_max[0], 301, "300 records and room for one without a line break");
  canon__csv_dest dest = {cols, 10, 37};
  canon_table *moved = canon__csv_read_range(path, ',', sc, &r[0], &dest, &err);
  cr_assert(moved, "%s", err.message);
  char *a = tu_csv(plain), *b = tu_csv(moved);
  cr_assert_str_eq(a, b);
  free(a);
  free(b);
  for (int c = 0; c < 6; c++) {
    if (!cols[c]) continue;
    cr_assert_null(canon__buffer_parent(moved->cols[c]->values));
    size_t w = canon__type_width(sc->types[c]);
    for (size_t k = 0; k < 400 * w; k++) {
      if (k >= 10 * w && k < 47 * w) continue; /* the window */
      cr_assert_eq(cols[c]->data[k], 0xab, "column %d: byte %zu outside the window", c, k);
    }
    canon__buffer_unref(cols[c]);
  }
  canon_table_free(moved);
  canon_table_free(plain);
  free(r);
  canon_schema_free(sc);
  free(path);
  cleanup();
}

/* A one-column int64 table over `rows` values of buf from row `at` (an
 * alias, as a view or a finished window is). */
static canon_table *slice_of(canon__buffer *buf, int64_t at, int64_t rows) {
  canon_error err;
  canon_schema *sc = canon_schema_parse("v:int64", &err);
  cr_assert(sc, "%s", err.message);
  canon__column *c = calloc(1, sizeof *c);
  cr_assert(c);
  c->refs = 1;
  c->type = CANON_INT64;
  c->length = rows;
  c->values = canon__buffer_alias(buf, (size_t)at * 8, (size_t)rows * 8);
  cr_assert(c->values);
  canon_table *t = canon__table_make(sc, &c, rows, &err);
  cr_assert(t, "%s", err.message);
  canon__column_unref(c);
  canon_schema_free(sc);
  return t;
}

/* Concatenate-and-free parts; check rows 0.. hold `first`, first + 1, ...
 * and say whether the result took buf as it is. */
static bool concat_took(canon__buffer *buf, canon_table **parts, int n, int64_t first,
                        int64_t rows) {
  canon_error err;
  canon_table *t = canon__table_concat_free(parts, n, &err);
  cr_assert(t, "%s", err.message);
  cr_assert_eq(t->nrows, rows);
  for (int64_t r = 0; r < rows; r++) cr_assert_eq(canon_table_get_int64(t, 0, r), first + r);
  bool took = canon__buffer_parent(t->cols[0]->values) == buf;
  canon_table_free(t);
  return took;
}

/* The concatenation takes adjacent slices of one buffer as they are, and
 * copies anything else: a slice in between that moved out of its window,
 * slices out of order, or a span of less than half the buffer (a small
 * result must not keep a big buffer alive). */
Test(load_sink, only_adjacent_slices_of_most_of_a_buffer_are_taken) {
  canon__buffer *buf = canon__buffer_new(300 * 8);
  cr_assert(buf);
  for (int64_t r = 0; r < 300; r++) ((int64_t *)buf->data)[r] = r;
  buf->size = 300 * 8;
  canon_table *p[3] = {slice_of(buf, 0, 100), slice_of(buf, 100, 100), slice_of(buf, 200, 100)};
  cr_assert(concat_took(buf, p, 3, 0, 300));
  /* The middle part outgrew its window: its bytes moved out. */
  canon_table *q[3] = {slice_of(buf, 0, 100), slice_of(buf, 100, 100), slice_of(buf, 200, 100)};
  canon__buffer *mid = q[1]->cols[0]->values;
  cr_assert_eq(canon__buffer_reserve(mid, 64 * 100 * 8), 0);
  cr_assert_null(canon__buffer_parent(mid));
  cr_assert(!concat_took(buf, q, 3, 0, 300));
  canon_table *o[2] = {slice_of(buf, 100, 100), slice_of(buf, 0, 100)};
  canon_error err;
  canon_table *t = canon__table_concat_free(o, 2, &err);
  cr_assert(t, "%s", err.message);
  cr_assert_null(canon__buffer_parent(t->cols[0]->values));
  cr_assert_eq(canon_table_get_int64(t, 0, 0), 100);
  cr_assert_eq(canon_table_get_int64(t, 0, 100), 0);
  canon_table_free(t);
  canon_table *s[2] = {slice_of(buf, 0, 60), slice_of(buf, 60, 60)};
  cr_assert(!concat_took(buf, s, 2, 0, 120), "120 of 300 rows kept the whole buffer");
  canon_table *h[2] = {slice_of(buf, 100, 60), slice_of(buf, 160, 100)};
  cr_assert(concat_took(buf, h, 2, 100, 160));
  canon__buffer_unref(buf);
}
