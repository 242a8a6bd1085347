/* sort.c — stable multi-key sort (SEMANTICS §2).
 *
 * Each key has a direction and a NULL placement; NULL placement is absolute
 * (NULLS FIRST puts NULLs first in both directions).  The sort is a merge
 * sort over row indices, so ties keep their input order. */
#include "kernels.h"

int canon__cmp_rows(const canon_table *a, int64_t i, const canon_table *b, int64_t j,
                    const canon__sortcol *keys, int nkeys) {
  for (int k = 0; k < nkeys; k++) {
    const canon__column *ca = a->cols[keys[k].col], *cb = b->cols[keys[k].col];
    bool va = canon__valid(ca, i), vb = canon__valid(cb, j);
    int c;
    if (!va || !vb) {
      if (va == vb) continue;
      /* Exactly one NULL: its place does not depend on the direction. */
      c = va ? 1 : -1;
      if (!keys[k].nulls_first) c = -c;
      return c;
    }
    c = canon__cmp_values(ca, i, cb, j);
    if (c) return keys[k].descending ? -c : c;
  }
  return 0;
}

typedef struct sort_ctx {
  const canon_table *t;
  const canon__sortcol *keys;
  int nkeys;
} sort_ctx;

/* Bottom-up would do as well; top-down with insertion sort for short runs
 * keeps the code small.  `a` holds the data, `tmp` is scratch of equal size. */
static void merge_sort(const sort_ctx *cx, int64_t *a, int64_t *tmp, int64_t n) {
  if (n <= 16) {
    for (int64_t i = 1; i < n; i++) {
      int64_t v = a[i], j = i;
      while (j > 0 && canon__cmp_rows(cx->t, a[j - 1], cx->t, v, cx->keys, cx->nkeys) > 0) {
        a[j] = a[j - 1];
        j--;
      }
      a[j] = v;
    }
    return;
  }
  int64_t mid = n / 2;
  merge_sort(cx, a, tmp, mid);
  merge_sort(cx, a + mid, tmp + mid, n - mid);
  /* Already ordered halves need no merge. */
  if (canon__cmp_rows(cx->t, a[mid - 1], cx->t, a[mid], cx->keys, cx->nkeys) <= 0) return;
  memcpy(tmp, a, (size_t)n * sizeof *a);
  int64_t i = 0, j = mid, k = 0;
  while (i < mid && j < n) {
    /* Take from the left run on ties: that is what makes the sort stable. */
    if (canon__cmp_rows(cx->t, tmp[j], cx->t, tmp[i], cx->keys, cx->nkeys) < 0)
      a[k++] = tmp[j++];
    else
      a[k++] = tmp[i++];
  }
  while (i < mid) a[k++] = tmp[i++];
  while (j < n) a[k++] = tmp[j++];
}

int canon__sort_indices(const canon_table *t, const canon__sortcol *keys, int nkeys,
                        int64_t *perm, canon_error *err) {
  int64_t n = t->nrows;
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  if (n < 2 || nkeys == 0) return 0;
  int64_t *tmp = canon__reallocarray(NULL, (size_t)n, sizeof *tmp);
  if (!tmp) return canon__nomem(err);
  sort_ctx cx = {t, keys, nkeys};
  merge_sort(&cx, perm, tmp, n);
  free(tmp);
  return 0;
}

canon_table *canon__sort_table(const canon_table *t, const canon__sortcol *keys, int nkeys,
                               canon_error *err) {
  int64_t *perm = canon__reallocarray(NULL, (size_t)t->nrows, sizeof *perm);
  if (!perm) {
    canon__nomem(err);
    return NULL;
  }
  canon_table *out = NULL;
  if (canon__sort_indices(t, keys, nkeys, perm, err) == 0)
    out = canon__table_take(t, perm, t->nrows, err);
  free(perm);
  return out;
}
