/* dict.c — dictionary codes for string columns.
 *
 * A string column with few distinct values (the key columns of most
 * group-bys: "id001".."id100") gets, next to its strings, a dictionary of
 * those values and a uint32 code per row.  Grouping then compares and
 * indexes codes instead of bytes, and hashing looks each value's hash up
 * instead of recomputing it.  The strings stay where they were, so a
 * kernel that knows nothing of codes reads the column as before: codes
 * are an accelerator, never a second meaning.
 *
 * Codes are attached where a column is made and nobody else holds it yet
 * (after a CSV read task, for a plan's inline tables) and travel with the
 * rows: gathers, views and scatters keep the dictionary and carry the
 * codes; a concatenation of parts with one dictionary keeps it, and parts
 * with different dictionaries (each read task builds its own) get a merged
 * one; the table codec ships them when the dictionary is small next to the
 * rows, and canon__dict_adopt checks them on arrival (canon__dict_adopt_own,
 * for the program's own encodings, only that each code lies inside the
 * dictionary).  Anything else derives a column without codes, which is
 * always correct.
 *
 * Building is abandoned when a column does not look low-cardinality: more
 * than DICT_MAX distinct values, more than one per two rows, or 7/8 of its
 * first DICT_SAMPLE rows distinct. */
#include "kernels.h"

enum {
  DICT_MAX = 1 << 18,          /* at most this many distinct values */
  DICT_SAMPLE = 1 << 16,       /* rows after which a near-unique column gives up */
};

bool canon__dict_weak_hash = false;

/* The set's own hash of a string: cheap (two loads and a multiply for a
 * string of up to 16 bytes, never reading past it) because it runs once
 * per row; the row hash's pre-image, dearer, is taken once per distinct
 * value when the dictionary is made. */
static inline uint64_t d_hash(const char *p, size_t n) {
  uint64_t a = 0, b = 0;
  if (n >= 8) {
    memcpy(&a, p, 8);
    memcpy(&b, p + n - 8, 8);
    if (n > 16) b ^= canon__hash_str_pre(p, n);
  } else if (n >= 4) {
    uint32_t x, y;
    memcpy(&x, p, 4);
    memcpy(&y, p + n - 4, 4);
    a = x, b = y;
  } else if (n > 0) {
    a = (uint64_t)(uint8_t)p[0] | (uint64_t)(uint8_t)p[n / 2] << 8 | (uint64_t)(uint8_t)p[n - 1] << 16;
  }
  uint64_t h = (a * UINT64_C(0x9e3779b97f4a7c15)) ^ (b * UINT64_C(0xc2b2ae3d27d4eb4f)) ^ (uint64_t)n;
  h ^= h >> 32;
  h *= UINT64_C(0xd6e8feb86659fd93);
  h ^= h >> 32;
  return canon__dict_weak_hash ? h & UINT64_C(0xf000000000000000) : h;
}

/* An open-addressing set of strings with their codes.  A slot holds the
 * string's d_hash, code + 1 (0: empty), length and first D_HEAD bytes, so
 * a probe for a string of up to D_HEAD bytes (most dictionary values)
 * touches that one slot; a longer one then compares the candidate's bytes.
 * The distinct strings are copied into an arena laid out as a string
 * column (value k at bytes[at[k] .. at[k+1])), which becomes the
 * dictionary's values without another copy. */
enum { D_HEAD = 16 };

typedef struct d_slot {
  uint64_t pre; /* the string's d_hash */
  uint32_t code1;
  uint32_t len;
  char head[D_HEAD]; /* its first min(len, D_HEAD) bytes */
} d_slot;

typedef struct d_set {
  d_slot *slots;
  uint64_t mask;
  int shift;
  int64_t n, cap;      /* values, and room in at[] / pre[] */
  canon__buffer *at;   /* int64 offsets, n + 1 used */
  canon__buffer *bytes;
  uint64_t *pre;       /* d_hash of each value */
} d_set;

static void d_set_free(d_set *s) {
  free(s->slots);
  canon__buffer_unref(s->at);
  canon__buffer_unref(s->bytes);
  free(s->pre);
}

static inline d_slot d_slot_of(uint64_t pre, int64_t code, const char *p, size_t len) {
  d_slot sl = {pre, (uint32_t)(code + 1), (uint32_t)len, {0}};
  memcpy(sl.head, p, len < D_HEAD ? len : D_HEAD);
  return sl;
}

