/* hashing.c — the fixed row hash and hash grouping (SEMANTICS §3).
 *
 * The row hash decides which bucket of a hash exchange a row goes to, so it
 * must be the same function on every engine, process and machine: it reads
 * values only through their canonical bits (little-endian for string
 * bytes), never through pointers, seeds or the host's byte order.  Changing
 * it changes how data is partitioned, never a result.
 *
 * Per value a 64-bit "pre-hash" is taken: the canonical bits of a
 * fixed-width value (-0.0 as 0.0, every NaN as one quiet NaN, dates sign
 * extended), a mixed hash of a string's bytes, or a fixed constant for NULL.
 * Columns are folded in left to right with a strong bijective mixer, so one
 * int64 key never collides with another.
 *
 * Grouping hashes every row first (one tight loop per column) and then
 * probes an open-addressing table of (hash, group id) slots; the table is
 * indexed by the hash's high bits, because the rows of one exchange bucket
 * share their hash modulo the bucket count, i.e. often the low bits.
 */
#include "kernels.h"

/* Odd multipliers drawn at random (balanced bit counts); nothing special
 * beyond being fixed forever. */
#define H_K1 UINT64_C(0xd1a6e55e9b9b1325)
#define H_K2 UINT64_C(0xcf0c26ef4243ed53)
#define H_K3 UINT64_C(0x5e6a0a2edd70e34d)
#define H_K4 UINT64_C(0x4de45321ad915a37)
#define H_SEED UINT64_C(0xaed09b824ca87fc3)
#define H_NULL UINT64_C(0x1ff135342e825ce1)
#define H_QNAN UINT64_C(0x7ff8000000000000)

/* Bijective multiply-xorshift finalizer: every input bit reaches every
 * output bit. */
static inline uint64_t h_mix(uint64_t x) {
  x ^= x >> 31;
  x *= H_K1;
  x ^= x >> 29;
  x *= H_K2;
  x ^= x >> 32;
  return x;
}

/* Fold one column's pre-hash into the running row hash. */
static inline uint64_t h_fold(uint64_t h, uint64_t p) { return h_mix((h ^ p) * H_K3); }

static inline uint64_t h_rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* Up to 8 bytes as a little-endian word, zero padded. */
static inline uint64_t h_load(const uint8_t *p, size_t n) {
  uint64_t w = 0;
  memcpy(&w, p, n);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  w = __builtin_bswap64(w);
  if (n < 8) w >>= 8 * (8 - n);
#endif
  return w;
}

/* Hash of a byte string: word-at-a-time multiply-rotate, then the length
 * and the finalizer (so "ab" and "ab\0" differ).  `room` is how many bytes
 * from s may be read (>= n): with 8 of them past the last full word the
 * tail is one word load, masked, instead of a short copy (the same value:
 * the tail is zero padded either way). */
static inline uint64_t h_bytes_room(const char *s, size_t n, size_t room) {
  const uint8_t *p = (const uint8_t *)s;
  uint64_t h = H_SEED ^ ((uint64_t)n * H_K4);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    h ^= h_load(p + i, 8) * H_K3;
    h = h_rotl(h, 31) * H_K4;
  }
  if (i < n) {
    uint64_t w;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (i + 8 <= room) {
      memcpy(&w, p + i, 8);
      w &= ~UINT64_C(0) >> (8 * (8 - (n - i)));
    } else {
      w = h_load(p + i, n - i);
    }
#else
    (void)room;
    w = h_load(p + i, n - i);
#endif
    h ^= w * H_K3;
    h = h_rotl(h, 31) * H_K4;
  }
  return h_mix(h ^ (uint64_t)n);
}

static uint64_t h_bytes(const char *s, size_t n) { return h_bytes_room(s, n, n); }

uint64_t canon__hash_str_pre(const char *s, size_t n) { return h_bytes(s, n); }

static inline uint64_t h_f64_bits(double d) {
  if (d != d) return H_QNAN;
  if (d == 0) return 0;
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  return b;
}

