/* test_csv.c — CSV reading, range splitting, inference and writing
 * (kernels/csv_read.c, kernels/csv_write.c).
 */
#include <criterion/criterion.h>

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <sys/stat.h>

#include "kernels.h"
#include "testutil.h"

/* ---- helpers ----------------------------------------------------------- */

/* Does value r of x equal value r of y bit for bit (NULLs included)? */
static bool same_cell(const canon__column *x, const canon__column *y, int64_t r) {
  bool vx = canon__valid(x, r), vy = canon__valid(y, r);
  if (vx != vy) return false;
  if (!vx) return true;
  switch (x->type) {
  case CANON_BOOL: return canon__u8(x)[r] == canon__u8(y)[r];
  case CANON_DATE: return canon__i32(x)[r] == canon__i32(y)[r];
  case CANON_INT64:
  case CANON_TIMESTAMP: return canon__i64(x)[r] == canon__i64(y)[r];
  case CANON_FLOAT64: {
    double fx = canon__f64(x)[r], fy = canon__f64(y)[r];
    return isnan(fx) ? isnan(fy) : memcmp(&fx, &fy, 8) == 0;
  }
  case CANON_STRING: {
    size_t lx, ly;
    const char *sx = canon__str(x, r, &lx), *sy = canon__str(y, r, &ly);
    return lx == ly && memcmp(sx, sy, lx) == 0;
  }
  default: return false;
  }
}

/* Same schema, rows, NULLs and value bits.  (Assertions only on a
 * mismatch: Criterion reports every assertion, which is slow in loops.) */
static void assert_identical(const canon_table *a, const canon_table *b) {
  if (!canon__schema_equal(a->schema, b->schema)) cr_assert_fail("schemas differ");
  if (a->nrows != b->nrows)
    cr_assert_fail("%" PRId64 " vs %" PRId64 " rows", a->nrows, b->nrows);
  for (int c = 0; c < a->schema->n; c++)
    for (int64_t r = 0; r < a->nrows; r++)
      if (!same_cell(a->cols[c], b->cols[c], r))
        cr_assert_fail("col %d row %" PRId64 " differs", c, r);
}

static canon_schema *schema_of(const char *text) {
  canon_error err;
  canon_schema *s = canon_schema_parse(text, &err);
  cr_assert(s, "%s", err.message);
  return s;
}

/* Parse a whole document (with header) from memory. */
static canon_table *parse_doc(const char *schema, const char *doc, canon_error *err) {
  canon_schema *s = schema_of(schema);
  canon_error_clear(err);
  canon_table *t = canon__csv_parse_buffer(doc, strlen(doc), "data.csv", ',', s, true, err);
  canon_schema_free(s);
  return t;
}

/* Parse must fail with CANON_ERR_PARSE and a message holding `needle`. */
static void parse_fails(const char *schema, const char *doc, const char *needle) {
  canon_error err;
  canon_table *t = parse_doc(schema, doc, &err);
  cr_assert_null(t, "'%s' should not parse", doc);
  cr_assert_eq(err.code, CANON_ERR_PARSE, "code %d: %s", err.code, err.message);
  cr_assert(strstr(err.message, needle), "message '%s' lacks '%s'", err.message, needle);
  cr_assert_null(strchr(err.message, '\n'));
}

static canon_table *parse_ok(const char *schema, const char *doc) {
  canon_error err;
  canon_table *t = parse_doc(schema, doc, &err);
  cr_assert(t, "%s", err.message);
  return t;
}

static const char *str_at(const canon_table *t, int c, int64_t r, size_t *len) {
  cr_assert(canon__valid(t->cols[c], r));
  return canon__str(t->cols[c], r, len);
}

/* Split path into n ranges, read each and write them as one document. */
static char *read_split_csv(const char *path, const canon_schema *s, int n,
                            canon_table **whole) {
  canon_error err;
  canon__csv_range *r;
  cr_assert_eq(canon__csv_split(path, ',', s, n, &r, &err), 0, "%s", err.message);
  canon_table *parts[16];
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  for (int i = 0; i < n; i++) {
    if (i) cr_assert_eq(r[i].begin, r[i - 1].end, "ranges are contiguous");
    cr_assert(r[i].begin <= r[i].end);
    parts[i] = canon__csv_read_range(path, ',', s, &r[i], &err);
    cr_assert(parts[i], "range %d: %s", i, err.message);
  }
  cr_assert_eq(r[n - 1].end, st.st_size);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_eq(canon__csv_write(f, parts, n, &err), 0, "%s", err.message);
  fclose(f);
  if (whole) *whole = canon__table_concat(parts, n, &err);
  for (int i = 0; i < n; i++) canon_table_free(parts[i]);
  free(r);
  return buf;
}

