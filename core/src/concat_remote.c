/* concat_remote.c — a concatenation planned in one process and written
 * by the processes that hold its parts.
 *
 * An engine whose tasks run in other processes has a table's parts
 * there.  Copying each part into shared memory and then all of them again
 * into one table writes every row twice.  Instead:
 *   1. each part's process writes a sketch of it (canon__table_sketch_*):
 *      its rows and, per column, its NULLs, string bytes and dictionary;
 *   2. the planner reads the sketches (canon__rcat_plan), lays out the
 *      concatenation's encoding, writes all of it but the rows
 *      (canon__rcat_put_head: header, frames, merged dictionaries) and an
 *      order for each part (canon__rcat_order_*): where its rows go and how
 *      its dictionary codes map to the merged ones;
 *   3. each part's process writes its rows straight into the encoding
 *      (canon__rcat_write_part) after checking the order against its part
 *      and the encoding's length.
 * The result is exactly the bytes canon__table_encode_into gives for the
 * concatenation (as canon__table_concat_encoded writes them), and the
 * planner decodes it with the usual checks before anyone reads it: a
 * sketch, an order or a part that lies makes a bad encoding, never a
 * write outside it.
 *
 * Sketch (little-endian, 8-byte aligned sections):
 *   u32 magic "CNSK", u32 columns, u64 rows;
 *   per column: u64 NULLs (0 without a bitmap), u64 string bytes,
 *               u64 bytes of its dictionary below (0: none);
 *   each dictionary: u64 values, u64 bytes, (values + 1) int64 offsets
 *               from 0, the bytes (padded to 8).
 * Order:
 *   u32 magic "CNCO", u32 columns, u64 the part, u64 rows of the part,
 *   u64 rows of the concatenation, u64 bytes of the encoding;
 *   per column: u64 bitmap, values, string bytes and codes offsets
 *               (UINT64_MAX: the section is not there), u64 first row,
 *               u64 first string byte, u64 map entries (0: codes as they
 *               are), u64 offset of the map in the order;
 *   the maps (u32 each). */
#include "codec_concat.h"

#define SKETCH_MAGIC 0x4B534E43u /* "CNSK" */
#define ORDER_MAGIC 0x4F434E43u  /* "CNCO" */
#define SKETCH_HEAD 16u
#define SKETCH_COL 24u
#define ORDER_HEAD 40u
#define ORDER_COL 64u
#define NONE UINT64_MAX
/* Bounds that keep every size below in range (2^40 rows, 2^50 bytes). */
#define ROWS_MAX ((int64_t)1 << 40)
#define BYTES_MAX ((int64_t)1 << 50)

/* `count` items of `size` bytes from `off` lie within [0, len). */
static bool fits(uint64_t off, uint64_t count, uint64_t size, uint64_t len) {
  return off <= len && (size == 0 || count <= (len - off) / size);
}

/* ---- a part's sketch ------------------------------------------------------ */

static int64_t str_bytes(const canon__column *c) {
  return c->type == CANON_STRING ? canon__i64(c)[c->length] - canon__i64(c)[0] : 0;
}

static const canon__dict *col_dict(const canon__column *c) {
  return c->type == CANON_STRING && c->codes ? c->dict : NULL;
}

static size_t dict_size(const canon__dict *d) {
  const canon__column *v = d->values;
  return 16 + ((size_t)v->length + 1) * 8 + pad8((size_t)str_bytes(v));
}

size_t canon__table_sketch_size(const canon_table *t) {
  size_t n = SKETCH_HEAD + (size_t)t->schema->n * SKETCH_COL;
  for (int i = 0; i < t->schema->n; i++)
    if (col_dict(t->cols[i])) n += dict_size(col_dict(t->cols[i]));
  return n;
}

