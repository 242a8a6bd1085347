/* codec.c — a table as one position-independent byte string, so engines
 * can move tables between processes (shared memory, pipes, MPI messages).
 *
 * Layout (all integers little-endian, every section 8-byte aligned):
 *   header      u32 magic "CNTB", u32 version, i64 nrows, u32 ncols,
 *               u32 reserved (0), u64 total length of the encoding
 *   columns     per column: u32 type, u32 name length, i64 null_count,
 *               u64 validity bytes, u64 values bytes, u64 string bytes
 *   names       the column names back to back (no NULs), padded to 8
 *   buffers     per column: validity (0 bytes when the column has no NULL,
 *               else ceil(nrows / 8)), values (nrows * width; strings:
 *               nrows + 1 int64 offsets starting at 0), string bytes;
 *               each padded to 8 with zeros
 *   codes       per string column with dictionary codes (their number is
 *               the header's u32 after ncols, the columns in order):
 *               u32 column index, u32 0, u64 values, u64 value bytes;
 *               the codes (nrows u32), the values' offsets (values + 1
 *               int64 from 0) and bytes, each padded to 8
 *
 * A column reference (canon__table_encode_ref_into) stands for rows of a
 * column of another table that both ends hold (a column whose rows take
 * no more bytes than a reference goes as rows): its descriptor's type has
 * the high bit (CODEC_REF) set, no NULL count, no validity or string
 * bytes, and 24 bytes of values — u64 the table's id, u64 its column,
 * u64 the first row — and it never ships codes.  Only a decoding given a
 * lookup (canon__table_decode_ref) accepts one: the id must name a table,
 * the column exist with the column's type and hold the rows from the
 * first on, and the decoded column views it (its NULLs and dictionary
 * included).  Resolving one costs work in the rows it names — a count of
 * their NULLs, and a copy of their bitmap when the first row is not a
 * multiple of 8 — bounded by the rows of the table it names, not by the
 * encoding's length: many references in a short encoding can ask for much
 * work, though never a read outside what the process holds.  References
 * come only from the engine's own processes, which hold the tables.
 *
 * Decoding trusts nothing: every size is checked against the input length
 * (a reference's rows against its table, above) before anything is
 * allocated, offsets must be monotone and end exactly at
 * the string bytes, bools must be 0 or 1, NULL counts must match the
 * bitmap, names must be unique, a dictionary's values distinct and every
 * code name its own row's string.  Malformed input is CANON_ERR_PARSE.
 *
 * canon__table_decode copies the buffers out; canon__table_decode_shared
 * (after the same checks) makes the columns views into the encoding
 * itself, which must then stay readable until its owner's release runs:
 * a table mapped from shared memory costs no copy.
 *
 * canon__table_decode_own is canon__table_decode_shared for an encoding
 * this program's own encoder wrote (another process of one session): it
 * checks everything above except the two promises only a foreign encoder
 * could break — that a dictionary's values are distinct and that each
 * code names its own row's string.  Every code is still checked to lie
 * inside its dictionary (and to be 0 at a NULL row), so no encoding,
 * however corrupt, makes a reader index outside what it holds. */
#include "codec_layout.h"

#include <stdio.h>

#define MAX_NAME_BYTES 65536u

/* ---- sizes ---------------------------------------------------------------- */

/* Bytes of each buffer of column c as encoded. */
static void column_sizes(const canon__column *c, int64_t nrows, size_t *validity, size_t *values,
                         size_t *strdata) {
  *validity = c->null_count > 0 && c->validity ? (size_t)(nrows + 7) / 8 : 0;
  if (c->type == CANON_STRING) {
    *values = ((size_t)nrows + 1) * 8;
    const int64_t *off = canon__i64(c);
    *strdata = nrows > 0 ? (size_t)(off[nrows] - off[0]) : 0;
  } else {
    *values = (size_t)nrows * canon__type_width(c->type);
    *strdata = 0;
  }
}

/* Whether column c's codes travel with it (codec_ships_codes). */
static bool ships_codes(const canon__column *c, int64_t nrows) {
  return c->dict && codec_ships_codes(c->dict->values->length, nrows);
}

