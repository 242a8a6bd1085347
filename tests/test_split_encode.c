/* test_split_encode.c — an exchange split written straight into its
 * encoding (split_encode.c) must be, byte for byte, the split into bucket
 * tables (canon__split_hash, _rebalance) with each bucket table encoded
 * (canon__split_encode_buckets, the layout engines already read), and
 * report the same rows and bytes.  Tables: NULLs and none, NaN and -0.0, bools, dates, empty
 * strings and strings longer than 16 bytes, string views starting past
 * byte 0, coded strings whose codes ship in some buckets and not in
 * others, every row in one bucket, empty buckets, no rows; P from 1 to 9.
 * Also: every byte written (the memory starts as junk), an allocation
 * failure is a clean error, and the buckets decode to the split's rows. */
#include "codec_testutil.h"

#include "../core/kernels/kernels.h"

#include <stdio.h>

TestSuite(split_encode);

/* The split made the old way: bucket tables, each encoded. */
static uint8_t *encode_buckets(canon_table **b, int P, size_t *len, canon__split_out *out) {
  ct_mem m = {0};
  canon_error err;
  cr_assert_eq(canon__split_encode_buckets(b, P, ct_mem_alloc, &m, len, out, &err), 0, "%s", err.message);
  cr_assert_eq(*len, m.len);
  for (int k = 0; k < P; k++) canon_table_free(b[k]);
  return m.buf;
}

static void same_bytes(const uint8_t *got, size_t glen, const uint8_t *want, size_t wlen,
                       const char *what) {
  cr_assert_eq(glen, wlen, "%s: %zu bytes, want %zu", what, glen, wlen);
  for (size_t i = 0; i < wlen; i++)
    cr_assert_eq(got[i], want[i], "%s: byte %zu of %zu", what, i, wlen);
}

/* Every bucket of a split encoding decodes (checked) to its rows. */
static void buckets_decode(const uint8_t *buf, size_t len, int P, const char *what) {
  uint32_t np;
  memcpy(&np, buf + 4, 4);
  cr_assert_eq(np, (uint32_t)P, "%s", what);
  for (int k = 0; k < P; k++) {
    uint64_t off, l;
    memcpy(&off, buf + 8 + (size_t)k * 16, 8);
    memcpy(&l, buf + 16 + (size_t)k * 16, 8);
    cr_assert_leq(off + l, len, "%s", what);
    canon_error err;
    canon_table *d = canon__table_decode(buf + off, l, &err);
    cr_assert(d, "%s: bucket %d: %s", what, k, err.message);
    canon_table_free(d);
  }
}

/* The direct split of t by `bucket` (taken, freed) against buckets b[0..P)
 * (taken) made by a split kernel: the same bytes, rows and bytes out. */
static void compare_scatter(const canon_table *t, int32_t *bucket, canon_table **b, int P,
                            const char *what) {
  canon_error err;
  size_t wlen, glen;
  canon__split_out wo, go;
  uint8_t *want = encode_buckets(b, P, &wlen, &wo);
  ct_mem m = {0};
  cr_assert_eq(canon__split_encode_scatter(t, bucket, P, ct_mem_alloc, &m, &glen, &go, &err), 0, "%s", err.message);
  same_bytes(m.buf, glen, want, wlen, what);
  cr_assert_eq(go.rows, wo.rows, "%s", what);
  cr_assert_eq(go.bytes, wo.bytes, "%s", what);
  buckets_decode(m.buf, glen, P, what);
  free(bucket);
  free(m.buf);
  free(want);
}

static int32_t *bucket_array(const canon_table *t) {
  int32_t *bucket = malloc((size_t)(t->nrows ? t->nrows : 1) * sizeof *bucket);
  cr_assert(bucket);
  return bucket;
}

static void check_hash(const canon_table *t, int P, const char *what) {
  canon_error err;
  int keys[] = {1, 0};
  canon_table *b[16];
  cr_assert_eq(canon__split_hash(t, keys, 2, P, b, &err), 0, "%s", err.message);
  int32_t *bucket = bucket_array(t);
  cr_assert_eq(canon__hash_buckets(t, keys, 2, P, 0, bucket, &err), 0);
  compare_scatter(t, bucket, b, P, what);
}

static void check_rebalance(const canon_table *t, int64_t offset, int64_t total, int P,
                            const char *what) {
  canon_error err;
  canon_table *b[16];
  cr_assert_eq(canon__split_rebalance(t, offset, total, P, b, &err), 0, "%s", err.message);
  int32_t *bucket = bucket_array(t);
  canon__rebalance_buckets(t->nrows, offset, total, P, bucket);
  compare_scatter(t, bucket, b, P, what);
}

