/* csv_read.c — CSV input: whole buffers, byte ranges, schema inference.
 *
 * Sections: input files; UTF-8; the field scanner; header; records: the
 * general path; building a table; public entry points (parse_buffer,
 * read_range, infer, canon_table_from_csv_text).  The record loop is in
 * csv_fast.c, cutting a file into ranges in csv_split.c.
 *
 * Building a table reads each field by a fast path for its column type
 * when the field has a plain shape (csv_fast.c), and by the general path
 * here (field scanner, canon__parse_value, checked builder appends)
 * otherwise; the two give the same values and the same errors (tests
 * compare them).  csv_internal.h holds what the two files share.
 *
 * Dialect (SEMANTICS §10, RFC 4180): fields separated by the delimiter,
 * records by "\n" or "\r\n"; a double-quoted field may hold delimiters,
 * newlines and "" escapes.  A quote inside an unquoted field, a bare "\r"
 * outside quotes, or text after a closing quote is an error: a stray quote
 * would make the quote-aware range split disagree with the parser.
 * An empty unquoted field is NULL; "" is the empty string (an error for
 * every type but string).  A UTF-8 byte-order mark before the header is
 * skipped.
 *
 * Blank lines: with one column a blank line is a record holding one NULL
 * (the writer emits exactly that for a NULL, so it must read back).  With
 * more columns a blank line is a ragged record and an error, unless nothing
 * but line breaks follows it to the end of the input: trailing blank lines
 * are ignored.  Text after the last line break is a record like any other.
 *
 * Error positions are origin:line:column, 1-based: the line counts physical
 * lines (a newline inside quotes advances it) and the column counts
 * characters on that line up to the point of the error: the start of a
 * bad value (its opening quote if quoted), the bad byte of invalid UTF-8,
 * where a missing field was due, or the first extra field.  Messages also
 * name the column by its schema name.
 */
#include "csv_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- input files ------------------------------------------------------- */

int canon__csv_file_open(const char *path, cr_file *f, canon_error *err) {
  memset(f, 0, sizeof *f);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return canon__seterr(err, CANON_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return canon__seterr(err, CANON_ERR_IO, "cannot stat '%s': %s", path, strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return canon__seterr(err, CANON_ERR_IO, "cannot read '%s': is a directory", path);
  }
  if (S_ISREG(st.st_mode)) {
    if (st.st_size > 0) {
      void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m == MAP_FAILED) {
        int e = errno;
        close(fd);
        return canon__seterr(err, CANON_ERR_IO, "cannot map '%s': %s", path, strerror(e));
      }
      madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
      f->map = m;
      f->data = m;
      f->len = (size_t)st.st_size;
    }
    close(fd);
    return 0;
  }
  /* Pipes and devices: read to the end. */
  size_t cap = 65536, len = 0;
  char *buf = canon__malloc(cap);
  for (;;) {
    if (!buf) {
      close(fd);
      return canon__nomem(err);
    }
    ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      free(buf);
      close(fd);
      return canon__seterr(err, CANON_ERR_IO, "cannot read '%s': %s", path, strerror(e));
    }
    if (r == 0) break;
    len += (size_t)r;
    if (len == cap) {
      char *nb = cap > SIZE_MAX / 2 ? NULL : canon__realloc(buf, cap * 2);
      if (!nb) free(buf);
      buf = nb;
      cap *= 2;
    }
  }
  close(fd);
  f->heap = buf;
  f->data = buf;
  f->len = len;
  return 0;
}

void canon__csv_file_close(cr_file *f) {
  if (f->map) munmap(f->map, f->len);
  free(f->heap);
  memset(f, 0, sizeof *f);
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* The first byte that is not well-formed UTF-8; see csv_internal.h. */
size_t canon__csv_utf8_bad(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    /* ASCII runs eight bytes at a time. */
    while (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;  /* range of the first continuation byte */
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) need = 2, lo = 0xA0;
    else if (c == 0xED) need = 2, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) need = 2;
    else if (c == 0xF0) need = 3, lo = 0x90;
    else if (c == 0xF4) need = 3, hi = 0x8F;
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else return i;
    if (i + need >= n) return i;
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (size_t k = 2; k <= need; k++)
      if ((s[i + k] & 0xC0) != 0x80) return i;
    i += need + 1;
  }
  return n;
}