/* Bytes of the codes section of column c (0: it ships none). */
static size_t codes_size(const canon__column *c, int64_t nrows) {
  return ships_codes(c, nrows) ? codec_codes_size(c->dict->values, nrows) : 0;
}

/* Bytes of column i of t's sections when it goes as rows. */
static size_t column_bytes(const canon_table *t, int i) {
  size_t v, w, s;
  column_sizes(t->cols[i], t->nrows, &v, &w, &s);
  return pad8(v) + pad8(w) + pad8(s) + codes_size(t->cols[i], t->nrows);
}

/* Column i of t as a reference to base (col -1: as rows): when it is
 * rows of one of base's columns and its rows take more bytes than a
 * reference, so an encoding is never longer than the plain one.  Decided
 * from t and base alone, the same way for the size and the encoding. */
static canon__colref ref_of(const canon_table *t, int i, const canon_table *base) {
  canon__colref r = canon__column_ref_in(t, i, base);
  if (r.col >= 0 && column_bytes(t, i) <= REF_BYTES) r.col = -1;
  return r;
}

/* Bytes column i of t takes in an encoding, going as r says. */
static size_t column_encoded(const canon_table *t, int i, canon__colref r) {
  return r.col >= 0 ? REF_BYTES : column_bytes(t, i);
}

/* Bytes of t's encoding with its column references to base (NULL: none). */
static size_t encoded_size(const canon_table *t, const canon_table *base) {
  size_t n = codec_head_size(t->schema);
  for (int i = 0; i < t->schema->n; i++) n += column_encoded(t, i, ref_of(t, i, base));
  return n;
}

size_t canon__table_encoded_size(const canon_table *t) { return encoded_size(t, NULL); }

/* ---- encoding ------------------------------------------------------------- */

/* Copy n bytes to buf + *at and zero the padding after them. */
static void put_bytes(uint8_t *buf, size_t *at, const void *src, size_t n) {
  if (n) memcpy(buf + *at, src, n);
  size_t end = pad8(*at + n);
  memset(buf + *at + n, 0, end - *at - n);
  *at = end;
}

/* The buffers of one column at buf + *at. */
static void encode_column(const canon__column *c, int64_t nrows, uint8_t *buf, size_t *at) {
  size_t v, w, s;
  column_sizes(c, nrows, &v, &w, &s);
  if (v) {
    size_t start = *at;
    put_bytes(buf, at, c->validity->data, v);
    /* Bits past the last row are not part of the table: zero them so one
     * table always encodes to the same bytes. */
    if (nrows & 7) buf[start + v - 1] &= (uint8_t)((1u << (nrows & 7)) - 1);
  }
  if (c->type == CANON_STRING) {
    /* Offsets rebased to 0 with only the bytes they cover. */
    const int64_t *off = canon__i64(c);
    int64_t base = off[0];
    for (int64_t i = 0; i <= nrows; i++) put_u64(buf + *at + (size_t)i * 8, (uint64_t)(off[i] - base));
    *at += w;
    put_bytes(buf, at, c->strdata->data + base, s);
  } else if (c->type == CANON_BOOL) {
    /* Bools as 0/1 bytes, whatever a kernel left in a NULL slot. */
    const uint8_t *b = canon__u8(c);
    for (int64_t i = 0; i < nrows; i++) buf[*at + (size_t)i] = b[i] ? 1 : 0;
    size_t end = pad8(*at + w);
    memset(buf + *at + w, 0, end - *at - w);
    *at = end;
  } else {
    put_bytes(buf, at, c->values->data, w);
  }
}

/* The codes section of column i (which has codes) at buf + *at. */
static void encode_codes(const canon__column *c, int i, int64_t nrows, uint8_t *buf, size_t *at) {
  const canon__column *v = c->dict->values;
  size_t bytes = (size_t)canon__i64(v)[v->length];
  put_u32(buf + *at, (uint32_t)i);
  put_u32(buf + *at + 4, 0);
  put_u64(buf + *at + 8, (uint64_t)v->length);
  put_u64(buf + *at + 16, bytes);
  *at += CODES_BYTES;
  put_bytes(buf, at, c->codes->data, (size_t)nrows * 4);
  put_bytes(buf, at, v->values->data, ((size_t)v->length + 1) * 8);
  put_bytes(buf, at, v->strdata->data, bytes);
}

