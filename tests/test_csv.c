/* test_csv.c — CSV reading, range splitting, inference and writing
 * (kernels/csv_read.c, kernels/csv_write.c).
 */
#include <criterion/criterion.h>

#include <float.h>
#include <sys/stat.h>

#include "csv_testutil.h"

/* ---- helpers ----------------------------------------------------------- */

/* Parse must fail with CANON_ERR_PARSE and a message holding `needle`. */
static void parse_fails(const char *schema, const char *doc, const char *needle) {
  canon_error err;
  canon_table *t = parse_doc(schema, doc, &err);
  cr_assert_null(t, "'%s' should not parse", doc);
  cr_assert_eq(err.code, CANON_ERR_PARSE, "code %d: %s", err.code, err.message);
  cr_assert(strstr(err.message, needle), "message '%s' lacks '%s'", err.message, needle);
  cr_assert_null(strchr(err.message, '\n'));
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
    parts[i] = canon__csv_read_range(path, ',', s, &r[i], NULL, &err);
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
      canon_table *t = canon__csv_read_range(path, ',', s, &r[i], NULL, &err);
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
        got[i] = ok ? canon__csv_read_range(path, ',', s, &r[i], NULL, &err) : NULL;
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

/* The split of document `iter` (doc[0..n), written to path, header "a,b")
 * into `parts` ranges against the rule. */
static void check_split(const char *path, const canon_schema *s, const char *doc, size_t n,
                        int parts, int iter) {
  canon_error err;
  canon__csv_range *got, want[64];
  cr_assert_leq(parts, 64);
  cr_assert_eq(canon__csv_split(path, ',', s, parts, &got, &err), 0, "%s", err.message);
  split_reference(doc, 4, (int64_t)n, parts, want);
  for (int k = 0; k < parts; k++) {
    cr_assert_eq(got[k].begin, want[k].begin, "doc %d n=%d range %d begin", iter, parts, k);
    cr_assert_eq(got[k].end, want[k].end, "doc %d n=%d range %d end", iter, parts, k);
    cr_assert_eq(got[k].first_line, want[k].first_line, "doc %d n=%d range %d line", iter, parts,
                 k);
  }
  free(got);
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
    for (int q = 0; q < 4; q++) check_split(path, s, doc, n, ns[q], iter);
    free(doc);
  }
  canon_schema_free(s);
  tu_rmdir(dir);
  free(dir);
}

/* Documents without a quote before the last cut are cut on every core
 * (csv_split.c): the same ranges and line numbers as the rule, for lines of
 * every length (some longer than a range's share, so that several shares
 * end on one line), quotes only in the last range, quotes halfway (the
 * count gives up for the quote-aware scan), and one document big enough
 * for the count to run on several threads. */
Test(csv, split_without_quotes_matches_bytewise_rule) {
  char *dir = tu_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/plain.csv", dir);
  canon_schema *s = schema_of("a:string,b:int64");
  for (int iter = 0; iter < 41; iter++) {
    bool big = iter == 40;
    size_t cap = big ? (size_t)9 << 20 : (size_t)1 << 16, n = 0;
    char *doc = malloc(cap + 4096);
    n += (size_t)sprintf(doc, "a,b\n");
    int longest = iter % 4 == 0 ? 20000 : iter % 4 == 1 ? 300 : 40;
    while (n < cap - (size_t)longest - 64) {
      for (int k = (int)gen((unsigned)longest); k > 0; k--) doc[n++] = (char)('a' + gen(26));
      n += (size_t)sprintf(doc + n, ",%u\n", gen(100000));
    }
    if (iter % 3 == 1) /* a quoted field in the last line only */
      n += (size_t)sprintf(doc + n, "\"x\ny\",1\n");
    if (iter % 7 == 3) { /* two quotes halfway: the count gives up */
      char *mid = strchr(doc + n / 2, '\n');
      if (mid && mid + 2 < doc + n) mid[1] = mid[2] = '"';
    }
    if (iter % 5 == 2) doc[n - 1] = '7'; /* no newline at the end */
    doc[n] = '\0';
    tu_write_file(path, doc);
    int ns[] = {2, 3, 7, 16, 64};
    for (int q = 0; q < 5; q++) check_split(path, s, doc, n, ns[q], iter);
    free(doc);
  }
  canon_schema_free(s);
  tu_rmdir(dir);
  free(dir);
}
