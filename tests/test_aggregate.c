/* Tests of two-phase aggregation (kernels/aggregate.c): SEMANTICS §5, and
 * the promise that every split of the rows gives the same bits. */
#include "testutil.h"

#include <float.h>
#include <math.h>

#include "canon_testing.h"
#include "kernels.h"

static uint64_t bits(double d) {
  uint64_t b;
  memcpy(&b, &d, 8);
  return b;
}

static canon_table *csv_table(const char *schema, const char *rows) {
  canon_error err;
  canon_error_clear(&err);
  canon_table *t = canon_table_from_csv_text(schema, rows, &err);
  cr_assert(t, "%s", err.message);
  return t;
}

/* How rows are dealt to partitions. */
enum { SPLIT_CONTIGUOUS, SPLIT_ROUND_ROBIN, SPLIT_RANDOM };

typedef struct agg_req {
  const char *const *keys;
  int nkeys;
  canon_expr *const *aggs;  /* unbound; not consumed */
  const char *const *names;
  int naggs;
  bool drop_null_keys;
} agg_req;

/* Aggregate t split into nparts partitions: partial per partition, concat,
 * then final.  Returns the result or NULL with err set. */
static canon_table *run_agg(const canon_table *t, const agg_req *q, int nparts, int mode,
                            uint64_t seed, canon_error *err) {
  canon_error_clear(err);
  int keys[8];
  for (int k = 0; k < q->nkeys; k++) {
    keys[k] = canon_table_find_column(t, q->keys[k]);
    cr_assert(keys[k] >= 0, "key %s", q->keys[k]);
  }
  canon_expr *bound[16];
  canon_schema *out = canon_schema_new();
  for (int k = 0; k < q->nkeys; k++)
    cr_assert_eq(canon_schema_add(out, q->keys[k], canon_table_column_type(t, keys[k]), err), 0);
  for (int i = 0; i < q->naggs; i++) {
    bound[i] = canon__expr_bind(q->aggs[i], canon_table_schema(t), true, err);
    cr_assert(bound[i], "bind: %s", err->message);
    cr_assert_eq(canon_schema_add(out, q->names[i], bound[i]->type, err), 0);
  }
  /* Deal rows to partitions, each keeping its rows in input order. */
  int64_t n = canon_table_num_rows(t);
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
  int *part_of = malloc(sizeof(int) * (size_t)(n ? n : 1));
  uint64_t st = seed * 2654435761u + 1;
  for (int64_t i = 0; i < n; i++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    part_of[i] = mode == SPLIT_CONTIGUOUS    ? (int)(i * nparts / (n ? n : 1))
                 : mode == SPLIT_ROUND_ROBIN ? (int)(i % nparts)
                                             : (int)((st >> 33) % (uint64_t)nparts);
  }
  canon_table *partials[16];
  for (int p = 0; p < nparts; p++) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
      if (part_of[i] == p) idx[m++] = i;
    canon_table *piece = canon__table_take(t, idx, m, err);
    cr_assert(piece, "%s", err->message);
    partials[p] = canon__agg_partial(piece, keys, q->nkeys, bound, q->naggs, q->drop_null_keys,
                                     err);
    canon_table_free(piece);
    cr_assert(partials[p], "partial: %s", err->message);
  }
  canon_table *all = canon__table_concat(partials, nparts, err);
  cr_assert(all, "%s", err->message);
  canon_table *res = canon__agg_final(all, q->nkeys, bound, q->naggs, out, err);
  for (int p = 0; p < nparts; p++) canon_table_free(partials[p]);
  canon_table_free(all);
  for (int i = 0; i < q->naggs; i++) canon_expr_free(bound[i]);
  canon_schema_free(out);
  free(idx);
  free(part_of);
  return res;
}

static canon_table *run_ok(const canon_table *t, const agg_req *q, int nparts, int mode) {
  canon_error err;
  canon_table *r = run_agg(t, q, nparts, mode, 7, &err);
  cr_assert(r, "aggregate failed: %s", err.message);
  return r;
}

/* Result as CSV lines sorted after the header (group order is
 * unspecified; any number of lines).  Floats print in shortest round-trip form, so equal text
 * means equal bits. */
