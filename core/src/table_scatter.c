/* table_scatter.c — splitting a table's rows into n new tables by bucket
 * in one pass per column.
 *
 * A gather per bucket reads the source once per bucket, picking that
 * bucket's rows (with eight buckets every cache line of a column is
 * fetched about eight times); a scatter reads each column front to back
 * once and appends every value to its bucket's buffer.  The result is the
 * same as canon__table_take of each bucket's rows in input order. */
#include "internal.h"

typedef struct sc_col {
  canon__column **out; /* one column per bucket */
  int64_t *pos;        /* rows written per bucket */
} sc_col;

static canon__column *sc_new(canon_type type, int64_t rows) {
  canon__column *c = canon__calloc(1, sizeof *c);
  if (!c) return NULL;
  c->refs = 1;
  c->type = type;
  c->length = rows;
  return c;
}

/* A buffer of n bytes (size n); `zero`: cleared. */
static canon__buffer *sc_buffer(size_t n, bool zero) {
  canon__buffer *b = canon__buffer_new(n ? n : 1);
  if (b) {
    b->size = n;
    if (zero) memset(b->data, 0, n ? n : 1);
  }
  return b;
}

/* Validity of every bucket's rows, and its NULL count (a bucket without a
 * NULL gets no bitmap). */
static int sc_validity(const canon__column *c, const int32_t *bucket, int n, sc_col *s) {
  for (int k = 0; k < n; k++)
    if (!(s->out[k]->validity = sc_buffer((size_t)(s->out[k]->length + 7) / 8 + 1, true)))
      return CANON_ERR_NOMEM;
  memset(s->pos, 0, (size_t)n * sizeof *s->pos);
  for (int64_t i = 0; i < c->length; i++) {
    int k = bucket[i];
    int64_t p = s->pos[k]++;
    if (canon__valid(c, i))
      s->out[k]->validity->data[p >> 3] |= (uint8_t)(1u << (p & 7));
    else
      s->out[k]->null_count++;
  }
  for (int k = 0; k < n; k++) {
    s->out[k]->validity->size = (size_t)(s->out[k]->length + 7) / 8;
    if (!s->out[k]->null_count) {
      canon__buffer_unref(s->out[k]->validity);
      s->out[k]->validity = NULL;
    }
  }
  return 0;
}

/* Fixed-width values (w bytes each, from src) into each bucket's `field`
 * buffer (values or codes). */
static int sc_fixed(const uint8_t *src, size_t w, int64_t rows, const int32_t *bucket, int n,
                    sc_col *s, bool codes) {
  uint8_t **dst = canon__calloc((size_t)n, sizeof *dst);
  if (!dst) return CANON_ERR_NOMEM;
  for (int k = 0; k < n; k++) {
    canon__buffer *b = sc_buffer((size_t)s->out[k]->length * w, false);
    if (!b) {
      free(dst);
      return CANON_ERR_NOMEM;
    }
    if (codes)
      s->out[k]->codes = b;
    else
      s->out[k]->values = b;
    dst[k] = b->data;
  }
  memset(s->pos, 0, (size_t)n * sizeof *s->pos);
#define SC_LOOP(T)                                                        \
  for (int64_t i = 0; i < rows; i++) {                                    \
    int k = bucket[i];                                                    \
    ((T *)dst[k])[s->pos[k]++] = ((const T *)src)[i];                     \
  }
  if (w == 8)
    SC_LOOP(uint64_t)
  else if (w == 4)
    SC_LOOP(uint32_t)
  else
    SC_LOOP(uint8_t)
#undef SC_LOOP
  free(dst);
  return 0;
}

/* String offsets and bytes of every bucket: byte totals first, then one
 * pass copying each row's bytes to the end of its bucket's. */