static int d_set_slots(d_set *s, int bits) {
  d_slot *sl = canon__calloc((size_t)1 << bits, sizeof *sl);
  if (!sl) return CANON_ERR_NOMEM;
  const int64_t *at = (const int64_t *)s->at->data;
  free(s->slots);
  s->slots = sl;
  s->mask = ((uint64_t)1 << bits) - 1;
  s->shift = 64 - bits;
  for (int64_t k = 0; k < s->n; k++) {
    uint64_t i = s->pre[k] >> s->shift;
    while (s->slots[i].code1) i = (i + 1) & s->mask;
    s->slots[i] = d_slot_of(s->pre[k], k, (const char *)s->bytes->data + at[k],
                            (size_t)(at[k + 1] - at[k]));
  }
  return 0;
}

static int d_set_init(d_set *s) {
  memset(s, 0, sizeof *s);
  s->at = canon__buffer_new(8);
  s->bytes = canon__buffer_new(256);
  if (!s->at || !s->bytes) return CANON_ERR_NOMEM;
  memset(s->at->data, 0, 8);
  s->at->size = 8;
  return d_set_slots(s, 8);
}

/* n bytes at a and b equal; short keys (most dictionary values) are
 * compared as two overlapping words instead of through a call.  Reads
 * a[0..n) and b[0..n) only. */
static inline bool d_eq(const char *a, const char *b, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t a0, b0, a1, b1;
    memcpy(&a0, a, 8), memcpy(&b0, b, 8);
    memcpy(&a1, a + n - 8, 8), memcpy(&b1, b + n - 8, 8);
    return a0 == b0 && a1 == b1;
  }
  if (n >= 4 && n < 8) {
    uint32_t a0, b0, a1, b1;
    memcpy(&a0, a, 4), memcpy(&b0, b, 4);
    memcpy(&a1, a + n - 4, 4), memcpy(&b1, b + n - 4, 4);
    return a0 == b0 && a1 == b1;
  }
  return memcmp(a, b, n) == 0;
}

/* The code of string (p, len) with d_hash h, or -1 when it is not in the
 * set; *at receives the slot where it would go. */
static inline int64_t d_set_find(const d_set *s, const char *p, size_t len, uint64_t h,
                                 uint64_t *at) {
  uint64_t i = h >> s->shift;
  for (const d_slot *sl; (sl = &s->slots[i])->code1 != 0; i = (i + 1) & s->mask) {
    if (sl->pre == h && sl->len == len) {
      int64_t c = (int64_t)sl->code1 - 1;
      /* (a longer value's head first: most mismatches end there) */
      if (len <= D_HEAD ? d_eq(sl->head, p, len)
                        : d_eq(sl->head, p, D_HEAD) &&
                              d_eq((const char *)s->bytes->data + ((const int64_t *)s->at->data)[c],
                                   p, len))
        return c;
    }
  }
  *at = i;
  return -1;
}

/* Add string (p, len) with d_hash h at slot i (from d_set_find); its code,
 * -1 when the set would pass DICT_MAX (or the string 4 GiB), -2 when out
 * of memory. */
static int64_t d_set_add(d_set *s, const char *p, size_t len, uint64_t h, uint64_t i) {
  if (s->n == DICT_MAX || len > UINT32_MAX) return -1;
  if (s->n == s->cap) {
    int64_t ncap = s->cap ? s->cap * 2 : 256;
    uint64_t *np = canon__reallocarray(s->pre, (size_t)ncap, sizeof *np);
    if (!np) return -2;
    s->pre = np;
    if (canon__buffer_reserve(s->at, (size_t)(ncap + 1) * 8) != 0) return -2;
    s->cap = ncap;
  }
  size_t used = s->bytes->size;
  if (canon__buffer_reserve(s->bytes, used + len) != 0) return -2;
  memcpy(s->bytes->data + used, p, len);
  s->bytes->size = used + len;
  int64_t c = s->n++;
  int64_t *off = (int64_t *)s->at->data;
  off[c + 1] = (int64_t)(used + len);
  s->at->size = (size_t)(c + 2) * 8;
  s->pre[c] = h;
  s->slots[i] = d_slot_of(h, c, p, len);
  if ((uint64_t)s->n * 2 > s->mask + 1 && d_set_slots(s, 64 - s->shift + 1) != 0) return -2;
  return c;
}

/* The code of string (p, len) with d_hash h, adding it when new; -1 when
 * the set would pass DICT_MAX (or the string 4 GiB), -2 when out of
 * memory. */
