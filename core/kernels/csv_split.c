/* csv_split.c — cutting a CSV file into byte ranges of whole records, one
 * per partition, and bounding the records of each (csv_internal.h).
 *
 * A record starts after a newline outside quotes, so a cut must know the
 * quote parity of every byte before it.  When no quote comes before the
 * last cut (most files), every newline ends a record: the cuts are found
 * by looking for the first newline past each share of the bytes, and the
 * ranges' line breaks (their first lines, for error positions) are counted
 * on every core.  Otherwise one quote-aware pass on one core cuts them.
 * Both give the same ranges (tests compare them with the rule written out
 * byte by byte). */
#include "csv_internal.h"

#include <inttypes.h>

/* 0x80 in each byte of w that is zero, 0 in the others (exact: no borrow
 * crosses bytes). */
static inline uint64_t cr_zero_bytes(uint64_t w) {
  const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
  return ~(((w & low7) + low7) | w | low7);
}

/* The quote-aware cut of [body, len) into n ranges (r[0].begin and
 * r[0].first_line = `line` set): one pass, a record starting after a
 * newline outside quotes (quote parity: "" escapes toggle twice), range k
 * closed at the first record start at or past its share of the bytes.
 * Returns the index of the last range that holds records. */
static int cut_scanning(const char *s, int64_t body, int64_t len, int64_t line, int n,
                        canon__csv_range *r) {
  int k = 0;
  bool inq = false;
  int64_t target = body + (len - body) / n;
  for (int64_t i = body; i < len && k < n - 1; i++) {
    /* Far from the next cut, outside quotes: 64 bytes, then eight at
     * a time, counting the newlines of blocks without a quote. */
    while (!inq && i + 64 < target && i + 64 <= len) {
      bool quote;
      unsigned nls = cr_block64(s + i, &quote);
      if (quote) break;
      line += nls;
      i += 64;
    }
    while (!inq && i + 8 < target && i + 8 <= len) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      uint64_t nl = cr_zero_bytes(w ^ 0x0a0a0a0a0a0a0a0aULL);
      if (cr_zero_bytes(w ^ 0x2222222222222222ULL)) break;
      line += (int64_t)(((nl >> 7) * 0x0101010101010101ULL) >> 56); /* bytes set */
      i += 8;
    }
    if (i >= len) break;
    char c = s[i];
    if (c == '"') {
      inq = !inq;
    } else if (c == '\n') {
      line++;
      if (!inq && i + 1 >= target && i + 1 < len) {
        r[k].end = i + 1;
        k++;
        r[k].begin = i + 1;
        r[k].first_line = line;
        target = body + (len - body) * (k + 1) / n;
      }
    }
  }
  return k;
}

/* Counting the line breaks of ranges 0..n-1 and whether a quote is among
 * them, a range at a time on several threads. */
typedef struct cut_count {
  const char *s;
  const canon__csv_range *r;
  int n;
  int64_t *lines;
  int next;   /* the next range (shared by the counting threads) */
  int quoted; /* set (atomically) on the first quote: the count is over */
} cut_count;

static void *cut_count_worker(void *arg) {
  cut_count *c = arg;
  for (int k; !__atomic_load_n(&c->quoted, __ATOMIC_RELAXED) &&
              (k = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED)) < c->n;) {
    const char *p = c->s + c->r[k].begin;
    size_t len = (size_t)(c->r[k].end - c->r[k].begin);
    int64_t lines = 0;
    bool q = false;
    /* 4 KiB at a time: a quote ends the count soon after it (and between
     * looks at the flag the blocks stay independent). */
    for (size_t i = 0; i < len && !q; i += 4096)
      lines += cr_count_lines_quotes(p + i, len - i < 4096 ? len - i : 4096, &q);
    if (q) __atomic_store_n(&c->quoted, 1, __ATOMIC_RELAXED);
    c->lines[k] = lines;
  }
  return NULL;
}

/* The same cut when no quote comes before the last cut, found on every
 * core: then every newline ends a record, so range k closes at the first
 * newline at or past its share (and past the previous cut), and the
 * ranges' line breaks, counted in parallel, give their first lines.
 * Returns the last range holding records as cut_scanning does, or -1 when
 * a quote shows up before the last cut or memory is short (r[0].end and
 * r[1..] may then hold anything: cut_scanning and its caller set them). */
