/* Tests of chunked partial aggregation (kernels/aggregate.c): a partition
 * reduced a chunk of rows at a time must give, after the final step, the
 * same bits in the same order (groups in order of first appearance) as the
 * partition reduced whole, for every chunk size: around the row count, one
 * row, and many chunks; with NULL keys (kept or dropped) and NULL values,
 * NaN, -0.0 and infinities, and groups first seen in a later chunk; over
 * the direct-index grouping (integer keys) and the hash grouping (float and
 * string keys).  Also the median/quantile final, which selects a batch of
 * groups at a time (agg_values.c). */
#include "testutil.h"

#include <math.h>

#include "kernels.h"

typedef struct ch_req {
  const char *const *keys;
  int nkeys;
  canon_expr *const *aggs; /* unbound; not consumed */
  int naggs;
  bool drop_null_keys;
} ch_req;

/* Partial of t (whole when chunk == 0, else `chunk` rows at a time), then
 * final; the result as CSV (rows in the order the final step gives).  The
 * number of partial rows into *nparts when asked. */
static char *ch_run(const canon_table *t, const ch_req *q, int64_t chunk, int64_t *nparts) {
  canon_error err;
  canon_error_clear(&err);
  int keys[8];
  canon_schema *out = canon_schema_new();
  for (int k = 0; k < q->nkeys; k++) {
    keys[k] = canon_table_find_column(t, q->keys[k]);
    cr_assert(keys[k] >= 0, "key %s", q->keys[k]);
    cr_assert_eq(canon_schema_add(out, q->keys[k], canon_table_column_type(t, keys[k]), &err), 0);
  }
  canon_expr *bound[16];
  for (int i = 0; i < q->naggs; i++) {
    bound[i] = canon__expr_bind(q->aggs[i], canon_table_schema(t), true, &err);
    cr_assert(bound[i], "bind: %s", err.message);
    char name[16];
    snprintf(name, sizeof name, "a%d", i);
    cr_assert_eq(canon_schema_add(out, name, bound[i]->type, &err), 0);
  }
  canon_table *p =
      chunk ? canon__agg_partial_chunks(t, keys, q->nkeys, bound, q->naggs, q->drop_null_keys,
                                        chunk, &err)
            : canon__agg_partial(t, keys, q->nkeys, bound, q->naggs, q->drop_null_keys, &err);
  cr_assert(p, "partial: %s", err.message);
  if (nparts) *nparts = canon_table_num_rows(p);
  canon_table *r = canon__agg_final(p, q->nkeys, bound, q->naggs, out, &err);
  cr_assert(r, "final: %s", err.message);
  char *csv = tu_csv(r);
  canon_table_free(r);
  canon_table_free(p);
  for (int i = 0; i < q->naggs; i++) canon_expr_free(bound[i]);
  canon_schema_free(out);
  return csv;
}

/* A float from a small menu of awkward values, or a plain one. */
static void ch_float(char *buf, size_t n) {
  static const char *const odd[] = {"", "NaN", "-0.0", "0.0", "inf", "-inf", "1e300", "-1e300",
                                    "5e-324", "0.1"};
  int64_t r = tu_rnd_below(40);
  if (r < 10) snprintf(buf, n, "%s", odd[r]);
  else snprintf(buf, n, "%.17g", (double)tu_rnd_below(2000001) / 1000.0 - 1000.0);
}

/* n rows "k:int64,s:string,x:float64,v:int64,f:float64,b:bool": key k
 * takes values below a bound that grows along the rows (so groups keep
 * appearing in later chunks), NULL now and then; s a string key of a few
 * values; x a float key (with -0.0, NaN); v, f, b values with NULLs. */
