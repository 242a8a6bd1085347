/* test_csv_fast.c — the fast paths of building a table from CSV
 * (kernels/csv_fast.c) give exactly the general path's tables and errors.
 */
#include <criterion/criterion.h>

#include <stdlib.h>

#include "csv_testutil.h"

/* csv_fast.c's switch: off, every field takes the general path. */
extern bool canon__csv_fast_paths;

/* The same NULL counts and bitmaps (size and bytes), value and string
 * buffer sizes: what the codec and memory accounting see. */
static void same_buffers(const canon_table *a, const canon_table *b, const char *what) {
  for (int c = 0; c < a->schema->n; c++) {
    const canon__column *x = a->cols[c], *y = b->cols[c];
    if (x->null_count != y->null_count || !x->validity != !y->validity)
      cr_assert_fail("%s: col %d NULLs differ", what, c);
    if (x->validity && (x->validity->size != y->validity->size ||
                        memcmp(x->validity->data, y->validity->data, x->validity->size) != 0))
      cr_assert_fail("%s: col %d bitmaps differ (%zu, %zu bytes)", what, c, x->validity->size,
                     y->validity->size);
    if (x->values->size != y->values->size ||
        (x->strdata && x->strdata->size != y->strdata->size))
      cr_assert_fail("%s: col %d buffer sizes differ", what, c);
  }
}

/* Parse buf both ways: the same table, or the same error. */
static void fast_vs_general(const char *buf, size_t len, char delim, const char *schema,
                            bool header, const char *what) {
  canon_schema *s = schema_of(schema);
  canon_error e1, e2;
  canon_error_clear(&e1);
  canon_error_clear(&e2);
  canon__csv_fast_paths = true;
  canon_table *a = canon__csv_parse_buffer(buf, len, "f.csv", delim, s, header, &e1);
  canon__csv_fast_paths = false;
  canon_table *b = canon__csv_parse_buffer(buf, len, "f.csv", delim, s, header, &e2);
  canon__csv_fast_paths = true;
  if (!a != !b)
    cr_assert_fail("%s: fast %s, general %s", what, a ? "parsed" : e1.message,
                   b ? "parsed" : e2.message);
  if (a) {
    assert_identical(a, b);
    same_buffers(a, b, what);
  } else if (e1.code != e2.code || strcmp(e1.message, e2.message) != 0) {
    cr_assert_fail("%s: errors differ:\n fast    %s\n general %s", what, e1.message,
                   e2.message);
  }
  canon_table_free(a);
  canon_table_free(b);
  canon_schema_free(s);
}

static const char *const fp_ints[] = {
    "0", "-0", "+0", "7", "-7", "+7", "007", "-007", "999999999999999999",
    "-999999999999999999", "1000000000000000000", "-1000000000000000000",
    "9223372036854775807", "-9223372036854775808", "9223372036854775808",
    "-9223372036854775809", "18446744073709551616", "99999999999999999999",
    "00000000000000000000000001", "+", "-", "--1", "+-1", "1e3", "1.0", " 1", "1 ", "0x10",
    "\"12\"", "\"-3\"", "\"\"", "1\"", "12a", "\xef\xbc\x91", "\"1,2\"", "\"4\n\"",
};
static const char *const fp_floats[] = {
    "0", "-0", "0.0", "-0.0", "+0.000", "0.", ".0", "1", "-1", "0.1", "-0.1", "1.5", "5.", ".5",
    "-.5", "+.5", ".", "-.", "+", "-", "3.141592653589793", "2.718281828459045235360287",
    "9007199254740992", "9007199254740993", "9007199254740993.0", "9007199254740994",
    "900719925474099.3", "0.0000000000000000000001", "0.00000000000000000000001",
    "1234567890123456789", "12345678901234567890", "1.234567890123456789",
    "0.000001", "99.999999", "4.9e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
    "2.2250738585072011e-308", "2.2250738585072014e-308", "1e-320", "1.7976931348623157e308",
    "1.7976931348623159e308", "1e309", "-1e309", "1e-400", "1E5", "1e+5", "1.5E-3", "1e", "1e+",
    "e5", "nan", "NaN", "-nan", "inf", "-Infinity", "+inf", "INF", "infinity", "1.2.3",
    "\"3.5\"", "\"-0.0\"", " 3.5", "3.5 ", "1,5", "0x1p3", "\xc2\xbd", "\"\"",
};
static const char *const fp_strs[] = {
    "a", "id001", "id0000000042", "x y", "\xc3\xa9t\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
    "\xff", "\xc3", "\xed\xa0\x80", "\xc0\xaf", "\"\"", "\"a,b\"", "\"a\nb\"", "\"a\r\nb\"",
    "\"say \"\"hi\"\"\"", "\"\xc3\xa9\"", "a\"b", "\"x\"y", "a\rb", "\"unterminated",
    "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz", "NULL", "NA",
    "null", "\\N", "-",
};

