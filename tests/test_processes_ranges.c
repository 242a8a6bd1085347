/* test_processes_ranges.c — row ranges of shared tables (host ABI 1.2 and
 * the processes engine's PX_F_RANGE messages), below the engine's public
 * face: the host's table_range_of / table_slice, and a worker process
 * (the engine's worker.c, linked in) driven message by message as the
 * driver would — and as a hostile driver would.  A worker given a range
 * reads exactly those rows; its scan outputs come back as ranges (or
 * written out, with share_ranges=0 or a core without the slots); bad ids,
 * ranges and lengths are clean errors, never a crash, and the worker
 * serves on. */
#include "processes_testutil.h"

#include "canon_testing.h"
#include "physical.h"
#include "processes.h"

#include <stddef.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

extern const canon_host canon__host;

/* n rows: int keys with NULLs, coded strings with NULLs and empties,
 * floats with NaN, -0.0 and infinities, bools, row numbers. */
static canon_table *table_of(int n, int salt) {
  static const char *floats[] = {"0.5", "-0.0", "nan", "inf", "-inf", "1e308", "", "-7.125"};
  size_t cap = (size_t)n * 64 + 64, at = 0;
  char *text = malloc(cap);
  cr_assert(text);
  for (int i = 0; i < n; i++) {
    int h = (i * 7919 + salt * 104729) % 1009;
    char k[24] = "", s[32] = "";
    if (h % 13) snprintf(k, sizeof k, "%d", h % 10);
    if (h % 11 == 1)
      snprintf(s, sizeof s, "\"\"");
    else if (h % 11)
      snprintf(s, sizeof s, "s%d", h % 17);
    at += (size_t)snprintf(text + at, cap - at, "%s,%s,%s,%s,%d\n", k, s, floats[h % 8],
                           h % 9 == 0 ? "" : (h % 2 ? "true" : "false"), i + salt);
  }
  canon_error err;
  canon_table *t = canon_table_from_csv_text("k:int64,s:string,f:float64,b:bool,i:int64", text, &err);
  cr_assert(t, "%s", err.message);
  free(text);
  /* Codes on the strings, as CSV reads give them. */
  t = canon__table_dict_encode(t, &err);
  cr_assert(t, "%s", err.message);
  return t;
}

/* The rows of a and b are the same, in the same order, cell for cell. */
static void assert_same(const canon_table *want, const canon_table *got, const char *what) {
  char *diff = NULL;
  int rc = canon_testing_compare(want, got, CANON_TESTING_EXACT, NULL, 0, &diff);
  cr_assert_eq(rc, 0, "%s: %s", what, diff ? diff : "cannot compare");
  free(diff);
  char *w = tu_csv(want), *g = tu_csv(got);
  cr_assert_str_eq(g, w, "%s", what);
  free(w);
  free(g);
}

/* ---- the host slots ------------------------------------------------------------ */

TestSuite(processes_ranges);

Test(processes_ranges, the_host_has_the_range_slots) {
  const canon_host *h = &canon__host;
  cr_assert_geq(h->abi_minor, 2);
  cr_assert(PX_HOST_HAS_RANGES(h));
}

/* Every slice of a table is a range of it, at its first row; copies of
 * the same rows, slices of an equal table, reordered or renamed columns
 * and empty tables are not. */