static inline int64_t d_set_code(d_set *s, const char *p, size_t len, uint64_t h) {
  uint64_t i;
  int64_t c = d_set_find(s, p, len, h, &i);
  return c >= 0 ? c : d_set_add(s, p, len, h, i);
}

/* The set's strings as a dictionary (moves the arena out of s), with the
 * row hash's pre-image of each. */
static canon__dict *d_set_dict(d_set *s) {
  canon__dict *d = canon__calloc(1, sizeof *d);
  canon__column *v = canon__calloc(1, sizeof *v);
  if (!d || !v) {
    free(d);
    free(v);
    return NULL;
  }
  d->refs = 1;
  v->refs = 1;
  v->type = CANON_STRING;
  v->length = s->n;
  v->values = s->at;
  v->strdata = s->bytes;
  s->at = s->bytes = NULL;
  d->values = v;
  if (!(d->prehash = canon__malloc((size_t)(s->n ? s->n : 1) * sizeof *d->prehash))) {
    canon__dict_unref(d);
    return NULL;
  }
  for (int64_t k = 0; k < s->n; k++) {
    size_t len;
    const char *str = canon__str(v, k, &len);
    d->prehash[k] = canon__hash_str_pre(str, len);
  }
  return d;
}

int canon__column_dict_encode(canon__column *c) {
  if (c->type != CANON_STRING || c->dict || c->length == 0) return 0;
  int64_t n = c->length;
  canon__buffer *codes = canon__buffer_new((size_t)n * sizeof(uint32_t));
  if (!codes) return CANON_ERR_NOMEM;
  codes->size = (size_t)n * sizeof(uint32_t);
  uint32_t *code = (uint32_t *)codes->data;
  const int64_t *off = canon__i64(c);
  const char *sd = (const char *)c->strdata->data;
  d_set s;
  int rc = d_set_init(&s);
  /* Rows in blocks: hash the block, then probe, fetching the slot of a
   * row 16 ahead and (for a value longer than a slot holds) the
   * candidate's bytes 8 ahead: with many values the set is larger than
   * the cache, and each probe a miss otherwise. */
  enum { BLOCK = 1024 };
  uint64_t h[BLOCK];
  for (int64_t from = 0; from < n && !rc; from += BLOCK) {
    int64_t m = n - from < BLOCK ? n - from : BLOCK;
    for (int64_t j = 0; j < m; j++) {
      int64_t i = from + j;
      h[j] = canon__valid(c, i) ? d_hash(sd + off[i], (size_t)(off[i + 1] - off[i])) : 0;
    }
    for (int64_t j = 0; j < m; j++) {
      if (j + 16 < m) __builtin_prefetch(&s.slots[h[j + 16] >> s.shift]);
      if (j + 8 < m && off[from + j + 9] - off[from + j + 8] > D_HEAD) {
        /* (a value too long for its slot is compared in the arena) */
        const d_slot *sl = &s.slots[h[j + 8] >> s.shift];
        if (sl->code1 && sl->pre == h[j + 8])
          __builtin_prefetch(s.bytes->data + ((const int64_t *)s.at->data)[sl->code1 - 1]);
      }
      int64_t i = from + j;
      if (!canon__valid(c, i)) {
        code[i] = 0;
        continue;
      }
      int64_t k = d_set_code(&s, sd + off[i], (size_t)(off[i + 1] - off[i]), h[j]);
      if (k == -2) rc = CANON_ERR_NOMEM;
      if (k < 0 || (i < DICT_SAMPLE && s.n > DICT_SAMPLE - DICT_SAMPLE / 8)) goto skip;
      code[i] = (uint32_t)k;
    }
  }
  if (!rc && s.n * 2 <= n) {
    canon__dict *d = d_set_dict(&s);
    if (!d) {
      rc = CANON_ERR_NOMEM;
      goto skip;
    }
    c->dict = d;
    c->codes = codes;
    d_set_free(&s);
    return 0;
  }
skip:
  d_set_free(&s);
  canon__buffer_unref(codes);
  return rc;
}

canon_table *canon__table_dict_encode(canon_table *t, canon_error *err) {
  if (!t) return NULL;
  for (int i = 0; i < t->schema->n; i++) {
    canon__column *c = t->cols[i];
    if (c->type != CANON_STRING || __atomic_load_n(&c->refs, __ATOMIC_ACQUIRE) != 1) continue;
    if (canon__column_dict_encode(c) != 0) {
      canon_table_free(t);
      canon__nomem(err);
      return NULL;
    }
  }
  return t;
}