/* ---- reading ----------------------------------------------------------- */

Test(csv, from_text_basic) {
  canon_error err;
  canon_table *t = canon_table_from_csv_text("k:string,v:int64", "a,1\nb,\n", &err);
  cr_assert(t, "%s", err.message);
  cr_assert_eq(t->nrows, 2);
  cr_assert_eq(canon_table_get_int64(t, 1, 0), 1);
  cr_assert(canon_table_is_null(t, 1, 1));
  size_t len;
  cr_assert_eq(memcmp(str_at(t, 0, 1, &len), "b", 1), 0);
  canon_table_free(t);
  t = canon_table_from_csv_text("k:string", "", &err);
  cr_assert(t, "%s", err.message);
  cr_assert_eq(t->nrows, 0);
  canon_table_free(t);
}

Test(csv, quoted_fields) {
  canon_table *t = parse_ok("s:string,n:int64",
                            "s,n\n\"a,b\",1\n\"line1\nline2\",2\n\"say \"\"hi\"\"\",3\n"
                            "\"\"\"\",4\n\"12\",\"5\"\n");
  cr_assert_eq(t->nrows, 5);
  size_t len;
  const char *s = str_at(t, 0, 0, &len);
  cr_assert(len == 3 && !memcmp(s, "a,b", 3));
  s = str_at(t, 0, 1, &len);
  cr_assert(len == 11 && !memcmp(s, "line1\nline2", 11));
  s = str_at(t, 0, 2, &len);
  cr_assert(len == 8 && !memcmp(s, "say \"hi\"", 8));
  s = str_at(t, 0, 3, &len);
  cr_assert(len == 1 && s[0] == '"');
  cr_assert_eq(canon__i64(t->cols[1])[4], 5); /* quotes around a number are fine */
  canon_table_free(t);
}

Test(csv, null_versus_empty_string) {
  canon_table *t = parse_ok("k:string,v:int64", "k,v\n,1\n\"\",2\n\"\",\n");
  cr_assert_eq(t->nrows, 3);
  cr_assert(!canon__valid(t->cols[0], 0));
  size_t len;
  str_at(t, 0, 1, &len);
  cr_assert_eq(len, 0);
  str_at(t, 0, 2, &len);
  cr_assert_eq(len, 0);
  cr_assert(!canon__valid(t->cols[1], 2));
  cr_assert_eq(t->cols[0]->null_count, 1);
  canon_table_free(t);
  /* "" is the empty string, which is not an int64 */
  parse_fails("k:string,v:int64", "k,v\na,\"\"\n", "data.csv:2:3: column 'v': '' is not a valid int64");
}

Test(csv, crlf_and_final_line) {
  canon_table *t = parse_ok("a:string,b:float64", "a,b\r\nx,1.5\r\n\"y\r\nz\",2\r\nw,3");
  cr_assert_eq(t->nrows, 3);
  size_t len;
  const char *s = str_at(t, 0, 0, &len);
  cr_assert(len == 1 && s[0] == 'x');
  s = str_at(t, 0, 1, &len);
  cr_assert(len == 4 && !memcmp(s, "y\r\nz", 4));
  cr_assert_eq(canon__f64(t->cols[1])[2], 3.0);
  canon_table_free(t);
}

Test(csv, every_type) {
  canon_table *t = parse_ok(
      "b:bool,i:int64,f:float64,s:string,d:date,ts:timestamp",
      "b,i,f,s,d,ts\ntrue,-5,NaN,héllo,2024-02-29,2024-02-29T01:02:03.25Z\n"
      "false,9223372036854775807,-inf,€𝄞,1969-12-31,1970-01-01 00:00:00Z\n,,,,,\n");
  cr_assert_eq(t->nrows, 3);
  cr_assert_eq(canon__u8(t->cols[0])[0], 1);
  cr_assert_eq(canon__i64(t->cols[1])[1], INT64_MAX);
  cr_assert(isnan(canon__f64(t->cols[2])[0]));
  cr_assert_eq(canon__f64(t->cols[2])[1], -INFINITY);
  cr_assert_eq(canon__i32(t->cols[4])[0], 19782);
  cr_assert_eq(canon__i32(t->cols[4])[1], -1);
  cr_assert_eq(canon__i64(t->cols[5])[0], 19782LL * 86400000000LL + 3723250000LL);
  for (int c = 0; c < 6; c++) cr_assert(!canon__valid(t->cols[c], 2));
  canon_table_free(t);
}