/* ---- the field scanner ------------------------------------------------- */

int canon__csv_parser_init(cr_parser *ps, const char *origin, const char *buf, size_t len,
                          char delim, canon_error *err) {
  memset(ps, 0, sizeof *ps);
  if (delim == 0) delim = ',';
  if (delim == '"' || delim == '\n' || delim == '\r')
    return canon__seterr(err, CANON_ERR_INVALID, "%s: invalid CSV delimiter", origin);
  ps->origin = origin;
  ps->base = buf ? buf : "";
  ps->total_end = ps->base + len;
  ps->p = ps->lstart = ps->base;
  ps->end = ps->total_end;
  ps->line = 1;
  ps->delim = delim;
  ps->stop[(unsigned char)delim] = ps->stop['\n'] = ps->stop['\r'] = ps->stop['"'] = 1;
  ps->err = err;
  return 0;
}

/* Put the cursor at p, the start of `line` (range reads, BOM skip). */
static void cr_seek(cr_parser *ps, const char *p, int64_t line) {
  ps->p = ps->lstart = p;
  ps->line = line;
}

/* Fill err with "origin:line:column: <message>"; the column counts
 * characters (UTF-8 lead bytes) from the line start ls to at, from 1. */
static int cr_err_at(cr_parser *ps, int64_t line, const char *ls, const char *at,
                     const char *fmt, ...) CANON__PRINTF(5, 6);
static int cr_err_at(cr_parser *ps, int64_t line, const char *ls, const char *at,
                     const char *fmt, ...) {
  if (!ps->err) return CANON_ERR_PARSE;
  int64_t col = 1;
  for (const char *q = ls; q < at; q++) col += ((unsigned char)*q & 0xC0) != 0x80;
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return canon__seterr(ps->err, CANON_ERR_PARSE, "%s:%" PRId64 ":%" PRId64 ": %s", ps->origin,
                       line, col, msg);
}

