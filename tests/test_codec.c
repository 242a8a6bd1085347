/* test_codec.c — the serialization the processes engine (and later MPI)
 * relies on: the table codec (bit-exact round trips, hostile input refused
 * cleanly), the job codec (every op kind, in-memory tables, persisted
 * results, CSV ranges: the rebuilt job has the sender's stages and gives
 * the same answer) and exchange states shipped between two copies of a
 * job. */
#include "codec_testutil.h"

#include "canon_testing.h"
#include "physical.h"
#include "rowops.h"

#include <math.h>

/* ---- table codec ------------------------------------------------------------ */

/* A table of every type with NULLs, odd floats and awkward strings. */
static canon_table *every_type(void) {
  canon_error err;
  canon_schema *s = canon_schema_parse(
      "b:bool,i:int64,f:float64,s:string,d:date,t:timestamp", &err);
  cr_assert(s, "%s", err.message);
  canon_builder *b = canon_builder_new(s, &err);
  cr_assert(b);
  const double fs[] = {-0.0, NAN, INFINITY, -INFINITY, 1e-310, 3.5, 0.0, -1.25, 7.0, 2.0};
  for (int r = 0; r < 10; r++) {
    /* Every column NULL somewhere, in different rows. */
    if (r % 3 == 0) canon_builder_append_null(b, 0); else canon_builder_append_bool(b, 0, r % 2);
    if (r == 4) canon_builder_append_null(b, 1); else canon_builder_append_int64(b, 1, INT64_MIN + r);
    if (r == 9) canon_builder_append_null(b, 2); else canon_builder_append_float64(b, 2, fs[r]);
    if (r == 1 || r == 8) canon_builder_append_null(b, 3);
    else if (r == 2) canon_builder_append_string(b, 3, "a\0b", 3); /* NUL inside */
    else if (r == 5) canon_builder_append_string(b, 3, "", 0);
    else canon_builder_append_string(b, 3, "h\xc3\xa9llo", 6);
    if (r == 7) canon_builder_append_null(b, 4); else canon_builder_append_date(b, 4, -719162 + r);
    if (r == 0) canon_builder_append_null(b, 5); else canon_builder_append_timestamp(b, 5, INT64_MAX - r);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  return t;
}


Test(codec, table_round_trip_is_bit_exact_for_every_type) {
  canon_error err;
  canon_table *t = every_type();
  size_t len, len2;
  uint8_t *buf = ct_encode(t, &len);
  cr_assert_eq(len % 8, 0);
  canon_table *u = canon__table_decode(buf, len, &err);
  cr_assert(u, "%s", err.message);
  ct_assert_same_bits(t, u);
  uint8_t *again = ct_encode(u, &len2);
  cr_assert(len == len2 && memcmp(buf, again, len) == 0, "re-encoding differs");
  /* A slice: string offsets that do not start at 0 are rebased. */
  canon_table *sl = canon__table_slice(t, 3, 5, &err);
  cr_assert(sl);
  free(buf);
  buf = ct_encode(sl, &len);
  canon_table *v = canon__table_decode(buf, len, &err);
  cr_assert(v, "%s", err.message);
  ct_assert_same_bits(sl, v);
  cr_assert_eq(canon_testing_compare(sl, v, CANON_TESTING_EXACT, NULL, 0, NULL), 0);
  cr_assert_eq(canon__table_encoded_rows(buf, len, &err), 5);
  free(buf);
  free(again);
  canon_table_free(t);
  canon_table_free(u);
  canon_table_free(sl);
  canon_table_free(v);
}

Test(codec, empty_and_columnless_tables) {
  canon_error err;
  canon_table *t = canon_testing_table("a:string,b:int64", "", &err);
  cr_assert(t, "%s", err.message);
  size_t len;
  uint8_t *buf = ct_encode(t, &len);
  canon_table *u = canon__table_decode(buf, len, &err);
  cr_assert(u, "%s", err.message);
  cr_assert_eq(u->nrows, 0);
  cr_assert(canon__schema_equal(t->schema, u->schema));
  free(buf);
  canon_table_free(u);
  /* No columns, some rows (what a count-only projection can make). */
  canon_schema *none = canon_schema_new();
  canon_table *z = canon__table_make(none, NULL, 4, &err);
  cr_assert(z);
  buf = ct_encode(z, &len);
  u = canon__table_decode(buf, len, &err);
  cr_assert(u, "%s", err.message);
  cr_assert_eq(u->nrows, 4);
  cr_assert_eq(u->schema->n, 0);
  free(buf);
  canon_table_free(u);
  canon_table_free(z);
  canon_schema_free(none);
  canon_table_free(t);
}

/* Decoding must fail with CANON_ERR_PARSE or give a table that can be used
 * (encoded again, written as CSV); run under ASan this finds reads outside
 * the buffer. */
static void decode_or_reject(const uint8_t *buf, size_t len) {
  canon_error err;
  canon_error_clear(&err);
  canon_table *t = canon__table_decode(buf, len, &err);
  if (!t) {
    cr_assert_eq(err.code, CANON_ERR_PARSE, "code %d: %s", err.code, err.message);
    return;
  }
  size_t n;
  uint8_t *again = ct_encode(t, &n);
  free(again);
  free(tu_csv(t));
  canon_table_free(t);
}

Test(codec, corrupted_and_truncated_encodings_are_refused) {
  canon_error err;
  canon_table *t = canon_testing_table("k:string,v:int64,f:bool,x:float64,d:date",
                                       "a,1,true,1.5,2020-01-02\n,,false,,\nccc,3,,-2,\n", &err);
  cr_assert(t, "%s", err.message);
  size_t len;
  uint8_t *buf = ct_encode(t, &len);
  uint8_t *copy = malloc(len + 8);
  cr_assert(copy);
  const uint8_t masks[] = {0x01, 0x02, 0x10, 0x80, 0xFF};
  for (size_t i = 0; i < len; i++)
    for (size_t m = 0; m < sizeof masks; m++) {
      memcpy(copy, buf, len);
      copy[i] ^= masks[m];
      decode_or_reject(copy, len);
    }
  /* Every proper prefix is refused (the header holds the length). */
  for (size_t n = 0; n < len; n++) {
    canon_error_clear(&err);
    cr_assert_null(canon__table_decode(buf, n, &err), "prefix %zu", n);
    cr_assert_eq(err.code, CANON_ERR_PARSE);
  }
  /* So are trailing bytes. */
  memcpy(copy, buf, len);
  memset(copy + len, 0, 8);
  cr_assert_null(canon__table_decode(copy, len + 8, &err));
  cr_assert_null(canon__table_decode(NULL, 0, &err));
  free(copy);
  free(buf);
  canon_table_free(t);
}

/* Specific lies a hostile encoding can tell, each refused. */
Test(codec, inconsistent_fields_are_refused) {
  canon_error err;
  canon_table *t = canon_testing_table("k:string,b:bool", "ab,true\n,false\nc,\n", &err);
  cr_assert(t);
  size_t len;
  uint8_t *buf = ct_encode(t, &len);
  uint8_t *c = malloc(len);
  /* header: 32 bytes; column descriptors: 40 bytes each. */
  struct { size_t at; uint64_t v; int width; const char *what; } lies[] = {
      {8, 1000000, 8, "row count"},
      {8, (uint64_t)-1, 8, "negative rows"},
      {32 + 8, 0, 8, "NULL count without its NULLs"},
      {32 + 8, 3, 8, "NULL count larger than the NULLs"},
      {32 + 24, 8, 8, "offsets size"},
      {32 + 32, 1u << 30, 8, "string bytes"},
      {32 + 4, 0, 4, "empty name"},
      {32, 99, 4, "unknown type"},
      {72 + 16, 0, 8, "bitmap dropped"},
  };
  for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
    memcpy(c, buf, len);
    memcpy(c + lies[i].at, &lies[i].v, (size_t)lies[i].width);
    canon_error_clear(&err);
    cr_assert_null(canon__table_decode(c, len, &err), "%s accepted", lies[i].what);
    cr_assert_eq(err.code, CANON_ERR_PARSE, "%s: %s", lies[i].what, err.message);
  }
  /* Duplicate names: rename the second column "k" (same length as "b"
   * would need; both are one byte). */
  memcpy(c, buf, len);
  size_t names = 32 + 2 * 40;
  cr_assert_eq(c[names], 'k');
  c[names + 1] = 'k';
  cr_assert_null(canon__table_decode(c, len, &err));
  cr_assert(strstr(err.message, "duplicate"), "%s", err.message);
  free(c);
  free(buf);
  canon_table_free(t);
}

