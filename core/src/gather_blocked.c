/* gather_blocked.c — gathering many columns by one large random index.
 *
 * A take of millions of rows in random order (a sort's output order) reads
 * each value from anywhere in a column far larger than the cache: a cache
 * and TLB miss per row and column.  A plan, built once from the index and
 * shared by every column, turns each column's gather into two passes that
 * only touch memory in cache-sized blocks:
 *   1. the rows are read source block by source block, ascending, and each
 *      value is written to the tmp slot of its destination block (one
 *      write stream per destination block);
 *   2. each destination block's values are put in place from its slots
 *      (random writes within one block, which stays in cache).
 * The plan (per row: its source row in source order, its tmp slot, and its
 * place in its destination block) costs about as much as one or two direct
 * gathers, so it pays off from a few columns on. */
#include "gather_blocked.h"

/* Rows per block: 2^14 rows of 8 bytes = 128 KiB, well inside L2. */
#define GB_SHIFT 14
#define GB_ROWS ((int64_t)1 << GB_SHIFT)
#define GB_MASK (GB_ROWS - 1)

int64_t canon__gplan_min_rows = (int64_t)1 << 22;

struct canon__gplan {
  int64_t n;
  uint32_t *ps;   /* n: source rows, by source block, ascending within one */
  uint32_t *tpos; /* n: the tmp slot of each of those */
  uint16_t *dk;   /* n: per tmp slot, its row within its destination block */
  uint64_t *tmp;  /* n values of scratch */
};

/* How many distinct spans of 64 source rows the `m` indexes at idx touch. */
static int pages_touched(const int64_t *idx, int m) {
  int64_t pg[64];
  int d = 0;
  for (int i = 0; i < m; i++) {
    int64_t p = idx[i] >> 6;
    int j = 0;
    while (j < d && pg[j] != p) j++;
    if (j == d) pg[d++] = p;
  }
  return d;
}

bool canon__gplan_wanted(const int64_t *idx, int64_t n, int64_t src_rows) {
  if (n < canon__gplan_min_rows || src_rows < canon__gplan_min_rows || n < 64) return false;
  if (n > (int64_t)UINT32_MAX || src_rows > (int64_t)UINT32_MAX) return false;
  /* Windows of 64 consecutive indexes: random ones touch nearly 64 spans,
   * ascending ones or a merge of a few runs only a few. */
  int random = 0;
  for (int w = 0; w < 8; w++) random += pages_touched(idx + (n - 64) / 7 * w, 64) > 48;
  return random >= 6;
}

void canon__gplan_free(canon__gplan *p) {
  if (!p) return;
  free(p->ps);
  free(p->tpos);
  free(p->dk);
  free(p->tmp);
  free(p);
}

canon__gplan *canon__gplan_new(const int64_t *idx, int64_t n, int64_t src_rows) {
  int64_t nsb = (src_rows + GB_MASK) >> GB_SHIFT, ndb = (n + GB_MASK) >> GB_SHIFT;
  canon__gplan *p = canon__calloc(1, sizeof *p);
  int64_t *start = canon__calloc((size_t)nsb + 1, sizeof *start);
  int64_t *cur = canon__reallocarray(NULL, (size_t)(nsb > ndb ? nsb : ndb), sizeof *cur);
  uint32_t *cnt = canon__reallocarray(NULL, (size_t)GB_ROWS + 1, sizeof *cnt);
  uint64_t *pairs = canon__reallocarray(NULL, (size_t)n, sizeof *pairs), *blk = NULL;
  bool ok = p && start && cur && cnt && pairs;
  if (ok) {
    p->n = n;
    p->ps = canon__reallocarray(NULL, (size_t)n, sizeof *p->ps);
    p->tpos = canon__reallocarray(NULL, (size_t)n, sizeof *p->tpos);
    p->dk = canon__reallocarray(NULL, (size_t)n, sizeof *p->dk);
    p->tmp = canon__reallocarray(NULL, (size_t)n, sizeof *p->tmp);
    ok = p->ps && p->tpos && p->dk && p->tmp;
  }
  int64_t most = 0;
  if (ok) {
    /* The rows by source block (k ascending within one): (row in block,
     * k) pairs. */
    for (int64_t k = 0; k < n; k++) start[(idx[k] >> GB_SHIFT) + 1]++;
    for (int64_t b = 0; b < nsb; b++) {
      most = start[b + 1] > most ? start[b + 1] : most;
      start[b + 1] += start[b];
    }
    memcpy(cur, start, (size_t)nsb * sizeof *cur);
    for (int64_t k = 0; k < n; k++) {
      int64_t s = idx[k];
      pairs[cur[s >> GB_SHIFT]++] = (uint64_t)(s & GB_MASK) << 32 | (uint64_t)k;
    }
    ok = (blk = canon__reallocarray(NULL, (size_t)(most ? most : 1), sizeof *blk)) != NULL;
  }
  if (ok) {
    /* Destination block d's tmp slots start at its first row. */
    for (int64_t d = 0; d < ndb; d++) cur[d] = d << GB_SHIFT;
    for (int64_t b = 0; b < nsb; b++) {
      int64_t a = start[b], m = start[b + 1] - a;
      /* Within the block, by source row (stable): reads go ascending. */
      memset(cnt, 0, ((size_t)GB_ROWS + 1) * sizeof *cnt);
      for (int64_t j = 0; j < m; j++) cnt[(pairs[a + j] >> 32) + 1]++;
      for (int64_t r = 0; r < GB_ROWS; r++) cnt[r + 1] += cnt[r];
      for (int64_t j = 0; j < m; j++) blk[cnt[pairs[a + j] >> 32]++] = pairs[a + j];
      for (int64_t j = 0; j < m; j++) {
        uint64_t q = blk[j];
        uint32_t k = (uint32_t)q;
        int64_t t = cur[k >> GB_SHIFT]++;
        p->ps[a + j] = (uint32_t)((b << GB_SHIFT) + (int64_t)(q >> 32));
        p->tpos[a + j] = (uint32_t)t;
        p->dk[t] = (uint16_t)(k & GB_MASK);
      }
    }
  }
  free(start);
  free(cur);
  free(cnt);
  free(pairs);
  free(blk);
  if (!ok) {
    canon__gplan_free(p);
    return NULL;
  }
  return p;
}

#define GB_GATHER(T)                                                                  \
  do {                                                                                \
    const T *src_ = src;                                                              \
    T *dst_ = dst, *tmp_ = (T *)p->tmp;                                               \
    for (int64_t j = 0; j < n; j++) tmp_[p->tpos[j]] = src_[p->ps[j]];                \
    for (int64_t base = 0; base < n; base += GB_ROWS) {                               \
      int64_t end = n - base < GB_ROWS ? n : base + GB_ROWS;                          \
      T *to = dst_ + base;                                                            \
      for (int64_t t = base; t < end; t++) to[p->dk[t]] = tmp_[t];                    \
    }                                                                                 \
  } while (0)

void canon__gplan_gather(const canon__gplan *p, const void *src, void *dst, size_t width) {
  int64_t n = p->n;
  if (width == 8)
    GB_GATHER(uint64_t);
  else if (width == 4)
    GB_GATHER(uint32_t);
  else
    GB_GATHER(uint8_t);
}
#undef GB_GATHER