static void zero_tail(uint8_t *buf, size_t at, size_t n) { memset(buf + at + n, 0, pad8(n) - n); }

void canon__codec_put_frame(uint8_t *buf, int i, canon_type type, int64_t nrows,
                            const codec_sizes *sz, const codec_at *at, const canon__column *dict) {
  if (sz->validity) memset(buf + at->validity, 0, pad8(sz->validity));
  zero_tail(buf, at->values, sz->values);
  if (type == CANON_STRING) {
    memset(buf + at->values, 0, 8); /* offset 0 */
    zero_tail(buf, at->strdata, sz->strdata);
  }
  if (!dict) return;
  size_t bytes = (size_t)canon__i64(dict)[dict->length], a = at->codes;
  put_u32(buf + a, (uint32_t)i);
  put_u32(buf + a + 4, 0);
  put_u64(buf + a + 8, (uint64_t)dict->length);
  put_u64(buf + a + 16, bytes);
  a += CODES_BYTES;
  zero_tail(buf, a, (size_t)nrows * 4);
  a += pad8((size_t)nrows * 4);
  memcpy(buf + a, dict->values->data, ((size_t)dict->length + 1) * 8);
  a += ((size_t)dict->length + 1) * 8;
  if (bytes) memcpy(buf + a, dict->strdata->data, bytes);
  zero_tail(buf, a, bytes);
}

size_t canon__codec_put_head(uint8_t *buf, const canon_schema *s, int64_t nrows, uint32_t ncoded,
                             size_t need, const codec_sizes *sizes) {
  int nc = s->n;
  put_u32(buf, TABLE_MAGIC);
  put_u32(buf + 4, TABLE_VERSION);
  put_u64(buf + 8, (uint64_t)nrows);
  put_u32(buf + 16, (uint32_t)nc);
  put_u32(buf + 20, ncoded);
  put_u64(buf + 24, (uint64_t)need);
  size_t at = HEADER_BYTES;
  for (int i = 0; i < nc; i++) {
    uint8_t *d = buf + at;
    put_u32(d, (uint32_t)s->types[i] | (sizes[i].ref ? CODEC_REF : 0));
    put_u32(d + 4, (uint32_t)strlen(s->names[i]));
    put_u64(d + 8, (uint64_t)sizes[i].null_count);
    put_u64(d + 16, sizes[i].validity);
    put_u64(d + 24, sizes[i].values);
    put_u64(d + 32, sizes[i].strdata);
    at += COLUMN_BYTES;
  }
  for (int i = 0; i < nc; i++) {
    size_t len = strlen(s->names[i]);
    memcpy(buf + at, s->names[i], len);
    at += len;
  }
  put_bytes(buf, &at, NULL, 0);
  return at;
}

/* t's encoding with its column references to base (NULL: none), whose id
 * is base_id, into buf. */