/* A random field of column type t: mostly well-formed, plain text (which
 * the fast paths take), sometimes an edge case or something broken. */
static int fp_field(char *o, canon_type t) {
  unsigned k = gen(100);
  if (k < 6) return 0;  /* NULL */
  if (k < 22) {         /* a listed edge case */
    switch (t) {
    case CANON_INT64: return sprintf(o, "%s", fp_ints[gen(sizeof fp_ints / sizeof *fp_ints)]);
    case CANON_FLOAT64:
      return sprintf(o, "%s", fp_floats[gen(sizeof fp_floats / sizeof *fp_floats)]);
    default: return sprintf(o, "%s", fp_strs[gen(sizeof fp_strs / sizeof *fp_strs)]);
    }
  }
  int n = 0;
  switch (t) {
  case CANON_INT64: {
    if (gen(3) == 0) o[n++] = gen(2) ? '-' : '+';
    for (int d = 1 + (int)gen(gen(4) ? 8 : 21); d > 0; d--) o[n++] = (char)('0' + gen(10));
    return n;
  }
  case CANON_FLOAT64: {
    if (gen(3) == 0) o[n++] = gen(3) ? '-' : '+';
    int id = (int)gen(gen(4) ? 4 : 18), fd = (int)gen(gen(4) ? 8 : 26);
    if (id + fd == 0) id = 1;
    for (int d = id; d > 0; d--) o[n++] = (char)('0' + gen(10));
    if (fd || gen(10) == 0) o[n++] = '.';
    for (int d = fd; d > 0; d--) o[n++] = (char)('0' + gen(10));
    if (gen(12) == 0) n += sprintf(o + n, "e%d", (int)gen(700) - 350);
    return n;
  }
  case CANON_BOOL: return sprintf(o, "%s", gen(2) ? "true" : "False");
  case CANON_DATE: return sprintf(o, "20%02u-0%u-1%u", gen(100), 1 + gen(9), gen(10));
  default: {
    for (int d = 1 + (int)gen(14); d > 0; d--) o[n++] = (char)('a' + gen(26));
    return n;
  }
  }
}

/* A random document for a schema of the given column types. */
static size_t fp_doc(char *doc, const canon_type *types, int ncols, char delim, int rows,
                     bool header) {
  size_t n = 0;
  if (header) {
    for (int c = 0; c < ncols; c++) {
      if (c) doc[n++] = delim;
      n += (size_t)sprintf(doc + n, "c%d", c);
    }
    doc[n++] = '\n';
  }
  for (int r = 0; r < rows; r++) {
    int nf = ncols + (gen(40) == 0 ? (int)gen(3) - 1 : 0);
    for (int c = 0; c < nf; c++) {
      if (c) doc[n++] = delim;
      n += (size_t)fp_field(doc + n, types[c < ncols ? c : 0]);
    }
    unsigned e = gen(50);
    if (r + 1 < rows || gen(2)) n += (size_t)sprintf(doc + n, e == 0 ? "\r" : e < 10 ? "\r\n" : "\n");
    if (gen(100) == 0) doc[n++] = '\n';  /* a blank line */
  }
  if (gen(6) == 0) n += (size_t)sprintf(doc + n, "\n\r\n\n");
  doc[n] = '\0';
  return n;
}

static const char *fp_type_name(canon_type t) { return canon_type_name(t); }

/* Random documents, whole and split into ranges: the fast paths give the
 * general path's table or its error, message and position included. */
