/* partition.c — splitting a task's output into exchange buckets.
 *
 * Every split keeps the rows of a bucket in their input order, so an
 * exchange that concatenates buckets in source-partition order preserves
 * (source partition, row position) order: the tie-break of stable sort.
 * The range split (for sorts only) orders each bucket by the sort keys, ties
 * still in input order, which the consumer's stable sort cannot tell from
 * input order. */
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

int canon__hash_buckets(const canon_table *t, const int *cols, int ncols, int n, int shift,
                        int32_t *bucket, canon_error *err) {
  uint64_t *h = canon__reallocarray(NULL, (size_t)(t->nrows ? t->nrows : 1), sizeof *h);
  if (!h) return canon__nomem(err);
  canon__hash_rows(t, cols, ncols, h);
  for (int64_t i = 0; i < t->nrows; i++) bucket[i] = (int32_t)((h[i] >> shift) % (uint64_t)n);
  free(h);
  return 0;
}

/* Rows into n buckets by their row hash shifted right by `shift` bits,
 * modulo n. */
static int split_hash_shifted(const canon_table *t, const int *cols, int ncols, int n, int shift,
                              canon_table **buckets, canon_error *err) {
  int32_t *b = canon__reallocarray(NULL, (size_t)(t->nrows ? t->nrows : 1), sizeof *b);
  if (!b) return canon__nomem(err);
  int rc = canon__hash_buckets(t, cols, ncols, n, shift, b, err);
  if (rc == 0) rc = split_by(t, b, n, buckets, err);
  free(b);
  return rc;
}

int canon__split_hash(const canon_table *t, const int *cols, int ncols, int n,
                      canon_table **buckets, canon_error *err) {
  return split_hash_shifted(t, cols, ncols, n, 0, buckets, err);
}

int canon__split_hash_high(const canon_table *t, const int *cols, int ncols, int n,
                           canon_table **buckets, canon_error *err) {
  return split_hash_shifted(t, cols, ncols, n, 32, buckets, err);
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

/* A range split sorts its rows (the stable sort of sort.c) and cuts the
 * sorted order at the boundaries: each bucket is one run of the order, found
 * by a binary search per boundary rather than per row, and is a view of
 * the rows gathered once in key order.  The consumer's stable sort of its concatenated buckets gives
 * the same rows as before (a bucket holds the same rows, ties still in input
 * order), and its final gather now reads each producer's run front to back
 * instead of jumping around its whole input. */
int canon__split_range(const canon_table *t, const canon__sortcol *keys, int nkeys,
                       const canon_table *bounds, int n, canon_table **buckets,
                       canon_error *err) {
  int64_t rows = t->nrows, nb = bounds ? bounds->nrows : 0;
  for (int k = 0; k < n; k++) buckets[k] = NULL;
  int64_t *perm = canon__reallocarray(NULL, (size_t)(rows ? rows : 1), sizeof *perm);
  int64_t *start = canon__calloc((size_t)n + 1, sizeof *start);
  canon_table *sorted = NULL;
  int rc = 0;
  if (!perm || !start) {
    rc = canon__nomem(err);
    goto done;
  }
  if ((rc = canon__sort_indices(t, keys, nkeys, perm, err))) goto done;
  /* Bucket k (k < n-1) ends after the last row <= boundary k: rows equal to
   * a boundary go to its bucket, so equal keys always share a bucket.  The
   * last bucket takes the rest (rows above every boundary, or every row
   * when there are fewer boundaries than buckets). */
  for (int k = 0; k < n - 1; k++) {
    int64_t lo = start[k], hi = rows;
    while (k < nb && lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (cmp_to_bound(t, perm[mid], bounds, k, keys, nkeys) <= 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    start[k + 1] = k < nb ? lo : rows;
  }
  start[n] = rows;
  bool one = false;
  for (int k = 0; k < n; k++) one |= rows > 0 && start[k + 1] - start[k] == rows;
  /* All rows in one bucket: share the columns (the consumer sorts).  Else
   * gather the rows once, in order, and view each bucket's range of them
   * (one gather pass per column instead of one per bucket). */
  if (!one && !(sorted = canon__table_take(t, perm, rows, err))) {
    rc = err ? err->code : CANON_ERR_NOMEM;
    goto done;
  }
  for (int k = 0; k < n && rc == 0; k++) {
    int64_t m = start[k + 1] - start[k];
    buckets[k] = one ? (m ? canon__table_share(t, err) : canon__table_take(t, perm, 0, err))
                     : canon__table_view_rows(sorted, start[k], m, err);
    if (!buckets[k]) rc = err ? err->code : CANON_ERR_NOMEM;
  }
  if (rc)
    for (int k = 0; k < n; k++) canon_table_free(buckets[k]), buckets[k] = NULL;
done:
  canon_table_free(sorted);
  free(perm);
  free(start);
  return rc;
}

void canon__rebalance_buckets(int64_t rows, int64_t offset, int64_t total, int n, int32_t *bucket) {
  for (int64_t i = 0; i < rows; i++) {
    /* Global position g goes to bucket floor(g * n / total); 128-bit
     * product so huge tables cannot overflow. */
    __extension__ unsigned __int128 g = (unsigned __int128)(offset + i) * (unsigned)n;
    bucket[i] = (int32_t)(g / (unsigned __int128)(total ? total : 1));
  }
}

int canon__split_rebalance(const canon_table *t, int64_t offset, int64_t total, int n,
                           canon_table **buckets, canon_error *err) {
  int32_t *b = canon__reallocarray(NULL, (size_t)(t->nrows ? t->nrows : 1), sizeof *b);
  if (!b) return canon__nomem(err);
  canon__rebalance_buckets(t->nrows, offset, total, n, b);
  int rc = split_by(t, b, n, buckets, err);
  free(b);
  return rc;
}