static int encode_into(const canon_table *t, const canon_table *base, uint64_t base_id,
                       uint8_t *buf, size_t cap, canon_error *err) {
  int nc = t->schema->n;
  codec_sizes *sz = canon__calloc((size_t)(nc ? nc : 1), sizeof *sz);
  canon__colref *refs = canon__calloc((size_t)(nc ? nc : 1), sizeof *refs);
  if (!sz || !refs) {
    free(sz);
    free(refs);
    return canon__nomem(err);
  }
  /* Each column's reference decided once (a NULL bitmap may be compared
   * bit by bit to find it), for the size and the bytes. */
  size_t need = codec_head_size(t->schema);
  uint32_t ncoded = 0;
  for (int i = 0; i < nc; i++) {
    refs[i] = ref_of(t, i, base);
    need += column_encoded(t, i, refs[i]);
    ncoded += refs[i].col < 0 && ships_codes(t->cols[i], t->nrows);
  }
  if (cap < need) {
    free(sz);
    free(refs);
    return canon__seterr(err, CANON_ERR_INVALID, "table encoding needs %zu bytes, buffer has %zu",
                         need, cap);
  }
  for (int i = 0; i < nc; i++) {
    if (refs[i].col >= 0) {
      sz[i].values = REF_BYTES;
      sz[i].ref = true;
      continue;
    }
    column_sizes(t->cols[i], t->nrows, &sz[i].validity, &sz[i].values, &sz[i].strdata);
    sz[i].null_count = sz[i].validity ? t->cols[i]->null_count : 0;
  }
  size_t at = canon__codec_put_head(buf, t->schema, t->nrows, ncoded, need, sz);
  free(sz);
  for (int i = 0; i < nc; i++) {
    if (refs[i].col >= 0) {
      put_u64(buf + at, base_id);
      put_u64(buf + at + 8, (uint64_t)refs[i].col);
      put_u64(buf + at + 16, (uint64_t)refs[i].first);
      at += REF_BYTES;
    } else {
      encode_column(t->cols[i], t->nrows, buf, &at);
    }
  }
  for (int i = 0; i < nc; i++)
    if (refs[i].col < 0 && ships_codes(t->cols[i], t->nrows))
      encode_codes(t->cols[i], i, t->nrows, buf, &at);
  free(refs);
  return at == need ? 0 : canon__seterr(err, CANON_ERR_INTERNAL, "table encoding size mismatch");
}

int canon__table_encode_into(const canon_table *t, uint8_t *buf, size_t cap, canon_error *err) {
  return encode_into(t, NULL, 0, buf, cap, err);
}

size_t canon__table_encoded_size_ref(const canon_table *t, const canon_table *base) {
  return encoded_size(t, base);
}

int canon__table_encode_ref_into(const canon_table *t, const canon_table *base, uint64_t base_id,
                                 uint8_t *buf, size_t cap, canon_error *err) {
  return encode_into(t, base, base_id, buf, cap, err);
}

/* ---- decoding ------------------------------------------------------------- */

typedef struct coldesc {
  canon_type type;
  bool ref; /* a column reference */
  uint32_t name_len;
  int64_t null_count;
  size_t validity, values, strdata;
  const uint8_t *name;
  const uint8_t *vp, *wp, *sp; /* its sections in the encoding */
} coldesc;

static int bad(canon_error *err, const char *what) {
  return canon__seterr(err, CANON_ERR_PARSE, "encoded table: %s", what);
}

/* Checked a + b into *out. */
static bool add_ok(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }

/* Section of n bytes (padded) at *at within len; advances *at. */
static bool take(size_t *at, size_t n, size_t len) {
  size_t end;
  if (!add_ok(*at, n, &end) || end > len) return false;
  end = pad8(end);
  if (end > len) return false;
  *at = end;
  return true;
}

/* Check one column's descriptor against nrows. */
static int check_desc(const coldesc *d, int64_t nrows, canon_error *err) {
  if (d->type <= CANON_TYPE_INVALID || d->type >= CANON_TYPE__COUNT) return bad(err, "unknown column type");
  if (d->name_len == 0 || d->name_len > MAX_NAME_BYTES) return bad(err, "bad column name length");
  if (d->ref) {
    if (d->validity || d->null_count || d->values != REF_BYTES || d->strdata)
      return bad(err, "bad column reference");
    return 0;
  }
  if (d->validity) {
    if (d->validity != (size_t)(nrows + 7) / 8) return bad(err, "validity size does not match rows");
    if (d->null_count < 0 || d->null_count > nrows) return bad(err, "bad NULL count");
  } else if (d->null_count != 0) {
    return bad(err, "NULL count without a validity bitmap");
  }
  size_t width = canon__type_width(d->type), want;
  size_t count = (size_t)nrows + (d->type == CANON_STRING ? 1 : 0);
  if (__builtin_mul_overflow(count, width, &want) || d->values != want)
    return bad(err, "values size does not match rows and type");
  if (d->type != CANON_STRING && d->strdata) return bad(err, "string bytes on a non-string column");
  return 0;
}

