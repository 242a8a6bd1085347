/* take_sample.c — kernels for take (first n rows per group under a stable
 * presort) and sample (rows chosen by a hash of their global position, so
 * the choice does not depend on how rows are partitioned). */
#include "../src/rowops.h"

/* The largest n kept by per-group selection instead of a full sort. */
#define TOP_N_MAX 64

canon_table *canon__take_rows(const canon_table *t, int64_t n, const canon__sortcol *sort,
                              int nsort, const int *keys, int nkeys, canon_error *err) {
  int64_t rows = t->nrows;
  size_t cap = (size_t)(rows ? rows : 1);
  int64_t *perm = canon__reallocarray(NULL, cap, sizeof *perm);
  int64_t *group_of = nkeys ? canon__reallocarray(NULL, cap, sizeof *group_of) : NULL;
  int64_t *first = NULL, *count = NULL, ngroups = 1;
  canon_table *out = NULL;
  if (!perm || (nkeys && !group_of)) goto oom;
  if (nkeys && canon__group_rows(t, keys, nkeys, false, group_of, &ngroups, &first, err))
    goto done;
  /* A few rows per group: keep each group's best n as the rows stream by,
   * then sort only those (the same rows, in the same order, as below). */
  if (nsort && n >= 1 && n <= TOP_N_MAX && n * ngroups <= 4 * rows) {
    int64_t kept;
    if (canon__sort_top_n(t, sort, nsort, nkeys ? group_of : NULL, ngroups, n, perm, &kept, err))
      goto done;
    out = canon__table_take(t, perm, kept, err);
    goto done;
  }
  /* Stable: ties keep input order, which is (source partition, row). */
  if (nsort) {
    if (canon__sort_indices(t, sort, nsort, perm, err)) goto done;
  } else {
    for (int64_t i = 0; i < rows; i++) perm[i] = i;
  }
  count = canon__calloc((size_t)(ngroups ? ngroups : 1), sizeof *count);
  if (!count) goto oom;
  /* Walk rows in presort order, keeping each group's first n. */
  int64_t kept = 0;
  for (int64_t i = 0; i < rows; i++) {
    int64_t g = nkeys ? group_of[perm[i]] : 0;
    if (count[g] < n) {
      count[g]++;
      perm[kept++] = perm[i];
    }
  }
  out = canon__table_take(t, perm, kept, err);
  goto done;
oom:
  canon__nomem(err);
done:
  free(perm);
  free(group_of);
  free(first);
  free(count);
  return out;
}

uint64_t canon__sample_hash(uint64_t seed, uint64_t g) {
  /* SplitMix64 (Steele, Lea, Flood 2014): output g advances the state g+1
   * times by the golden gamma, then mixes.  The mix is a bijection and the
   * state is injective in g, so no two rows of a table share a hash. */
  uint64_t z = seed + (g + 1) * UINT64_C(0x9E3779B97F4A7C15);
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

canon_table *canon__sample_fraction(const canon_table *t, int64_t first_pos, uint64_t seed,
                                    uint64_t threshold, bool all, canon_error *err) {
  if (all) return canon__table_share(t, err);
  int64_t *idx = canon__reallocarray(NULL, (size_t)(t->nrows ? t->nrows : 1), sizeof *idx);
  if (!idx) {
    canon__nomem(err);
    return NULL;
  }
  int64_t n = 0;
  for (int64_t i = 0; i < t->nrows; i++)
    if (canon__sample_hash(seed, (uint64_t)(first_pos + i)) < threshold) idx[n++] = i;
  canon_table *out = canon__table_take(t, idx, n, err);
  free(idx);
  return out;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Replace column `drop` of t, or append a column `name` holding pos, and
 * free t. */
static canon_table *reshape(canon_table *t, int drop, const int64_t *pos, const char *name,
                            canon_error *err) {
  int nc = t->schema->n, nout = drop >= 0 ? nc - 1 : nc + 1;
  canon_schema *s = canon_schema_new();
  canon__column **cols = canon__calloc((size_t)nout, sizeof *cols);
  canon_table *out = NULL;
  if (!s || !cols) {
    canon__nomem(err);
    goto done;
  }
  int at = 0;
  for (int j = 0; j < nc; j++) {
    if (j == drop) continue;
    if (canon_schema_add(s, t->schema->names[j], t->schema->types[j], err)) goto done;
    cols[at++] = canon__column_ref(t->cols[j]);
  }
  if (drop < 0) {
    canon__colbuilder b;
    if (canon_schema_add(s, name, CANON_INT64, err)) goto done;
    if (canon__cb_init(&b, CANON_INT64, t->nrows)) {
      canon__nomem(err);
      goto done;
    }
    for (int64_t i = 0; i < t->nrows; i++)
      if (canon__cb_i64(&b, pos[i])) {
        canon__cb_reset(&b);
        canon__nomem(err);
        goto done;
      }
    if (!(cols[at++] = canon__cb_finish(&b))) {
      canon__cb_reset(&b);
      canon__nomem(err);
      goto done;
    }
  }
  out = canon__table_make(s, cols, t->nrows, err);
done:
  for (int j = 0; cols && j < nout; j++) canon__column_unref(cols[j]);
  free(cols);
  canon_schema_free(s);
  canon_table_free(t);
  return out;
}

canon_table *canon__sample_n(const canon_table *t, int64_t n, uint64_t seed, int pos_col,
                             int64_t first_pos, const char *pos_name, canon_error *err) {
  int64_t rows = t->nrows;
  size_t cap = (size_t)(rows ? rows : 1);
  int64_t *pos = canon__reallocarray(NULL, cap, sizeof *pos);
  uint64_t *h = canon__reallocarray(NULL, cap, sizeof *h);
  uint64_t *sorted = canon__reallocarray(NULL, cap, sizeof *sorted);
  int64_t *idx = canon__reallocarray(NULL, cap, sizeof *idx);
  canon_table *out = NULL;
  if (!pos || !h || !sorted || !idx) {
    canon__nomem(err);
    goto done;
  }
  for (int64_t i = 0; i < rows; i++) {
    pos[i] = pos_col >= 0 ? canon__i64(t->cols[pos_col])[i] : first_pos + i;
    sorted[i] = h[i] = canon__sample_hash(seed, (uint64_t)pos[i]);
  }
  /* Hashes are distinct, so "hash <= the n-th smallest" keeps exactly n
   * rows, in their input order. */
  int64_t kept = 0;
  if (n > 0) {
    uint64_t limit = UINT64_MAX;
    if (rows > n) {
      qsort(sorted, (size_t)rows, sizeof *sorted, cmp_u64);
      limit = sorted[n - 1];
    }
    for (int64_t i = 0; i < rows; i++)
      if (h[i] <= limit) {
        pos[kept] = pos[i];
        idx[kept++] = i;
      }
  }
  canon_table *picked = canon__table_take(t, idx, kept, err);
  if (picked) out = reshape(picked, pos_col, pos, pos_name, err);
done:
  free(pos);
  free(h);
  free(sorted);
  free(idx);
  return out;
}