static canon_table *ch_table(int64_t n, int64_t groups, uint64_t seed) {
  tu_rnd_state = seed;
  size_t cap = (size_t)n * 96 + 64, len = 0;
  char *text = malloc(cap);
  text[0] = '\0';
  for (int64_t i = 0; i < n; i++) {
    int64_t bound = 1 + groups * (i + 1) / n;
    char k[24] = "", s[16] = "", x[32] = "", v[24] = "", f[40] = "", b[8] = "";
    if (tu_rnd_below(17)) snprintf(k, sizeof k, "%lld", (long long)(tu_rnd_below(bound) * 3 - 7));
    if (tu_rnd_below(13)) snprintf(s, sizeof s, "s%lld", (long long)tu_rnd_below(5));
    static const char *const xs[] = {"-0.0", "0.0", "NaN", "1.5", "", "-2"};
    snprintf(x, sizeof x, "%s", xs[tu_rnd_below(6)]);
    if (tu_rnd_below(9)) snprintf(v, sizeof v, "%lld", (long long)(tu_rnd_below(201) - 100));
    ch_float(f, sizeof f);
    if (tu_rnd_below(7)) snprintf(b, sizeof b, "%s", tu_rnd_below(2) ? "true" : "false");
    len += (size_t)snprintf(text + len, cap - len, "%s,%s,%s,%s,%s,%s\n", k, s, x, v, f, b);
  }
  canon_error err;
  canon_error_clear(&err);
  canon_table *t = canon_table_from_csv_text(
      "k:int64,s:string,x:float64,v:int64,f:float64,b:bool", text, &err);
  cr_assert(t, "%s", err.message);
  free(text);
  return t;
}

#define C(name) canon_col(name)

/* Every aggregate kind over v, f, b. */
static int ch_aggs(canon_expr **a) {
  int n = 0;
  a[n++] = canon_count_star();
  a[n++] = canon_count(C("f"));
  a[n++] = canon_sum(C("v"));
  a[n++] = canon_sum(C("f"));
  a[n++] = canon_mean(C("f"));
  a[n++] = canon_mean(C("v"));
  a[n++] = canon_min(C("f"));
  a[n++] = canon_max(C("v"));
  a[n++] = canon_median(C("f"));
  a[n++] = canon_quantile(C("v"), 0.3, NULL);
  a[n++] = canon_stddev(C("f"));
  a[n++] = canon_var(C("v"));
  a[n++] = canon_corr(C("v"), C("f"));
  a[n++] = canon_count_distinct(C("v"));
  a[n++] = canon_any(C("b"));
  return n;
}

static void ch_free(canon_expr **a, int n) {
  for (int i = 0; i < n; i++) canon_expr_free(a[i]);
}

/* Chunked partials give the unchunked answer, in the same order, for
 * chunk sizes around n, tiny ones and a handful in between; and the chunked
 * partial does make a row per group of each chunk. */
static void ch_check(const canon_table *t, const ch_req *q) {
  int64_t n = canon_table_num_rows(t), whole_rows = 0;
  char *want = ch_run(t, q, 0, &whole_rows);
  const int64_t sizes[] = {1, 2, 7, 64, 333, n / 3, n - 1, n, n + 1};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    if (sizes[i] < 1) continue;
    int64_t rows = 0;
    char *got = ch_run(t, q, sizes[i], &rows);
    cr_assert_str_eq(got, want, "chunk %lld differs from the whole partition", (long long)sizes[i]);
    if (sizes[i] >= n) cr_assert_eq(rows, whole_rows, "one chunk: %lld partial rows, want %lld",
                                    (long long)rows, (long long)whole_rows);
    else if (n > 1 && whole_rows > 0)
      cr_assert_gt(rows, whole_rows > 1 ? whole_rows - 1 : 0);
    free(got);
  }
  free(want);
}

