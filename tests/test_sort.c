/* Tests of the sort kernel: total order, NULL placement, stability. */
#include "testutil.h"

#include "kernels.h"

#include <math.h>
#include <stdint.h>

static canon_table *tbl(const char *schema, const char *rows) {
  canon_error err;
  canon_table *t = canon_table_from_csv_text(schema, rows, &err);
  cr_assert(t, "%s", err.message);
  return t;
}

Test(sort, float_total_order_and_nulls_last) {
  canon_table *t = tbl("x:float64", "NaN\n1.5\n\n-inf\n-0.0\ninf\n0.0\n-2\n");
  canon__sortcol k = {.col = 0};
  canon_error err;
  canon_table *s = canon__sort_table(t, &k, 1, &err);
  char *csv = tu_csv(s);
  /* -0.0 and 0.0 are equal: stable order keeps -0.0 (row 4) before 0.0. */
  cr_assert_str_eq(csv, "x\n-inf\n-2.0\n-0.0\n0.0\n1.5\ninf\nNaN\n\n");
  free(csv);
  canon_table_free(s);
  k.descending = true;
  s = canon__sort_table(t, &k, 1, &err);
  csv = tu_csv(s);
  /* Descending keeps NULLS LAST (the default for both directions). */
  cr_assert_str_eq(csv, "x\nNaN\ninf\n1.5\n-0.0\n0.0\n-2.0\n-inf\n\n");
  free(csv);
  canon_table_free(s);
  k.nulls_first = true;
  s = canon__sort_table(t, &k, 1, &err);
  csv = tu_csv(s);
  cr_assert_str_eq(csv, "x\n\nNaN\ninf\n1.5\n-0.0\n0.0\n-2.0\n-inf\n");
  free(csv);
  canon_table_free(s);
  canon_table_free(t);
}

Test(sort, stable_multi_key) {
  /* 300 rows with many ties: the sort must keep input order among ties. */
  char rows[8192] = "";
  for (int i = 0; i < 300; i++) {
    char line[32];
    if (i % 11 == 0)
      snprintf(line, sizeof line, ",%d\n", i);
    else
      snprintf(line, sizeof line, "%c,%d\n", 'a' + (i * 7) % 3, i);
    strcat(rows, line);
  }
  canon_table *t = tbl("k:string,pos:int64", rows);
  canon__sortcol k = {.col = 0, .descending = true};
  canon_error err;
  canon_table *s = canon__sort_table(t, &k, 1, &err);
  cr_assert_eq(canon_table_num_rows(s), 300);
  for (int64_t r = 1; r < 300; r++) {
    bool n0 = canon_table_is_null(s, 0, r - 1), n1 = canon_table_is_null(s, 0, r);
    cr_assert(!(n0 && !n1), "NULL before a value at %lld", (long long)r);
    int c = 0; /* > 0 when row r-1 sorts after row r (descending keys) */
    if (!n0 && !n1)
      c = (int)(unsigned char)canon_table_get_string(s, 0, r, NULL)[0] -
          (int)(unsigned char)canon_table_get_string(s, 0, r - 1, NULL)[0];
    cr_assert(c <= 0, "out of order at %lld", (long long)r);
    if (c == 0 && n0 == n1)
      cr_assert_lt(canon_table_get_int64(s, 1, r - 1), canon_table_get_int64(s, 1, r),
                   "tie order broken at %lld", (long long)r);
  }
  canon_table_free(s);
  canon_table_free(t);
}

Test(sort, strings_by_bytes_and_mixed_directions) {
  canon_table *t = tbl("a:string,b:int64", "b,1\né,2\nB,3\nb,0\n,5\nab,4\nb,\n");
  canon__sortcol k[2] = {{.col = 0}, {.col = 1, .descending = true, .nulls_first = true}};
  canon_error err;
  canon_table *s = canon__sort_table(t, k, 2, &err);
  char *csv = tu_csv(s);
  cr_assert_str_eq(csv, "a,b\nB,3\nab,4\nb,\nb,1\nb,0\né,2\n,5\n");
  free(csv);
  canon_table_free(s);
  canon_table_free(t);
}

/* Strings are ordered by their bytes, then length: short strings by their
 * 8-byte image, long ones with equal prefixes by a full comparison. */
