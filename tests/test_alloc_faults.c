/* test_alloc_faults.c — every allocation of an operation made to fail in
 * turn (alloc.c's fault injection: "the k-th allocation from now fails",
 * k = 1, 2, ... until the operation no longer reaches it).  Each run must
 * either fail cleanly with CANON_ERR_NOMEM or give exactly the right
 * answer, and leak nothing (the ASan build checks that at exit).
 * Operations: concatenations (copying and consuming, coded strings with
 * different dictionaries), the concatenation written into an encoding
 * (by this process, or planned from sketches and written part by part),
 * hash splits into tables and straight into an encoding, encoding and
 * decoding, whole plans (join, filter, aggregate with a median, sort;
 * rows operators) and a load kept whole on each engine. */
#include "codec_testutil.h"

#include "../core/kernels/kernels.h"

#include <stdio.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
/* A leak fails the test here (LeakSanitizer's own report at exit does not
 * fail a Criterion test). */
#define NO_LEAKS(what) cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "%s: memory leaked", what)
#else
#define NO_LEAKS(what) ((void)(what))
#endif

TestSuite(alloc_faults);

/* n rows of int64 (NULLs), strings from `card` values (NULLs), floats. */
static canon_table *table_of(int64_t n, int salt, int card) {
  canon_error err;
  size_t cap = (size_t)n * 48 + 16, at = 0;
  char *text = malloc(cap);
  cr_assert(text);
  for (int64_t r = 0; r < n; r++) {
    int64_t h = (r * 7919 + salt * 104729) % 1009;
    char k[24] = "", s[40] = "";
    if (h % 7) snprintf(k, sizeof k, "%lld", (long long)(h - 500));
    if (h % 5) snprintf(s, sizeof s, h % 3 ? "v%lld" : "a-longer-value-%lld", (long long)((h + salt) % card));
    at += (size_t)snprintf(text + at, cap - at, "%s,%s,%lld.5\n", k, s, (long long)h);
  }
  canon_table *t = canon_table_from_csv_text("k:int64,s:string,f:float64", text, &err);
  free(text);
  cr_assert(t, "%s", err.message);
  t = canon__table_dict_encode(t, &err);
  cr_assert(t, "%s", err.message);
  return t;
}

/* An operation: its answer (NULL, err set, when it failed). */
typedef void *(*op_fn)(void *ctx, canon_error *err);
/* Whether an answer is the right one (called with injection off); frees it. */
typedef bool (*check_fn)(void *ctx, void *answer);

/* Sweep k (every `stride`-th allocation); returns the number of
 * allocations the operation makes.  FROM_K=n in the environment starts at
 * allocation n (to debug one). */
static long sweep_by(const char *what, op_fn op, check_fn check, void *ctx, int stride) {
  for (long k = getenv("FROM_K") ? atol(getenv("FROM_K")) : 1; k < 1000000; k += stride) {
    canon_error err;
    memset(&err, 0, sizeof err);
    canon__alloc_fail_after(k);
    void *answer = op(ctx, &err);
    long left = canon__alloc_fail_pending();
    canon__alloc_fail_after(0);
    if (!answer)
      cr_assert_eq(err.code, CANON_ERR_NOMEM, "%s, allocation %ld failing: code %d: %s", what, k,
                   err.code, err.message);
    else
      cr_assert(check(ctx, answer), "%s, allocation %ld failing: a wrong answer", what, k);
    if (left > 0) {
      cr_assert(answer, "%s: failed without a failing allocation", what);
      NO_LEAKS(what);
      return k - 1;
    }
  }
  cr_assert_fail("%s: never finished", what);
  return 0;
}

static long sweep(const char *what, op_fn op, check_fn check, void *ctx) {
  return sweep_by(what, op, check, ctx, 1);
}

/* ---- tables ---------------------------------------------------------------- */

typedef struct tables_ctx {
  canon_table *parts[3];
  int n;
  char *want;       /* the answer's rows as CSV */
  bool want_codes;  /* column s of the answer has codes */
} tables_ctx;

static bool check_table(void *ctx, void *answer) {
  tables_ctx *c = ctx;
  canon_table *t = answer;
  char *got = tu_csv(t);
  bool ok = strcmp(got, c->want) == 0 && (t->cols[1]->dict != NULL) == c->want_codes;
  free(got);
  canon_table_free(t);
  return ok;
}

static void *op_concat(void *ctx, canon_error *err) {
  tables_ctx *c = ctx;
  return canon__table_concat(c->parts, c->n, err);
}

/* A consuming concatenation of shares of the parts: the heap's (free) or
 * the session's kept table's (keep). */