/* Pre-hash of value i of column c. */
static inline uint64_t h_value(const canon__column *c, int64_t i) {
  if (!canon__valid(c, i)) return H_NULL;
  switch (c->type) {
  case CANON_BOOL: return canon__u8(c)[i] != 0;
  case CANON_DATE: return (uint64_t)(int64_t)canon__i32(c)[i];
  case CANON_INT64:
  case CANON_TIMESTAMP: return (uint64_t)canon__i64(c)[i];
  case CANON_FLOAT64: return h_f64_bits(canon__f64(c)[i]);
  case CANON_STRING: {
    size_t len;
    const char *s = canon__str(c, i, &len);
    return h_bytes(s, len);
  }
  default: return 0;
  }
}

/* Hash of the key columns of one row. */
uint64_t canon__hash_row(const canon_table *t, const int *cols, int ncols, int64_t row) {
  uint64_t h = H_SEED;
  for (int k = 0; k < ncols; k++) h = h_fold(h, h_value(t->cols[cols[k]], row));
  return h;
}

/* Fold column c's rows [from, to) into out[0..to-from): one loop per type
 * so the inner loops are branch-light; columns without a validity bitmap
 * skip the NULL test. */
static void h_fold_column(const canon__column *c, int64_t from, int64_t to, uint64_t *out) {
  bool nulls = c->validity != NULL;
  out -= from;
#define H_LOOP(EXPR)                                                      \
  for (int64_t i = from; i < to; i++) {                                   \
    uint64_t p = (nulls && !canon__valid(c, i)) ? H_NULL : (EXPR);        \
    out[i] = h_fold(out[i], p);                                           \
  }
  switch (c->type) {
  case CANON_BOOL: {
    const uint8_t *v = canon__u8(c);
    H_LOOP((uint64_t)(v[i] != 0));
    break;
  }
  case CANON_DATE: {
    const int32_t *v = canon__i32(c);
    H_LOOP((uint64_t)(int64_t)v[i]);
    break;
  }
  case CANON_INT64:
  case CANON_TIMESTAMP: {
    const int64_t *v = canon__i64(c);
    H_LOOP((uint64_t)v[i]);
    break;
  }
  case CANON_FLOAT64: {
    const double *v = canon__f64(c);
    H_LOOP(h_f64_bits(v[i]));
    break;
  }
  case CANON_STRING: {
    if (c->dict) { /* each value's pre-hash was taken once, in its dictionary */
      const uint32_t *code = canon__codes(c);
      const uint64_t *pre = c->dict->prehash;
      H_LOOP(pre[code[i]]);
      break;
    }
    const int64_t *off = canon__i64(c);
    const char *sd = (const char *)c->strdata->data;
    size_t size = c->strdata->size;
    H_LOOP(h_bytes_room(sd + off[i], (size_t)(off[i + 1] - off[i]), size - (size_t)off[i]));
    break;
  }
  default:
    for (int64_t i = from; i < to; i++) out[i] = h_fold(out[i], h_value(c, i));
    break;
  }
#undef H_LOOP
}

/* Hashes of rows [from, to) into out[0 .. to-from), computed column by
 * column over blocks of rows that stay in cache. */
void canon__hash_rows_range(const canon_table *t, const int *cols, int ncols, int64_t from,
                            int64_t to, uint64_t *out) {
  enum { BLOCK = 2048 };
  out -= from;
  for (int64_t a = from; a < to; a += BLOCK) {
    int64_t b = to - a < BLOCK ? to : a + BLOCK;
    for (int64_t i = a; i < b; i++) out[i] = H_SEED;
    for (int k = 0; k < ncols; k++) h_fold_column(t->cols[cols[k]], a, b, out + a);
  }
}

/* Hashes of every row. */
void canon__hash_rows(const canon_table *t, const int *cols, int ncols, uint64_t *out) {
  canon__hash_rows_range(t, cols, ncols, 0, t->nrows, out);
}

/* ---- grouping ----------------------------------------------------------- */

/* Rows after which grouping judges, from the groups found so far, whether
 * nearly every row will be a group of its own. */
#define H_SAMPLE 16384

