/* Tests of the Arrow C Data Interface export and import (src/arrow.c).
 * Run under ASan, these also prove that release callbacks free everything
 * and that exports outlive the table they came from. */
#include "testutil.h"

#include "kernels.h"

static canon_table *csv_table(const char *schema, const char *rows) {
  canon_error err;
  canon_error_clear(&err);
  canon_table *t = canon_table_from_csv_text(schema, rows, &err);
  cr_assert(t, "%s", err.message);
  return t;
}

static const char *ALL_SCHEMA = "b:bool,i:int64,f:float64,s:string,d:date,ts:timestamp";
static const char *ALL_ROWS = "true,1,1.5,abc,2020-01-02,2020-01-01T00:00:00Z\n"
                              ",,,,,\n"
                              "false,-7,-0.0,\"\",1969-12-31,1969-12-31T23:59:59.000001Z\n"
                              "true,9223372036854775807,NaN,h\xc3\xa9llo,,2100-01-01T12:00:00Z\n"
                              ",0,inf,,2000-02-29,\n"
                              "true,,-inf,z,1900-01-01,1970-01-01T00:00:00Z\n"
                              "false,5,0.1,\"with,comma\",2020-01-01,\n"
                              "true,6,2.5,x,2020-01-01,2020-01-01T00:00:00Z\n"
                              "false,7,3.5,y,2020-01-01,2020-01-01T00:00:00Z\n";

static bool bit(const void *bitmap, int64_t i) { return (((const uint8_t *)bitmap)[i >> 3] >> (i & 7)) & 1; }

Test(arrow, export_layout) {
  canon_table *t = csv_table(ALL_SCHEMA, ALL_ROWS);
  struct ArrowSchema sc;
  struct ArrowArray ar;
  canon_error err;
  cr_assert_eq(canon_table_export_arrow(t, &sc, &ar, &err), 0, "%s", err.message);
  cr_assert_str_eq(sc.format, "+s");
  cr_assert_eq(sc.n_children, 6);
  cr_assert_eq(ar.n_children, 6);
  cr_assert_eq(ar.length, 9);
  const char *formats[] = {"b", "l", "g", "U", "tdD", "tsu:UTC"};
  const char *names[] = {"b", "i", "f", "s", "d", "ts"};
  for (int i = 0; i < 6; i++) {
    cr_assert_str_eq(sc.children[i]->format, formats[i]);
    cr_assert_str_eq(sc.children[i]->name, names[i]);
    cr_assert(sc.children[i]->flags & ARROW_FLAG_NULLABLE);
    cr_assert_eq(ar.children[i]->length, 9);
    cr_assert_eq(ar.children[i]->offset, 0);
    cr_assert_eq(ar.children[i]->n_buffers, i == 3 ? 3 : 2);
  }
  /* bool: packed bits, validity bitmap, null count. */
  struct ArrowArray *b = ar.children[0];
  cr_assert_eq(b->null_count, 2);
  bool want_valid[] = {1, 0, 1, 1, 0, 1, 1, 1, 1};
  bool want_val[] = {1, 0, 0, 1, 0, 1, 0, 1, 0};
  for (int r = 0; r < 9; r++) {
    cr_assert_eq(bit(b->buffers[0], r), want_valid[r], "row %d", r);
    if (want_valid[r]) cr_assert_eq(bit(b->buffers[1], r), want_val[r], "row %d", r);
  }
  /* Zero copy for everything else: buffers are the columns' own. */
  cr_assert_eq(ar.children[1]->buffers[1], (const void *)t->cols[1]->values->data);
  cr_assert_eq(ar.children[3]->buffers[1], (const void *)t->cols[3]->values->data);
  cr_assert_eq(ar.children[3]->buffers[2], (const void *)t->cols[3]->strdata->data);
  const int64_t *off = ar.children[3]->buffers[1];
  const char *data = ar.children[3]->buffers[2];
  cr_assert_eq(off[4] - off[3], 6);
  cr_assert(!memcmp(data + off[3], "h\xc3\xa9llo", 6));
  cr_assert_eq(((const int32_t *)ar.children[4]->buffers[1])[2], -1);
  cr_assert_eq(((const int64_t *)ar.children[5]->buffers[1])[2], -999999);
  /* The export outlives the table. */
  canon_table_free(t);
  cr_assert_eq(((const int64_t *)ar.children[1]->buffers[1])[3], INT64_MAX);
  cr_assert(!memcmp(data + off[0], "abc", 3));
  ar.release(&ar);
  cr_assert_null(ar.release);
  sc.release(&sc);
  cr_assert_null(sc.release);
}