static void *concat_consumed(tables_ctx *c, bool keep, canon_error *err) {
  canon_table *mine[3];
  int k;
  for (k = 0; k < c->n; k++)
    if (!(mine[k] = canon__table_share(c->parts[k], err))) break;
  if (k < c->n) {
    for (int j = 0; j < k; j++) canon_table_free(mine[j]);
    return NULL;
  }
  return keep ? canon__table_concat_keep(mine, c->n, err) : canon__table_concat_free(mine, c->n, err);
}

static void *op_concat_free(void *ctx, canon_error *err) { return concat_consumed(ctx, false, err); }
static void *op_concat_keep(void *ctx, canon_error *err) { return concat_consumed(ctx, true, err); }

/* The concatenation planned from the parts' sketches and written part by
 * part (concat_remote.c), then decoded. */
static void *op_concat_remote(void *ctx, canon_error *err) {
  tables_ctx *c = ctx;
  uint8_t *sk[3] = {NULL, NULL, NULL}, *buf = NULL;
  size_t len[3];
  canon_table *t = NULL;
  canon__rcat *plan = NULL;
  int p = 0;
  for (; p < c->n; p++) {
    len[p] = canon__table_sketch_size(c->parts[p]);
    cr_assert((sk[p] = malloc(len[p])));
    cr_assert_eq(canon__table_sketch_into(c->parts[p], sk[p], len[p], err), 0);
  }
  if (!(plan = canon__rcat_plan(c->parts[0]->schema, (const uint8_t *const *)sk, len, c->n, err))) goto done;
  size_t n = canon__rcat_len(plan);
  cr_assert((buf = malloc(n)));
  if (canon__rcat_put_head(plan, buf, n, err) != 0) goto done;
  for (p = 0; p < c->n; p++) {
    size_t olen = canon__rcat_order_size(plan, p);
    uint8_t *o = malloc(olen);
    cr_assert(o);
    int rc = canon__rcat_order_into(plan, p, o, olen, err);
    if (rc == 0) rc = canon__rcat_write_part(c->parts[p], p, o, olen, buf, n, err);
    free(o);
    if (rc) goto done;
  }
  t = canon__table_decode(buf, n, err);
done:
  canon__rcat_free(plan);
  free(buf);
  for (p = 0; p < c->n; p++) free(sk[p]);
  return t;
}

static void *op_decode(void *ctx, canon_error *err) {
  tables_ctx *c = ctx;
  size_t len = canon__table_encoded_size(c->parts[0]);
  uint8_t *buf = malloc(len);
  cr_assert(buf);
  canon_table *t = NULL;
  if (canon__table_encode_into(c->parts[0], buf, len, err) == 0) t = canon__table_decode(buf, len, err);
  free(buf);
  return t;
}

static void setup_tables(tables_ctx *c) {
  c->parts[0] = table_of(3000, 1, 40);
  c->parts[1] = table_of(2000, 2, 30); /* another dictionary */
  c->parts[2] = table_of(500, 3, 40);
  c->n = 3;
  canon_error err;
  canon_table *want = canon__table_concat(c->parts, 3, &err);
  cr_assert(want, "%s", err.message);
  c->want = tu_csv(want);
  c->want_codes = want->cols[1]->dict != NULL;
  cr_assert(c->want_codes);
  canon_table_free(want);
}

static void teardown_tables(tables_ctx *c) {
  for (int k = 0; k < c->n; k++) canon_table_free(c->parts[k]);
  free(c->want);
}

Test(alloc_faults, concatenations) {
  tables_ctx c;
  setup_tables(&c);
  cr_assert_gt(sweep("concat", op_concat, check_table, &c), 10);
  cr_assert_gt(sweep("consuming concat", op_concat_free, check_table, &c), 10);
  cr_assert_gt(sweep("persist's concat", op_concat_keep, check_table, &c), 10);
  cr_assert_gt(sweep("concat planned from sketches", op_concat_remote, check_table, &c), 10);
  teardown_tables(&c);
}

Test(alloc_faults, encode_and_decode) {
  tables_ctx c;
  setup_tables(&c);
  /* The answer is parts[0] alone. */
  free(c.want);
  c.want = tu_csv(c.parts[0]);
  cr_assert_gt(sweep("decode", op_decode, check_table, &c), 5);
  teardown_tables(&c);
}

/* ---- encodings ------------------------------------------------------------------ */

typedef struct enc_ctx {
  tables_ctx t;
  uint8_t *want;
  size_t want_len;
  int32_t *bucket; /* split: each row of parts[0]'s bucket */
  int P;
} enc_ctx;

