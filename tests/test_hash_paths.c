/* Tests of the fast paths behind hash grouping, joins and row gathers:
 * each is compared with a direct, value-by-value computation on random
 * tables full of edge cases (NULLs, NaN with different payloads, -0.0,
 * infinities, empty and long strings, duplicate keys, empty sides).
 *   - canon__hash_rows (per-column loops, word-at-a-time string tails)
 *     against canon__hash_row (the per-value path);
 *   - canon__group_rows against first-appearance grouping by
 *     canon__key_equal;
 *   - canon__column_take (with -1 = NULL) and canon__table_take against
 *     appending cell by cell through a column builder;
 *   - canon__join against a nested loop, for every join type, with and
 *     without nulls_equal, on one int key (the hash-decides path), one
 *     float key, one string key and two keys. */
#include "testutil.h"

#include <math.h>

#include "kernels.h"

/* ---- random tables ------------------------------------------------------- */


static double bits_double(uint64_t b) {
  double d;
  memcpy(&d, &b, 8);
  return d;
}

/* Float keys: every class of §3 equality, including two NaN payloads and
 * both zeros. */
static double edge_double(int64_t k) {
  static const double fixed[] = {0.0, -0.0, 1.5, -1.5, INFINITY, -INFINITY, 1e300, 5e-324, -2.25};
  if (k == 9) return NAN;
  if (k == 10) return bits_double(0xfff8000000000123ULL);
  if (k == 11) return bits_double(0x7ff0000000000001ULL); /* signalling payload */
  return fixed[k % 9];
}

/* String keys: the empty string, short strings that are prefixes of each
 * other (so a sloppy tail would collide), strings of 7, 8, 9, 15, 16, 17
 * bytes, and long ones. */
static int edge_string(int64_t k, char *buf) {
  static const char *fixed[] = {"",         "a",         "ab",        "ab\x01",
                                "abcdefg",  "abcdefgh",  "abcdefgh\x01", "abcdefghijklmno",
                                "abcdefghijklmnop", "abcdefghijklmnopq", "id001", "id0000000001"};
  if (k < 12) {
    strcpy(buf, fixed[k]);
    return (int)strlen(buf);
  }
  int len = (int)(k % 53);
  for (int i = 0; i < len; i++) buf[i] = (char)('a' + (k * 7 + i * 13) % 26);
  buf[len] = 0;
  return len;
}

/* A table of n rows: b:bool, i:int64, f:float64, s:string, d:date, with
 * keys drawn from `card` values per column and NULLs at rate 1/null_every
 * (0: none). */