/* ---- job codec ----------------------------------------------------------------- */

extern const canon_host canon__host;

static const char *SALES = TU_SALES_CSV;

static int group_size(const canon_table *g, canon_builder *out, void *user, canon_error *err) {
  (void)user, (void)err;
  return canon_builder_append_int64(out, 0, canon_table_num_rows(g));
}

static canon_df *ok(canon_df *df, canon_error *err) {
  cr_assert(df, "%s", err->message);
  return df;
}

static canon_df *sales(canon_session *s, const char *dir) {
  char path[512];
  canon_error err;
  snprintf(path, sizeof path, "%s/sales.csv", dir);
  canon_csv_options o = {.schema = "region:string,item:string,units:int64,price:float64"};
  return ok(canon_read_csv(s, path, &o, &err), &err);
}

/* An in-memory table whose strings cannot travel in plan JSON (NUL). */
static canon_df *items(canon_session *s) {
  canon_error err;
  canon_table *t = canon_testing_table("item:string,color:string",
                                       "apple,red\npear,green\nkiwi,brown\nplum,\n", &err);
  cr_assert(t, "%s", err.message);
  canon_schema *sch = canon__schema_copy(t->schema);
  canon_builder *b = canon_builder_new(sch, &err);
  for (int64_t r = 0; r < t->nrows; r++) canon_builder_append_row(b, t, r);
  canon_builder_append_string(b, 0, "fig", 3);
  canon_builder_append_string(b, 1, "pur\0ple", 7);
  canon_table *u = canon_builder_finish(b, &err);
  cr_assert(u, "%s", err.message);
  canon_df *df = ok(canon_from_table(s, u, &err), &err);
  canon_builder_free(b);
  canon_schema_free(sch);
  canon_table_free(t);
  canon_table_free(u);
  return df;
}