/* A buffer holding a copy of n bytes (capacity rounded up, tail zeroed). */
static canon__buffer *copy_buffer(const uint8_t *src, size_t n) {
  canon__buffer *b = canon__buffer_new(pad8(n ? n : 1));
  if (!b) return NULL;
  if (n) memcpy(b->data, src, n);
  memset(b->data + n, 0, b->cap - n);
  b->size = n;
  return b;
}

/* A buffer for n bytes at src: a copy, or (root set) a view into root,
 * which holds the whole encoding starting at base. */
static canon__buffer *section(canon__buffer *root, const uint8_t *base, const uint8_t *src,
                              size_t n) {
  return root ? canon__buffer_alias(root, (size_t)(src - base), n) : copy_buffer(src, n);
}

/* The rows of column d at vp (bitmap) and wp (values) to check. */
static codec_rows rows_of(const coldesc *d, int64_t nrows, const uint8_t *vp, const uint8_t *wp) {
  return (codec_rows){d->type, nrows, d->null_count, d->validity ? vp : NULL, wp, d->strdata, NULL};
}

/* Column d from its buffers at p (copied, or viewed in root when set),
 * its rows checked already. */
static canon__column *make_column(const coldesc *d, int64_t nrows, const uint8_t *vp,
                                  const uint8_t *wp, const uint8_t *sp, canon__buffer *root,
                                  const uint8_t *base, canon_error *err) {
  canon__column *c = canon__calloc(1, sizeof *c);
  if (!c) {
    canon__nomem(err);
    return NULL;
  }
  c->refs = 1;
  c->type = d->type;
  c->length = nrows;
  c->null_count = d->validity ? d->null_count : 0;
  if ((d->validity && d->null_count && !(c->validity = section(root, base, vp, d->validity))) ||
      !(c->values = section(root, base, wp, d->values)) ||
      (d->type == CANON_STRING && !(c->strdata = section(root, base, sp, d->strdata)))) {
    canon__column_unref(c);
    canon__nomem(err);
    return NULL;
  }
  return c;
}

/* Build and validate column d (a dictionary's values). */
static canon__column *decode_column(const coldesc *d, int64_t nrows, const uint8_t *vp,
                                    const uint8_t *wp, const uint8_t *sp, canon__buffer *root,
                                    const uint8_t *base, canon_error *err) {
  codec_rows r = rows_of(d, nrows, vp, wp);
  if (canon__codec_check_rows(&r, 1) != 0) {
    canon__nomem(err);
    return NULL;
  }
  if (r.problem) {
    bad(err, r.problem);
    return NULL;
  }
  return make_column(d, nrows, vp, wp, sp, root, base, err);
}

/* Column d, a reference (its REF_BYTES at wp), as a view of the rows it
 * names in the table lookup gives. */
static canon__column *resolve_ref(const coldesc *d, int64_t nrows, const uint8_t *wp,
                                  canon__lookup_fn lookup, void *lctx, canon_error *err) {
  uint64_t id = get_u64(wp), col = get_u64(wp + 8), first = get_u64(wp + 16);
  canon_error e;
  memset(&e, 0, sizeof e);
  const canon_table *b = lookup(lctx, id, &e);
  if (!b) {
    canon__seterr(err, e.code ? e.code : CANON_ERR_PARSE,
                  "encoded table: a column references table %llu: %.900s",
                  (unsigned long long)id, e.message);
    return NULL;
  }
  if (col >= (uint64_t)b->schema->n || b->schema->types[col] != d->type) {
    bad(err, "a column references a column of another type, or none");
    return NULL;
  }
  const canon__column *bc = b->cols[col];
  if (first > (uint64_t)bc->length || (uint64_t)nrows > (uint64_t)bc->length - first) {
    bad(err, "a column references rows its table does not have");
    return NULL;
  }
  canon__column *c = canon__column_view(bc, (int64_t)first, nrows);
  if (!c) canon__nomem(err);
  return c;
}

/* The codes section at buf + *at: attach it to its column in cols after
 * checking it (the column's index above *prev, so each is coded once). */