typedef struct h_slot {
  uint64_t hash;
  int64_t gid1; /* group id + 1; 0: empty (a fresh table is zero pages) */
} h_slot;

typedef struct h_group_ctx {
  const canon_table *t;
  const int *cols;
  int ncols;
  const uint64_t *hashes;
  h_slot *slots;
  int shift;          /* slot index = hash >> shift */
  uint64_t mask;
  int64_t ngroups, capgroups;
  int64_t *first;
  /* One fixed-width key column: its pre-hash is a bijection of the
   * canonical value and the fold a bijection of the pre-hash, so equal
   * hashes mean equal keys, except that NULL's constant may equal some
   * value's bits: then validity alone is compared (of `nullable`, the key
   * column when it has NULLs). */
  bool hash_decides;
  const canon__column *nullable;
  /* One string key without codes: each group's key is copied, when the
   * group is made, into `arena` (u64 length, UINT64_MAX for NULL, then
   * the bytes, padded to 8), and reps[s] is where slot s's key starts.
   * A probe then compares with a small, dense copy whose place is known
   * with the slot, instead of chasing the group's first row to its offset
   * and then its bytes in the whole column. */
  const canon__column *str1;
  uint8_t *arena;
  size_t alen, acap;
  uint64_t *reps;
} h_group_ctx;

/* §3 equality of the keys of rows a and b.  Fixed-width types are compared
 * inline (same rule as canon__key_equal: NULL = NULL, NaN = NaN,
 * -0.0 = 0.0, strings by length and bytes) because this runs once per
 * row. */
static bool h_rows_equal(const h_group_ctx *g, int64_t a, int64_t b) {
  for (int k = 0; k < g->ncols; k++) {
    const canon__column *c = g->t->cols[g->cols[k]];
    bool va = canon__valid(c, a), vb = canon__valid(c, b);
    if (va != vb) return false;
    if (!va) continue;
    switch (c->type) {
    case CANON_BOOL:
      if ((canon__u8(c)[a] != 0) != (canon__u8(c)[b] != 0)) return false;
      break;
    case CANON_DATE:
      if (canon__i32(c)[a] != canon__i32(c)[b]) return false;
      break;
    case CANON_INT64:
    case CANON_TIMESTAMP:
      if (canon__i64(c)[a] != canon__i64(c)[b]) return false;
      break;
    case CANON_FLOAT64:
      if (canon__cmp_f64(canon__f64(c)[a], canon__f64(c)[b]) != 0) return false;
      break;
    case CANON_STRING: {
      if (c->dict) {
        if (canon__codes(c)[a] != canon__codes(c)[b]) return false;
        break;
      }
      const int64_t *o = canon__i64(c);
      int64_t len = o[a + 1] - o[a];
      if (len != o[b + 1] - o[b] ||
          memcmp(c->strdata->data + o[a], c->strdata->data + o[b], (size_t)len) != 0)
        return false;
      break;
    }
    default:
      if (!canon__key_equal(c, a, c, b)) return false;
      break;
    }
  }
  return true;
}

/* Keys of rows a and b equal, given that their hashes are equal. */
static inline bool h_same_key(const h_group_ctx *g, int64_t a, int64_t b) {
  if (!g->hash_decides) return h_rows_equal(g, a, b);
  return !g->nullable || canon__valid(g->nullable, a) == canon__valid(g->nullable, b);
}

/* Row b's key (of a str1 grouping) equals the key at arena offset rep. */
static inline bool h_rep_equal(const h_group_ctx *g, uint64_t rep, int64_t b) {
  const canon__column *c = g->str1;
  uint64_t len;
  memcpy(&len, g->arena + rep, 8);
  if (!canon__valid(c, b)) return len == UINT64_MAX;
  const int64_t *o = canon__i64(c);
  return len == (uint64_t)(o[b + 1] - o[b]) &&
         memcmp(g->arena + rep + 8, c->strdata->data + o[b], (size_t)len) == 0;
}