void canon__dict_codes_part(const canon__column *c, const uint32_t *map, uint32_t *dst) {
  const uint32_t *src = canon__codes(c);
  if (!map)
    memcpy(dst, src, (size_t)c->length * sizeof *dst);
  else if (!c->validity)
    for (int64_t k = 0; k < c->length; k++) dst[k] = map[src[k]];
  else /* a NULL row keeps code 0 (its dictionary may even be empty) */
    for (int64_t k = 0; k < c->length; k++) dst[k] = canon__valid(c, k) ? map[src[k]] : 0;
}

void canon__dict_maps_free(uint32_t **maps, int n) {
  for (int p = 0; p < n; p++) {
    int q = 0;
    while (q < p && maps[q] != maps[p]) q++;
    if (q == p) free(maps[p]);
  }
  memset(maps, 0, (size_t)n * sizeof *maps);
}

int canon__dict_merge_plan(const canon__dict *const *dicts, int n, canon__dict **merged,
                           uint32_t **maps) {
  *merged = NULL;
  memset(maps, 0, (size_t)n * sizeof *maps);
  const canon__dict *d0 = dicts[0];
  if (!d0) return 0;
  bool same = true;
  for (int p = 1; p < n; p++) {
    if (!dicts[p]) return 0;
    same = same && dicts[p] == d0;
  }
  if (same) {
    *merged = canon__dict_ref((canon__dict *)d0);
    return 0;
  }
  /* Merge: the values of each distinct dictionary in part order, each
   * string once; part p's codes go through maps[p]. */
  d_set s;
  int rc = d_set_init(&s);
  for (int p = 0; p < n && !rc; p++) {
    const canon__dict *d = dicts[p];
    int q = 0;
    while (q < p && dicts[q] != d) q++;
    if (q < p) {
      maps[p] = maps[q];
      continue;
    }
    int64_t nv = d->values->length;
    if (!(maps[p] = canon__malloc((size_t)(nv ? nv : 1) * sizeof(uint32_t)))) {
      rc = CANON_ERR_NOMEM;
      break;
    }
    for (int64_t k = 0; k < nv; k++) {
      size_t len;
      const char *str = canon__str(d->values, k, &len);
      int64_t c = d_set_code(&s, str, len, d_hash(str, len));
      if (c < 0) {
        rc = c == -2 ? CANON_ERR_NOMEM : -1;
        break;
      }
      maps[p][k] = (uint32_t)c;
    }
  }
  if (!rc && !(*merged = d_set_dict(&s))) rc = CANON_ERR_NOMEM;
  d_set_free(&s);
  if (rc) canon__dict_maps_free(maps, n);
  return rc == -1 ? 0 : rc; /* too many values: no codes, not an error */
}

int canon__dict_concat_plan(canon_table *const *parts, int n, int i, canon__dict **merged,
                            uint32_t **maps) {
  const canon__dict **dicts = canon__calloc((size_t)n, sizeof *dicts);
  if (!dicts) {
    *merged = NULL;
    memset(maps, 0, (size_t)n * sizeof *maps);
    return CANON_ERR_NOMEM;
  }
  for (int p = 0; p < n; p++) dicts[p] = parts[p]->cols[i]->dict;
  int rc = canon__dict_merge_plan(dicts, n, merged, maps);
  free(dicts);
  return rc;
}

canon__buffer *canon__dict_codes_concat(canon_table *const *parts, int n, int i,
                                        uint32_t *const *maps, int64_t total) {
  canon__buffer *codes = canon__buffer_new((size_t)total * sizeof(uint32_t));
  if (!codes) return NULL;
  codes->size = (size_t)total * sizeof(uint32_t);
  uint32_t *dst = (uint32_t *)codes->data;
  for (int p = 0; p < n; p++) {
    canon__dict_codes_part(parts[p]->cols[i], maps[p], dst);
    dst += parts[p]->cols[i]->length;
  }
  return codes;
}

/* Every code in range of a dictionary of nv values and 0 at NULL rows:
 * the one check a code needs before anything indexes with it.  NULL when
 * they are, else what is wrong. */
static const char *d_codes_in_range(const canon__column *c, const uint32_t *code, int64_t nv) {
  int64_t n = c->length;
  if (!c->validity || c->null_count == 0) {
    /* One maximum over the codes (vectorized), then one comparison. */
    uint32_t top = 0;
    for (int64_t i = 0; i < n; i++) top = code[i] > top ? code[i] : top;
    return n > 0 && (int64_t)top >= nv ? "dictionary code out of range" : NULL;
  }
  for (int64_t i = 0; i < n; i++) {
    if (!canon__valid(c, i)) {
      if (code[i] != 0) return "a NULL row's dictionary code is not 0";
    } else if ((int64_t)code[i] >= nv) {
      return "dictionary code out of range";
    }
  }
  return NULL;
}