#define NPLANS 9

/* Plans that together use every node kind (canon__node_kind). */
static canon_df *make_plan(canon_session *s, const char *dir, int which) {
  canon_error err;
  const char *region[] = {"region"}, *item[] = {"item"}, *units[] = {"units"};
  canon_sort_key by_units[] = {{.column = "units", .descending = 1, .nulls_first = 1},
                               {.column = "item"}};
  canon_df *a = sales(s, dir);
  switch (which) {
  case 0: { /* read_csv, filter, assign, select, sort, limit */
    canon_df *f = ok(canon_filter(a, canon_gt(canon_col("units"), canon_lit_int64(1)), &err), &err);
    canon_expr *e[] = {canon_mul(canon_col("units"), canon_col("price"))};
    const char *n[] = {"revenue"};
    canon_df *g = ok(canon_assign(f, e, n, 1, &err), &err);
    canon_expr *sel[] = {canon_col("item"), canon_col("units"), canon_col("revenue")};
    canon_df *h = ok(canon_select(g, sel, NULL, 3, &err), &err);
    return ok(canon_limit(ok(canon_sort(h, by_units, 2, &err), &err), 4, &err), &err);
  }
  case 1: { /* aggregate, rename, drop, cast */
    canon_expr *aggs[] = {canon_count_star(), canon_sum(canon_col("units")),
                          canon_mean(canon_col("price"))};
    const char *names[] = {"n", "units", "avg"};
    canon_df *g = ok(canon_aggregate(a, region, 1, aggs, names, 3, &err), &err);
    const char *from[] = {"n"}, *to[] = {"rows"}, *dropped[] = {"avg"};
    canon_df *r = ok(canon_rename(g, from, to, 1, &err), &err);
    canon_df *d = ok(canon_drop(r, dropped, 1, &err), &err);
    canon_type t[] = {CANON_FLOAT64};
    return ok(canon_cast_columns(d, units, t, 1, 0, &err), &err);
  }
  case 2: { /* transform by keys with presort, then without keys over num */
    canon_partition_spec spec = {.by = region, .num_by = 1, .presort = by_units, .num_presort = 1};
    canon_df *t = ok(canon_transform(a, "tc_group_size", "n:int64", &spec, &err), &err);
    canon_partition_spec num = {.num = 2};
    return ok(canon_transform(t, "tc_group_size", "n:int64", &num, &err), &err);
  }
  case 3: { /* dropna, fillna, take by keys, sample by fraction */
    canon_df *d = ok(canon_dropna(a, 0, region, 1, -1, &err), &err);
    canon_expr *v[] = {canon_lit_int64(0)};
    canon_df *f = ok(canon_fillna(d, units, v, 1, &err), &err);
    canon_df *t = ok(canon_take(f, 2, by_units, 2, region, 1, &err), &err);
    return ok(canon_sample(t, 0.5, -1, 42, &err), &err);
  }
  case 4: /* sample n (local pick, gather, final pick) */
    return ok(canon_sample(a, -1, 4, 7, &err), &err);
  case 5: { /* repartition, persist (computed), distinct */
    canon_df *r = ok(canon_repartition(a, 2, NULL, 0, &err), &err);
    canon_df *p = ok(canon_persist(r, &err), &err);
    canon_df *h = ok(canon_repartition(p, 0, item, 1, &err), &err);
    return ok(canon_distinct(h, item, 1, &err), &err);
  }
  case 6: { /* joins: hash, broadcast of an in-memory table */
    canon_join_options hash = {.strategy = CANON_JOIN_HASH, .right_suffix = "_r"};
    canon_df *j = ok(canon_join(a, items(s), CANON_JOIN_LEFT, item, NULL, 1, &hash, &err), &err);
    canon_join_options bc = {.strategy = CANON_JOIN_BROADCAST, .nulls_equal = 1};
    return ok(canon_join(j, items(s), CANON_JOIN_SEMI, item, NULL, 1, &bc, &err), &err);
  }
  case 7: { /* union_all, union, intersect, intersect_all */
    canon_expr *e[] = {canon_col("item")};
    canon_df *x = ok(canon_select(a, e, NULL, 1, &err), &err);
    canon_expr *e2[] = {canon_col("item")};
    canon_df *y = ok(canon_select(items(s), e2, NULL, 1, &err), &err);
    canon_df *u = ok(canon_union_all(x, y, &err), &err);
    canon_df *v = ok(canon_union(u, x, &err), &err);
    canon_df *w = ok(canon_intersect(v, y, &err), &err);
    return ok(canon_intersect_all(u, w, &err), &err);
  }
  default: { /* except, except_all */
    canon_expr *e[] = {canon_col("item")};
    canon_df *x = ok(canon_select(a, e, NULL, 1, &err), &err);
    canon_expr *e2[] = {canon_col("item")};
    canon_df *y = ok(canon_select(items(s), e2, NULL, 1, &err), &err);
    canon_expr *e3[] = {canon_col("item")};
    canon_df *z = ok(canon_filter(ok(canon_select(a, e3, NULL, 1, &err), &err),
                                  canon_eq(canon_col("item"), canon_lit_string("kiwi")), &err),
                     &err);
    return ok(canon_except_all(ok(canon_except(x, z, &err), &err), y, &err), &err);
  }
  }
}