/* Copy row i's key (str1) to the arena; its offset into *rep. */
static int h_rep_add(h_group_ctx *g, int64_t i, uint64_t *rep) {
  const canon__column *c = g->str1;
  bool valid = canon__valid(c, i);
  const int64_t *o = canon__i64(c);
  uint64_t len = valid ? (uint64_t)(o[i + 1] - o[i]) : UINT64_MAX;
  size_t need = 8 + (valid ? (size_t)((len + 7) & ~(uint64_t)7) : 0);
  if (g->alen + need > g->acap) {
    size_t ncap = g->acap ? g->acap : 4096;
    while (ncap < g->alen + need) ncap *= 2;
    uint8_t *na = realloc(g->arena, ncap);
    if (!na) return CANON_ERR_NOMEM;
    g->arena = na;
    g->acap = ncap;
  }
  *rep = g->alen;
  memcpy(g->arena + g->alen, &len, 8);
  if (valid) {
    memcpy(g->arena + g->alen + 8, c->strdata->data + o[i], (size_t)len);
    memset(g->arena + g->alen + 8 + len, 0, need - 8 - (size_t)len);
  }
  g->alen += need;
  return 0;
}

/* n zeroed bytes.  A large block is written with zeros rather than taken
 * from calloc: calloc's fresh pages read as the shared zero page, and the
 * first write to each then costs a copy-on-write fault and, with other
 * threads running, a TLB flush on every core. */
static void *h_zeroed(size_t n) {
  if (n < ((size_t)1 << 20)) return canon__calloc(n, 1);
  void *p = canon__malloc(n);
  if (p) memset(p, 0, n);
  return p;
}

static int h_table_alloc(h_group_ctx *g, int bits) {
  size_t cap = (size_t)1 << bits;
  h_slot *s = h_zeroed(cap * sizeof *s);
  uint64_t *r = g->str1 ? canon__malloc(cap * sizeof *r) : NULL;
  if (!s || (g->str1 && !r)) {
    free(s);
    free(r);
    return CANON_ERR_NOMEM;
  }
  free(g->slots);
  free(g->reps);
  g->slots = s;
  g->reps = r;
  g->shift = 64 - bits;
  g->mask = cap - 1;
  return 0;
}

/* Double the table (load stays <= 1/2) and re-place every group.  The old
 * table is walked in slot order, which is (up to probe runs) the order of
 * the hashes' high bits, i.e. of the new slots: the writes stream instead
 * of landing at random. */
static int h_grow_to(h_group_ctx *g, int bits) {
  if (bits > 62) return CANON_ERR_NOMEM;
  h_slot *old = g->slots;
  uint64_t *oldreps = g->reps;
  size_t oldcap = (size_t)g->mask + 1;
  g->slots = NULL;
  g->reps = NULL;
  int rc = h_table_alloc(g, bits);
  if (rc) {
    g->slots = old;
    g->reps = oldreps;
    return rc;
  }
  for (size_t k = 0; k < oldcap; k++) {
    if (!old[k].gid1) continue;
    uint64_t i = old[k].hash >> g->shift;
    while (g->slots[i].gid1) i = (i + 1) & g->mask;
    g->slots[i] = old[k];
    if (oldreps) g->reps[i] = oldreps[k];
  }
  free(old);
  free(oldreps);
  return 0;
}

static int h_grow(h_group_ctx *g) { return h_grow_to(g, 64 - g->shift + 1); }

/* Group id of row i, adding a group when its key is new. */
static inline int64_t h_find_or_add(h_group_ctx *g, int64_t i, int *rc) {
  uint64_t h = g->hashes[i];
  uint64_t s = h >> g->shift;
  for (;;) {
    h_slot *sl = &g->slots[s];
    if (!sl->gid1) break;
    if (sl->hash == h && (g->str1 ? h_rep_equal(g, g->reps[s], i)
                                  : h_same_key(g, g->first[sl->gid1 - 1], i)))
      return sl->gid1 - 1;
    s = (s + 1) & g->mask;
  }
  if (g->str1 && (*rc = h_rep_add(g, i, &g->reps[s])) != 0) return -1;
  if (g->ngroups == g->capgroups) {
    int64_t ncap = g->capgroups ? g->capgroups * 2 : 1024;
    int64_t *nf = canon__reallocarray(g->first, (size_t)ncap, sizeof *nf);
    if (!nf) {
      *rc = CANON_ERR_NOMEM;
      return -1;
    }
    g->first = nf;
    g->capgroups = ncap;
  }
  int64_t gid = g->ngroups++;
  g->first[gid] = i;
  g->slots[s].hash = h;
  g->slots[s].gid1 = gid + 1;
  if ((uint64_t)g->ngroups * 2 > g->mask + 1 && (*rc = h_grow(g)) != 0) return -1;
  return gid;
}