static int sc_strings(const canon__column *c, const int32_t *bucket, int n, sc_col *s) {
  const int64_t *off = canon__i64(c);
  const uint8_t *sd = c->strdata->data;
  size_t room = c->strdata->size;
  int64_t *bytes = canon__calloc((size_t)n, sizeof *bytes);
  int64_t **noff = canon__calloc((size_t)n, sizeof *noff);
  uint8_t **dst = canon__calloc((size_t)n, sizeof *dst);
  int rc = CANON_ERR_NOMEM;
  if (!bytes || !noff || !dst) goto done;
  for (int64_t i = 0; i < c->length; i++) bytes[bucket[i]] += off[i + 1] - off[i];
  for (int k = 0; k < n; k++) {
    canon__column *o = s->out[k];
    /* 16 bytes of slack: short strings are copied as one 16-byte move */
    if (!(o->values = sc_buffer((size_t)(o->length + 1) * 8, false)) ||
        !(o->strdata = canon__buffer_new((size_t)bytes[k] + 16)))
      goto done;
    o->strdata->size = (size_t)bytes[k];
    noff[k] = (int64_t *)o->values->data;
    dst[k] = o->strdata->data;
    bytes[k] = 0;
  }
  memset(s->pos, 0, (size_t)n * sizeof *s->pos);
  for (int64_t i = 0; i < c->length; i++) {
    int k = bucket[i];
    size_t from = (size_t)off[i], len = (size_t)(off[i + 1] - off[i]);
    noff[k][s->pos[k]++] = bytes[k];
    if (len <= 16 && from + 16 <= room)
      memcpy(dst[k] + bytes[k], sd + from, 16);
    else
      memcpy(dst[k] + bytes[k], sd + from, len);
    bytes[k] += (int64_t)len;
  }
  for (int k = 0; k < n; k++) noff[k][s->out[k]->length] = bytes[k];
  rc = 0;
done:
  free(bytes);
  free(noff);
  free(dst);
  return rc;
}

static int sc_column(const canon__column *c, const int32_t *bucket, int n, sc_col *s) {
  int rc = 0;
  if (c->validity && c->null_count && (rc = sc_validity(c, bucket, n, s)) != 0) return rc;
  if (c->type == CANON_STRING) {
    if ((rc = sc_strings(c, bucket, n, s)) != 0) return rc;
    if (c->dict) {
      if ((rc = sc_fixed(c->codes->data, 4, c->length, bucket, n, s, true)) != 0) return rc;
      for (int k = 0; k < n; k++) s->out[k]->dict = canon__dict_ref(c->dict);
    }
    return 0;
  }
  return sc_fixed(c->values->data, canon__type_width(c->type), c->length, bucket, n, s, false);
}

int canon__table_scatter(const canon_table *t, const int32_t *bucket, int n,
                         const int64_t *counts, canon_table **out, canon_error *err) {
  int nc = t->schema->n;
  for (int k = 0; k < n; k++) out[k] = NULL;
  canon__column **cols = canon__calloc((size_t)n * (size_t)(nc ? nc : 1), sizeof *cols);
  int64_t *pos = canon__calloc((size_t)n, sizeof *pos);
  canon__column **one = canon__calloc((size_t)n, sizeof *one);
  int rc = cols && pos && one ? 0 : CANON_ERR_NOMEM;
  for (int i = 0; i < nc && rc == 0; i++) {
    for (int k = 0; k < n && rc == 0; k++)
      if (!(one[k] = cols[(size_t)k * (size_t)nc + (size_t)i] = sc_new(t->schema->types[i], counts[k])))
        rc = CANON_ERR_NOMEM;
    sc_col s = {one, pos};
    if (rc == 0) rc = sc_column(t->cols[i], bucket, n, &s);
  }
  for (int k = 0; k < n && rc == 0; k++) {
    canon__column **mine = cols + (size_t)k * (size_t)nc;
    /* table_make moves the references in, or drops them when it fails */
    if (!(out[k] = canon__table_make(t->schema, mine, counts[k], err)))
      rc = err && err->code ? err->code : CANON_ERR_NOMEM;
    memset(mine, 0, (size_t)nc * sizeof *mine);
  }
  if (rc) {
    for (int k = 0; k < n; k++) canon_table_free(out[k]), out[k] = NULL;
    /* columns not yet moved into a table */
    for (size_t j = 0; cols && j < (size_t)n * (size_t)nc; j++) canon__column_unref(cols[j]);
  }
  free(cols);
  free(pos);
  free(one);
  return rc ? canon__seterr(err, rc, "%s", rc == CANON_ERR_NOMEM ? "out of memory" : "scatter failed") : 0;
}