Test(processes_ranges, range_of_finds_exactly_the_slices) {
  const canon_host *h = &canon__host;
  canon_error err;
  canon_table *a = table_of(5000, 1), *twin = table_of(5000, 1);
  const int64_t starts[] = {0, 1, 7, 8, 63, 64, 65, 640, 4095, 4999, 5000};
  const int64_t counts[] = {0, 1, 9, 64, 1000, 5000};
  for (size_t i = 0; i < sizeof starts / sizeof *starts; i++)
    for (size_t j = 0; j < sizeof counts / sizeof *counts; j++) {
      int64_t f = starts[i], n = counts[j];
      if (f + n > 5000) n = 5000 - f;
      canon_table *v = h->table_slice(a, f, n, &err);
      cr_assert(v, "[%lld, +%lld): %s", (long long)f, (long long)n, err.message);
      int64_t got = -1;
      if (n == 0) {
        cr_assert_eq(h->table_range_of(v, a, &got), 0, "an empty table points nowhere");
      } else {
        cr_assert_eq(h->table_range_of(v, a, &got), 1, "[%lld, +%lld)", (long long)f, (long long)n);
        cr_assert_eq(got, f);
        /* A slice of a slice is a range of the table too. */
        if (n > 2) {
          canon_table *vv = h->table_slice(v, 1, n - 2, &err);
          cr_assert(vv);
          cr_assert_eq(h->table_range_of(vv, a, &got), 1);
          cr_assert_eq(got, f + 1);
          cr_assert_eq(h->table_range_of(vv, v, &got), 1);
          cr_assert_eq(got, 1);
          cr_assert_eq(h->table_range_of(v, vv, &got), 0, "a table is no range of its part");
          h->table_free(vv);
        }
        /* The same values elsewhere are not the same data. */
        cr_assert_eq(h->table_range_of(v, twin, &got), 0);
        int64_t *idx = malloc((size_t)n * sizeof *idx);
        cr_assert(idx);
        for (int64_t r = 0; r < n; r++) idx[r] = r;
        canon_table *copy = canon__table_take(v, idx, n, &err);
        free(idx);
        cr_assert(copy);
        assert_same(v, copy, "a copy");
        cr_assert_eq(h->table_range_of(copy, a, &got), 0, "a copy is no range");
        h->table_free(copy);
      }
      h->table_free(v);
    }
  /* The whole table, shared. */
  int64_t got = -1;
  cr_assert_eq(h->table_range_of(a, a, &got), 1);
  cr_assert_eq(got, 0);
  /* Columns in another order, or fewer: another schema. */
  canon_session *s = tu_open("serial:partitions=1");
  canon_expr *cols[] = {canon_col("s"), canon_col("k"), canon_col("f"), canon_col("b"),
                        canon_col("i")};
  canon_table *re =
      canon_collect(canon_select(canon_from_table(s, a, &err), cols, NULL, 5, &err), &err);
  cr_assert(re, "%s", err.message);
  cr_assert_eq(h->table_range_of(re, a, &got), 0);
  h->table_free(re);
  canon_session_close(s);
  h->table_free(twin);
  h->table_free(a);
}

/* v with column i replaced by c (taken). */
static canon_table *with_column(const canon_table *v, int i, canon__column *c) {
  canon__column *cols[16];
  for (int j = 0; j < v->schema->n; j++) cols[j] = j == i ? c : canon__column_ref(v->cols[j]);
  canon_error err;
  canon_table *t = canon__table_make(v->schema, cols, v->nrows, &err); /* takes them */
  cr_assert(t, "%s", err.message);
  return t;
}

/* Column c over the same buffers, without its NULLs or its codes. */
static canon__column *stripped(const canon__column *c, bool nulls, bool codes) {
  canon__column *o = calloc(1, sizeof *o);
  cr_assert(o);
  o->refs = 1;
  o->type = c->type;
  o->length = c->length;
  o->values = canon__buffer_ref(c->values);
  if (c->strdata) o->strdata = canon__buffer_ref(c->strdata);
  if (!nulls && c->validity) {
    o->validity = canon__buffer_ref(c->validity);
    o->null_count = c->null_count;
  }
  if (!codes && c->dict) {
    o->dict = canon__dict_ref(c->dict);
    o->codes = canon__buffer_ref(c->codes);
  }
  return o;
}

/* Every column is checked, not just the first: a column of another table,
 * of other rows of the same table, the same values without their NULLs or
 * without their codes — none is the range. */
Test(processes_ranges, range_of_checks_every_column) {
  const canon_host *h = &canon__host;
  canon_error err;
  canon_table *a = table_of(5000, 5), *twin = table_of(5000, 5);
  int k = canon_table_find_column(a, "k"), sc = canon_table_find_column(a, "s");
  cr_assert(a->cols[k]->validity && a->cols[sc]->validity && a->cols[sc]->dict,
            "the table lacks NULLs or codes");
  const int64_t starts[] = {0, 5, 64, 1003};
  for (size_t i = 0; i < sizeof starts / sizeof *starts; i++) {
    int64_t f = starts[i], n = 2000, got;
    canon_table *v = h->table_slice(a, f, n, &err), *tv = h->table_slice(twin, f, n, &err);
    canon_table *later = h->table_slice(a, f + 64, n, &err);
    cr_assert(v && tv && later);
    cr_assert_eq(h->table_range_of(v, a, &got), 1);
    cr_assert_eq(got, f);
    for (int c = 0; c < a->schema->n; c++) {
      canon_table *t = with_column(v, c, canon__column_ref(tv->cols[c]));
      cr_assert_eq(h->table_range_of(t, a, &got), 0, "column %d of another table", c);
      h->table_free(t);
      t = with_column(v, c, canon__column_ref(later->cols[c]));
      cr_assert_eq(h->table_range_of(t, a, &got), 0, "column %d of other rows", c);
      h->table_free(t);
    }
    canon_table *t = with_column(v, k, stripped(v->cols[k], true, false));
    cr_assert_eq(h->table_range_of(t, a, &got), 0, "the NULLs are part of the data");
    h->table_free(t);
    t = with_column(v, sc, stripped(v->cols[sc], false, true));
    cr_assert_eq(h->table_range_of(t, a, &got), 0, "the codes are part of the data");
    h->table_free(t);
    t = with_column(v, sc, stripped(v->cols[sc], false, false));
    cr_assert_eq(h->table_range_of(t, a, &got), 1, "the same buffers are the range");
    cr_assert_eq(got, f);
    h->table_free(t);
    h->table_free(v);
    h->table_free(tv);
    h->table_free(later);
  }
  h->table_free(a);
  h->table_free(twin);
}

