/* split_encode.c — an exchange split written straight into its encoding.
 *
 * An engine whose buckets travel to other processes (processes, mpi)
 * needs them encoded.  Splitting into bucket tables and then encoding
 * each writes every row twice: once into the heap buckets, once into the
 * encoding.  Here the rows go once, from the producer's table straight to
 * their place in the split encoding, in exactly the bytes the two steps
 * give (the encoding of each bucket table, see codec.c; the split layout,
 * see canon_backend.h's exchange_split_encode):
 *
 *   u32 magic "CNSP", u32 P, P x (u64 offset, u64 length), then bucket
 *   k's table encoding at its offset (8-byte aligned, in bucket order).
 *
 * Hash and rebalance splits give each row its bucket, rows kept in input
 * order: a scatter that reads the source front to back once per column
 * (j5 at 10 million rows on processes: −15%).  Range splits are not
 * written this way: their buckets are runs of the rows in key order, and
 * a gather straight into the encoding (random reads of every column,
 * strings included) was 1.6x slower than canon__table_take's (which
 * gathers coded strings through their dictionary) followed by a copy
 * into the encoding; they go through canon__split_encode_buckets. */
#include "codec_layout.h"

#include "../kernels/kernels.h"

#define SPLIT_MAGIC 0x50534E43u /* "CNSP" */

/* One column of one bucket in the encoding. */
typedef struct se_part {
  codec_sizes sz;
  codec_at at;     /* its sections in the split encoding */
  bool ships;
} se_part;

typedef struct se_job {
  const canon_table *t;
  int P, nc;
  const int32_t *bucket; /* each row's bucket */
  const int64_t *start;  /* P + 1 entries: bucket sizes' prefix sums */
  se_part *parts;  /* [column * P + bucket] */
  size_t *at, *len; /* each bucket's encoding */
  uint8_t *buf;
  int64_t *pos;    /* scatter: rows written per bucket */
  int64_t *wrote;  /* strings: bytes written per bucket */
} se_job;

static int64_t bucket_rows(const se_job *j, int k) { return j->start[k + 1] - j->start[k]; }

/* NULL counts (into n[k]) or string bytes (`bytes`) of column c per bucket. */
static void per_bucket(const se_job *j, const canon__column *c, bool bytes, int64_t *n) {
  const int64_t *off = bytes ? canon__i64(c) : NULL;
  memset(n, 0, (size_t)j->P * sizeof *n);
  for (int64_t i = 0; i < c->length; i++)
    n[j->bucket[i]] += bytes ? off[i + 1] - off[i] : !canon__valid(c, i);
}

/* Sizes and offsets of every bucket's encoding; the split's total length,
 * or 0 when out of memory. */
static size_t se_plan(se_job *j) {
  const canon_table *t = j->t;
  int P = j->P, nc = j->nc;
  int64_t *n = canon__calloc((size_t)P, sizeof *n);
  if (!n) return 0;
  for (int i = 0; i < nc; i++) {
    const canon__column *c = t->cols[i];
    se_part *row = j->parts + (size_t)i * (size_t)P;
    bool nulls = c->validity && c->null_count > 0;
    if (nulls) per_bucket(j, c, false, n);
    for (int k = 0; k < P; k++) {
      int64_t m = bucket_rows(j, k);
      row[k].sz.null_count = nulls ? n[k] : 0;
      row[k].sz.validity = row[k].sz.null_count ? (size_t)(m + 7) / 8 : 0;
      row[k].sz.values = c->type == CANON_STRING ? ((size_t)m + 1) * 8 : (size_t)m * canon__type_width(c->type);
      row[k].ships = c->dict && codec_ships_codes(c->dict->values->length, m);
    }
    if (c->type == CANON_STRING) {
      per_bucket(j, c, true, n);
      for (int k = 0; k < P; k++) row[k].sz.strdata = (size_t)n[k];
    }
  }
  free(n);
  size_t head = codec_head_size(t->schema), at = pad8(8 + (size_t)P * 16);
  for (int k = 0; k < P; k++) {
    size_t base = at;
    j->at[k] = base;
    at += head;
    for (int i = 0; i < nc; i++) {
      se_part *e = &j->parts[(size_t)i * (size_t)P + (size_t)k];
      codec_place(&e->at, &e->sz, &at);
    }
    int64_t m = bucket_rows(j, k);
    for (int i = 0; i < nc; i++) {
      se_part *e = &j->parts[(size_t)i * (size_t)P + (size_t)k];
      if (!e->ships) continue;
      e->at.codes = at;
      at += codec_codes_size(t->cols[i]->dict->values, m);
    }
    j->len[k] = at - base;
  }
  return at;
}

