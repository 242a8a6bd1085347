/* testing.c — table comparison for tests and the conformance suite
 * (canon_testing.h).
 *
 * Each row is encoded once into a byte string that two rows share exactly
 * when every cell is equal: per cell 'N' for NULL, or 'V', the text length
 * (8 bytes) and the canonical text.  The canonical text makes floats compare
 * bit for bit (shortest round-trip text) with one spelling for all NaNs, and
 * keeps -0.0 apart from 0.0.  Multisets compare by sorting the encodings;
 * sequences by a longest-common-subsequence diff so the report shows only
 * the rows that moved, went missing or appeared. */
#include "canon_testing.h"

#include "internal.h"

#include <math.h>
#include <stdio.h>

/* Rows shown in one diff before "... and N more". */
#define DIFF_MAX_LINES 40
/* Cells longer than this are shown cut, with their length. */
#define CELL_SHOW_MAX 96
/* Above this many DP cells the sequence diff falls back to positions. */
#define LCS_MAX_CELLS ((size_t)1 << 22)
/* The comparison could not be made (bad argument, out of memory). */
#define CMP_FAIL (-1)

canon_table *canon_testing_table(const char *schema, const char *rows, canon_error *err) {
  return canon_table_from_csv_text(schema, rows, err);
}

/* ---- row encodings ------------------------------------------------------ */

typedef struct enc_row {
  char *bytes;
  size_t len;
} enc_row;

typedef struct enc_table {
  const canon_table *t;
  enc_row *rows;
  int64_t n;
} enc_table;

static void enc_free(enc_table *e) {
  if (e->rows)
    for (int64_t i = 0; i < e->n; i++) free(e->rows[i].bytes);
  free(e->rows);
  e->rows = NULL;
}

/* The canonical text of one cell into a malloc'd buffer (*len its length). */
static char *cell_text(const canon_table *t, int c, int64_t r, size_t *len) {
  char small[64];
  size_t need = canon_table_format_value(t, c, r, small, sizeof small);
  char *out = malloc(need + 1);
  if (!out) return NULL;
  if (need < sizeof small)
    memcpy(out, small, need + 1);
  else
    canon_table_format_value(t, c, r, out, need + 1);
  *len = need;
  return out;
}

static int encode(const canon_table *t, enc_table *e) {
  e->t = t;
  e->n = canon_table_num_rows(t);
  e->rows = calloc((size_t)(e->n ? e->n : 1), sizeof *e->rows);
  if (!e->rows) return CMP_FAIL;
  int nc = canon_table_num_columns(t);
  for (int64_t r = 0; r < e->n; r++) {
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f) return CMP_FAIL;
    int bad = 0;
    for (int c = 0; c < nc && !bad; c++) {
      if (canon_table_is_null(t, c, r)) {
        bad = fputc('N', f) == EOF;
        continue;
      }
      size_t len;
      char *txt = cell_text(t, c, r, &len);
      uint64_t l64 = len;
      bad = !txt || fputc('V', f) == EOF || fwrite(&l64, sizeof l64, 1, f) != 1 ||
            (len && fwrite(txt, 1, len, f) != len);
      free(txt);
    }
    if (fclose(f) != 0 || bad) {
      free(buf);
      return CMP_FAIL;
    }
    e->rows[r].bytes = buf;
    e->rows[r].len = blen;
  }
  return 0;
}

static int row_cmp(const enc_row *a, const enc_row *b) {
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->bytes, b->bytes, n);
  if (c) return c;
  return a->len < b->len ? -1 : a->len > b->len;
}

static int row_eq(const enc_row *a, const enc_row *b) {
  return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* qsort over indices into one encoded table. */
static const enc_row *sort_base;
static int idx_cmp(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  int c = row_cmp(&sort_base[a], &sort_base[b]);
  return c ? c : (a > b) - (a < b);
}

static int i64_cmp(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return (a > b) - (a < b);
}

/* ---- showing rows ------------------------------------------------------- */

/* A string cell is quoted when its text could be read as something else. */
static int needs_quotes(const char *s, size_t n) {
  if (n == 0 || (n == 4 && memcmp(s, "NULL", 4) == 0)) return 1;
  if (s[0] == ' ' || s[n - 1] == ' ') return 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == ',' || ch == '"' || ch < 0x20 || ch == 0x7f) return 1;
  }
  return 0;
}

