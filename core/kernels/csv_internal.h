/* csv_internal.h — what csv_read.c (input files, the field scanner, the
 * general path, entry points), csv_fast.c (the record loop and the
 * per-type fast paths of building) and csv_split.c (cutting a file into
 * ranges) share. */
#ifndef CANON_CSV_INTERNAL_H
#define CANON_CSV_INTERNAL_H

#include "kernels.h"

/* 16 bytes as one vector (plain SSE2 on x86-64; the compiler lowers it to
 * scalar code elsewhere). */
typedef unsigned char cr_v16 __attribute__((vector_size(16)));

/* The state of parsing one input, or one byte range of it. */
typedef struct cr_parser {
  const char *origin;
  const char *base;       /* start of the whole input */
  const char *total_end;  /* end of the whole input (trailing-blank check) */
  const char *p, *end;    /* cursor and end of the part being parsed */
  int64_t line;           /* physical line of the cursor, 1-based */
  const char *lstart;     /* where that line starts (for columns) */
  const char *term_at;    /* where the last field's terminator was */
  int64_t term_line;
  const char *term_lstart;
  char delim;
  uint8_t stop[256];      /* bytes that end an unquoted run */
  char *scratch;          /* unescaped text of quoted fields with "" */
  size_t scratch_cap;
  canon_error *err;
} cr_parser;

/* A file's bytes: mapped for regular files, read into memory otherwise. */
typedef struct cr_file {
  const char *data;
  size_t len;
  void *map;
  char *heap;
} cr_file;

/* Open path as a cr_file (an error names the path), and let it go. */
int canon__csv_file_open(const char *path, cr_file *f, canon_error *err);
void canon__csv_file_close(cr_file *f);

/* Counting bytes in blocks (the split, and sizing a range's builders). */
/* 64 bytes are read as four cr_v16 vectors. */

/* Sum of the 16 byte lanes of v (each lane at most 15). */
static inline unsigned cr_v16_sum(cr_v16 v) {
  uint64_t w[2];
  memcpy(w, &v, 16);
  return (unsigned)(((w[0] + w[1]) * 0x0101010101010101ULL) >> 56);
}

/* In the 64 bytes at s: the number of newlines, and whether a quote is
 * among them. */
static inline unsigned cr_block64(const char *s, bool *quote) {
  cr_v16 v[4];
  memcpy(v, s, 64);
  cr_v16 nl = (cr_v16)(v[0] == '\n') & 1, qt = (cr_v16)(v[0] == '"');
  for (int k = 1; k < 4; k++) {
    nl += (cr_v16)(v[k] == '\n') & 1;
    qt |= (cr_v16)(v[k] == '"');
  }
  uint64_t q[2];
  memcpy(q, &qt, 16);
  *quote = (q[0] | q[1]) != 0;
  return cr_v16_sum(nl);
}

/* The number of newlines in [s, s + n), and whether a quote is among
 * them. */
static inline int64_t cr_count_lines_quotes(const char *s, size_t n, bool *quote) {
  int64_t count = 0;
  size_t i = 0;
  bool q = false;
  for (bool b; i + 64 <= n; i += 64) {
    count += cr_block64(s + i, &b);
    q |= b;
  }
  for (; i < n; i++) {
    count += s[i] == '\n';
    q |= s[i] == '"';
  }
  *quote = q;
  return count;
}

/* The number of newlines in [s, s + n). */
static inline int64_t cr_count_newlines(const char *s, size_t n) {
  bool quote;
  return cr_count_lines_quotes(s, n, &quote);
}

/* One field as the scanner read it. */
typedef struct cr_field {
  const char *s;          /* the value (in the input, or in scratch) */
  size_t n;
  const char *raw;        /* the bytes between the quotes, as in the input */
  size_t rawn;
  bool quoted;
  const char *at;         /* where the field starts (its opening quote) */
  int64_t line;           /* and on which line */
  const char *lstart;
} cr_field;

/* What ended a field: a delimiter, a line break, the end of the part. */
enum { CR_DELIM, CR_EOL, CR_EOF };

/* Offset of the first byte of s that is not part of well-formed UTF-8
 * (no overlongs, no surrogates, nothing above U+10FFFF), or n if valid
 * (csv_read.c). */
size_t canon__csv_utf8_bad(const char *str, size_t n);

/* Read field c of a record at the cursor the general way: any quoting,
 * NULLs, every type, and every error.  With builders, append the value;
 * with cand (inference), narrow the column's candidate types instead.
 * *term says what ended the field; *blank_tail is set (and the cursor put
 * at the end) when the record is a blank line followed only by line
 * breaks, which ends the input (csv_read.c). */
int canon__csv_field_general(cr_parser *ps, const canon_schema *schema,
                             canon__colbuilder *cbs, unsigned *cand, int c, int *term,
                             bool *blank_tail);

/* The error for a record with more fields than columns; the cursor is just
 * past the delimiter that ended the last expected field (csv_read.c). */
int canon__csv_too_many_fields(cr_parser *ps, int ncols);

/* Start parsing buf[0..len) (origin names it in errors); skip a UTF-8
 * byte-order mark at the cursor; read the header at the cursor, checked
 * against `schema` or (without one) collected into *names (csv_read.c). */
int canon__csv_parser_init(cr_parser *ps, const char *origin, const char *buf, size_t len,
                           char delim, canon_error *err);
void canon__csv_skip_bom(cr_parser *ps);
int canon__csv_header(cr_parser *ps, const canon_schema *schema, char ***names, int *nnames);

/* Whether building uses the fast paths (csv_fast.c; tests turn it off to
 * compare them with the general path). */
extern bool canon__csv_fast_paths;

/* Parse records at the cursor until the end (or max_rows records).  With
 * builders, append each value (by the fast paths where they can); with
 * cand (inference), narrow each column's candidate-type mask instead.
 * *nrows receives the record count (csv_fast.c). */
int canon__csv_records(cr_parser *ps, const canon_schema *schema, canon__colbuilder *cbs,
                       unsigned *cand, int64_t max_rows, int64_t *nrows);

#endif