Test(sort, string_images_and_long_prefixes) {
  static const struct { const char *s; size_t len; } v[] = {
    {"abcdefgh1", 9}, {"abcdefgh0", 9}, {"abcdefg", 7}, {"ab\0", 3}, {"ab", 2},
    {"abcdefgh", 8},  {"", 0},          {"abcdefgh0x", 10}, {"\xff", 1}, {"abcdefg\0z", 9}};
  canon_error err;
  canon_schema *s = canon_schema_parse("s:string,pos:int64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  for (int i = 0; i < 10; i++) {
    canon_builder_append_string(b, 0, v[i].s, v[i].len);
    canon_builder_append_int64(b, 1, i);
  }
  canon_table *t = canon_builder_finish(b, &err);
  static const int asc[] = {6, 4, 3, 2, 9, 5, 1, 7, 0, 8};
  for (int d = 0; d < 2; d++) {
    canon__sortcol k = {.col = 0, .descending = d};
    canon_table *r = canon__sort_table(t, &k, 1, &err);
    cr_assert(r, "%s", err.message);
    for (int i = 0; i < 10; i++)
      cr_assert_eq(canon_table_get_int64(r, 1, i), asc[d ? 9 - i : i], "%s row %d",
                   d ? "desc" : "asc", i);
    canon_table_free(r);
  }
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(s);
}

/* Fixed-width keys take the radix path: check a random table against the
 * row comparator — every adjacent pair in order, ties in input order. */