/* ---- dense keys ---------------------------------------------------------
 * When every key column is dictionary coded or an integer of small range,
 * a row's key is a mixed-radix number below `space` (each column's radix
 * has one more digit, for NULL), and a row finds its group by indexing an
 * array with that number: no hashing, probing or comparing.  The group ids
 * are the same as the hash path's (order of first appearance). */

enum { DENSE_MIN_SPACE = 1 << 12, DENSE_MAX_SPACE = 1 << 24 };

typedef struct d_key {
  const canon__column *c;
  uint64_t radix; /* values 0..radix-2, NULL radix-1 */
  int64_t lo;     /* integers: the smallest value, digit 0 */
} d_key;

/* The smallest and largest valid value of an integer column (0, 0 when
 * none). */
static void d_int_range(const canon__column *c, int64_t *lo, int64_t *hi) {
  int64_t mn = INT64_MAX, mx = INT64_MIN, n = c->length;
  if (c->type == CANON_DATE) {
    const int32_t *v = canon__i32(c);
    for (int64_t i = 0; i < n; i++)
      if (!c->validity || canon__valid(c, i)) {
        mn = v[i] < mn ? v[i] : mn;
        mx = v[i] > mx ? v[i] : mx;
      }
  } else {
    const int64_t *v = canon__i64(c);
    if (!c->validity)
      for (int64_t i = 0; i < n; i++) {
        mn = v[i] < mn ? v[i] : mn;
        mx = v[i] > mx ? v[i] : mx;
      }
    else
      for (int64_t i = 0; i < n; i++)
        if (canon__valid(c, i)) {
          mn = v[i] < mn ? v[i] : mn;
          mx = v[i] > mx ? v[i] : mx;
        }
  }
  if (mn > mx) mn = mx = 0;
  *lo = mn;
  *hi = mx;
}

/* Whether the keys are dense; fills k[0..ncols) and *space. */
static bool d_plan(const canon_table *t, const int *cols, int ncols, d_key *k, uint64_t *space) {
  uint64_t limit = (uint64_t)t->nrows * 4;
  if (limit < DENSE_MIN_SPACE) limit = DENSE_MIN_SPACE;
  if (limit > DENSE_MAX_SPACE) limit = DENSE_MAX_SPACE;
  if (ncols == 0 || (uint64_t)t->nrows >= UINT32_MAX) return false;
  uint64_t sp = 1;
  /* Sizes known without reading rows first, so a hopeless plan costs no
   * pass over the integers. */
  for (int pass = 0; pass < 2; pass++)
    for (int j = 0; j < ncols; j++) {
      const canon__column *c = t->cols[cols[j]];
      bool integer = c->type == CANON_INT64 || c->type == CANON_TIMESTAMP || c->type == CANON_DATE;
      if (c->type == CANON_FLOAT64 || (c->type == CANON_STRING && !c->dict)) return false;
      if (integer != (pass == 1)) continue;
      k[j].c = c;
      k[j].lo = 0;
      if (c->type == CANON_STRING) {
        k[j].radix = (uint64_t)c->dict->values->length + 1;
      } else if (c->type == CANON_BOOL) {
        k[j].radix = 3;
      } else {
        int64_t hi;
        d_int_range(c, &k[j].lo, &hi);
        uint64_t range = (uint64_t)hi - (uint64_t)k[j].lo;
        if (range >= limit) return false;
        k[j].radix = range + 2;
      }
      if (k[j].radix > limit || sp > limit / k[j].radix) return false;
      sp *= k[j].radix;
    }
  *space = sp;
  return true;
}