/* The two jobs have the same stages, exchanges, operators and ranges. */
static void assert_same_layout(const canon_job *a, const canon_job *b) {
  cr_assert_eq(a->nstages, b->nstages);
  cr_assert_eq(a->nparts, b->nparts);
  for (int s = 0; s < a->nstages; s++) {
    const canon__stage *x = &a->stages[s], *y = &b->stages[s];
    cr_assert_str_eq(x->name, y->name, "stage %d", s);
    cr_assert_eq(x->nparts, y->nparts, "stage %d", s);
    cr_assert_eq(x->ninputs, y->ninputs, "stage %d", s);
    cr_assert_eq(x->nops, y->nops, "stage %d", s);
    for (int i = 0; i < x->ninputs; i++) {
      cr_assert_eq(x->in[i].stage, y->in[i].stage);
      cr_assert_eq(x->in[i].kind, y->in[i].kind);
      cr_assert_eq(x->in[i].nkeys, y->in[i].nkeys);
    }
    for (int i = 0; i < x->nops; i++) cr_assert_eq(x->ops[i].kind, y->ops[i].kind);
    cr_assert_eq(x->ranges == NULL, y->ranges == NULL, "stage %d", s);
    if (x->ranges) cr_assert(memcmp(x->ranges, y->ranges, (size_t)x->nparts * sizeof *x->ranges) == 0);
  }
}