Test(csv, fast_paths_match_general_path) {
  static const canon_type pool[] = {CANON_INT64,  CANON_FLOAT64, CANON_STRING,
                                    CANON_INT64,  CANON_FLOAT64, CANON_STRING,
                                    CANON_BOOL,   CANON_DATE};
  static const char delims[] = {',', ',', ';', '\t', '|', '7', ' '};
  char *dir = tu_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/f.csv", dir);
  size_t cap = 1 << 16;
  char *doc = malloc(cap);
  int parsed = 0, iters = 3000;
  for (int iter = 0; iter < iters; iter++) {
    int ncols = 1 + (int)gen(iter % 4 ? 5 : 2);
    canon_type types[8];
    char schema[256];
    int sn = 0;
    for (int c = 0; c < ncols; c++) {
      types[c] = pool[gen(iter % 3 ? 6 : 8)];
      sn += sprintf(schema + sn, "%sc%d:%s", c ? "," : "", c, fp_type_name(types[c]));
    }
    char delim = delims[gen(sizeof delims)];
    int rows = (int)gen(iter % 10 ? 12 : 300);
    size_t len = fp_doc(doc, types, ncols, delim, rows, true);
    char what[64];
    snprintf(what, sizeof what, "doc %d", iter);
    fast_vs_general(doc, len, delim, schema, true, what);
    /* And in ranges, read from a file. */
    tu_write_file(path, doc);
    canon_schema *s = schema_of(schema);
    canon_error err;
    canon__csv_range *r;
    int parts = 1 + (int)gen(6);
    if (canon__csv_split(path, delim, s, parts, &r, &err) == 0) {
      for (int i = 0; i < parts; i++) {
        canon_error e1, e2;
        canon_error_clear(&e1);
        canon_error_clear(&e2);
        canon__csv_fast_paths = true;
        canon_table *a = canon__csv_read_range(path, delim, s, &r[i], NULL, &e1);
        canon__csv_fast_paths = false;
        canon_table *b = canon__csv_read_range(path, delim, s, &r[i], NULL, &e2);
        canon__csv_fast_paths = true;
        if (!a != !b || (!a && strcmp(e1.message, e2.message) != 0))
          cr_assert_fail("doc %d range %d/%d: fast '%s', general '%s'", iter, i, parts,
                         a ? "ok" : e1.message, b ? "ok" : e2.message);
        if (a) assert_identical(a, b);
        parsed += a != NULL;
        canon_table_free(a);
        canon_table_free(b);
      }
      free(r);
    }
    canon_schema_free(s);
  }
  cr_assert(parsed > iters / 2, "%d ranges parsed: exercise the fast paths", parsed);
  free(doc);
  tu_rmdir(dir);
  free(dir);
}

/* Every listed edge case in every position of a record, with each line
 * ending, on both paths. */
Test(csv, fast_paths_edge_cases_every_position) {
  const char *const *lists[] = {fp_ints, fp_floats, fp_strs};
  size_t sizes[] = {sizeof fp_ints / sizeof *fp_ints, sizeof fp_floats / sizeof *fp_floats,
                    sizeof fp_strs / sizeof *fp_strs};
  const char *types[] = {"int64", "float64", "string"};
  const char *ends[] = {"\n", "\r\n", "", "\r", "\n\n"};
  char doc[512], schema[128], what[96];
  for (int t = 0; t < 3; t++)
    for (size_t i = 0; i < sizes[t]; i++)
      for (int pos = 0; pos < 3; pos++)
        for (int e = 0; e < 5; e++) {
          /* Three columns; the case sits at `pos`, the others are plain. */
          snprintf(schema, sizeof schema, "a:%s,b:%s,c:%s", pos == 0 ? types[t] : "int64",
                   pos == 1 ? types[t] : "string", pos == 2 ? types[t] : "float64");
          const char *cell[3] = {"12", "ab", "1.5"};
          cell[pos] = lists[t][i];
          snprintf(doc, sizeof doc, "a,b,c\n1,x,2.25\n%s,%s,%s%s3,y,0.5\n", cell[0], cell[1],
                   cell[2], ends[e]);
          snprintf(what, sizeof what, "%s '%s' at %d end %d", types[t], lists[t][i], pos, e);
          fast_vs_general(doc, strlen(doc), ',', schema, true, what);
          /* As the last record, without a line break after it. */
          snprintf(doc, sizeof doc, "a,b,c\n1,x,2.25\n%s,%s,%s", cell[0], cell[1], cell[2]);
          fast_vs_general(doc, strlen(doc), ',', schema, true, what);
        }
}

/* Plain decimal text, which the float fast path reads itself, parses to
 * the correctly rounded double (strtod's answer). */
Test(csv, fast_float_is_correctly_rounded) {
  char doc[64], txt[48];
  canon_schema *s = schema_of("v:float64");
  for (int iter = 0; iter < 200000; iter++) {
    int n = 0;
    if (gen(4) == 0) txt[n++] = '-';
    int id = (int)gen(17), fd = (int)gen(24 - id < 1 ? 1 : 24 - id);
    if (id + fd == 0) id = 1;
    for (int d = id; d > 0; d--) txt[n++] = (char)('0' + gen(10));
    txt[n++] = '.';
    for (int d = fd; d > 0; d--) txt[n++] = (char)('0' + gen(10));
    txt[n] = '\0';
    int len = snprintf(doc, sizeof doc, "%s\n", txt);
    canon_error err;
    canon_table *t = canon__csv_parse_buffer(doc, (size_t)len, "f", ',', s, false, &err);
    if (!t) cr_assert_fail("'%s': %s", txt, err.message);
    double got = canon__f64(t->cols[0])[0], want = strtod(txt, NULL);
    if (memcmp(&got, &want, 8) != 0) cr_assert_fail("'%s': %.17g, want %.17g", txt, got, want);
    canon_table_free(t);
  }
  canon_schema_free(s);
}

