/* csv_fast.c — reading records: the record loop, and the fast paths of
 * building a table, where per column type one specialised loop reads a
 * plainly shaped field straight into the builder's buffers (the general
 * path in csv_read.c reads everything else).  The loop and the fast paths
 * share this file so that the paths inline into the loop.
 *
 * Sections: the fast paths; records.
 *
 * Building (not inferring) reads the common shapes of int64, float64 and
 * string fields in one pass each, writing straight into the builders'
 * buffers: an unquoted field of plain digits, plain decimal text, plain
 * bytes, or nothing (NULL), ended by the terminator its position expects
 * (a delimiter, or for the last column a line break or the end).  Anything
 * else — quotes, a bare "\r", signs or digits the fast reading cannot take
 * exactly, a missing or extra field, a possible blank line — is read again
 * from its start by the general path (csv_read.c), so values and errors
 * are exactly the general path's. */

#include "csv_internal.h"

#include <float.h>

/* ---- the fast paths ----------------------------------------------------- */

bool canon__csv_fast_paths = true;  /* tests turn it off to compare */

/* Powers of ten that are exact doubles (as in values.c). */
static const double cr_p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline bool cr_is_digit(char ch) { return (unsigned)((unsigned char)ch - '0') <= 9u; }

/* Can the fast paths run with this delimiter?  Not when it could be part
 * of a number or of UTF-8. */
static bool cr_fast_delim(char d) {
  unsigned char u = (unsigned char)d;
  return u < 0x80 && !cr_is_digit(d) && d != '+' && d != '-' && d != '.' && d != 'e' &&
         d != 'E';
}

/* Does the field ending at q end as a field of a `last` column must?  Then
 * *next is where the next field starts and *eol says a line ended. */
static inline bool cr_fast_end(const char *q, const char *end, char delim, bool last,
                               const char **next, int *term) {
  if (!last) {
    if (q < end && *q == delim) {
      *next = q + 1;
      *term = CR_DELIM;
      return true;
    }
    return false;
  }
  if (q >= end) {
    *next = q;
    *term = CR_EOF;
    return true;
  }
  if (*q == '\n') {
    *next = q + 1;
    *term = CR_EOL;
    return true;
  }
  if (*q == '\r' && q + 1 < end && q[1] == '\n') {
    *next = q + 2;
    *term = CR_EOL;
    return true;
  }
  return false;
}

/* Make room in the builder's NULL bitmap, if it has one, for a valid value
 * at b->length.  The bitmap's bytes past its size are all 0xff up to its
 * capacity (column.c keeps that so), so a valid value only moves the size;
 * false when the capacity is reached (the checked append then grows it). */
static inline bool cr_valid_bit(canon__colbuilder *b) {
  canon__buffer *vb = b->validity;
  if (!vb) return true;
  size_t byte = (size_t)(b->length >> 3);
  if (byte < vb->size) return true;
  if (byte >= vb->cap) return false;
  vb->size = byte + 1;
  return true;
}

/* Append 8 value bytes; false when a buffer is full (the caller then uses
 * the checked append). */
static inline bool cr_put8(canon__colbuilder *b, const void *v) {
  canon__buffer *vb = b->values;
  if (vb->size + 8 > vb->cap || !cr_valid_bit(b)) return false;
  memcpy(vb->data + vb->size, v, 8);
  vb->size += 8;
  b->length++;
  return true;
}

/* What the fast paths read of the parser, copied into a local so that the
 * compiler can keep it in registers across the stores into buffers. */
typedef struct cr_fast {
  const char *end, *total_end;
  const uint8_t *stop;
  char delim;
} cr_fast;

/* The end of the unquoted run at p: the first delimiter, line break or
 * quote, or the end of the part.  *high says whether a byte >= 0x80 may be
 * in the run (it may also report bytes just past it). */
