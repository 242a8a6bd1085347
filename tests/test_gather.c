/* Tests of the gathers behind take (core/src/table.c) that have a fast path,
 * each compared with the general path on the same rows:
 *   - a string column with dictionary codes takes its bytes from the
 *     dictionary: the result equals the take of its uncoded twin (offsets,
 *     bytes, validity; NULL rows keep their own bytes), and its codes still
 *     name each row's string;
 * over random indexes with repeats, -1 (a NULL row), strings longer than 7
 * and 16 bytes, empty strings, and zero or one row. */
#include "testutil.h"

#include "kernels.h"

/* A string column of n rows drawn from `card` values ("v<k>", the empty
 * string, and 20-byte strings), NULL at rate 1/null_every (0: none); a
 * NULL row keeps the bytes it would have had (as a column read from
 * elsewhere may). */
static canon__column *string_col(int64_t n, int64_t card, int null_every) {
  canon__colbuilder b;
  cr_assert_eq(canon__cb_init(&b, CANON_STRING, n), 0);
  char buf[64];
  for (int64_t r = 0; r < n; r++) {
    int64_t k = tu_rnd_below(card);
    int len = k == 0 ? 0 : snprintf(buf, sizeof buf, k % 3 ? "v%lld" : "a-longer-value-%05lld", (long long)k);
    cr_assert_eq(canon__cb_str(&b, buf, (size_t)len), 0);
  }
  canon__column *c = canon__cb_finish(&b);
  cr_assert(c);
  if (null_every) {
    c->validity = canon__buffer_new((size_t)(n / 8 + 1));
    cr_assert(c->validity);
    memset(c->validity->data, 0, (size_t)(n / 8 + 1));
    c->validity->size = (size_t)(n + 7) / 8;
    for (int64_t r = 0; r < n; r++) {
      if (tu_rnd_below(null_every) == 0)
        c->null_count++;
      else
        c->validity->data[r >> 3] |= (uint8_t)(1u << (r & 7));
    }
  }
  return c;
}

/* The same values without codes (a separate copy). */
static canon__column *uncoded_twin(const canon__column *c) {
  cr_assert_null(c->dict);
  int64_t n = c->length;
  int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
  for (int64_t i = 0; i < n; i++) idx[i] = i;
  canon__column *out = canon__column_take(c, idx, n, false);
  cr_assert(out);
  free(idx);
  return out;
}

/* a and b hold the same rows: validity, offsets and bytes (NULL rows too). */
static void same_strings(const canon__column *a, const canon__column *b) {
  cr_assert_eq(a->length, b->length);
  cr_assert_eq(a->null_count, b->null_count);
  cr_assert_eq(a->validity == NULL, b->validity == NULL);
  for (int64_t i = 0; i < a->length; i++) {
    cr_assert_eq(canon__valid(a, i), canon__valid(b, i), "row %lld", (long long)i);
    cr_assert_eq(canon__i64(a)[i + 1] - canon__i64(a)[0], canon__i64(b)[i + 1] - canon__i64(b)[0]);
    size_t la, lb;
    const char *sa = canon__str(a, i, &la), *sb = canon__str(b, i, &lb);
    cr_assert(la == lb && memcmp(sa, sb, la) == 0, "row %lld", (long long)i);
  }
}

/* Every valid row's code names its own string; NULL rows hold code 0. */
static void codes_name_strings(const canon__column *c) {
  cr_assert(c->dict && c->codes);
  const canon__column *v = c->dict->values;
  for (int64_t i = 0; i < c->length; i++) {
    uint32_t code = canon__codes(c)[i];
    if (!canon__valid(c, i)) {
      cr_assert_eq(code, 0);
      continue;
    }
    size_t l1, l2;
    const char *s1 = canon__str(c, i, &l1), *s2 = canon__str(v, code, &l2);
    cr_assert(l1 == l2 && memcmp(s1, s2, l1) == 0, "row %lld", (long long)i);
  }
}

static void check_coded_take(int64_t rows, int64_t card, int null_every, int64_t n, bool neg) {
  canon__column *c = string_col(rows, card, null_every), *twin = uncoded_twin(c);
  cr_assert_eq(canon__column_dict_encode(c), 0);
  cr_assert(c->dict, "the column should get codes");
  int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
  for (int64_t k = 0; k < n; k++) idx[k] = neg && tu_rnd_below(5) == 0 ? -1 : tu_rnd_below(rows);
  canon__column *got = canon__column_take(c, idx, n, neg);
  canon__column *want = canon__column_take(twin, idx, n, neg);
  cr_assert(got && want);
  cr_assert_null(want->dict);
  same_strings(got, want);
  codes_name_strings(got);
  canon__column_unref(got);
  canon__column_unref(want);
  canon__column_unref(c);
  canon__column_unref(twin);
  free(idx);
}

Test(gather, coded_strings_match_the_general_path) {
  tu_rnd_state = 11;
  for (int nulls = 0; nulls <= 4; nulls += 2) {
    check_coded_take(5000, 60, nulls, 7000, false);
    check_coded_take(5000, 60, nulls, 3000, true);
    check_coded_take(3000, 7, nulls, 1, nulls != 0);
    check_coded_take(3000, 7, nulls, 0, nulls != 0);
  }
  /* Every row NULL (an empty dictionary): the NULL rows' own bytes. */
  check_coded_take(1000, 50, 1, 2000, false);
}

/* ---- blocked gathers (gather_blocked.c) ----------------------------------- */

