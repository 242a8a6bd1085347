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

/* Sorting works on precomputed per-key arrays so that most comparisons are
 * two integer compares instead of a type switch and a memcmp:
 *   rank[i]  0 or 2 for NULL (before or after every value), 1 for a value;
 *   major[i] an order-preserving 64-bit image of the value, already
 *            inverted for descending keys: the whole value for fixed-width
 *            types; for strings the first 7 bytes (big-endian, zero padded)
 *            and a last byte holding the length, or 0xff when longer than 7.
 * Only two strings longer than 7 bytes with equal images need a full byte
 * comparison; short strings are ordered by their image alone (bytes, then
 * length, which is the byte order of §2). */
typedef struct sort_key {
  uint8_t *rank;
  uint64_t *major;
  const canon__column *col;   /* strings only: for the full comparison */
  bool descending;
} sort_key;

typedef struct sort_ctx {
  sort_key *keys;
  int nkeys;
} sort_ctx;

/* Order-preserving image of a double under §2 (-0.0 = 0.0, NaN largest). */
static uint64_t f64_image(double d) {
  if (d != d) return UINT64_MAX;
  if (d == 0) d = 0.0;
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return (u >> 63) ? ~u : u | (UINT64_C(1) << 63);
}

static uint64_t str_image(const canon__column *c, int64_t i) {
  size_t len;
  const unsigned char *s = (const unsigned char *)canon__str(c, i, &len);
  uint64_t v = 0;
  for (size_t k = 0; k < 7; k++) v = (v << 8) | (k < len ? s[k] : 0);
  return (v << 8) | (len > 7 ? 0xff : len);
}

static int fill_key(const canon_table *t, const canon__sortcol *sc, sort_key *k) {
  int64_t n = t->nrows;
  const canon__column *c = t->cols[sc->col];
  k->rank = canon__malloc((size_t)n);
  k->major = canon__reallocarray(NULL, (size_t)n, sizeof *k->major);
  if (!k->rank || !k->major) return CANON_ERR_NOMEM;
  k->col = c->type == CANON_STRING ? c : NULL;
  k->descending = sc->descending;
  uint8_t null_rank = sc->nulls_first ? 0 : 2;
  for (int64_t i = 0; i < n; i++) {
    if (!canon__valid(c, i)) {
      k->rank[i] = null_rank;
      k->major[i] = 0;
      continue;
    }
    uint64_t v;
    switch (c->type) {
    case CANON_BOOL: v = canon__u8(c)[i]; break;
    case CANON_DATE: v = (uint64_t)(int64_t)canon__i32(c)[i] ^ (UINT64_C(1) << 63); break;
    case CANON_INT64:
    case CANON_TIMESTAMP: v = (uint64_t)canon__i64(c)[i] ^ (UINT64_C(1) << 63); break;
    case CANON_FLOAT64: v = f64_image(canon__f64(c)[i]); break;
    default: v = str_image(c, i); break;
    }
    k->rank[i] = 1;
    k->major[i] = sc->descending ? ~v : v;
  }
  return 0;
}

static inline int cmp_idx(const sort_ctx *cx, int64_t a, int64_t b) {
  for (int k = 0; k < cx->nkeys; k++) {
    const sort_key *key = &cx->keys[k];
    if (key->rank[a] != key->rank[b]) return key->rank[a] < key->rank[b] ? -1 : 1;
    if (key->major[a] != key->major[b]) return key->major[a] < key->major[b] ? -1 : 1;
    if (key->col && key->rank[a] == 1 && ((key->descending ? ~key->major[a] : key->major[a]) & 0xff) == 0xff) {
      int c = canon__cmp_values(key->col, a, key->col, b);
      if (c) return key->descending ? -c : c;
    }
  }
  return 0;
}

/* Top-down merge sort with insertion sort for short runs.  `a` holds the
 * data, `tmp` is scratch of equal size. */
