/* codec_testutil.h — encoding a table, and a table of every kind of
 * value, for the codec tests (test_codec.c, test_dict.c,
 * test_codec_concat.c, test_split_encode.c, test_codec_refs.c). */
#ifndef CANON_CODEC_TESTUTIL_H
#define CANON_CODEC_TESTUTIL_H

#include "testutil.h"

#include "internal.h"

/* t encoded into a malloc'd buffer of *len bytes. */
static inline uint8_t *ct_encode(const canon_table *t, size_t *len) {
  *len = canon__table_encoded_size(t);
  uint8_t *buf = malloc(*len);
  canon_error err;
  cr_assert(buf);
  cr_assert_eq(canon__table_encode_into(t, buf, *len, &err), 0, "%s", err.message);
  return buf;
}

/* Same schema, NULLs, and bits of every non-NULL value (strings by their
 * bytes; dictionary codes too where both columns have them). */
static inline void ct_assert_same_bits(const canon_table *a, const canon_table *b) {
  cr_assert(canon__schema_equal(a->schema, b->schema));
  cr_assert_eq(a->nrows, b->nrows);
  for (int c = 0; c < a->schema->n; c++) {
    const canon__column *x = a->cols[c], *y = b->cols[c];
    cr_assert_eq(x->null_count, y->null_count, "column %d", c);
    for (int64_t r = 0; r < a->nrows; r++) {
      cr_assert_eq(canon__valid(x, r), canon__valid(y, r), "column %d row %lld", c, (long long)r);
      if (!canon__valid(x, r)) continue;
      if (x->type == CANON_STRING) {
        size_t lx, ly;
        const char *sx = canon__str(x, r, &lx), *sy = canon__str(y, r, &ly);
        cr_assert(lx == ly && memcmp(sx, sy, lx) == 0, "column %d row %lld", c, (long long)r);
        if (x->dict && y->dict) cr_assert_eq(canon__codes(x)[r], canon__codes(y)[r]);
      } else {
        size_t w = canon__type_width(x->type);
        cr_assert(memcmp(x->values->data + r * (int64_t)w, y->values->data + r * (int64_t)w, w) == 0,
                  "column %d row %lld", c, (long long)r);
      }
    }
  }
}

/* Memory an engine-style alloc(ctx, len) callback hands out (filled with
 * junk: every byte of an encoding written there must be written), counted
 * with its releases; `fail`: alloc returns NULL.  The bytes stay until the
 * test frees buf. */
typedef struct ct_mem {
  uint8_t *buf;
  size_t len;
  int allocs, releases;
  bool fail;
} ct_mem;

static inline uint8_t *ct_mem_alloc(void *ctx, size_t len) {
  ct_mem *m = ctx;
  m->allocs++;
  if (m->fail) return NULL;
  m->len = len;
  m->buf = malloc(len ? len : 1);
  cr_assert(m->buf);
  memset(m->buf, 0xa5, len);
  return m->buf;
}

static inline void ct_mem_release(void *ctx) { ((ct_mem *)ctx)->releases++; }

/* A table of n rows (salt varies the values): k int64 with NULLs, s
 * strings drawn from `card` values (empty, short and longer than 16
 * bytes), f float64 with NaN and -0.0, b bool with NULLs, d date; every
 * null_every-th row (0: none) is NULL in k, s and d.  `codes`: string
 * columns get dictionary codes where they qualify. */