/* Headers, index, padding, bitmaps cleared, dictionaries: everything but
 * the rows. */
static int se_write_rest(se_job *j) {
  int P = j->P, nc = j->nc;
  uint8_t *buf = j->buf;
  put_u32(buf, SPLIT_MAGIC);
  put_u32(buf + 4, (uint32_t)P);
  memset(buf + 8 + (size_t)P * 16, 0, pad8(8 + (size_t)P * 16) - (8 + (size_t)P * 16));
  codec_sizes *sz = canon__calloc((size_t)(nc ? nc : 1), sizeof *sz);
  if (!sz) return CANON_ERR_NOMEM;
  for (int k = 0; k < P; k++) {
    put_u64(buf + 8 + (size_t)k * 16, (uint64_t)j->at[k]);
    put_u64(buf + 16 + (size_t)k * 16, (uint64_t)j->len[k]);
    int64_t m = bucket_rows(j, k);
    uint32_t ncoded = 0;
    for (int i = 0; i < nc; i++) {
      const se_part *e = &j->parts[(size_t)i * (size_t)P + (size_t)k];
      sz[i] = e->sz;
      ncoded += e->ships;
    }
    canon__codec_put_head(buf + j->at[k], j->t->schema, m, ncoded, j->len[k], sz);
    for (int i = 0; i < nc; i++) {
      const se_part *e = &j->parts[(size_t)i * (size_t)P + (size_t)k];
      const canon__column *c = j->t->cols[i];
      canon__codec_put_frame(buf, i, c->type, m, &e->sz, &e->at, e->ships ? c->dict->values : NULL);
    }
  }
  free(sz);
  return 0;
}

/* Row i of the source goes to row p of bucket k: each kind of buffer. */
#define SE_EACH_ROW(...)                                                         \
  do {                                                                           \
    const int32_t *b_ = j->bucket;                                         \
    memset(j->pos, 0, (size_t)j->P * sizeof *j->pos);                            \
    for (int64_t i = 0; i < c->length; i++) {                                    \
      int k = b_[i];                                                             \
      int64_t p = j->pos[k]++;                                                   \
      __VA_ARGS__;                                                               \
    }                                                                            \
  } while (0)

static void se_column(se_job *j, int ci) {
  const canon__column *c = j->t->cols[ci];
  const se_part *e = j->parts + (size_t)ci * (size_t)j->P;
  uint8_t *buf = j->buf;
  if (c->validity && c->null_count > 0)
    SE_EACH_ROW(if (e[k].sz.validity && canon__valid(c, i))
                    buf[e[k].at.validity + (size_t)(p >> 3)] |= (uint8_t)(1u << (p & 7)));
  if (c->type == CANON_STRING) {
    const int64_t *off = canon__i64(c);
    const uint8_t *sd = c->strdata->data;
    size_t room = c->strdata->size;
    int64_t *w = j->wrote;
    memset(w, 0, (size_t)j->P * sizeof *w);
    SE_EACH_ROW({
      size_t from = (size_t)off[i], len = (size_t)(off[i + 1] - off[i]);
      uint8_t *dst = buf + e[k].at.strdata + w[k];
      /* Short strings as one 16-byte move where both sides have room
       * (the spill is overwritten by the bucket's next strings). */
      if (len <= 16 && from + 16 <= room && (size_t)w[k] + 16 <= e[k].sz.strdata)
        memcpy(dst, sd + from, 16);
      else if (len)
        memcpy(dst, sd + from, len);
      w[k] += (int64_t)len;
      put_u64(buf + e[k].at.values + (size_t)(p + 1) * 8, (uint64_t)w[k]);
    });
    if (c->dict) {
      const uint32_t *code = canon__codes(c);
      SE_EACH_ROW(if (e[k].ships) put_u32(buf + e[k].at.codes + CODES_BYTES + (size_t)p * 4, code[i]));
    }
    return;
  }
  if (c->type == CANON_BOOL) {
    const uint8_t *b = canon__u8(c);
    SE_EACH_ROW(buf[e[k].at.values + (size_t)p] = b[i] ? 1 : 0);
    return;
  }
  size_t width = canon__type_width(c->type);
  const uint8_t *src = c->values->data;
  if (width == 8)
    SE_EACH_ROW(memcpy(buf + e[k].at.values + (size_t)p * 8, src + (size_t)i * 8, 8));
  else if (width == 4)
    SE_EACH_ROW(memcpy(buf + e[k].at.values + (size_t)p * 4, src + (size_t)i * 4, 4));
  else
    SE_EACH_ROW(memcpy(buf + e[k].at.values + (size_t)p * width, src + (size_t)i * width, width));
}