static int cut_unquoted(const char *s, int64_t body, int64_t len, int n, canon__csv_range *r) {
  int k = 0;
  int64_t from = body;
  for (; k < n - 1; k++) {
    int64_t target = body + (len - body) * (k + 1) / n;
    int64_t at = target - 1 > from ? target - 1 : from;
    const char *nl = at < len ? memchr(s + at, '\n', (size_t)(len - at)) : NULL;
    if (!nl || nl - s + 1 >= len) break;
    r[k].end = r[k + 1].begin = from = nl - s + 1;
  }
  r[k].end = len;
  /* (the last range may hold quotes: they do not move a cut) */
  cut_count c = {s, r, k, canon__calloc((size_t)k + 1, sizeof(int64_t)), 0, 0};
  int last = c.lines ? k : -1;
  if (last > 0) {
    canon__run_threads(cut_count_worker, &c, canon__threads_for((size_t)(r[k].begin - body)));
    if (c.quoted) last = -1;
    for (int j = 0; j < k && last >= 0; j++) r[j + 1].first_line = r[j].first_line + c.lines[j];
  }
  free(c.lines);
  return last;
}

/* Check the header and cut the records into n ranges; see kernels.h. */
int canon__csv_split(const char *path, char delim, const canon_schema *schema, int n,
                     canon__csv_range **ranges, canon_error *err) {
  *ranges = NULL;
  if (!schema || n < 1)
    return canon__seterr(err, CANON_ERR_INVALID, "CSV split needs a schema and n >= 1");
  cr_file f;
  int rc = canon__csv_file_open(path, &f, err);
  if (rc) return rc;
  cr_parser ps;
  if ((rc = canon__csv_parser_init(&ps, path, f.data, f.len, delim, err)) != 0) goto out;
  canon__csv_skip_bom(&ps);
  if ((rc = canon__csv_header(&ps, schema, NULL, NULL)) != 0) goto out;
  canon__csv_range *r = canon__calloc((size_t)n, sizeof *r);
  if (!r) {
    rc = canon__nomem(err);
    goto out;
  }
  int64_t body = ps.p - ps.base, len = (int64_t)f.len;
  r[0].begin = body;
  r[0].first_line = ps.line;
  int k = 0;
  if (n > 1 && (k = cut_unquoted(f.data, body, len, n, r)) < 0)
    k = cut_scanning(f.data, body, len, ps.line, n, r);
  r[k].end = len;
  for (int j = k + 1; j < n; j++) {  /* ranges with nothing left to hold */
    r[j].begin = r[j].end = len;
    r[j].first_line = r[k].first_line;
  }
  *ranges = r;
out:
  free(ps.scratch);
  canon__csv_file_close(&f);
  return rc;
}

/* Bound the records of each range; see kernels.h. */
int canon__csv_rows_max(const char *path, const canon__csv_range *ranges, int n,
                        int64_t *rows_max, canon_error *err) {
  cr_file f;
  int rc = canon__csv_file_open(path, &f, err);
  if (rc) return rc;
  for (int k = 0; k < n && !rc; k++) {
    const canon__csv_range *r = &ranges[k];
    if (r->begin < 0 || r->end < r->begin || (uint64_t)r->end > f.len) {
      rc = canon__seterr(err, CANON_ERR_INVALID, "%s: range %" PRId64 "..%" PRId64
                         " is outside the file (%zu bytes)", path, r->begin, r->end, f.len);
    } else if (r->begin == r->end) {
      rows_max[k] = 0;
    } else if (k + 1 < n && ranges[k + 1].begin == r->end && ranges[k + 1].end > r->end &&
               ranges[k + 1].first_line > r->first_line) {
      /* The split counted the line breaks up to the next range. */
      rows_max[k] = ranges[k + 1].first_line - r->first_line;
    } else {
      rows_max[k] = 1 + cr_count_newlines(f.data + r->begin, (size_t)(r->end - r->begin));
    }
  }
  canon__csv_file_close(&f);
  return rc;
}