/* A range outside the table is CANON_ERR_INVALID, never a read. */
Test(processes_ranges, table_slice_checks_the_range) {
  const canon_host *h = &canon__host;
  canon_table *a = table_of(300, 2);
  const int64_t bad[][2] = {{-1, 1},  {0, -1},         {301, 0},       {300, 1},
                            {1, 300}, {INT64_MAX, 1},  {1, INT64_MAX}, {INT64_MAX, INT64_MAX},
                            {INT64_MIN, 5}, {299, 2}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    canon_error err;
    memset(&err, 0, sizeof err);
    canon_table *t = h->table_slice(a, bad[i][0], bad[i][1], &err);
    cr_assert_null(t, "[%lld, +%lld)", (long long)bad[i][0], (long long)bad[i][1]);
    cr_assert_eq(err.code, CANON_ERR_INVALID);
    cr_assert(strstr(err.message, "outside"), "%s", err.message);
  }
  canon_error err;
  canon_table *t = h->table_slice(a, 300, 0, &err);
  cr_assert(t, "%s", err.message);
  cr_assert_eq(h->table_num_rows(t), 0);
  h->table_free(t);
  h->table_free(a);
}

/* The driver's check of a range a worker names. */
Test(processes_ranges, px_range_ok_checks_ids_ranges_and_lengths) {
  px_msg m;
  memset(&m, 0, sizeof m);
  m.type = PX_REPLY;
  m.flags = PX_F_RANGE;
  m.range_id = 3;
  m.range_first = 10;
  m.range_rows = m.nrows = 20;
  cr_assert(px_range_ok(&m, 30));
  cr_assert_not(px_range_ok(&m, 29));
  m.nrows = 19;
  cr_assert_not(px_range_ok(&m, 100), "a reply's rows and its range disagree");
  m.nrows = 20;
  m.flags = 0;
  cr_assert_not(px_range_ok(&m, 100), "not a range");
  m.flags = PX_F_RANGE;
  m.range_id = 0;
  cr_assert_not(px_range_ok(&m, 100), "id 0 is no table");
  m.range_id = 3;
  const int64_t bad[][2] = {{-1, 1}, {0, -1}, {101, 0}, {INT64_MAX, 20}, {20, INT64_MAX},
                            {INT64_MIN, 20}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    m.range_first = bad[i][0];
    m.range_rows = m.nrows = bad[i][1];
    cr_assert_not(px_range_ok(&m, 100), "[%lld, +%lld)", (long long)bad[i][0], (long long)bad[i][1]);
  }
  m.range_first = 100;
  m.range_rows = m.nrows = 0;
  cr_assert(px_range_ok(&m, 100));
}

/* ---- a worker, message by message ------------------------------------------------ */

typedef struct fake_driver {
  pid_t pid;
  int sock;
  canon_table *a, *b;   /* shared as ids 7 and 8 */
  canon_session *s;
  canon_job *job;
  int P;
  int xs[2];            /* exchange states of the join stage */
} fake_driver;

static int share_ab(void *ctx, const canon_table *t, uint64_t *id, canon_error *err) {
  (void)err;
  fake_driver *d = ctx;
  int64_t n = canon_table_num_rows(t);
  *id = n == canon_table_num_rows(d->a) ? 7 : n == canon_table_num_rows(d->b) ? 8 : 0;
  return 0;
}

/* Fork a worker of the engine over `host` and send it tables a (id 7), b
 * (id 8) and the job a hash join of them over P partitions: stage 0 scans
 * a, stage 1 scans b, stage 2 joins. */