/* Run a job like the serial engine, but with the exchanges prepared in
 * `prep` (from encoded outputs) and everything else in `exec`, another
 * copy of the job, the states shipped between them encoded: what the
 * processes engine does across processes. */
static canon_table *run_shipped(canon_job *prep, canon_job *exec) {
  const canon_host *h = &canon__host;
  canon_error err;
  int S = exec->nstages;
  canon_table ***outs = calloc((size_t)S, sizeof *outs);
  for (int s = 0; s < S; s++) {
    int P = exec->stages[s].nparts;
    canon_table **in[2] = {NULL, NULL};
    for (int i = 0; i < exec->stages[s].ninputs; i++) {
      int c = exec->stages[s].in[i].stage, C = exec->stages[c].nparts;
      const uint8_t **enc = calloc((size_t)C, sizeof *enc);
      size_t *lens = calloc((size_t)C, sizeof *lens);
      for (int k = 0; k < C; k++) enc[k] = ct_encode(outs[c][k], &lens[k]);
      cr_assert_eq(h->exchange_prepare_encoded(prep, s, i, enc, lens, C, &err), 0, "%s", err.message);
      for (int k = 0; k < C; k++) free((void *)enc[k]);
      free(enc);
      free(lens);
      uint8_t *st;
      size_t stlen;
      cr_assert_eq(h->exchange_state_encode(prep, s, i, &st, &stlen, &err), 0, "%s", err.message);
      cr_assert_eq(h->exchange_state_decode(exec, s, i, st, stlen, &err), 0, "%s", err.message);
      free(st);
      canon_table **b = calloc((size_t)C * (size_t)P, sizeof *b), **parts = calloc((size_t)C, sizeof *parts);
      for (int k = 0; k < C; k++)
        cr_assert_eq(h->exchange_split(exec, s, i, k, outs[c][k], b + (size_t)k * P, &err), 0, "%s",
                     err.message);
      in[i] = calloc((size_t)P, sizeof *in[i]);
      for (int p = 0; p < P; p++) {
        for (int k = 0; k < C; k++) parts[k] = b[(size_t)k * P + p];
        cr_assert(in[i][p] = h->concat(parts, C, &err));
      }
      for (int k = 0; k < C * P; k++) canon_table_free(b[k]);
      for (int k = 0; k < C; k++) canon_table_free(outs[c][k]);
      free(b);
      free(parts);
      free(outs[c]);
      outs[c] = NULL;
    }
    outs[s] = calloc((size_t)P, sizeof *outs[s]);
    for (int p = 0; p < P; p++) {
      canon_table *ti[2] = {in[0] ? in[0][p] : NULL, in[1] ? in[1][p] : NULL};
      cr_assert_eq(h->run_task(exec, s, p, ti, &outs[s][p], &err), 0, "%s", err.message);
      canon_table_free(ti[0]);
      canon_table_free(ti[1]);
    }
    free(in[0]);
    free(in[1]);
  }
  int P = exec->stages[S - 1].nparts;
  canon_table *all = canon__table_concat(outs[S - 1], P, &err);
  cr_assert(all, "%s", err.message);
  for (int p = 0; p < P; p++) canon_table_free(outs[S - 1][p]);
  free(outs[S - 1]);
  free(outs);
  return all;
}