/* canon__dict_adopt, and (rows false) canon__dict_adopt_own: the latter
 * checks only what keeps reads in bounds. */
static int d_adopt(canon__column *c, canon__column *values, canon__buffer *codes, bool rows,
                   const char **why) {
  int rc = 0;
  canon__dict *d = NULL;
  d_set s;
  bool have_set = false;
  *why = NULL;
  int64_t nv = values->length;
  if (c->type != CANON_STRING || values->type != CANON_STRING || values->null_count ||
      codes->size != (size_t)c->length * sizeof(uint32_t)) {
    *why = "dictionary does not fit its column";
    goto fail;
  }
  uint64_t *pre = canon__malloc((size_t)(nv ? nv : 1) * sizeof *pre);
  d = canon__calloc(1, sizeof *d);
  if (!pre || !d) {
    free(pre);
    free(d);
    d = NULL;
    rc = CANON_ERR_NOMEM;
    goto fail;
  }
  d->refs = 1;
  d->prehash = pre;
  if (!rows) {
    /* An encoding of this program's own: the values' hashes, and codes
     * that stay inside the dictionary; whether they name their rows'
     * strings is the encoder's promise. */
    for (int64_t k = 0; k < nv; k++) {
      size_t len;
      const char *str = canon__str(values, k, &len);
      pre[k] = canon__hash_str_pre(str, len);
    }
    if ((*why = d_codes_in_range(c, (const uint32_t *)codes->data, nv)) != NULL) goto fail;
    goto adopt;
  }
  /* (A set d_set_init could not finish still holds what it got.) */
  rc = d_set_init(&s);
  have_set = true;
  if (rc) goto fail;
  for (int64_t k = 0; k < nv; k++) {
    size_t len;
    const char *str = canon__str(values, k, &len);
    pre[k] = canon__hash_str_pre(str, len);
    int64_t got = d_set_code(&s, str, len, d_hash(str, len));
    if (got == -2) rc = CANON_ERR_NOMEM;
    if (got != k) {
      if (!rc) *why = "dictionary values repeat";
      goto fail;
    }
  }
  /* Each row's string against its code's value, fetching the value's
   * offsets 16 rows ahead and its bytes 8 ahead (a dictionary of many
   * values is larger than the cache); a code out of range is fetched as
   * code 0 and refused when its row comes. */
  const uint32_t *code = (const uint32_t *)codes->data;
  int64_t n = c->length;
  const int64_t *voff = canon__i64(values);
  const char *vbytes = (const char *)values->strdata->data;
#define D_IN(k) ((int64_t)(k) < nv ? (k) : 0)
  for (int64_t i = 0; i < n; i++) {
    if (i + 16 < n) __builtin_prefetch(&voff[D_IN(code[i + 16])]);
    if (i + 8 < n) __builtin_prefetch(vbytes + voff[D_IN(code[i + 8])]);
    if (!canon__valid(c, i)) {
      if (code[i] != 0) {
        *why = "a NULL row's dictionary code is not 0";
        goto fail;
      }
      continue;
    }
    if ((int64_t)code[i] >= nv) {
      *why = "dictionary code out of range";
      goto fail;
    }
    size_t l1;
    const char *s1 = canon__str(c, i, &l1);
    int64_t a = voff[code[i]], l2 = voff[code[i] + 1] - a;
    if ((int64_t)l1 != l2 || !d_eq(s1, vbytes + a, l1)) {
      *why = "dictionary code names another string than its row";
      goto fail;
    }
  }
#undef D_IN
adopt:
  if (have_set) d_set_free(&s);
  d->values = values;
  c->dict = d;
  c->codes = codes;
  return 0;
fail:
  if (have_set) d_set_free(&s);
  canon__dict_unref(d);
  canon__column_unref(values);
  canon__buffer_unref(codes);
  return rc ? rc : CANON_ERR_PARSE;
}

int canon__dict_adopt(canon__column *c, canon__column *values, canon__buffer *codes,
                      const char **why) {
  return d_adopt(c, values, codes, true, why);
}

int canon__dict_adopt_own(canon__column *c, canon__column *values, canon__buffer *codes,
                          const char **why) {
  return d_adopt(c, values, codes, false, why);
}