static void merge_sort(const sort_ctx *cx, int64_t *a, int64_t *tmp, int64_t n) {
  if (n <= 16) {
    for (int64_t i = 1; i < n; i++) {
      int64_t v = a[i], j = i;
      while (j > 0 && cmp_idx(cx, a[j - 1], v) > 0) {
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
  if (cmp_idx(cx, a[mid - 1], a[mid]) <= 0) return;
  memcpy(tmp, a, (size_t)n * sizeof *a);
  int64_t i = 0, j = mid, k = 0;
  while (i < mid && j < n) {
    /* Take from the left run on ties: that is what makes the sort stable. */
    if (cmp_idx(cx, tmp[j], tmp[i]) < 0)
      a[k++] = tmp[j++];
    else
      a[k++] = tmp[i++];
  }
  while (i < mid) a[k++] = tmp[i++];
  while (j < n) a[k++] = tmp[j++];
}

/* Digit d of row r under one key: bytes 0..7 of the image, least
 * significant first, then the NULL rank as the most significant digit. */
static inline unsigned radix_digit(const sort_key *k, int d, int64_t r) {
  return d < 8 ? (unsigned)(k->major[r] >> (8 * d)) & 0xff : k->rank[r];
}

/* Least-significant-digit radix sort of perm (which starts as 0..n-1) when
 * every key is fixed-width: the images are the whole values, so sorting by
 * (rank, image) of the last key, then the one before, ... is the sort.
 * Counting sort is stable, so ties keep input order as merge sort does.
 * One pass over the data per key computes all nine histograms, and a digit
 * on which every row agrees (high bytes of small numbers) costs no pass. */
static void radix_sort(const sort_key *keys, int nkeys, int64_t *perm, int64_t *tmp, int64_t n) {
  static const int ndigits = 9;
  for (int k = nkeys - 1; k >= 0; k--) {
    const sort_key *key = &keys[k];
    size_t (*hist)[256] = canon__calloc((size_t)ndigits, sizeof *hist);
    if (!hist) { /* no memory for the histograms: fall back to merging */
      sort_key *one = (sort_key *)key;
      sort_ctx cx = {one, 1};
      merge_sort(&cx, perm, tmp, n);
      continue;
    }
    for (int64_t i = 0; i < n; i++) {
      uint64_t m = key->major[i];
      for (int d = 0; d < 8; d++) hist[d][(m >> (8 * d)) & 0xff]++;
      hist[8][key->rank[i]]++;
    }
    for (int d = 0; d < ndigits; d++) {
      if (hist[d][radix_digit(key, d, perm[0])] == (size_t)n) continue;
      size_t pos[256], at = 0;
      for (int b = 0; b < 256; b++) {
        pos[b] = at;
        at += hist[d][b];
      }
      for (int64_t i = 0; i < n; i++) tmp[pos[radix_digit(key, d, perm[i])]++] = perm[i];
      memcpy(perm, tmp, (size_t)n * sizeof *perm);
    }
    free(hist);
  }
}

int canon__sort_indices(const canon_table *t, const canon__sortcol *keys, int nkeys,
                        int64_t *perm, canon_error *err) {
  int64_t n = t->nrows;
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  if (n < 2 || nkeys == 0) return 0;
  int64_t *tmp = canon__reallocarray(NULL, (size_t)n, sizeof *tmp);
  sort_key *sk = canon__calloc((size_t)nkeys, sizeof *sk);
  int rc = (!tmp || !sk) ? CANON_ERR_NOMEM : 0;
  for (int k = 0; rc == 0 && k < nkeys; k++) rc = fill_key(t, &keys[k], &sk[k]);
  bool fixed = true;
  for (int k = 0; k < nkeys; k++) fixed = fixed && !sk[k].col;
  if (rc == 0 && fixed) {
    radix_sort(sk, nkeys, perm, tmp, n);
  } else if (rc == 0) {
    sort_ctx cx = {sk, nkeys};
    merge_sort(&cx, perm, tmp, n);
  } else {
    canon__nomem(err);
  }
  for (int k = 0; sk && k < nkeys; k++) {
    free(sk[k].rank);
    free(sk[k].major);
  }
  free(sk);
  free(tmp);
  return rc;
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