int canon__table_sketch_into(const canon_table *t, uint8_t *buf, size_t cap, canon_error *err) {
  size_t need = canon__table_sketch_size(t);
  if (cap < need)
    return canon__seterr(err, CANON_ERR_INVALID, "a sketch needs %zu bytes, not %zu", need, cap);
  int nc = t->schema->n;
  put_u32(buf, SKETCH_MAGIC);
  put_u32(buf + 4, (uint32_t)nc);
  put_u64(buf + 8, (uint64_t)t->nrows);
  size_t at = SKETCH_HEAD + (size_t)nc * SKETCH_COL;
  for (int i = 0; i < nc; i++) {
    const canon__column *c = t->cols[i];
    const canon__dict *d = col_dict(c);
    uint8_t *e = buf + SKETCH_HEAD + (size_t)i * SKETCH_COL;
    put_u64(e, (uint64_t)(c->validity ? c->null_count : 0));
    put_u64(e + 8, (uint64_t)str_bytes(c));
    put_u64(e + 16, d ? (uint64_t)dict_size(d) : 0);
    if (!d) continue;
    const canon__column *v = d->values;
    const int64_t *off = canon__i64(v);
    int64_t bytes = str_bytes(v);
    put_u64(buf + at, (uint64_t)v->length);
    put_u64(buf + at + 8, (uint64_t)bytes);
    for (int64_t k = 0; k <= v->length; k++) put_u64(buf + at + 16 + (size_t)k * 8, (uint64_t)(off[k] - off[0]));
    size_t s = at + 16 + ((size_t)v->length + 1) * 8;
    if (bytes) memcpy(buf + s, v->strdata->data + off[0], (size_t)bytes);
    memset(buf + s + bytes, 0, pad8((size_t)bytes) - (size_t)bytes);
    at += dict_size(d);
  }
  return 0;
}

/* ---- the planner ------------------------------------------------------------ */

struct canon__rcat {
  canon_schema *schema;
  int n;
  int64_t total;
  size_t len;
  uint32_t ncoded;
  canon__cat_col *cols;
  int64_t *rows;   /* per part */
  int64_t *nmap;   /* [i * n + p]: entries of part p's map of column i */
};

void canon__rcat_free(canon__rcat *c) {
  if (!c) return;
  canon__cat_cols_free(c->cols, c->schema ? c->schema->n : 0);
  canon_schema_free(c->schema);
  free(c->rows);
  free(c->nmap);
  free(c);
}

static int bad(canon_error *err, int p, const char *why) {
  return canon__seterr(err, CANON_ERR_PARSE, "sketch of part %d: %s", p, why);
}

/* A copy of the dictionary at d (`size` bytes checked to hold it). */
static int read_dict(const uint8_t *d, uint64_t size, int p, canon__dict **out, canon_error *err) {
  *out = NULL;
  if (size < 16) return bad(err, p, "dictionary too short");
  uint64_t nv = get_u64(d), bytes = get_u64(d + 8);
  if (nv > (uint64_t)ROWS_MAX || bytes > (uint64_t)BYTES_MAX ||
      size != 16 + (nv + 1) * 8 + pad8((size_t)bytes))
    return bad(err, p, "dictionary sizes do not add up");
  int64_t prev = 0;
  for (uint64_t k = 0; k <= nv; k++) {
    int64_t o = (int64_t)get_u64(d + 16 + k * 8);
    if ((k == 0 && o != 0) || o < prev || (uint64_t)o > bytes || (k == nv && (uint64_t)o != bytes))
      return bad(err, p, "dictionary offsets out of order");
    prev = o;
  }
  canon__dict *dict = canon__calloc(1, sizeof *dict);
  canon__column *v = canon__calloc(1, sizeof *v);
  if (dict) dict->refs = 1;
  if (v) v->refs = 1;
  if (dict) dict->values = v;
  if (!dict || !v || !(v->values = canon__buffer_new((size_t)(nv + 1) * 8)) ||
      !(v->strdata = canon__buffer_new(bytes ? (size_t)bytes : 1))) {
    if (dict) canon__dict_unref(dict);
    else canon__column_unref(v);
    canon__nomem(err);
    return CANON_ERR_NOMEM;
  }
  v->type = CANON_STRING;
  v->length = (int64_t)nv;
  v->values->size = (size_t)(nv + 1) * 8;
  memcpy(v->values->data, d + 16, (size_t)(nv + 1) * 8);
  v->strdata->size = (size_t)bytes;
  if (bytes) memcpy(v->strdata->data, d + 16 + (nv + 1) * 8, (size_t)bytes);
  *out = dict;
  return 0;
}