static void start(fake_driver *d, const canon_host *host, bool ranges, int P) {
  memset(d, 0, sizeof *d);
  d->a = table_of(1000, 3);
  d->b = table_of(300, 4);
  d->P = P;
  canon_error err;
  d->s = tu_open("serial");
  const char *k[] = {"k"};
  canon_join_options o = {.right_suffix = "_r", .strategy = CANON_JOIN_HASH};
  canon_df *df = canon_join(canon_from_table(d->s, d->a, &err), canon_from_table(d->s, d->b, &err),
                            CANON_JOIN_INNER, k, k, 1, &o, &err);
  cr_assert(df, "%s", err.message);
  d->job = canon__job_new(df, P, &err);
  cr_assert(d->job, "%s", err.message);
  cr_assert_eq(canon__host.num_stages(d->job), 3);
  int sv[2];
  cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  px_status *status = mmap(NULL, sizeof *status, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(status, MAP_FAILED);
  fflush(NULL);
  d->pid = fork();
  cr_assert_geq(d->pid, 0);
  if (d->pid == 0) {
    close(sv[0]);
    px_worker_main(host, sv[1], status, 0, 0, ranges);
  }
  close(sv[1]);
  d->sock = sv[0];
  /* The tables, then the job. */
  int fds[2];
  cr_assert_eq(px_shared_table_write(&canon__host, d->a, &fds[0], &err), 0, "%s", err.message);
  cr_assert_eq(px_shared_table_write(&canon__host, d->b, &fds[1], &err), 0, "%s", err.message);
  px_msg m;
  memset(&m, 0, sizeof m);
  m.type = PX_TABLES;
  m.job_seq = 1;
  m.events_len = 16;
  uint64_t ids[2] = {7, 8};
  memcpy(m.events, ids, 16);
  cr_assert_eq(px_send(d->sock, &m, fds, 2), 0);
  close(fds[0]);
  close(fds[1]);
  uint8_t *buf = NULL;
  size_t len = 0;
  cr_assert_eq(canon__host.job_encode_shared(d->job, share_ab, d, &buf, &len, &err), 0, "%s", err.message);
  int jfd;
  cr_assert_eq(px_bytes_write(buf, len, &jfd, &err), 0);
  free(buf);
  memset(&m, 0, sizeof m);
  m.type = PX_JOB;
  m.job_seq = 1;
  cr_assert_eq(px_send(d->sock, &m, &jfd, 1), 0);
  close(jfd);
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(canon__host.exchange_state_encode(d->job, 2, i, &buf, &len, &err), 0);
    cr_assert_eq(px_bytes_write(buf, len, &d->xs[i], &err), 0);
    free(buf);
  }
}

