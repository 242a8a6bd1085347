/* test_codec_concat.c — canon__table_concat_encoded (host slot
 * table_concat_encoded): the concatenation of tables written straight into
 * an encoding must be, byte for byte, table_encode_into of
 * canon__table_concat of the same parts, and the table it returns must
 * hold the same rows, NULLs and dictionary codes as that concatenation.
 * Parts: NULLs and none, NaN, -0.0, empty strings and strings longer than
 * 7 bytes, string views starting past byte 0, coded strings with one
 * dictionary, different ones or some parts without codes, empty parts,
 * one part, no rows at all, and big enough to be copied by threads.
 * Also the decoder's one-pass checks (NULL counts by words, bools,
 * offsets) refusing a lie at any row, checked or own. */
#include "codec_testutil.h"

#include <stdio.h>

extern const canon_host canon__host;

TestSuite(codec_concat);

/* The two ways agree on parts[0..n). */
static void check_parts(canon_table *const *parts, int n, const char *what) {
  canon_error err;
  canon_table *want = canon__table_concat(parts, n, &err);
  cr_assert(want, "%s: %s", what, err.message);
  size_t wlen;
  uint8_t *wbuf = ct_encode(want, &wlen);
  ct_mem m = {0};
  canon_table *got = canon__host.table_concat_encoded(parts, n, ct_mem_alloc, ct_mem_release, &m, &err);
  cr_assert(got, "%s: %s", what, err.message);
  cr_assert_eq(m.allocs, 1);
  cr_assert_eq(m.len, wlen, "%s: %zu bytes, want %zu", what, m.len, wlen);
  for (size_t i = 0; i < wlen; i++)
    cr_assert_eq(m.buf[i], wbuf[i], "%s: byte %zu of %zu", what, i, wlen);
  /* The rows, cell for cell, and the codes. */
  if (want->schema->n) { /* (no CSV without columns) */
    char *a = tu_csv(want), *b = tu_csv(got);
    cr_assert_str_eq(b, a, "%s", what);
    free(a);
    free(b);
  }
  cr_assert_eq(canon_table_num_rows(got), canon_table_num_rows(want));
  for (int i = 0; i < want->schema->n; i++) {
    const canon__column *wc = want->cols[i], *gc = got->cols[i];
    cr_assert_eq(gc->null_count, wc->null_count, "%s: column %d", what, i);
    cr_assert_eq(!gc->dict, !wc->dict, "%s: column %d codes", what, i);
    if (!wc->dict) continue;
    cr_assert_eq(gc->dict->values->length, wc->dict->values->length);
    cr_assert(memcmp(gc->codes->data, wc->codes->data, (size_t)wc->length * 4) == 0, "%s", what);
    cr_assert(memcmp(gc->dict->prehash, wc->dict->prehash, (size_t)wc->dict->values->length * 8) == 0);
  }
  /* A reader in another process decodes it, checked. */
  canon_table *d = canon__table_decode(m.buf, m.len, &err);
  cr_assert(d, "%s: %s", what, err.message);
  canon_table_free(d);
  /* The memory lives as long as the table, or a table sharing it. */
  canon_table *shared = canon__table_slice(got, 0, canon_table_num_rows(got), &err);
  cr_assert(shared, "%s", err.message);
  canon_table_free(got);
  /* (A table without columns holds none of it: released at once.) */
  cr_assert_eq(m.releases, want->schema->n ? 0 : 1, "%s: released under a live view", what);
  canon_table_free(shared);
  cr_assert_eq(m.releases, 1, "%s: released %d times", what, m.releases);
  free(m.buf);
  free(wbuf);
  canon_table_free(want);
}

Test(codec_concat, equals_encoding_the_concatenation) {
  canon_error err;
  ct_parts t;
  ct_concat_case cases[CT_CONCAT_CASES];
  ct_parts_make(&t, cases);
  /* The case meant to keep its codes on the heap does: its merged
   * dictionary is too big to ship for its rows. */
  canon_table *few[] = {t.few1, t.few2};
  canon_table *fewcat = canon__table_concat(few, 2, &err);
  cr_assert(fewcat && fewcat->cols[1]->dict, "%s", err.message);
  cr_assert_gt(fewcat->cols[1]->dict->values->length, canon_table_num_rows(fewcat) / 4);
  canon_table_free(fewcat);
  for (int k = 0; k < CT_CONCAT_CASES; k++) check_parts(cases[k].p, cases[k].n, cases[k].what);
  ct_parts_free(&t);
}

/* Big enough to be copied by several threads (at least 8 MiB). */
Test(codec_concat, big_parts_copied_by_threads) {
  canon_table *p[3] = {ct_table_of(200000, 5, 100, 11, true), ct_table_of(150001, 6, 100, 0, true),
                       ct_table_of(170003, 7, 90, 13, true)};
  check_parts(p, 3, "big parts");
  for (int k = 0; k < 3; k++) canon_table_free(p[k]);
}