/* Read sketch p into in[i * n + p] (its dictionaries into dicts, the
 * caller's to free); *rows its rows. */
static int read_sketch(const canon_schema *s, const uint8_t *sk, size_t len, int p, int n,
                       canon__cat_in *in, canon__dict **dicts, int64_t *rows, canon_error *err) {
  int nc = s->n;
  if (len < SKETCH_HEAD || get_u32(sk) != SKETCH_MAGIC) return bad(err, p, "not a sketch");
  if (get_u32(sk + 4) != (uint32_t)nc) return bad(err, p, "wrong number of columns");
  uint64_t r = get_u64(sk + 8);
  if (r > (uint64_t)ROWS_MAX) return bad(err, p, "too many rows");
  *rows = (int64_t)r;
  if ((len - SKETCH_HEAD) / SKETCH_COL < (size_t)nc) return bad(err, p, "truncated");
  uint64_t at = SKETCH_HEAD + (uint64_t)nc * SKETCH_COL;
  for (int i = 0; i < nc; i++) {
    const uint8_t *e = sk + SKETCH_HEAD + (size_t)i * SKETCH_COL;
    uint64_t nulls = get_u64(e), bytes = get_u64(e + 8), dsize = get_u64(e + 16);
    bool str = s->types[i] == CANON_STRING;
    if (nulls > r) return bad(err, p, "more NULLs than rows");
    if (bytes > (uint64_t)BYTES_MAX || (!str && (bytes || dsize)))
      return bad(err, p, "string bytes or a dictionary for a column that holds none");
    canon__cat_in *ci = &in[(size_t)i * (size_t)n + (size_t)p];
    ci->rows = (int64_t)r;
    ci->nulls = (int64_t)nulls;
    ci->bytes = (int64_t)bytes;
    if (!dsize) continue;
    if (at % 8 || !fits(at, dsize, 1, len)) return bad(err, p, "dictionary outside the sketch");
    int rc = read_dict(sk + at, dsize, p, &dicts[(size_t)i * (size_t)n + (size_t)p], err);
    if (rc) return rc;
    ci->dict = dicts[(size_t)i * (size_t)n + (size_t)p];
    at += dsize;
  }
  return 0;
}