Test(csv, ragged_rows) {
  parse_fails("a:int64,b:int64", "a,b\n1,2\n3\n", "data.csv:3:2: expected 2 fields, found 1");
  parse_fails("a:int64,b:int64", "a,b\n1,2\n3,4,5\n", "data.csv:3:5: expected 2 fields, found 3");
  parse_fails("a:int64,b:int64", "a,b\n1,2\n3,4,5,6,7", ":3:");
  parse_fails("a:int64,b:int64", "a,b\n1,2\n\n3,4\n", "data.csv:3:");
  parse_fails("a:int64", "a\n1,2\n", "data.csv:2:3: expected 1 field, found 2");
}

Test(csv, blank_lines) {
  /* One column: a blank line is a NULL, also at the end. */
  canon_table *t = parse_ok("a:int64", "a\n1\n\n3\n\n");
  cr_assert_eq(t->nrows, 4);
  cr_assert(!canon__valid(t->cols[0], 1));
  cr_assert(!canon__valid(t->cols[0], 3));
  canon_table_free(t);
  /* More columns: trailing blank lines are ignored. */
  t = parse_ok("a:int64,b:int64", "a,b\n1,2\n\n\r\n\n");
  cr_assert_eq(t->nrows, 1);
  canon_table_free(t);
  t = parse_ok("a:int64,b:int64", "a,b\n");
  cr_assert_eq(t->nrows, 0);
  canon_table_free(t);
}

Test(csv, bad_value_names_file_line_column) {
  parse_fails("x:int64,v:int64", "x,v\n1,2\n3,abc\n",
              "data.csv:3:3: column 'v': 'abc' is not a valid int64");
  parse_fails("x:int64,v:int64", "x,v\n1,2\n3,99999999999999999999\n", "out of range");
  parse_fails("d:date", "d\n2023-02-29\n", "data.csv:2:1: column 'd': '2023-02-29' is not a valid date");
  parse_fails("b:bool", "b\nyes\n", "'yes' is not a valid bool");
  parse_fails("f:float64", "f\n0x10\n", "'0x10' is not a valid float64");
  /* a quoted newline advances the line count */
  parse_fails("s:string,v:int64", "s,v\n\"x\ny\",1\nz,zz\n", "data.csv:4:3:");
  parse_fails("s:string,v:int64", "s,v\n\"x\ny\",zz\n", "data.csv:3:4:");
}

Test(csv, malformed_quotes) {
  parse_fails("s:string", "s\n\"abc\n", "data.csv:2:1: quoted field is not closed");
  parse_fails("s:string,t:string", "s,t\nab\"c,d\n", "data.csv:2:3: quote inside an unquoted field");
  parse_fails("s:string,t:string", "s,t\n\"ab\"c,d\n", "data.csv:2:5: unexpected text after a closing quote");
  parse_fails("s:string,t:string", "s,t\na\rb,c\n", "carriage return");
}

Test(csv, invalid_utf8) {
  const char *bad[] = {"\xff", "a\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80",
                       "\xe0\x80\x80", "\xf0\x80\x80\x80", "\x80", "ok\xc3"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char doc[64];
    snprintf(doc, sizeof doc, "k,s\n1,x\n2,%s\n", bad[i]);
    parse_fails("k:int64,s:string", doc, "column 's': invalid UTF-8");
  }
  parse_fails("k:int64,s:string", "k,s\n1,\"a\nb\xff\"\n", "data.csv:3:2:");
  parse_fails("k:int64", "k\n1\xff\n", "data.csv:2:2: column 'k': invalid UTF-8");
  parse_fails("k\xff:int64", "k\xff\n1\n", "data.csv:1:2:");
  /* the column is the bad byte's, counted in characters */
  parse_fails("k:int64,s:string", "k,s\n1,x\n2,\xff\n", "data.csv:3:3: column 's': invalid UTF-8");
  parse_fails("k:int64,s:string", "k,s\n1,\xc3\xa9\xff\n", "data.csv:2:4:");
  parse_fails("s:string,v:int64", "s,v\n\xc3\xa9\xe2\x82\xac,x\n", "data.csv:2:4: column 'v'");
  canon_table *t = parse_ok("s:string", "s\n\xc3\xa9\n\xe2\x82\xac\n\xf0\x9d\x84\x9e\n\xef\xbf\xbf\n");
  cr_assert_eq(t->nrows, 4);
  canon_table_free(t);
}

