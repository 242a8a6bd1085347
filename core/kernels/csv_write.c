/* csv_write.c — CSV output (SEMANTICS §10): header then rows, in the
 * dialect csv_read.c reads, so that reading what was written gives back
 * the same table bit for bit.
 *
 * A NULL is an empty unquoted field; a string is quoted when it is empty
 * or holds the delimiter, '"', '\n' or '\r' (quotes doubled inside); other
 * types never need quotes.  Floats use the shortest text that reads back
 * (canon__format_f64).  The atomic writer goes through a temporary file
 * beside the target and a rename, so readers see the old file or the whole
 * new one, and a failure leaves nothing behind.
 */
#include "kernels.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- buffered output --------------------------------------------------- */

#define CW_BUFSZ (1u << 16)

typedef struct cw_out {
  FILE *f;
  size_t n;
  canon_error *err;
  char buf[CW_BUFSZ];
} cw_out;

static int cw_flush(cw_out *o) {
  if (o->n && fwrite(o->buf, 1, o->n, o->f) != o->n)
    return canon__seterr(o->err, CANON_ERR_IO, "CSV write failed: %s",
                         strerror(errno ? errno : EIO));
  o->n = 0;
  return 0;
}

/* Make room for at least `need` bytes (need <= CW_BUFSZ). */
static inline int cw_room(cw_out *o, size_t need) {
  return o->n + need > CW_BUFSZ ? cw_flush(o) : 0;
}

static int cw_put(cw_out *o, const char *s, size_t len) {
  while (len > 0) {
    if (o->n == CW_BUFSZ && cw_flush(o) != 0) return CANON_ERR_IO;
    size_t k = CW_BUFSZ - o->n < len ? CW_BUFSZ - o->n : len;
    memcpy(o->buf + o->n, s, k);
    o->n += k;
    s += k;
    len -= k;
  }
  return 0;
}

/* Does a string need quotes to read back as itself? */
static bool cw_needs_quotes(const char *s, size_t len) {
  if (len == 0) return true;  /* "" is the empty string, nothing is NULL */
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == ',' || c == '"' || c == '\n' || c == '\r') return true;
  }
  return false;
}

/* A string field, quoted when needed. */
static int cw_string(cw_out *o, const char *s, size_t len) {
  if (!cw_needs_quotes(s, len)) return cw_put(o, s, len);
  if (cw_put(o, "\"", 1) != 0) return CANON_ERR_IO;
  const char *run = s, *end = s + len;
  for (const char *q; (q = memchr(run, '"', (size_t)(end - run))) != NULL; run = q + 1)
    if (cw_put(o, run, (size_t)(q - run) + 1) != 0 || cw_put(o, "\"", 1) != 0)
      return CANON_ERR_IO;
  if (cw_put(o, run, (size_t)(end - run)) != 0) return CANON_ERR_IO;
  return cw_put(o, "\"", 1);
}

