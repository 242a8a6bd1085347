/* sort.c — stable multi-key sort (SEMANTICS §2).
 *
 * Each key has a direction and a NULL placement; NULL placement is absolute
 * (NULLS FIRST puts NULLs first in both directions).  The sort orders row
 * indices by a radix sort on order-preserving key images (most significant
 * digit first into cache-sized buckets, each then least significant digit
 * first), finishing runs the images cannot separate (long strings) by merge
 * sort; an input made of a few sorted runs (a range exchange's consumer) is
 * merged instead.  All are stable, so ties keep their input order.  Top n
 * per group (take) keeps a few rows per group as the rows stream by and
 * sorts only those. */
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
 * length, which is the byte order of §2).  A string key none of whose
 * values is longer than 7 bytes is exact, like a fixed-width key. */
typedef struct sort_key {
  uint8_t *rank;
  uint64_t *major;
  const canon__column *col;   /* inexact string keys only: the full comparison */
  bool descending;
  bool mixed_rank;            /* some rows NULL, some not */
} sort_key;

typedef struct sort_ctx {
  sort_key *keys;
  int nkeys;
} sort_ctx;

/* The image of a string of `len` bytes at s, where `room` bytes may be read
 * from s (at least len): its first 7 bytes big-endian, zero padded, and a
 * last byte holding the length, or 0xff when longer than 7. */
static inline uint64_t str_image(const unsigned char *s, size_t len, size_t room) {
  uint64_t v = 0;
  if (room >= 8) {
    memcpy(&v, s, 8); /* one load, then keep the string's first bytes */
    v = __builtin_bswap64(v);
  } else {
    for (size_t k = 0; k < 8; k++) v = (v << 8) | (k < len ? s[k] : 0);
  }
  size_t keep = len < 7 ? len : 7;
  v &= keep ? ~UINT64_C(0) << (64 - 8 * keep) : 0;
  return v | (len > 7 ? 0xff : len);
}

/* The images (xor inv) of the n rows of string column c, which has codes:
 * each dictionary value's once, then one lookup per row; *longer: some
 * valid row is longer than 7 bytes.  NULL rows get anything (the caller
 * zeroes them). */
static int dict_images(const canon__column *c, uint64_t inv, int64_t n, uint64_t *major,
                       bool *longer) {
  const canon__column *dv = c->dict->values;
  const int64_t *off = (const int64_t *)dv->values->data;
  const unsigned char *sd = dv->strdata->data;
  size_t size = dv->strdata->size;
  uint64_t *dimg = canon__reallocarray(NULL, (size_t)dv->length + 1, sizeof *dimg);
  if (!dimg) return CANON_ERR_NOMEM;
  bool any_long = false;
  dimg[0] = 0; /* code 0 of NULL rows when there is no value at all */
  for (int64_t v = 0; v < dv->length; v++) {
    size_t from = (size_t)off[v], len = (size_t)(off[v + 1] - off[v]);
    dimg[v] = str_image(sd + from, len, size - from) ^ inv;
    any_long |= len > 7;
  }
  const uint32_t *code = canon__codes(c);
  for (int64_t i = 0; i < n; i++) major[i] = dimg[code[i]];
  /* The last image byte is 0xff (inverted: 0) for a value longer than 7. */
  uint64_t long_mark = 0xff ^ (inv & 0xff);
  *longer = false;
  for (int64_t i = 0; any_long && !*longer && i < n; i++)
    *longer = (major[i] & 0xff) == long_mark && canon__valid(c, i);
  free(dimg);
  return 0;
}