/* A consumer may move a child out and release it after the parent. */
Test(arrow, moved_children_released_separately) {
  canon_table *t = csv_table("a:string,b:int64", "x,1\ny,\n");
  struct ArrowSchema sc;
  struct ArrowArray ar;
  canon_error err;
  cr_assert_eq(canon_table_export_arrow(t, &sc, &ar, &err), 0);
  canon_table_free(t);
  struct ArrowArray moved = *ar.children[0];
  ar.children[0]->release = NULL;
  struct ArrowSchema moved_s = *sc.children[1];
  sc.children[1]->release = NULL;
  ar.release(&ar);
  sc.release(&sc);
  const int64_t *off = moved.buffers[1];
  cr_assert(!memcmp((const char *)moved.buffers[2] + off[1], "y", 1));
  cr_assert_str_eq(moved_s.name, "b");
  moved.release(&moved);
  cr_assert_null(moved.release);
  moved_s.release(&moved_s);
  cr_assert_null(moved_s.release);
}

Test(arrow, round_trip) {
  canon_table *t = csv_table(ALL_SCHEMA, ALL_ROWS);
  char *want = tu_csv(t);
  struct ArrowSchema sc;
  struct ArrowArray ar;
  canon_error err;
  cr_assert_eq(canon_table_export_arrow(t, &sc, &ar, &err), 0);
  canon_table_free(t);
  canon_table *back = canon_table_import_arrow(&sc, &ar, &err);
  cr_assert(back, "%s", err.message);
  cr_assert_null(ar.release, "import consumed the array");
  char *got = tu_csv(back);
  cr_assert_str_eq(got, want);
  char *s1 = canon_schema_to_string(canon_table_schema(back));
  cr_assert_str_eq(s1, "b:bool,i:int64,f:float64,s:string,d:date,ts:timestamp");
  /* -0.0 and NaN bits survive. */
  double z = canon_table_get_float64(back, 2, 2);
  uint64_t zb;
  memcpy(&zb, &z, 8);
  cr_assert_eq(zb, 0x8000000000000000ULL);
  free(s1);
  free(got);
  free(want);
  canon_table_free(back);
  sc.release(&sc);

  /* Empty tables too. */
  t = csv_table(ALL_SCHEMA, "");
  cr_assert_eq(canon_table_export_arrow(t, &sc, &ar, &err), 0);
  back = canon_table_import_arrow(&sc, &ar, &err);
  cr_assert(back, "%s", err.message);
  cr_assert_eq(canon_table_num_rows(back), 0);
  cr_assert_eq(canon_table_num_columns(back), 6);
  canon_table_free(back);
  canon_table_free(t);
  sc.release(&sc);
}

Test(arrow, stream) {
  canon_table *t = csv_table("a:int64", "1\n2\n3\n");
  struct ArrowArrayStream st;
  canon_error err;
  cr_assert_eq(canon_table_export_arrow_stream(t, &st, &err), 0, "%s", err.message);
  canon_table_free(t);
  struct ArrowSchema sc;
  struct ArrowArray ar;
  cr_assert_eq(st.get_schema(&st, &sc), 0);
  cr_assert_str_eq(sc.format, "+s");
  cr_assert_eq(st.get_next(&st, &ar), 0);
  cr_assert(ar.release);
  cr_assert_eq(ar.length, 3);
  canon_table *back = canon_table_import_arrow(&sc, &ar, &err);
  cr_assert(back, "%s", err.message);
  cr_assert_eq(canon_table_get_int64(back, 0, 2), 3);
  canon_table_free(back);
  sc.release(&sc);
  cr_assert_eq(st.get_next(&st, &ar), 0);
  cr_assert_null(ar.release, "end of stream");
  cr_assert_null(st.get_last_error(&st));
  st.release(&st);
  cr_assert_null(st.release);
}