canon__rcat *canon__rcat_plan(const canon_schema *s, const uint8_t *const *sketch, const size_t *lens,
                              int n, canon_error *err) {
  int nc = s->n;
  if (n < 1) {
    canon__seterr(err, CANON_ERR_INVALID, "a concatenation of no parts");
    return NULL;
  }
  canon__rcat *c = canon__calloc(1, sizeof *c);
  size_t cells = (size_t)(nc ? nc : 1) * (size_t)n;
  canon__cat_in *in = canon__calloc(cells, sizeof *in);
  canon__dict **dicts = canon__calloc(cells, sizeof *dicts);
  if (c) {
    c->n = n;
    c->schema = canon__schema_copy(s);
    c->cols = canon__calloc((size_t)(nc ? nc : 1), sizeof *c->cols);
    c->rows = canon__calloc((size_t)n, sizeof *c->rows);
    c->nmap = canon__calloc(cells, sizeof *c->nmap);
  }
  int rc = 0;
  if (!c || !in || !dicts || !c->schema || !c->cols || !c->rows || !c->nmap) rc = canon__nomem(err);
  for (int p = 0; p < n && !rc; p++) {
    rc = read_sketch(s, sketch[p], lens[p], p, n, in, dicts, &c->rows[p], err);
    if (!rc && (c->total += c->rows[p]) > ROWS_MAX) rc = bad(err, p, "too many rows in all");
  }
  /* Every string byte of every column and part, each bounded, summed
   * with a bound at each step: the layout's sums below stay in range. */
  int64_t bytes = 0;
  for (size_t k = 0; k < cells && !rc; k++)
    if ((bytes += in[k].bytes) > BYTES_MAX) rc = bad(err, (int)(k % (size_t)n), "too many string bytes in all");
  if (!rc && (uint64_t)nc * ((uint64_t)c->total + 8) > ((uint64_t)1 << 56))
    rc = bad(err, n - 1, "too many rows for so many columns");
  if (!rc && (rc = canon__cat_plan(s, n, c->total, in, c->cols, &c->len, &c->ncoded)) != 0)
    canon__nomem(err);
  for (size_t k = 0; !rc && k < cells; k++)
    if (dicts[k]) c->nmap[k] = dicts[k]->values->length;
  /* With one part the plan shares its dictionary: the copy read here. */
  for (size_t k = 0; dicts && k < cells; k++) canon__dict_unref(dicts[k]);
  free(dicts);
  free(in);
  if (rc) {
    canon__rcat_free(c);
    return NULL;
  }
  return c;
}

size_t canon__rcat_len(const canon__rcat *c) { return c->len; }

int canon__rcat_put_head(const canon__rcat *c, uint8_t *buf, size_t cap, canon_error *err) {
  if (cap < c->len)
    return canon__seterr(err, CANON_ERR_INVALID, "the concatenation needs %zu bytes, not %zu", c->len, cap);
  if (canon__cat_put_head(buf, c->schema, c->total, c->len, c->ncoded, c->cols) != 0)
    return canon__nomem(err);
  return 0;
}

/* Part p's map of column i in the order (NULL: codes go as they are). */
static const uint32_t *order_map(const canon__rcat *c, int i, int p) {
  const canon__cat_col *cc = &c->cols[i];
  return cc->ships && cc->maps ? cc->maps[p] : NULL;
}

size_t canon__rcat_order_size(const canon__rcat *c, int p) {
  if (p < 0 || p >= c->n) return 0;
  size_t n = ORDER_HEAD + (size_t)c->schema->n * ORDER_COL;
  for (int i = 0; i < c->schema->n; i++)
    if (order_map(c, i, p)) n += pad8((size_t)c->nmap[(size_t)i * (size_t)c->n + (size_t)p] * 4);
  return n;
}

int canon__rcat_order_into(const canon__rcat *c, int p, uint8_t *buf, size_t cap, canon_error *err) {
  if (p < 0 || p >= c->n)
    return canon__seterr(err, CANON_ERR_INVALID, "no part %d in a concatenation of %d", p, c->n);
  size_t need = canon__rcat_order_size(c, p);
  if (cap < need)
    return canon__seterr(err, CANON_ERR_INVALID, "part %d's order needs %zu bytes, not %zu", p, need, cap);
  int nc = c->schema->n;
  put_u32(buf, ORDER_MAGIC);
  put_u32(buf + 4, (uint32_t)nc);
  put_u64(buf + 8, (uint64_t)p);
  put_u64(buf + 16, (uint64_t)c->rows[p]);
  put_u64(buf + 24, (uint64_t)c->total);
  put_u64(buf + 32, (uint64_t)c->len);
  size_t at = ORDER_HEAD + (size_t)nc * ORDER_COL;
  for (int i = 0; i < nc; i++) {
    const canon__cat_col *cc = &c->cols[i];
    const uint32_t *map = order_map(c, i, p);
    uint64_t nmap = map ? (uint64_t)c->nmap[(size_t)i * (size_t)c->n + (size_t)p] : 0;
    uint8_t *e = buf + ORDER_HEAD + (size_t)i * ORDER_COL;
    put_u64(e, cc->sz.validity ? cc->at.validity : NONE);
    put_u64(e + 8, cc->at.values);
    put_u64(e + 16, c->schema->types[i] == CANON_STRING ? cc->at.strdata : NONE);
    put_u64(e + 24, cc->ships ? cc->at.codes : NONE);
    put_u64(e + 32, (uint64_t)cc->row_at[p]);
    put_u64(e + 40, (uint64_t)cc->byte_at[p]);
    put_u64(e + 48, nmap);
    put_u64(e + 56, map ? at : 0);
    if (!map) continue;
    memcpy(buf + at, map, (size_t)nmap * 4);
    memset(buf + at + nmap * 4, 0, pad8((size_t)nmap * 4) - (size_t)nmap * 4);
    at += pad8((size_t)nmap * 4);
  }
  return 0;
}

