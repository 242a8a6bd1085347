/* Tests of dictionary codes on string columns (core/kernels/dict.c) and of
 * the kernels that use them:
 *   - encoding: which columns get codes, and that every valid row's code
 *     names its own string in a dictionary of distinct values;
 *   - codes carried through take (with NULL rows), slices, and concats of
 *     parts with one dictionary, different ones, or some without codes;
 *   - canon__hash_rows of a coded column equal to the uncoded twin's;
 *   - canon__group_rows (the dense path: coded strings, small integers)
 *     equal to the same grouping of twins that must take the hash path;
 *   - the table codec: codes survive encoding (copied and viewed), and an
 *     encoding whose codes lie about their strings is refused;
 *     canon__table_decode_own (the program's own encodings) decodes the
 *     same, and refuses every code outside its dictionary. */
#include "codec_testutil.h"

#include "kernels.h"


/* A fresh copy of column c (unshared, no codes). */
static canon__column *fresh_copy(const canon__column *c) {
  int64_t n = c->length;
  int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
  for (int64_t i = 0; i < n; i++) idx[i] = i;
  canon__column *out = canon__column_take(c, idx, n, false);
  cr_assert(out);
  free(idx);
  if (out->dict) {
    canon__dict_unref(out->dict);
    canon__buffer_unref(out->codes);
    out->dict = NULL;
    out->codes = NULL;
  }
  return out;
}

/* Every valid row's code names its string; the dictionary's values are
 * distinct, carry the right pre-hashes, and NULL rows hold code 0. */
static void check_codes(const canon__column *c) {
  cr_assert(c->dict && c->codes);
  const canon__column *v = c->dict->values;
  cr_assert_eq(v->null_count, 0);
  for (int64_t a = 0; a < v->length; a++) {
    size_t la, lb;
    const char *sa = canon__str(v, a, &la);
    cr_assert_eq(c->dict->prehash[a], canon__hash_str_pre(sa, la));
    for (int64_t b = a + 1; b < v->length; b++) {
      const char *sb = canon__str(v, b, &lb);
      cr_assert(la != lb || memcmp(sa, sb, la) != 0, "values %lld and %lld repeat", (long long)a,
                (long long)b);
    }
  }
  const uint32_t *code = canon__codes(c);
  for (int64_t i = 0; i < c->length; i++) {
    if (!canon__valid(c, i)) {
      cr_assert_eq(code[i], 0, "NULL row %lld", (long long)i);
      continue;
    }
    cr_assert_lt((int64_t)code[i], v->length);
    size_t l1, l2;
    const char *s1 = canon__str(c, i, &l1), *s2 = canon__str(v, code[i], &l2);
    cr_assert(l1 == l2 && memcmp(s1, s2, l1) == 0, "row %lld", (long long)i);
  }
}

/* The builder's table (the builder and schema freed). */
static canon_table *finished(canon_builder *b, canon_schema *s) {
  canon_error err;
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  return t;
}

/* A one-column string table of n rows drawn from `card` values ("v<k>",
 * with the empty string and 16-byte strings among them), NULL at rate
 * 1/null_every (0: none). */
static canon_table *strings(int64_t n, int64_t card, int null_every) {
  canon_error err;
  canon_schema *s = canon_schema_parse("s:string", &err);
  canon_builder *b = canon_builder_new(s, &err);
  char buf[64];
  for (int64_t r = 0; r < n; r++) {
    if (null_every && tu_rnd_below(null_every) == 0) {
      cr_assert_eq(canon_builder_append_null(b, 0), 0);
      continue;
    }
    int64_t k = tu_rnd_below(card);
    int len = k == 0 ? 0 : snprintf(buf, sizeof buf, k % 3 ? "v%lld" : "value-%010lld", (long long)k);
    cr_assert_eq(canon_builder_append_string(b, 0, buf, (size_t)len), 0);
  }
  return finished(b, s);
}

static canon_table *encoded(canon_table *t) {
  canon_error err;
  t = canon__table_dict_encode(t, &err);
  cr_assert(t, "%s", err.message);
  return t;
}