Test(csv, header_checks) {
  parse_fails("a:int64", "", "data.csv:1:1: missing header");
  parse_fails("a:int64,b:int64", "a,c\n1,2\n", "data.csv:1:3: header column 2 is 'c', expected 'b'");
  parse_fails("a:int64,b:int64", "a\n1\n", "data.csv:1:2: header has 1 column");
  parse_fails("a:int64,b:int64", "a,b,c\n1,2,3\n", "data.csv:1:5: header has more columns");
  parse_fails("a:int64,b:int64", "b,a\n1,2\n", "data.csv:1:1:");
  canon_table *t = parse_ok("a:int64,b c:int64", "\xef\xbb\xbf" "a,\"b c\"\n1,2\n"); /* BOM */
  cr_assert_eq(t->nrows, 1);
  canon_table_free(t);
}

/* ---- files: inference and ranges --------------------------------------- */

static canon_schema *infer_doc(const char *dir, const char *doc, int64_t sample,
                               canon_error *err) {
  char path[512];
  snprintf(path, sizeof path, "%s/infer.csv", dir);
  tu_write_file(path, doc);
  canon_error_clear(err);
  return canon__csv_infer(path, ',', sample, err);
}

Test(csv, inference) {
  char *dir = tu_tmpdir();
  canon_error err;
  canon_schema *s = infer_doc(dir,
                              "b,i,f,d,ts,s,e,m,q,n\n"
                              "true,1,1.5,2024-01-01,2024-01-01T00:00:00Z,x,,1,\"\",\n"
                              "FALSE,-2,NaN,2024-02-29,2024-01-01 00:00:00.5Z,1,,true,a,\n"
                              ",,3,,,2,,2,b,\n"
                              "false,9223372036854775807,-inf,1999-12-31,1999-12-31T23:59:59Z,"
                              "2024-01-01,,1.5,c,\n",
                              0, &err);
  cr_assert(s, "%s", err.message);
  char *txt = canon_schema_to_string(s);
  cr_assert_str_eq(txt, "b:bool,i:int64,f:float64,d:date,ts:timestamp,s:string,e:string,"
                        "m:string,q:string,n:string");
  free(txt);
  canon_schema_free(s);

  /* Only the sample counts. */
  s = infer_doc(dir, "a,b\n1,x\n2,y\nthree,z\n", 2, &err);
  cr_assert(s, "%s", err.message);
  cr_assert_eq(s->types[0], CANON_INT64);
  canon_schema_free(s);
  s = infer_doc(dir, "a,b\n1,x\n2,y\nthree,z\n", 3, &err);
  cr_assert_eq(s->types[0], CANON_STRING);
  canon_schema_free(s);
  /* A 9999999999999999999 does not fit int64: float64. */
  s = infer_doc(dir, "a\n1\n9999999999999999999\n", 0, &err);
  cr_assert_eq(s->types[0], CANON_FLOAT64);
  canon_schema_free(s);
  s = infer_doc(dir, "a,b\n", 0, &err); /* header only */
  cr_assert(s, "%s", err.message);
  cr_assert_eq(s->types[0], CANON_STRING);
  canon_schema_free(s);

  cr_assert_null(infer_doc(dir, "a,b,a\n1,2,3\n", 0, &err));
  cr_assert(strstr(err.message, "infer.csv:1:5: duplicate column name 'a'"), "%s", err.message);
  cr_assert_null(infer_doc(dir, "a,,c\n1,2,3\n", 0, &err));
  cr_assert(strstr(err.message, "infer.csv:1:3:"), "%s", err.message);
  cr_assert_null(infer_doc(dir, "", 0, &err));
  cr_assert(strstr(err.message, "missing header"), "%s", err.message);
  cr_assert_null(infer_doc(dir, "a,b\n1,2\n3\n", 0, &err));
  cr_assert(strstr(err.message, "infer.csv:3:"), "%s", err.message);
  char path[512];
  snprintf(path, sizeof path, "%s/nope.csv", dir);
  cr_assert_null(canon__csv_infer(path, ',', 0, &err));
  cr_assert_eq(err.code, CANON_ERR_IO);
  tu_rmdir(dir);
  free(dir);
}

/* A document with quoted newlines, escapes, NULLs and CRLFs. */
static char *make_doc(int rows) {
  size_t cap = (size_t)rows * 64 + 64, n = 0;
  char *doc = malloc(cap);
  n += (size_t)sprintf(doc, "id,s,f\n");
  for (int i = 0; i < rows; i++) {
    switch (i % 7) {
    case 0: n += (size_t)sprintf(doc + n, "%d,\"multi\nline %d\",%d.5\n", i, i, i); break;
    case 1: n += (size_t)sprintf(doc + n, "%d,\"q\"\"%d\"\"\n\n\",\r\n", i, i); break;
    case 2: n += (size_t)sprintf(doc + n, "%d,,NaN\n", i); break;
    case 3: n += (size_t)sprintf(doc + n, "%d,\"\",-0.0\n", i); break;
    case 4: n += (size_t)sprintf(doc + n, "%d,\"a,b\",1e300\n", i); break;
    default: n += (size_t)sprintf(doc + n, "%d,plain %d,%d\n", i, i, -i); break;
    }
  }
  return doc;
}