/* ---- hand-made arrays for import ---------------------------------------- */

static int released;
static void count_release(struct ArrowArray *a) {
  released++;
  a->release = NULL;
}
static void noop_schema_release(struct ArrowSchema *s) { s->release = NULL; }

/* A struct array with one child of logical length `length` starting at
 * `offset`, all static; the parent's count_release stands for the whole
 * tree. */
typedef struct one_col {
  struct ArrowSchema s, cs, *csp;
  struct ArrowArray a, ca, *cap;
  const void *pbufs[1];
  const void *cbufs[3];
} one_col;

static void one_col_init(one_col *o, const char *format, const char *name, int64_t length,
                         int64_t null_count, int64_t offset, const void *validity,
                         const void *b1, const void *b2) {
  memset(o, 0, sizeof *o);
  o->cs = (struct ArrowSchema){.format = format, .name = name, .flags = ARROW_FLAG_NULLABLE,
                               .release = noop_schema_release};
  o->csp = &o->cs;
  o->s = (struct ArrowSchema){.format = "+s", .name = "", .n_children = 1, .children = &o->csp,
                              .release = noop_schema_release};
  o->cbufs[0] = validity;
  o->cbufs[1] = b1;
  o->cbufs[2] = b2;
  o->ca = (struct ArrowArray){.length = length, .null_count = null_count, .offset = offset,
                              .n_buffers = b2 ? 3 : 2, .buffers = o->cbufs,
                              .release = count_release};
  o->cap = &o->ca;
  o->a = (struct ArrowArray){.length = length, .n_buffers = 1, .buffers = o->pbufs,
                             .n_children = 1, .children = &o->cap, .release = count_release};
}

static canon_table *import_ok(one_col *o) {
  canon_error err;
  released = 0;
  canon_table *t = canon_table_import_arrow(&o->s, &o->a, &err);
  cr_assert(t, "%s", err.message);
  cr_assert_eq(released, 1);
  return t;
}

static void import_fails(one_col *o, int code, const char *text) {
  canon_error err;
  released = 0;
  canon_table *t = canon_table_import_arrow(&o->s, &o->a, &err);
  cr_assert_null(t);
  cr_assert_eq(err.code, code, "%s", err.message);
  cr_assert(strstr(err.message, text), "'%s' lacks '%s'", err.message, text);
  cr_assert_eq(released, 1, "a failed import still consumes the array");
}

Test(arrow, import_offsets_and_bitmaps) {
  /* int32-offset strings with a child offset, unknown null count. */
  int32_t off[] = {0, 1, 3, 3, 6};
  uint8_t valid = 0x0b; /* rows 0, 1, 3 valid; 2 NULL */
  one_col o;
  one_col_init(&o, "u", "s", 3, -1, 1, &valid, off, "abbccc");
  canon_table *t = import_ok(&o);
  cr_assert_eq(canon_table_num_rows(t), 3);
  char *csv = tu_csv(t);
  cr_assert_str_eq(csv, "s\nbb\n\nccc\n");
  free(csv);
  canon_table_free(t);

  /* Bools with no validity bitmap, offset 3 into the bits. */
  uint8_t bools = 0x58; /* bits 3..6 = 1,1,0,1 */
  one_col_init(&o, "b", "flag", 4, 0, 3, NULL, &bools, NULL);
  t = import_ok(&o);
  csv = tu_csv(t);
  cr_assert_str_eq(csv, "flag\ntrue\ntrue\nfalse\ntrue\n");
  free(csv);
  canon_table_free(t);

  /* Timestamps without a zone; a validity bitmap with null_count 0 is
   * ignored. */
  int64_t us[] = {0, 1000000};
  uint8_t none = 0;
  one_col_init(&o, "tsu:", "t", 2, 0, 0, &none, us, NULL);
  t = import_ok(&o);
  csv = tu_csv(t);
  cr_assert_str_eq(csv, "t\n1970-01-01T00:00:00Z\n1970-01-01T00:00:01Z\n");
  free(csv);
  canon_table_free(t);

  /* A parent struct offset applies to the children; NULL parent slots are
   * NULL rows. */
  int64_t vals[] = {10, 20, 30, 40};
  uint8_t pvalid = 0x0b; /* parent slot 2 NULL */
  one_col_init(&o, "l", "v", 4, 0, 0, NULL, vals, NULL);
  o.a.offset = 1;
  o.a.length = 3;
  o.a.null_count = 1;
  o.pbufs[0] = &pvalid;
  t = import_ok(&o);
  csv = tu_csv(t);
  cr_assert_str_eq(csv, "v\n20\n\n40\n");
  free(csv);
  canon_table_free(t);
}