Test(split_encode, hash_splits_equal_encoded_buckets) {
  canon_error err;
  canon_table *coded = ct_table_of(3000, 1, 40, 5, true), *plain = ct_table_of(2000, 2, 300, 0, false);
  canon_table *view = canon__table_slice(coded, 37, 2500, &err);
  /* 40 values over 3000 rows: codes ship in big buckets, not in small ones. */
  canon_table *few = ct_table_of(400, 3, 40, 11, true);
  canon_table *none = canon__table_slice(coded, 5, 0, &err);
  cr_assert(view && none);
  struct {
    const char *what;
    canon_table *t;
  } cases[] = {{"coded with NULLs", coded}, {"plain", plain}, {"a view", view},
               {"codes in some buckets", few}, {"no rows", none}};
  int Ps[] = {1, 2, 3, 8, 9};
  char what[128];
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
    for (size_t p = 0; p < sizeof Ps / sizeof *Ps; p++) {
      snprintf(what, sizeof what, "%s, P=%d", cases[c].what, Ps[p]);
      check_hash(cases[c].t, Ps[p], what);
    }
  canon_table *all[] = {coded, plain, view, few, none};
  for (size_t k = 0; k < sizeof all / sizeof *all; k++) canon_table_free(all[k]);
}

Test(split_encode, rebalance_splits_equal_encoded_buckets) {
  canon_table *t = ct_table_of(1000, 4, 20, 3, true);
  check_rebalance(t, 0, 1000, 4, "whole");
  check_rebalance(t, 500, 4000, 7, "a middle partition");
  check_rebalance(t, 3000, 4000, 3, "all in the last bucket");
  canon_table_free(t);
}

/* Tables a split meets at the edges: a coded string column of NULLs only
 * (an empty dictionary: its codes must not travel with empty buckets,
 * which a split's empty buckets never have — a review found 64 stray
 * bytes per empty bucket), timestamps, one row, rows without columns. */
static canon_table *csv_table(const char *schema, const char *rows, bool codes) {
  canon_error err;
  canon_table *t = canon_table_from_csv_text(schema, rows, &err);
  cr_assert(t, "%s", err.message);
  if (codes) {
    t = canon__table_dict_encode(t, &err);
    cr_assert(t, "%s", err.message);
  }
  return t;
}

static void check_scatter_keyless(canon_table *t, int P, const char *what) {
  /* Rows dealt round robin (a rebalance), as no key column may exist... */
  check_rebalance(t, 0, t->nrows ? t->nrows : 1, P, what);
  /* ...and one by one, against canon__table_scatter itself. */
  int32_t *bucket = bucket_array(t);
  int64_t counts[16] = {0};
  for (int64_t i = 0; i < t->nrows; i++) counts[bucket[i] = (int32_t)(i % P)]++;
  canon_table *b[16];
  canon_error err;
  cr_assert_eq(canon__table_scatter(t, bucket, P, counts, b, &err), 0, "%s", err.message);
  compare_scatter(t, bucket, b, P, what);
}

Test(split_encode, edge_tables) {
  /* One key: every row in one bucket, the others empty. */
  canon_table *nulls = csv_table("s:string,k:int64", ",1\n,1\n,1\n", true);
  cr_assert(nulls->cols[0]->dict && nulls->cols[0]->dict->values->length == 0);
  check_hash(nulls, 2, "NULL strings with an empty dictionary, one key");
  check_hash(nulls, 5, "NULL strings with an empty dictionary, P=5");
  canon_table *one = csv_table("s:string,k:int64", "a,1\n", true);
  check_hash(one, 3, "one row");
  canon_table *ts = csv_table("k:int64,s:string,t:timestamp", "1,x,2024-01-02T03:04:05Z\n2,,\n3,y,1970-01-01T00:00:00Z\n", false);
  check_hash(ts, 2, "timestamps");
  canon_error err;
  canon_schema *none = canon_schema_new();
  canon__column *nc[1];
  canon_table *nocols = canon__table_make(none, nc, 7, &err);
  cr_assert(nocols, "%s", err.message);
  check_scatter_keyless(nocols, 3, "seven rows, no columns");
  check_scatter_keyless(ts, 4, "round robin");
  canon_table *all[] = {nulls, one, ts, nocols};
  for (size_t k = 0; k < sizeof all / sizeof *all; k++) canon_table_free(all[k]);
  canon_schema_free(none);
}

Test(split_encode, failures_are_clean) {
  canon_table *t = ct_table_of(100, 7, 10, 3, true);
  int32_t bucket[100];
  for (int i = 0; i < 100; i++) bucket[i] = i % 3;
  ct_mem m = {.fail = true};
  size_t len = 0;
  canon_error err;
  cr_assert_eq(canon__split_encode_scatter(t, bucket, 3, ct_mem_alloc, &m, &len, NULL, &err), CANON_ERR_NOMEM);
  cr_assert(strstr(err.message, "split"), "%s", err.message);
  canon_table *b[3];
  for (int k = 0; k < 3; k++) b[k] = canon__table_share(t, &err);
  cr_assert_eq(canon__split_encode_buckets(b, 3, ct_mem_alloc, &m, &len, NULL, &err), CANON_ERR_NOMEM);
  for (int k = 0; k < 3; k++) canon_table_free(b[k]);
  canon_table_free(t);
}
