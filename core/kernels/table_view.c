/* table_view.c — row ranges of a table that share its buffers.
 *
 * A range split cuts one sorted table into buckets at arbitrary rows; a
 * view per bucket costs its string offsets (and a shifted validity bitmap
 * where it has NULLs) instead of a copy of every value. */
#include "table_view.h"

static canon__column *view_col(const canon__column *c, int64_t start, int64_t n) {
  canon__column *out = canon__calloc(1, sizeof *out);
  if (!out) return NULL;
  out->refs = 1;
  out->type = c->type;
  out->length = n;
  if (c->validity) {
    int64_t valid = 0;
    for (int64_t k = 0; k < n; k++) valid += canon__valid(c, start + k);
    out->null_count = n - valid;
    if (out->null_count && start % 8 == 0) {
      out->validity = canon__buffer_alias(c->validity, (size_t)(start / 8), (size_t)(n + 7) / 8);
      if (!out->validity) goto oom;
    } else if (out->null_count) {
      if (!(out->validity = canon__buffer_new((size_t)(n / 8 + 1)))) goto oom;
      uint8_t *bits = out->validity->data;
      memset(bits, 0, (size_t)(n / 8 + 1));
      for (int64_t k = 0; k < n; k++)
        bits[k >> 3] |= (uint8_t)((unsigned)canon__valid(c, start + k) << (k & 7));
      out->validity->size = (size_t)(n + 7) / 8;
    }
  }
  if (c->type == CANON_STRING) {
    const int64_t *off = (const int64_t *)c->values->data + start;
    if (!(out->values = canon__buffer_new((size_t)(n + 1) * 8))) goto oom;
    int64_t *no = (int64_t *)out->values->data;
    for (int64_t k = 0; k <= n; k++) no[k] = off[k] - off[0];
    out->values->size = (size_t)(n + 1) * 8;
    out->strdata = canon__buffer_alias(c->strdata, (size_t)off[0], (size_t)(off[n] - off[0]));
    if (!out->strdata) goto oom;
  } else {
    size_t w = canon__type_width(c->type);
    out->values = canon__buffer_alias(c->values, (size_t)start * w, (size_t)n * w);
    if (!out->values) goto oom;
  }
  return out;
oom:
  canon__column_unref(out);
  return NULL;
}

canon_table *canon__table_view_rows(const canon_table *t, int64_t start, int64_t n,
                                    canon_error *err) {
  if (start < 0 || n < 0 || start + n > t->nrows) {
    canon__seterr(err, CANON_ERR_INTERNAL, "view [%lld, +%lld) outside %lld rows",
                  (long long)start, (long long)n, (long long)t->nrows);
    return NULL;
  }
  int nc = t->schema->n;
  canon__column **cols = canon__calloc((size_t)(nc ? nc : 1), sizeof *cols);
  if (!cols) {
    canon__nomem(err);
    return NULL;
  }
  for (int i = 0; i < nc; i++)
    if (!(cols[i] = view_col(t->cols[i], start, n))) {
      for (int j = 0; j < i; j++) canon__column_unref(cols[j]);
      free(cols);
      canon__nomem(err);
      return NULL;
    }
  canon_table *out = canon__table_make(t->schema, cols, n, err);
  free(cols);
  return out;
}
