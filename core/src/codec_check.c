/* codec_check.c — the checks of an encoded table's rows (codec.c): NULL
 * counts against bitmaps, bools 0 or 1, string offsets monotone from 0 to
 * the string bytes.
 *
 * Every check is one pass without early exits (vectorized), and a table
 * read whole pays them on each decoding: a joined answer of 10 million
 * rows and five string columns reads 400 MB of offsets.  A big encoding's
 * checks run on a thread per core, in chunks of rows, each column's
 * verdict the same as one pass gives. */
#include "codec_layout.h"

/* Bytes to check from which threads pay off, and the rows a thread
 * checks at a time (a multiple of 64: chunks start at whole bitmap
 * words).  Variables for the tests (internal.h). */
size_t canon__check_threads_min = (size_t)64 << 20;
int64_t canon__check_chunk_rows = (int64_t)1 << 20;

enum { BOOL_OVER = 1u, STRING_DOWN = 2u };

/* Rows (lo, hi] of column c: the bits of [lo, hi) counted into *valid,
 * bools of [lo, hi) and offsets lo..hi compared into *flags. */
static void check_range(const codec_rows *c, int64_t lo, int64_t hi, int64_t *valid, unsigned *flags) {
  if (c->vp) {
    int64_t n = 0, w0 = lo / 64, w1 = hi / 64;
    for (int64_t k = w0; k < w1; k++) n += __builtin_popcountll(get_u64(c->vp + (size_t)k * 8));
    for (int64_t i = w1 * 64 > lo ? w1 * 64 : lo; i < hi; i++) n += (c->vp[i >> 3] >> (i & 7)) & 1;
    *valid += n;
  }
  if (c->type == CANON_BOOL) {
    unsigned over = 0;
    for (int64_t i = lo; i < hi; i++) over |= c->wp[i] > 1;
    if (over) *flags |= BOOL_OVER;
  } else if (c->type == CANON_STRING) {
    unsigned down = 0;
    for (int64_t i = lo + 1; i <= hi; i++)
      down |= (int64_t)get_u64(c->wp + (size_t)i * 8) < (int64_t)get_u64(c->wp + (size_t)(i - 1) * 8);
    if (down) *flags |= STRING_DOWN;
  }
}

/* Column c's verdict from its counts. */
static const char *problem(const codec_rows *c, int64_t valid, unsigned flags) {
  if (c->vp && c->nrows - valid != c->null_count) return "NULL count does not match the validity bitmap";
  if (flags & BOOL_OVER) return "bool value other than 0 or 1";
  if (c->type == CANON_STRING) {
    if ((int64_t)get_u64(c->wp) != 0 || (flags & STRING_DOWN)) return "string offsets are not monotone from 0";
    if (get_u64(c->wp + (size_t)c->nrows * 8) != c->strdata) return "string offsets do not end at the string bytes";
  }
  return NULL;
}

/* Whether the checks read anything of column c (its bitmap, bools,
 * offsets). */
static bool has_checks(const codec_rows *c) {
  return c->vp || c->type == CANON_BOOL || c->type == CANON_STRING;
}

static size_t check_bytes(const codec_rows *c) {
  size_t n = c->vp ? (size_t)(c->nrows + 7) / 8 : 0;
  if (c->type == CANON_BOOL) n += (size_t)c->nrows;
  if (c->type == CANON_STRING) n += (size_t)c->nrows * 8;
  return n;
}

typedef struct check_job {
  codec_rows *cols;
  int n;
  int64_t *first;   /* per column: its first item (n + 1 entries) */
  int64_t *valid;   /* per column, summed over its chunks */
  unsigned *flags;  /* per column, ORed over its chunks */
  int64_t chunk;    /* rows per item */
  int64_t next;     /* the next item */
} check_job;

static void *check_worker(void *arg) {
  check_job *j = arg;
  int64_t items = j->first[j->n];
  for (int64_t k; (k = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < items;) {
    int i = 0;
    while (j->first[i + 1] <= k) i++;
    const codec_rows *c = &j->cols[i];
    int64_t lo = (k - j->first[i]) * j->chunk;
    int64_t hi = lo + j->chunk < c->nrows ? lo + j->chunk : c->nrows;
    int64_t valid = 0;
    unsigned flags = 0;
    check_range(c, lo, hi, &valid, &flags);
    __atomic_fetch_add(&j->valid[i], valid, __ATOMIC_RELAXED);
    __atomic_fetch_or(&j->flags[i], flags, __ATOMIC_RELAXED);
  }
  return NULL;
}

int canon__codec_check_rows(codec_rows *cols, int n) {
  size_t bytes = 0;
  for (int i = 0; i < n; i++) {
    cols[i].problem = NULL;
    if (has_checks(&cols[i])) bytes += check_bytes(&cols[i]);
  }
  if (bytes < canon__check_threads_min) {
    for (int i = 0; i < n; i++) {
      if (!has_checks(&cols[i])) continue;
      int64_t valid = 0;
      unsigned flags = 0;
      check_range(&cols[i], 0, cols[i].nrows, &valid, &flags);
      cols[i].problem = problem(&cols[i], valid, flags);
    }
    return 0;
  }
  int64_t chunk = canon__check_chunk_rows >= 64 ? canon__check_chunk_rows & ~(int64_t)63 : 64;
  check_job j = {cols, n, canon__calloc((size_t)n + 1, sizeof(int64_t)),
                 canon__calloc((size_t)n, sizeof(int64_t)), canon__calloc((size_t)n, sizeof(unsigned)),
                 chunk, 0};
  if (!j.first || !j.valid || !j.flags) {
    free(j.first);
    free(j.valid);
    free(j.flags);
    return CANON_ERR_NOMEM;
  }
  /* Items: each checked column's chunks, in column order (a column of no
   * rows still has one, for its end offset). */
  for (int i = 0; i < n; i++) {
    int64_t chunks = has_checks(&cols[i]) ? (cols[i].nrows + chunk - 1) / chunk : 0;
    if (has_checks(&cols[i]) && chunks == 0) chunks = 1;
    j.first[i + 1] = j.first[i] + chunks;
  }
  /* (Two at least: tests lowering the threshold check small tables on
   * threads too.) */
  int threads = canon__threads_for(bytes);
  canon__run_threads(check_worker, &j, threads < 2 ? 2 : threads);
  for (int i = 0; i < n; i++)
    if (has_checks(&cols[i])) cols[i].problem = problem(&cols[i], j.valid[i], j.flags[i]);
  free(j.first);
  free(j.valid);
  free(j.flags);
  return 0;
}