/* ---- a part's rows into the encoding ----------------------------------------- */

/* Bits [0, len) of src (NULL: all set) at bit `at` of dst, whose bits are
 * clear.  Other parts' processes write the neighbouring bits at the same
 * time: the two bytes shared with them are ORed atomically, the others
 * are this part's alone. */
static void bits_put_shared(uint8_t *dst, int64_t at, const uint8_t *src, int64_t len) {
  int64_t end = at + len, a = (at + 7) & ~(int64_t)7, b = end & ~(int64_t)7;
  if (a > b) a = b = end; /* inside one byte: every bit is an edge bit */
  for (int64_t r = at; r < end; r++) {
    if (r == a) r = b; /* the whole bytes in between go below */
    if (r >= end) break;
    int64_t q = r - at;
    if (!src || (src[q >> 3] >> (q & 7)) & 1)
      __atomic_fetch_or(&dst[r >> 3], (uint8_t)(1u << (r & 7)), __ATOMIC_RELAXED);
  }
  for (int64_t j = a >> 3; j < b >> 3; j++) {
    int64_t q = j * 8 - at;
    unsigned v = 0xffu;
    if (src) {
      v = src[q >> 3] >> (q & 7);
      if (q & 7) v |= (unsigned)src[(q >> 3) + 1] << (8 - (q & 7));
    }
    dst[j] = (uint8_t)v;
  }
}

typedef struct order_col {
  uint64_t validity, values, strdata, codes, row_at, byte_at, nmap, map_at;
} order_col;

static int bad_order(canon_error *err, int i, const char *why) {
  return canon__seterr(err, CANON_ERR_INVALID, "concatenation order, column %d: %s", i, why);
}

/* Check column i's order against the part's column c and the encoding's
 * len bytes (and the order's olen). */
static int check_col(const order_col *o, const canon__column *c, int i, uint64_t total,
                     uint64_t len, size_t olen, canon_error *err) {
  uint64_t rows = (uint64_t)c->length;
  if (o->row_at > total || rows > total - o->row_at) return bad_order(err, i, "rows outside the table");
  uint64_t end = o->row_at + rows;
  bool str = c->type == CANON_STRING;
  uint64_t w = canon__type_width(c->type);
  if (o->values == NONE || o->values % 8 || !fits(o->values, end + str, w, len))
    return bad_order(err, i, "values outside the encoding");
  if (str && (o->strdata == NONE || !fits(o->strdata, o->byte_at, 1, len) ||
              !fits(o->strdata + o->byte_at, (uint64_t)str_bytes(c), 1, len)))
    return bad_order(err, i, "string bytes outside the encoding");
  if (c->validity && c->null_count && o->validity == NONE)
    return bad_order(err, i, "the part has NULLs and the table none");
  if (o->validity != NONE && !fits(o->validity, (end + 7) / 8, 1, len))
    return bad_order(err, i, "bitmap outside the encoding");
  if (o->codes == NONE) return 0;
  if (!col_dict(c)) return bad_order(err, i, "codes for a part without any");
  if (o->codes % 8 || !fits(o->codes, CODES_BYTES / 4 + end, 4, len))
    return bad_order(err, i, "codes outside the encoding");
  if (o->nmap && (o->nmap != (uint64_t)c->dict->values->length || o->map_at % 4 ||
                  !fits(o->map_at, o->nmap, 4, olen)))
    return bad_order(err, i, "a map that does not fit the part's dictionary");
  return 0;
}