static canon_table *random_table(int64_t n, int64_t card, int null_every) {
  canon_error err;
  canon_schema *s = canon_schema_parse("b:bool,i:int64,f:float64,s:string,d:date", &err);
  cr_assert(s, "%s", err.message);
  canon_builder *b = canon_builder_new(s, &err);
  cr_assert(b);
  char buf[64];
  for (int64_t r = 0; r < n; r++) {
    for (int c = 0; c < 5; c++) {
      if (null_every && tu_rnd_below(null_every) == 0) {
        cr_assert_eq(canon_builder_append_null(b, c), 0);
        continue;
      }
      int64_t k = tu_rnd_below(card);
      int rc = 0;
      switch (c) {
      case 0: rc = canon_builder_append_bool(b, c, (int)(k & 1)); break;
      case 1: rc = canon_builder_append_int64(b, c, k * 1000003 - 77); break;
      case 2: rc = canon_builder_append_float64(b, c, edge_double(k % 12)); break;
      case 3: {
        int len = edge_string(k, buf);
        rc = canon_builder_append_string(b, c, buf, (size_t)len);
        break;
      }
      default: rc = canon_builder_append_date(b, c, (int32_t)(k - 5)); break;
      }
      cr_assert_eq(rc, 0);
    }
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  return t;
}

/* ---- row hashes ------------------------------------------------------------ */

static void check_hashes(const canon_table *t) {
  static const int sets[][5] = {{0}, {1}, {2}, {3}, {4}, {3, 1}, {0, 1, 2, 3, 4}, {3, 3}};
  static const int sizes[] = {1, 1, 1, 1, 1, 2, 5, 2};
  uint64_t *h = malloc((size_t)(t->nrows ? t->nrows : 1) * sizeof *h);
  cr_assert(h);
  for (int s = 0; s < 8; s++) {
    canon__hash_rows(t, sets[s], sizes[s], h);
    for (int64_t r = 0; r < t->nrows; r++)
      cr_assert_eq(h[r], canon__hash_row(t, sets[s], sizes[s], r), "set %d row %lld", s,
                   (long long)r);
  }
  free(h);
}

Test(hash_paths, hash_rows_agree_with_hash_row) {
  tu_rnd_state = 1;
  for (int round = 0; round < 4; round++) {
    canon_table *t = random_table(5000 + round, 40 + round * 300, round ? 7 : 0);
    check_hashes(t);
    /* Views whose string bytes alias the middle of the table's (the word
     * load of a tail must stop at the view's end, not the buffer's). */
    canon_error err;
    for (int64_t start = 0; start < 64; start += 8) {
      canon_table *v = canon__table_slice(t, start, t->nrows - start - 5, &err);
      cr_assert(v, "%s", err.message);
      check_hashes(v);
      canon_table_free(v);
    }
    canon_table_free(t);
  }
}

/* Equal §3 keys hash equally: -0.0 with 0.0, every NaN with every NaN. */
Test(hash_paths, equal_keys_hash_equally) {
  tu_rnd_state = 2;
  canon_table *t = random_table(3000, 60, 5);
  int cols[] = {2, 3};
  uint64_t *h = malloc(3000 * sizeof *h);
  canon__hash_rows(t, cols, 2, h);
  for (int64_t a = 0; a < 300; a++)
    for (int64_t b = 0; b < 3000; b++) {
      bool eq = canon__key_equal(t->cols[2], a, t->cols[2], b) &&
                canon__key_equal(t->cols[3], a, t->cols[3], b);
      if (eq) cr_assert_eq(h[a], h[b], "rows %lld %lld", (long long)a, (long long)b);
    }
  free(h);
  canon_table_free(t);
}

/* ---- grouping -------------------------------------------------------------- */

static bool rows_equal(const canon_table *t, const int *cols, int nc, int64_t a, int64_t b) {
  for (int k = 0; k < nc; k++)
    if (!canon__key_equal(t->cols[cols[k]], a, t->cols[cols[k]], b)) return false;
  return true;
}

static void check_grouping(const canon_table *t, const int *cols, int nc, bool drop) {
  int64_t n = t->nrows;
  int64_t *gid = malloc((size_t)(n ? n : 1) * sizeof *gid);
  int64_t ng = -1, *first = NULL;
  canon_error err;
  cr_assert_eq(canon__group_rows(t, cols, nc, drop, gid, &ng, &first, &err), 0, "%s",
               err.message);
  /* Direct: scan the groups found so far (first appearance order). */
  int64_t *want_first = malloc((size_t)(n ? n : 1) * sizeof *want_first);
  int64_t wg = 0;
  for (int64_t r = 0; r < n; r++) {
    bool null = false;
    for (int k = 0; k < nc; k++) null |= !canon__valid(t->cols[cols[k]], r);
    if (drop && null) {
      cr_assert_eq(gid[r], -1, "row %lld", (long long)r);
      continue;
    }
    int64_t g = 0;
    while (g < wg && !rows_equal(t, cols, nc, want_first[g], r)) g++;
    if (g == wg) want_first[wg++] = r;
    cr_assert_eq(gid[r], g, "row %lld: group %lld, want %lld", (long long)r, (long long)gid[r],
                 (long long)g);
  }
  cr_assert_eq(ng, wg);
  for (int64_t g = 0; g < wg; g++) cr_assert_eq(first[g], want_first[g]);
  free(gid);
  free(first);
  free(want_first);
}

Test(hash_paths, grouping_matches_direct_on_every_key_shape) {
  tu_rnd_state = 3;
  static const int sets[][3] = {{0}, {1}, {2}, {3}, {4}, {3, 1}, {1, 3}, {2, 3, 0}, {3, 3}};
  static const int sizes[] = {1, 1, 1, 1, 1, 2, 2, 3, 2};
  for (int round = 0; round < 3; round++) {
    /* card 700 on 3000 rows: many groups (the table grows), many repeats */
    canon_table *t = random_table(3000, round == 0 ? 20 : 700, round == 2 ? 0 : 6);
    for (int s = 0; s < 9; s++) {
      check_grouping(t, sets[s], sizes[s], false);
      check_grouping(t, sets[s], sizes[s], true);
    }
    canon_table_free(t);
  }
  canon_table *e = random_table(0, 5, 3);
  int c[] = {3, 1};
  check_grouping(e, c, 2, false);
  canon_table_free(e);
}

/* No key columns: every row is group 0 (and nothing reads a key). */
Test(hash_paths, grouping_without_keys) {
  tu_rnd_state = 10;
  canon_table *t = random_table(100, 5, 3);
  check_grouping(t, NULL, 0, false);
  check_grouping(t, NULL, 0, true);
  canon_table_free(t);
}

/* String keys only, many distinct values (growth re-places groups found by
 * string equality): checked against the integer each string came from. */
Test(hash_paths, many_string_groups) {
  enum { N = 120000, K = 40000 };
  canon_error err;
  canon_schema *s = canon_schema_parse("a:string,b:string", &err);
  canon_builder *b = canon_builder_new(s, &err);
  static int64_t key[N];
  tu_rnd_state = 4;
  for (int i = 0; i < N; i++) {
    int64_t k = tu_rnd_below(K);
    key[i] = k;
    char x[48], y[48];
    int lx = snprintf(x, sizeof x, "id%0*lld", (int)(k % 13), (long long)(k / 7));
    int ly = snprintf(y, sizeof y, "%lld", (long long)(k % 7));
    canon_builder_append_string(b, 0, x, (size_t)lx);
    canon_builder_append_string(b, 1, y, (size_t)ly);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t);
  int cols[] = {0, 1};
  static int64_t gid[N], idof[K];
  int64_t ng, *first;
  cr_assert_eq(canon__group_rows(t, cols, 2, false, gid, &ng, &first, &err), 0);
  for (int k = 0; k < K; k++) idof[k] = -1;
  int64_t next = 0;
  for (int i = 0; i < N; i++) {
    /* (k % 13 zero padding, k / 7, k % 7) identifies k. */
    if (idof[key[i]] < 0) {
      cr_assert_eq(first[next], i);
      idof[key[i]] = next++;
    }
    cr_assert_eq(gid[i], idof[key[i]], "row %d", i);
  }
  cr_assert_eq(ng, next);
  free(first);
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(s);
}

/* ---- gathers ----------------------------------------------------------------- */

/* got against values idx[0..n) of c (-1: NULL), value by value. */
static void check_gathered(const canon__column *got, const canon__column *c, const int64_t *idx,
                           int64_t n) {
  cr_assert_eq(got->type, c->type);
  cr_assert_eq(got->length, n);
  int64_t nulls = 0;
  for (int64_t k = 0; k < n; k++) {
    bool want_valid = idx[k] >= 0 && canon__valid(c, idx[k]);
    cr_assert_eq(canon__valid(got, k), want_valid, "row %lld", (long long)k);
    if (!want_valid) {
      nulls++;
      if (c->type == CANON_STRING) {
        size_t len;
        canon__str(got, k, &len);
        cr_assert_eq(len, 0);
      }
      continue;
    }
    int64_t r = idx[k];
    switch (c->type) {
    case CANON_BOOL: cr_assert_eq(canon__u8(got)[k], canon__u8(c)[r]); break;
    case CANON_DATE: cr_assert_eq(canon__i32(got)[k], canon__i32(c)[r]); break;
    case CANON_STRING: {
      size_t la, lb;
      const char *a = canon__str(got, k, &la), *b = canon__str(c, r, &lb);
      cr_assert_eq(la, lb, "row %lld", (long long)k);
      cr_assert(memcmp(a, b, la) == 0, "row %lld", (long long)k);
      break;
    }
    default: /* int64, float64: the bits */
      cr_assert_eq(canon__i64(got)[k], canon__i64(c)[r], "row %lld", (long long)k);
      break;
    }
  }
  cr_assert_eq(got->null_count, nulls);
  cr_assert_eq(got->validity != NULL, nulls != 0);
  if (c->type == CANON_STRING) {
    const int64_t *off = (const int64_t *)got->values->data;
    /* a copy's offsets start at 0 and end at its bytes; a shared view's
     * lie inside its parent's */
    cr_assert(off[0] == 0 || got->values == c->values || got->values->parent);
    cr_assert_leq((size_t)off[n], got->strdata->size);
    /* codes carried along still name each row's string */
    cr_assert_eq(got->dict, c->dict);
    for (int64_t k = 0; got->dict && k < n; k++) {
      if (!canon__valid(got, k)) continue;
      size_t la, lb;
      const char *a = canon__str(got, k, &la);
      const char *b = canon__str(got->dict->values, canon__codes(got)[k], &lb);
      cr_assert(la == lb && memcmp(a, b, la) == 0, "code of row %lld", (long long)k);
    }
  }
}

static void check_take(const canon__column *c, const int64_t *idx, int64_t n) {
  bool neg = false;
  for (int64_t k = 0; k < n; k++) neg |= idx[k] < 0;
  canon__column *got = canon__column_take(c, idx, n, neg);
  cr_assert(got);
  check_gathered(got, c, idx, n);
  canon__column_unref(got);
}

Test(hash_paths, take_matches_value_by_value) {
  tu_rnd_state = 5;
  canon_error err;
  for (int round = 0; round < 3; round++) {
    int64_t n = 2000;
    canon_table *t = random_table(n, 500, round ? 4 : 0);
    canon_table *v = canon__table_slice(t, 16, n - 40, &err); /* aliased buffers */
    cr_assert(v);
    int64_t m = 3001;
    int64_t *idx = malloc((size_t)m * sizeof *idx);
    for (int src = 0; src < 2; src++) {
      const canon_table *s = src ? v : t;
      /* random with repeats and -1s; then the last rows (string tails at
       * the end of the bytes); then no -1 at all */
      for (int pass = 0; pass < 3; pass++) {
        for (int64_t k = 0; k < m; k++) {
          if (pass == 0)
            idx[k] = tu_rnd_below(9) == 0 ? -1 : tu_rnd_below(s->nrows);
          else if (pass == 1)
            idx[k] = s->nrows - 1 - (k % 3);
          else
            idx[k] = tu_rnd_below(s->nrows);
        }
        for (int c = 0; c < 5; c++) check_take(s->cols[c], idx, m);
        if (pass == 0) continue; /* table_take has no -1 */
        canon_table *tt = canon__table_take(s, idx, m, &err);
        cr_assert(tt, "%s", err.message);
        for (int c = 0; c < 5; c++) check_gathered(tt->cols[c], s->cols[c], idx, m);
        canon_table_free(tt);
      }
      for (int c = 0; c < 5; c++) check_take(s->cols[c], idx, 0);
    }
    free(idx);
    canon_table_free(v);
    canon_table_free(t);
  }
  /* An empty column: every index is -1. */
  canon_table *e = random_table(0, 5, 0);
  int64_t none[7] = {-1, -1, -1, -1, -1, -1, -1};
  for (int c = 0; c < 5; c++) check_take(e->cols[c], none, 7);
  canon_table_free(e);
}

/* Gathered bytes sized from the column's mean length: rows much longer
 * than the mean make the buffer grow (once, or many times). */
Test(hash_paths, take_of_long_rows_grows_the_bytes) {
  canon_error err;
  canon_schema *s = canon_schema_parse("s:string", &err);
  canon_builder *b = canon_builder_new(s, &err);
  char longs[300];
  memset(longs, 'q', sizeof longs);
  for (int i = 0; i < 1000; i++) {
    if (i == 500) longs[0] = 'Q';
    canon_builder_append_string(b, 0, longs, i % 100 == 7 ? (size_t)(i % 300) : (size_t)(i % 3));
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t);
  int64_t idx[4000];
  for (int pattern = 0; pattern < 3; pattern++) {
    for (int k = 0; k < 4000; k++) {
      if (pattern == 0) idx[k] = 907;                                   /* all long */
      else if (pattern == 1) idx[k] = k < 3000 ? k % 3 * 3 : 707 + (k % 2) * 200; /* long at the end */
      else idx[k] = (k % 5 == 0) ? -1 : (k * 100 + 7) % 1000;          /* mixed, with NULLs */
    }
    check_take(t->cols[0], idx, 4000);
  }
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(s);
}

/* ---- joins --------------------------------------------------------------------- */

static bool keys_match(const canon_table *L, int64_t i, const canon_table *R, int64_t j,
                       const int *lk, const int *rk, int nk, bool nulls_equal) {
  for (int k = 0; k < nk; k++) {
    const canon__column *a = L->cols[lk[k]], *b = R->cols[rk[k]];
    if (!nulls_equal && (!canon__valid(a, i) || !canon__valid(b, j))) return false;
    if (!canon__key_equal(a, i, b, j)) return false;
  }
  return true;
}

/* Is value row of c (row < 0: NULL) the value k of column g? */
static void expect_cell(const canon__column *g, int64_t k, const canon__column *c, int64_t row) {
  bool valid = row >= 0 && canon__valid(c, row);
  cr_assert_eq(canon__valid(g, k), valid, "output row %lld", (long long)k);
  if (!valid) return;
  cr_assert(canon__key_equal(g, k, c, row), "output row %lld", (long long)k);
  if (g->type == CANON_FLOAT64) /* bits, not only §3 equality */
    cr_assert_eq(canon__i64(g)[k], canon__i64(c)[row]);
}

static void check_join(const canon_table *L, const canon_table *R, int type, const int *keys,
                       int nk, bool nulls_equal) {
  /* Output: every left column, then every right column (merged keys for
   * right and full joins take the left value, else the right one). */
  canon_error err;
  bool right_cols = type != CANON_JOIN_SEMI && type != CANON_JOIN_ANTI;
  canon_schema *s = canon_schema_new();
  int out_left[10], out_right[10], nout = 0;
  static const char *names[] = {"b", "i", "f", "s", "d"};
  static const canon_type types[] = {CANON_BOOL, CANON_INT64, CANON_FLOAT64, CANON_STRING,
                                     CANON_DATE};
  for (int c = 0; c < 5; c++) {
    canon_schema_add(s, names[c], types[c], &err);
    out_left[nout] = c;
    /* a merged key: the first key column */
    out_right[nout] = right_cols && c == keys[0] ? keys[0] : -1;
    nout++;
  }
  if (right_cols)
    for (int c = 0; c < 5; c++) {
      char nm[8];
      snprintf(nm, sizeof nm, "%s_r", names[c]);
      canon_schema_add(s, nm, types[c], &err);
      out_left[nout] = -1;
      out_right[nout] = c;
      nout++;
    }
  canon__join_spec sp = {.type = type,
                         .nkeys = nk,
                         .lkeys = keys,
                         .rkeys = keys,
                         .nulls_equal = nulls_equal,
                         .out = s,
                         .out_left = out_left,
                         .out_right = out_right};
  canon_table *out = canon__join(L, R, &sp, &err);
  cr_assert(out, "%s", err.message);

  /* The pairs by nested loop. */
  int64_t cap = L->nrows * (R->nrows + 1) + R->nrows + 1;
  int64_t *pl = malloc((size_t)cap * sizeof *pl), *pr = malloc((size_t)cap * sizeof *pr);
  bool *matched = calloc((size_t)R->nrows + 1, 1);
  int64_t np = 0;
  for (int64_t i = 0; i < L->nrows; i++) {
    bool found = false;
    for (int64_t j = 0; j < R->nrows; j++) {
      if (!keys_match(L, i, R, j, keys, keys, nk, nulls_equal)) continue;
      found = true;
      matched[j] = true;
      if (type == CANON_JOIN_SEMI || type == CANON_JOIN_ANTI) break;
      pl[np] = i, pr[np] = j, np++;
    }
    if ((type == CANON_JOIN_SEMI && found) ||
        (!found && (type == CANON_JOIN_ANTI || type == CANON_JOIN_LEFT || type == CANON_JOIN_FULL)))
      pl[np] = i, pr[np] = -1, np++;
  }
  if (type == CANON_JOIN_RIGHT || type == CANON_JOIN_FULL)
    for (int64_t j = 0; j < R->nrows; j++)
      if (!matched[j]) pl[np] = -1, pr[np] = j, np++;

  cr_assert_eq(out->nrows, np, "type %d keys %d nulls_equal %d: %lld rows, want %lld", type,
               nk, nulls_equal, (long long)out->nrows, (long long)np);
  for (int c = 0; c < nout; c++) {
    const canon__column *g = out->cols[c];
    for (int64_t k = 0; k < np; k++) {
      if (out_left[c] >= 0 && (pl[k] >= 0 || out_right[c] < 0))
        expect_cell(g, k, L->cols[out_left[c]], pl[k]);
      else
        expect_cell(g, k, R->cols[out_right[c]], pr[k]);
    }
  }
  free(pl);
  free(pr);
  free(matched);
  canon_table_free(out);
  canon_schema_free(s);
}

Test(hash_paths, join_matches_nested_loop) {
  static const int keysets[][2] = {{1}, {2}, {3}, {4}, {0}, {3, 1}, {2, 3}};
  static const int nks[] = {1, 1, 1, 1, 1, 2, 2};
  static const int types[] = {CANON_JOIN_INNER, CANON_JOIN_LEFT, CANON_JOIN_RIGHT,
                              CANON_JOIN_FULL,  CANON_JOIN_SEMI, CANON_JOIN_ANTI};
  static const int64_t sizes[][2] = {{300, 200}, {250, 0}, {0, 180}, {0, 0}, {1, 1}};
  tu_rnd_state = 7;
  for (int z = 0; z < 5; z++) {
    for (int nulls = 0; nulls < 2; nulls++) {
      canon_table *L = random_table(sizes[z][0], 40, nulls ? 6 : 0);
      canon_table *R = random_table(sizes[z][1], 40, nulls ? 5 : 0);
      for (int ks = 0; ks < 7; ks++)
        for (int ty = 0; ty < 6; ty++)
          for (int ne = 0; ne < 2; ne++) check_join(L, R, types[ty], keysets[ks], nks[ks], ne);
      canon_table_free(L);
      canon_table_free(R);
    }
  }
}

/* The rows of one hash-exchange bucket share their hash's low bits, and
 * many duplicate keys fill long runs in one slot. */
Test(hash_paths, join_one_bucket_and_long_runs) {
  tu_rnd_state = 8;
  canon_error err;
  canon_table *L0 = random_table(4000, 3000, 9), *R0 = random_table(3000, 3000, 9);
  int key[] = {1};
  uint64_t *h = malloc(4000 * sizeof *h);
  int64_t *idx = malloc(4000 * sizeof *idx);
  canon_table *side[2];
  const canon_table *src[2] = {L0, R0};
  for (int s = 0; s < 2; s++) {
    canon__hash_rows(src[s], key, 1, h);
    int64_t m = 0;
    for (int64_t r = 0; r < src[s]->nrows; r++)
      if (h[r] % 4 == 1) idx[m++] = r;
    side[s] = canon__table_take(src[s], idx, m, &err);
    cr_assert(side[s]);
  }
  for (int ne = 0; ne < 2; ne++) {
    check_join(side[0], side[1], CANON_JOIN_INNER, key, 1, ne);
    check_join(side[0], side[1], CANON_JOIN_FULL, key, 1, ne);
  }
  canon_table_free(side[0]);
  canon_table_free(side[1]);
  canon_table *L = random_table(500, 3, 0), *R = random_table(400, 3, 0);
  int skey[] = {3};
  check_join(L, R, CANON_JOIN_INNER, skey, 1, false);
  check_join(L, R, CANON_JOIN_LEFT, key, 1, false);
  canon_table_free(L);
  canon_table_free(R);
  canon_table_free(L0);
  canon_table_free(R0);
  free(h);
  free(idx);
}

/* One int64 key is matched by hash alone; the row hash of a NULL is a
 * constant that some int's hash equals (the int whose bits are the NULL
 * constant): with nulls_equal that value must still not match NULL. */
static canon_table *int_keys_table(const int64_t *v, const bool *null, int n) {
  canon_error err;
  canon_schema *s = canon_schema_parse("b:bool,i:int64,f:float64,s:string,d:date", &err);
  canon_builder *b = canon_builder_new(s, &err);
  for (int r = 0; r < n; r++) {
    canon_builder_append_bool(b, 0, r & 1);
    if (null[r])
      canon_builder_append_null(b, 1);
    else
      canon_builder_append_int64(b, 1, v[r]);
    canon_builder_append_float64(b, 2, r * 0.5);
    canon_builder_append_string(b, 3, "x", 1);
    canon_builder_append_date(b, 4, r);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  return t;
}

Test(hash_paths, int_key_equal_to_the_null_hash_constant) {
  const int64_t C = (int64_t)UINT64_C(0x1ff135342e825ce1);
  int64_t lv[] = {C, 0, 5, C, 0}, rv[] = {0, C, 5, 0, 7};
  bool ln[] = {false, true, false, false, true}, rn[] = {true, false, false, true, false};
  canon_table *L = int_keys_table(lv, ln, 5), *R = int_keys_table(rv, rn, 5);
  int key[] = {1};
  /* The premise: NULL and C hash alike. */
  cr_assert_eq(canon__hash_row(L, key, 1, 0), canon__hash_row(L, key, 1, 1));
  static const int types[] = {CANON_JOIN_INNER, CANON_JOIN_LEFT, CANON_JOIN_RIGHT,
                              CANON_JOIN_FULL,  CANON_JOIN_SEMI, CANON_JOIN_ANTI};
  for (int ty = 0; ty < 6; ty++)
    for (int ne = 0; ne < 2; ne++) check_join(L, R, types[ty], key, 1, ne);
  /* Grouping tells them apart as well. */
  check_grouping(L, key, 1, false);
  check_grouping(R, key, 1, false);
  canon_table_free(L);
  canon_table_free(R);
}

/* ---- hash splits ------------------------------------------------------------ */

/* Each bucket holds the rows whose hash is its number mod n, in order;
 * when all rows share a bucket (one key, or n = 1) as well. */
static void check_split(const canon_table *t, const int *cols, int nc, int n) {
  canon_error err;
  canon_table *b[8];
  cr_assert_eq(canon__split_hash(t, cols, nc, n, b, &err), 0, "%s", err.message);
  uint64_t *h = malloc((size_t)(t->nrows ? t->nrows : 1) * sizeof *h);
  int64_t *idx = malloc((size_t)(t->nrows ? t->nrows : 1) * sizeof *idx);
  canon__hash_rows(t, cols, nc, h);
  for (int k = 0; k < n; k++) {
    int64_t m = 0;
    for (int64_t r = 0; r < t->nrows; r++)
      if (h[r] % (uint64_t)n == (uint64_t)k) idx[m++] = r;
    cr_assert(canon__schema_equal(b[k]->schema, t->schema));
    cr_assert_eq(b[k]->nrows, m, "bucket %d", k);
    for (int c = 0; c < t->schema->n; c++) {
      cr_assert_eq(b[k]->cols[c]->length, m);
      check_gathered(b[k]->cols[c], t->cols[c], idx, m);
    }
    canon_table_free(b[k]);
  }
  free(h);
  free(idx);
}

Test(hash_paths, split_hash_buckets) {
  tu_rnd_state = 9;
  canon_table *t = random_table(3000, 200, 5), *one = random_table(500, 1, 0);
  canon_table *e = random_table(0, 1, 0);
  /* a view (its string offsets index the parent's bytes, its bitmap
   * starts mid-byte) and a table whose strings carry codes */
  canon_error err;
  canon_table *v = canon__table_slice(t, 13, 2900, &err);
  canon_table *coded = canon__table_dict_encode(random_table(3000, 40, 4), &err);
  cr_assert(v && coded);
  cr_assert(coded->cols[3]->dict);
  int k1[] = {1}, k2[] = {3, 2};
  for (int n = 1; n <= 8; n += 3) {
    check_split(t, k1, 1, n);
    check_split(t, k2, 2, n);
    check_split(v, k2, 2, n);
    check_split(coded, k2, 2, n);
    check_split(one, k2, 2, n); /* one key: every row in one bucket */
    check_split(e, k1, 1, n);
  }
  canon_table_free(v);
  canon_table_free(coded);
  canon_table_free(t);
  canon_table_free(one);
  canon_table_free(e);
}

/* The join hashes each side a block of rows at a time (4096, and the probe
 * looks 16 rows past its block): sides of sizes around those blocks give
 * the pairs a reference finds by key (rows of "k:int64,id:int64", keys
 * below K with NULLs; the output is (left id, right id)), in the kernel's
 * order: left rows in order, each one's matches in right row order, an
 * unmatched row of a left join in its place. */
static canon_table *block_side(int64_t n, int64_t nkeys, uint64_t seed) {
  canon_error err;
  canon_schema *s = canon_schema_parse("k:int64,id:int64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  tu_rnd_state = seed;
  for (int64_t r = 0; r < n; r++) {
    if (tu_rnd_below(10) == 0) canon_builder_append_null(b, 0);
    else canon_builder_append_int64(b, 0, tu_rnd_below(nkeys));
    canon_builder_append_int64(b, 1, r);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  return t;
}

Test(hash_paths, join_across_hash_blocks) {
  static const int64_t sizes[][2] = {{4096, 4096}, {4097, 4095}, {4111, 4113}, {4112, 1},
                                     {8193, 8208}, {1, 8192},    {12300, 3}};
  canon_error err;
  int key[] = {0}, out_left[] = {1, -1}, out_right[] = {-1, 1};
  canon_schema *s = canon_schema_parse("l:int64,r:int64", &err);
  for (int z = 0; z < 7; z++)
    for (int type = 0; type < 2; type++) {
      int64_t nL = sizes[z][0], nR = sizes[z][1], K = (nL + nR) / 3 + 1;
      canon_table *L = block_side(nL, K, 100 + (uint64_t)z);
      canon_table *R = block_side(nR, K, 200 + (uint64_t)z);
      int jt = type ? CANON_JOIN_LEFT : CANON_JOIN_INNER;
      canon__join_spec sp = {.type = jt, .nkeys = 1, .lkeys = key, .rkeys = key,
                             .out = s, .out_left = out_left, .out_right = out_right};
      canon_table *out = canon__join(L, R, &sp, &err);
      cr_assert(out, "%s", err.message);
      /* The right rows of each key, in row order. */
      int64_t *start = calloc((size_t)K + 1, sizeof *start);
      int64_t *rows = malloc((size_t)nR * sizeof *rows);
      const canon__column *lk = L->cols[0], *rk = R->cols[0];
      for (int64_t j = 0; j < nR; j++)
        if (canon__valid(rk, j)) start[canon__i64(rk)[j] + 1]++;
      for (int64_t k = 0; k < K; k++) start[k + 1] += start[k];
      int64_t *pos = malloc(((size_t)K + 1) * sizeof *pos);
      memcpy(pos, start, ((size_t)K + 1) * sizeof *pos);
      for (int64_t j = 0; j < nR; j++)
        if (canon__valid(rk, j)) rows[pos[canon__i64(rk)[j]]++] = j;
      int64_t at = 0;
      const canon__column *ol = out->cols[0], *orr = out->cols[1];
      for (int64_t i = 0; i < nL; i++) {
        int64_t a = 0, b = 0;
        if (canon__valid(lk, i)) a = start[canon__i64(lk)[i]], b = start[canon__i64(lk)[i] + 1];
        for (int64_t e = a; e < b; e++, at++) {
          cr_assert_lt(at, out->nrows, "sizes %lld/%lld: too few rows", (long long)nL, (long long)nR);
          cr_assert_eq(canon__i64(ol)[at], i, "sizes %lld/%lld row %lld", (long long)nL,
                       (long long)nR, (long long)at);
          cr_assert(canon__valid(orr, at));
          cr_assert_eq(canon__i64(orr)[at], rows[e], "sizes %lld/%lld row %lld", (long long)nL,
                       (long long)nR, (long long)at);
        }
        if (a == b && jt == CANON_JOIN_LEFT) {
          cr_assert_lt(at, out->nrows);
          cr_assert_eq(canon__i64(ol)[at], i);
          cr_assert(!canon__valid(orr, at), "row %lld: a right row for an unmatched left row", (long long)at);
          at++;
        }
      }
      cr_assert_eq(at, out->nrows, "sizes %lld/%lld: %lld rows, want %lld", (long long)nL,
                   (long long)nR, (long long)out->nrows, (long long)at);
      free(start);
      free(rows);
      free(pos);
      canon_table_free(out);
      canon_table_free(L);
      canon_table_free(R);
    }
  canon_schema_free(s);
}