Test(dict, low_cardinality_columns_get_codes) {
  tu_rnd_state = 1;
  for (int nulls = 0; nulls < 8; nulls += 3) {
    canon_table *t = encoded(strings(5000, 90, nulls));
    check_codes(t->cols[0]);
    cr_assert_leq(t->cols[0]->dict->values->length, 90);
    canon_table_free(t);
  }
  /* Every row NULL: an empty dictionary, every code 0. */
  canon_table *t = encoded(strings(40, 5, 1));
  check_codes(t->cols[0]);
  cr_assert_eq(t->cols[0]->dict->values->length, 0);
  canon_table_free(t);
}

/* Values of every length from 0 to 40, and twins of each that differ
 * only in their last byte or only past the 16 bytes a slot of the set
 * holds (dict.c compares those in its arena), spread over enough rows for
 * the set to grow a few times; encoded as it runs and with the set's hash
 * made to collide, so its byte comparisons decide.  Each row's code must
 * name its own string, and each value must be in the dictionary once. */
static canon_table *every_length(void) {
  tu_rnd_state = 11;
  canon_error err;
  canon_schema *s = canon_schema_parse("s:string", &err);
  canon_builder *b = canon_builder_new(s, &err);
  const char base[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH";
  enum { LENS = 41, KINDS = 4 };
  for (int64_t r = 0; r < 40000; r++) {
    char buf[64];
    int len = (int)tu_rnd_below(LENS), kind = (int)tu_rnd_below(KINDS);
    memcpy(buf, base, (size_t)len);
    if (kind == 1 && len > 0) buf[len - 1] = '#';           /* the last byte */
    if (kind == 2 && len > 16) buf[16] = '#';               /* just past a slot's bytes */
    if (kind == 3 && len > 0) buf[(r / 7) % len] = (char)('!' + (r / 7) % 9);
    cr_assert_eq(canon_builder_append_string(b, 0, buf, (size_t)len), 0);
  }
  return finished(b, s);
}

Test(dict, values_of_every_length_keep_their_codes) {
  /* Once as it runs, once with every probe decided by the bytes. */
  for (int weak = 0; weak < 2; weak++) {
    canon__dict_weak_hash = weak;
    canon_table *t = encoded(every_length());
    check_codes(t->cols[0]);
    cr_assert_gt(t->cols[0]->dict->values->length, 256, "the set grew past its first slots");
    canon_table_free(t);
  }
  canon__dict_weak_hash = false;
}

Test(dict, high_cardinality_columns_stay_plain) {
  tu_rnd_state = 2;
  /* Mostly distinct over a few rows, and almost all distinct over more
   * than the sample: no codes, and the strings are untouched. */
  canon_table *few = encoded(strings(100, 1000000, 0));
  cr_assert_null(few->cols[0]->dict);
  canon_table_free(few);
  canon_table *many = encoded(strings(70000, INT64_C(1) << 40, 0));
  cr_assert_null(many->cols[0]->dict);
  cr_assert_null(many->cols[0]->codes);
  canon_table_free(many);
  /* A shared column is never changed. */
  canon_table *t = strings(1000, 3, 0);
  canon__column *held = canon__column_ref(t->cols[0]);
  t = encoded(t);
  cr_assert_null(t->cols[0]->dict);
  canon__column_unref(held);
  canon_table_free(t);
}

Test(dict, codes_travel_with_take_slice_and_concat) {
  tu_rnd_state = 3;
  canon_error err;
  canon_table *t = encoded(strings(3001, 50, 4));
  /* take, with -1 (a NULL row) among the indexes */
  int64_t idx[500];
  for (int k = 0; k < 500; k++) idx[k] = k % 7 == 3 ? -1 : tu_rnd_below(t->nrows);
  canon__column *g = canon__column_take(t->cols[0], idx, 500, true);
  cr_assert(g);
  cr_assert_eq(g->dict, t->cols[0]->dict);
  check_codes(g);
  canon__column_unref(g);
  /* slices: views (start a multiple of 8) and copies */
  for (int64_t start = 0; start < 20; start += 5) {
    canon_table *v = canon__table_slice(t, start, 2000, &err);
    cr_assert(v, "%s", err.message);
    cr_assert_eq(v->cols[0]->dict, t->cols[0]->dict);
    check_codes(v->cols[0]);
    canon_table_free(v);
  }
  /* concat of slices of one table keeps the dictionary */
  canon_table *parts[3];
  parts[0] = canon__table_slice(t, 0, 1000, &err);
  parts[1] = canon__table_slice(t, 1000, 7, &err);
  parts[2] = canon__table_slice(t, 1007, 1994, &err);
  canon_table *c = canon__table_concat(parts, 3, &err);
  cr_assert(c, "%s", err.message);
  cr_assert_eq(c->cols[0]->dict, t->cols[0]->dict);
  check_codes(c->cols[0]);
  canon_table_free(c);
  /* tables encoded apart (different dictionaries, some values shared,
   * one all NULL) get a merged dictionary */
  canon_table *other = encoded(strings(900, 80, 3));
  canon_table *nulls = encoded(strings(30, 5, 1));
  canon_table *mixed[4] = {parts[0], other, nulls, parts[1]};
  c = canon__table_concat(mixed, 4, &err);
  cr_assert(c, "%s", err.message);
  check_codes(c->cols[0]);
  cr_assert_leq(c->cols[0]->dict->values->length, 80);
  canon_table_free(c);
  /* a part without codes: the result has none (and is still right) */
  canon_table *plain = strings(10, 1000000, 0);
  canon_table *some[2] = {parts[2], plain};
  c = canon__table_concat(some, 2, &err);
  cr_assert(c, "%s", err.message);
  cr_assert_null(c->cols[0]->dict);
  cr_assert_eq(c->nrows, 2004);
  canon_table_free(c);
  canon_table_free(plain);
  canon_table_free(other);
  canon_table_free(nulls);
  for (int p = 0; p < 3; p++) canon_table_free(parts[p]);
  canon_table_free(t);
}

/* ---- hashing and grouping against uncoded twins ------------------------------ */

/* A table s:string (coded), i:int64 (small range, negative too), b:bool,
 * d:date, u:string (the same strings as s, uncoded), f:float64 (i's values
 * as doubles: floats always take the hash path), with NULLs at the same
 * rows in s/u and in i/f. */
static canon_table *twins(int64_t n, int64_t card, int null_every) {
  canon_error err;
  canon_table *st = strings(n, card, null_every);
  canon_schema *s = canon_schema_parse("i:int64,b:bool,d:date,f:float64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  for (int64_t r = 0; r < n; r++) {
    if (null_every && tu_rnd_below(null_every) == 0) {
      for (int c = 0; c < 4; c++) cr_assert_eq(canon_builder_append_null(b, c), 0);
      continue;
    }
    int64_t k = tu_rnd_below(card) - card / 2;
    cr_assert_eq(canon_builder_append_int64(b, 0, k), 0);
    cr_assert_eq(canon_builder_append_bool(b, 1, (int)(k & 1)), 0);
    cr_assert_eq(canon_builder_append_date(b, 2, (int32_t)(k * 3)), 0);
    cr_assert_eq(canon_builder_append_float64(b, 3, (double)k), 0);
  }
  canon_table *nt = canon_builder_finish(b, &err);
  cr_assert(nt, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  canon__column *cols[6] = {fresh_copy(st->cols[0]), canon__column_ref(nt->cols[0]),
                            canon__column_ref(nt->cols[1]), canon__column_ref(nt->cols[2]),
                            fresh_copy(st->cols[0]), canon__column_ref(nt->cols[3])};
  cr_assert_eq(canon__column_dict_encode(cols[0]), 0);
  cr_assert(cols[0]->dict || n == 0);
  canon_schema *all = canon_schema_parse("s:string,i:int64,b:bool,d:date,u:string,f:float64", &err);
  canon_table *t = canon__table_make(all, cols, n, &err);
  cr_assert(t, "%s", err.message);
  canon_schema_free(all);
  canon_table_free(st);
  canon_table_free(nt);
  return t;
}

Test(dict, coded_hashes_equal_plain_hashes) {
  tu_rnd_state = 4;
  canon_table *t = twins(4000, 60, 5);
  uint64_t *h1 = malloc(4000 * sizeof *h1), *h2 = malloc(4000 * sizeof *h2);
  int s[] = {0, 1}, u[] = {4, 1};
  canon__hash_rows(t, s, 2, h1);
  canon__hash_rows(t, u, 2, h2);
  for (int64_t r = 0; r < 4000; r++) {
    cr_assert_eq(h1[r], h2[r], "row %lld", (long long)r);
    cr_assert_eq(h1[r], canon__hash_row(t, u, 2, r));
  }
  free(h1);
  free(h2);
  canon_table_free(t);
}

/* Grouping by `fast` (which may take the dense path) gives exactly the
 * group ids and first rows of grouping by `slow` (which cannot). */
static void same_groups(const canon_table *t, const int *fast, const int *slow, int nc, bool drop) {
  int64_t n = t->nrows;
  int64_t *g1 = malloc((size_t)(n ? n : 1) * sizeof *g1), *g2 = malloc((size_t)(n ? n : 1) * sizeof *g2);
  int64_t n1, n2, *f1, *f2;
  canon_error err;
  cr_assert_eq(canon__group_rows(t, fast, nc, drop, g1, &n1, &f1, &err), 0, "%s", err.message);
  cr_assert_eq(canon__group_rows(t, slow, nc, drop, g2, &n2, &f2, &err), 0, "%s", err.message);
  cr_assert_eq(n1, n2);
  for (int64_t r = 0; r < n; r++) cr_assert_eq(g1[r], g2[r], "row %lld", (long long)r);
  for (int64_t g = 0; g < n1; g++) cr_assert_eq(f1[g], f2[g]);
  free(g1);
  free(g2);
  free(f1);
  free(f2);
}

Test(dict, dense_grouping_equals_hash_grouping) {
  tu_rnd_state = 5;
  /* fast keys and their slow twins: coded s vs plain u, int64 i vs its
   * float twin f; bool and date ride along (dense on both sides) */
  static const int fast[][4] = {{0}, {1}, {0, 1}, {1, 0, 2}, {0, 2, 1, 3}, {0, 0}};
  static const int slow[][4] = {{4}, {5}, {4, 5}, {5, 4, 2}, {4, 2, 5, 3}, {4, 4}};
  static const int nk[] = {1, 1, 2, 3, 4, 2};
  static const int64_t cards[] = {3, 40, 700};
  for (int round = 0; round < 3; round++) {
    canon_table *t = twins(3000, cards[round], round == 1 ? 0 : 6);
    for (int s = 0; s < 6; s++) {
      same_groups(t, fast[s], slow[s], nk[s], false);
      same_groups(t, fast[s], slow[s], nk[s], true);
    }
    canon_table_free(t);
  }
  canon_table *e = twins(0, 5, 2);
  int f[] = {0, 1}, sl[] = {4, 5};
  same_groups(e, f, sl, 2, false);
  canon_table_free(e);
}

/* Integers at the ends of int64's range are not dense (the range would
 * overflow): the hash path must still group them right. */
Test(dict, extreme_integers_group_right) {
  canon_error err;
  canon_table *t = canon_table_from_csv_text("i:int64,f:float64",
                                       "-9223372036854775808,1\n9223372036854775807,2\n"
                                       "-9223372036854775808,1\n,3\n0,4\n9223372036854775807,2\n",
                                       &err);
  cr_assert(t, "%s", err.message);
  int64_t g[6], ng, *first;
  int k = 0;
  cr_assert_eq(canon__group_rows(t, &k, 1, false, g, &ng, &first, &err), 0);
  int64_t want[] = {0, 1, 0, 2, 3, 1};
  cr_assert_eq(ng, 4);
  for (int r = 0; r < 6; r++) cr_assert_eq(g[r], want[r]);
  free(first);
  canon_table_free(t);
}

/* ---- the table codec carries codes ------------------------------------------- */

static void no_release(void *ctx) { (void)ctx; }

Test(dict, codes_survive_encoding_copied_and_viewed) {
  tu_rnd_state = 6;
  canon_error err;
  canon_table *t = encoded(strings(2000, 30, 5));
  canon_table *v = canon__table_slice(t, 16, 1500, &err); /* codes of a view */
  cr_assert(v, "%s", err.message);
  size_t len;
  uint8_t *buf = ct_encode(v, &len);
  canon_table *a = canon__table_decode(buf, len, &err);
  cr_assert(a, "%s", err.message);
  canon_table *b = canon__table_decode_shared(buf, len, no_release, NULL, &err);
  cr_assert(b, "%s", err.message);
  for (int k = 0; k < 2; k++) {
    const canon__column *c = (k ? b : a)->cols[0];
    check_codes(c);
    cr_assert_eq(c->dict->values->length, v->cols[0]->dict->values->length);
    cr_assert(memcmp(c->codes->data, v->cols[0]->codes->data, 1500 * 4) == 0);
  }
  /* A dictionary large next to the rows stays home: 40 rows, 30 values. */
  canon_table *few = canon__table_slice(t, 0, 40, &err);
  size_t flen;
  uint8_t *fbuf = ct_encode(few, &flen);
  canon_table *fd = canon__table_decode(fbuf, flen, &err);
  cr_assert(fd, "%s", err.message);
  cr_assert_null(fd->cols[0]->dict);
  canon_table_free(fd);
  canon_table_free(few);
  free(fbuf);
  /* The same bytes again: encoding is deterministic. */
  size_t len2;
  uint8_t *buf2 = ct_encode(a, &len2);
  cr_assert(len2 == len && memcmp(buf, buf2, len) == 0);
  free(buf2);
  canon_table_free(a);
  canon_table_free(b);
  free(buf);
  canon_table_free(v);
  canon_table_free(t);
}

/* Rows "a", "b", "a", NULL, then "a" four times: the codes section is the
 * last 88 bytes — 24 of header, 32 of codes, 24 of value offsets, 8 of
 * value bytes. */
Test(dict, lying_codes_are_refused) {
  canon_error err;
  canon_table *t =
      encoded(canon_table_from_csv_text("s:string", "a\nb\na\n\na\na\na\na\n", &err));
  cr_assert(t->cols[0]->dict);
  size_t len;
  uint8_t *buf = ct_encode(t, &len);
  uint8_t *c = malloc(len);
  size_t sec = len - 88, codes = sec + 24, vbytes = len - 8;
  struct { size_t at; uint32_t v; int width; const char *what; } lies[] = {
      {codes, 5, 4, "code out of range"},
      {codes, 1, 4, "code naming another string"},
      {codes + 12, 1, 4, "code at a NULL row"},
      {vbytes + 1, 'a', 1, "repeated values"},
      {sec, 1, 4, "column index past the columns"},
      {sec + 4, 1, 4, "reserved field"},
      {sec + 8, 3, 4, "value count"},
      {20, 2, 4, "more coded columns than columns"},
      {20, 0, 4, "codes section not announced"},
  };
  for (size_t k = 0; k < sizeof lies / sizeof lies[0]; k++) {
    memcpy(c, buf, len);
    memcpy(c + lies[k].at, &lies[k].v, (size_t)lies[k].width);
    canon_error_clear(&err);
    canon_table *d = canon__table_decode(c, len, &err);
    cr_assert_null(d, "%s accepted", lies[k].what);
    cr_assert_eq(err.code, CANON_ERR_PARSE, "%s: %s", lies[k].what, err.message);
  }
  /* Every single-bit flip is refused or decodes to a consistent table. */
  for (size_t i = 0; i < len; i++)
    for (int bit = 0; bit < 8; bit++) {
      memcpy(c, buf, len);
      c[i] ^= (uint8_t)(1u << bit);
      canon_table *d = canon__table_decode(c, len, &err);
      if (d && d->cols[0]->dict) check_codes(d->cols[0]);
      canon_table_free(d);
    }
  free(c);
  free(buf);
  canon_table_free(t);
}

/* A column of NULLs only has an empty dictionary and code 0 on every row;
 * it travels through the codec with its codes and comes back the same. */
Test(dict, all_null_column_round_trips_with_codes) {
  canon_error err;
  canon_table *t = encoded(canon_table_from_csv_text("s:string", "\n\n\n\n\n\n\n\n", &err));
  cr_assert_eq(canon_table_num_rows(t), 8);
  cr_assert(t->cols[0]->dict, "an all-NULL column gets an (empty) dictionary");
  cr_assert_eq(t->cols[0]->dict->values->length, 0);
  size_t len;
  uint8_t *buf = ct_encode(t, &len);
  canon_table *d = canon__table_decode(buf, len, &err);
  cr_assert(d, "%s", err.message);
  cr_assert(d->cols[0]->dict, "the codes came along");
  cr_assert_eq(d->cols[0]->null_count, 8);
  check_codes(d->cols[0]);
  canon_table_free(d);
  free(buf);
  canon_table_free(t);
}

/* Codes in range of their dictionary, 0 at NULL rows (all that an
 * encoding of the program's own is checked for). */
static void check_codes_in_range(const canon__column *c) {
  cr_assert(c->dict && c->codes);
  const uint32_t *code = canon__codes(c);
  for (int64_t i = 0; i < c->length; i++) {
    if (!canon__valid(c, i))
      cr_assert_eq(code[i], 0, "NULL row %lld", (long long)i);
    else
      cr_assert_lt((int64_t)code[i], c->dict->values->length, "row %lld", (long long)i);
  }
}

static void count_release(void *ctx) { ++*(int *)ctx; }

/* canon__table_decode_own gives what canon__table_decode_shared gives for
 * honest bytes (views, the same codes and pre-hashes), with and without
 * NULLs, for one row, for an empty table and unaligned input. */
Test(dict, own_decoding_equals_checked_decoding) {
  tu_rnd_state = 11;
  canon_error err;
  canon_table *ts[] = {encoded(strings(3000, 40, 0)), encoded(strings(3000, 40, 7)),
                       encoded(strings(1, 1, 0)), encoded(strings(0, 1, 0)),
                       encoded(canon_table_from_csv_text("s:string", "\n\n\n\n\n\n\n\n", &err))};
  for (size_t k = 0; k < sizeof ts / sizeof *ts; k++) {
    size_t len;
    uint8_t *buf = ct_encode(ts[k], &len);
    uint8_t *odd = malloc(len + 1);
    memcpy(odd + 1, buf, len);
    for (int aligned = 0; aligned < 2; aligned++) {
      const uint8_t *at = aligned ? buf : odd + 1;
      int released = 0;
      canon_table *a = canon__table_decode_shared(at, len, no_release, NULL, &err);
      cr_assert(a, "%zu: %s", k, err.message);
      canon_table *b = canon__table_decode_own(at, len, count_release, &released, &err);
      cr_assert(b, "%zu: %s", k, err.message);
      char *wa = tu_csv(a), *wb = tu_csv(b);
      cr_assert_str_eq(wb, wa);
      free(wa);
      free(wb);
      const canon__column *ca = a->cols[0], *cb = b->cols[0];
      cr_assert_eq(!ca->dict, !cb->dict, "%zu", k);
      if (ca->dict) {
        check_codes(cb);
        cr_assert_eq(cb->dict->values->length, ca->dict->values->length);
        cr_assert(memcmp(cb->codes->data, ca->codes->data, (size_t)ca->length * 4) == 0);
        cr_assert(memcmp(cb->dict->prehash, ca->dict->prehash,
                         (size_t)ca->dict->values->length * 8) == 0);
      }
      canon_table_free(a);
      cr_assert_eq(released, aligned ? 0 : 1, "a copy releases at once, a view with its table");
      canon_table_free(b);
      cr_assert_eq(released, 1);
    }
    free(odd);
    free(buf);
    canon_table_free(ts[k]);
  }
}

/* The lies of lying_codes_are_refused, to canon__table_decode_own: every
 * lie that could make a reader index outside a dictionary (or that breaks
 * the layout) is still refused; a code naming another string in range and
 * repeated values are the encoder's promise, accepted with codes in range. */
Test(dict, own_decoding_refuses_every_out_of_bounds_code) {
  canon_error err;
  canon_table *t =
      encoded(canon_table_from_csv_text("s:string", "a\nb\na\n\na\na\na\na\n", &err));
  size_t len;
  uint8_t *buf = ct_encode(t, &len);
  uint8_t *c = malloc(len);
  size_t sec = len - 88, codes = sec + 24, vbytes = len - 8;
  struct { size_t at; uint32_t v; int width; bool refused; const char *what; } lies[] = {
      {codes, 5, 4, true, "code out of range"},
      {codes, 2, 4, true, "code one past the values"},
      {codes + 28, UINT32_MAX, 4, true, "last code huge"},
      {codes + 12, 1, 4, true, "code at a NULL row"},
      {sec, 1, 4, true, "column index past the columns"},
      {sec + 4, 1, 4, true, "reserved field"},
      {sec + 8, 3, 4, true, "value count"},
      {20, 2, 4, true, "more coded columns than columns"},
      {20, 0, 4, true, "codes section not announced"},
      {codes, 1, 4, false, "code naming another string"},
      {vbytes + 1, 'a', 1, false, "repeated values"},
  };
  for (size_t k = 0; k < sizeof lies / sizeof lies[0]; k++) {
    memcpy(c, buf, len);
    memcpy(c + lies[k].at, &lies[k].v, (size_t)lies[k].width);
    canon_error_clear(&err);
    int released = 0;
    canon_table *d = canon__table_decode_own(c, len, count_release, &released, &err);
    if (lies[k].refused) {
      cr_assert_null(d, "%s accepted", lies[k].what);
      cr_assert_eq(err.code, CANON_ERR_PARSE, "%s: %s", lies[k].what, err.message);
      cr_assert_eq(released, 1, "%s: a failed decoding releases its input", lies[k].what);
    } else {
      cr_assert(d, "%s: %s", lies[k].what, err.message);
      check_codes_in_range(d->cols[0]);
      canon_table_free(d);
      /* The checked decoding still refuses it. */
      cr_assert_null(canon__table_decode(c, len, &err), "%s", lies[k].what);
    }
  }
  /* Every single-bit flip is refused or decodes with codes in range. */
  for (size_t i = 0; i < len; i++)
    for (int bit = 0; bit < 8; bit++) {
      memcpy(c, buf, len);
      c[i] ^= (uint8_t)(1u << bit);
      canon_table *d = canon__table_decode_own(c, len, no_release, NULL, &err);
      if (d && d->cols[0]->dict) check_codes_in_range(d->cols[0]);
      canon_table_free(d);
    }
  free(c);
  free(buf);
  canon_table_free(t);
}

/* Without NULLs the range check is one maximum over all codes: a bad code
 * anywhere (first row, last row, past a multiple of a vector's width) is
 * found. */
Test(dict, own_decoding_finds_a_bad_code_at_any_row) {
  tu_rnd_state = 12;
  canon_error err;
  for (int nulls = 0; nulls < 2; nulls++) {
    canon_table *t = encoded(strings(1000, 20, nulls ? 5 : 0));
    cr_assert(t->cols[0]->dict);
    uint32_t nv = (uint32_t)t->cols[0]->dict->values->length;
    size_t len;
    uint8_t *buf = ct_encode(t, &len);
    /* The codes section follows the column's buffers: find it from the
     * end (codes, value offsets, value bytes, each padded to 8). */
    const canon__column *v = t->cols[0]->dict->values;
    size_t vb = (size_t)canon__i64(v)[v->length];
    size_t codes = len - ((vb + 7) & ~(size_t)7) - ((size_t)nv + 1) * 8 - 1000 * 4;
    cr_assert(memcmp(buf + codes, t->cols[0]->codes->data, 4000) == 0, "found the codes");
    const int rows[] = {0, 1, 7, 8, 15, 16, 31, 500, 998, 999};
    for (size_t k = 0; k < sizeof rows / sizeof *rows; k++) {
      int r = rows[k];
      if (!canon__valid(t->cols[0], r)) continue;
      uint8_t *c = malloc(len);
      memcpy(c, buf, len);
      memcpy(c + codes + (size_t)r * 4, &nv, 4);
      canon_table *d = canon__table_decode_own(c, len, no_release, NULL, &err);
      cr_assert_null(d, "row %d: code %u of %u values accepted", r, nv, nv);
      cr_assert(strstr(err.message, "out of range"), "%s", err.message);
      /* One less is in range. */
      uint32_t top = nv - 1;
      memcpy(c + codes + (size_t)r * 4, &top, 4);
      d = canon__table_decode_own(c, len, no_release, NULL, &err);
      cr_assert(d, "row %d: %s", r, err.message);
      canon_table_free(d);
      free(c);
    }
    free(buf);
    canon_table_free(t);
  }
}