int canon__rcat_write_part(const canon_table *t, int part, const uint8_t *order, size_t olen,
                           uint8_t *dst, size_t dlen, canon_error *err) {
  int nc = t->schema->n;
  if (olen < ORDER_HEAD || get_u32(order) != ORDER_MAGIC || get_u32(order + 4) != (uint32_t)nc ||
      (olen - ORDER_HEAD) / ORDER_COL < (size_t)nc)
    return canon__seterr(err, CANON_ERR_INVALID, "not a concatenation order for this part");
  uint64_t total = get_u64(order + 24), len = get_u64(order + 32);
  /* Bounded, so that no sum over rows below wraps around. */
  if (total > (uint64_t)ROWS_MAX || len > ((uint64_t)1 << 62))
    return canon__seterr(err, CANON_ERR_INVALID, "a concatenation order for too many rows or bytes");
  if ((uintptr_t)dst % 8 || (uintptr_t)order % 8)
    return canon__seterr(err, CANON_ERR_INVALID, "a concatenation order or encoding not 8-byte aligned");
  if (get_u64(order + 8) != (uint64_t)part || get_u64(order + 16) != (uint64_t)t->nrows || len > dlen)
    return canon__seterr(err, CANON_ERR_INVALID,
                         "the order of part %llu (%llu rows into %llu bytes), given part %d (%lld rows "
                         "and %zu bytes)",
                         (unsigned long long)get_u64(order + 8), (unsigned long long)get_u64(order + 16),
                         (unsigned long long)len, part, (long long)t->nrows, dlen);
  order_col *oc = canon__calloc((size_t)(nc ? nc : 1), sizeof *oc);
  if (!oc) return canon__nomem(err);
  int rc = 0;
  for (int i = 0; i < nc && !rc; i++) {
    const uint8_t *e = order + ORDER_HEAD + (size_t)i * ORDER_COL;
    oc[i] = (order_col){get_u64(e),      get_u64(e + 8),  get_u64(e + 16), get_u64(e + 24),
                        get_u64(e + 32), get_u64(e + 40), get_u64(e + 48), get_u64(e + 56)};
    rc = check_col(&oc[i], t->cols[i], i, total, len, olen, err);
  }
  for (int i = 0; i < nc && !rc; i++) {
    const canon__column *c = t->cols[i];
    const order_col *o = &oc[i];
    if (c->type == CANON_BOOL) {
      /* 0/1 bytes, whatever a kernel left in a NULL slot (as encoded). */
      const uint8_t *b = canon__u8(c);
      uint8_t *d = dst + o->values + o->row_at;
      for (int64_t k = 0; k < c->length; k++) d[k] = b[k] ? 1 : 0;
    } else {
      canon__concat_copy_part(c, dst + o->values, c->type == CANON_STRING ? dst + o->strdata : NULL,
                              (int64_t)o->row_at, (int64_t)o->byte_at);
    }
    if (o->validity != NONE)
      bits_put_shared(dst + o->validity, (int64_t)o->row_at, c->validity ? c->validity->data : NULL,
                      c->length);
    if (o->codes != NONE)
      canon__dict_codes_part(c, o->nmap ? (const uint32_t *)(order + o->map_at) : NULL,
                             (uint32_t *)(dst + o->codes + CODES_BYTES) + o->row_at);
  }
  free(oc);
  return rc;
}
