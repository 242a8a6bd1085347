/* partition.c — splitting a task's output into exchange buckets.
 *
 * Every split keeps the rows of a bucket in their input order, so an
 * exchange that concatenates buckets in source-partition order preserves
 * (source partition, row position) order: the tie-break of stable sort. */
#include "kernels.h"

/* Make n tables from t given each row's bucket (bucket[i] in 0..n). */
static int split_by(const canon_table *t, const int32_t *bucket, int n, canon_table **buckets,
                    canon_error *err) {
  int64_t *counts = canon__calloc((size_t)n, sizeof *counts);
  int rc = 0;
  for (int k = 0; k < n; k++) buckets[k] = NULL;
  if (!counts) return canon__nomem(err);
  for (int64_t i = 0; i < t->nrows; i++) counts[bucket[i]]++;
  for (int k = 0; k < n; k++)
    if (counts[k] == t->nrows && t->nrows > 0) {
      /* Every row goes to bucket k (one bucket, or one key): share the
       * columns instead of copying them; the other buckets are empty. */
      for (int j = 0; j < n && rc == 0; j++)
        if (!(buckets[j] = j == k ? canon__table_share(t, err) : canon__table_empty(t->schema, err)))
          rc = err ? err->code : CANON_ERR_NOMEM;
      if (rc)
        for (int j = 0; j < n; j++) canon_table_free(buckets[j]), buckets[j] = NULL;
      free(counts);
      return rc;
    }
  /* Each column read once, its values appended to their buckets. */
  rc = canon__table_scatter(t, bucket, n, counts, buckets, err);
  free(counts);
  return rc;
}

int canon__split_hash(const canon_table *t, const int *cols, int ncols, int n,
                      canon_table **buckets, canon_error *err) {
  uint64_t *h = canon__reallocarray(NULL, (size_t)t->nrows, sizeof *h);
  int32_t *b = canon__reallocarray(NULL, (size_t)t->nrows, sizeof *b);
  int rc;
  if (!h || !b) {
    rc = canon__nomem(err);
  } else {
    canon__hash_rows(t, cols, ncols, h);
    for (int64_t i = 0; i < t->nrows; i++) b[i] = (int32_t)(h[i] % (uint64_t)n);
    rc = split_by(t, b, n, buckets, err);
  }
  free(h);
  free(b);
  return rc;
}

/* Compare row i of t with boundary row b of bounds (whose column k holds
 * sort key k) under the sort keys. */
static int cmp_to_bound(const canon_table *t, int64_t i, const canon_table *bounds, int64_t b,
                        const canon__sortcol *keys, int nkeys) {
  for (int k = 0; k < nkeys; k++) {
    const canon__column *ca = t->cols[keys[k].col], *cb = bounds->cols[k];
    bool va = canon__valid(ca, i), vb = canon__valid(cb, b);
    int c;
    if (!va || !vb) {
      if (va == vb) continue;
      c = (va ? 1 : -1) * (keys[k].nulls_first ? 1 : -1);
    } else {
      c = canon__cmp_values(ca, i, cb, b);
      if (keys[k].descending) c = -c;
    }
    if (c) return c;
  }
  return 0;
}

int canon__split_range(const canon_table *t, const canon__sortcol *keys, int nkeys,
                       const canon_table *bounds, int n, canon_table **buckets,
                       canon_error *err) {
  int32_t *b = canon__reallocarray(NULL, (size_t)t->nrows, sizeof *b);
  if (!b) return canon__nomem(err);
  int64_t nb = bounds ? bounds->nrows : 0;
  for (int64_t i = 0; i < t->nrows; i++) {
    /* First boundary >= row, by binary search over the sorted boundaries.
     * Rows equal to a boundary go to that boundary's bucket, so equal keys
     * always share a bucket. */
    int64_t lo = 0, hi = nb;
    while (lo < hi) {
      int64_t mid = (lo + hi) / 2;
      if (cmp_to_bound(t, i, bounds, mid, keys, nkeys) <= 0)
        hi = mid;
      else
        lo = mid + 1;
    }
    b[i] = (int32_t)(lo < n ? lo : n - 1);
  }
  int rc = split_by(t, b, n, buckets, err);
  free(b);
  return rc;
}

int canon__split_rebalance(const canon_table *t, int64_t offset, int64_t total, int n,
                           canon_table **buckets, canon_error *err) {
  int32_t *b = canon__reallocarray(NULL, (size_t)t->nrows, sizeof *b);
  if (!b) return canon__nomem(err);
  for (int64_t i = 0; i < t->nrows; i++) {
    /* Global position g goes to bucket floor(g * n / total); 128-bit
     * product so huge tables cannot overflow. */
    __extension__ unsigned __int128 g = (unsigned __int128)(offset + i) * (unsigned)n;
    b[i] = (int32_t)(g / (unsigned __int128)(total ? total : 1));
  }
  int rc = split_by(t, b, n, buckets, err);
  free(b);
  return rc;
}