static void show_cell(FILE *f, const canon_table *t, int c, int64_t r) {
  if (canon_table_is_null(t, c, r)) {
    fputs("NULL", f);
    return;
  }
  size_t n;
  char *s = cell_text(t, c, r, &n);
  if (!s) {
    fputs("<out of memory>", f);
    return;
  }
  size_t shown = n;
  if (n > CELL_SHOW_MAX) {
    shown = CELL_SHOW_MAX - 16;
    /* Do not cut a UTF-8 sequence. */
    while (shown > 0 && ((unsigned char)s[shown] & 0xC0) == 0x80) shown--;
  }
  int q = canon_table_column_type(t, c) == CANON_STRING && needs_quotes(s, n);
  if (q) fputc('"', f);
  for (size_t i = 0; i < shown; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"')
      fputs("\"\"", f);
    else if (ch < 0x20 || ch == 0x7f)
      fprintf(f, "\\x%02x", ch);
    else
      fputc(ch, f);
  }
  if (q) fputc('"', f);
  if (shown < n) fprintf(f, "...(%zu bytes)", n);
  free(s);
}

static void show_row(FILE *f, const canon_table *t, int64_t r) {
  for (int c = 0; c < canon_table_num_columns(t); c++) {
    if (c) fputc(',', f);
    show_cell(f, t, c, r);
  }
}

/* One diff line: "- [3] a,1" (row 3 of expected) or "+ [0] b,2" (actual). */
typedef struct diff_out {
  FILE *f;
  int lines;
  int64_t hidden;
} diff_out;

static void diff_line(diff_out *d, char sign, const canon_table *t, int64_t r) {
  if (d->lines >= DIFF_MAX_LINES) {
    d->hidden++;
    return;
  }
  fprintf(d->f, "%c [%lld] ", sign, (long long)r);
  show_row(d->f, t, r);
  fputc('\n', d->f);
  d->lines++;
}

/* ---- multiset comparison ----------------------------------------------- */

/* Compare rows [es, ee) of e with rows [as, ae) of a as multisets; report
 * the differences in row order.  Returns 1 when they differ, 0 when equal,
 * CMP_FAIL. */
static int multiset_diff(const enc_table *e, int64_t es, int64_t ee, const enc_table *a,
                         int64_t as, int64_t ae, diff_out *d) {
  int64_t ne = ee - es, na = ae - as;
  int64_t *ie = malloc(sizeof *ie * (size_t)(ne + 1));
  int64_t *ia = malloc(sizeof *ia * (size_t)(na + 1));
  int64_t *miss = malloc(sizeof *miss * (size_t)(ne + 1));
  int64_t *extra = malloc(sizeof *extra * (size_t)(na + 1));
  int rc = CMP_FAIL;
  if (!ie || !ia || !miss || !extra) goto out;
  for (int64_t i = 0; i < ne; i++) ie[i] = es + i;
  for (int64_t i = 0; i < na; i++) ia[i] = as + i;
  sort_base = e->rows;
  qsort(ie, (size_t)ne, sizeof *ie, idx_cmp);
  sort_base = a->rows;
  qsort(ia, (size_t)na, sizeof *ia, idx_cmp);
  int64_t i = 0, j = 0, nm = 0, nx = 0;
  while (i < ne || j < na) {
    int c = i == ne ? 1 : j == na ? -1 : row_cmp(&e->rows[ie[i]], &a->rows[ia[j]]);
    if (c == 0) {
      i++;
      j++;
    } else if (c < 0) {
      miss[nm++] = ie[i++];
    } else {
      extra[nx++] = ia[j++];
    }
  }
  qsort(miss, (size_t)nm, sizeof *miss, i64_cmp);
  qsort(extra, (size_t)nx, sizeof *extra, i64_cmp);
  for (int64_t k = 0; k < nm; k++) diff_line(d, '-', e->t, miss[k]);
  for (int64_t k = 0; k < nx; k++) diff_line(d, '+', a->t, extra[k]);
  rc = nm || nx;
out:
  free(ie);
  free(ia);
  free(miss);
  free(extra);
  return rc;
}

/* ---- sequence comparison ------------------------------------------------ */

