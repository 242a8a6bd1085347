/* Tests of the row hash and hash grouping (kernels/hashing.c). */
#include "testutil.h"

#include <math.h>

#include "kernels.h"

static canon_table *csv_table(const char *schema, const char *rows) {
  canon_error err;
  canon_error_clear(&err);
  canon_table *t = canon_table_from_csv_text(schema, rows, &err);
  cr_assert(t, "%s", err.message);
  return t;
}

static double dbl(uint64_t b) {
  double d;
  memcpy(&d, &b, 8);
  return d;
}

/* One float64 column holding the given values (NAN here means NULL when
 * null_mask bit set). */
static canon_table *f64_table(const double *v, int n, uint64_t null_mask) {
  canon_error err;
  canon_schema *s = canon_schema_parse("x:float64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  for (int i = 0; i < n; i++) {
    if ((null_mask >> i) & 1) cr_assert_eq(canon_builder_append_null(b, 0), 0);
    else cr_assert_eq(canon_builder_append_float64(b, 0, v[i]), 0);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  return t;
}

/* The hash decides partitioning on every engine and machine: pin it. */
Test(hashing, fixed_values) {
  canon_table *t = csv_table("i:int64,s:string,f:float64", "1,abc,0.5\n,,\n-7,a longer string value,NaN\n");
  int c0[] = {0}, c1[] = {1}, c2[] = {2}, all[] = {0, 1, 2};
  uint64_t got[] = {
      canon__hash_row(t, c0, 1, 0), canon__hash_row(t, c1, 1, 0), canon__hash_row(t, c2, 1, 0),
      canon__hash_row(t, all, 3, 0), canon__hash_row(t, all, 3, 1), canon__hash_row(t, all, 3, 2),
  };
  /* Recorded from the implementation; a change here changes how data is
   * partitioned (never a result): update deliberately, not by accident. */
  static const uint64_t want[] = {
      UINT64_C(0xf2de5040d6266b08), UINT64_C(0x5f5769b42a670448), UINT64_C(0x885d01b90a316867),
      UINT64_C(0x3df1f4bef427bb52), UINT64_C(0xf6ed34d2e82b6581), UINT64_C(0x40b098be92363410),
  };
  for (int i = 0; i < 6; i++)
    cr_expect_eq(got[i], want[i], "hash %d: got 0x%016llx", i, (unsigned long long)got[i]);
  canon_table_free(t);
}

Test(hashing, row_and_rows_agree) {
  canon_table *t = csv_table("b:bool,i:int64,f:float64,s:string,d:date,ts:timestamp",
                             "true,1,1.5,x,2020-01-01,2020-01-01T00:00:00Z\n"
                             ",,,,,\n"
                             "false,-5,-0.0,,1969-12-31,1969-12-31T23:59:59.5Z\n"
                             "true,9223372036854775807,NaN,\"\",2000-02-29,\n"
                             "false,0,inf,abcdefghijklmnopq,,2100-01-01T00:00:00Z\n");
  int cols[] = {0, 1, 2, 3, 4, 5};
  for (int nc = 0; nc <= 6; nc++) {
    uint64_t h[5];
    canon__hash_rows(t, cols, nc, h);
    for (int r = 0; r < 5; r++) cr_assert_eq(h[r], canon__hash_row(t, cols, nc, r));
  }
  /* Column order matters. */
  int ab[] = {1, 4}, ba[] = {4, 1};
  cr_assert_neq(canon__hash_row(t, ab, 2, 0), canon__hash_row(t, ba, 2, 0));
  canon_table_free(t);
}

Test(hashing, canonical_floats_and_nulls) {
  double v[] = {0.0, -0.0, NAN, -NAN, dbl(0x7ff0000000000001ULL), dbl(0xfff8000000000123ULL), 1.0,
                0.0};
  canon_table *t = f64_table(v, 8, 1u << 7);
  int c[] = {0};
  uint64_t h[8];
  canon__hash_rows(t, c, 1, h);
  cr_assert_eq(h[0], h[1], "-0.0 and 0.0 hash alike");
  for (int i = 3; i < 6; i++) cr_assert_eq(h[2], h[i], "every NaN hashes alike (%d)", i);
  cr_assert_neq(h[0], h[2]);
  cr_assert_neq(h[0], h[6]);
  cr_assert_neq(h[7], h[0], "NULL is not 0.0");
  cr_assert_neq(h[7], h[2], "NULL is not NaN");
  canon_table_free(t);

  /* Strings: embedded bytes, lengths, long strings differing in one byte. */
  canon_error err;
  canon_schema *s = canon_schema_parse("s:string", &err);
  canon_builder *b = canon_builder_new(s, &err);
  const char *strs[] = {"ab", "ab\0", "", "\0", "0123456789abcdef!", "0123456789abcdeg!"};
  size_t lens[] = {2, 3, 0, 1, 17, 17};
  for (int i = 0; i < 6; i++) canon_builder_append_string(b, 0, strs[i], lens[i]);
  canon_builder_append_null(b, 0);
  t = canon_builder_finish(b, &err);
  uint64_t hs[7];
  canon__hash_rows(t, c, 1, hs);
  for (int i = 0; i < 7; i++)
    for (int j = i + 1; j < 7; j++) cr_assert_neq(hs[i], hs[j], "strings %d and %d", i, j);
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(s);
}

/* Buckets (hash % n) and high bits are both well spread for dense keys. */
Test(hashing, distribution) {
  enum { N = 100000 };
  canon_error err;
  canon_schema *s = canon_schema_parse("k:int64,s:string", &err);
  canon_builder *b = canon_builder_new(s, &err);
  for (int i = 0; i < N; i++) {
    char txt[32];
    int len = snprintf(txt, sizeof txt, "key-%d", i);
    canon_builder_append_int64(b, 0, i);
    canon_builder_append_string(b, 1, txt, (size_t)len);
  }
  canon_table *t = canon_builder_finish(b, &err);
  static uint64_t h[N];
  for (int col = 0; col < 2; col++) {
    canon__hash_rows(t, &col, 1, h);
    int mod7[7] = {0}, mod8[8] = {0}, top[16] = {0};
    for (int i = 0; i < N; i++) {
      mod7[h[i] % 7]++;
      mod8[h[i] % 8]++;
      top[h[i] >> 60]++;
    }
    for (int k = 0; k < 7; k++) cr_assert(abs(mod7[k] - N / 7) < N / 70, "col %d mod7 %d", col, k);
    for (int k = 0; k < 8; k++) cr_assert(abs(mod8[k] - N / 8) < N / 80, "col %d mod8 %d", col, k);
    for (int k = 0; k < 16; k++) cr_assert(abs(top[k] - N / 16) < N / 160, "col %d top %d", col, k);
  }
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(s);
}

static void group(const canon_table *t, const int *cols, int nc, bool drop, int64_t *gid,
                  int64_t *ng, int64_t **first) {
  canon_error err;
  canon_error_clear(&err);
  cr_assert_eq(canon__group_rows(t, cols, nc, drop, gid, ng, first, &err), 0, "%s", err.message);
}

Test(hashing, group_first_appearance_and_nulls) {
  canon_table *t = csv_table("k:string,v:int64", "b,1\na,2\n,3\nb,4\n,5\nc,6\na,7\n");
  int c[] = {0};
  int64_t gid[7], ng, *first;
  group(t, c, 1, false, gid, &ng, &first);
  int64_t want[] = {0, 1, 2, 0, 2, 3, 1};
  cr_assert_eq(ng, 4);
  for (int i = 0; i < 7; i++) cr_assert_eq(gid[i], want[i], "row %d", i);
  int64_t wf[] = {0, 1, 2, 5};
  for (int g = 0; g < 4; g++) cr_assert_eq(first[g], wf[g]);
  free(first);
  group(t, c, 1, true, gid, &ng, &first);
  int64_t want2[] = {0, 1, -1, 0, -1, 2, 1};
  cr_assert_eq(ng, 3);
  for (int i = 0; i < 7; i++) cr_assert_eq(gid[i], want2[i], "row %d", i);
  free(first);
  canon_table_free(t);
}

Test(hashing, group_nan_and_negative_zero) {
  double v[] = {-0.0, 1.0, NAN, 0.0, dbl(0xfff8000000000001ULL), 0.0, 1.0};
  canon_table *t = f64_table(v, 7, 1u << 5);
  int c[] = {0};
  int64_t gid[7], ng, *first;
  group(t, c, 1, false, gid, &ng, &first);
  int64_t want[] = {0, 1, 2, 0, 2, 3, 1};
  cr_assert_eq(ng, 4);
  for (int i = 0; i < 7; i++) cr_assert_eq(gid[i], want[i], "row %d", i);
  free(first);
  canon_table_free(t);
}

Test(hashing, group_two_keys_drop_nulls) {
  canon_table *t = csv_table("a:string,b:int64", "x,1\nx,\n,1\n,\nx,1\nx,\n,1\ny,2\n");
  int c[] = {0, 1};
  int64_t gid[8], ng, *first;
  group(t, c, 2, false, gid, &ng, &first);
  int64_t keep[] = {0, 1, 2, 3, 0, 1, 2, 4};
  cr_assert_eq(ng, 5);
  for (int i = 0; i < 8; i++) cr_assert_eq(gid[i], keep[i], "row %d", i);
  free(first);
  group(t, c, 2, true, gid, &ng, &first);
  int64_t drop[] = {0, -1, -1, -1, 0, -1, -1, 1};
  cr_assert_eq(ng, 2);
  for (int i = 0; i < 8; i++) cr_assert_eq(gid[i], drop[i], "row %d", i);
  cr_assert_eq(first[0], 0);
  cr_assert_eq(first[1], 7);
  free(first);
  canon_table_free(t);
}

Test(hashing, group_empty_and_no_keys) {
  canon_table *t = csv_table("a:int64", "");
  int c[] = {0};
  int64_t gid[1], ng = -1, *first = NULL;
  group(t, c, 1, false, gid, &ng, &first);
  cr_assert_eq(ng, 0);
  free(first);
  canon_table_free(t);
  t = csv_table("a:int64", "1\n2\n3\n");
  int64_t g3[3];
  group(t, c, 0, false, g3, &ng, &first);
  cr_assert_eq(ng, 1);
  for (int i = 0; i < 3; i++) cr_assert_eq(g3[i], 0);
  free(first);
  canon_table_free(t);
}

/* Many groups (the table grows many times) and keys whose hashes share
 * their low bits (the rows of one bucket of a hash exchange): the result
 * must match a direct computation. */
Test(hashing, group_many_keys_against_direct) {
  enum { N = 200000, K = 50000 };
  canon_error err;
  canon_schema *s = canon_schema_parse("k:int64,t:string", &err);
  canon_builder *b = canon_builder_new(s, &err);
  uint64_t st = 42;
  static int64_t keyv[N];
  for (int i = 0; i < N; i++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t k = (int64_t)((st >> 33) % K);
    keyv[i] = k;
    char txt[16];
    int len = snprintf(txt, sizeof txt, "%d", (int)(k % 3));
    canon_builder_append_int64(b, 0, k * 1000003);
    canon_builder_append_string(b, 1, txt, (size_t)len);
  }
  canon_table *t = canon_builder_finish(b, &err);
  int c[] = {0, 1};
  static int64_t gid[N];
  int64_t ng, *first;
  group(t, c, 2, false, gid, &ng, &first);
  /* Direct: group ids in first-appearance order of the int key. */
  static int64_t idof[K];
  for (int k = 0; k < K; k++) idof[k] = -1;
  int64_t next = 0;
  for (int i = 0; i < N; i++) {
    if (idof[keyv[i]] < 0) {
      cr_assert_eq(first[next], i);
      idof[keyv[i]] = next++;
    }
    cr_assert_eq(gid[i], idof[keyv[i]], "row %d", i);
  }
  cr_assert_eq(ng, next);
  free(first);

  /* Only the rows whose hash is 0 mod 8. */
  static uint64_t h[N];
  canon__hash_rows(t, c, 2, h);
  static int64_t idx[N];
  int64_t m = 0;
  for (int i = 0; i < N; i++)
    if (h[i] % 8 == 0) idx[m++] = i;
  canon_table *sub = canon__table_take(t, idx, m, &err);
  cr_assert(sub);
  group(sub, c, 2, false, gid, &ng, &first);
  int64_t distinct = 0;
  for (int k = 0; k < K; k++) idof[k] = -1;
  for (int64_t i = 0; i < m; i++) {
    int64_t k = keyv[idx[i]];
    if (idof[k] < 0) idof[k] = distinct++;
    cr_assert_eq(gid[i], idof[k]);
  }
  cr_assert_eq(ng, distinct);
  free(first);
  canon_table_free(sub);
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(s);
}
