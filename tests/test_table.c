/* Tests of schemas, the table builder and row selection (table.c). */
#include "testutil.h"

#include "kernels.h"
#include "canon_testing.h"

Test(table, schema_parse_and_errors) {
  canon_error err;
  canon_schema *s = canon_schema_parse(" a : int64, b:string ,c:date", &err);
  cr_assert(s, "%s", err.message);
  cr_assert_eq(canon_schema_num_fields(s), 3);
  cr_assert_str_eq(canon_schema_field_name(s, 1), "b");
  cr_assert_eq(canon_schema_field_type(s, 2), CANON_DATE);
  char *txt = canon_schema_to_string(s);
  cr_assert_str_eq(txt, "a:int64,b:string,c:date");
  free(txt);
  canon_schema_free(s);
  cr_assert_null(canon_schema_parse("a:int32", &err));
  cr_assert(strstr(err.message, "unknown type 'int32'"), "%s", err.message);
  cr_assert_null(canon_schema_parse("a:int64,a:string", &err));
  cr_assert(strstr(err.message, "duplicate column name 'a'"), "%s", err.message);
  cr_assert_null(canon_schema_parse("a", &err));
  cr_assert_null(canon_schema_parse("", &err));
}

Test(table, builder_roundtrip_and_nulls) {
  canon_error err;
  canon_schema *s = canon_schema_parse("b:bool,i:int64,f:float64,s:string,d:date,t:timestamp", &err);
  canon_builder *b = canon_builder_new(s, &err);
  cr_assert(b);
  for (int r = 0; r < 100; r++) {
    if (r % 7 == 3) {
      for (int c = 0; c < 6; c++) cr_assert_eq(canon_builder_append_null(b, c), 0);
      continue;
    }
    char txt[32];
    snprintf(txt, sizeof txt, "row%d", r);
    cr_assert_eq(canon_builder_append_bool(b, 0, r & 1), 0);
    cr_assert_eq(canon_builder_append_int64(b, 1, (int64_t)r * 1000000007LL), 0);
    cr_assert_eq(canon_builder_append_float64(b, 2, r / 3.0), 0);
    cr_assert_eq(canon_builder_append_string(b, 3, txt, strlen(txt)), 0);
    cr_assert_eq(canon_builder_append_date(b, 4, r - 50), 0);
    cr_assert_eq(canon_builder_append_timestamp(b, 5, (int64_t)r * -86400000000LL), 0);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  cr_assert_eq(canon_table_num_rows(t), 100);
  for (int r = 0; r < 100; r++) {
    bool null = r % 7 == 3;
    for (int c = 0; c < 6; c++) cr_assert_eq(canon_table_is_null(t, c, r), null);
    if (null) continue;
    cr_assert_eq(canon_table_get_bool(t, 0, r), r & 1);
    cr_assert_eq(canon_table_get_int64(t, 1, r), (int64_t)r * 1000000007LL);
    cr_assert_eq(canon_table_get_float64(t, 2, r), r / 3.0);
    size_t len;
    const char *str = canon_table_get_string(t, 3, r, &len);
    char txt[32];
    snprintf(txt, sizeof txt, "row%d", r);
    cr_assert_eq(len, strlen(txt));
    cr_assert_eq(memcmp(str, txt, len), 0);
    cr_assert_eq(canon_table_get_int64(t, 4, r), r - 50);
  }
  /* take / slice / concat keep values and NULLs. */
  int64_t idx[] = {99, 3, 0, 3};
  canon_table *tk = canon__table_take(t, idx, 4, &err);
  cr_assert(tk);
  cr_assert_eq(canon_table_get_int64(tk, 1, 0), 99 * 1000000007LL);
  cr_assert(canon_table_is_null(tk, 3, 1));
  cr_assert(canon_table_is_null(tk, 3, 3));
  canon_table *sl = canon__table_slice(t, 10, 20, &err);
  cr_assert_eq(canon_table_num_rows(sl), 20);
  cr_assert(canon_table_is_null(sl, 0, 7)); /* row 17 */
  canon_table *parts[] = {tk, sl, tk};
  canon_table *cat = canon__table_concat(parts, 3, &err);
  cr_assert_eq(canon_table_num_rows(cat), 28);
  size_t len;
  cr_assert(canon_table_is_null(cat, 3, 4)); /* row 10 is a NULL row */
  const char *str = canon_table_get_string(cat, 3, 5, &len);
  cr_assert_eq(len, 5);
  cr_assert_eq(memcmp(str, "row11", 5), 0);
  cr_assert(canon_table_is_null(cat, 1, 25));
  canon_table_free(tk);
  canon_table_free(sl);
  canon_table_free(cat);
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(s);
}

/* The consuming concatenation (persist's) gives what the copying one gives,
 * for one part and several, with NULLs and strings, and frees the parts. */
Test(table, concat_free_matches_concat) {
  canon_error err;
  canon_table *src = canon_testing_table(
      "b:bool,i:int64,f:float64,s:string,d:date",
      "true,1,1.5,a,2020-01-01\n,,,,\nfalse,-3,,\"\",\n,7,2.5,bcd,1999-12-31\n"
      "true,8,-0.0,xyz,\n", &err);
  cr_assert(src, "%s", err.message);
  for (int n = 1; n <= 4; n++) {
    canon_table *parts[4], *copies[4];
    for (int p = 0; p < n; p++) {
      parts[p] = canon__table_slice(src, p % 3, 5 - p % 3 - (p == 2), &err);
      copies[p] = canon__table_slice(src, p % 3, 5 - p % 3 - (p == 2), &err);
      cr_assert(parts[p] && copies[p]);
    }
    canon_table *want = canon__table_concat(copies, n, &err);
    canon_table *got = canon__table_concat_free(parts, n, &err);
    cr_assert(want && got, "%s", err.message);
    for (int p = 0; p < n; p++) cr_assert_null(parts[p]);
    char *diff = NULL;
    cr_assert_eq(canon_testing_compare(want, got, CANON_TESTING_EXACT, NULL, 0, &diff), 0,
                 "n=%d: %s", n, diff ? diff : "");
    canon_table_free(want);
    canon_table_free(got);
    for (int p = 0; p < n; p++) canon_table_free(copies[p]);
  }
  canon_table_free(src);
}

/* Columns of more than 8 MB are copied by several threads, part by part:
 * the answer is the single-threaded concatenation's, for parts that are
 * views (string offsets into their parent's bytes, bitmaps from mid-byte). */
Test(table, big_concat_free_matches_concat) {
  enum { N = 1100000 };
  canon_error err;
  canon_schema *s = canon_schema_parse("i:int64,s:string", &err);
  canon_builder *b = canon_builder_new(s, &err);
  char buf[32];
  for (int64_t r = 0; r < N; r++) {
    if (r % 97 == 5) {
      cr_assert_eq(canon_builder_append_null(b, 0), 0);
      cr_assert_eq(canon_builder_append_null(b, 1), 0);
      continue;
    }
    int len = snprintf(buf, sizeof buf, "r%lld", (long long)(r * 7919 % 1000003));
    cr_assert_eq(canon_builder_append_int64(b, 0, r * 31 - 5), 0);
    cr_assert_eq(canon_builder_append_string(b, 1, buf, (size_t)len), 0);
  }
  canon_table *src = canon_builder_finish(b, &err);
  cr_assert(src, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  const int64_t cut[] = {0, 3, 400001, 400008, 800013, N};
  canon_table *parts[5], *copies[5];
  for (int p = 0; p < 5; p++) {
    parts[p] = canon__table_slice(src, cut[p], cut[p + 1] - cut[p], &err);
    copies[p] = canon__table_slice(src, cut[p], cut[p + 1] - cut[p], &err);
    cr_assert(parts[p] && copies[p], "%s", err.message);
  }
  canon_table *want = canon__table_concat(copies, 5, &err);
  canon_table *got = canon__table_concat_free(parts, 5, &err);
  cr_assert(want && got, "%s", err.message);
  /* cell by cell against the source (and so the serial concatenation) */
  cr_assert_eq(got->nrows, N);
  cr_assert_eq(want->nrows, N);
  for (int c = 0; c < 2; c++)
    cr_assert_eq(got->cols[c]->null_count, src->cols[c]->null_count);
  for (int64_t r = 0; r < N; r++) {
    bool v = canon__valid(src->cols[0], r);
    cr_assert(canon__valid(got->cols[0], r) == v && canon__valid(got->cols[1], r) == v, "row %lld",
              (long long)r);
    cr_assert(canon__valid(want->cols[1], r) == v);
    if (!v) continue;
    cr_assert_eq(canon__i64(got->cols[0])[r], canon__i64(src->cols[0])[r]);
    size_t la, lb;
    const char *a = canon__str(got->cols[1], r, &la), *bb = canon__str(src->cols[1], r, &lb);
    cr_assert(la == lb && memcmp(a, bb, la) == 0, "row %lld", (long long)r);
  }
  cr_assert_eq(((const int64_t *)got->cols[1]->values->data)[0], 0);
  canon_table_free(want);
  canon_table_free(got);
  for (int p = 0; p < 5; p++) canon_table_free(copies[p]);
  canon_table_free(src);
}

Test(table, builder_type_mismatch_is_sticky) {
  canon_error err;
  canon_schema *s = canon_schema_parse("a:int64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  cr_assert_eq(canon_builder_append_string(b, 0, "x", 1), CANON_ERR_TYPE);
  cr_assert_eq(canon_builder_append_int64(b, 5, 1), CANON_ERR_TYPE);
  /* Even if the caller ignored those return codes, finish refuses. */
  cr_assert_null(canon_builder_finish(b, &err));
  cr_assert(strstr(err.message, "'a'"), "%s", err.message);
  /* The builder is usable again afterwards. */
  cr_assert_eq(canon_builder_append_int64(b, 0, 7), 0);
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  cr_assert_eq(canon_table_get_int64(t, 0, 0), 7);
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(s);
}

Test(table, builder_unequal_lengths) {
  canon_error err;
  canon_schema *s = canon_schema_parse("a:int64,b:int64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  canon_builder_append_int64(b, 0, 1);
  cr_assert_null(canon_builder_finish(b, &err));
  cr_assert(strstr(err.message, "different lengths"), "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
}

Test(table, error_names_are_stable) {
  cr_assert_str_eq(canon_errcode_name(CANON_ERR_DIV_ZERO), "division_by_zero");
  cr_assert_str_eq(canon_errcode_name(CANON_ERR_OVERFLOW), "integer_overflow");
  cr_assert_str_eq(canon_errcode_name(9999), "unknown_error");
  for (int c = 0; c < CANON_ERR__COUNT; c++)
    cr_assert_str_neq(canon_errcode_name(c), "unknown_error", "code %d has no name", c);
}

/* A slice starting on a multiple of 8 shares the table's buffers; it must
 * read exactly like a copied slice, outlive the table, and feed kernels that
 * read string bytes from the first offset (concat, CSV, sort). */
Test(table, slice_views_match_copies) {
  canon_error err;
  canon_schema *s = canon_schema_parse("b:bool,i:int64,f:float64,s:string,d:date", &err);
  canon_builder *b = canon_builder_new(s, &err);
  for (int r = 0; r < 200; r++) {
    char txt[32];
    int len = snprintf(txt, sizeof txt, "v%d-%s", r, r % 3 ? "x" : "");
    if (r % 5 == 2) canon_builder_append_null(b, 0); else canon_builder_append_bool(b, 0, r & 1);
    if (r % 7 == 1) canon_builder_append_null(b, 1); else canon_builder_append_int64(b, 1, r * 3);
    canon_builder_append_float64(b, 2, r / 4.0);
    if (r % 11 == 4) canon_builder_append_null(b, 3); else canon_builder_append_string(b, 3, txt, (size_t)len);
    canon_builder_append_date(b, 4, r - 100);
  }
  canon_table *t = canon_builder_finish(b, &err);
  static const int64_t cuts[][2] = {{16, 37}, {8, 0}, {0, 199}, {192, 8}, {3, 50}, {64, 136}};
  for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
    int64_t start = cuts[c][0], n = cuts[c][1];
    int64_t idx[200];
    for (int64_t k = 0; k < n; k++) idx[k] = start + k;
    canon_table *view = canon__table_slice(t, start, n, &err);
    canon_table *copy = canon__table_take(t, idx, n, &err);
    cr_assert(view && copy, "%s", err.message);
    char *a = tu_csv(view), *bb = tu_csv(copy);
    cr_assert_str_eq(a, bb, "slice [%lld, +%lld)", (long long)start, (long long)n);
    for (int col = 0; col < 5; col++)
      cr_assert_eq(view->cols[col]->null_count, copy->cols[col]->null_count);
    canon_table *parts[] = {view, copy};
    canon_table *cat = canon__table_concat(parts, 2, &err);
    char *cc = tu_csv(cat);
    cr_assert_eq(canon_table_num_rows(cat), 2 * n);
    free(a), free(bb), free(cc);
    canon_table_free(cat);
    canon_table_free(copy);
    if (c == sizeof cuts / sizeof cuts[0] - 1) {
      /* The view keeps the buffers alive after the table is gone. */
      canon_table_free(t);
      t = NULL;
      char *after = tu_csv(view);
      cr_assert(strstr(after, "v64-x"), "%s", after);
      free(after);
      canon_table_free(view);
      break;
    }
    canon_table_free(view);
  }
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(s);
}