Test(csv, split_ranges_match_whole) {
  char *dir = tu_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/data.csv", dir);
  canon_schema *s = schema_of("id:int64,s:string,f:float64");
  for (int rows = 0; rows <= 300; rows += 37) {
    char *doc = make_doc(rows);
    tu_write_file(path, doc);
    canon_error err;
    canon_table *ref = canon__csv_parse_buffer(doc, strlen(doc), path, ',', s, true, &err);
    cr_assert(ref, "%s", err.message);
    cr_assert_eq(ref->nrows, rows);
    char *want = tu_csv(ref);
    int ns[] = {1, 2, 3, 8, 16};
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
      canon_table *whole = NULL;
      char *got = read_split_csv(path, s, ns[k], &whole);
      cr_assert_str_eq(got, want, "rows %d, n %d", rows, ns[k]);
      cr_assert(whole);
      assert_identical(whole, ref);
      canon_table_free(whole);
      free(got);
    }
    free(want);
    canon_table_free(ref);
    free(doc);
  }
  canon_schema_free(s);
  tu_rmdir(dir);
  free(dir);
}

/* An error in the last range reports the same line whatever the split. */
Test(csv, split_error_lines_are_global) {
  char *dir = tu_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/bad.csv", dir);
  char *doc = make_doc(100);
  size_t n = strlen(doc);
  doc = realloc(doc, n + 32);
  strcpy(doc + n, "100,x,oops\n");
  int64_t lines = 1;
  for (size_t i = 0; i < n; i++) lines += doc[i] == '\n';
  tu_write_file(path, doc);
  char want[64];
  snprintf(want, sizeof want, "bad.csv:%" PRId64 ":7: column 'f': 'oops'", lines);
  canon_schema *s = schema_of("id:int64,s:string,f:float64");
  int ns[] = {1, 2, 3, 8};
  for (size_t k = 0; k < 4; k++) {
    canon_error err;
    canon__csv_range *r;
    cr_assert_eq(canon__csv_split(path, ',', s, ns[k], &r, &err), 0, "%s", err.message);
    bool failed = false;
    for (int i = 0; i < ns[k]; i++) {
      canon_table *t = canon__csv_read_range(path, ',', s, &r[i], &err);
      if (!t) {
        cr_assert(strstr(err.message, want), "n=%d: '%s' lacks '%s'", ns[k], err.message, want);
        failed = true;
      }
      canon_table_free(t);
    }
    cr_assert(failed);
    free(r);
  }
  /* split checks the header */
  canon_schema *other = schema_of("id:int64,t:string,f:float64");
  canon_error err;
  canon__csv_range *r;
  cr_assert_neq(canon__csv_split(path, ',', other, 2, &r, &err), 0);
  cr_assert(strstr(err.message, "bad.csv:1:4:"), "%s", err.message);
  canon_schema_free(other);
  canon_schema_free(s);
  free(doc);
  tu_rmdir(dir);
  free(dir);
}

/* ---- writing ----------------------------------------------------------- */

/* A table with every awkward value the writer must keep. */
static canon_table *awkward_table(void) {
  canon_schema *s = schema_of("b:bool,i:int64,f:float64,s:string,d:date,ts:timestamp");
  canon_error err;
  canon_builder *b = canon_builder_new(s, &err);
  cr_assert(b);
  double fs[] = {NAN, -0.0, 0.0, INFINITY, -INFINITY, 0.1, 5e-324, DBL_MAX, 1.0 / 3, 1e16,
                 123456789012345678.0, -1e-320, 2.5};
  const char *ss[] = {"", NULL, "a,b", "q\"uote", "multi\nline", "cr\rlf\r\n", "héllo €𝄞",
                      "\"", " spaced ", ",", "plain", "tab\there", "x"};
  int n = (int)(sizeof fs / sizeof *fs);
  for (int r = 0; r < n; r++) {
    if (r % 5 == 4) canon_builder_append_null(b, 0);
    else canon_builder_append_bool(b, 0, r % 2);
    canon_builder_append_int64(b, 1, r == 0 ? INT64_MIN : r == 1 ? INT64_MAX : r * 1000 - 7);
    canon_builder_append_float64(b, 2, fs[r]);
    if (ss[r]) canon_builder_append_string(b, 3, ss[r], strlen(ss[r]));
    else canon_builder_append_null(b, 3);
    if (r == 3) canon_builder_append_null(b, 4);
    else canon_builder_append_date(b, 4, r * 4000 - 20000);
    canon_builder_append_timestamp(b, 5, (int64_t)r * 123456789123LL - 500000000000LL);
  }
  for (int c = 0; c < 6; c++) canon_builder_append_null(b, c); /* an all-NULL row */
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  return t;
}