static void stop(fake_driver *d) {
  close(d->sock);
  int status;
  cr_assert_eq(waitpid(d->pid, &status, 0), d->pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the worker did not leave cleanly");
  close(d->xs[0]);
  close(d->xs[1]);
  canon__job_free(d->job);
  canon_session_close(d->s);
  canon_table_free(d->a);
  canon_table_free(d->b);
}

/* Send m (job 1) with fds; the reply, its descriptors in *fds (count in
 * the return value). */
static int ask(fake_driver *d, px_msg *m, const int *fds, int nfds, px_msg *reply, int **rfds) {
  m->job_seq = 1;
  cr_assert_eq(px_send(d->sock, m, fds, nfds), 0);
  int got = px_recv(d->sock, reply, rfds);
  cr_assert_eq(got, 1, "the worker died");
  cr_assert_eq(reply->type, PX_REPLY);
  return (int)reply->nfds;
}

/* Split the producer output [first, +rows) of shared table `id` for input
 * 0 of the join stage; the reply (and its buckets concatenated, when it
 * has them). */
/* Decode the buckets a split returns as the driver does (codes checked
 * for range only), not with every check. */
static bool trust_buckets;

static canon_table *split_msg(fake_driver *d, uint32_t flags, uint64_t id, int64_t first,
                              int64_t rows, int extra_fd, px_msg *reply) {
  px_msg m;
  memset(&m, 0, sizeof m);
  m.type = PX_SPLIT;
  m.stage = 2;
  m.input = 0;
  m.part = 0;
  m.nstate = 2;
  m.flags = flags;
  m.range_id = id;
  m.range_first = first;
  m.range_rows = rows;
  int fds[3] = {d->xs[0], d->xs[1], extra_fd};
  int *rfds = NULL;
  int n = ask(d, &m, fds, extra_fd >= 0 ? 3 : 2, reply, &rfds);
  canon_table *out = NULL;
  if (reply->err.code == 0) {
    cr_assert_eq(n, 1);
    const uint8_t *map;
    size_t size;
    cr_assert_eq(px_seg_map(rfds[0], &map, &size), 0);
    canon_table *parts[64];
    cr_assert_leq(d->P, 64);
    canon_error err;
    for (int p = 0; p < d->P; p++) {
      const uint8_t *b;
      size_t len;
      cr_assert_eq(px_split_bucket(map, size, d->P, p, &b, &len, &err), 0, "%s", err.message);
      parts[p] = trust_buckets ? canon__host.table_decode_own(b, len, NULL, NULL, &err)
                               : canon__host.table_decode(b, len, &err);
      cr_assert(parts[p], "%s", err.message);
    }
    out = canon__host.concat(parts, d->P, &err);
    cr_assert(out, "%s", err.message);
    for (int p = 0; p < d->P; p++) canon_table_free(parts[p]);
    px_seg_unmap(map, size);
  }
  for (int i = 0; i < n; i++) close(rfds[i]);
  free(rfds);
  return out;
}

static canon_table *split_range(fake_driver *d, uint64_t id, int64_t first, int64_t rows,
                                int extra_fd, px_msg *reply) {
  return split_msg(d, PX_F_RANGE, id, first, rows, extra_fd, reply);
}

/* Rows [first, +rows) of t, in the order a hash split into P buckets puts
 * them (bucket by bucket, input order within each). */
static canon_table *split_order(fake_driver *d, const canon_table *t, int64_t first, int64_t rows) {
  canon_error err;
  canon_table *v = canon__host.table_slice(t, first, rows, &err);
  cr_assert(v, "%s", err.message);
  canon_table *b[64];
  cr_assert_eq(canon__host.exchange_split(d->job, 2, 0, 0, v, b, &err), 0, "%s", err.message);
  canon_table *out = canon__host.concat(b, d->P, &err);
  cr_assert(out, "%s", err.message);
  for (int p = 0; p < d->P; p++) canon_table_free(b[p]);
  canon_table_free(v);
  return out;
}

/* A worker given a range splits exactly those rows of its own copy. */
Test(processes_ranges, a_worker_given_a_range_reads_exactly_those_rows) {
  fake_driver d;
  start(&d, &canon__host, true, 3);
  const int64_t r[][2] = {{0, 1000}, {0, 0}, {1000, 0}, {1, 1}, {999, 1}, {3, 517}, {64, 128},
                          {333, 334}, {7, 993}};
  for (size_t i = 0; i < sizeof r / sizeof *r; i++) {
    px_msg reply;
    canon_table *got = split_range(&d, 7, r[i][0], r[i][1], -1, &reply);
    cr_assert_eq(reply.err.code, 0, "%s", reply.err.message);
    canon_table *want = split_order(&d, d.a, r[i][0], r[i][1]);
    char what[64];
    snprintf(what, sizeof what, "rows [%lld, +%lld)", (long long)r[i][0], (long long)r[i][1]);
    assert_same(want, got, what);
    canon_table_free(want);
    canon_table_free(got);
  }
  stop(&d);
  assert_no_children();
}

/* Run the scan task (stage s, part p); the reply and, when it carries a
 * segment, the table in it. */
static canon_table *run_scan(fake_driver *d, int s, int p, px_msg *reply) {
  px_msg m;
  memset(&m, 0, sizeof m);
  m.type = PX_RUN;
  m.stage = s;
  m.part = p;
  int *rfds = NULL;
  int n = ask(d, &m, NULL, 0, reply, &rfds);
  cr_assert_eq(reply->err.code, 0, "%s", reply->err.message);
  canon_table *t = NULL;
  if (n == 1) {
    canon_error err;
    t = px_table_map(&canon__host, rfds[0], &err);
    cr_assert(t, "%s", err.message);
  }
  for (int i = 0; i < n; i++) close(rfds[i]);
  free(rfds);
  return t;
}

/* Scan outputs come back as ranges of the right table at the right rows;
 * written out with share_ranges=0, or when the core lacks the slots. */
Test(processes_ranges, scan_outputs_come_back_as_ranges_or_rows) {
  canon_host old = canon__host;
  old.struct_size = (uint32_t)offsetof(canon_host, table_range_of);
  old.abi_minor = 1;
  for (int mode = 0; mode < 3; mode++) {
    fake_driver d;
    start(&d, mode == 2 ? &old : &canon__host, mode != 1, 3);
    for (int s = 0; s < 2; s++) {
      const canon_table *base = s ? d.b : d.a;
      int64_t total = 0;
      for (int p = 0; p < 3; p++) {
        px_msg reply;
        canon_table *t = run_scan(&d, s, p, &reply);
        if (mode == 0) {
          cr_assert_null(t, "a range came with rows");
          cr_assert(reply.flags & PX_F_RANGE);
          cr_assert_eq(reply.range_id, s ? 8u : 7u);
          cr_assert_eq(reply.range_first, total);
          cr_assert_eq(reply.range_rows, reply.nrows);
          cr_assert(px_range_ok(&reply, canon_table_num_rows(base)));
          total += reply.nrows;
        } else {
          cr_assert(t, "mode %d: no rows", mode);
          cr_assert_not(reply.flags & PX_F_RANGE);
          canon_error err;
          canon_table *want = canon__host.table_slice(base, total, reply.nrows, &err);
          cr_assert(want, "%s", err.message);
          assert_same(want, t, "a scan written out");
          canon_table_free(want);
          total += reply.nrows;
          canon_table_free(t);
        }
      }
      cr_assert_eq(total, canon_table_num_rows(base));
    }
    if (mode == 2) {
      /* That worker cannot slice: a range is a clean error. */
      px_msg reply;
      canon_table *t = split_range(&d, 7, 0, 10, -1, &reply);
      cr_assert_null(t);
      cr_assert_neq(reply.err.code, 0);
      cr_assert(strstr(reply.err.message, "cannot slice"), "%s", reply.err.message);
    }
    stop(&d);
  }
  assert_no_children();
}

/* Bad ids, ranges and lengths: clean errors, and the worker serves on. */
Test(processes_ranges, bad_ranges_are_clean_errors) {
  fake_driver d;
  start(&d, &canon__host, true, 3);
  struct {
    uint64_t id;
    int64_t first, rows;
    const char *says;
  } bad[] = {
      {99, 0, 10, "was not sent shared table 99"},
      {0, 0, 10, "was not sent shared table 0"},
      {UINT64_MAX, 0, 10, "was not sent shared table"},
      {7, -1, 10, "outside"},
      {7, 0, -1, "outside"},
      {7, 0, 1001, "outside"},
      {7, 1000, 1, "outside"},
      {7, 1001, 0, "outside"},
      {7, 999, 2, "outside"},
      {7, INT64_MAX, 1, "outside"},
      {7, 1, INT64_MAX, "outside"},
      {7, INT64_MAX, INT64_MAX, "outside"},
      {7, INT64_MIN, 10, "outside"},
      {8, 0, 301, "outside"},
  };
  /* The first task of the job fails: the worker has recorded no event
   * yet when it replies (observe.c once passed NULL to memmove there). */
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    px_msg reply;
    canon_table *t = split_range(&d, bad[i].id, bad[i].first, bad[i].rows, -1, &reply);
    cr_assert_null(t, "case %zu", i);
    cr_assert_neq(reply.err.code, 0, "case %zu", i);
    cr_assert(strstr(reply.err.message, bad[i].says), "case %zu: %s", i, reply.err.message);
    /* Still serving, and right. */
    t = split_range(&d, 7, 10, 20, -1, &reply);
    cr_assert(t, "case %zu: %s", i, reply.err.message);
    canon_table *want = split_order(&d, d.a, 10, 20);
    assert_same(want, t, "after a bad range");
    canon_table_free(want);
    canon_table_free(t);
  }
  /* A range and a segment for the same output: malformed. */
  px_msg reply;
  canon_table *t = split_range(&d, 7, 0, 10, d.xs[0], &reply);
  cr_assert_null(t);
  cr_assert(strstr(reply.err.message, "malformed"), "%s", reply.err.message);
  stop(&d);
  assert_no_children();
}