static int decode_codes(const uint8_t *buf, size_t len, size_t *at, int nc, int64_t nrows,
                        const coldesc *d, canon__column **cols, int *prev, canon__buffer *root,
                        bool own, canon_error *err) {
  if (len - *at < CODES_BYTES) return bad(err, "codes section runs past the end");
  const uint8_t *p = buf + *at;
  uint32_t i = get_u32(p);
  uint64_t nv = get_u64(p + 8), bytes = get_u64(p + 16);
  if ((int64_t)i <= *prev || i >= (uint32_t)nc || get_u32(p + 4) != 0 ||
      cols[i]->type != CANON_STRING || d[i].ref)
    return bad(err, "codes for a column that cannot have them");
  *prev = (int)i;
  if (nv > len / 8 || bytes > len) return bad(err, "codes section larger than the encoding");
  *at += CODES_BYTES;
  const uint8_t *cp = buf + *at;
  if (!take(at, (size_t)nrows * 4, len)) return bad(err, "codes section runs past the end");
  const uint8_t *op = buf + *at;
  if (!take(at, ((size_t)nv + 1) * 8, len)) return bad(err, "codes section runs past the end");
  const uint8_t *sp = buf + *at;
  if (!take(at, (size_t)bytes, len)) return bad(err, "codes section runs past the end");
  /* The values are copied even when decoding into views: a dictionary is
   * small, and rows gathered out of the table share it, so a view would
   * keep the whole encoding alive (exchange_prepare relies on copies not
   * doing that). */
  coldesc vd = {.type = CANON_STRING, .values = ((size_t)nv + 1) * 8, .strdata = (size_t)bytes};
  canon__column *values = decode_column(&vd, (int64_t)nv, NULL, op, sp, NULL, buf, err);
  if (!values) return err ? err->code : CANON_ERR_PARSE;
  canon__buffer *codes = section(root, buf, cp, (size_t)nrows * 4);
  if (!codes) {
    canon__column_unref(values);
    return canon__nomem(err);
  }
  const char *why;
  int rc = own ? canon__dict_adopt_own(cols[i], values, codes, &why)
               : canon__dict_adopt(cols[i], values, codes, &why);
  if (rc == CANON_ERR_PARSE) return bad(err, why);
  return rc ? canon__nomem(err) : 0;
}

/* Names unique: sort indices by name and compare neighbours (a hostile
 * encoding may hold many columns; no quadratic scan).  qsort passes no
 * context, so the descriptors travel through a thread-local. */
static __thread const coldesc *sort_base;