Test(csv, write_read_round_trip) {
  char *dir = tu_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/out.csv", dir);
  canon_table *t = awkward_table();
  canon_error err;
  cr_assert_eq(canon__csv_write_atomic(path, &t, 1, &err), 0, "%s", err.message);
  cr_assert_eq(tu_dir_entries(dir), 1, "no temporary file left");
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0644);
  for (int n = 1; n <= 3; n++) {
    canon_table *back = NULL;
    char *txt = read_split_csv(path, t->schema, n, &back);
    assert_identical(back, t);
    canon_table_free(back);
    free(txt);
  }
  /* the inferred schema reads it back too */
  canon_schema *s = canon__csv_infer(path, ',', 0, &err);
  cr_assert(s, "%s", err.message);
  cr_assert(canon__schema_equal(s, t->schema));
  canon_schema_free(s);
  /* the text itself */
  char *txt = tu_csv(t);
  const char *head = "b,i,f,s,d,ts\nfalse,-9223372036854775808,NaN,\"\",";
  cr_assert(!strncmp(txt, head, strlen(head)), "%s", txt);
  cr_assert(strstr(txt, "\"q\"\"uote\""), "%s", txt);
  cr_assert(strstr(txt, ",-0.0,"), "%s", txt);
  cr_assert(strstr(txt, "\n,,,,,\n"), "%s", txt);
  free(txt);
  canon_table_free(t);
  tu_rmdir(dir);
  free(dir);
}

Test(csv, one_column_nulls_and_empties_round_trip) {
  canon_table *t = parse_ok("s:string", "s\n\n\"\"\nx\n\n");
  cr_assert_eq(t->nrows, 4);
  char *txt = tu_csv(t);
  cr_assert_str_eq(txt, "s\n\n\"\"\nx\n\n");
  canon_error err;
  canon_table *back = canon__csv_parse_buffer(txt, strlen(txt), "x", ',', t->schema, true, &err);
  cr_assert(back, "%s", err.message);
  assert_identical(back, t);
  canon_table_free(back);
  free(txt);
  canon_table_free(t);
}

Test(csv, write_several_parts_and_header_quoting) {
  canon_schema *s = canon_schema_new();
  cr_assert_eq(canon_schema_add(s, "a b", CANON_INT64, NULL), 0);
  cr_assert_eq(canon_schema_add(s, "\"c,d\"", CANON_STRING, NULL), 0);
  canon_error err;
  const char *d1 = "a b,\"\"\"c,d\"\"\"\n1,x\n", *d2 = "a b,\"\"\"c,d\"\"\"\n2,\n";
  canon_table *a = canon__csv_parse_buffer(d1, strlen(d1), "d1", ',', s, true, &err);
  cr_assert(a, "%s", err.message);
  canon_table *b = canon__csv_parse_buffer(d2, strlen(d2), "d2", ',', s, true, &err);
  cr_assert(b, "%s", err.message);
  canon_schema_free(s);
  canon_table *parts[] = {a, b};
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_eq(canon__csv_write(f, parts, 2, &err), 0, "%s", err.message);
  fclose(f);
  cr_assert_str_eq(buf, "a b,\"\"\"c,d\"\"\"\n1,x\n2,\n");
  free(buf);
  canon_table *c = parse_ok("x:int64", "x\n1\n");
  parts[1] = c;
  f = open_memstream(&buf, &len);
  cr_assert_eq(canon__csv_write(f, parts, 2, &err), CANON_ERR_INVALID);
  fclose(f);
  free(buf);
  char out[8];
  cr_assert_eq(canon_table_format_value(a, 0, 0, out, sizeof out), 1);
  cr_assert_str_eq(out, "1");
  cr_assert_eq(canon_table_format_value(a, 5, 0, out, sizeof out), 0);
  cr_assert_eq(canon_table_format_value(a, 0, 9, out, sizeof out), 0);
  canon_table_free(a);
  canon_table_free(b);
  canon_table_free(c);
}