/* Report the rows of an LCS diff between e and a (both whole tables). */
static int sequence_diff(const enc_table *e, const enc_table *a, diff_out *d) {
  int64_t n = e->n, m = a->n;
  if ((size_t)(n + 1) * (size_t)(m + 1) > LCS_MAX_CELLS) {
    /* Too large for the table: show the rows that differ by position. */
    int64_t k = n > m ? n : m;
    for (int64_t r = 0; r < k; r++) {
      if (r < n && r < m && row_eq(&e->rows[r], &a->rows[r])) continue;
      if (r < n) diff_line(d, '-', e->t, r);
      if (r < m) diff_line(d, '+', a->t, r);
    }
    return 0;
  }
  size_t w = (size_t)m + 1;
  uint32_t *L = calloc((size_t)(n + 1) * w, sizeof *L);
  if (!L) return CMP_FAIL;
  /* L[i][j] = LCS length of e[i..] and a[j..]. */
  for (int64_t i = n - 1; i >= 0; i--)
    for (int64_t j = m - 1; j >= 0; j--)
      L[i * w + j] = row_eq(&e->rows[i], &a->rows[j])
                         ? L[(i + 1) * w + j + 1] + 1
                         : (L[(i + 1) * w + j] >= L[i * w + j + 1] ? L[(i + 1) * w + j]
                                                                   : L[i * w + j + 1]);
  int64_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && row_eq(&e->rows[i], &a->rows[j])) {
      i++;
      j++;
    } else if (j == m || (i < n && L[(i + 1) * w + j] >= L[i * w + j + 1])) {
      diff_line(d, '-', e->t, i++);
    } else {
      diff_line(d, '+', a->t, j++);
    }
  }
  free(L);
  return 0;
}

/* ---- ties --------------------------------------------------------------- */

/* Equality of sort keys (§2): NULL = NULL, -0.0 = 0.0, NaN = NaN. */
static int tie_cell_eq(const canon_table *t, int c, int64_t r1, int64_t r2) {
  int n1 = canon_table_is_null(t, c, r1), n2 = canon_table_is_null(t, c, r2);
  if (n1 || n2) return n1 && n2;
  if (canon_table_column_type(t, c) == CANON_FLOAT64) {
    double x = canon_table_get_float64(t, c, r1), y = canon_table_get_float64(t, c, r2);
    return x == y || (isnan(x) && isnan(y));
  }
  size_t l1 = 0, l2 = 0;
  char *s1 = cell_text(t, c, r1, &l1), *s2 = cell_text(t, c, r2, &l2);
  int eq = s1 && s2 && l1 == l2 && memcmp(s1, s2, l1) == 0;
  free(s1);
  free(s2);
  return eq;
}

static int ties_diff(const enc_table *e, const enc_table *a, const int *cols, int ncols,
                     diff_out *d) {
  int differ = 0;
  for (int64_t s = 0; s < e->n;) {
    int64_t t = s + 1;
    while (t < e->n) {
      int same = 1;
      for (int k = 0; k < ncols && same; k++) same = tie_cell_eq(e->t, cols[k], s, t);
      if (!same) break;
      t++;
    }
    diff_out sub = {d->f, d->lines, 0};
    /* Count first, then print under a heading only when the run differs. */
    diff_out probe = {NULL, DIFF_MAX_LINES, 0};
    int rc = multiset_diff(e, s, t, a, s, t, &probe);
    if (rc < 0) return rc;
    if (rc) {
      if (d->lines < DIFF_MAX_LINES) {
        fprintf(d->f, "rows %lld..%lld (one run of ties) differ:\n", (long long)s,
                (long long)(t - 1));
        d->lines++;
      }
      sub.lines = d->lines;
      if ((rc = multiset_diff(e, s, t, a, s, t, &sub)) < 0) return rc;
      d->lines = sub.lines;
      d->hidden += sub.hidden;
      differ = 1;
    }
    s = t;
  }
  return differ;
}

/* ---- entry point -------------------------------------------------------- */

static int schema_equal(const canon_table *x, const canon_table *y) {
  int n = canon_table_num_columns(x);
  if (n != canon_table_num_columns(y)) return 0;
  for (int c = 0; c < n; c++)
    if (strcmp(canon_table_column_name(x, c), canon_table_column_name(y, c)) != 0 ||
        canon_table_column_type(x, c) != canon_table_column_type(y, c))
      return 0;
  return 1;
}