static int cmp_names(const void *a, const void *b) {
  const coldesc *x = &sort_base[*(const int *)a], *y = &sort_base[*(const int *)b];
  size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
  int c = memcmp(x->name, y->name, n);
  return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static int check_names(const coldesc *d, int nc, canon_error *err) {
  for (int i = 0; i < nc; i++)
    if (memchr(d[i].name, 0, d[i].name_len)) return bad(err, "column name holds a NUL byte");
  if (nc < 2) return 0;
  int *idx = canon__calloc((size_t)nc, sizeof *idx);
  if (!idx) return canon__nomem(err);
  for (int i = 0; i < nc; i++) idx[i] = i;
  sort_base = d;
  qsort(idx, (size_t)nc, sizeof *idx, cmp_names);
  int rc = 0;
  for (int i = 1; i < nc && rc == 0; i++)
    if (cmp_names(&idx[i - 1], &idx[i]) == 0) rc = bad(err, "duplicate column name");
  free(idx);
  return rc;
}

/* lookup NULL: a column reference is malformed input. */
static canon_table *decode(const uint8_t *buf, size_t len, canon__buffer *root, bool own,
                           canon__lookup_fn lookup, void *lctx, canon_error *err) {
  if (!buf || len < HEADER_BYTES) {
    bad(err, "shorter than its header");
    return NULL;
  }
  if (get_u32(buf) != TABLE_MAGIC) {
    bad(err, "bad magic");
    return NULL;
  }
  if (get_u32(buf + 4) != TABLE_VERSION) {
    canon__seterr(err, CANON_ERR_PARSE, "encoded table: unsupported version %u", get_u32(buf + 4));
    return NULL;
  }
  int64_t nrows = (int64_t)get_u64(buf + 8);
  uint32_t ncols = get_u32(buf + 16);
  uint32_t ncoded = get_u32(buf + 20);
  if (ncoded > get_u32(buf + 16) || get_u64(buf + 24) != len) {
    bad(err, "length does not match its header");
    return NULL;
  }
  /* Every row of every column takes at least one byte, except in a table
   * without columns, whose rows cost nothing to hold, or (with a lookup)
   * one whose columns are references, whose rows are another table's. */
  if (nrows < 0 || (!lookup && ncols > 0 && (uint64_t)nrows > len) || nrows > (INT64_MAX >> 4) ||
      ncols > (len - HEADER_BYTES) / COLUMN_BYTES) {
    bad(err, "row or column count out of range");
    return NULL;
  }
  int nc = (int)ncols;
  coldesc *d = canon__calloc((size_t)nc, sizeof *d);
  canon__column **cols = canon__calloc((size_t)nc, sizeof *cols);
  codec_rows *rows = canon__calloc((size_t)(nc ? nc : 1), sizeof *rows);
  canon_schema *schema = canon_schema_new();
  canon_table *t = NULL;
  if (!d || !cols || !rows || !schema) {
    canon__nomem(err);
    goto done;
  }
  size_t at = HEADER_BYTES;
  for (int i = 0; i < nc; i++, at += COLUMN_BYTES) {
    const uint8_t *p = buf + at;
    uint32_t type = get_u32(p);
    d[i].ref = (type & CODEC_REF) != 0;
    d[i].type = (canon_type)(type & ~CODEC_REF);
    if (d[i].ref && !lookup) {
      bad(err, "a column references another table (which this decoding cannot see)");
      goto done;
    }
    d[i].name_len = get_u32(p + 4);
    d[i].null_count = (int64_t)get_u64(p + 8);
    uint64_t v = get_u64(p + 16), w = get_u64(p + 24), s = get_u64(p + 32);
    if (v > len || w > len || s > len) {
      bad(err, "buffer larger than the encoding");
      goto done;
    }
    d[i].validity = (size_t)v;
    d[i].values = (size_t)w;
    d[i].strdata = (size_t)s;
    if (check_desc(&d[i], nrows, err)) goto done;
  }
  for (int i = 0; i < nc; i++) {
    d[i].name = buf + at;
    if (!add_ok(at, d[i].name_len, &at) || at > len) {
      bad(err, "column names run past the end");
      goto done;
    }
  }
  if (!take(&at, 0, len)) {
    bad(err, "column names run past the end");
    goto done;
  }
  if (check_names(d, nc, err)) goto done;
  /* Every column's sections first (up to the first that does not fit),
   * their rows checked together (on several threads when big), then the
   * columns made in order: the first column at fault, of whatever
   * fault, is the one reported, as checking them one by one does. */
  int placed = 0;
  for (; placed < nc; placed++) {
    coldesc *c = &d[placed];
    c->vp = buf + at;
    if (!take(&at, c->validity, len)) break;
    c->wp = buf + at;
    if (!take(&at, c->values, len)) break;
    c->sp = buf + at;
    if (!take(&at, c->strdata, len)) break;
    rows[placed] = c->ref ? (codec_rows){.type = CANON_TYPE_INVALID} : rows_of(c, nrows, c->vp, c->wp);
  }
  if (canon__codec_check_rows(rows, placed) != 0) {
    canon__nomem(err);
    goto done;
  }
  for (int i = 0; i < placed; i++) {
    if (rows[i].problem) {
      bad(err, rows[i].problem);
      goto done;
    }
    cols[i] = d[i].ref ? resolve_ref(&d[i], nrows, d[i].wp, lookup, lctx, err)
                       : make_column(&d[i], nrows, d[i].vp, d[i].wp, d[i].sp, root, buf, err);
    if (!cols[i]) goto done;
  }
  if (nc > 0 && !cols[nc - 1]) {
    bad(err, "buffers do not fill the encoding exactly");
    goto done;
  }
  int prev = -1;
  for (uint32_t k = 0; k < ncoded; k++)
    if (decode_codes(buf, len, &at, nc, nrows, d, cols, &prev, root, own, err)) goto done;
  if (at != len) {
    bad(err, "buffers do not fill the encoding exactly");
    goto done;
  }
  /* Names are known unique: fill the schema without canon_schema_add's
   * linear duplicate search. */
  schema->names = canon__calloc((size_t)(nc ? nc : 1), sizeof *schema->names);
  schema->types = canon__calloc((size_t)(nc ? nc : 1), sizeof *schema->types);
  if (!schema->names || !schema->types) {
    canon__nomem(err);
    goto done;
  }
  schema->cap = nc ? nc : 1;
  for (int i = 0; i < nc; i++) {
    if (!(schema->names[i] = canon__strndup((const char *)d[i].name, d[i].name_len))) {
      canon__nomem(err);
      goto done;
    }
    schema->types[i] = d[i].type;
    schema->n = i + 1;
  }
  t = canon__table_make(schema, cols, nrows, err);
done:
  if (!t)
    for (int i = 0; cols && i < nc; i++) canon__column_unref(cols[i]);
  canon_schema_free(schema);
  free(rows);
  free(cols);
  free(d);
  return t;
}

canon_table *canon__table_decode(const uint8_t *buf, size_t len, canon_error *err) {
  return decode(buf, len, NULL, false, NULL, NULL, err);
}

static canon_table *decode_view(const uint8_t *buf, size_t len, void (*release)(void *ctx),
                                void *ctx, bool own, canon__lookup_fn lookup, void *lctx,
                                canon_error *err) {
  /* Views need the encoding's 8-byte sections to be 8-byte aligned in
   * memory; anything else is decoded into copies. */
  if (!buf || ((uintptr_t)buf & 7)) {
    canon_table *t = decode(buf, len, NULL, own, lookup, lctx, err);
    if (release) release(ctx);
    return t;
  }
  canon__buffer *root = canon__buffer_external(buf, len, release, ctx);
  if (!root) {
    if (release) release(ctx);
    canon__nomem(err);
    return NULL;
  }
  canon_table *t = decode(buf, len, root, own, lookup, lctx, err);
  canon__buffer_unref(root); /* the columns' views keep it while they live */
  return t;
}

canon_table *canon__table_decode_shared(const uint8_t *buf, size_t len, void (*release)(void *ctx),
                                        void *ctx, canon_error *err) {
  return decode_view(buf, len, release, ctx, false, NULL, NULL, err);
}

canon_table *canon__table_decode_own(const uint8_t *buf, size_t len, void (*release)(void *ctx),
                                     void *ctx, canon_error *err) {
  return decode_view(buf, len, release, ctx, true, NULL, NULL, err);
}

canon_table *canon__table_decode_ref(const uint8_t *buf, size_t len, void (*release)(void *ctx),
                                     void *ctx, canon__lookup_fn lookup, void *lctx,
                                     canon_error *err) {
  return decode_view(buf, len, release, ctx, true, lookup, lctx, err);
}

/* Rows of an encoded table after checking only its header (for engines
 * that need counts, not rows); -1 with err set when the header is bad. */
int64_t canon__table_encoded_rows(const uint8_t *buf, size_t len, canon_error *err) {
  if (!buf || len < HEADER_BYTES || get_u32(buf) != TABLE_MAGIC ||
      get_u32(buf + 4) != TABLE_VERSION || get_u64(buf + 24) != len ||
      (int64_t)get_u64(buf + 8) < 0) {
    bad(err, "bad header");
    return -1;
  }
  return (int64_t)get_u64(buf + 8);
}

/* ---- identity of a table's data (engines' caches of shipped tables) ------ */

bool canon__table_same_data(const canon_table *a, const canon_table *b) {
  if (a == b) return true;
  if (!a || !b || a->nrows != b->nrows || !canon__schema_equal(a->schema, b->schema)) return false;
  for (int i = 0; i < a->schema->n; i++)
    if (a->cols[i] != b->cols[i]) return false;
  return true;
}

bool canon__table_data_orphaned(const canon_table *t) {
  for (int i = 0; i < t->schema->n; i++)
    if (__atomic_load_n(&t->cols[i]->refs, __ATOMIC_ACQUIRE) == 1) return true;
  return false;
}