Test(arrow, import_rejects_hostile_input) {
  int64_t vals[] = {1, 2, 3};
  int64_t back_off[] = {0, 5, 2, 6};
  int64_t neg_off[] = {-1, 0, 1, 2};
  int32_t off32[] = {0, 1, 2, 3};
  one_col o;

  one_col_init(&o, "l", "v", 3, 0, 0, NULL, vals, NULL);
  o.ca.length = -1;
  import_fails(&o, CANON_ERR_PARSE, "'v'");

  one_col_init(&o, "l", "v", 3, 0, 0, NULL, vals, NULL);
  o.a.length = -5;
  import_fails(&o, CANON_ERR_PARSE, "malformed");

  one_col_init(&o, "l", "v", 3, 0, 0, NULL, vals, NULL);
  o.ca.offset = -1;
  import_fails(&o, CANON_ERR_PARSE, "'v'");

  one_col_init(&o, "l", "v", 3, 0, 0, NULL, vals, NULL);
  o.a.length = 4; /* parent longer than the child */
  import_fails(&o, CANON_ERR_PARSE, "'v'");

  one_col_init(&o, "U", "s", 3, 0, 0, NULL, back_off, "abcdef");
  import_fails(&o, CANON_ERR_PARSE, "string offsets");

  one_col_init(&o, "U", "s", 3, 0, 0, NULL, neg_off, "abcdef");
  import_fails(&o, CANON_ERR_PARSE, "string offsets");

  one_col_init(&o, "u", "s", 3, 0, 0, NULL, off32, NULL);
  o.ca.n_buffers = 3; /* bytes announced, no data buffer */
  import_fails(&o, CANON_ERR_PARSE, "without data");

  one_col_init(&o, "l", "v", 3, 0, 0, NULL, vals, "x");
  import_fails(&o, CANON_ERR_PARSE, "buffers"); /* wrong buffer count */

  one_col_init(&o, "l", "v", 3, 2, 0, NULL, vals, NULL);
  import_fails(&o, CANON_ERR_PARSE, "no validity bitmap");

  one_col_init(&o, "i", "small", 3, 0, 0, NULL, vals, NULL);
  import_fails(&o, CANON_ERR_UNSUPPORTED, "'small' has unsupported format 'i'");

  one_col_init(&o, "tsu:Europe/Paris", "t", 3, 0, 0, NULL, vals, NULL);
  import_fails(&o, CANON_ERR_UNSUPPORTED, "'tsu:Europe/Paris'");

  struct ArrowSchema dict = {.format = "u", .name = "", .release = noop_schema_release};
  one_col_init(&o, "l", "cat", 3, 0, 0, NULL, vals, NULL);
  o.cs.dictionary = &dict;
  import_fails(&o, CANON_ERR_UNSUPPORTED, "dictionary");

  one_col_init(&o, "l", "v", 3, 0, 0, NULL, vals, NULL);
  o.s.format = "+l";
  import_fails(&o, CANON_ERR_UNSUPPORTED, "struct array");

  one_col_init(&o, "l", "v", 3, 0, 0, NULL, vals, NULL);
  o.a.n_children = 2;
  import_fails(&o, CANON_ERR_PARSE, "malformed");

  one_col_init(&o, "l", "v", 3, 0, 0, NULL, vals, NULL);
  o.a.null_count = 1; /* struct nulls announced, no bitmap */
  import_fails(&o, CANON_ERR_PARSE, "no validity bitmap");

  /* An already released array is refused without a second release. */
  one_col_init(&o, "l", "v", 3, 0, 0, NULL, vals, NULL);
  o.a.release = NULL;
  canon_error err;
  released = 0;
  cr_assert_null(canon_table_import_arrow(&o.s, &o.a, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert_eq(released, 0);
}