static bool check_bytes(void *ctx, void *answer) {
  enc_ctx *c = ctx;
  ct_mem *b = answer;
  bool ok = b->len == c->want_len && memcmp(b->buf, c->want, b->len) == 0;
  free(b->buf);
  free(b);
  return ok;
}

static void *op_concat_encoded(void *ctx, canon_error *err) {
  enc_ctx *c = ctx;
  ct_mem *b = calloc(1, sizeof *b);
  canon_table *t = canon__table_concat_encoded(c->t.parts, c->t.n, ct_mem_alloc, ct_mem_release, b, err);
  if (!t) {
    free(b->buf);
    free(b);
    return NULL;
  }
  canon_table_free(t);
  return b;
}

static void *op_split_encode(void *ctx, canon_error *err) {
  enc_ctx *c = ctx;
  ct_mem *b = calloc(1, sizeof *b);
  size_t len;
  if (canon__split_encode_scatter(c->t.parts[0], c->bucket, c->P, ct_mem_alloc, b, &len, NULL, err)) {
    free(b->buf);
    free(b);
    return NULL;
  }
  return b;
}

static void *op_split_buckets(void *ctx, canon_error *err) {
  enc_ctx *c = ctx;
  int keys[] = {1};
  canon_table *bk[4];
  if (canon__split_hash(c->t.parts[0], keys, 1, c->P, bk, err)) return NULL;
  ct_mem *b = calloc(1, sizeof *b);
  size_t len;
  int rc = canon__split_encode_buckets(bk, c->P, ct_mem_alloc, b, &len, NULL, err);
  for (int k = 0; k < c->P; k++) canon_table_free(bk[k]);
  if (rc) {
    free(b->buf);
    free(b);
    return NULL;
  }
  return b;
}

Test(alloc_faults, encodings_and_splits) {
  enc_ctx c;
  setup_tables(&c.t);
  canon_error err;
  /* The concatenation written into an encoding: table_encode_into's bytes. */
  canon_table *all = canon__table_concat(c.t.parts, 3, &err);
  cr_assert(all, "%s", err.message);
  c.want = ct_encode(all, &c.want_len);
  canon_table_free(all);
  cr_assert_gt(sweep("concat into an encoding", op_concat_encoded, check_bytes, &c), 5);
  free(c.want);
  /* A hash split of parts[0] on s, into tables and straight into its encoding. */
  c.P = 4;
  int keys[] = {1};
  c.bucket = malloc((size_t)c.t.parts[0]->nrows * sizeof *c.bucket);
  cr_assert_eq(canon__hash_buckets(c.t.parts[0], keys, 1, c.P, 0, c.bucket, &err), 0);
  ct_mem *b = op_split_buckets(&c, &err);
  cr_assert(b, "%s", err.message);
  c.want = b->buf;
  c.want_len = b->len;
  free(b);
  cr_assert_gt(sweep("split into an encoding", op_split_encode, check_bytes, &c), 3);
  cr_assert_gt(sweep("split into tables, encoded", op_split_buckets, check_bytes, &c), 10);
  free(c.want);
  free(c.bucket);
  teardown_tables(&c.t);
}

/* ---- a whole plan on the serial engine ---------------------------------------- */

typedef struct plan_ctx {
  canon_session *s;
  canon_table *t;
  char *csv_path;
  canon_df *df;
  char *want; /* the answer's lines, sorted (some operators' order is unspecified) */
} plan_ctx;

/* t joined with itself on s, filtered, grouped by s (sum, mean, median,
 * count), sorted: most kernels, run by the engine. */
static canon_df *plan_join_aggregate(plan_ctx *c) {
  canon_error err;
  canon_df *a = canon_from_table(c->s, c->t, &err), *b = canon_from_table(c->s, c->t, &err);
  const char *on[] = {"s"};
  canon_join_options jo = {.right_suffix = "_r"};
  canon_df *j = canon_join(a, b, CANON_JOIN_INNER, on, on, 1, &jo, &err);
  canon_df *f = canon_filter(j, canon_gt(canon_col("k"), canon_lit_int64(0)), &err);
  canon_expr *aggs[] = {canon_sum(canon_col("f")), canon_mean(canon_col("k_r")),
                        canon_median(canon_col("f_r")), canon_count_star()};
  const char *names[] = {"sf", "mk", "mf", "n"};
  canon_df *g = canon_aggregate(f, on, 1, aggs, names, 4, &err);
  canon_sort_key keys[] = {{"s", 0, 1}};
  canon_df *df = canon_sort(g, keys, 1, &err);
  cr_assert(df, "%s", err.message);
  return df;
}

/* The CSV file read, unioned with t, rows operators: distinct, dropna,
 * fillna, an expression, the top 2 per group, a sample, except_all. */