#include "gather_blocked.h"

/* A table of n rows with a column of every width (bool, date, int64,
 * float64), strings with codes and without (long ones too), NULLs in some. */
static canon_table *wide_table(int64_t n) {
  canon_error err;
  canon_schema *s = canon_schema_parse("b:bool,d:date,i:int64,f:float64,s:string,p:string", &err);
  canon_builder *b = canon_builder_new(s, &err);
  char buf[64];
  for (int64_t r = 0; r < n; r++) {
    if (tu_rnd_below(9) == 0) canon_builder_append_null(b, 0);
    else canon_builder_append_bool(b, 0, tu_rnd_below(2));
    canon_builder_append_date(b, 1, (int32_t)tu_rnd_below(100000) - 50000);
    if (tu_rnd_below(7) == 0) canon_builder_append_null(b, 2);
    else canon_builder_append_int64(b, 2, (int64_t)tu_rnd());
    canon_builder_append_float64(b, 3, (double)tu_rnd_below(1000000) / 7.0);
    int len = snprintf(buf, sizeof buf, tu_rnd_below(2) ? "s%lld" : "a-longer-string-%lld",
                       (long long)tu_rnd_below(300));
    if (tu_rnd_below(11) == 0) canon_builder_append_null(b, 4);
    else canon_builder_append_string(b, 4, buf, (size_t)len);
    len = snprintf(buf, sizeof buf, "p%lld", (long long)tu_rnd());
    canon_builder_append_string(b, 5, buf, (size_t)len);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  t = canon__table_dict_encode(t, &err);
  cr_assert(t, "%s", err.message);
  cr_assert(t->cols[4]->dict && !t->cols[5]->dict);
  return t;
}

/* Column a equals column b: validity, values (strings: their bytes), codes. */
static void same_column(const canon__column *a, const canon__column *b, int col) {
  cr_assert_eq(a->length, b->length);
  cr_assert_eq(a->null_count, b->null_count, "column %d", col);
  if (a->type == CANON_STRING) {
    same_strings(a, b);
  } else {
    size_t w = canon__type_width(a->type);
    for (int64_t i = 0; i < a->length; i++) {
      cr_assert_eq(canon__valid(a, i), canon__valid(b, i), "column %d row %lld", col, (long long)i);
      cr_assert(memcmp(a->values->data + i * w, b->values->data + i * w, w) == 0,
                "column %d row %lld", col, (long long)i);
    }
  }
  cr_assert_eq(a->dict == NULL, b->dict == NULL);
  if (a->dict)
    cr_assert(memcmp(a->codes->data, b->codes->data, (size_t)a->length * 4) == 0, "column %d codes", col);
}

/* take of idx[0..n) from t, with the plan (wanted says so) and column by
 * column without it. */
static void check_blocked_take(const canon_table *t, const int64_t *idx, int64_t n) {
  cr_assert(canon__gplan_wanted(idx, n, t->nrows), "the index should look random");
  canon_error err;
  canon_table *got = canon__table_take(t, idx, n, &err);
  cr_assert(got, "%s", err.message);
  for (int c = 0; c < t->schema->n; c++) {
    canon__column *want = canon__column_take(t->cols[c], idx, n, false);
    cr_assert(want);
    same_column(got->cols[c], want, c);
    canon__column_unref(want);
  }
  canon_table_free(got);
}

Test(gather, blocked_takes_match_the_direct_gather) {
  tu_rnd_state = 12;
  canon__gplan_min_rows = 4096;
  /* Sizes that end mid-block, and a table of several blocks. */
  canon_table *t = wide_table(40000);
  int64_t rows = t->nrows;
  int64_t *idx = malloc(60000 * sizeof *idx);
  /* A random permutation (what a sort takes). */
  for (int64_t i = 0; i < rows; i++) idx[i] = i;
  for (int64_t i = rows - 1; i > 0; i--) {
    int64_t j = tu_rnd_below(i + 1), x = idx[i];
    idx[i] = idx[j];
    idx[j] = x;
  }
  check_blocked_take(t, idx, rows);
  /* Random rows with repeats, more and fewer than the table has. */
  for (int64_t i = 0; i < 60000; i++) idx[i] = tu_rnd_below(rows);
  check_blocked_take(t, idx, 60000);
  check_blocked_take(t, idx, 5000);
  /* All rows from one block, many times over. */
  for (int64_t i = 0; i < 60000; i++) idx[i] = 20000 + tu_rnd_below(3000) * (i % 64 ? 1 : 5);
  for (int64_t i = 0; i < 60000; i++) idx[i] = i % 2 ? tu_rnd_below(rows) : idx[i];
  check_blocked_take(t, idx, 60000);
  /* Ascending indexes, or a merge of a few runs, are gathered directly. */
  for (int64_t i = 0; i < rows; i++) idx[i] = i;
  cr_assert_not(canon__gplan_wanted(idx, rows, rows));
  for (int64_t i = 0; i < rows; i++) idx[i] = (i % 8) * (rows / 8) + i / 8;
  cr_assert_not(canon__gplan_wanted(idx, rows, rows));
  /* Below the size, never. */
  canon__gplan_min_rows = (int64_t)1 << 22;
  for (int64_t i = 0; i < rows; i++) idx[i] = tu_rnd_below(rows);
  cr_assert_not(canon__gplan_wanted(idx, rows, rows));
  free(idx);
  canon_table_free(t);
}