static inline canon_table *ct_table_of(int64_t n, int salt, int card, int null_every, bool codes) {
  canon_error err;
  canon_schema *s = canon_schema_parse("k:int64,s:string,f:float64,b:bool,d:date", &err);
  canon_builder *b = canon_builder_new(s, &err);
  cr_assert(b, "%s", err.message);
  char buf[64];
  for (int64_t r = 0; r < n; r++) {
    int64_t h = (r * 7919 + salt * 104729) % 1009;
    bool null = null_every && r % null_every == 1;
    if (null || h % 7 == 0) cr_assert_eq(canon_builder_append_null(b, 0), 0);
    else cr_assert_eq(canon_builder_append_int64(b, 0, h - 500), 0);
    int64_t k = (h + salt) % card;
    if (null) {
      cr_assert_eq(canon_builder_append_null(b, 1), 0);
    } else {
      int len = k == 0 ? 0 : snprintf(buf, sizeof buf, k % 3 ? "v%lld" : "a-longer-value-%012lld", (long long)k);
      cr_assert_eq(canon_builder_append_string(b, 1, buf, (size_t)len), 0);
    }
    double f = h % 5 == 0 ? __builtin_nan("") : h % 5 == 1 ? -0.0 : (double)h / 8;
    cr_assert_eq(canon_builder_append_float64(b, 2, f), 0);
    if (h % 9 == 0) cr_assert_eq(canon_builder_append_null(b, 3), 0);
    else cr_assert_eq(canon_builder_append_bool(b, 3, h % 2), 0);
    if (null) cr_assert_eq(canon_builder_append_null(b, 4), 0);
    else cr_assert_eq(canon_builder_append_date(b, 4, (int32_t)(h * 3 - 1000)), 0);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  if (codes) {
    t = canon__table_dict_encode(t, &err);
    cr_assert(t, "%s", err.message);
  }
  return t;
}

/* Parts for the tests of concatenations written into an encoding
 * (test_codec_concat.c, test_concat_remote.c): slices of one coded table
 * (the first a view starting past byte 0), tables with other dictionaries
 * or none, without NULLs, empty, coded parts whose merged dictionary is too
 * big to ship for their rows, and parts of a few rows (their NULL bitmaps
 * share bytes with their neighbours'). */
typedef struct ct_parts {
  canon_table *big, *s1, *s2, *empty, *other, *plain, *nonull, *few1, *few2, *t1, *t3, *t5, *t13;
} ct_parts;

typedef struct ct_concat_case {
  const char *what;
  canon_table *p[6];
  int n;
} ct_concat_case;

#define CT_CONCAT_CASES 12

static inline void ct_parts_make(ct_parts *t, ct_concat_case *cases) {
  canon_error err;
  t->big = ct_table_of(3000, 1, 40, 5, true);
  t->s1 = canon__table_slice(t->big, 17, 1000, &err);
  t->s2 = canon__table_slice(t->big, 1017, 1983, &err);
  t->empty = canon__table_slice(t->big, 5, 0, &err);
  t->other = ct_table_of(800, 2, 30, 0, true);
  t->plain = ct_table_of(500, 3, 30, 3, false);
  t->nonull = ct_table_of(700, 4, 12, 0, true);
  t->few1 = ct_table_of(100, 8, 48, 0, true);
  t->few2 = ct_table_of(60, 9, 25, 7, true);
  t->t1 = canon__table_slice(t->big, 1, 1, &err);
  t->t3 = canon__table_slice(t->big, 2, 3, &err);
  t->t5 = canon__table_slice(t->big, 5, 5, &err);
  t->t13 = canon__table_slice(t->big, 10, 13, &err);
  cr_assert(t->s1 && t->s2 && t->empty && t->t1 && t->t3 && t->t5 && t->t13);
  cr_assert(t->few1->cols[1]->dict && t->few2->cols[1]->dict);
  const ct_concat_case c[CT_CONCAT_CASES] = {
      {"one dictionary", {t->s1, t->s2}, 2},
      {"different dictionaries", {t->s1, t->other, t->nonull}, 3},
      {"a part without codes", {t->other, t->plain, t->s2}, 3},
      {"empty parts", {t->empty, t->s1, t->empty, t->s2}, 4},
      {"one part", {t->s1}, 1},
      {"only empty parts", {t->empty, t->empty}, 2},
      {"no NULLs", {t->nonull, t->other}, 2},
      {"codes not shipped", {t->few1, t->few2}, 2},
      {"two parts of one dictionary among others", {t->s1, t->other, t->s2}, 3},
      {"one dictionary twice, empty parts between", {t->empty, t->s1, t->other, t->empty}, 4},
      {"bitmaps sharing bytes", {t->t3, t->t1, t->t5, t->t13, t->t1, t->t3}, 6},
      {"a few rows among many", {t->t5, t->s1, t->t3, t->plain}, 4},
  };
  memcpy(cases, c, sizeof c);
}

static inline void ct_parts_free(ct_parts *t) {
  canon_table *all[] = {t->big, t->s1,    t->s2, t->empty, t->other, t->plain, t->nonull,
                        t->few1, t->few2, t->t1, t->t3,    t->t5,    t->t13};
  for (size_t k = 0; k < sizeof all / sizeof *all; k++) canon_table_free(all[k]);
}

#endif