/* The split of t by bucket (bucket sizes' prefix sums in start) into
 * memory from alloc. */
static int se_encode(const canon_table *t, int P, const int32_t *bucket, const int64_t *start,
                     uint8_t *(*alloc)(void *ctx, size_t len), void *ctx, size_t *len,
                     canon__split_out *out, canon_error *err) {
  int nc = t->schema->n;
  se_job j = {t, P, nc, bucket, start, NULL, NULL, NULL, NULL, NULL, NULL};
  j.parts = canon__calloc((size_t)P * (size_t)(nc ? nc : 1), sizeof *j.parts);
  j.at = canon__calloc((size_t)P, sizeof *j.at);
  j.len = canon__calloc((size_t)P, sizeof *j.len);
  j.pos = canon__calloc((size_t)P, sizeof *j.pos);
  j.wrote = canon__calloc((size_t)P, sizeof *j.wrote);
  int rc = 0;
  size_t total = j.parts && j.at && j.len && j.pos && j.wrote ? se_plan(&j) : 0;
  if (!total) {
    rc = canon__nomem(err);
  } else if (!(j.buf = alloc(ctx, total))) {
    rc = canon__seterr(err, CANON_ERR_NOMEM, "cannot get %zu bytes for a split", total);
  } else if ((rc = se_write_rest(&j)) != 0) {
    canon__nomem(err);
  } else {
    for (int i = 0; i < nc; i++) se_column(&j, i);
    *len = total;
    if (out) {
      out->rows = start[P];
      out->bytes = 0;
      for (size_t e = 0; e < (size_t)P * (size_t)nc; e++)
        out->bytes += (int64_t)(j.parts[e].sz.validity + j.parts[e].sz.values + j.parts[e].sz.strdata);
    }
  }
  free(j.parts);
  free(j.at);
  free(j.len);
  free(j.pos);
  free(j.wrote);
  return rc;
}

int canon__split_encode_scatter(const canon_table *t, const int32_t *bucket, int P,
                                uint8_t *(*alloc)(void *ctx, size_t len), void *ctx, size_t *len,
                                canon__split_out *out, canon_error *err) {
  int64_t *start = canon__calloc((size_t)P + 1, sizeof *start);
  if (!start) return canon__nomem(err);
  for (int64_t i = 0; i < t->nrows; i++) start[bucket[i] + 1]++;
  for (int k = 0; k < P; k++) start[k + 1] += start[k];
  int rc = se_encode(t, P, bucket, start, alloc, ctx, len, out, err);
  free(start);
  return rc;
}

int canon__split_encode_buckets(canon_table *const *buckets, int P,
                                uint8_t *(*alloc)(void *ctx, size_t len), void *ctx, size_t *len,
                                canon__split_out *out, canon_error *err) {
  size_t total = pad8(8 + (size_t)P * 16);
  for (int k = 0; k < P; k++) total += pad8(canon__table_encoded_size(buckets[k]));
  uint8_t *buf = alloc(ctx, total);
  if (!buf) return canon__seterr(err, CANON_ERR_NOMEM, "cannot get %zu bytes for a split", total);
  put_u32(buf, SPLIT_MAGIC);
  put_u32(buf + 4, (uint32_t)P);
  size_t at = pad8(8 + (size_t)P * 16);
  memset(buf + 8 + (size_t)P * 16, 0, at - (8 + (size_t)P * 16));
  for (int k = 0; k < P; k++) {
    size_t n = canon__table_encoded_size(buckets[k]);
    put_u64(buf + 8 + (size_t)k * 16, (uint64_t)at);
    put_u64(buf + 16 + (size_t)k * 16, (uint64_t)n);
    int rc = canon__table_encode_into(buckets[k], buf + at, n, err);
    if (rc) return rc;
    at += pad8(n);
  }
  *len = total;
  if (out) {
    out->rows = out->bytes = 0;
    for (int k = 0; k < P; k++) {
      out->rows += buckets[k]->nrows;
      out->bytes += canon__table_bytes(buckets[k]);
    }
  }
  return 0;
}