Test(csv, atomic_write_leaves_nothing_on_failure) {
  char *dir = tu_tmpdir();
  canon_table *t = awkward_table();
  canon_error err;
  char path[512];
  /* a directory that does not exist */
  snprintf(path, sizeof path, "%s/missing/out.csv", dir);
  cr_assert_neq(canon__csv_write_atomic(path, &t, 1, &err), 0);
  cr_assert_eq(err.code, CANON_ERR_IO);
  cr_assert(strstr(err.message, "out.csv"), "%s", err.message);
  cr_assert_eq(tu_dir_entries(dir), 0);
  /* the target is a directory: the rename fails after a full write */
  snprintf(path, sizeof path, "%s/target", dir);
  cr_assert_eq(mkdir(path, 0755), 0);
  cr_assert_neq(canon__csv_write_atomic(path, &t, 1, &err), 0);
  cr_assert_eq(err.code, CANON_ERR_IO);
  cr_assert_eq(tu_dir_entries(dir), 1, "only the directory itself remains");
  cr_assert_eq(tu_dir_entries(path), 0);
  /* a trailing slash names no file */
  snprintf(path, sizeof path, "%s/", dir);
  cr_assert_neq(canon__csv_write_atomic(path, &t, 1, &err), 0);
  /* overwrite an existing file */
  snprintf(path, sizeof path, "%s/out.csv", dir);
  tu_write_file(path, "old\n");
  cr_assert_eq(canon__csv_write_atomic(path, &t, 1, &err), 0, "%s", err.message);
  cr_assert_eq(tu_dir_entries(dir), 2);
  FILE *f = fopen(path, "r");
  char head[16] = {0};
  cr_assert(fgets(head, sizeof head, f));
  fclose(f);
  cr_assert_str_eq(head, "b,i,f,s,d,ts\n");
  canon_table_free(t);
  tu_rmdir(dir);
  free(dir);
}

/* A tiny deterministic generator for the random-document test. */
static uint64_t gen_state = 12345;
static unsigned gen(unsigned n) {
  gen_state = gen_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (unsigned)((gen_state >> 33) % n);
}

/* Append one random field: NULL, unquoted, quoted with awkward bytes, or
 * (rarely) something malformed. */
static int gen_field(char *o, bool numeric) {
  static const char *plain[] = {"a", "1", "\xc3\xa9", "7", "x y"};
  static const char *inq[] = {"a", ",", "\n", "\r\n", "\"\"", "\xc3\xa9", "1"};
  static const char *bad[] = {"\"", "\xff", "\r", "a\"b", "\"x\"y", "\xed\xa0\x80"};
  int n = 0, k = (int)gen(10);
  if (k == 0) return 0;
  if (gen(40) == 0) return sprintf(o, "%s", bad[gen(6)]);
  if (numeric) return sprintf(o, k < 8 ? "%d" : "\"%d\"", (int)gen(1000) - 500);
  if (k < 5) {
    for (int j = 1 + (int)gen(3); j > 0; j--) n += sprintf(o + n, "%s", plain[gen(5)]);
    return n;
  }
  o[n++] = '"';
  for (int j = (int)gen(4); j > 0; j--) n += sprintf(o + n, "%s", inq[gen(7)]);
  o[n++] = '"';
  return n;
}

/* Random documents: the parser never crashes, and a split read agrees
 * with a whole read, failing or not. */
Test(csv, random_documents_split_consistently) {
  char *dir = tu_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/r.csv", dir);
  const char *schemas[] = {"s:string", "s:string,t:string", "n:int64,s:string,t:string"};
  const char *headers[] = {"s", "s,t", "n,s,t"};
  int parsed = 0;
  for (int iter = 0; iter < 1500; iter++) {
    int which = iter % 3, ncols = which + 1;
    canon_schema *s = schema_of(schemas[which]);
    char doc[2048];
    int n = sprintf(doc, "%s\n", headers[which]);
    for (int rec = (int)gen(8); rec > 0; rec--) {
      int nf = ncols + (gen(30) == 0 ? (int)gen(3) - 1 : 0);
      for (int c = 0; c < nf; c++) {
        if (c) doc[n++] = ',';
        n += gen_field(doc + n, which == 2 && c == 0);
      }
      if (rec > 1 || gen(2)) n += sprintf(doc + n, gen(4) ? "\n" : "\r\n");
    }
    if (gen(8) == 0) n += sprintf(doc + n, "\n\n");
    doc[n] = '\0';
    tu_write_file(path, doc);
    canon_error err;
    canon_table *whole = canon__csv_parse_buffer(doc, (size_t)n, path, ',', s, true, &err);
    if (!whole && !strstr(err.message, path)) cr_assert_fail("%s", err.message);
    parsed += whole != NULL;
    for (int parts = 2; parts <= 5; parts += 3) {
      canon__csv_range *r;
      if (canon__csv_split(path, ',', s, parts, &r, &err) != 0) cr_assert_fail("%s", err.message);
      canon_table *got[5];
      bool ok = true;
      for (int i = 0; i < parts; i++) {
        got[i] = ok ? canon__csv_read_range(path, ',', s, &r[i], &err) : NULL;
        if (!got[i]) ok = false;
      }
      if (ok != (whole != NULL)) cr_assert_fail("doc %d split %d: %s", iter, parts, err.message);
      if (ok) {
        canon_table *cat = canon__table_concat(got, parts, &err);
        assert_identical(cat, whole);
        canon_table_free(cat);
      }
      for (int i = 0; i < parts; i++) canon_table_free(got[i]);
      free(r);
    }
    canon_table_free(whole);
    canon_schema_free(s);
  }
  cr_assert(parsed > 500 && parsed < 1400, "%d of 1500 parsed: exercise both paths", parsed);
  tu_rmdir(dir);
  free(dir);
}

