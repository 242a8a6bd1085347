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
