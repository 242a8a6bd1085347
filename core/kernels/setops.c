/* setops.c — set operations, distinct and the forward split
 * (SEMANTICS §3, §7).
 *
 * Rows are grouped by §3 equality with canon__group_rows (NULL = NULL,
 * NaN = NaN, -0.0 = 0.0).  A row the output emits stands for its group, so
 * its float values come out canonical (+0.0, one quiet NaN): which of two
 * equal values a partition happened to meet first must not show. */
#include "kernels.h"

#define ST_QNAN UINT64_C(0x7ff8000000000000)

/* Is d a float that canonicalization changes (-0.0, a NaN other than the
 * canonical one)? */
static bool st_noncanonical(double d) {
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  if (d != d) return b != ST_QNAN;
  return d == 0 && b != 0;
}

/* c with -0.0 as +0.0 and every NaN as the quiet NaN; a new reference to c
 * itself when nothing changes. */
static canon__column *st_canonical(canon__column *c) {
  if (c->type != CANON_FLOAT64) return canon__column_ref(c);
  const double *v = canon__f64(c);
  int64_t i = 0;
  while (i < c->length && !(canon__valid(c, i) && st_noncanonical(v[i]))) i++;
  if (i == c->length) return canon__column_ref(c);
  canon__colbuilder b;
  if (canon__cb_init(&b, CANON_FLOAT64, c->length) != 0) return NULL;
  double qnan;
  uint64_t q = ST_QNAN;
  memcpy(&qnan, &q, sizeof qnan);
  for (i = 0; i < c->length; i++) {
    int rc;
    if (!canon__valid(c, i))
      rc = canon__cb_null(&b);
    else
      rc = canon__cb_f64(&b, v[i] != v[i] ? qnan : v[i] == 0 ? 0.0 : v[i]);
    if (rc) {
      canon__cb_reset(&b);
      return NULL;
    }
  }
  return canon__cb_finish(&b);
}

/* Rows idx[0..n) of t with the float values of columns `which` (all when
 * which is NULL) canonical, under schema s (t's types). */
static canon_table *st_emit(const canon_table *t, const int64_t *idx, int64_t n,
                            const bool *which, const canon_schema *s, canon_error *err) {
  canon_table *rows = canon__table_take(t, idx, n, err);
  if (!rows) return NULL;
  int nc = rows->schema->n;
  canon__column **cols = canon__calloc((size_t)(nc ? nc : 1), sizeof *cols);
  canon_table *out = NULL;
  if (!cols) goto oom;
  for (int c = 0; c < nc; c++) {
    cols[c] = (!which || which[c]) ? st_canonical(rows->cols[c]) : canon__column_ref(rows->cols[c]);
    if (!cols[c]) goto oom;
  }
  out = canon__table_make(s, cols, n, err);
  goto done;
oom:
  canon__nomem(err);
done:
  for (int c = 0; cols && c < nc; c++) canon__column_unref(cols[c]);
  free(cols);
  canon_table_free(rows);
  return out;
}

canon_table *canon__table_relabel(const canon_table *t, const canon_schema *s, canon_error *err) {
  if (t->schema->n != s->n) {
    canon__seterr(err, CANON_ERR_INTERNAL, "relabel: %d columns, schema has %d", t->schema->n,
                  s->n);
    return NULL;
  }
  canon__column **cols = canon__calloc((size_t)(s->n ? s->n : 1), sizeof *cols);
  if (!cols) {
    canon__nomem(err);
    return NULL;
  }
  for (int c = 0; c < s->n; c++) {
    if (t->schema->types[c] != s->types[c]) {
      for (int k = 0; k < c; k++) canon__column_unref(cols[k]);
      free(cols);
      canon__seterr(err, CANON_ERR_INTERNAL, "relabel: column %d changes type", c);
      return NULL;
    }
    cols[c] = canon__column_ref(t->cols[c]);
  }
  canon_table *out = canon__table_make(s, cols, t->nrows, err);
  free(cols);
  return out;
}