/* A producer output segment whose dictionary codes lie (a hostile or
 * corrupt driver: the worker trusts segments to name their rows' strings,
 * table_decode_own): a code outside the dictionary, or not 0 at a NULL
 * row, is a clean error of the task and the worker serves on; a code in
 * range naming another string is no crash. */
Test(processes_ranges, lying_codes_in_a_segment_are_clean_errors) {
  fake_driver d;
  start(&d, &canon__host, true, 3);
  cr_assert(PX_HOST_HAS_OWN(&canon__host));
  const canon__column *sc = d.a->cols[1];
  cr_assert(sc->dict, "column s has codes");
  uint32_t nv = (uint32_t)sc->dict->values->length;
  size_t vb = (size_t)canon__i64(sc->dict->values)[nv];
  int64_t valid = 0, null = -1;
  while (!canon__valid(sc, valid)) valid++;
  for (int64_t i = 0; i < sc->length && null < 0; i++)
    if (!canon__valid(sc, i)) null = i;
  cr_assert_geq(null, 0, "column s has a NULL");
  struct { int64_t row; uint32_t code; const char *says; } lies[] = {
      {valid, nv, "dictionary code out of range"},
      {valid, UINT32_MAX, "dictionary code out of range"},
      {null, 1, "a NULL row's dictionary code is not 0"},
      {valid, nv - 1, NULL},
  };
  for (size_t k = 0; k < sizeof lies / sizeof *lies; k++) {
    canon_error err;
    int fd;
    cr_assert_eq(px_table_write(&canon__host, d.a, &fd, &err), 0, "%s", err.message);
    struct stat sb;
    cr_assert_eq(fstat(fd, &sb), 0);
    size_t len = (size_t)sb.st_size;
    uint8_t *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    cr_assert_neq(map, MAP_FAILED);
    len = px_table_len(map, len);
    /* The codes section is the encoding's last: codes, value offsets,
     * value bytes (each padded to 8). */
    size_t codes = len - ((vb + 7) & ~(size_t)7) - ((size_t)nv + 1) * 8 - ((1000 * 4 + 7) & ~(size_t)7);
    cr_assert(memcmp(map + codes, sc->codes->data, 1000 * 4) == 0, "found the codes");
    memcpy(map + codes + (size_t)lies[k].row * 4, &lies[k].code, 4);
    munmap(map, (size_t)sb.st_size);
    px_msg reply;
    trust_buckets = !lies[k].says;
    canon_table *t = split_msg(&d, 0, 0, 0, 0, fd, &reply);
    trust_buckets = false;
    close(fd);
    if (lies[k].says) {
      cr_assert_null(t, "case %zu", k);
      cr_assert_eq(reply.err.code, CANON_ERR_PARSE, "case %zu: %s", k, reply.err.message);
      cr_assert(strstr(reply.err.message, lies[k].says), "case %zu: %s", k, reply.err.message);
    } else {
      cr_assert(t, "case %zu: %s", k, reply.err.message);
      cr_assert_eq(canon_table_num_rows(t), 1000);
      canon_table_free(t);
    }
    /* Still serving, and right. */
    t = split_range(&d, 7, 10, 20, -1, &reply);
    cr_assert(t, "case %zu: %s", k, reply.err.message);
    canon_table *want = split_order(&d, d.a, 10, 20);
    assert_same(want, t, "after a lying segment");
    canon_table_free(want);
    canon_table_free(t);
  }
  stop(&d);
  assert_no_children();
}

