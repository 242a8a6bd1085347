/* csv_testutil.h — helpers shared by the CSV tests (test_csv.c,
 * test_csv_fast.c): comparing tables, parsing documents from memory, a
 * deterministic generator. */
#ifndef CANON_CSV_TESTUTIL_H
#define CANON_CSV_TESTUTIL_H

#include <criterion/criterion.h>

#include <inttypes.h>
#include <math.h>

#include "kernels.h"
#include "testutil.h"


/* Does value r of x equal value r of y bit for bit (NULLs included)? */
static inline bool same_cell(const canon__column *x, const canon__column *y, int64_t r) {
  bool vx = canon__valid(x, r), vy = canon__valid(y, r);
  if (vx != vy) return false;
  if (!vx) return true;
  switch (x->type) {
  case CANON_BOOL: return canon__u8(x)[r] == canon__u8(y)[r];
  case CANON_DATE: return canon__i32(x)[r] == canon__i32(y)[r];
  case CANON_INT64:
  case CANON_TIMESTAMP: return canon__i64(x)[r] == canon__i64(y)[r];
  case CANON_FLOAT64: {
    double fx = canon__f64(x)[r], fy = canon__f64(y)[r];
    return isnan(fx) ? isnan(fy) : memcmp(&fx, &fy, 8) == 0;
  }
  case CANON_STRING: {
    size_t lx, ly;
    const char *sx = canon__str(x, r, &lx), *sy = canon__str(y, r, &ly);
    return lx == ly && memcmp(sx, sy, lx) == 0;
  }
  default: return false;
  }
}

/* Same schema, rows, NULLs and value bits.  (Assertions only on a
 * mismatch: Criterion reports every assertion, which is slow in loops.) */
static inline void assert_identical(const canon_table *a, const canon_table *b) {
  if (!canon__schema_equal(a->schema, b->schema)) cr_assert_fail("schemas differ");
  if (a->nrows != b->nrows)
    cr_assert_fail("%" PRId64 " vs %" PRId64 " rows", a->nrows, b->nrows);
  for (int c = 0; c < a->schema->n; c++)
    for (int64_t r = 0; r < a->nrows; r++)
      if (!same_cell(a->cols[c], b->cols[c], r))
        cr_assert_fail("col %d row %" PRId64 " differs", c, r);
}

static inline canon_schema *schema_of(const char *text) {
  canon_error err;
  canon_schema *s = canon_schema_parse(text, &err);
  cr_assert(s, "%s", err.message);
  return s;
}

/* Parse a whole document (with header) from memory. */
static inline canon_table *parse_doc(const char *schema, const char *doc, canon_error *err) {
  canon_schema *s = schema_of(schema);
  canon_error_clear(err);
  canon_table *t = canon__csv_parse_buffer(doc, strlen(doc), "data.csv", ',', s, true, err);
  canon_schema_free(s);
  return t;
}

static inline canon_table *parse_ok(const char *schema, const char *doc) {
  canon_error err;
  canon_table *t = parse_doc(schema, doc, &err);
  cr_assert(t, "%s", err.message);
  return t;
}

static inline const char *str_at(const canon_table *t, int c, int64_t r, size_t *len) {
  cr_assert(canon__valid(t->cols[c], r));
  return canon__str(t->cols[c], r, len);
}

/* A tiny deterministic generator for the random-document tests. */
static inline unsigned gen(unsigned n) {
  static uint64_t gen_state = 12345;
  gen_state = gen_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (unsigned)((gen_state >> 33) % n);
}

#endif