/* Read one field at the cursor; *term says what ended it. */
static int cr_next_field(cr_parser *ps, cr_field *f, int *term) {
  const char *p = ps->p, *end = ps->end;
  f->at = p;
  f->line = ps->line;
  f->lstart = ps->lstart;
  f->quoted = false;
  if (p < end && *p == '"') {
    const char *start = ++p, *last_nl = NULL;
    bool escaped = false;
    int64_t nl = 0;
    for (;;) {
      for (; p < end && *p != '"'; p++)
        if (*p == '\n') nl++, last_nl = p;
      if (p >= end)
        return cr_err_at(ps, f->line, f->lstart, f->at, "quoted field is not closed");
      if (p + 1 < end && p[1] == '"') {
        escaped = true;
        p += 2;
        continue;
      }
      break;
    }
    f->quoted = true;
    f->s = f->raw = start;
    f->n = f->rawn = (size_t)(p - start);
    p++;  /* the closing quote */
    if (nl) {
      ps->line += nl;
      ps->lstart = last_nl + 1;
    }
    if (escaped) {  /* fold "" into " in the scratch buffer */
      if (f->n > ps->scratch_cap) {
        size_t cap = f->n < 256 ? 256 : f->n * 2;
        char *ns = canon__realloc(ps->scratch, cap);
        if (!ns) return canon__nomem(ps->err);
        ps->scratch = ns;
        ps->scratch_cap = cap;
      }
      size_t k = 0;
      for (size_t i = 0; i < f->n; i++) {
        ps->scratch[k++] = f->s[i];
        if (f->s[i] == '"') i++;
      }
      f->s = ps->scratch;
      f->n = k;
    }
    if (p < end && *p != ps->delim && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n'))
      return cr_err_at(ps, ps->line, ps->lstart, p, "unexpected text after a closing quote");
  } else {
    const char *start = p;
    while (p < end && !ps->stop[(unsigned char)*p]) p++;
    f->s = f->raw = start;
    f->n = f->rawn = (size_t)(p - start);
    if (p < end && *p == '"')
      return cr_err_at(ps, ps->line, ps->lstart, p,
                       "quote inside an unquoted field (quote the whole field and double "
                       "the quote)");
    if (p < end && *p == '\r' && !(p + 1 < end && p[1] == '\n'))
      return cr_err_at(ps, ps->line, ps->lstart, p, "carriage return outside quotes");
  }
  ps->term_at = p;
  ps->term_line = ps->line;
  ps->term_lstart = ps->lstart;
  if (p >= end) {
    *term = CR_EOF;
  } else if (*p == ps->delim) {
    *term = CR_DELIM;
    p++;
  } else {  /* "\n" or "\r\n" */
    *term = CR_EOL;
    p += *p == '\r' ? 2 : 1;
    ps->line++;
    ps->lstart = p;
  }
  ps->p = p;
  return 0;
}

/* Check field f for well-formed UTF-8; the error points at the bad byte.
 * The raw bytes are checked: "" escapes are ASCII, so validity is the
 * same, and positions stay those of the input. */
static int cr_check_utf8(cr_parser *ps, const cr_field *f, const char *name) {
  size_t bad = canon__csv_utf8_bad(f->raw, f->rawn);
  if (bad == f->rawn) return 0;
  int64_t line = f->line;
  const char *ls = f->lstart;
  for (const char *q = f->raw; q < f->raw + bad; q++)
    if (*q == '\n') line++, ls = q + 1;
  return cr_err_at(ps, line, ls, f->raw + bad, "column '%s': invalid UTF-8", name);
}

/* Is everything from p to the end of the input line breaks? */
static bool cr_only_breaks(const char *p, const char *end) {
  for (; p < end; p++)
    if (*p != '\n' && *p != '\r') return false;
  return true;
}

/* ---- header ------------------------------------------------------------ */

void canon__csv_skip_bom(cr_parser *ps) {
  if (ps->end - ps->p >= 3 && memcmp(ps->p, "\xEF\xBB\xBF", 3) == 0) cr_seek(ps, ps->p + 3, 1);
}

/* Free the first n of a malloc'd array of names and the array. */
static void cr_free_names(char **names, int n) {
  for (int j = 0; names && j < n; j++) free(names[j]);
  free(names);
}

/* Check header field f (column col) against the schema's name. */
static int cr_header_check(cr_parser *ps, const canon_schema *schema, const cr_field *f,
                           int col) {
  if (col > schema->n)
    return cr_err_at(ps, f->line, f->lstart, f->at,
                     "header has more columns than the schema's %d", schema->n);
  const char *want = schema->names[col - 1];
  if (strlen(want) == f->n && memcmp(want, f->s, f->n) == 0) return 0;
  char got[96];
  snprintf(got, sizeof got, "%.*s", f->n > 60 ? 60 : (int)f->n, f->s);
  for (char *q = got; *q; q++)
    if ((unsigned char)*q < 0x20) *q = '?';
  return cr_err_at(ps, f->line, f->lstart, f->at, "header column %d is '%s', expected '%s'",
                   col, got, want);
}

/* Add header field f (column col) to names[0..col-1), refusing empty,
 * NUL-holding and duplicate names. */
static int cr_header_collect(cr_parser *ps, const cr_field *f, int col, char ***names,
                             int *cap) {
  if (f->n == 0 || memchr(f->s, '\0', f->n))
    return cr_err_at(ps, f->line, f->lstart, f->at, "header column %d has %s", col,
                     f->n ? "a NUL byte in its name" : "an empty name");
  for (int j = 0; j < col - 1; j++)
    if (strlen((*names)[j]) == f->n && memcmp((*names)[j], f->s, f->n) == 0)
      return cr_err_at(ps, f->line, f->lstart, f->at,
                       "duplicate column name '%s' (columns %d and %d)", (*names)[j], j + 1,
                       col);
  if (col > *cap) {
    int ncap = *cap ? *cap * 2 : 16;
    char **nn = canon__reallocarray(*names, (size_t)ncap, sizeof *nn);
    if (!nn) return canon__nomem(ps->err);
    *names = nn;
    *cap = ncap;
  }
  (*names)[col - 1] = canon__strndup(f->s, f->n);
  return (*names)[col - 1] ? 0 : canon__nomem(ps->err);
}

/* Read the header.  With `schema`, check its names against the schema's;
 * otherwise collect them into *names (malloc'd strings, *nnames of them). */
int canon__csv_header(cr_parser *ps, const canon_schema *schema, char ***names, int *nnames) {
  if (ps->p >= ps->end)
    return cr_err_at(ps, 1, ps->p, ps->p, "missing header (the input is empty)");
  int ncol = 0, term = CR_DELIM, cap = 0, rc = 0;
  char **out = NULL;
  while (rc == 0 && term == CR_DELIM) {
    cr_field f = {0};  /* zeroed: -O3 cannot tell that a 0 return sets it */
    if ((rc = cr_next_field(ps, &f, &term)) != 0) break;
    if ((rc = cr_check_utf8(ps, &f, "(header)")) != 0) break;
    rc = schema ? cr_header_check(ps, schema, &f, ncol + 1)
                : cr_header_collect(ps, &f, ncol + 1, &out, &cap);
    if (rc == 0) ncol++;
  }
  if (rc == 0 && schema && ncol < schema->n)
    rc = cr_err_at(ps, ps->term_line, ps->term_lstart, ps->term_at,
                   "header has %d column%s, the schema %d (missing '%s')", ncol,
                   ncol == 1 ? "" : "s", schema->n, schema->names[ncol]);
  if (rc != 0 || !names) {
    cr_free_names(out, ncol);
    return rc;
  }
  *names = out;
  *nnames = ncol;
  return 0;
}

/* ---- records: the general path ----------------------------------------- */

/* Type-inference state of one column: candidate types still possible. */
#define CR_CANDIDATES 5
static const canon_type cr_order[CR_CANDIDATES] = {CANON_BOOL, CANON_INT64, CANON_FLOAT64,
                                                   CANON_DATE, CANON_TIMESTAMP};
#define CR_SEEN (1u << CR_CANDIDATES)  /* the column held a non-NULL value */

/* Read field c of a record the general way; see csv_internal.h. */
int canon__csv_field_general(cr_parser *ps, const canon_schema *schema,
                             canon__colbuilder *cbs, unsigned *cand, int c, int *term,
                             bool *blank_tail) {
  int ncols = schema->n;
  cr_field f = {0};  /* zeroed: -O3 cannot tell that a 0 return sets it */
  int rc = cr_next_field(ps, &f, term);
  if (rc) return rc;
  if (c < ncols - 1 && *term != CR_DELIM) {
    if (c == 0 && f.n == 0 && !f.quoted && cr_only_breaks(ps->p, ps->total_end)) {
      ps->p = ps->end;  /* trailing blank lines */
      *blank_tail = true;
      return 0;
    }
    /* Point just past the last field, where the next was due. */
    return cr_err_at(ps, ps->term_line, ps->term_lstart, ps->term_at,
                     "expected %d fields, found %d", ncols, c + 1);
  }
  canon_type t = schema->types[c];
  if (!f.quoted && f.n == 0) {  /* NULL */
    if (cbs && canon__cb_null(&cbs[c]) != 0) return canon__nomem(ps->err);
    return 0;
  }
  if (t == CANON_STRING) {
    if ((rc = cr_check_utf8(ps, &f, schema->names[c])) != 0) return rc;
    if (cbs && canon__cb_str(&cbs[c], f.s, f.n) != 0) return canon__nomem(ps->err);
    return 0;
  }
  if (cand) {
    if ((rc = cr_check_utf8(ps, &f, schema->names[c])) != 0) return rc;
    cand[c] |= CR_SEEN;
    canon__value v;
    for (int k = 0; k < CR_CANDIDATES; k++)
      if ((cand[c] & (1u << k)) &&
          (f.n == 0 || canon__parse_value(cr_order[k], f.s, f.n, false, &v, NULL) != 0))
        cand[c] &= ~(1u << k);
    return 0;
  }
  canon__value v;
  if (canon__parse_value(t, f.s, f.n, false, &v, NULL) != 0) {
    if ((rc = cr_check_utf8(ps, &f, schema->names[c])) != 0) return rc;
    canon_error sub;
    canon_error_clear(&sub);
    int code = canon__parse_value(t, f.s, f.n, false, &v, &sub);
    if (code == CANON_ERR_NOMEM) return canon__nomem(ps->err);
    return cr_err_at(ps, f.line, f.lstart, f.at, "column '%s': %s", schema->names[c],
                     sub.message);
  }
  switch (t) {
  case CANON_BOOL: rc = canon__cb_bool(&cbs[c], v.v.b); break;
  case CANON_INT64:
  case CANON_TIMESTAMP: rc = canon__cb_i64(&cbs[c], v.v.i); break;
  case CANON_FLOAT64: rc = canon__cb_f64(&cbs[c], v.v.f); break;
  case CANON_DATE: rc = canon__cb_i32(&cbs[c], v.v.d); break;
  default: rc = CANON_ERR_INTERNAL; break;
  }
  return rc ? canon__nomem(ps->err) : 0;
}

/* The error for a record with too many fields; see csv_internal.h. */
int canon__csv_too_many_fields(cr_parser *ps, int ncols) {
  int64_t line = ps->line;
  const char *ls = ps->lstart, *at = ps->p;
  int found = ncols + 1, term = CR_DELIM;
  bool exact = true;
  cr_field f;
  canon_error *keep = ps->err;
  ps->err = NULL;
  while (term == CR_DELIM) {
    if (cr_next_field(ps, &f, &term) != 0) {
      exact = false;
      break;
    }
    if (term == CR_DELIM) found++;
  }
  ps->err = keep;
  return cr_err_at(ps, line, ls, at, "expected %d field%s, found %s%d", ncols,
                   ncols == 1 ? "" : "s", exact ? "" : "at least ", found);
}

/* ---- building a table -------------------------------------------------- */

/* Parse the records of [ps->p, ps->end) into a table with the schema. */
static canon_table *cr_build(cr_parser *ps, const canon_schema *schema,
                             const canon__csv_dest *dest) {
  int ncols = schema->n;
  /* Line breaks bound the record count: pre-size the builders once. */
  int64_t expect = dest ? dest->rows_max : 1 + cr_count_newlines(ps->p, (size_t)(ps->end - ps->p));
  canon__colbuilder *cbs = canon__calloc((size_t)(ncols ? ncols : 1), sizeof *cbs);
  canon__column **cols = canon__calloc((size_t)(ncols ? ncols : 1), sizeof *cols);
  canon_table *t = NULL;
  int inited = 0;
  if (!cbs || !cols) goto oom;
  for (; inited < ncols; inited++) {
    canon__buffer *into = dest ? dest->cols[inited] : NULL;
    if (into && schema->types[inited] != CANON_STRING) {
      /* The builder writes its window of the kept column. */
      size_t w = canon__type_width(schema->types[inited]);
      cbs[inited] = (canon__colbuilder){.type = schema->types[inited]};
      cbs[inited].values = canon__buffer_window(into, (size_t)dest->row_at * w,
                                                (size_t)dest->rows_max * w);
      if (!cbs[inited].values) goto oom;
    } else if (canon__cb_init(&cbs[inited], schema->types[inited], expect) != 0) {
      goto oom;
    }
  }
  int64_t nrows = 0;
  if (ncols == 0) {
    canon__seterr(ps->err, CANON_ERR_INVALID, "%s: the schema has no columns", ps->origin);
    goto done;
  }
  if (canon__csv_records(ps, schema, cbs, NULL, -1, &nrows) != 0) goto done;
  for (int c = 0; c < ncols; c++)
    if (!(cols[c] = canon__cb_finish(&cbs[c]))) goto oom;
  t = canon__table_make(schema, cols, nrows, ps->err);
  goto done;
oom:
  canon__nomem(ps->err);
done:
  for (int c = 0; c < inited; c++) canon__cb_reset(&cbs[c]);
  if (cols)
    for (int c = 0; c < ncols; c++) canon__column_unref(cols[c]);
  free(cbs);
  free(cols);
  return t;
}

/* ---- public entry points ----------------------------------------------- */

/* Parse CSV text in memory; see kernels.h. */
canon_table *canon__csv_parse_buffer(const char *buf, size_t len, const char *origin,
                                     char delim, const canon_schema *schema,
                                     bool has_header, canon_error *err) {
  cr_parser ps;
  if (!schema) {
    canon__seterr(err, CANON_ERR_INVALID, "CSV parse needs a schema");
    return NULL;
  }
  if (!origin) origin = "<csv>";
  if (canon__csv_parser_init(&ps, origin, buf, len, delim, err) != 0) return NULL;
  canon_table *t = NULL;
  if (has_header) {
    canon__csv_skip_bom(&ps);
    if (canon__csv_header(&ps, schema, NULL, NULL) != 0) goto out;
  }
  t = cr_build(&ps, schema, NULL);
out:
  free(ps.scratch);
  return t;
}

/* Parse the records of one range of a file; see kernels.h. */
canon_table *canon__csv_read_range(const char *path, char delim, const canon_schema *schema,
                                   const canon__csv_range *range, const canon__csv_dest *dest,
                                   canon_error *err) {
  if (!schema || !range) {
    canon__seterr(err, CANON_ERR_INVALID, "CSV range read needs a schema and a range");
    return NULL;
  }
  cr_file f;
  if (canon__csv_file_open(path, &f, err) != 0) return NULL;
  canon_table *t = NULL;
  cr_parser ps;
  if (range->begin < 0 || range->end < range->begin || (uint64_t)range->end > f.len) {
    canon__seterr(err, CANON_ERR_INVALID,
                  "%s: range %" PRId64 "..%" PRId64 " is outside the file (%zu bytes; did it "
                  "change?)",
                  path, range->begin, range->end, f.len);
    goto out;
  }
  if (canon__csv_parser_init(&ps, path, f.data, f.len, delim, err) != 0) goto out;
  cr_seek(&ps, ps.base + range->begin, range->first_line > 0 ? range->first_line : 1);
  ps.end = ps.base + range->end;
  t = cr_build(&ps, schema, dest);
  free(ps.scratch);
out:
  canon__csv_file_close(&f);
  return t;
}

/* Infer a schema from the header and a sample of records; see kernels.h. */
canon_schema *canon__csv_infer(const char *path, char delim, int64_t sample_rows,
                               canon_error *err) {
  if (sample_rows <= 0) sample_rows = 10000;
  cr_file f;
  if (canon__csv_file_open(path, &f, err) != 0) return NULL;
  canon_schema *out = NULL, *tmp = NULL;
  char **names = NULL;
  int nnames = 0;
  unsigned *cand = NULL;
  cr_parser ps;
  if (canon__csv_parser_init(&ps, path, f.data, f.len, delim, err) != 0) goto out;
  canon__csv_skip_bom(&ps);
  if (canon__csv_header(&ps, NULL, &names, &nnames) != 0) goto out;
  /* Sample with every column declared float64 (any non-string type would
   * do: it routes fields to the narrowing code) while cand narrows each
   * column's candidate types. */
  tmp = canon_schema_new();
  cand = canon__calloc((size_t)nnames, sizeof *cand);
  if (!tmp || !cand) {
    canon__nomem(err);
    goto out;
  }
  for (int c = 0; c < nnames; c++) {
    if (canon_schema_add(tmp, names[c], CANON_FLOAT64, err) != 0) goto out;
    cand[c] = (1u << CR_CANDIDATES) - 1;
  }
  int64_t nrows;
  if (canon__csv_records(&ps, tmp, NULL, cand, sample_rows, &nrows) != 0) goto out;
  out = canon_schema_new();
  if (!out) {
    canon__nomem(err);
    goto out;
  }
  for (int c = 0; c < nnames; c++) {
    canon_type t = CANON_STRING;  /* also for a column with no value */
    for (int k = 0; (cand[c] & CR_SEEN) && k < CR_CANDIDATES; k++)
      if (cand[c] & (1u << k)) {
        t = cr_order[k];
        break;
      }
    if (canon_schema_add(out, names[c], t, err) != 0) {
      canon_schema_free(out);
      out = NULL;
      break;
    }
  }
out:
  free(ps.scratch);
  cr_free_names(names, nnames);
  free(cand);
  canon_schema_free(tmp);
  canon__csv_file_close(&f);
  return out;
}

/* Build a small table from a schema line and header-less CSV rows. */
canon_table *canon_table_from_csv_text(const char *schema, const char *rows, canon_error *err) {
  canon_schema *s = canon_schema_parse(schema, err);
  if (!s) return NULL;
  canon_table *t =
      canon__csv_parse_buffer(rows ? rows : "", rows ? strlen(rows) : 0, "<text>", ',', s,
                              false, err);
  canon_schema_free(s);
  return t;
}