/* ---- held outputs and concatenation orders (PX_F_HOLD, PX_CATWRITE) ------------- */

/* Send a PX_CATWRITE for `part` of job `job` with fds; the reply's error. */
static int catwrite(fake_driver *d, uint64_t job, int part, const int *fds, int nfds, canon_error *e) {
  px_msg m, reply;
  memset(&m, 0, sizeof m);
  m.type = PX_CATWRITE;
  m.job_seq = job;
  m.part = part;
  cr_assert_eq(px_send(d->sock, &m, fds, nfds), 0);
  int *rfds = NULL;
  cr_assert_eq(px_recv(d->sock, &reply, &rfds), 1, "the worker died");
  cr_assert_eq(reply.type, PX_REPLY);
  cr_assert_eq(reply.part, part);
  cr_assert_eq(reply.nfds, 0u);
  free(rfds);
  *e = reply.err;
  return reply.err.code;
}

/* A worker holds its scan outputs and answers with their sketches; the
 * concatenation planned from them and written by the worker part by part
 * is table a; orders for parts it does not hold, of another job, without
 * their descriptors or not orders at all are clean errors, and it serves
 * on; after PX_UNHOLD it holds nothing. */
Test(processes_ranges, held_outputs_are_written_where_ordered) {
  fake_driver d;
  start(&d, &canon__host, true, 3);
  const uint8_t *sk[3];
  size_t len[3];
  for (int p = 0; p < 3; p++) {
    px_msg m, reply;
    memset(&m, 0, sizeof m);
    m.type = PX_RUN;
    m.stage = 0;
    m.part = p;
    m.flags = PX_F_HOLD;
    int *rfds = NULL;
    cr_assert_eq(ask(&d, &m, NULL, 0, &reply, &rfds), 1, "%s", reply.err.message);
    cr_assert(reply.flags & PX_F_HOLD);
    cr_assert_eq(px_seg_map(rfds[0], &sk[p], &len[p]), 0);
    uint64_t rows;
    memcpy(&rows, sk[p] + 8, 8);
    cr_assert_eq(rows, (uint64_t)reply.nrows, "the sketch's rows are not the reply's");
    close(rfds[0]);
    free(rfds);
  }
  canon_error err;
  canon__rcat *c = canon__rcat_plan(d.a->schema, sk, len, 3, &err);
  cr_assert(c, "%s", err.message);
  for (int p = 0; p < 3; p++) px_seg_unmap(sk[p], len[p]);
  size_t n = canon__rcat_len(c);
  uint8_t *map;
  int fd = px_table_seg_create(n, &map);
  cr_assert_geq(fd, 0);
  cr_assert_eq(canon__rcat_put_head(c, map, n, &err), 0, "%s", err.message);
  int ofd[3];
  for (int p = 0; p < 3; p++) {
    size_t olen = canon__rcat_order_size(c, p);
    uint8_t *o = malloc(olen);
    cr_assert_eq(canon__rcat_order_into(c, p, o, olen, &err), 0);
    cr_assert_eq(px_bytes_write(o, olen, &ofd[p], &err), 0);
    free(o);
  }
  canon_error e;
  /* Lies first: each a clean error, and nothing written. */
  int fds[2] = {fd, ofd[0]};
  cr_assert_neq(catwrite(&d, 1, 7, fds, 2, &e), 0, "a part it does not hold");
  cr_assert(strstr(e.message, "no output of partition 7"), "%s", e.message);
  cr_assert_neq(catwrite(&d, 2, 0, fds, 2, &e), 0, "another job's");
  cr_assert_neq(catwrite(&d, 1, 0, fds, 1, &e), 0, "without its order");
  int swapped[2] = {ofd[0], fd};
  cr_assert_neq(catwrite(&d, 1, 0, swapped, 2, &e), 0, "the order and the table swapped");
  int other[2] = {fd, ofd[1]};
  cr_assert_neq(catwrite(&d, 1, 0, other, 2, &e), 0, "another part's order");
  cr_assert_eq(e.code, CANON_ERR_INVALID, "%s", e.message);
  /* Then as ordered, in any order. */
  for (int p = 2; p >= 0; p--) {
    int f[2] = {fd, ofd[p]};
    cr_assert_eq(catwrite(&d, 1, p, f, 2, &e), 0, "part %d: %s", p, e.message);
    close(ofd[p]);
  }
  canon_table *got = canon__table_decode(map, n, &err);
  cr_assert(got, "%s", err.message);
  assert_same(d.a, got, "the concatenation the worker wrote");
  canon_table_free(got);
  /* A written output is let go; so are all of them on PX_UNHOLD. */
  px_msg m, reply;
  memset(&m, 0, sizeof m);
  m.type = PX_RUN;
  m.stage = 0;
  m.part = 1;
  m.flags = PX_F_HOLD;
  int *rfds = NULL;
  cr_assert_eq(ask(&d, &m, NULL, 0, &reply, &rfds), 1, "%s", reply.err.message);
  close(rfds[0]);
  free(rfds);
  memset(&m, 0, sizeof m);
  m.type = PX_UNHOLD;
  m.job_seq = 1;
  cr_assert_eq(px_send(d.sock, &m, NULL, 0), 0);
  size_t olen = canon__rcat_order_size(c, 1);
  uint8_t *o = malloc(olen);
  cr_assert_eq(canon__rcat_order_into(c, 1, o, olen, &err), 0);
  int ofd1;
  cr_assert_eq(px_bytes_write(o, olen, &ofd1, &err), 0);
  free(o);
  int g[2] = {fd, ofd1};
  cr_assert_neq(catwrite(&d, 1, 1, g, 2, &e), 0, "an output let go was still held");
  close(ofd1);
  canon__rcat_free(c);
  px_seg_unmap(map, n);
  close(fd);
  stop(&d);
  assert_no_children();
}

/* A big table segment is faulted in by several threads, 64 MiB at a time:
 * every byte is there, zero and writable, up to a size that is not a
 * multiple of the chunk. */
Test(segments, a_big_table_segment_is_populated_whole) {
  size_t size = ((size_t)200 << 20) + 12345;
  uint8_t *map;
  int fd = px_table_seg_create(size, &map);
  cr_assert_geq(fd, 0, "%s", strerror(errno));
  struct stat sb;
  cr_assert_eq(fstat(fd, &sb), 0);
  cr_assert_eq((size_t)sb.st_size, size);
  for (size_t at = 0; at < size; at += ((size_t)1 << 20) - 1) {
    cr_assert_eq(map[at], 0);
    map[at] = 1;
  }
  map[size - 1] = 2;
  const uint8_t *ro;
  size_t rsize;
  cr_assert_eq(px_seg_map(fd, &ro, &rsize), 0);
  cr_assert_eq(rsize, size);
  cr_assert_eq(ro[size - 1], 2);
  cr_assert_eq(ro[((size_t)1 << 20) - 1], 1);
  px_seg_unmap(ro, rsize);
  px_seg_unmap(map, size);
  close(fd);
}