/* The split's cut points and line numbers, by the rule written out byte by
 * byte: range k closes at the first record start (after a newline outside
 * quotes) at or past body + (len - body) * (k + 1) / n. */
static void split_reference(const char *s, int64_t body, int64_t len, int n,
                            canon__csv_range *r) {
  int64_t line = 2, k = 0;
  bool inq = false;
  r[0].begin = body;
  r[0].first_line = line;
  int64_t target = body + (len - body) / n;
  for (int64_t i = body; i < len && k < n - 1; i++) {
    if (s[i] == '"') inq = !inq;
    if (s[i] != '\n') continue;
    line++;
    if (!inq && i + 1 >= target && i + 1 < len) {
      r[k].end = i + 1;
      r[++k].begin = i + 1;
      r[k].first_line = line;
      target = body + (len - body) * (k + 1) / n;
    }
  }
  r[k].end = len;
  for (int64_t j = k + 1; j < n; j++) {
    r[j].begin = r[j].end = len;
    r[j].first_line = r[k].first_line;
  }
}

/* Large documents (the word-at-a-time scan engages far from the cuts) with
 * quoted fields holding newlines and quotes, in runs and sparsely. */
Test(csv, split_matches_bytewise_rule) {
  char *dir = tu_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/big.csv", dir);
  canon_schema *s = schema_of("a:string,b:int64");
  for (int iter = 0; iter < 40; iter++) {
    size_t cap = 1 << 18, n = 0;
    char *doc = malloc(cap);
    n += (size_t)sprintf(doc, "a,b\n");
    int quote_every = 1 + (int)gen(iter % 2 ? 3 : 400);
    while (n < cap - 64 - (size_t)gen(1 << 16)) {
      if (gen((unsigned)quote_every) == 0) {
        doc[n++] = '"';
        for (int k = (int)gen(12); k > 0; k--) {
          unsigned c = gen(6);
          if (c == 0) doc[n++] = '\n';
          else if (c == 1) doc[n++] = '"', doc[n++] = '"';
          else doc[n++] = (char)('a' + gen(26));
        }
        doc[n++] = '"';
      } else {
        for (int k = (int)gen(20); k > 0; k--) doc[n++] = (char)('a' + gen(26));
      }
      n += (size_t)sprintf(doc + n, ",%u\n", gen(100000));
    }
    doc[n] = '\0';
    tu_write_file(path, doc);
    int ns[] = {2, 3, 7, 16};
    for (int q = 0; q < 4; q++) {
      canon_error err;
      canon__csv_range *got, want[16];
      cr_assert_eq(canon__csv_split(path, ',', s, ns[q], &got, &err), 0, "%s", err.message);
      split_reference(doc, 4, (int64_t)n, ns[q], want);
      for (int k = 0; k < ns[q]; k++) {
        cr_assert_eq(got[k].begin, want[k].begin, "doc %d n=%d range %d begin", iter, ns[q], k);
        cr_assert_eq(got[k].end, want[k].end, "doc %d n=%d range %d end", iter, ns[q], k);
        cr_assert_eq(got[k].first_line, want[k].first_line, "doc %d n=%d range %d line", iter,
                     ns[q], k);
      }
      free(got);
    }
    free(doc);
  }
  canon_schema_free(s);
  tu_rmdir(dir);
  free(dir);
}

/* ---- fast paths ---------------------------------------------------------- */

/* csv_read.c's switch: off, every field takes the general path. */
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
        canon_table *a = canon__csv_read_range(path, delim, s, &r[i], &e1);
        canon__csv_fast_paths = false;
        canon_table *b = canon__csv_read_range(path, delim, s, &r[i], &e2);
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