/* Key images of every row, then ranks (NULLs: image 0, rank 0 or 2). */
static int fill_key(const canon_table *t, const canon__sortcol *sc, sort_key *k) {
  int64_t n = t->nrows;
  const canon__column *c = t->cols[sc->col];
  k->rank = canon__malloc((size_t)(n ? n : 1));
  k->major = canon__reallocarray(NULL, (size_t)(n ? n : 1), sizeof *k->major);
  if (!k->rank || !k->major) return CANON_ERR_NOMEM;
  k->col = NULL;
  k->descending = sc->descending;
  uint64_t inv = sc->descending ? UINT64_MAX : 0, *major = k->major;
  const uint64_t sign = UINT64_C(1) << 63;
  switch (c->type) {
  case CANON_BOOL:
    for (int64_t i = 0; i < n; i++) major[i] = canon__u8(c)[i] ^ inv;
    break;
  case CANON_DATE:
    for (int64_t i = 0; i < n; i++) major[i] = ((uint64_t)(int64_t)canon__i32(c)[i] ^ sign) ^ inv;
    break;
  case CANON_INT64:
  case CANON_TIMESTAMP:
    for (int64_t i = 0; i < n; i++) major[i] = ((uint64_t)canon__i64(c)[i] ^ sign) ^ inv;
    break;
  case CANON_FLOAT64:
    for (int64_t i = 0; i < n; i++) major[i] = canon__f64_image(canon__f64(c)[i]) ^ inv;
    break;
  default: {
    bool longer = false;
    if (c->dict) {
      if (dict_images(c, inv, n, major, &longer)) return CANON_ERR_NOMEM;
      if (longer) k->col = c; /* a long string: images can tie */
      break;
    }
    const int64_t *off = (const int64_t *)c->values->data;
    const unsigned char *sd = c->strdata->data;
    size_t size = c->strdata->size;
    for (int64_t i = 0; i < n; i++) {
      size_t from = (size_t)off[i], len = (size_t)(off[i + 1] - off[i]);
      major[i] = str_image(sd + from, len, size - from) ^ inv;
      longer |= len > 7 && canon__valid(c, i);
    }
    if (longer) k->col = c; /* a long string: images can tie */
    break;
  }
  }
  int64_t nulls = 0;
  if (c->validity) {
    uint8_t null_rank = sc->nulls_first ? 0 : 2;
    for (int64_t i = 0; i < n; i++) {
      bool v = canon__valid(c, i);
      k->rank[i] = v ? 1 : null_rank;
      if (!v) major[i] = 0, nulls++;
    }
  } else {
    memset(k->rank, 1, (size_t)n);
  }
  k->mixed_rank = nulls > 0 && nulls < n;
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

/* Radix sort of perm by the images of keys [0, nk).  Counting sort is
 * stable, so ties keep their order in perm, as merge sort does; when every
 * key is exact the images are the whole values and this is the sort.
 *
 * Large inputs are first split most-significant digit first (msd_sort):
 * one counting pass by the NULL rank and the top MSD_BITS bits in which
 * the first unsorted key's images differ, then each bucket alone, until a
 * bucket is small enough (RADIX_LSD_MAX rows) for its scratch to stay in
 * cache.  A bucket is then sorted least-significant digit first (lsd_sort):
 * key by key from the last, each by its image's digits (least significant
 * first) and then its NULL rank.  Each key's images are gathered once into
 * row order and then move along with the row numbers, so the passes read
 * sequentially.  Only bits in which some two images of the rows at hand
 * differ are sorted on (none for bits every row shares: high bits of small
 * numbers, a common string prefix, the digits an MSD pass already used).
 * Returns CANON_ERR_NOMEM when scratch is short. */
#define RADIX_AHEAD 16
#define RADIX_BITS 8
#define RADIX_DIGITS (64 / RADIX_BITS)
#define RADIX_LSD_MAX 32768
#define MSD_BITS 11

typedef struct radix_scratch {
  uint64_t *img, *img2; /* RADIX_LSD_MAX images each */
  int64_t *idx2;        /* n row numbers: MSD scatter and LSD ping-pong */
  uint8_t *rank;        /* MSD: n NULL ranks of the rows at hand */
  uint64_t *mimg;       /* MSD: n images of the current key, in idx's order */
  uint64_t *mimg2;      /* MSD: n images of scratch for the scatter */
  size_t (*hist)[1 << RADIX_BITS];
} radix_scratch;

/* LSD radix sort of idx[0..n) (n <= RADIX_LSD_MAX) by keys [0, nk).  With
 * `have`, mimg[0..n) holds key 0's images of the rows in idx's order (the
 * MSD step's), used instead of fetching them when key 0 is the only key. */
static void lsd_sort(const sort_key *keys, int nk, int64_t *idx, const uint64_t *have,
                     int64_t n, radix_scratch *rs) {
  uint64_t *img = rs->img, *img2 = rs->img2;
  int64_t *cur = idx, *alt = rs->idx2;
  for (int k = nk - 1; k >= 0; k--) {
    const sort_key *key = &keys[k];
    memset(rs->hist, 0, RADIX_DIGITS * sizeof *rs->hist);
    uint64_t first = key->major[cur[0]], diff = 0;
    if (have && nk == 1) {
      for (int64_t i = 0; i < n; i++) {
        uint64_t m = img[i] = have[i];
        diff |= m ^ first;
        for (int d = 0; d < RADIX_DIGITS; d++) rs->hist[d][(m >> (RADIX_BITS * d)) & 0xff]++;
      }
    } else {
      for (int64_t i = 0; i < n; i++) {
        if (i + RADIX_AHEAD < n) /* rows are in no useful order: fetch early */
          __builtin_prefetch(&key->major[cur[i + RADIX_AHEAD]]);
        uint64_t m = img[i] = key->major[cur[i]];
        diff |= m ^ first;
        for (int d = 0; d < RADIX_DIGITS; d++) rs->hist[d][(m >> (RADIX_BITS * d)) & 0xff]++;
      }
    }
    for (int d = 0; d < RADIX_DIGITS; d++) {
      if (!((diff >> (RADIX_BITS * d)) & 0xff)) continue; /* a digit every row shares */
      size_t pos[1 << RADIX_BITS], at = 0;
      for (int b = 0; b < 1 << RADIX_BITS; b++) {
        pos[b] = at;
        at += rs->hist[d][b];
      }
      for (int64_t i = 0; i < n; i++) {
        size_t to = pos[(img[i] >> (RADIX_BITS * d)) & 0xff]++;
        img2[to] = img[i];
        alt[to] = cur[i];
      }
      uint64_t *ti = img;
      img = img2;
      img2 = ti;
      int64_t *tx = cur;
      cur = alt;
      alt = tx;
    }
    if (key->mixed_rank) { /* the NULL rank is the most significant digit */
      size_t cnt[3] = {0, 0, 0}, pos[3];
      for (int64_t i = 0; i < n; i++) cnt[key->rank[cur[i]]]++;
      if (cnt[0] == (size_t)n || cnt[1] == (size_t)n || cnt[2] == (size_t)n) continue;
      pos[0] = 0;
      pos[1] = cnt[0];
      pos[2] = cnt[0] + cnt[1];
      for (int64_t i = 0; i < n; i++) alt[pos[key->rank[cur[i]]]++] = cur[i];
      int64_t *tx = cur;
      cur = alt;
      alt = tx;
    }
  }
  if (cur != idx) memcpy(idx, cur, (size_t)n * sizeof *idx);
}

/* Insertion sort of idx[0..n) (n <= SMALL_SORT_MAX) by the ranks and images
 * of keys [0, nk), as lsd_sort orders them (a tie keeps its order): a few
 * rows cost fewer steps this way than a radix pass's 256 buckets per digit.
 * With `have`, mimg[0..n) holds key 0's images in idx's order. */
#define SMALL_SORT_MAX 48
static void small_sort(const sort_key *keys, int nk, int64_t *idx, const uint64_t *have,
                       int64_t n) {
  uint64_t m[SMALL_SORT_MAX];
  uint8_t r[SMALL_SORT_MAX];
  int64_t x[SMALL_SORT_MAX];
  const sort_key *k0 = &keys[0];
  if (!have)
    for (int64_t i = 0; i < n; i++) __builtin_prefetch(&k0->major[idx[i]]);
  for (int64_t i = 0; i < n; i++) {
    x[i] = idx[i];
    m[i] = have ? have[i] : k0->major[idx[i]];
    r[i] = k0->mixed_rank ? k0->rank[idx[i]] : 1;
  }
  for (int64_t i = 1; i < n; i++) {
    uint64_t mv = m[i];
    uint8_t rv = r[i];
    int64_t xv = x[i], j = i;
    while (j > 0) {
      /* Does row v sort strictly before row j-1? */
      bool before;
      if (rv != r[j - 1]) {
        before = rv < r[j - 1];
      } else if (mv != m[j - 1]) {
        before = mv < m[j - 1];
      } else {
        before = false;
        for (int k = 1; k < nk; k++) {
          const sort_key *key = &keys[k];
          int64_t a = xv, b = x[j - 1];
          if (key->rank[a] != key->rank[b]) {
            before = key->rank[a] < key->rank[b];
            break;
          }
          if (key->major[a] != key->major[b]) {
            before = key->major[a] < key->major[b];
            break;
          }
        }
      }
      if (!before) break;
      m[j] = m[j - 1];
      r[j] = r[j - 1];
      x[j] = x[j - 1];
      j--;
    }
    m[j] = mv;
    r[j] = rv;
    x[j] = xv;
  }
  memcpy(idx, x, (size_t)n * sizeof *idx);
}

/* MSD step on idx[0..n), whose rows tie on keys [0, k): bucket them by key
 * k's NULL rank and top differing image bits, then sort each bucket.  With
 * `have`, mimg[0..n) already holds key k's images of the rows (carried
 * along by the parent's scatter), so they are not fetched again. */
static int msd_sort(const sort_key *keys, int nk, int k, int64_t *idx, uint64_t *mimg,
                    int64_t n, bool have, radix_scratch *rs) {
  while (k < nk && n > RADIX_LSD_MAX) {
    const sort_key *key = &keys[k];
    /* Where the ranks are mixed, each row's; else the one rank of all. */
    uint8_t one = key->rank[idx[0]];
    size_t cnt3[3] = {0, 0, 0};
    if (key->mixed_rank) {
      for (int64_t i = 0; i < n; i++) cnt3[rs->rank[i] = key->rank[idx[i]]]++;
    } else {
      cnt3[one] = (size_t)n;
    }
    bool one_rank = cnt3[0] == (size_t)n || cnt3[1] == (size_t)n || cnt3[2] == (size_t)n;
    if (one_rank) one = cnt3[0] ? 0 : cnt3[1] ? 1 : 2;
    /* The images of valid rows: which bits differ. */
    uint64_t first = 0, diff = 0;
    bool seen = false;
    for (int64_t i = 0; i < n; i++) {
      if (!have) {
        if (i + RADIX_AHEAD < n) __builtin_prefetch(&key->major[idx[i + RADIX_AHEAD]]);
        mimg[i] = key->major[idx[i]];
      }
      if ((one_rank ? one : rs->rank[i]) != 1) continue;
      if (!seen) first = mimg[i], seen = true;
      diff |= mimg[i] ^ first;
    }
    if (one_rank && !diff) { /* every row ties on key k */
      k++;
      have = false;
      continue;
    }
    int lo = diff ? __builtin_ctzll(diff) : 0, hi = diff ? 64 - __builtin_clzll(diff) : 0;
    int sh = hi - lo > MSD_BITS ? hi - MSD_BITS : lo, w = hi - sh;
    uint64_t mask = w ? (UINT64_C(1) << w) - 1 : 0;
    /* Bucket 0: rank 0 (NULLs first); 1..2^w: values by digit; last:
     * rank 2 (NULLs last). */
    size_t nbk = ((size_t)1 << w) + 2;
    size_t *start = canon__calloc(nbk + 1, sizeof *start);
    size_t *pos = canon__reallocarray(NULL, nbk, sizeof *pos);
    uint64_t *mimg2 = rs->mimg2;
    if (!start || !pos) {
      free(start);
      free(pos);
      return CANON_ERR_NOMEM;
    }
#define MSD_BUCKET(i)                                                                     \
  ((one_rank ? one : rs->rank[i]) == 1 ? 1 + (size_t)((mimg[i] >> sh) & mask)           \
   : (one_rank ? one : rs->rank[i]) == 0 ? 0 : nbk - 1)
    for (int64_t i = 0; i < n; i++) start[MSD_BUCKET(i) + 1]++;
    for (size_t b = 0; b < nbk; b++) start[b + 1] += start[b];
    memcpy(pos, start, nbk * sizeof *pos);
    for (int64_t i = 0; i < n; i++) {
      size_t to = pos[MSD_BUCKET(i)]++;
      rs->idx2[to] = idx[i];
      mimg2[to] = mimg[i];
    }
#undef MSD_BUCKET
    free(pos);
    memcpy(idx, rs->idx2, (size_t)n * sizeof *idx);
    memcpy(mimg, mimg2, (size_t)n * sizeof *mimg);
    /* A NULL bucket, or a value bucket whose digit took the last differing
     * bits, ties on key k: it goes on with key k+1. */
    int rc = 0;
    for (size_t b = 0; b < nbk && rc == 0; b++) {
      int64_t m = (int64_t)(start[b + 1] - start[b]);
      if (m < 2) continue;
      bool done_k = b == 0 || b == nbk - 1 || sh == lo;
      rc = msd_sort(keys, nk, done_k ? k + 1 : k, idx + start[b], mimg + start[b], m, !done_k, rs);
    }
    free(start);
    return rc;
  }
  if (k < nk && n > 1 && n <= SMALL_SORT_MAX)
    small_sort(keys + k, nk - k, idx, have ? mimg : NULL, n);
  else if (k < nk && n > 1)
    lsd_sort(keys + k, nk - k, idx, have ? mimg : NULL, n, rs);
  return 0;
}

static int radix_sort(const sort_key *keys, int nk, int64_t *perm, int64_t n) {
  int64_t m = n < RADIX_LSD_MAX ? n : RADIX_LSD_MAX;
  bool msd = n > RADIX_LSD_MAX;
  radix_scratch rs;
  memset(&rs, 0, sizeof rs);
  rs.img = canon__reallocarray(NULL, (size_t)m, sizeof *rs.img);
  rs.img2 = canon__reallocarray(NULL, (size_t)m, sizeof *rs.img2);
  rs.idx2 = canon__reallocarray(NULL, (size_t)n, sizeof *rs.idx2);
  rs.hist = canon__malloc(RADIX_DIGITS * sizeof *rs.hist);
  if (msd) {
    rs.rank = canon__malloc((size_t)n);
    rs.mimg = canon__reallocarray(NULL, (size_t)n, sizeof *rs.mimg);
    rs.mimg2 = canon__reallocarray(NULL, (size_t)n, sizeof *rs.mimg2);
  }
  /* Sorted in place: should scratch run short midway, perm is still a
   * permutation in which rows that tie keep their order (every pass is
   * stable), so the merge sort the caller falls back on gives the same
   * answer. */
  int rc = CANON_ERR_NOMEM;
  if (rs.img && rs.img2 && rs.idx2 && rs.hist && (!msd || (rs.rank && rs.mimg && rs.mimg2)))
    rc = msd_sort(keys, nk, 0, perm, rs.mimg, n, false, &rs);
  free(rs.img);
  free(rs.img2);
  free(rs.idx2);
  free(rs.hist);
  free(rs.rank);
  free(rs.mimg);
  free(rs.mimg2);
  return rc;
}

/* Whether rows a and b tie on the ranks and images of keys [0, nk). */
static bool same_images(const sort_key *keys, int nk, int64_t a, int64_t b) {
  for (int k = 0; k < nk; k++)
    if (keys[k].rank[a] != keys[k].rank[b] || keys[k].major[a] != keys[k].major[b]) return false;
  return true;
}

/* Sort perm (0..n-1 or any order to sort stably) by every key.  Radix on the
 * images of the keys up to the first inexact one orders rows wherever those
 * images differ (an image order is never against the value order); runs
 * that tie on them are finished by merge sort under the full comparison. */
/* Inputs made of a few ascending runs (a range exchange's consumer: each
 * producer's bucket arrives sorted) are merged rather than sorted: up to
 * MERGE_RUNS_MAX runs, found by one scan that gives up as soon as there are
 * more.  Adjacent runs are merged pairwise, the left run winning ties, so
 * the order is the stable one. */
#define MERGE_RUNS_MIN_ROWS 4096
#define MERGE_RUNS_MAX 64

/* Row a sorts strictly before row b.  Where every key is exact and none
 * has both NULLs and values (`images_decide`), the images alone decide, and
 * one or two keys compare without branches. */
static inline bool exact_lt(const sort_ctx *cx, int64_t a, int64_t b) {
  const uint64_t *m0 = cx->keys[0].major;
  if (cx->nkeys == 1) return m0[a] < m0[b];
  if (cx->nkeys == 2) {
    const uint64_t *m1 = cx->keys[1].major;
    return (m0[a] < m0[b]) | ((m0[a] == m0[b]) & (m1[a] < m1[b]));
  }
  for (int k = 0; k < cx->nkeys; k++) {
    uint64_t x = cx->keys[k].major[a], y = cx->keys[k].major[b];
    if (x != y) return x < y;
  }
  return false;
}

#define MERGE_RUNS_BODY(LESS)                                                              \
  do {                                                                                     \
    for (int64_t i = 1; i < n; i++)                                                        \
      if (LESS(perm[i], perm[i - 1])) {                                                    \
        if (runs == MERGE_RUNS_MAX) return false;                                          \
        start[runs++] = i;                                                                 \
      }                                                                                    \
    start[runs] = n;                                                                       \
    while (runs > 1) {                                                                     \
      int out = 0;                                                                         \
      for (int r = 0; r < runs; r += 2) {                                                  \
        int64_t a = start[r], mid = start[r + 1 < runs ? r + 1 : runs];                    \
        int64_t e = start[r + 2 < runs ? r + 2 : runs], i = a, j = mid, k = a;             \
        while (i < mid && j < e) {                                                         \
          bool right = LESS(src[j], src[i]); /* ties: the left run's row first */          \
          dst[k++] = right ? src[j] : src[i];                                              \
          j += right;                                                                      \
          i += !right;                                                                     \
        }                                                                                  \
        while (i < mid) dst[k++] = src[i++];                                               \
        while (j < e) dst[k++] = src[j++];                                                 \
        start[out++] = a;                                                                  \
      }                                                                                    \
      start[out] = n;                                                                      \
      runs = out;                                                                          \
      int64_t *t_ = src;                                                                   \
      src = dst;                                                                           \
      dst = t_;                                                                            \
    }                                                                                      \
  } while (0)

#define GENERIC_LT(a, b) (cmp_idx(cx, (a), (b)) < 0)
#define EXACT_LT(a, b) exact_lt(cx, (a), (b))

static bool merge_runs(const sort_ctx *cx, int64_t *perm, int64_t *tmp, int64_t n) {
  int64_t start[MERGE_RUNS_MAX + 1];
  int runs = 1;
  start[0] = 0;
  int64_t *src = perm, *dst = tmp;
  bool images_decide = true;
  for (int k = 0; k < cx->nkeys; k++)
    if (cx->keys[k].col || cx->keys[k].mixed_rank) images_decide = false;
  if (images_decide)
    MERGE_RUNS_BODY(EXACT_LT);
  else
    MERGE_RUNS_BODY(GENERIC_LT);
  if (src != perm) memcpy(perm, src, (size_t)n * sizeof *perm);
  return true;
}
#undef GENERIC_LT
#undef EXACT_LT
#undef MERGE_RUNS_BODY

static void sort_perm(const sort_ctx *cx, int64_t *perm, int64_t *tmp, int64_t n) {
  if (n >= MERGE_RUNS_MIN_ROWS && merge_runs(cx, perm, tmp, n)) return;
  int nk = 0;
  while (nk < cx->nkeys && !cx->keys[nk].col) nk++;
  bool exact = nk == cx->nkeys;
  if (!exact) nk++;
  if (n < 64 || radix_sort(cx->keys, nk, perm, n)) {
    merge_sort(cx, perm, tmp, n);
    return;
  }
  if (exact) return;
  for (int64_t a = 0; a < n;) {
    int64_t b = a + 1;
    while (b < n && same_images(cx->keys, nk, perm[a], perm[b])) b++;
    if (b - a > 1) merge_sort(cx, perm + a, tmp, b - a);
    a = b;
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
  if (rc == 0) {
    sort_ctx cx = {sk, nkeys};
    sort_perm(&cx, perm, tmp, n);
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

/* Compare row i with the row held in a top-n slot (row, then the first
 * key's rank and image, kept there so most comparisons touch no other
 * memory), as cmp_idx(i, row) would. */
static inline int cmp_slot(const sort_ctx *cx, int64_t i, const int64_t *slot) {
  const sort_key *k0 = &cx->keys[0];
  int64_t r = (int64_t)k0->rank[i] - slot[2];
  if (r) return r < 0 ? -1 : 1;
  uint64_t m = k0->major[i], ms = (uint64_t)slot[1];
  if (m != ms) return m < ms ? -1 : 1;
  return cmp_idx(cx, i, slot[0]);
}

/* How many rows ahead top-n fetches a group's block. */
#define TOP_N_AHEAD 16

int canon__sort_top_n(const canon_table *t, const canon__sortcol *keys, int nkeys,
                      const int64_t *group_of, int64_t ngroups, int64_t n, int64_t *perm,
                      int64_t *kept, canon_error *err) {
  int64_t rows = t->nrows;
  *kept = 0;
  if (rows == 0 || n <= 0 || ngroups <= 0) return 0;
  if (nkeys <= 0) return canon__seterr(err, CANON_ERR_INTERNAL, "top-n needs a sort key");
  /* Group g's block: its count, then up to n slots (row, image, rank) of
   * its first rows so far in sorted order.  Blocks are whole cache lines
   * (64 bytes), so a row's visit to its group costs one miss. */
  size_t stride = (1 + 3 * (size_t)n + 7) & ~(size_t)7;
  sort_key *sk = canon__calloc((size_t)nkeys, sizeof *sk);
  int64_t *mem = canon__calloc((size_t)ngroups * stride + 8, sizeof *mem);
  int64_t *blk = mem ? (int64_t *)(((uintptr_t)mem + 63) & ~(uintptr_t)63) : NULL;
  uint8_t *keep = canon__calloc((size_t)rows, 1);
  int64_t *tmp = NULL;
  int rc = (!sk || !blk || !keep) ? CANON_ERR_NOMEM : 0;
  for (int k = 0; rc == 0 && k < nkeys; k++) rc = fill_key(t, &keys[k], &sk[k]);
  if (rc) goto done;
  sort_ctx cx = {sk, nkeys};
  /* A row replaces the last slot only when it sorts strictly before it (on
   * a tie the earlier row, already there, comes first). */
  for (int64_t i = 0; i < rows; i++) {
    if (group_of && i + TOP_N_AHEAD < rows) /* groups are random: fetch early */
      __builtin_prefetch(blk + (size_t)group_of[i + TOP_N_AHEAD] * stride, 1);
    int64_t *b = blk + (size_t)(group_of ? group_of[i] : 0) * stride, *slot = b + 1, j;
    if (b[0] < n) {
      j = b[0]++;
    } else if (cmp_slot(&cx, i, slot + 3 * (n - 1)) < 0) {
      j = n - 1;
    } else {
      continue;
    }
    while (j > 0 && cmp_slot(&cx, i, slot + 3 * (j - 1)) < 0) {
      memcpy(slot + 3 * j, slot + 3 * (j - 1), 3 * sizeof *slot);
      j--;
    }
    slot[3 * j] = i;
    slot[3 * j + 1] = (int64_t)sk[0].major[i];
    slot[3 * j + 2] = sk[0].rank[i];
  }
  for (int64_t g = 0; g < ngroups; g++) {
    const int64_t *b = blk + (size_t)g * stride;
    for (int64_t j = 0; j < b[0]; j++) keep[b[1 + 3 * j]] = 1;
  }
  int64_t m = 0;
  for (int64_t i = 0; i < rows; i++)
    if (keep[i]) perm[m++] = i;
  /* In input order now; the stable sort puts them as the full sort would. */
  if (!(tmp = canon__reallocarray(NULL, (size_t)(m ? m : 1), sizeof *tmp))) {
    rc = CANON_ERR_NOMEM;
    goto done;
  }
  sort_perm(&cx, perm, tmp, m);
  *kept = m;
done:
  if (rc) canon__nomem(err);
  for (int k = 0; sk && k < nkeys; k++) {
    free(sk[k].rank);
    free(sk[k].major);
  }
  free(sk);
  free(mem);
  free(keep);
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