static const char *order_name(canon_testing_order o) {
  return o == CANON_TESTING_EXACT ? "exact" : o == CANON_TESTING_TIES ? "ties" : "any";
}

/* Run the comparison, writing the report to f.  Returns 0, 1 or CMP_FAIL. */
static int compare_into(FILE *f, const canon_table *ex, const canon_table *ac,
                        canon_testing_order order, const char *const *tie_keys, int ntie) {
  if (!ex || !ac) {
    fprintf(f, "cannot compare: %s table is NULL\n", ex ? "the actual" : "the expected");
    return CMP_FAIL;
  }
  if (order != CANON_TESTING_ANY && order != CANON_TESTING_EXACT && order != CANON_TESTING_TIES) {
    fprintf(f, "cannot compare: unknown order %d\n", (int)order);
    return CMP_FAIL;
  }
  if (!schema_equal(ex, ac)) {
    char *se = canon_schema_to_string(canon_table_schema(ex));
    char *sa = canon_schema_to_string(canon_table_schema(ac));
    fprintf(f, "schema differs:\n- %s\n+ %s\n", se ? se : "?", sa ? sa : "?");
    free(se);
    free(sa);
    return 1;
  }
  int cols[ntie > 0 ? ntie : 1];
  for (int k = 0; order == CANON_TESTING_TIES && k < ntie; k++)
    if (!tie_keys || !tie_keys[k] || (cols[k] = canon_table_find_column(ex, tie_keys[k])) < 0) {
      fprintf(f, "cannot compare: unknown tie key '%s'\n",
              tie_keys && tie_keys[k] ? tie_keys[k] : "(null)");
      return CMP_FAIL;
    }
  enc_table e = {0}, a = {0};
  int rc = encode(ex, &e);
  if (rc == 0) rc = encode(ac, &a);
  if (rc) goto out;
  diff_out d = {f, 0, 0};
  /* Counting pass (nothing printed) decides equality and picks a heading. */
  diff_out probe = {NULL, DIFF_MAX_LINES, 0};
  int bag = multiset_diff(&e, 0, e.n, &a, 0, a.n, &probe);
  if (bag < 0) {
    rc = bag;
    goto out;
  }
  if (bag) {
    fprintf(f, "expected %lld rows, got %lld (order: %s); rows missing (-) and unexpected (+):\n",
            (long long)e.n, (long long)a.n, order_name(order));
    if (order == CANON_TESTING_EXACT)
      rc = sequence_diff(&e, &a, &d);
    else
      rc = multiset_diff(&e, 0, e.n, &a, 0, a.n, &d);
    if (rc < 0) goto out;
    rc = 1;
  } else if (order == CANON_TESTING_EXACT) {
    int same = 1;
    for (int64_t r = 0; r < e.n && same; r++) same = row_eq(&e.rows[r], &a.rows[r]);
    if (same) goto out;
    fprintf(f, "the same %lld rows in another order (order: exact); moves as - / +:\n",
            (long long)e.n);
    if ((rc = sequence_diff(&e, &a, &d)) < 0) goto out;
    rc = 1;
  } else if (order == CANON_TESTING_TIES) {
    rc = ties_diff(&e, &a, cols, ntie, &d);
    if (rc == 1)
      fprintf(f, "(the same rows overall, but runs of ties are out of place)\n");
  }
  if (d.hidden) fprintf(f, "... and %lld more rows\n", (long long)d.hidden);
out:
  enc_free(&e);
  enc_free(&a);
  return rc;
}

int canon_testing_compare(const canon_table *expected, const canon_table *actual,
                          canon_testing_order order, const char *const *tie_keys, int ntie,
                          char **diff) {
  if (diff) *diff = NULL;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return CMP_FAIL;
  int rc = compare_into(f, expected, actual, order, tie_keys, ntie);
  if (rc < 0 && ftell(f) == 0) fprintf(f, "out of memory while comparing\n");
  if (fclose(f) != 0) {
    free(buf);
    return CMP_FAIL;
  }
  if (rc && diff)
    *diff = buf;
  else
    free(buf);
  return rc;
}
