/* rowops.c — kernels for missing values: dropna and fillna
 * (docs/semantics.md §8).  Both are row-wise and keep row order; NaN is an
 * ordinary float value, never a missing one. */
#include "../src/rowops.h"

canon_table *canon__dropna_rows(const canon_table *t, const int *cols, int ncols, int need,
                                canon_error *err) {
  int64_t *idx = canon__reallocarray(NULL, (size_t)(t->nrows ? t->nrows : 1), sizeof *idx);
  if (!idx) {
    canon__nomem(err);
    return NULL;
  }
  int64_t n = 0;
  for (int64_t i = 0; i < t->nrows; i++) {
    int valid = 0;
    for (int k = 0; k < ncols; k++) valid += canon__valid(t->cols[cols[k]], i);
    if (valid >= need) idx[n++] = i;
  }
  /* Nothing dropped: share the columns instead of copying them. */
  canon_table *out = n == t->nrows ? canon__table_share(t, err) : canon__table_take(t, idx, n, err);
  free(idx);
  return out;
}

/* Append literal v (non-NULL, of the builder's type) to b. */
static int append_value(canon__colbuilder *b, const canon__value *v) {
  switch (v->type) {
  case CANON_BOOL: return canon__cb_bool(b, v->v.b);
  case CANON_INT64:
  case CANON_TIMESTAMP: return canon__cb_i64(b, v->v.i);
  case CANON_FLOAT64: return canon__cb_f64(b, v->v.f);
  case CANON_DATE: return canon__cb_i32(b, v->v.d);
  case CANON_STRING: return canon__cb_str(b, v->s ? v->s : "", v->s ? v->slen : 0);
  default: return CANON_ERR_INTERNAL;
  }
}

/* Column c with its NULLs replaced by v (a new reference; c itself when it
 * has no NULLs). */
static canon__column *fill_column(canon__column *c, const canon__value *v, canon_error *err) {
  if (c->null_count == 0) return canon__column_ref(c);
  canon__colbuilder b;
  if (canon__cb_init(&b, c->type, c->length) != 0) {
    canon__nomem(err);
    return NULL;
  }
  for (int64_t i = 0; i < c->length; i++) {
    int rc = canon__valid(c, i) ? canon__cb_from(&b, c, i) : append_value(&b, v);
    if (rc) {
      canon__cb_reset(&b);
      canon__seterr(err, rc == CANON_ERR_INTERNAL ? rc : CANON_ERR_NOMEM,
                    rc == CANON_ERR_INTERNAL ? "fill value of invalid type" : "out of memory");
      return NULL;
    }
  }
  canon__column *out = canon__cb_finish(&b);
  if (!out) {
    canon__cb_reset(&b);
    canon__nomem(err);
  }
  return out;
}

canon_table *canon__fillna_cols(const canon_table *t, const int *cols,
                                const canon__value *const *vals, int n, canon_error *err) {
  int nc = t->schema->n;
  canon__column **out = canon__calloc((size_t)(nc ? nc : 1), sizeof *out);
  if (!out) {
    canon__nomem(err);
    return NULL;
  }
  canon_table *res = NULL;
  for (int j = 0; j < nc; j++) out[j] = canon__column_ref(t->cols[j]);
  for (int k = 0; k < n; k++) {
    canon__column *f = fill_column(t->cols[cols[k]], vals[k], err);
    if (!f) goto done;
    canon__column_unref(out[cols[k]]);
    out[cols[k]] = f;
  }
  res = canon__table_make(t->schema, out, t->nrows, err);
done:
  for (int j = 0; j < nc; j++) canon__column_unref(out[j]);
  free(out);
  return res;
}
