/* codec_layout.h — the table encoding's layout (described in codec.c),
 * shared by the encoder and decoder (codec.c) and the writer of a
 * concatenation straight into an encoding (codec_concat.c). */
#ifndef CANON_CODEC_LAYOUT_H
#define CANON_CODEC_LAYOUT_H

#include "internal.h"

#define TABLE_MAGIC 0x42544E43u /* "CNTB" */
#define TABLE_VERSION 1u
#define HEADER_BYTES 32u
#define COLUMN_BYTES 40u
#define CODES_BYTES 24u
/* A column reference (codec.c): the type's high bit in its descriptor,
 * and REF_BYTES of values (u64 table id, u64 column, u64 first row). */
#define CODEC_REF 0x80000000u
#define REF_BYTES 24u

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the table codec assumes a little-endian host"
#endif

static inline size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }
static inline void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint32_t get_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline uint64_t get_u64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* Whether a column of nrows rows with a dictionary of nv values ships its
 * codes: only when the dictionary is small next to the rows (at most one
 * value per four rows).  Codes are an accelerator; a big dictionary
 * shipped with every small table (the buckets of an exchange over 100 000
 * keys) costs more to send and check than grouping by bytes does.  A
 * table without rows ships none (an all-NULL column's empty dictionary
 * would otherwise travel with every empty bucket of a split, which an
 * empty bucket made by a split never has). */
static inline bool codec_ships_codes(int64_t nv, int64_t nrows) {
  return nrows > 0 && nv <= nrows / 4;
}

/* One column's rows to check (codec_check.c). */
typedef struct codec_rows {
  canon_type type;
  int64_t nrows, null_count;
  const uint8_t *vp;   /* the bitmap (NULL: none) */
  const uint8_t *wp;   /* the values */
  uint64_t strdata;    /* strings: the bytes the offsets end at */
  const char *problem; /* set by the checks: NULL, or what is wrong */
} codec_rows;
/* Check the rows of cols[0..n) (a big table's on a thread per core): each
 * one's problem set; 0, or CANON_ERR_NOMEM. */
int canon__codec_check_rows(codec_rows *cols, int n);

/* One column's buffers as encoded: validity, values and string bytes. */
typedef struct codec_sizes {
  size_t validity, values, strdata;
  int64_t null_count; /* as written (0 without a bitmap) */
  bool ref;           /* a column reference (REF_BYTES of values) */
} codec_sizes;

/* Where one column's sections start in an encoding (absolute offsets). */
typedef struct codec_at {
  size_t validity, values, strdata, codes;
} codec_at;

/* Bytes of an encoding's header, column descriptors and (padded) names. */
static inline size_t codec_head_size(const canon_schema *s) {
  size_t names = 0;
  for (int i = 0; i < s->n; i++) names += strlen(s->names[i]);
  return HEADER_BYTES + (size_t)s->n * COLUMN_BYTES + pad8(names);
}

/* Bytes of a codes section: nrows codes and the dictionary `values`. */
static inline size_t codec_codes_size(const canon__column *values, int64_t nrows) {
  return CODES_BYTES + pad8((size_t)nrows * 4) + ((size_t)values->length + 1) * 8 +
         pad8((size_t)canon__i64(values)[values->length]);
}

/* Place one column's validity, values and string bytes from *at on
 * (a->codes is set with the codes sections, after every column). */
static inline void codec_place(codec_at *a, const codec_sizes *sz, size_t *at) {
  a->validity = *at;
  a->values = *at += pad8(sz->validity);
  a->strdata = *at += pad8(sz->values);
  *at += pad8(sz->strdata);
}

/* Everything of column i's sections but its rows, for writers that put
 * the rows in place themselves (codec_concat.c, split_encode.c): the
 * validity bitmap cleared (when it has one), each section's padding, a
 * string column's first offset (0), and when `dict` (the dictionary's
 * values; NULL: no codes) — the codes section's header, the padding of
 * its nrows codes and the dictionary.  The bits, values, offsets after
 * the first, string bytes and codes are the caller's. */
void canon__codec_put_frame(uint8_t *buf, int i, canon_type type, int64_t nrows,
                            const codec_sizes *sz, const codec_at *at, const canon__column *dict);

/* The header, the column descriptors and the names (padded) of an
 * encoding of `need` bytes at buf; returns the bytes written. */
size_t canon__codec_put_head(uint8_t *buf, const canon_schema *s, int64_t nrows, uint32_t ncoded,
                             size_t need, const codec_sizes *sizes);

#endif