canon_table *canon__setop(const canon_table *a, const canon_table *b, canon__setop_kind op,
                          const canon_schema *out, canon_error *err) {
  canon_table *parts[2] = {canon__table_relabel(a, out, err), NULL};
  canon_table *all = NULL, *res = NULL;
  int64_t *gid = NULL, *first = NULL, *ca = NULL, *cb = NULL, *idx = NULL, ngroups = 0;
  int *cols = NULL;
  int nc = out->n;
  if (!parts[0] || !(parts[1] = canon__table_relabel(b, out, err)) ||
      !(all = canon__table_concat(parts, 2, err)))
    goto done;
  int64_t n = all->nrows, na = a->nrows;
  gid = canon__reallocarray(NULL, n ? (size_t)n : 1, sizeof *gid);
  cols = canon__calloc((size_t)(nc ? nc : 1), sizeof *cols);
  if (!gid || !cols) goto oom;
  for (int c = 0; c < nc; c++) cols[c] = c;
  if (canon__group_rows(all, cols, nc, false, gid, &ngroups, &first, err)) goto done;
  ca = canon__calloc((size_t)ngroups + 1, sizeof *ca);
  cb = canon__calloc((size_t)ngroups + 1, sizeof *cb);
  if (!ca || !cb) goto oom;
  for (int64_t i = 0; i < n; i++) (i < na ? ca : cb)[gid[i]]++;
  /* Copies of each group's row: the multiplicity rules of §7. */
  int64_t total = 0;
  for (int64_t g = 0; g < ngroups; g++) {
    int64_t m = ca[g], k = cb[g], copies = 0;
    switch (op) {
    case CANON__SET_UNION: copies = 1; break;
    case CANON__SET_INTERSECT: copies = m > 0 && k > 0; break;
    case CANON__SET_INTERSECT_ALL: copies = m < k ? m : k; break;
    case CANON__SET_EXCEPT: copies = m > 0 && k == 0; break;
    case CANON__SET_EXCEPT_ALL: copies = m > k ? m - k : 0; break;
    }
    ca[g] = copies;
    total += copies;
  }
  idx = canon__reallocarray(NULL, total ? (size_t)total : 1, sizeof *idx);
  if (!idx) goto oom;
  int64_t at = 0;
  for (int64_t g = 0; g < ngroups; g++)
    for (int64_t c = 0; c < ca[g]; c++) idx[at++] = first[g];
  res = st_emit(all, idx, total, NULL, out, err);
  goto done;
oom:
  canon__nomem(err);
done:
  canon_table_free(parts[0]);
  canon_table_free(parts[1]);
  canon_table_free(all);
  free(gid);
  free(first);
  free(ca);
  free(cb);
  free(idx);
  free(cols);
  return res;
}

canon_table *canon__distinct(const canon_table *t, const int *keys, int nkeys, canon_error *err) {
  int64_t n = t->nrows, ngroups = 0, *first = NULL;
  int64_t *gid = canon__reallocarray(NULL, n ? (size_t)n : 1, sizeof *gid);
  bool *which = canon__calloc((size_t)(t->schema->n ? t->schema->n : 1), sizeof *which);
  canon_table *res = NULL;
  if (!gid || !which) {
    canon__nomem(err);
    goto done;
  }
  for (int k = 0; k < nkeys; k++) which[keys[k]] = true;
  /* Group ids come in order of first appearance, so first[] is the first
   * row of each key, in input order. */
  if (canon__group_rows(t, keys, nkeys, false, gid, &ngroups, &first, err) == 0)
    res = st_emit(t, first, ngroups, which, t->schema, err);
done:
  free(gid);
  free(first);
  free(which);
  return res;
}

int canon__split_forward(const canon_table *t, int to, int n, canon_table **buckets,
                         canon_error *err) {
  if (to < 0 || to >= n)
    return canon__seterr(err, CANON_ERR_INTERNAL, "forward exchange to bucket %d of %d", to, n);
  for (int k = 0; k < n; k++) {
    buckets[k] = k == to ? canon__table_share(t, err) : canon__table_empty(t->schema, err);
    if (!buckets[k]) {
      for (int j = 0; j < k; j++) canon_table_free(buckets[j]), buckets[j] = NULL;
      return err ? err->code : CANON_ERR_NOMEM;
    }
  }
  return 0;
}