Test(codec, job_round_trip_keeps_stages_and_results_for_every_op) {
  canon_error err;
  cr_assert_eq(canon_register_transform("tc_group_size", group_size, NULL, &err), 0);
  char *dir = tu_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/sales.csv", dir);
  tu_write_file(path, SALES);
  bool seen[CANON__N__COUNT] = {false};
  const int parts[] = {1, 3};
  for (int pi = 0; pi < 2; pi++) {
    char engine[64];
    snprintf(engine, sizeof engine, "serial:partitions=%d", parts[pi]);
    canon_session *s = tu_open(engine);
    for (int w = 0; w < NPLANS; w++) {
      canon_df *root = make_plan(s, dir, w);
      for (int i = 0; i < s->nnodes; i++) seen[s->nodes[i]->kind] = true;
      canon_table *expect = canon_collect(root, &err); /* computes the persist */
      cr_assert(expect, "plan %d: %s", w, err.message);
      canon_job *job = canon__job_new(root, parts[pi], &err);
      cr_assert(job, "%s", err.message);
      uint8_t *buf, *buf2;
      size_t len, len2;
      cr_assert_eq(canon__host.job_encode(job, &buf, &len, &err), 0, "plan %d: %s", w, err.message);
      canon_job *back = canon__host.job_decode(buf, len, &err);
      cr_assert(back, "plan %d: %s", w, err.message);
      assert_same_layout(job, back);
      /* Encoding the rebuilt job gives the same bytes. */
      cr_assert_eq(canon__host.job_encode(back, &buf2, &len2, &err), 0, "%s", err.message);
      cr_assert(len == len2 && memcmp(buf, buf2, len) == 0, "plan %d: re-encoding differs", w);
      canon_table *got = run_shipped(job, back);
      char *diff = NULL;
      cr_assert_eq(canon_testing_compare(expect, got, CANON_TESTING_EXACT, NULL, 0, &diff), 0,
                   "plan %d at %d partitions:\n%s", w, parts[pi], diff ? diff : "");
      canon_table_free(got);
      canon_table_free(expect);
      canon__host.job_free(back);
      canon__job_free(job);
      free(buf);
      free(buf2);
    }
    canon_session_close(s);
  }
  for (int k = 1; k < CANON__N__COUNT; k++)
    cr_assert(seen[k], "no plan uses node kind %s", canon__node_kind_name((canon__node_kind)k));
  tu_rmdir(dir);
  free(dir);
}

/* A truncated or corrupted job encoding is refused without a crash. */
Test(codec, corrupted_job_encodings_are_refused) {
  canon_error err;
  char *dir = tu_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/sales.csv", dir);
  tu_write_file(path, SALES);
  canon_session *s = tu_open("serial:partitions=2");
  canon_df *root = make_plan(s, dir, 6);
  canon_job *job = canon__job_new(root, 2, &err);
  cr_assert(job, "%s", err.message);
  uint8_t *buf;
  size_t len;
  cr_assert_eq(canon__job_encode(job, &buf, &len, &err), 0, "%s", err.message);
  for (size_t n = 0; n < len; n += 1 + n / 16) {
    canon_job *j = canon__job_decode(buf, n, &err);
    cr_assert_null(j, "prefix %zu accepted", n);
  }
  uint8_t *c = malloc(len);
  for (size_t i = 0; i < len; i += 1 + i / 64) {
    memcpy(c, buf, len);
    c[i] ^= 0x5A;
    canon_job *j = canon__job_decode(c, len, &err);
    canon__job_decoded_free(j);
  }
  free(c);
  free(buf);
  canon__job_free(job);
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
}

/* ---- views of an encoding (shared decoding) and shared job tables -------- */

static void count_release(void *ctx) { (*(int *)ctx)++; }

/* Whether every buffer of t lies inside [buf, buf + len). */
static bool views_into(const canon_table *t, const uint8_t *buf, size_t len) {
  for (int c = 0; c < t->schema->n; c++) {
    const canon__buffer *bs[] = {t->cols[c]->validity, t->cols[c]->values, t->cols[c]->strdata};
    for (int k = 0; k < 3; k++)
      if (bs[k] && (bs[k]->data < buf || bs[k]->data + bs[k]->size > buf + len)) return false;
  }
  return true;
}

