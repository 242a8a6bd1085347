/* Tests of the sort's fast paths (core/kernels/sort.c) against the row
 * comparator and the general path:
 *   - MSD buckets of a few rows sorted by insertion (keys after the first
 *     with NULLs and ties, in both directions);
 *   - string keys with dictionary codes, whose images come from the
 *     dictionary: the same order as the uncoded twin's, with NULLs, empty
 *     strings, strings longer than 7 bytes, in both directions. */
#include "testutil.h"

#include <math.h>

#include "kernels.h"

/* Rows of r are t's stably sorted by k: a permutation (column `pos` holds
 * the input row), each adjacent pair in order, ties in input order. */
static void check_sorted(const canon_table *t, const canon_table *r, int pos,
                         const canon__sortcol *k, int nk, const char *what) {
  int64_t n = canon_table_num_rows(t);
  cr_assert_eq(canon_table_num_rows(r), n, "%s: rows", what);
  uint8_t *seen = calloc((size_t)n + 1, 1);
  for (int64_t i = 0; i < n; i++) {
    int64_t p = canon_table_get_int64(r, pos, i);
    cr_assert(p >= 0 && p < n && !seen[p], "%s: not a permutation at %lld", what, (long long)i);
    seen[p] = 1;
    if (!i) continue;
    int c = canon__cmp_rows(r, i - 1, r, i, k, nk);
    cr_assert_leq(c, 0, "%s: rows %lld and %lld out of order", what, (long long)i - 1,
                  (long long)i);
    if (c == 0)
      cr_assert_lt(canon_table_get_int64(r, pos, i - 1), p, "%s: tie order broken at %lld", what,
                   (long long)i);
  }
  free(seen);
}

/* a: int64 with `card` values `spread` apart; f: float64 from a few values, NULL at rate
 * 1/5; i: int64 from a few values, NULL at rate 1/7; pos: the row. */