static inline const char *cr_scan_unquoted(const cr_fast *ps, const char *p, bool *high) {
  const char *q = p, *end = ps->end;
  cr_v16 hi = {0};
  /* 16 bytes at a time while they lie inside the input (the first
   * matching byte is the lowest: little-endian only). */
  while (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && q < end && ps->total_end - q >= 16) {
    cr_v16 v;
    memcpy(&v, q, 16);
    hi |= v;
    cr_v16 m = (cr_v16)(v == (unsigned char)ps->delim) | (cr_v16)(v == '\n') |
               (cr_v16)(v == '\r') | (cr_v16)(v == '"');
    uint64_t w[2];
    memcpy(w, &m, 16);
    if (w[0] | w[1]) {
      q += w[0] ? __builtin_ctzll(w[0]) / 8 : 8 + __builtin_ctzll(w[1]) / 8;
      uint64_t h[2];
      memcpy(h, &hi, 16);
      *high = ((h[0] | h[1]) & 0x8080808080808080ULL) != 0;
      return q < end ? q : end;
    }
    q += 16;
  }
  uint64_t h[2];
  memcpy(h, &hi, 16);
  unsigned char tail = 0;
  if (q > end) q = end;
  while (q < end && !ps->stop[(unsigned char)*q]) tail |= (unsigned char)*q++;
  *high = ((h[0] | h[1]) & 0x8080808080808080ULL) != 0 || (tail & 0x80);
  return q;
}

/* Read field c (column type t, builder b) fast at p; 1 when done (*next
 * and *term set), 0 when the general path must read it, or an error code
 * (negative: out of memory). */
static inline int cr_field_fast(const cr_fast *ps, canon_type t, bool last,
                                canon__colbuilder *b, const char *p, const char **next,
                                int *term) {
  const char *q = p, *end = ps->end;
  switch (t) {
  case CANON_INT64: {
    bool neg = false;
    if (q < end && (*q == '-' || *q == '+')) neg = *q++ == '-';
    const char *d0 = q;
    uint64_t acc = 0;
    while (q < end && cr_is_digit(*q)) acc = acc * 10 + (uint64_t)(*q++ - '0');
    if (q == p) goto empty;
    /* Up to 18 digits cannot overflow. */
    if (q == d0 || q - d0 > 18 || !cr_fast_end(q, end, ps->delim, last, next, term)) return 0;
    int64_t v = neg ? -(int64_t)acc : (int64_t)acc;
    if (!cr_put8(b, &v) && canon__cb_i64(b, v) != 0) return -1;
    return 1;
  }
  case CANON_FLOAT64: {
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    /* The text values.c reads in its first, exact step: digits with an
     * optional point, at most 19 digits, not all zero, a mantissa of at
     * most 2^53 and at most 22 fraction digits: m / 10^frac is one
     * correctly rounded IEEE division, the very operation values.c does. */
    bool neg = false;
    if (q < end && (*q == '-' || *q == '+')) neg = *q++ == '-';
    const char *d0 = q;
    uint64_t m = 0;
    while (q < end && cr_is_digit(*q)) m = m * 10 + (uint64_t)(*q++ - '0');
    ptrdiff_t nd = q - d0, frac = 0;
    if (q < end && *q == '.') {
      const char *f0 = ++q;
      while (q < end && cr_is_digit(*q)) m = m * 10 + (uint64_t)(*q++ - '0');
      frac = q - f0;
      nd += frac;
    }
    if (q == p) goto empty;
    if (nd == 0 || nd > 19 || m == 0 || m > (1ull << 53) || frac > 22 ||
        !cr_fast_end(q, end, ps->delim, last, next, term))
      return 0;
    double v = (double)m * cr_p10[0];
    if (frac) v = (double)m / cr_p10[frac];
    if (neg) v = -v;
    if (!cr_put8(b, &v) && canon__cb_f64(b, v) != 0) return -1;
    return 1;
#else
    goto empty;  /* only a NULL is read fast here */
#endif
  }
  case CANON_STRING: {
    bool high;
    q = cr_scan_unquoted(ps, p, &high);
    size_t n = (size_t)(q - p);
    if (n == 0) goto empty;
    if (!cr_fast_end(q, end, ps->delim, last, next, term)) return 0;
    if (high && canon__csv_utf8_bad(p, n) != n) return 0;
    canon__buffer *sd = b->strdata, *vb = b->values;
    if (sd->size + n > sd->cap || vb->size + 8 > vb->cap || !cr_valid_bit(b))
      return canon__cb_str(b, p, n) != 0 ? -1 : 1;
    /* Short values: one fixed 16-byte copy when both sides have room
     * (the bytes past n are overwritten by the next value or unused). */
    if (n <= 16 && (size_t)(ps->total_end - p) >= 16 && sd->cap - sd->size >= 16)
      memcpy(sd->data + sd->size, p, 16);
    else
      memcpy(sd->data + sd->size, p, n);
    sd->size += n;
    int64_t off = (int64_t)sd->size;
    memcpy(vb->data + vb->size, &off, 8);
    vb->size += 8;
    b->length++;
    return 1;
  }
  default: return 0;
  }
empty:
  /* Nothing before the terminator: NULL where a field may end (at the
   * start of a record but its last field, that may also be a blank line:
   * the general path sorts that out). */
  if (!cr_fast_end(p, end, ps->delim, last, next, term)) return 0;
  return canon__cb_null(b) != 0 ? -1 : 1;
}