Test(codec, shared_decoding_views_the_encoding_and_releases_it_once) {
  canon_error err;
  canon_table *t = every_type();
  size_t len;
  uint8_t *buf = ct_encode(t, &len);
  int released = 0;
  canon_table *u = canon__table_decode_shared(buf, len, count_release, &released, &err);
  cr_assert(u, "%s", err.message);
  ct_assert_same_bits(t, u);
  cr_assert(views_into(u, buf, len), "decoded columns copy the encoding");
  /* Re-encoding the view gives the same bytes. */
  size_t len2;
  uint8_t *again = ct_encode(u, &len2);
  cr_assert(len == len2 && memcmp(buf, again, len) == 0);
  free(again);
  /* Tables made from the view keep the encoding alive. */
  canon_table *sl = canon__table_slice(u, 2, 6, &err), *sh = canon__table_share(u, &err);
  cr_assert(sl && sh);
  canon_table_free(u);
  cr_assert_eq(released, 0);
  canon_table *sl2 = canon__table_slice(t, 2, 6, &err);
  ct_assert_same_bits(sl2, sl);
  canon_table_free(sl2);
  canon_table_free(sl);
  cr_assert_eq(released, 0);
  canon_table_free(sh);
  cr_assert_eq(released, 1);
  /* Not 8-byte aligned: decoded into copies, released at once. */
  uint8_t *odd = malloc(len + 1);
  memcpy(odd + 1, buf, len);
  released = 0;
  u = canon__table_decode_shared(odd + 1, len, count_release, &released, &err);
  cr_assert(u, "%s", err.message);
  cr_assert_eq(released, 1);
  cr_assert(!views_into(u, odd + 1, len));
  ct_assert_same_bits(t, u);
  canon_table_free(u);
  cr_assert_eq(released, 1);
  free(odd);
  /* Refused encodings are released too, once. */
  for (size_t n = 0; n < len; n += 1 + n / 8) {
    released = 0;
    canon_error_clear(&err);
    cr_assert_null(canon__table_decode_shared(buf, n, count_release, &released, &err));
    cr_assert_eq(err.code, CANON_ERR_PARSE);
    cr_assert_eq(released, 1, "prefix %zu", n);
  }
  uint8_t *c = malloc(len);
  for (size_t i = 0; i < len; i++) {
    memcpy(c, buf, len);
    c[i] ^= 0xA5;
    released = 0;
    canon_table *v = canon__table_decode_shared(c, len, count_release, &released, &err);
    if (v) {
      free(tu_csv(v));
      canon_table_free(v);
    }
    cr_assert_eq(released, 1, "byte %zu", i);
  }
  free(c);
  free(buf);
  canon_table_free(t);
}

/* Tables with the same buffers are the same data; a table's data is
 * orphaned once no other table holds one of its columns. */
Test(codec, table_data_identity) {
  canon_error err;
  canon_table *t = every_type(), *u = every_type();
  canon_table *sh = canon__table_share(t, &err);
  cr_assert(canon__table_same_data(t, sh));
  cr_assert(!canon__table_same_data(t, u), "equal values are not the same buffers");
  canon_table *sl = canon__table_slice(t, 0, 3, &err);
  cr_assert(!canon__table_same_data(t, sl));
  cr_assert(!canon__table_data_orphaned(sh));
  canon_table_free(t);
  cr_assert(canon__table_data_orphaned(sh));
  canon_table_free(sl);
  canon_table_free(sh);
  canon_table_free(u);
}

/* The test's "engine": every table of at least min_rows rows is shared. */
typedef struct share_box {
  canon_table *t[64];
  int n;
  int64_t min_rows;
  int fail_code;
} share_box;

static int box_share(void *ctx, const canon_table *t, uint64_t *id, canon_error *err) {
  share_box *b = ctx;
  if (b->fail_code) return canon__seterr(err, b->fail_code, "box refuses");
  *id = 0;
  if (t->nrows < b->min_rows) return 0;
  for (int i = 0; i < b->n; i++)
    if (canon__table_same_data(b->t[i], t)) {
      *id = (uint64_t)i + 1;
      return 0;
    }
  cr_assert_lt(b->n, 64);
  b->t[b->n] = canon__table_share(t, err);
  *id = (uint64_t)++b->n;
  return 0;
}