/* Decimal text of v at dst (20 bytes are enough); returns the length. */
static size_t cw_i64(char *dst, int64_t v) {
  char tmp[24];
  int k = 0;
  uint64_t u = v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
  do {
    tmp[k++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  size_t n = 0;
  if (v < 0) dst[n++] = '-';
  while (k) dst[n++] = tmp[--k];
  return n;
}

/* ---- tables ------------------------------------------------------------ */

static int cw_table_rows(cw_out *o, const canon_table *t) {
  int ncols = t->schema->n;
  for (int64_t r = 0; r < t->nrows; r++) {
    for (int c = 0; c < ncols; c++) {
      const canon__column *col = t->cols[c];
      if (cw_room(o, 72) != 0) return CANON_ERR_IO;
      if (c) o->buf[o->n++] = ',';
      if (!canon__valid(col, r)) continue;
      switch (col->type) {
      case CANON_STRING: {
        size_t len;
        const char *s = canon__str(col, r, &len);
        if (cw_string(o, s, len) != 0) return CANON_ERR_IO;
        break;
      }
      case CANON_INT64:
        o->n += cw_i64(o->buf + o->n, canon__i64(col)[r]);
        break;
      case CANON_FLOAT64:
        o->n += canon__format_f64(canon__f64(col)[r], o->buf + o->n, 64);
        break;
      default:  /* bool, date, timestamp: at most ~32 bytes */
        o->n += canon__format_cell(col, r, o->buf + o->n, 64);
        break;
      }
    }
    if (cw_room(o, 1) != 0) return CANON_ERR_IO;
    o->buf[o->n++] = '\n';
  }
  return 0;
}

/* Header and rows of every part, parts sharing parts[0]'s schema. */
static int cw_write(FILE *f, const canon_table *const *parts, int n, canon_error *err) {
  if (!f || !parts || n < 1 || !parts[0])
    return canon__seterr(err, CANON_ERR_INVALID, "CSV write needs a file and at least one table");
  const canon_schema *s = parts[0]->schema;
  for (int i = 1; i < n; i++)
    if (!parts[i] || !canon__schema_equal(parts[i]->schema, s))
      return canon__seterr(err, CANON_ERR_INVALID,
                           "CSV write: part %d has a different schema than part 0", i);
  cw_out *o = canon__malloc(sizeof *o);
  if (!o) return canon__nomem(err);
  o->f = f;
  o->n = 0;
  o->err = err;
  errno = 0;
  int rc = 0;
  for (int c = 0; c < s->n && rc == 0; c++) {
    if (c) rc = cw_put(o, ",", 1);
    if (rc == 0) rc = cw_string(o, s->names[c], strlen(s->names[c]));
  }
  if (rc == 0) rc = cw_put(o, "\n", 1);
  for (int i = 0; i < n && rc == 0; i++) rc = cw_table_rows(o, parts[i]);
  if (rc == 0) rc = cw_flush(o);
  free(o);
  return rc;
}

/* Write tables as one CSV document; see kernels.h. */
int canon__csv_write(FILE *f, canon_table *const *parts, int n, canon_error *err) {
  return cw_write(f, (const canon_table *const *)parts, n, err);
}

/* Write the table as CSV (header + rows). */
int canon_table_write_csv_file(const canon_table *t, FILE *f, canon_error *err) {
  if (!t) return canon__seterr(err, CANON_ERR_INVALID, "CSV write: table is NULL");
  int rc = cw_write(f, &t, 1, err);
  if (rc == 0 && fflush(f) != 0)
    rc = canon__seterr(err, CANON_ERR_IO, "CSV write failed: %s", strerror(errno));
  return rc;
}

/* Format one value as its CSV text; returns the length needed. */
size_t canon_table_format_value(const canon_table *t, int col, int64_t row, char *buf,
                                size_t cap) {
  if (!t || col < 0 || col >= t->schema->n || row < 0 || row >= t->nrows) {
    if (buf && cap) buf[0] = '\0';
    return 0;
  }
  return canon__format_cell(t->cols[col], row, buf, buf ? cap : 0);
}

/* ---- atomic write ------------------------------------------------------ */

/* Write to a temporary file beside path, fsync, rename; see kernels.h. */
int canon__csv_write_atomic(const char *path, canon_table *const *parts, int n,
                            canon_error *err) {
  if (!path || !*path) return canon__seterr(err, CANON_ERR_INVALID, "CSV write: empty path");
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (!*base)
    return canon__seterr(err, CANON_ERR_INVALID, "CSV write: '%s' names a directory", path);
  /* Same directory as the target, so rename() stays on one file system. */
  int dirlen = slash ? (int)(slash - path) : 0;
  char *tmp = slash ? canon__asprintf("%.*s/.%s.tmp-XXXXXX", dirlen, path, base)
                    : canon__asprintf(".%s.tmp-XXXXXX", base);
  if (!tmp) return canon__nomem(err);
  int fd = mkostemp(tmp, O_CLOEXEC);  /* mode 0600 until complete */
  if (fd < 0) {
    int rc = canon__seterr(err, CANON_ERR_IO, "cannot create a temporary file for '%s': %s",
                           path, strerror(errno));
    free(tmp);
    return rc;
  }
  int rc = 0;
  FILE *f = fdopen(fd, "w");
  if (!f) {
    rc = canon__seterr(err, CANON_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
    close(fd);
    goto fail;
  }
  rc = canon__csv_write(f, parts, n, err);
  if (rc == 0 && fflush(f) != 0)
    rc = canon__seterr(err, CANON_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
  if (rc == 0 && fsync(fd) != 0)
    rc = canon__seterr(err, CANON_ERR_IO, "cannot sync '%s': %s", path, strerror(errno));
  if (rc == 0 && fchmod(fd, 0644) != 0)
    rc = canon__seterr(err, CANON_ERR_IO, "cannot set the mode of '%s': %s", path,
                       strerror(errno));
  if (fclose(f) != 0 && rc == 0)
    rc = canon__seterr(err, CANON_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
  if (rc) goto fail;
  if (rename(tmp, path) != 0) {
    rc = canon__seterr(err, CANON_ERR_IO, "cannot rename the temporary file to '%s': %s",
                       path, strerror(errno));
    goto fail;
  }
  /* Make the rename itself durable; a directory that cannot be synced
   * (some file systems refuse) does not undo a complete write. */
  char *dir = slash ? canon__strndup(path, dirlen ? (size_t)dirlen : 1) : canon__strdup(".");
  if (dir) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)fsync(dfd);
      close(dfd);
    }
    free(dir);
  }
  free(tmp);
  return 0;
fail:
  unlink(tmp);
  free(tmp);
  return rc;
}