/* ---- records ------------------------------------------------------------ */

/* After this many records, string buffers are sized for the whole part. */
#define CR_SAMPLE_ROWS 1024

/* Size each string column's byte buffer for the records the builders were
 * sized for (its values buffer), at the bytes per record seen in the first
 * `rows`, plus an eighth: one allocation instead of repeated doubling,
 * each a copy into fresh memory.  Untouched capacity costs address space
 * only. */
static int cr_presize_strings(const canon_schema *schema, canon__colbuilder *cbs, int64_t rows) {
  for (int c = 0; c < schema->n; c++) {
    canon__colbuilder *b = &cbs[c];
    if (schema->types[c] != CANON_STRING) continue;
    double expect = (double)(b->values->cap / 8);
    double want = (double)b->strdata->size / (double)rows * expect * 1.125 + 64;
    if (want > (double)(SIZE_MAX / 2)) continue;
    if (canon__buffer_reserve(b->strdata, (size_t)want) != 0) return CANON_ERR_NOMEM;
  }
  return 0;
}

/* Parse records at the cursor; see csv_internal.h. */
int canon__csv_records(cr_parser *ps, const canon_schema *schema, canon__colbuilder *cbs,
                       unsigned *cand, int64_t max_rows, int64_t *nrows) {
  int ncols = schema->n;
  int64_t rows = 0;
  bool fast = cbs && !cand && canon__csv_fast_paths && cr_fast_delim(ps->delim);
  const cr_fast fx = {ps->end, ps->total_end, ps->stop, ps->delim};
  while (ps->p < ps->end && rows != max_rows) {
    int term = CR_DELIM;
    for (int c = 0; c < ncols; c++) {
      if (fast) {
        const char *next;
        int r = cr_field_fast(&fx, schema->types[c], c == ncols - 1, &cbs[c], ps->p, &next,
                              &term);
        if (r < 0) return canon__nomem(ps->err);
        if (r > 0) {
          ps->p = next;
          if (term == CR_EOL) {
            ps->line++;
            ps->lstart = next;
          }
          continue;
        }
      }
      bool blank_tail = false;
      int rc = canon__csv_field_general(ps, schema, cbs, cand, c, &term, &blank_tail);
      if (rc) return rc;
      if (blank_tail) {
        *nrows = rows;
        return 0;
      }
    }
    if (term == CR_DELIM) return canon__csv_too_many_fields(ps, ncols);  /* count them */
    if (++rows == CR_SAMPLE_ROWS && cbs && !cand && cr_presize_strings(schema, cbs, rows) != 0)
      return canon__nomem(ps->err);
  }
  *nrows = rows;
  return 0;
}