static const canon_table *box_lookup(void *ctx, uint64_t id, canon_error *err) {
  share_box *b = ctx;
  if (id < 1 || id > (uint64_t)b->n) {
    canon__seterr(err, CANON_ERR_ENGINE, "box has no table %llu", (unsigned long long)id);
    return NULL;
  }
  return b->t[id - 1];
}

Test(codec, jobs_with_shared_tables_rebuild_the_same_job) {
  canon_error err;
  canon_register_transform("tc_group_size", group_size, NULL, &err);
  char *dir = tu_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/sales.csv", dir);
  tu_write_file(path, SALES);
  int shared_jobs = 0;
  for (int w = 0; w < NPLANS; w++)
    for (int64_t min_rows = 0; min_rows <= 4; min_rows += 4) {
      canon_session *s = tu_open("serial:partitions=3");
      canon_df *root = make_plan(s, dir, w);
      canon_table *expect = canon_collect(root, &err);
      cr_assert(expect, "plan %d: %s", w, err.message);
      canon_job *job = canon__job_new(root, 3, &err);
      cr_assert(job, "%s", err.message);
      share_box box = {.min_rows = min_rows};
      uint8_t *buf, *plain;
      size_t len, plen;
      cr_assert_eq(canon__host.job_encode_shared(job, box_share, &box, &buf, &len, &err), 0, "%s",
                   err.message);
      cr_assert_eq(canon__job_encode(job, &plain, &plen, &err), 0, "%s", err.message);
      if (box.n) {
        shared_jobs++;
        cr_assert_lt(len, plen);
        /* Without the engine's tables the job cannot be rebuilt. */
        canon_error_clear(&err);
        cr_assert_null(canon__job_decode(buf, len, &err));
        cr_assert(strstr(err.message, "references shared table"), "%s", err.message);
        share_box empty = {0};
        cr_assert_null(canon__host.job_decode_shared(buf, len, box_lookup, &empty, &err));
        cr_assert(strstr(err.message, "box has no table"), "%s", err.message);
      } else {
        cr_assert(len == plen && memcmp(buf, plain, len) == 0);
      }
      canon_job *back = canon__host.job_decode_shared(buf, len, box_lookup, &box, &err);
      cr_assert(back, "plan %d: %s", w, err.message);
      assert_same_layout(job, back);
      /* The rebuilt job holds the box's buffers, not copies. */
      for (int i = 0; i < back->session->nnodes; i++) {
        const canon_df *n = back->session->nodes[i];
        if (!n->table) continue;
        bool found = false;
        for (int k = 0; k < box.n; k++) found |= canon__table_same_data(box.t[k], n->table);
        cr_assert_eq(found, n->table->nrows >= min_rows, "plan %d node %d", w, i);
      }
      canon_table *got = run_shipped(job, back);
      char *diff = NULL;
      cr_assert_eq(canon_testing_compare(expect, got, CANON_TESTING_EXACT, NULL, 0, &diff), 0,
                   "plan %d:\n%s", w, diff ? diff : "");
      canon_table_free(got);
      canon__host.job_free(back);
      for (int k = 0; k < box.n; k++) canon_table_free(box.t[k]);
      /* A failing share fails the encoding with its code. */
      share_box bad = {.fail_code = CANON_ERR_NOMEM};
      uint8_t *none = NULL;
      size_t nlen = 0;
      int rc = canon__host.job_encode_shared(job, box_share, &bad, &none, &nlen, &err);
      cr_assert(rc == 0 ? box.n == 0 && plen == nlen : rc == CANON_ERR_NOMEM, "rc %d", rc);
      free(none);
      canon_table_free(expect);
      canon__job_free(job);
      free(buf);
      free(plain);
      canon_session_close(s);
    }
  cr_assert_gt(shared_jobs, 0, "no plan shared a table");
  tu_rmdir(dir);
  free(dir);
}