/* A column that holds a NULL keeps its bitmap right through later values
 * and through builder growth (strings far beyond the first allocation). */
Test(csv, fast_paths_nulls_and_growth) {
  size_t cap = 1 << 20, n = 0;
  char *doc = malloc(cap);
  n += (size_t)sprintf(doc, "e,i,f,s\n");
  for (int r = 0; r < 20000; r++) {
    bool ni = r % 997 == 500, nf = r % 1009 == 3, ns = r % 1013 == 1012;
    n += (size_t)sprintf(doc + n, r == 1 ? "," : "%d,", r);  /* one early NULL */
    n += (size_t)sprintf(doc + n, ni ? "," : "%d,", r * 7919 - 5000000);
    n += (size_t)sprintf(doc + n, nf ? "," : "%d.%03d,", r, r % 1000);
    n += (size_t)sprintf(doc + n, ns ? "\n" : "s%0*d\n", 1 + r % 23, r);
  }
  const char *schema = "e:int64,i:int64,f:float64,s:string";
  fast_vs_general(doc, n, ',', schema, true, "nulls and growth");
  canon_table *t = parse_ok(schema, doc);
  cr_assert_eq(t->nrows, 20000);
  cr_assert_eq(t->cols[0]->null_count, 1);
  for (int r = 0; r < 20000; r++) {
    if ((r == 1) != canon_table_is_null(t, 0, r)) cr_assert_fail("e null at %d", r);
    if ((r % 997 == 500) != canon_table_is_null(t, 1, r)) cr_assert_fail("i null at %d", r);
    if (r % 997 != 500 && canon_table_get_int64(t, 1, r) != r * 7919 - 5000000)
      cr_assert_fail("i at %d", r);
    if ((r % 1013 == 1012) != canon_table_is_null(t, 3, r)) cr_assert_fail("s null at %d", r);
  }
  canon_table_free(t);
  free(doc);
}

/* String fields of every length around the 16-byte scan, ended by each
 * kind of byte, with multi-byte and invalid UTF-8 on either side of the
 * end, in buffers allocated to their exact length (so a read past the
 * input shows under the address sanitizer). */
Test(csv, fast_string_scan_lengths_and_ends) {
  const char *enders[] = {",z\n", "\n", "\r\n", "\r", "\"", "", ",\xc3\xa9\n", ",\xff\n"};
  const char *fills[] = {"a", "\xc3\xa9", "\xff", "\xe2\x82\xac"};
  char doc[256], what[64];
  for (int len = 0; len <= 40; len++)
    for (int e = 0; e < 8; e++)
      for (int f = 0; f < 4; f++)
        for (int where = 0; where < 3; where++) {
          int n = sprintf(doc, "s,t\n");
          for (int k = 0; k < len; k++)
            n += sprintf(doc + n, "%s", k == len / 2 && f ? fills[f] : "x");
          n += sprintf(doc + n, "%s", enders[e]);
          if (where == 1) n += sprintf(doc + n, "w,v\n");
          if (where == 2) n += sprintf(doc + n, "0123456789abcdefghij,k");
          char *exact = malloc((size_t)n);
          memcpy(exact, doc, (size_t)n);
          snprintf(what, sizeof what, "len %d end %d fill %d where %d", len, e, f, where);
          fast_vs_general(exact, (size_t)n, ',', "s:string,t:string", true, what);
          fast_vs_general(exact, (size_t)n, ',', "s:string", true, what);
          free(exact);
        }
}

/* String buffers are sized from the first records: later, longer values
 * still grow them, and shorter ones leave them partly unused. */
Test(csv, fast_string_sizing_from_first_records) {
  for (int shape = 0; shape < 2; shape++) {
    size_t cap = 1 << 20, n = 0;
    char *doc = malloc(cap);
    n += (size_t)sprintf(doc, "s,i\n");
    for (int r = 0; r < 4000; r++) {
      bool early = r < 1100;
      int len = early == (shape == 0) ? 1 : 150;
      for (int k = 0; k < len; k++) doc[n++] = (char)('a' + (r + k) % 26);
      n += (size_t)sprintf(doc + n, ",%d\n", r);
    }
    doc[n] = '\0';
    fast_vs_general(doc, n, ',', "s:string,i:int64", true, shape ? "long first" : "short first");
    canon_table *t = parse_ok("s:string,i:int64", doc);
    cr_assert_eq(t->nrows, 4000);
    size_t len;
    const char *s = str_at(t, 0, 3999, &len);
    cr_assert_eq(len, shape == 0 ? 150u : 1u);
    cr_assert_eq(s[0], 'a' + 3999 % 26);
    canon_table_free(t);
    free(doc);
  }
}