static canon_table *small_bucket_table(int n, int card, int64_t spread) {
  canon_error err;
  canon_schema *s = canon_schema_parse("a:int64,f:float64,i:int64,pos:int64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  static const double fv[] = {-0.0, 0.0, 1.5, -2.25, 1e300, NAN};
  for (int r = 0; r < n; r++) {
    canon_builder_append_int64(b, 0, (int64_t)tu_rnd_below(card) * spread - 7);
    if (tu_rnd_below(5) == 0) canon_builder_append_null(b, 1);
    else canon_builder_append_float64(b, 1, fv[tu_rnd_below(6)]);
    if (tu_rnd_below(7) == 0) canon_builder_append_null(b, 2);
    else canon_builder_append_int64(b, 2, tu_rnd_below(3) - 1);
    canon_builder_append_int64(b, 3, r);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  return t;
}

Test(sort_paths, small_buckets_match_the_comparator) {
  tu_rnd_state = 21;
  /* 60000 rows over 3000 values of a far apart: MSD buckets of about 20
   * rows that differ in a, each finished by insertion on a, f and i (NULLs,
   * ties); 40000 rows over 2000 consecutive values: one MSD pass settles a,
   * and buckets of about 20 rows are finished by insertion on f (mixed
   * NULLs first) and i; with f first, buckets of many rows that tie on f. */
  for (int shape = 0; shape < 2; shape++) {
    canon_table *t = shape ? small_bucket_table(40000, 2000, 1) : small_bucket_table(60000, 3000, 1000003);
    for (int mode = 0; mode < 8; mode++) {
      bool de = mode & 1, nf = mode & 2, de2 = mode & 4;
      canon__sortcol k3[3] = {{.col = 0, .descending = de},
                              {.col = 1, .descending = de2, .nulls_first = nf},
                              {.col = 2, .descending = !de2, .nulls_first = !nf}};
      canon__sortcol kf[2] = {{.col = 1, .descending = de, .nulls_first = nf},
                              {.col = 0, .descending = de2}};
      const canon__sortcol *kk[] = {k3, kf};
      static const int nkk[] = {3, 2};
      for (int c = 0; c < 2; c++) {
        canon_error err;
        canon_table *r = canon__sort_table(t, kk[c], nkk[c], &err);
        cr_assert(r, "%s", err.message);
        char what[64];
        snprintf(what, sizeof what, "shape=%d mode=%d keys=%d", shape, mode, c);
        check_sorted(t, r, 3, kk[c], nkk[c], what);
        canon_table_free(r);
      }
    }
    canon_table_free(t);
  }
}

/* s: strings from `card` values (empty, short, and longer than 7 bytes with
 * shared prefixes), NULL at rate 1/nulls (0: none); g: int64 of 3 values;
 * pos: the row. */
static canon_table *string_table(int n, int card, int nulls) {
  canon_error err;
  canon_schema *s = canon_schema_parse("s:string,g:int64,pos:int64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  char buf[64];
  for (int r = 0; r < n; r++) {
    int64_t v = tu_rnd_below(card);
    int len = v == 0   ? 0
              : v % 3 ? snprintf(buf, sizeof buf, "k%lld", (long long)v)
                      : snprintf(buf, sizeof buf, "prefix-%lld", (long long)(v * 7919 % card));
    if (nulls && tu_rnd_below(nulls) == 0) canon_builder_append_null(b, 0);
    else canon_builder_append_string(b, 0, buf, (size_t)len);
    canon_builder_append_int64(b, 1, tu_rnd_below(3));
    canon_builder_append_int64(b, 2, r);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  return t;
}

/* A copy of t whose string columns have codes (t's have none). */
static canon_table *coded_copy(const canon_table *t) {
  canon_error err;
  int64_t n = t->nrows;
  int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
  for (int64_t i = 0; i < n; i++) idx[i] = i;
  canon_table *c = canon__table_take(t, idx, n, &err);
  free(idx);
  cr_assert(c, "%s", err.message);
  c = canon__table_dict_encode(c, &err);
  cr_assert(c, "%s", err.message);
  return c;
}

Test(sort_paths, coded_string_keys_sort_like_plain_ones) {
  tu_rnd_state = 22;
  static const int sizes[] = {300, 5000, 70000};
  for (int si = 0; si < 3; si++)
    for (int nulls = 0; nulls <= 4; nulls += 4) {
      canon_table *t = string_table(sizes[si], sizes[si] / 20 + 5, nulls);
      canon_table *c = coded_copy(t);
      cr_assert(c->cols[0]->dict, "the key column should get codes");
      cr_assert_null(t->cols[0]->dict);
      for (int mode = 0; mode < 8; mode++) {
        bool de = mode & 1, nf = mode & 2, first = mode & 4;
        canon__sortcol k1[2] = {{.col = 0, .descending = de, .nulls_first = nf}, {.col = 1}};
        canon__sortcol k2[2] = {{.col = 1, .descending = de}, {.col = 0, .descending = !de, .nulls_first = nf}};
        const canon__sortcol *k = first ? k1 : k2;
        int64_t n = t->nrows;
        int64_t *pt = malloc((size_t)n * sizeof *pt), *pc = malloc((size_t)n * sizeof *pc);
        canon_error err;
        cr_assert_eq(canon__sort_indices(t, k, 2, pt, &err), 0);
        cr_assert_eq(canon__sort_indices(c, k, 2, pc, &err), 0);
        for (int64_t i = 0; i < n; i++)
          cr_assert_eq(pt[i], pc[i], "size %d nulls %d mode %d: row %lld", sizes[si], nulls, mode,
                       (long long)i);
        canon_table *r = canon__sort_table(c, k, 2, &err);
        cr_assert(r, "%s", err.message);
        check_sorted(c, r, 2, k, 2, "coded");
        canon_table_free(r);
        free(pt);
        free(pc);
      }
      canon_table_free(t);
      canon_table_free(c);
    }
}