/* No columns, and rows with no columns. */
Test(codec_concat, tables_without_columns) {
  canon_error err;
  canon_schema *s = canon_schema_new();
  canon_table *e = canon__table_empty(s, &err);
  cr_assert(e, "%s", err.message);
  canon_table *p[2] = {e, e};
  check_parts(p, 2, "no columns");
  canon_table_free(e);
  canon_schema_free(s);
}

/* Memory refused, different schemas, no parts: clean errors. */
Test(codec_concat, failures_are_clean) {
  canon_error err;
  canon_table *a = ct_table_of(100, 1, 10, 3, true), *b = ct_table_of(100, 2, 10, 3, true);
  canon_table *p[2] = {a, b};
  ct_mem m = {.fail = true};
  cr_assert_null(canon__host.table_concat_encoded(p, 2, ct_mem_alloc, ct_mem_release, &m, &err));
  cr_assert_eq(err.code, CANON_ERR_NOMEM);
  cr_assert_eq(m.allocs, 1);
  cr_assert_eq(m.releases, 0, "nothing to release when alloc failed");
  free(m.buf);
  canon_table *c = canon_table_from_csv_text("x:int64", "1\n2\n", &err);
  canon_table *q[2] = {a, c};
  ct_mem m2 = {0};
  cr_assert_null(canon__host.table_concat_encoded(q, 2, ct_mem_alloc, ct_mem_release, &m2, &err));
  cr_assert_eq(m2.allocs, 0);
  cr_assert_null(canon__host.table_concat_encoded(q, 0, ct_mem_alloc, ct_mem_release, &m2, &err));
  cr_assert_eq(m2.allocs, 0);
  canon_table_free(a);
  canon_table_free(b);
  canon_table_free(c);
}

/* ---- the decoder's one-pass checks, at every kind of row ------------------ */

/* Where column i's validity, values and string bytes start in an encoding
 * (walking the descriptors: header 32 bytes, 40 per column, names). */
static void sections(const uint8_t *buf, int i, size_t *v, size_t *w, size_t *s) {
  uint32_t nc;
  memcpy(&nc, buf + 16, 4);
  size_t at = 32 + (size_t)nc * 40, names = 0;
  for (uint32_t k = 0; k < nc; k++) {
    uint32_t l;
    memcpy(&l, buf + 32 + k * 40 + 4, 4);
    names += l;
  }
  at += (names + 7) & ~(size_t)7;
  for (int k = 0; k <= i; k++) {
    uint64_t sz[3];
    memcpy(sz, buf + 32 + (size_t)k * 40 + 16, 24);
    if (k == i) *v = at, *w = at + ((sz[0] + 7) & ~7u), *s = *w + ((sz[1] + 7) & ~7u);
    for (int j = 0; j < 3; j++) at += (sz[j] + 7) & ~(uint64_t)7;
  }
}

/* A NULL count off by one bit in a whole 64-row word or in the tail, a
 * bool of 2, an offset going down or not starting at 0: refused by the
 * checked and by the own decoding, wherever the row. */
Test(codec_concat, decoding_refuses_bad_bitmaps_bools_and_offsets) {
  canon_table *t = ct_table_of(203, 9, 20, 4, false); /* k, s, f, b, d: NULLs in k, s, b, d */
  size_t len;
  uint8_t *buf = ct_encode(t, &len);
  uint8_t *c = malloc(len);
  canon_error err;
  canon_table *ok = canon__table_decode(buf, len, &err);
  cr_assert(ok, "%s", err.message);
  canon_table_free(ok);
  const int rows[] = {0, 63, 64, 130, 191, 192, 200, 202};
  for (size_t r = 0; r < sizeof rows / sizeof *rows; r++) {
    int row = rows[r];
    size_t v, w, s;
    for (int lie = 0; lie < 4; lie++) {
      memcpy(c, buf, len);
      const char *says;
      if (lie == 0) { /* a validity bit of k */
        sections(c, 0, &v, &w, &s);
        c[v + (size_t)row / 8] ^= (uint8_t)(1u << (row % 8));
        says = "NULL count";
      } else if (lie == 1) { /* a bool */
        sections(c, 3, &v, &w, &s);
        c[w + (size_t)row] = 2;
        says = "bool";
      } else if (lie == 2) { /* an offset of s below the one before */
        sections(c, 1, &v, &w, &s);
        int64_t o;
        memcpy(&o, c + w + (size_t)(row + 1) * 8, 8);
        o = -1 - o;
        memcpy(c + w + (size_t)(row + 1) * 8, &o, 8);
        says = row == 202 ? "offsets" : "monotone";
      } else { /* the first offset */
        if (row) continue;
        sections(c, 1, &v, &w, &s);
        c[w] = 1;
        says = "monotone";
      }
      canon_table *d = canon__table_decode(c, len, &err);
      cr_assert_null(d, "lie %d at row %d accepted", lie, row);
      cr_assert(strstr(err.message, says), "lie %d at row %d: %s", lie, row, err.message);
      d = canon__table_decode_own(c, len, NULL, NULL, &err);
      cr_assert_null(d, "lie %d at row %d accepted as own", lie, row);
    }
  }
  free(c);
  free(buf);
  canon_table_free(t);
}