/* Fold key column k's digit into g[i] = g[i] * radix + digit. */
static void d_fold(const d_key *k, bool first, int64_t n, int64_t *g) {
  const canon__column *c = k->c;
  int64_t r = (int64_t)k->radix, nul = r - 1, lo = k->lo;
  bool nulls = c->validity != NULL;
#define D_LOOP(EXPR)                                                       \
  for (int64_t i = 0; i < n; i++) {                                        \
    int64_t d = (nulls && !canon__valid(c, i)) ? nul : (int64_t)(EXPR);    \
    g[i] = first ? d : g[i] * r + d;                                       \
  }
  switch (c->type) {
  case CANON_STRING: {
    const uint32_t *v = canon__codes(c);
    D_LOOP(v[i]);
    break;
  }
  case CANON_BOOL: {
    const uint8_t *v = canon__u8(c);
    D_LOOP(v[i] != 0);
    break;
  }
  case CANON_DATE: {
    const int32_t *v = canon__i32(c);
    D_LOOP((int64_t)v[i] - lo);
    break;
  }
  default: {
    const int64_t *v = canon__i64(c);
    D_LOOP((uint64_t)v[i] - (uint64_t)lo);
    break;
  }
  }
#undef D_LOOP
}

static int d_group(const canon_table *t, int ncols, const d_key *k,
                   uint64_t space, bool drop_null_keys, int64_t *g, int64_t *ngroups,
                   int64_t **first_rows) {
  int64_t n = t->nrows;
  for (int j = 0; j < ncols; j++) d_fold(&k[j], j == 0, n, g);
  if (drop_null_keys)
    for (int j = 0; j < ncols; j++) {
      const canon__column *c = k[j].c;
      if (!c->validity) continue;
      for (int64_t i = 0; i < n; i++)
        if (!canon__valid(c, i)) g[i] = -1;
    }
  uint32_t *slot = h_zeroed((size_t)space * sizeof *slot); /* group id + 1 */
  int64_t cap = 1024, ng = 0;
  int64_t *first = canon__malloc((size_t)cap * sizeof *first);
  if (!slot || !first) {
    free(slot);
    free(first);
    return CANON_ERR_NOMEM;
  }
  for (int64_t i = 0; i < n; i++) {
    if (g[i] < 0) continue;
    uint32_t *s = &slot[g[i]];
    if (!*s) {
      if (ng == cap) {
        int64_t *nf = canon__reallocarray(first, (size_t)(cap *= 2), sizeof *nf);
        if (!nf) {
          free(slot);
          free(first);
          return CANON_ERR_NOMEM;
        }
        first = nf;
      }
      first[ng] = i;
      *s = (uint32_t)++ng;
    }
    g[i] = (int64_t)*s - 1;
  }
  free(slot);
  *ngroups = ng;
  *first_rows = first;
  return 0;
}