static canon_df *plan_rows(plan_ctx *c) {
  canon_error err;
  canon_df *csv = canon_read_csv(c->s, c->csv_path, NULL, &err);
  cr_assert(csv, "%s", err.message);
  canon_df *u = canon_union_all(csv, canon_from_table(c->s, c->t, &err), &err);
  const char *ks[] = {"k", "s"};
  canon_df *d = canon_distinct(u, ks, 2, &err);
  const char *fcol[] = {"f"};
  canon_df *dn = canon_dropna(d, CANON_DROPNA_ANY, fcol, 1, -1, &err);
  const char *scol[] = {"s"};
  canon_expr *fill[] = {canon_lit_string("none")};
  canon_df *fl = canon_fillna(dn, scol, fill, 1, &err);
  canon_expr *e[] = {canon_add(canon_mul(canon_col("k"), canon_lit_int64(2)), canon_lit_int64(1))};
  const char *en[] = {"k2"};
  canon_df *as = canon_assign(fl, e, en, 1, &err);
  canon_sort_key pre[] = {{"f", 1, 0}, {"k", 0, 1}};
  canon_df *tk = canon_take(as, 2, pre, 2, scol, 1, &err);
  canon_df *sm = canon_sample(as, 0.5, -1, 42, &err);
  canon_df *df = canon_except_all(canon_union_all(tk, sm, &err), canon_sample(as, 0.1, -1, 7, &err), &err);
  cr_assert(df, "%s", err.message);
  return df;
}

static void *op_collect(void *ctx, canon_error *err) {
  plan_ctx *c = ctx;
  return canon_collect(c->df, err);
}

/* The CSV file kept whole (persist), made afresh each time (a persisted
 * node keeps its table once made): on an engine running its tasks here,
 * its tasks write into the kept columns (load_sink.c), or build the plain
 * way when those could not be made. */
static void *op_kept_load(void *ctx, canon_error *err) {
  plan_ctx *c = ctx;
  canon_df *read = canon_read_csv(c->s, c->csv_path, NULL, err);
  canon_df *kept = read ? canon_persist(read, err) : NULL;
  return kept ? canon_collect(kept, err) : NULL;
}

static bool check_plan(void *ctx, void *answer) {
  plan_ctx *c = ctx;
  char *csv = tu_csv(answer), *got = tu_sorted_lines(csv);
  bool ok = strcmp(got, c->want) == 0;
  free(csv);
  free(got);
  canon_table_free(answer);
  return ok;
}

static void sweep_plans(const char *engine, int stride) {
  char *dir = tu_tmpdir();
  plan_ctx c = {tu_open(engine), table_of(150, 5, 12), NULL, NULL, NULL};
  size_t n = strlen(dir) + 16;
  c.csv_path = malloc(n);
  snprintf(c.csv_path, n, "%s/t.csv", dir);
  char *text = tu_csv(c.t);
  tu_write_file(c.csv_path, text);
  free(text);
  canon_df *(*plans[])(plan_ctx *) = {plan_join_aggregate, plan_rows, NULL};
  op_fn ops[] = {op_collect, op_collect, op_kept_load};
  const char *what[] = {"join and aggregate", "rows operators", "a load kept whole"};
  for (int p = 0; p < 3; p++) {
    canon_error err;
    c.df = plans[p] ? plans[p](&c) : NULL;
    canon_table *want = ops[p](&c, &err);
    cr_assert(want, "%s: %s", what[p], err.message);
    cr_assert_gt(canon_table_num_rows(want), 0);
    char *csv = tu_csv(want);
    c.want = tu_sorted_lines(csv);
    free(csv);
    canon_table_free(want);
    char label[128];
    snprintf(label, sizeof label, "%s on %s", what[p], engine);
    cr_assert_gt(sweep_by(label, ops[p], check_plan, &c, stride), 50);
    free(c.want);
  }
  canon_table_free(c.t);
  canon_session_close(c.s);
  unlink(c.csv_path);
  free(c.csv_path);
  tu_rmdir(dir);
  free(dir);
}

Test(alloc_faults, plans_on_the_serial_engine) { sweep_plans("serial:partitions=3", 1); }

/* Tasks on two threads: which allocation is the k-th varies from run to
 * run (so every third k is enough), but every failure must be clean. */
Test(alloc_faults, plans_on_the_threads_engine) { sweep_plans("threads:workers=2,partitions=3", 3); }

/* The processes engine's driver (its workers are forked before the
 * failure is armed, so it hits the driver's decoding, concatenations and
 * exchange preparation). */
Test(alloc_faults, plans_on_the_processes_engine) {
  sweep_plans("processes:workers=2,partitions=3", 3);
}