Test(sort, radix_path_matches_the_comparator) {
  canon_error err;
  canon_schema *s = canon_schema_parse("a:int64,b:float64,c:date,pos:int64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  uint64_t x = 99;
  for (int i = 0; i < 5000; i++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    if (x >> 60 == 0) canon_builder_append_null(b, 0);
    else canon_builder_append_int64(b, 0, (int64_t)((x >> 40) % 7) - 3 + ((x >> 59) ? 0 : INT64_MIN / 2));
    static const double f[] = {-0.0, 0.0, 1.5, -1.5, 1e300, -1e-300};
    if ((x >> 50) % 11 == 0) canon_builder_append_null(b, 1);
    else canon_builder_append_float64(b, 1, (x >> 45) % 13 == 0 ? NAN : f[(x >> 20) % 6]);
    if ((x >> 30) % 9 == 0) canon_builder_append_null(b, 2);
    else canon_builder_append_date(b, 2, (int32_t)((x >> 10) % 5) - 2);
    canon_builder_append_int64(b, 3, i);
  }
  canon_table *t = canon_builder_finish(b, &err);
  for (int mode = 0; mode < 8; mode++) {
    canon__sortcol k[3] = {{.col = 1, .descending = mode & 1, .nulls_first = (mode >> 1) & 1},
                           {.col = 0, .descending = (mode >> 2) & 1, .nulls_first = mode & 1},
                           {.col = 2, .descending = !(mode & 1), .nulls_first = !(mode & 2)}};
    canon_table *r = canon__sort_table(t, k, 3, &err);
    cr_assert(r, "%s", err.message);
    for (int64_t i = 1; i < canon_table_num_rows(r); i++) {
      int c = canon__cmp_rows(r, i - 1, r, i, k, 3);
      cr_assert_leq(c, 0, "mode %d: rows %lld and %lld out of order", mode, (long long)i - 1,
                    (long long)i);
      if (c == 0)
        cr_assert_lt(canon_table_get_int64(r, 3, i - 1), canon_table_get_int64(r, 3, i),
                     "mode %d: tie order broken at %lld", mode, (long long)i);
    }
    canon_table_free(r);
  }
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(s);
}

/* ---- random tables against the row comparator ---------------------------- */

/* A string from a small alphabet with long shared prefixes: empty strings,
 * bytes >= 0x80, NUL bytes, lengths around the 7-byte image.  With
 * short_only no string is longer than 7 bytes (the image is exact). */
static size_t rand_string(char *buf, bool short_only) {
  static const char *const prefixes[] = {"", "a", "abcdefg", "abcdefgh", "abcdefghijklmnop",
                                         "\xc3\xa9t\xc3\xa9", "\xff\xff\xff\xff\xff\xff\xff"};
  const char *p = prefixes[tu_rnd() % 7];
  size_t len = strlen(p);
  memcpy(buf, p, len);
  size_t extra = tu_rnd() % 4;
  static const char tail[] = {'\0', 'a', 'b', '\x80', '\xff', 'z'};
  for (size_t i = 0; i < extra; i++) buf[len++] = tail[tu_rnd() % 6];
  if (short_only && len > 7) len = tu_rnd() % 8;
  return len;
}

static double rand_double(void) {
  static const double f[] = {-0.0, 0.0, 1.5, -1.5, INFINITY, -INFINITY, 1e300, -1e-300, 5e-324};
  uint64_t r = tu_rnd();
  if (r % 9 == 0) {
    uint64_t bits = 0x7ff8000000000000ULL | (tu_rnd() & 0x8000000000000fffULL);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
  }
  return r % 3 ? f[(r >> 8) % 9] : (double)(int64_t)((r >> 8) % 1000) / 8;
}

/* Columns s (string), f (float64), i (int64), pos (row number), grp. */
static canon_table *random_table(int n, bool short_only, int nulls_every) {
  canon_error err;
  canon_schema *s = canon_schema_parse("s:string,f:float64,i:int64,pos:int64,grp:int64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  char buf[64];
  for (int r = 0; r < n; r++) {
    if (nulls_every && tu_rnd() % (unsigned)nulls_every == 0) canon_builder_append_null(b, 0);
    else canon_builder_append_string(b, 0, buf, rand_string(buf, short_only));
    if (nulls_every && tu_rnd() % (unsigned)nulls_every == 0) canon_builder_append_null(b, 1);
    else canon_builder_append_float64(b, 1, rand_double());
    if (nulls_every && tu_rnd() % (unsigned)nulls_every == 0) canon_builder_append_null(b, 2);
    else canon_builder_append_int64(b, 2, (int64_t)(tu_rnd() % 5) - 2);
    canon_builder_append_int64(b, 3, r);
    canon_builder_append_int64(b, 4, (int64_t)(tu_rnd() % 37));
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  return t;
}

/* r is t stably sorted by k: a permutation of t's rows (by pos), each
 * adjacent pair in order, ties in input order.  That is the one answer. */
static void check_sorted(const canon_table *t, const canon_table *r, const canon__sortcol *k,
                         int nk, const char *what) {
  int64_t n = canon_table_num_rows(t);
  cr_assert_eq(canon_table_num_rows(r), n, "%s: rows", what);
  uint8_t *seen = calloc((size_t)n + 1, 1);
  for (int64_t i = 0; i < n; i++) {
    int64_t p = canon_table_get_int64(r, 3, i);
    cr_assert(p >= 0 && p < n && !seen[p], "%s: not a permutation at %lld", what, (long long)i);
    seen[p] = 1;
    if (!i) continue;
    int c = canon__cmp_rows(r, i - 1, r, i, k, nk);
    cr_assert_leq(c, 0, "%s: rows %lld and %lld out of order", what, (long long)i - 1,
                  (long long)i);
    if (c == 0)
      cr_assert_lt(canon_table_get_int64(r, 3, i - 1), p, "%s: tie order broken at %lld", what,
                   (long long)i);
  }
  free(seen);
}

/* String keys: exact images (no string longer than 7 bytes: radix only),
 * inexact (radix on the prefix images, tie runs merged), a string key
 * after and before other keys, at sizes on both sides of the radix cut. */
Test(sort, string_keys_random) {
  static const int sizes[] = {5, 63, 64, 300, 4000};
  for (int si = 0; si < 5; si++)
    for (int short_only = 0; short_only < 2; short_only++) {
      canon_table *t = random_table(sizes[si], short_only, short_only ? 0 : 7);
      for (int mode = 0; mode < 16; mode++) {
        canon__sortcol k1[1] = {{.col = 0, .descending = mode & 1, .nulls_first = (mode >> 1) & 1}};
        canon__sortcol k2[3] = {{.col = 0, .descending = mode & 1, .nulls_first = (mode >> 1) & 1},
                                {.col = 1, .descending = (mode >> 2) & 1, .nulls_first = mode & 1},
                                {.col = 2, .descending = (mode >> 3) & 1}};
        canon__sortcol k3[3] = {{.col = 2, .descending = (mode >> 3) & 1, .nulls_first = mode & 1},
                                {.col = 0, .descending = mode & 1, .nulls_first = (mode >> 1) & 1},
                                {.col = 1, .descending = (mode >> 2) & 1}};
        const canon__sortcol *ks[] = {k1, k2, k3};
        static const int nks[] = {1, 3, 3};
        for (int c = 0; c < 3; c++) {
          canon_error err;
          canon_table *r = canon__sort_table(t, ks[c], nks[c], &err);
          cr_assert(r, "%s", err.message);
          char what[96];
          snprintf(what, sizeof what, "n=%d short=%d mode=%d keys=%d", sizes[si], short_only, mode,
                   c);
          check_sorted(t, r, ks[c], nks[c], what);
          canon_table_free(r);
        }
      }
      canon_table_free(t);
    }
}

/* ---- top n per group ------------------------------------------------------ */

/* canon__sort_top_n against the full sort walked group by group. */
static void check_top_n(const canon_table *t, const canon__sortcol *k, int nk, bool by_group,
                        int64_t n) {
  int64_t rows = canon_table_num_rows(t);
  size_t cap = (size_t)(rows ? rows : 1);
  int64_t *full = malloc(cap * sizeof *full), *want = malloc(cap * sizeof *want),
          *got = malloc(cap * sizeof *got), *gid = malloc(cap * sizeof *gid);
  int64_t cnt[37] = {0}, nwant = 0, ngot = -1;
  canon_error err;
  cr_assert_eq(canon__sort_indices(t, k, nk, full, &err), 0);
  for (int64_t i = 0; i < rows; i++) gid[i] = by_group ? canon_table_get_int64(t, 4, i) : 0;
  for (int64_t i = 0; i < rows; i++)
    if (cnt[gid[full[i]]]++ < n) want[nwant++] = full[i];
  cr_assert_eq(canon__sort_top_n(t, k, nk, by_group ? gid : NULL, by_group ? 37 : 1, n, got,
                                 &ngot, &err),
               0, "%s", err.message);
  cr_assert_eq(ngot, nwant, "rows=%lld n=%lld: kept %lld, want %lld", (long long)rows,
               (long long)n, (long long)ngot, (long long)nwant);
  for (int64_t i = 0; i < nwant; i++)
    cr_assert_eq(got[i], want[i], "rows=%lld n=%lld: position %lld", (long long)rows,
                 (long long)n, (long long)i);
  free(full);
  free(want);
  free(got);
  free(gid);
}

Test(sort, top_n_matches_the_full_sort) {
  static const int sizes[] = {0, 1, 40, 500, 3000};
  static const int64_t ns[] = {1, 2, 3, 7, 100};
  for (int si = 0; si < 5; si++) {
    canon_table *t = random_table(sizes[si], si % 2, 5);
    for (int mode = 0; mode < 8; mode++) {
      canon__sortcol kf[2] = {{.col = 1, .descending = mode & 1, .nulls_first = (mode >> 1) & 1},
                              {.col = 2, .descending = (mode >> 2) & 1}};
      canon__sortcol ks[2] = {{.col = 0, .descending = mode & 1, .nulls_first = (mode >> 1) & 1},
                              {.col = 1, .descending = (mode >> 2) & 1}};
      canon__sortcol ki[1] = {{.col = 2, .descending = mode & 1, .nulls_first = (mode >> 1) & 1}};
      for (int ni = 0; ni < 5; ni++)
        for (int by = 0; by < 2; by++) {
          check_top_n(t, kf, 2, by, ns[ni]);
          check_top_n(t, ks, 2, by, ns[ni]);
          check_top_n(t, ki, 1, by, ns[ni]); /* heavy ties: input order decides */
        }
    }
    canon_table_free(t);
  }
}

/* ---- range split ------------------------------------------------------------ */

/* Boundary rows: rows src[0..nb) of t, keys only, in key order (the layout
 * the range exchange hands to split_range). */
static canon_table *bounds_of(const canon_table *t, const canon__sortcol *k, int nk,
                              const int64_t *src, int64_t nb) {
  canon_error err;
  canon_table *rows = canon__table_take(t, src, nb, &err);
  cr_assert(rows, "%s", err.message);
  canon_schema *ks = canon_schema_new();
  canon__column *kc[8];
  for (int j = 0; j < nk; j++) {
    char nm[16];
    snprintf(nm, sizeof nm, "k%d", j);
    canon_schema_add(ks, nm, canon_table_column_type(t, k[j].col), NULL);
    kc[j] = canon__column_ref(rows->cols[k[j].col]);
  }
  canon_table *b = canon__table_make(ks, kc, nb, &err);
  cr_assert(b, "%s", err.message);
  canon_schema_free(ks);
  canon_table_free(rows);
  return b;
}

/* canon__split_range against the definition: a row goes to the first
 * bucket whose boundary is >= the row (the last bucket when none is), each
 * bucket holds exactly those rows, stably sorted (ties in input order). */
static void check_split_range(const canon_table *t, const canon__sortcol *k, int nk,
                              const int64_t *src, int64_t nb, int n, const char *what) {
  int64_t rows = canon_table_num_rows(t);
  canon_table *bounds = bounds_of(t, k, nk, src, nb);
  canon_table *buckets[16];
  canon_error err;
  cr_assert_eq(canon__split_range(t, k, nk, nb ? bounds : NULL, n, buckets, &err), 0, "%s: %s",
               what, err.message);
  int64_t *want = malloc((size_t)(rows ? rows : 1) * sizeof *want);
  int64_t cnt[16] = {0}, total = 0;
  for (int64_t i = 0; i < rows; i++) {
    int64_t b = 0;
    while (b < nb && canon__cmp_rows(t, i, t, src[b], k, nk) > 0) b++;
    want[i] = b < n ? b : n - 1;
    cnt[want[i]]++;
  }
  for (int b = 0; b < n; b++) {
    canon_table *r = buckets[b];
    cr_assert(canon__schema_equal(r->schema, t->schema), "%s: bucket %d schema", what, b);
    cr_assert_eq(canon_table_num_rows(r), cnt[b], "%s: bucket %d has %lld rows, want %lld", what,
                 b, (long long)canon_table_num_rows(r), (long long)cnt[b]);
    for (int64_t i = 0; i < canon_table_num_rows(r); i++) {
      int64_t p = canon_table_get_int64(r, 3, i);
      cr_assert_eq(want[p], b, "%s: row %lld in bucket %d, want %lld", what, (long long)p, b,
                   (long long)want[p]);
      /* Every cell is the source row's (the columns travel with the row). */
      cr_assert_eq(canon__cmp_rows(r, i, t, p, (canon__sortcol[]){{.col = 0}, {.col = 1}, {.col = 2}},
                                   3),
                   0, "%s: row %lld cells", what, (long long)p);
      cr_assert_eq(canon_table_is_null(r, 1, i), canon_table_is_null(t, 1, p));
      if (!canon_table_is_null(r, 1, i)) {
        double x = canon_table_get_float64(r, 1, i), y = canon_table_get_float64(t, 1, p);
        cr_assert(memcmp(&x, &y, sizeof x) == 0, "%s: row %lld float bits", what, (long long)p);
      }
      if (i == 0 || cnt[b] == rows) continue; /* one bucket may share t unsorted */
      int c = canon__cmp_rows(r, i - 1, r, i, k, nk);
      cr_assert_leq(c, 0, "%s: bucket %d out of order at %lld", what, b, (long long)i);
      if (c == 0)
        cr_assert_lt(canon_table_get_int64(r, 3, i - 1), p, "%s: tie order at %lld", what,
                     (long long)i);
    }
    total += canon_table_num_rows(r);
    canon_table_free(r);
  }
  cr_assert_eq(total, rows, "%s: rows lost", what);
  free(want);
  canon_table_free(bounds);
}

Test(sort, range_split_matches_the_definition) {
  static const int sizes[] = {0, 1, 7, 300, 3000};
  for (int si = 0; si < 5; si++) {
    canon_table *t = random_table(sizes[si], si % 2, si == 3 ? 0 : 4);
    int64_t rows = canon_table_num_rows(t);
    for (int mode = 0; mode < 8; mode++) {
      canon__sortcol kf[2] = {{.col = 1, .descending = mode & 1, .nulls_first = (mode >> 1) & 1},
                              {.col = 0, .descending = (mode >> 2) & 1}};
      canon__sortcol ks[2] = {{.col = 0, .descending = mode & 1, .nulls_first = (mode >> 1) & 1},
                              {.col = 1, .descending = (mode >> 2) & 1, .nulls_first = mode & 1}};
      canon__sortcol ki[1] = {{.col = 2, .descending = mode & 1, .nulls_first = (mode >> 1) & 1}};
      const canon__sortcol *kk[] = {kf, ks, ki};
      static const int nkk[] = {2, 2, 1};
      for (int c = 0; c < 3; c++) {
        /* Boundaries: evenly spaced rows of the sorted order (as the
         * exchange picks them), repeated ones (empty buckets between
         * them), all the smallest or the largest rows, and none. */
        int64_t *perm = malloc((size_t)(rows ? rows : 1) * sizeof *perm);
        canon_error err;
        cr_assert_eq(canon__sort_indices(t, kk[c], nkk[c], perm, &err), 0);
        int64_t src[15];
        for (int shape = 0; shape < 5; shape++) {
          int n = shape == 4 ? 1 + mode % 3 : 2 + (mode + c) % 7;
          int64_t nb = rows ? n - 1 : 0;
          for (int64_t b = 0; b < nb; b++) {
            int64_t at = shape == 0   ? (b + 1) * rows / n
                         : shape == 1 ? (b / 2 + 1) * rows / n
                         : shape == 2 ? 0
                                      : rows - 1;
            src[b] = perm[at < rows ? at : rows - 1];
          }
          if (shape == 4) nb = 0; /* no boundaries: every row to bucket 0 */
          char what[96];
          snprintf(what, sizeof what, "rows=%lld mode=%d keys=%d shape=%d n=%d", (long long)rows,
                   mode, c, shape, n);
          check_split_range(t, kk[c], nkk[c], src, nb, n, what);
        }
        free(perm);
      }
    }
    canon_table_free(t);
  }
}

/* ---- large inputs: the MSD radix passes -------------------------------------- */

/* Like random_table, with values spread over their whole range (every bit
 * of an image can differ): i any int64, f any bit pattern (NaNs, infinities,
 * -0.0, subnormals), s random bytes of length 0..12; grp few values. */
static canon_table *wide_table(int n, int nulls_every, bool all_null_f) {
  canon_error err;
  canon_schema *s = canon_schema_parse("s:string,f:float64,i:int64,pos:int64,grp:int64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  char buf[16];
  for (int r = 0; r < n; r++) {
    size_t len = tu_rnd() % 13;
    uint64_t x = tu_rnd();
    for (size_t j = 0; j < len; j++) buf[j] = j < 3 ? "ab\xff"[(x >> (2 * j)) % 3] : (char)tu_rnd();
    if (nulls_every && tu_rnd() % (unsigned)nulls_every == 0) canon_builder_append_null(b, 0);
    else canon_builder_append_string(b, 0, buf, len);
    uint64_t bits = tu_rnd();
    double d;
    memcpy(&d, &bits, sizeof d);
    if (tu_rnd() % 4 == 0) d = rand_double();
    if (all_null_f || (nulls_every && tu_rnd() % (unsigned)nulls_every == 0))
      canon_builder_append_null(b, 1);
    else
      canon_builder_append_float64(b, 1, d);
    int64_t v = (int64_t)tu_rnd();
    if (tu_rnd() % 50 == 0) v = tu_rnd() % 2 ? INT64_MIN : INT64_MAX;
    if (nulls_every && tu_rnd() % (unsigned)nulls_every == 0) canon_builder_append_null(b, 2);
    else canon_builder_append_int64(b, 2, v);
    canon_builder_append_int64(b, 3, r);
    canon_builder_append_int64(b, 4, (int64_t)(tu_rnd() % 5));
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  return t;
}

Test(sort, large_inputs_match_the_comparator) {
  for (int shape = 0; shape < 3; shape++) {
    /* No NULLs; some NULLs; a key column that is NULL throughout. */
    canon_table *t = shape == 0 ? wide_table(90000, 0, false)
                     : shape == 1 ? wide_table(90000, 6, false)
                                  : wide_table(70000, 0, true);
    for (int mode = 0; mode < 4; mode++) {
      bool de = mode & 1, nf = mode & 2;
      canon__sortcol ki[1] = {{.col = 2, .descending = de, .nulls_first = nf}};
      canon__sortcol kf[2] = {{.col = 1, .descending = de, .nulls_first = nf}, {.col = 2}};
      canon__sortcol kg[2] = {{.col = 4, .descending = de}, {.col = 1, .descending = !de, .nulls_first = !nf}};
      canon__sortcol ks[2] = {{.col = 0, .descending = de, .nulls_first = nf}, {.col = 4}};
      canon__sortcol kp[2] = {{.col = 4, .nulls_first = nf}, {.col = 0, .descending = de}};
      const canon__sortcol *kk[] = {ki, kf, kg, ks, kp};
      static const int nkk[] = {1, 2, 2, 2, 2};
      for (int c = 0; c < 5; c++) {
        canon_error err;
        canon_table *r = canon__sort_table(t, kk[c], nkk[c], &err);
        cr_assert(r, "%s", err.message);
        char what[64];
        snprintf(what, sizeof what, "shape=%d mode=%d keys=%d", shape, mode, c);
        check_sorted(t, r, kk[c], nkk[c], what);
        canon_table_free(r);
      }
    }
    canon_table_free(t);
  }
}

/* ---- inputs made of sorted runs (merged, not sorted) ------------------------- */

/* t's rows cut into `runs` pieces of random lengths, each stably sorted by
 * k, concatenated, with pos renumbered to the new row order. */
static canon_table *sorted_runs(const canon_table *t, const canon__sortcol *k, int nk, int runs) {
  int64_t n = canon_table_num_rows(t);
  canon_table *parts[80];
  int64_t cut[81];
  cut[0] = 0;
  cut[runs] = n;
  for (int r = 1; r < runs; r++) cut[r] = (int64_t)(tu_rnd() % (uint64_t)(n + 1));
  for (int r = 1; r < runs; r++) /* sort the cuts (tiny) */
    for (int q = r; q > 1 && cut[q - 1] > cut[q]; q--) {
      int64_t x = cut[q];
      cut[q] = cut[q - 1];
      cut[q - 1] = x;
    }
  canon_error err;
  for (int r = 0; r < runs; r++) {
    canon_table *sl = canon__table_slice(t, cut[r], cut[r + 1] - cut[r], &err);
    cr_assert(sl, "%s", err.message);
    parts[r] = canon__sort_table(sl, k, nk, &err);
    cr_assert(parts[r], "%s", err.message);
    canon_table_free(sl);
  }
  canon_table *all = canon__table_concat(parts, runs, &err);
  cr_assert(all, "%s", err.message);
  for (int r = 0; r < runs; r++) canon_table_free(parts[r]);
  canon_schema *ps = canon_schema_parse("pos:int64", &err);
  canon_builder *b = canon_builder_new(ps, &err);
  for (int64_t i = 0; i < n; i++) canon_builder_append_int64(b, 0, i);
  canon_table *pt = canon_builder_finish(b, &err);
  canon__column *cols[5];
  for (int c = 0; c < 5; c++) cols[c] = canon__column_ref(c == 3 ? pt->cols[0] : all->cols[c]);
  canon_table *out = canon__table_make(all->schema, cols, n, &err);
  cr_assert(out, "%s", err.message);
  canon_table_free(pt);
  canon_builder_free(b);
  canon_schema_free(ps);
  canon_table_free(all);
  return out;
}

Test(sort, sorted_runs_are_merged_stably) {
  static const int runs[] = {1, 2, 3, 8, 64, 65};
  /* With NULLs (the full comparison), and without (images decide: one,
   * two or three exact keys). */
  for (int shape = 0; shape < 3; shape++) {
    canon_table *t = shape == 2 ? wide_table(12000, 0, false)
                     : shape ? wide_table(12000, 5, false) : random_table(9000, false, 6);
    for (int mode = 0; mode < 4; mode++) {
      bool de = mode & 1, nf = mode & 2;
      canon__sortcol kf[2] = {{.col = 1, .descending = de, .nulls_first = nf}, {.col = 2}};
      canon__sortcol ks[2] = {{.col = 0, .descending = !de, .nulls_first = nf}, {.col = 1, .descending = de}};
      canon__sortcol kg[1] = {{.col = 4, .descending = de}}; /* heavy ties across runs */
      canon__sortcol k3[3] = {{.col = 4, .descending = !de}, {.col = 1, .descending = de}, {.col = 2}};
      const canon__sortcol *kk[] = {kf, ks, kg, k3};
      static const int nkk[] = {2, 2, 1, 3};
      for (int c = 0; c < 4; c++)
        for (int ri = 0; ri < 6; ri++) {
          canon_table *in = sorted_runs(t, kk[c], nkk[c], runs[ri]);
          canon_error err;
          canon_table *r = canon__sort_table(in, kk[c], nkk[c], &err);
          cr_assert(r, "%s", err.message);
          char what[64];
          snprintf(what, sizeof what, "shape=%d mode=%d keys=%d runs=%d", shape, mode, c, runs[ri]);
          check_sorted(in, r, kk[c], nkk[c], what);
          canon_table_free(r);
          canon_table_free(in);
        }
    }
    canon_table_free(t);
  }
}

/* ---- row views at any offset (table.c) --------------------------------------- */

/* Row i of a and row j of b hold the same cells: NULL flags, bytes of
 * strings, bits of floats, integers. */
static void same_row(const canon_table *a, int64_t i, const canon_table *b, int64_t j,
                     const char *what) {
  for (int c = 0; c < canon_table_num_columns(a); c++) {
    int na = canon_table_is_null(a, c, i), nb = canon_table_is_null(b, c, j);
    cr_assert_eq(na, nb, "%s: column %d row %lld NULL flag", what, c, (long long)i);
    if (na) continue;
    switch (canon_table_column_type(a, c)) {
    case CANON_STRING: {
      size_t la, lb;
      const char *x = canon_table_get_string(a, c, i, &la), *y = canon_table_get_string(b, c, j, &lb);
      cr_assert(la == lb && memcmp(x, y, la) == 0, "%s: column %d row %lld string", what, c,
                (long long)i);
      break;
    }
    case CANON_FLOAT64: {
      double x = canon_table_get_float64(a, c, i), y = canon_table_get_float64(b, c, j);
      cr_assert(memcmp(&x, &y, sizeof x) == 0, "%s: column %d row %lld float", what, c,
                (long long)i);
      break;
    }
    default:
      cr_assert_eq(canon_table_get_int64(a, c, i), canon_table_get_int64(b, c, j),
                   "%s: column %d row %lld", what, c, (long long)i);
    }
  }
}

/* A view equals the slice of the same rows (table.c's general path), its
 * NULL counts match, and views of consecutive ranges concatenate back to
 * the table. */
Test(sort, row_views_match_slices) {
  for (int shape = 0; shape < 3; shape++) {
    canon_table *t = shape == 0 ? random_table(1000, false, 5)
                     : shape == 1 ? wide_table(1000, 0, false) : wide_table(1000, 3, true);
    int64_t rows = canon_table_num_rows(t);
    for (int trial = 0; trial < 60; trial++) {
      int64_t start = trial < 10 ? trial : (int64_t)(tu_rnd() % (uint64_t)(rows + 1));
      int64_t n = trial % 7 == 0 ? 0 : (int64_t)(tu_rnd() % (uint64_t)(rows - start + 1));
      if (trial == 11) start = 0, n = rows;
      canon_error err;
      canon_table *v = canon__table_view_rows(t, start, n, &err);
      canon_table *sl = canon__table_slice(t, start, n, &err);
      cr_assert(v && sl, "%s", err.message);
      cr_assert_eq(canon_table_num_rows(v), n);
      char what[64];
      snprintf(what, sizeof what, "shape=%d view [%lld, +%lld)", shape, (long long)start, (long long)n);
      for (int c = 0; c < 5; c++)
        cr_assert_eq(v->cols[c]->null_count, sl->cols[c]->null_count, "%s: column %d NULLs", what, c);
      for (int64_t i = 0; i < n; i++) same_row(v, i, sl, i, what);
      canon_table_free(v);
      canon_table_free(sl);
    }
    /* Cut at random rows, viewed, concatenated: the table again. */
    canon_table *parts[9];
    int64_t at = 0;
    for (int p = 0; p < 9; p++) {
      int64_t m = p == 8 ? rows - at : (int64_t)(tu_rnd() % (uint64_t)(rows - at + 1) / 2);
      canon_error err;
      parts[p] = canon__table_view_rows(t, at, m, &err);
      cr_assert(parts[p], "%s", err.message);
      at += m;
    }
    canon_error err;
    canon_table *all = canon__table_concat(parts, 9, &err);
    cr_assert(all, "%s", err.message);
    cr_assert_eq(canon_table_num_rows(all), rows);
    for (int64_t i = 0; i < rows; i++) same_row(all, i, t, i, "concat of views");
    canon_table_free(all);
    for (int p = 0; p < 9; p++) canon_table_free(parts[p]);
    canon_error e2;
    cr_assert_null(canon__table_view_rows(t, rows, 1, &e2));
    canon_table_free(t);
  }
}