/* Group ids in order of first appearance; see kernels.h. */
int canon__group_rows(const canon_table *t, const int *cols, int ncols, bool drop_null_keys,
                      int64_t *group_of_row, int64_t *ngroups, int64_t **first_rows,
                      canon_error *err) {
  int64_t n = t->nrows;
  *ngroups = 0;
  *first_rows = NULL;
  d_key dk[ncols ? ncols : 1];
  uint64_t space;
  if (d_plan(t, cols, ncols, dk, &space))
    return d_group(t, ncols, dk, space, drop_null_keys, group_of_row, ngroups, first_rows)
               ? canon__nomem(err)
               : 0;
  h_group_ctx g = {.t = t, .cols = cols, .ncols = ncols};
  int rc = 0;
  g.hashes = canon__reallocarray(NULL, n ? (size_t)n : 1, sizeof *g.hashes);
  if (!g.hashes) return canon__nomem(err);
  canon__hash_rows(t, cols, ncols, (uint64_t *)g.hashes);
  g.hash_decides = ncols == 1 && t->cols[cols[0]]->type != CANON_STRING;
  if (g.hash_decides && t->cols[cols[0]]->validity) g.nullable = t->cols[cols[0]];
  if (ncols == 1 && t->cols[cols[0]]->type == CANON_STRING && !t->cols[cols[0]]->dict)
    g.str1 = t->cols[cols[0]];

  /* Mark the rows to drop (any NULL key) with -1, the others with 0. */
  memset(group_of_row, 0, (size_t)n * sizeof *group_of_row);
  if (drop_null_keys)
    for (int k = 0; k < ncols; k++) {
      const canon__column *c = t->cols[cols[k]];
      if (!c->validity) continue;
      for (int64_t i = 0; i < n; i++)
        if (!canon__valid(c, i)) group_of_row[i] = -1;
    }

  /* Start small: few groups is the common case; growth re-places groups,
   * not rows. */
  if ((rc = h_table_alloc(&g, 12)) != 0) goto done;
  /* The first key column: where its values live (a string's offsets). */
  const canon__column *c0 = ncols ? t->cols[cols[0]] : NULL;
  size_t w0 = c0 ? canon__type_width(c0->type) : 0;
  for (int64_t i = 0; i < n; i++) {
    /* Fetch the slot a few rows ahead: with many groups the probe is a
     * cache miss per row otherwise. */
    if (i + 16 < n) {
      uint64_t s16 = g.hashes[i + 16] >> g.shift;
      __builtin_prefetch(&g.slots[s16]);
      if (g.str1) __builtin_prefetch(&g.reps[s16]);
    }
    if (g.str1) {
      /* The slot and rep of row i+8 are in cache by now: fetch the key
       * copy it would be compared with. */
      if (i + 8 < n) {
        uint64_t s8 = g.hashes[i + 8] >> g.shift;
        if (g.slots[s8].gid1 && g.slots[s8].hash == g.hashes[i + 8])
          __builtin_prefetch(g.arena + g.reps[s8]);
      }
    } else if (!g.hash_decides && c0 && i + 8 < n) {
      /* Later stages, when the slot of a row holds its hash (the key will
       * be compared): the slot of row i+8 is in cache by now, so fetch
       * where the group's first key lives; for row i+4 that is in cache,
       * so fetch a string's bytes. */
      const h_slot *sl = &g.slots[g.hashes[i + 8] >> g.shift];
      if (sl->gid1 && sl->hash == g.hashes[i + 8])
        __builtin_prefetch(c0->values->data + (size_t)g.first[sl->gid1 - 1] * w0);
      if (c0->type == CANON_STRING && !c0->dict) {
        sl = &g.slots[g.hashes[i + 4] >> g.shift];
        if (sl->gid1 && sl->hash == g.hashes[i + 4])
          __builtin_prefetch(c0->strdata->data + canon__i64(c0)[g.first[sl->gid1 - 1]]);
      }
    }
    if (i == H_SAMPLE && n >= 4 * H_SAMPLE && g.ngroups * 2 > H_SAMPLE) {
      /* Most of the first rows were new keys: expect about one group per
       * row and size the table for that now, instead of doubling it
       * (re-placing every group) a dozen times on the way. */
      int bits = 12;
      while (bits < 62 && ((uint64_t)1 << bits) < (uint64_t)n * 2) bits++;
      if (bits > 64 - g.shift && (rc = h_grow_to(&g, bits)) != 0) goto done;
    }
    if (group_of_row[i] < 0) continue;
    int64_t gid = h_find_or_add(&g, i, &rc);
    if (rc) goto done;
    group_of_row[i] = gid;
  }

done:
  free((void *)g.hashes);
  free(g.slots);
  free(g.reps);
  free(g.arena);
  if (rc) {
    free(g.first);
    return canon__nomem(err);
  }
  if (!g.first && (g.first = canon__malloc(sizeof *g.first)) == NULL) return canon__nomem(err);
  *ngroups = g.ngroups;
  *first_rows = g.first;
  return 0;
}