static void ch_all_keys(int64_t n, int64_t groups, uint64_t seed) {
  canon_table *t = ch_table(n, groups, seed);
  static const char *const k1[] = {"k"}, *const kx[] = {"x"}, *const ks[] = {"s"},
                           *const k2[] = {"k", "s"}, *const k3[] = {"s", "x", "k"};
  const char *const *sets[] = {k1, kx, ks, k2, k3};
  const int nk[] = {1, 1, 1, 2, 3};
  canon_expr *a[16];
  int na = ch_aggs(a);
  for (int s = 0; s < 5; s++)
    for (int drop = 0; drop < 2; drop++) {
      ch_req q = {.keys = sets[s], .nkeys = nk[s], .aggs = a, .naggs = na,
                  .drop_null_keys = drop != 0};
      ch_check(t, &q);
    }
  ch_free(a, na);
  canon_table_free(t);
}

Test(aggregate_chunks, few_groups) { ch_all_keys(1000, 12, 1); }

Test(aggregate_chunks, many_groups) { ch_all_keys(1500, 900, 2); }

Test(aggregate_chunks, tiny_partitions) {
  for (int64_t n = 0; n <= 5; n++) ch_all_keys(n, 3, 10 + (uint64_t)n);
}

/* The exact chunk-boundary counts: a group whose rows sit only on one side
 * of a boundary, and counts of rows per group straddling it. */
Test(aggregate_chunks, boundaries) {
  canon_error err;
  canon_error_clear(&err);
  /* a a a | b a b | c c a | d: with chunk 3 the keys b, c, d first appear
   * in later chunks; the order of first appearance is a, b, c, d. */
  canon_table *t = canon_table_from_csv_text(
      "k:string,v:int64", "a,1\na,2\na,\nb,4\na,5\nb,6\nc,7\nc,8\na,9\nd,10\n", &err);
  cr_assert(t, "%s", err.message);
  static const char *const keys[] = {"k"};
  canon_expr *a[] = {canon_count_star(), canon_sum(C("v")), canon_median(C("v"))};
  ch_req q = {.keys = keys, .nkeys = 1, .aggs = a, .naggs = 3};
  const char *want = "k,a0,a1,a2\na,5,17,3.5\nb,2,10,5.0\nc,2,15,7.5\nd,1,10,10.0\n";
  for (int64_t chunk = 0; chunk <= 11; chunk++) {
    int64_t rows = 0;
    char *got = ch_run(t, &q, chunk, &rows);
    cr_assert_str_eq(got, want, "chunk %lld: %s", (long long)chunk, got);
    free(got);
    if (chunk == 3) cr_assert_eq(rows, 1 + 2 + 2 + 1, "chunk 3: partial rows %lld", (long long)rows);
  }
  ch_free(a, 3);
  canon_table_free(t);
}

/* A partition large enough that canon__agg_partial chunks it by itself:
 * its answer equals the one-chunk answer, and it made more partial rows
 * than groups (so chunks were taken). */
Test(aggregate_chunks, chosen_by_partial) {
  int64_t n = 300000;
  canon_table *t = ch_table(n, 40, 3);
  static const char *const keys[] = {"k"};
  canon_expr *a[] = {canon_count_star(), canon_sum(C("v")), canon_mean(C("f")),
                     canon_median(C("f")), canon_stddev(C("v")), canon_max(C("f"))};
  ch_req q = {.keys = keys, .nkeys = 1, .aggs = a, .naggs = 6};
  int64_t auto_rows = 0, one_rows = 0;
  char *got = ch_run(t, &q, 0, &auto_rows);
  char *want = ch_run(t, &q, n, &one_rows);
  cr_assert_str_eq(got, want);
  cr_assert_gt(auto_rows, one_rows, "partial rows %lld: no chunks taken", (long long)auto_rows);
  free(got);
  free(want);
  ch_free(a, 6);
  canon_table_free(t);
}

/* median over many groups of different sizes (one group larger than the
 * final's batch of values, and batches of many small groups): each answer
 * equals the one worked out here by sorting the group's values (eighths
 * of small integers, so the middle two average exactly). */