static int cmp_line(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *sorted_csv(const canon_table *t) {
  char *csv = tu_csv(t);
  size_t n = 0, len = strlen(csv);
  for (size_t i = 0; i < len; i++) n += csv[i] == '\n';
  char **lines = malloc((n + 1) * sizeof *lines);
  size_t k = 0;
  for (char *save = NULL, *l = strtok_r(csv, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
    lines[k++] = l;
  if (k > 1) qsort(lines + 1, k - 1, sizeof *lines, cmp_line);
  char *out = malloc(len + 2), *o = out;
  for (size_t i = 0; i < k; i++) o += sprintf(o, "%s\n", lines[i]);
  *o = '\0';
  free(lines);
  free(csv);
  return out;
}

/* Every split (1, 2, 3, 8 partitions; three dealing modes) gives the same
 * result; returns it as sorted CSV. */
static char *same_for_every_split(const canon_table *t, const agg_req *q) {
  canon_table *r1 = run_ok(t, q, 1, SPLIT_CONTIGUOUS);
  char *want = sorted_csv(r1);
  canon_table_free(r1);
  static const int parts[] = {1, 2, 3, 8};
  for (int pi = 0; pi < 4; pi++)
    for (int mode = 0; mode < 3; mode++) {
      canon_table *r = run_ok(t, q, parts[pi], mode);
      char *got = sorted_csv(r);
      cr_assert_str_eq(got, want, "%d partitions, mode %d", parts[pi], mode);
      free(got);
      canon_table_free(r);
    }
  return want;
}

/* Row of t whose first column equals key (string keys), -1 if none. */
static int64_t find_key(const canon_table *t, const char *key) {
  for (int64_t r = 0; r < canon_table_num_rows(t); r++) {
    if (!key) {
      if (canon_table_is_null(t, 0, r)) return r;
      continue;
    }
    size_t len;
    const char *s = canon_table_get_string(t, 0, r, &len);
    if (!canon_table_is_null(t, 0, r) && len == strlen(key) && !memcmp(s, key, len)) return r;
  }
  return -1;
}

static void free_exprs(canon_expr **e, int n) {
  for (int i = 0; i < n; i++) canon_expr_free(e[i]);
}

Test(aggregate, all_null_group_and_null_key_group) {
  canon_table *t = csv_table("k:string,v:int64,f:float64",
                             "a,1,1.5\nb,,\na,2,\nb,,\n,5,2.5\n,,-1\n");
  canon_expr *aggs[] = {canon_count_star(),       canon_count(canon_col("v")),
                        canon_sum(canon_col("v")), canon_sum(canon_col("f")),
                        canon_mean(canon_col("v")), canon_min(canon_col("f")),
                        canon_max(canon_col("v"))};
  const char *names[] = {"n", "nv", "sv", "sf", "mv", "minf", "maxv"};
  const char *keys[] = {"k"};
  agg_req q = {keys, 1, aggs, names, 7, false};
  char *csv = same_for_every_split(t, &q);
  cr_assert_str_eq(csv, "k,n,nv,sv,sf,mv,minf,maxv\n"
                        ",2,1,5,1.5,5.0,-1.0,5\n"
                        "a,2,2,3,1.5,1.5,1.5,2\n"
                        "b,2,0,,,,,\n",
                   "%s", csv);
  free(csv);
  canon_table *r = run_ok(t, &q, 3, SPLIT_RANDOM);
  int64_t b = find_key(r, "b");
  cr_assert(b >= 0);
  cr_assert_eq(canon_table_get_int64(r, 2, b), 0, "count(v) of an all-NULL group is 0");
  cr_assert(!canon_table_is_null(r, 2, b));
  for (int c = 3; c <= 7; c++) cr_assert(canon_table_is_null(r, c, b), "column %d", c);
  cr_assert(find_key(r, NULL) >= 0, "the NULL key is a group");
  canon_table_free(r);
  canon_table_free(t);
  free_exprs(aggs, 7);
}

Test(aggregate, empty_input) {
  canon_table *t = csv_table("k:string,v:int64", "");
  canon_expr *aggs[] = {canon_count_star(), canon_count(canon_col("v")), canon_sum(canon_col("v")),
                        canon_mean(canon_col("v")), canon_min(canon_col("k"))};
  const char *names[] = {"n", "c", "s", "m", "mn"};
  /* No keys: exactly one row, whatever the partition count. */
  agg_req q = {NULL, 0, aggs, names, 5, false};
  char *csv = same_for_every_split(t, &q);
  cr_assert_str_eq(csv, "n,c,s,m,mn\n0,0,,,\n", "%s", csv);
  free(csv);
  canon_table *r = run_ok(t, &q, 8, SPLIT_CONTIGUOUS);
  cr_assert_eq(canon_table_num_rows(r), 1);
  canon_table_free(r);
  /* A partial of empty input emits its one row too. */
  canon_error err;
  canon_expr *b = canon__expr_bind(aggs[2], canon_table_schema(t), true, &err);
  canon_table *p = canon__agg_partial(t, NULL, 0, &b, 1, false, &err);
  cr_assert(p, "%s", err.message);
  cr_assert_eq(canon_table_num_rows(p), 1);
  cr_assert_str_eq(canon_table_column_name(p, 0), "__state0");
  cr_assert_eq(canon_table_column_type(p, 0), CANON_STRING);
  /* A final over no partial rows at all still gives one row. */
  canon_table *none = canon__table_slice(p, 0, 0, &err);
  canon_schema *os = canon_schema_parse("s:int64", &err);
  canon_table *f = canon__agg_final(none, 0, &b, 1, os, &err);
  cr_assert(f, "%s", err.message);
  cr_assert_eq(canon_table_num_rows(f), 1);
  cr_assert(canon_table_is_null(f, 0, 0));
  canon_table_free(f);
  canon_table_free(none);
  canon_table_free(p);
  canon_schema_free(os);
  canon_expr_free(b);
  /* With keys: zero rows. */
  const char *keys[] = {"k"};
  agg_req qk = {keys, 1, aggs, names, 5, false};
  for (int parts = 1; parts <= 3; parts++) {
    r = run_ok(t, &qk, parts, SPLIT_CONTIGUOUS);
    cr_assert_eq(canon_table_num_rows(r), 0);
    cr_assert_eq(canon_table_num_columns(r), 6);
    canon_table_free(r);
  }
  canon_table_free(t);
  free_exprs(aggs, 5);
}

Test(aggregate, drop_null_keys_with_two_keys) {
  canon_table *t = csv_table("a:string,b:int64,v:int64",
                             "x,1,1\nx,,2\n,1,4\n,,8\nx,1,16\ny,2,32\n");
  canon_expr *aggs[] = {canon_sum(canon_col("v")), canon_count_star()};
  const char *names[] = {"s", "n"};
  const char *keys[] = {"a", "b"};
  agg_req keep = {keys, 2, aggs, names, 2, false};
  char *csv = same_for_every_split(t, &keep);
  cr_assert_str_eq(csv, "a,b,s,n\n,,8,1\n,1,4,1\nx,,2,1\nx,1,17,2\ny,2,32,1\n", "%s", csv);
  free(csv);
  agg_req drop = {keys, 2, aggs, names, 2, true};
  csv = same_for_every_split(t, &drop);
  cr_assert_str_eq(csv, "a,b,s,n\nx,1,17,2\ny,2,32,1\n", "%s", csv);
  free(csv);
  canon_table_free(t);
  free_exprs(aggs, 2);
}

Test(aggregate, nan_and_negative_zero_keys) {
  canon_error err;
  canon_schema *s = canon_schema_parse("k:float64,v:int64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  double ks[] = {-0.0, 0.0, NAN, -NAN, 1.0, -0.0};
  for (int i = 0; i < 6; i++) {
    canon_builder_append_float64(b, 0, ks[i]);
    canon_builder_append_int64(b, 1, 1 << i);
  }
  canon_table *t = canon_builder_finish(b, &err);
  canon_expr *aggs[] = {canon_sum(canon_col("v")), canon_min(canon_col("k")),
                        canon_max(canon_col("k"))};
  const char *names[] = {"s", "mn", "mx"};
  const char *keys[] = {"k"};
  agg_req q = {keys, 1, aggs, names, 3, false};
  char *csv = same_for_every_split(t, &q);
  cr_assert_str_eq(csv, "k,s,mn,mx\n0.0,35,0.0,0.0\n1.0,16,1.0,1.0\nNaN,12,NaN,NaN\n", "%s", csv);
  free(csv);
  for (int parts = 1; parts <= 3; parts++) {
    canon_table *r = run_ok(t, &q, parts, SPLIT_ROUND_ROBIN);
    cr_assert_eq(canon_table_num_rows(r), 3);
    for (int64_t i = 0; i < 3; i++) {
      double k = canon_table_get_float64(r, 0, i);
      if (k == 0) {
        cr_assert_eq(bits(k), 0, "key -0.0 group outputs +0.0");
        cr_assert_eq(bits(canon_table_get_float64(r, 2, i)), 0, "min is +0.0");
        cr_assert_eq(bits(canon_table_get_float64(r, 3, i)), 0, "max is +0.0");
      }
      if (k != k) {
        cr_assert_eq(bits(k), 0x7ff8000000000000ULL, "canonical NaN key");
        cr_assert_eq(bits(canon_table_get_float64(r, 3, i)), 0x7ff8000000000000ULL);
      }
    }
    canon_table_free(r);
  }
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(s);
  free_exprs(aggs, 3);
}

Test(aggregate, int64_sum_overflow_only_at_the_end) {
  canon_table *ok = csv_table("v:int64", "9223372036854775807\n1\n-1\n");
  canon_expr *aggs[] = {canon_sum(canon_col("v")), canon_mean(canon_col("v"))};
  const char *names[] = {"s", "m"};
  agg_req q = {NULL, 0, aggs, names, 2, false};
  char *csv = same_for_every_split(ok, &q);
  cr_assert_str_eq(csv, "s,m\n9223372036854775807,3.0744573456182584e+18\n", "%s", csv);
  free(csv);
  canon_table *bad = csv_table("v:int64", "9223372036854775807\n1\n");
  for (int parts = 1; parts <= 3; parts++) {
    canon_error err;
    canon_table *r = run_agg(bad, &q, parts, SPLIT_CONTIGUOUS, 1, &err);
    cr_assert_null(r);
    cr_assert_eq(err.code, CANON_ERR_OVERFLOW);
    cr_assert_str_eq(err.message, "integer overflow in sum(v)");
  }
  /* Far below INT64_MIN, then back. */
  canon_table *back = csv_table("v:int64", "-9223372036854775808\n-9223372036854775808\n"
                                           "-9223372036854775808\n9223372036854775807\n"
                                           "9223372036854775807\n9223372036854775807\n");
  csv = same_for_every_split(back, &q);
  cr_assert_str_eq(csv, "s,m\n-3,-0.5\n", "%s", csv);
  free(csv);
  canon_table_free(ok);
  canon_table_free(bad);
  canon_table_free(back);
  free_exprs(aggs, 2);
}

Test(aggregate, exact_float_sum_and_mean) {
  canon_table *t = csv_table("k:string,f:float64", "a,1e16\nb,0.1\na,1\nb,0.2\na,-1e16\nb,0.3\na,1\n"
                                                   "c,1.7976931348623157e308\nc,1.7976931348623157e308\n"
                                                   "d,inf\nd,1\ne,inf\ne,-inf\nf,NaN\nf,1\ng,-0.0\n");
  canon_expr *aggs[] = {canon_sum(canon_col("f")), canon_mean(canon_col("f"))};
  const char *names[] = {"s", "m"};
  const char *keys[] = {"k"};
  agg_req q = {keys, 1, aggs, names, 2, false};
  char *csv = same_for_every_split(t, &q);
  cr_assert_str_eq(csv, "k,s,m\n"
                        "a,2.0,0.5\n"
                        "b,0.6,0.2\n"
                        "c,inf,1.7976931348623157e+308\n"
                        "d,inf,inf\n"
                        "e,NaN,NaN\n"
                        "f,NaN,NaN\n"
                        "g,0.0,0.0\n",
                   "%s", csv);
  free(csv);
  canon_table *r = run_ok(t, &q, 2, SPLIT_RANDOM);
  int64_t b = find_key(r, "b"), g = find_key(r, "g");
  cr_assert_eq(bits(canon_table_get_float64(r, 2, b)), bits(0.2), "mean(0.1,0.2,0.3) = 0.2");
  cr_assert_eq(bits(canon_table_get_float64(r, 1, g)), 0, "sum(-0.0) = +0.0");
  cr_assert_eq(bits(canon_table_get_float64(r, 2, g)), 0, "mean(-0.0) = +0.0");
  canon_table_free(r);
  canon_table_free(t);
  free_exprs(aggs, 2);
}

Test(aggregate, min_max_orders) {
  canon_table *t = csv_table("k:int64,f:float64,s:string,d:date,b:bool,ts:timestamp",
                             "1,1.0,abc,2020-01-02,true,2020-01-01T00:00:00Z\n"
                             "1,NaN,B,1969-12-31,false,1969-01-01T00:00:00Z\n"
                             "1,-inf,ab,,,\n"
                             "1,,\"\",2020-01-01,true,2030-01-01T00:00:00Z\n"
                             "2,-0.0,a,,,\n"
                             "2,0.0,\xc3\xa9,,,\n"
                             "3,,,,,\n");
  canon_expr *aggs[] = {canon_min(canon_col("f")), canon_max(canon_col("f")),
                        canon_min(canon_col("s")), canon_max(canon_col("s")),
                        canon_min(canon_col("d")), canon_max(canon_col("d")),
                        canon_min(canon_col("b")), canon_max(canon_col("b")),
                        canon_min(canon_col("ts")), canon_max(canon_col("ts"))};
  const char *names[] = {"f0", "f1", "s0", "s1", "d0", "d1", "b0", "b1", "t0", "t1"};
  const char *keys[] = {"k"};
  agg_req q = {keys, 1, aggs, names, 10, false};
  char *csv = same_for_every_split(t, &q);
  cr_assert_str_eq(csv, "k,f0,f1,s0,s1,d0,d1,b0,b1,t0,t1\n"
                        "1,-inf,NaN,\"\",abc,1969-12-31,2020-01-02,false,true,"
                        "1969-01-01T00:00:00Z,2030-01-01T00:00:00Z\n"
                        "2,0.0,0.0,a,\xc3\xa9,,,,,,\n"
                        "3,,,,,,,,,,\n",
                   "%s", csv);
  free(csv);
  canon_table_free(t);
  free_exprs(aggs, 10);
}

/* Deterministic pseudo-random data over many groups (more than the
 * accumulator array holds, so the group-at-a-time paths run too): every
 * split gives the same bits, and sums match a direct exact computation. */
Test(aggregate, splits_agree_on_random_data) {
  enum { N = 30000, G = 6000 };
  canon_error err;
  canon_schema *s = canon_schema_parse("k:int64,s:string,f:float64,i:int64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  uint64_t st = 99;
  static canon__xsum want[G];
  static int64_t cnt[G];
  for (int g = 0; g < G; g++) canon__xsum_init(&want[g]);
  for (int r = 0; r < N; r++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t k = (int64_t)((st >> 33) % G);
    uint64_t x = st ^ (st >> 29) * 0x9e3779b97f4a7c15ULL;
    double f = ldexp((double)(int64_t)(x >> 11) - (double)(1LL << 52), (int)(x % 200) - 100);
    bool fnull = x % 13 == 0;
    canon_builder_append_int64(b, 0, k);
    char txt[16];
    int len = snprintf(txt, sizeof txt, "s%d", (int)(x % 97));
    if (x % 11 == 0) canon_builder_append_null(b, 1);
    else canon_builder_append_string(b, 1, txt, (size_t)len);
    if (fnull) {
      canon_builder_append_null(b, 2);
    } else {
      canon_builder_append_float64(b, 2, f);
      canon__xsum_add(&want[k], f);
      cnt[k]++;
    }
    canon_builder_append_int64(b, 3, (x & 4) ? (int64_t)(x >> 6) : -(int64_t)(x >> 6));
  }
  canon_table *t = canon_builder_finish(b, &err);
  canon_expr *aggs[] = {canon_sum(canon_col("f")), canon_mean(canon_col("f")),
                        canon_mean(canon_col("i")), canon_min(canon_col("s")),
                        canon_max(canon_col("f")), canon_count(canon_col("s")),
                        canon_sum(canon_col("i"))};
  const char *names[] = {"sf", "mf", "mi", "mins", "maxf", "cs", "si"};
  const char *keys[] = {"k"};
  agg_req q = {keys, 1, aggs, names, 6, false};
  char *csv = same_for_every_split(t, &q);
  free(csv);
  canon_table *r = run_ok(t, &q, 5, SPLIT_RANDOM);
  for (int64_t i = 0; i < canon_table_num_rows(r); i++) {
    int64_t k = canon_table_get_int64(r, 0, i);
    if (!cnt[k]) {
      cr_assert(canon_table_is_null(r, 1, i));
      continue;
    }
    cr_assert_eq(bits(canon_table_get_float64(r, 1, i)), bits(canon__xsum_round(&want[k])));
    cr_assert_eq(bits(canon_table_get_float64(r, 2, i)),
                 bits(canon__xsum_div_round(&want[k], cnt[k])));
  }
  canon_table_free(r);
  /* And the int64 sum. */
  agg_req q2 = {keys, 1, aggs, names, 7, false};
  csv = same_for_every_split(t, &q2);
  free(csv);
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(s);
  free_exprs(aggs, 7);
}

/* A broken partial state is an error, never a crash or a silent result. */
Test(aggregate, corrupt_state_rejected) {
  canon_error err;
  canon_table *t = csv_table("v:float64", "1.5\n");
  canon_expr *aggs[] = {canon_sum(canon_col("v")), canon_count_star(), canon_max(canon_col("v"))};
  canon_expr *bound[3];
  for (int i = 0; i < 3; i++) bound[i] = canon__expr_bind(aggs[i], canon_table_schema(t), true, &err);
  canon_schema *os = canon_schema_parse("s:float64,n:int64,m:float64", &err);
  canon_schema *ps = canon_schema_parse("__state0:string,__state1:string,__state2:string", &err);
  const char *bad_states[][3] = {
      {"x", "\x01\0\0\0\0\0\0\0", "\x01\0\0\0\0\0\0\0\0"},         /* short xsum state */
      {"\x01\0\0\0\0\0\0\0\x00\x00\x05", "\x01\0\0\0\0\0\0\0", "\0"}, /* digits missing */
      {"\x01\0\0\0\0\0\0\0\0\0\0", "\x01\0\0", "\0"},                 /* short count */
      {"\x01\0\0\0\0\0\0\0\0\0\0", "\x01\0\0\0\0\0\0\0", "\x01\x01"}, /* short float */
  };
  size_t lens[][3] = {{1, 8, 9}, {11, 8, 1}, {11, 3, 1}, {11, 8, 2}};
  for (int c = 0; c < 4; c++) {
    canon_builder *b = canon_builder_new(ps, &err);
    for (int i = 0; i < 3; i++) canon_builder_append_string(b, i, bad_states[c][i], lens[c][i]);
    canon_table *p = canon_builder_finish(b, &err);
    canon_table *f = canon__agg_final(p, 0, bound, 3, os, &err);
    cr_assert_null(f, "case %d", c);
    cr_assert_eq(err.code, CANON_ERR_PARSE, "case %d: %s", c, err.message);
    cr_assert(strstr(err.message, "corrupt partial state"), "%s", err.message);
    canon_table_free(p);
    canon_builder_free(b);
  }
  /* The valid version of the last case reads fine. */
  canon_builder *b = canon_builder_new(ps, &err);
  canon_builder_append_string(b, 0, "\x01\0\0\0\0\0\0\0\0\0\0", 11);
  canon_builder_append_string(b, 1, "\x01\0\0\0\0\0\0\0", 8);
  canon_builder_append_string(b, 2, "\x01\0\0\0\0\0\0\xf8\x3f", 9);
  canon_table *p = canon_builder_finish(b, &err);
  canon_table *f = canon__agg_final(p, 0, bound, 3, os, &err);
  cr_assert(f, "%s", err.message);
  cr_assert(canon_table_get_float64(f, 0, 0) == 0.0);
  cr_assert_eq(canon_table_get_int64(f, 1, 0), 1);
  cr_assert(canon_table_get_float64(f, 2, 0) == 1.5);
  canon_table_free(f);
  canon_table_free(p);
  canon_builder_free(b);
  canon_schema_free(os);
  canon_schema_free(ps);
  for (int i = 0; i < 3; i++) canon_expr_free(bound[i]);
  canon_table_free(t);
  free_exprs(aggs, 3);
}

/* Groups of zero to three values over more groups than the accumulator
 * array holds, so partitions emit compact states (no value, one value) and
 * the final answers one-value groups directly: every result must equal the
 * general accumulator's, for edge values (NaN with payloads, infinities,
 * -0.0, subnormals, 1e308) and int64 values a double cannot hold. */
static void sums_match_the_accumulator(int G, int maxrows) {
  static const double fedge[] = {0.0, -0.0, 0x1p-1074, -0x1p-1074, DBL_MIN, -DBL_MAX, DBL_MAX,
                                 1e308, -1e308, 0.1, -2.5, 0x1.fffffffffffffp-1023};
  static const int64_t iedge[] = {0, -1, INT64_MIN, INT64_MAX, (INT64_C(1) << 53) + 1,
                                  -(INT64_C(1) << 53) - 3, 12345};
  canon_error err;
  canon_schema *s = canon_schema_parse("k:int64,f:float64,i:int64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  canon__xsum *wf = calloc((size_t)G, sizeof *wf), *wi = calloc((size_t)G, sizeof *wi);
  int64_t *nf = calloc((size_t)G, sizeof *nf), *ni = calloc((size_t)G, sizeof *ni);
  uint64_t st = 5;
  for (int g = 0; g < G; g++) {
    canon__xsum_init(&wf[g]);
    canon__xsum_init(&wi[g]);
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    int rows = 1 + (int)((st >> 40) % (uint64_t)(2 * maxrows));
    if (rows > maxrows) rows = 1; /* mostly one row */
    for (int r = 0; r < rows; r++) {
      st = st * 6364136223846793005ULL + 1442695040888963407ULL;
      uint64_t x = st ^ (st >> 31);
      canon_builder_append_int64(b, 0, g);
      if (x % 10 == 0) {
        canon_builder_append_null(b, 1);
      } else {
        double f;
        switch ((x >> 8) % 8) {
        case 0: f = fedge[(x >> 12) % (sizeof fedge / sizeof fedge[0])]; break;
        case 1: { /* NaN (any payload, either sign) or an infinity */
          uint64_t nb = 0x7ff0000000000000ULL | ((x >> 20) & 3) | ((x >> 13) & 1) << 63;
          memcpy(&f, &nb, 8);
          break;
        }
        default: f = ldexp((double)(int64_t)(x >> 11) - 0x1p52, (int)((x >> 3) % 600) - 300);
        }
        canon_builder_append_float64(b, 1, f);
        canon__xsum_add(&wf[g], f);
        nf[g]++;
      }
      if (x % 7 == 0) {
        canon_builder_append_null(b, 2);
      } else {
        int64_t v = (x >> 5) % 3 ? iedge[(x >> 16) % (sizeof iedge / sizeof iedge[0])]
                                 : (int64_t)(x * 0x9e3779b97f4a7c15ULL);
        canon_builder_append_int64(b, 2, v);
        canon__xsum_add_i64(&wi[g], v);
        ni[g]++;
      }
    }
  }
  canon_table *t = canon_builder_finish(b, &err);
  canon_expr *aggs[] = {canon_sum(canon_col("f")), canon_mean(canon_col("f")),
                        canon_mean(canon_col("i"))};
  const char *names[] = {"sf", "mf", "mi"};
  const char *keys[] = {"k"};
  agg_req q = {keys, 1, aggs, names, 3, false};
  static const int parts[] = {1, 2, 3, 8};
  for (int pi = 0; pi < 4; pi++)
    for (int mode = 0; mode < 3; mode++) {
      canon_table *r = run_ok(t, &q, parts[pi], mode);
      cr_assert_eq(canon_table_num_rows(r), G);
      for (int64_t row = 0; row < G; row++) {
        int64_t g = canon_table_get_int64(r, 0, row);
        if (!nf[g]) {
          cr_assert(canon_table_is_null(r, 1, row) && canon_table_is_null(r, 2, row));
        } else {
          cr_assert_eq(bits(canon_table_get_float64(r, 1, row)), bits(canon__xsum_round(&wf[g])),
                       "sum, group %lld, %d parts mode %d", (long long)g, parts[pi], mode);
          cr_assert_eq(bits(canon_table_get_float64(r, 2, row)),
                       bits(canon__xsum_div_round(&wf[g], nf[g])), "mean, group %lld", (long long)g);
        }
        if (!ni[g]) cr_assert(canon_table_is_null(r, 3, row));
        else
          cr_assert_eq(bits(canon_table_get_float64(r, 3, row)),
                       bits(canon__xsum_div_round(&wi[g], ni[g])), "int mean, group %lld",
                       (long long)g);
      }
      canon_table_free(r);
    }
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(s);
  free_exprs(aggs, 3);
  free(wf);
  free(wi);
  free(nf);
  free(ni);
}

Test(aggregate, compact_states_match_the_accumulator) { sums_match_the_accumulator(5000, 3); }

/* Few groups of many values: the one-pass array path (int64 values summed
 * in 128 bits first, their sums beyond 2^64) and, per partition, the
 * group-order path for the large ones. */
Test(aggregate, grouped_sums_match_the_accumulator) { sums_match_the_accumulator(7, 900); }
Test(aggregate, long_group_runs_match_the_accumulator) { sums_match_the_accumulator(4500, 40); }

/* Compact states mixed with general ones in one group (the array path of
 * the final step), and malformed compact states refused. */
Test(aggregate, compact_states_merge_with_general_ones) {
  canon_error err;
  canon_table *t = csv_table("v:float64", "1.5\n");
  canon_expr *aggs[] = {canon_sum(canon_col("v")), canon_mean(canon_col("v"))};
  canon_expr *bound[2];
  for (int i = 0; i < 2; i++) bound[i] = canon__expr_bind(aggs[i], canon_table_schema(t), true, &err);
  canon_schema *os = canon_schema_parse("s:float64,m:float64", &err);
  canon_schema *ps = canon_schema_parse("__state0:string,__state1:string", &err);
  /* 1.5 (one value), nothing, -0.0 (one value), general: count 1, +2^-18
   * (flags 0, digit 33, one digit 1) */
  const char *states[] = {"\x01\0\0\0\0\0\0\xf8\x3f", "\0", "\x01\0\0\0\0\0\0\0\x80",
                          "\x01\0\0\0\0\0\0\0\0\x21\x01\x01\0\0\0"};
  size_t lens[] = {9, 1, 9, 15};
  canon_builder *b = canon_builder_new(ps, &err);
  for (int r = 0; r < 4; r++)
    for (int i = 0; i < 2; i++) canon_builder_append_string(b, i, states[r], lens[r]);
  canon_table *p = canon_builder_finish(b, &err);
  canon_table *f = canon__agg_final(p, 0, bound, 2, os, &err);
  cr_assert(f, "%s", err.message);
  cr_assert_eq(bits(canon_table_get_float64(f, 0, 0)), bits(1.5 + 0x1p-18));
  cr_assert_eq(bits(canon_table_get_float64(f, 1, 0)), bits((1.5 + 0x1p-18) / 3));
  canon_table_free(f);
  canon_table_free(p);
  canon_builder_free(b);
  /* A one-value state of the wrong length or tag, a no-value state with a
   * nonzero byte: corrupt. */
  const char *bad[] = {"\x01\0\0\0\0\0\0\xf8", "\x02\0\0\0\0\0\0\xf8\x3f", "\x01"};
  size_t blen[] = {8, 9, 1};
  for (int c = 0; c < 3; c++) {
    b = canon_builder_new(ps, &err);
    for (int i = 0; i < 2; i++) canon_builder_append_string(b, i, bad[c], blen[c]);
    p = canon_builder_finish(b, &err);
    f = canon__agg_final(p, 0, bound, 2, os, &err);
    cr_assert_null(f, "case %d", c);
    cr_assert_eq(err.code, CANON_ERR_PARSE, "case %d: %s", c, err.message);
    canon_table_free(p);
    canon_builder_free(b);
  }
  canon_schema_free(os);
  canon_schema_free(ps);
  for (int i = 0; i < 2; i++) canon_expr_free(bound[i]);
  canon_table_free(t);
  free_exprs(aggs, 2);
}

/* Counts below 256 travel as one byte, larger ones as eight: groups on
 * both sides of the limit, at every split, and a malformed count state. */
Test(aggregate, compact_counts) {
  canon_error err;
  canon_schema *s = canon_schema_parse("k:int64,v:int64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  static const int sizes[] = {1, 255, 256, 257, 600, 2};
  for (int g = 0; g < 6; g++)
    for (int r = 0; r < sizes[g]; r++) {
      canon_builder_append_int64(b, 0, g);
      if (r % 3 == 0) canon_builder_append_null(b, 1);
      else canon_builder_append_int64(b, 1, r);
    }
  canon_table *t = canon_builder_finish(b, &err);
  canon_expr *aggs[] = {canon_count_star(), canon_count(canon_col("v"))};
  const char *names[] = {"n", "nv"};
  const char *keys[] = {"k"};
  agg_req q = {keys, 1, aggs, names, 2, false};
  char *csv = same_for_every_split(t, &q);
  cr_assert_str_eq(csv, "k,n,nv\n0,1,0\n1,255,170\n2,256,170\n3,257,171\n4,600,400\n5,2,1\n",
                   "%s", csv);
  free(csv);
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(s);
  free_exprs(aggs, 2);

  /* Two bytes are neither form. */
  canon_table *one = csv_table("v:float64", "1.5\n");
  canon_expr *cs = canon_count_star();
  canon_expr *bound = canon__expr_bind(cs, canon_table_schema(one), true, &err);
  canon_schema *os = canon_schema_parse("n:int64", &err);
  canon_schema *ps = canon_schema_parse("__state0:string", &err);
  for (size_t len = 1; len <= 2; len++) {
    b = canon_builder_new(ps, &err);
    canon_builder_append_string(b, 0, "\x07\0", len);
    canon_table *p = canon_builder_finish(b, &err);
    canon_table *f = canon__agg_final(p, 0, &bound, 1, os, &err);
    if (len == 1) {
      cr_assert(f, "%s", err.message);
      cr_assert_eq(canon_table_get_int64(f, 0, 0), 7);
    } else {
      cr_assert_null(f);
      cr_assert_eq(err.code, CANON_ERR_PARSE);
    }
    canon_table_free(f);
    canon_table_free(p);
    canon_builder_free(b);
  }
  canon_schema_free(os);
  canon_schema_free(ps);
  canon_expr_free(bound);
  canon_expr_free(cs);
  canon_table_free(one);
}

/* int64 sums and counts over many groups of a column without NULLs (the
 * partial step's packed slots, fetched ahead), at 1 and 3 partitions,
 * against sums worked out here in 128 bits (rows compared sorted: an
 * aggregate's order is undefined). */
Test(aggregate, int64_sums_over_many_groups_without_nulls) {
  enum { G = 3000, N = 40000 };
  canon_error err;
  canon_schema *sch = canon_schema_parse("k:int64,v:int64", &err);
  canon_builder *b = canon_builder_new(sch, &err);
  __int128 *want = calloc(G, sizeof *want);
  int64_t *cnt = calloc(G, sizeof *cnt);
  int *order = malloc(G * sizeof *order);
  int seen = 0;
  uint64_t st = 77;
  for (int i = 0; i < N; i++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    int g = (int)((st >> 33) % G);
    int64_t v = (int64_t)(st >> 20) % ((int64_t)1 << 40) - ((int64_t)1 << 39);
    if ((st >> 8) % 97 == 0) v = (st >> 9) % 2 ? INT64_C(1) << 50 : -(INT64_C(1) << 50);
    if (!cnt[g]) order[seen++] = g;
    want[g] += v;
    cnt[g]++;
    canon_builder_append_int64(b, 0, g);
    canon_builder_append_int64(b, 1, v);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  size_t cap = (size_t)seen * 64 + 64, at = 0;
  char *expect = malloc(cap);
  at += (size_t)snprintf(expect + at, cap - at, "k,s,c\n");
  for (int j = 0; j < seen; j++)
    at += (size_t)snprintf(expect + at, cap - at, "%d,%lld,%lld\n", order[j],
                           (long long)want[order[j]], (long long)cnt[order[j]]);
  const char *keys[] = {"k"}, *names[] = {"s", "c"};
  char *sorted_expect = tu_sorted_lines(expect);
  for (int parts = 1; parts <= 3; parts += 2) {
    char engine[64];
    snprintf(engine, sizeof engine, "serial:partitions=%d", parts);
    canon_session *s = tu_open(engine);
    canon_expr *outs[] = {canon_sum(canon_col("v")), canon_count(canon_col("v"))};
    canon_df *df = canon_aggregate(canon_from_table(s, t, &err), keys, 1, outs, names, 2, &err);
    cr_assert(df, "%s", err.message);
    char *got = tu_collect_csv(df);
    char *sorted = tu_sorted_lines(got);
    cr_assert_str_eq(sorted, sorted_expect, "%d partitions", parts);
    free(sorted);
    free(got);
    canon_session_close(s);
  }
  free(sorted_expect);
  free(expect);
  free(order);
  free(cnt);
  free(want);
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(sch);
}

/* min and max of int64, timestamp and float64 over many groups (the loop
 * that keeps each group's best value beside its row), with NULLs, NaN,
 * ±0.0, ±inf and ties, at 1 and 3 partitions, against a reference worked
 * out here with the same total order (floats: canon__cmp_f64). */
Test(aggregate, min_max_of_numbers_over_many_groups) {
  enum { G = 2500, N = 30000 };
  static const double fedge[] = {0.0, -0.0, NAN, -INFINITY, INFINITY, 1.5, -1.5, 1e300};
  canon_error err;
  canon_schema *sch = canon_schema_parse("k:int64,i:int64,t:timestamp,f:float64", &err);
  canon_builder *b = canon_builder_new(sch, &err);
  int64_t *imin = malloc(G * sizeof *imin), *imax = malloc(G * sizeof *imax);
  double *fmin = malloc(G * sizeof *fmin), *fmax = malloc(G * sizeof *fmax);
  bool *hasi = calloc(G, 1), *hasf = calloc(G, 1);
  uint64_t st = 99;
  for (int r = 0; r < N; r++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t x = st ^ (st >> 29);
    int g = (int)((x >> 40) % G);
    canon_builder_append_int64(b, 0, g);
    int64_t iv = (int64_t)(x % 2001) - 1000;
    if ((x >> 12) % 50 == 0) iv = (x >> 13) % 2 ? INT64_MIN : INT64_MAX;
    if ((x >> 20) % 9 == 0) {
      canon_builder_append_null(b, 1);
      canon_builder_append_null(b, 2);
    } else {
      canon_builder_append_int64(b, 1, iv);
      canon_builder_append_timestamp(b, 2, iv);
      if (!hasi[g] || iv < imin[g]) imin[g] = iv;
      if (!hasi[g] || iv > imax[g]) imax[g] = iv;
      hasi[g] = true;
    }
    if ((x >> 24) % 11 == 0) {
      canon_builder_append_null(b, 3);
    } else {
      double fv = (x >> 30) % 3 ? (double)((int64_t)(x % 1001) - 500) / 4
                                : fedge[(x >> 33) % (sizeof fedge / sizeof *fedge)];
      canon_builder_append_float64(b, 3, fv);
      if (!hasf[g] || canon__cmp_f64(fv, fmin[g]) < 0) fmin[g] = fv;
      if (!hasf[g] || canon__cmp_f64(fv, fmax[g]) > 0) fmax[g] = fv;
      hasf[g] = true;
    }
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_schema *es = canon_schema_parse(
      "k:int64,imin:int64,imax:int64,tmin:timestamp,tmax:timestamp,fmin:float64,fmax:float64", &err);
  canon_builder *eb = canon_builder_new(es, &err);
  for (int g = 0; g < G; g++) {
    if (!hasi[g] && !hasf[g]) continue;
    canon_builder_append_int64(eb, 0, g);
    for (int c = 1; c <= 4; c++) {
      int64_t v = c % 2 ? imin[g] : imax[g];
      if (!hasi[g]) canon_builder_append_null(eb, c);
      else if (c <= 2) canon_builder_append_int64(eb, c, v);
      else canon_builder_append_timestamp(eb, c, v);
    }
    for (int c = 5; c <= 6; c++) {
      double v = c == 5 ? fmin[g] : fmax[g];
      if (!hasf[g]) canon_builder_append_null(eb, c);
      else canon_builder_append_float64(eb, c, v == 0 ? 0.0 : v); /* never -0.0 */
    }
  }
  canon_table *want = canon_builder_finish(eb, &err);
  cr_assert(want, "%s", err.message);
  const char *keys[] = {"k"};
  const char *names[] = {"imin", "imax", "tmin", "tmax", "fmin", "fmax"};
  canon_sort_key by[] = {{"k", 0, 0}};
  for (int parts = 1; parts <= 3; parts += 2) {
    char engine[64];
    snprintf(engine, sizeof engine, "serial:partitions=%d", parts);
    canon_session *s = tu_open(engine);
    canon_expr *outs[] = {canon_min(canon_col("i")), canon_max(canon_col("i")),
                          canon_min(canon_col("t")), canon_max(canon_col("t")),
                          canon_min(canon_col("f")), canon_max(canon_col("f"))};
    canon_df *df = canon_aggregate(canon_from_table(s, t, &err), keys, 1, outs, names, 6, &err);
    canon_table *got = canon_collect(canon_sort(df, by, 1, &err), &err);
    cr_assert(got, "%s", err.message);
    char *diff = NULL;
    cr_assert_eq(canon_testing_compare(want, got, CANON_TESTING_EXACT, NULL, 0, &diff), 0,
                 "%d partitions: %s", parts, diff ? diff : "");
    canon_table_free(got);
    canon_session_close(s);
  }
  canon_table_free(want);
  canon_builder_free(eb);
  canon_schema_free(es);
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(sch);
  free(imin), free(imax), free(fmin), free(fmax), free(hasi), free(hasf);
}