static int ch_cmp_f64(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

Test(aggregate_chunks, median_batches) {
  enum { N = 400000, G = 3001 };
  canon_error err;
  canon_error_clear(&err);
  canon_schema *sc = canon_schema_new();
  cr_assert_eq(canon_schema_add(sc, "g", CANON_INT64, &err), 0);
  cr_assert_eq(canon_schema_add(sc, "v", CANON_FLOAT64, &err), 0);
  canon_builder *b = canon_builder_new(sc, &err);
  cr_assert(b, "%s", err.message);
  int64_t *cnt = calloc(G, sizeof *cnt), *at = calloc(G + 1, sizeof *at);
  int64_t *gs = malloc(N * sizeof *gs);
  double *vs = malloc(N * sizeof *vs), *sorted = malloc(N * sizeof *sorted);
  tu_rnd_state = 99;
  for (int64_t i = 0; i < N; i++) {
    /* group 0: every other row, 200000 values */
    gs[i] = i % 2 ? 1 + tu_rnd_below(G - 1) : 0;
    vs[i] = tu_rnd_below(11) ? (double)tu_rnd_below(100000) / 8.0 : NAN; /* NAN: NULL */
    canon_builder_append_int64(b, 0, gs[i]);
    if (isnan(vs[i])) canon_builder_append_null(b, 1);
    else canon_builder_append_float64(b, 1, vs[i]), cnt[gs[i]]++;
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  for (int g = 0; g < G; g++) at[g + 1] = at[g] + cnt[g];
  memcpy(cnt, at, G * sizeof *cnt);
  for (int64_t i = 0; i < N; i++)
    if (!isnan(vs[i])) sorted[cnt[gs[i]]++] = vs[i];
  static const char *const keys[] = {"g"};
  canon_expr *a[] = {canon_median(C("v"))};
  ch_req q = {.keys = keys, .nkeys = 1, .aggs = a, .naggs = 1};
  for (int64_t chunk = 0; chunk <= 50000; chunk += 50000) {
    int kcol = 0;
    canon_schema *out = canon_schema_new();
    cr_assert_eq(canon_schema_add(out, "g", CANON_INT64, &err), 0);
    canon_expr *bound = canon__expr_bind(a[0], canon_table_schema(t), true, &err);
    cr_assert(bound, "%s", err.message);
    cr_assert_eq(canon_schema_add(out, "m", bound->type, &err), 0);
    canon_table *p = chunk ? canon__agg_partial_chunks(t, &kcol, 1, &bound, 1, false, chunk, &err)
                           : canon__agg_partial(t, &kcol, 1, &bound, 1, false, &err);
    cr_assert(p, "%s", err.message);
    canon_table *r = canon__agg_final(p, 1, &bound, 1, out, &err);
    cr_assert(r, "%s", err.message);
    cr_assert_eq(canon_table_num_rows(r), G);
    for (int64_t row = 0; row < G; row++) {
      int64_t g = canon_table_get_int64(r, 0, row);
      cr_assert(g >= 0 && g < G);
      int64_t lo = at[g], n = at[g + 1] - at[g];
      if (!n) {
        cr_assert(canon_table_is_null(r, 1, row), "group %lld", (long long)g);
        continue;
      }
      qsort(sorted + lo, (size_t)n, sizeof *sorted, ch_cmp_f64);
      double want = n % 2 ? sorted[lo + n / 2] : (sorted[lo + n / 2 - 1] + sorted[lo + n / 2]) / 2;
      cr_assert_eq(canon_table_get_float64(r, 1, row), want, "group %lld (%lld values), chunk %lld",
                   (long long)g, (long long)n, (long long)chunk);
    }
    canon_table_free(r);
    canon_table_free(p);
    canon_expr_free(bound);
    canon_schema_free(out);
  }
  (void)q;
  ch_free(a, 1);
  canon_table_free(t);
  canon_schema_free(sc);
  free(cnt);
  free(at);
  free(gs);
  free(vs);
  free(sorted);
}
