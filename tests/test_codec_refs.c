/* test_codec_refs.c — column references in the table codec
 * (canon_host.table_encode_ref_into / table_decode_ref): which columns go
 * as references, that the decoded table holds the same cells and views
 * the referenced table's memory, that encodings without references are
 * byte for byte the plain ones, and that hostile references are refused
 * cleanly. */
#include "codec_testutil.h"

/* The tables a test's lookup knows: ids 1.. in order. */
typedef struct known {
  const canon_table *t[4];
  int n, calls;
} known;

static const canon_table *lookup(void *ctx, uint64_t id, canon_error *err) {
  known *k = ctx;
  k->calls++;
  if (id >= 1 && id <= (uint64_t)k->n) return k->t[id - 1];
  canon__seterr(err, CANON_ERR_ENGINE, "no table %llu here", (unsigned long long)id);
  return NULL;
}

/* A table of the given columns (taken over: their references). */
static canon_table *table_of(const char *schema, canon__column **cols, int64_t nrows) {
  canon_error err;
  canon_schema *s = canon_schema_parse(schema, &err);
  cr_assert(s, "%s", err.message);
  canon_table *t = canon__table_make(s, cols, nrows, &err);
  cr_assert(t, "%s", err.message);
  canon_schema_free(s);
  return t;
}

static uint8_t *encode_ref(const canon_table *t, const canon_table *base, uint64_t id,
                           size_t *len) {
  *len = canon__table_encoded_size_ref(t, base);
  uint8_t *buf = malloc(*len);
  cr_assert(buf);
  memset(buf, 0xa5, *len);
  canon_error err;
  cr_assert_eq(canon__table_encode_ref_into(t, base, id, buf, *len, &err), 0, "%s", err.message);
  return buf;
}

static canon_table *decode_ref(const uint8_t *buf, size_t len, known *k, canon_error *err) {
  return canon__table_decode_ref(buf, len, NULL, NULL, lookup, k, err);
}

/* base (k int64, s coded strings, f float64, b bool, d date; NULLs in
 * each) and a table over it: s and k viewed from row `first` (not a
 * multiple of 8: the validity is a shifted copy, compared bit by bit),
 * a gathered float column (no reference) and b viewed too. */
static canon_table *over(const canon_table *base, int64_t first, int64_t n) {
  int64_t *idx = malloc((size_t)n * sizeof *idx);
  cr_assert(idx);
  for (int64_t r = 0; r < n; r++) idx[r] = base->nrows - 1 - r;
  canon__column *cols[] = {canon__column_view(base->cols[1], first, n),
                           canon__column_view(base->cols[0], first, n),
                           canon__column_take(base->cols[2], idx, n, false),
                           canon__column_view(base->cols[3], first, n)};
  free(idx);
  for (int i = 0; i < 4; i++) cr_assert(cols[i]);
  return table_of("s2:string,k:int64,g:float64,b:bool", cols, n);
}

Test(codec_refs, columns_of_the_base_go_as_references_and_decode_as_views) {
  canon_table *base = ct_table_of(1000, 3, 20, 7, true);
  cr_assert(base->cols[1]->dict, "the test needs coded strings");
  canon_table *t = over(base, 3, 800);
  canon__colref refs[4];
  for (int i = 0; i < 4; i++) refs[i] = canon__column_ref_in(t, i, base);
  cr_assert(refs[0].col == 1 && refs[0].first == 3);
  cr_assert(refs[1].col == 0 && refs[1].first == 3);
  cr_assert_eq(refs[2].col, -1);
  cr_assert(refs[3].col == 3 && refs[3].first == 3);

  size_t plain_len, len;
  uint8_t *plain = ct_encode(t, &plain_len);
  uint8_t *buf = encode_ref(t, base, 2, &len);
  cr_assert_lt(len, plain_len / 4, "references should leave about one column of %zu bytes: %zu",
               plain_len, len);
  known k = {{ct_table_of(10, 9, 3, 0, false), base}, 2, 0};
  canon_error err;
  canon_table *got = decode_ref(buf, len, &k, &err);
  cr_assert(got, "%s", err.message);
  cr_assert_eq(k.calls, 3);
  ct_assert_same_bits(t, got);
  /* The references read base's memory; the gathered column is a copy. */
  cr_assert_eq(got->cols[1]->values->data, base->cols[0]->values->data + 3 * 8);
  cr_assert_eq(got->cols[0]->strdata->data, base->cols[1]->strdata->data);
  cr_assert_eq(got->cols[0]->dict, base->cols[1]->dict);
  cr_assert_neq(got->cols[2]->values->data, t->cols[2]->values->data);
  /* Read again with the plain decoders, a reference is malformed input. */
  cr_assert_null(canon__table_decode(buf, len, &err));
  cr_assert_eq(err.code, CANON_ERR_PARSE);
  cr_assert_null(canon__table_decode_own(buf, len, NULL, NULL, &err));
  cr_assert_eq(err.code, CANON_ERR_PARSE);
  cr_assert_null(canon__table_decode_shared(buf, len, NULL, NULL, &err));
  cr_assert_eq(err.code, CANON_ERR_PARSE);
  /* base freed first: the decoded table still holds its buffers. */
  canon_table_free(base);
  ct_assert_same_bits(t, got);
  canon_table_free(got);
  canon_table_free((canon_table *)k.t[0]);
  free(buf);
  free(plain);
  canon_table_free(t);
}

/* No base, a base none of t's columns come from, or no rows: exactly the
 * plain encoding, which the reference decoder reads as the plain one. */
Test(codec_refs, without_references_the_encoding_is_the_plain_one) {
  canon_table *base = ct_table_of(500, 4, 12, 5, true), *other = ct_table_of(500, 4, 12, 5, true);
  canon_table *t = over(base, 16, 300);
  canon_table *empty = over(base, 7, 0);
  const canon_table *bases[] = {NULL, other};
  const canon_table *tables[] = {t, empty};
  for (int i = 0; i < 2; i++)
    for (int b = 0; b < 2; b++) {
      size_t plain_len, len;
      uint8_t *plain = ct_encode(tables[i], &plain_len);
      uint8_t *buf = encode_ref(tables[i], bases[b], 1, &len);
      cr_assert_eq(len, plain_len, "table %d base %d", i, b);
      cr_assert_eq(memcmp(buf, plain, len), 0, "table %d base %d", i, b);
      known k = {{other}, 1, 0};
      canon_error err;
      canon_table *got = decode_ref(buf, len, &k, &err);
      cr_assert(got, "%s", err.message);
      cr_assert_eq(k.calls, 0);
      ct_assert_same_bits(tables[i], got);
      canon_table_free(got);
      free(buf);
      free(plain);
    }
  /* A whole column (the same object) goes as a reference from row 0. */
  canon__column *whole[] = {canon__column_ref(base->cols[4])};
  canon_table *w = table_of("day:date", whole, base->nrows);
  canon__colref ref = canon__column_ref_in(w, 0, base);
  cr_assert(ref.col == 4 && ref.first == 0);
  canon_table_free(w);
  canon_table_free(empty);
  canon_table_free(t);
  canon_table_free(other);
  canon_table_free(base);
}

/* A column whose rows take no more bytes than a reference goes as rows:
 * the encoding with references is never longer than the plain one, for
 * every row count and type (a buffer of the plain size always holds it). */
Test(codec_refs, a_reference_is_never_longer_than_the_rows) {
  canon_table *base = ct_table_of(200, 7, 5, 3, true);
  for (int64_t n = 0; n <= 40; n++) {
    canon__column *cols[5];
    for (int i = 0; i < 5; i++) cr_assert(cols[i] = canon__column_view(base->cols[i], 9, n));
    canon_table *t = table_of("k:int64,s:string,f:float64,b:bool,d:date", cols, n);
    size_t plain = canon__table_encoded_size(t), with = canon__table_encoded_size_ref(t, base);
    cr_assert_leq(with, plain, "%lld rows: %zu > %zu", (long long)n, with, plain);
    uint8_t *buf = malloc(plain);
    cr_assert(buf);
    canon_error err;
    cr_assert_eq(canon__table_encode_ref_into(t, base, 1, buf, plain, &err), 0, "%s", err.message);
    known k = {{base}, 1, 0};
    canon_table *got = decode_ref(buf, with, &k, &err);
    cr_assert(got, "%lld rows: %s", (long long)n, err.message);
    ct_assert_same_bits(t, got);
    canon_table_free(got);
    free(buf);
    canon_table_free(t);
  }
  /* One int64 row (8 bytes) goes as its row: the plain bytes exactly. */
  canon__column *one[] = {canon__column_view(base->cols[0], 5, 1)};
  canon_table *t = table_of("k:int64", one, 1);
  size_t plain_len, len;
  uint8_t *plain = ct_encode(t, &plain_len);
  uint8_t *buf = encode_ref(t, base, 1, &len);
  cr_assert(len == plain_len && memcmp(buf, plain, len) == 0);
  free(buf);
  free(plain);
  canon_table_free(t);
  canon_table_free(base);
}

/* Out of memory: the size with references needs no memory (it cannot
 * fall back to another size than the encoding writes), and the encoding
 * fails cleanly at every allocation, or writes exactly that many bytes. */
Test(codec_refs, out_of_memory_leaves_the_size_and_fails_the_encoding_cleanly) {
  canon_table *base = ct_table_of(300, 8, 10, 4, true);
  canon_table *t = over(base, 5, 200);
  size_t want = canon__table_encoded_size_ref(t, base);
  canon__alloc_fail_after(1);
  size_t got = canon__table_encoded_size_ref(t, base);
  long left = canon__alloc_fail_pending();
  canon__alloc_fail_after(0);
  cr_assert_eq(left, 1, "the size allocated");
  cr_assert_eq(got, want);
  uint8_t *buf = malloc(want);
  cr_assert(buf);
  for (long k = 1;; k++) {
    canon_error err;
    memset(&err, 0, sizeof err);
    canon__alloc_fail_after(k);
    int rc = canon__table_encode_ref_into(t, base, 1, buf, want, &err);
    left = canon__alloc_fail_pending();
    canon__alloc_fail_after(0);
    if (left > 0) { /* fewer than k allocations: none failed */
      cr_assert_eq(rc, 0, "%s", err.message);
      uint64_t len;
      memcpy(&len, buf + 24, 8);
      cr_assert_eq(len, want);
      cr_assert_gt(k, 1, "the encoding allocated nothing");
      break;
    }
    cr_assert_eq(rc, CANON_ERR_NOMEM, "allocation %ld: %s", k, err.message);
  }
  free(buf);
  canon_table_free(t);
  canon_table_free(base);
}

/* Offsets of the one reference of a one-column encoding "k" (int64):
 * header 32, descriptor 40, name padded to 8, then id, column, first. */
#define REF_AT 80
static uint8_t *one_ref(const canon_table *base, int64_t first, int64_t n, size_t *len) {
  canon__column *c[] = {canon__column_view(base->cols[0], first, n)};
  cr_assert(c[0]);
  canon_table *t = table_of("k:int64", c, n);
  uint8_t *buf = encode_ref(t, base, 1, len);
  cr_assert_eq(*len, (size_t)REF_AT + 24);
  canon_table_free(t);
  return buf;
}

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void refused(const uint8_t *buf, size_t len, known *k, int code, const char *why) {
  canon_error err;
  memset(&err, 0, sizeof err);
  canon_table *t = decode_ref(buf, len, k, &err);
  cr_assert_null(t, "%s: decoded", why);
  cr_assert_eq(err.code, code, "%s: %s", why, err.message);
}

Test(codec_refs, hostile_references_are_refused) {
  canon_table *base = ct_table_of(1000, 5, 20, 7, true);
  known k = {{base}, 1, 0};
  size_t len;
  uint8_t *good = one_ref(base, 100, 900, &len);
  /* More rows than bytes: accepted with a lookup (the rows are base's). */
  canon_error err;
  canon_table *t = decode_ref(good, len, &k, &err);
  cr_assert(t, "%s", err.message);
  cr_assert_eq(canon_table_num_rows(t), 900);
  canon_table_free(t);
  uint8_t *b = malloc(len);
  cr_assert(b);

  /* Lies, each one or two u64 written over the good encoding. */
  static const struct {
    size_t at;
    uint64_t v;
    size_t at2; /* 0: none */
    uint64_t v2;
    int code;
    const char *why;
  } lies[] = {
      {REF_AT, 7, 0, 0, CANON_ERR_ENGINE, "unknown table"},
      {REF_AT + 8, 5, 0, 0, CANON_ERR_PARSE, "column past the table"},
      {REF_AT + 8, UINT64_MAX, 0, 0, CANON_ERR_PARSE, "column -1"},
      {REF_AT + 8, 2 /* f: float64 */, 0, 0, CANON_ERR_PARSE, "column of another type"},
      {REF_AT + 16, 101, 0, 0, CANON_ERR_PARSE, "rows past the end"},
      {REF_AT + 16, UINT64_MAX, 0, 0, CANON_ERR_PARSE, "first row -1"},
      {8 /* nrows */, 1001, REF_AT + 16, 0, CANON_ERR_PARSE, "more rows than the table"},
      {32 + 16 /* validity bytes */, 8, 0, 0, CANON_ERR_PARSE, "reference with a bitmap"},
      {32 + 24 /* values bytes */, 16, 0, 0, CANON_ERR_PARSE, "short reference"},
  };
  for (size_t i = 0; i < sizeof lies / sizeof *lies; i++) {
    memcpy(b, good, len);
    put64(b + lies[i].at, lies[i].v);
    if (lies[i].at2) put64(b + lies[i].at2, lies[i].v2);
    refused(b, len, &k, lies[i].code, lies[i].why);
  }

  /* Every single-bit flip and every byte value at each offset: a clean
   * decode or a clean refusal (ASan and UBSan watch the rest). */
  for (size_t i = 0; i < len; i++)
    for (int v = 0; v < 256; v += (i >= REF_AT ? 1 : 17)) {
      memcpy(b, good, len);
      b[i] = (uint8_t)v;
      memset(&err, 0, sizeof err);
      canon_table *x = decode_ref(b, len, &k, &err);
      if (x) {
        cr_assert_leq(canon_table_num_rows(x), 1000);
        canon_table_free(x);
      } else {
        cr_assert_neq(err.code, 0, "offset %zu value %d", i, v);
      }
    }
  /* Every proper prefix is refused. */
  for (size_t n = 0; n < len; n++) refused(good, n, &k, CANON_ERR_PARSE, "prefix");
  free(b);
  free(good);
  canon_table_free(base);
}

/* A codes section naming a reference column is refused: a reference
 * takes its codes from the table it names, never from the encoding. */
Test(codec_refs, codes_for_a_reference_are_refused) {
  canon_table *base = ct_table_of(1000, 6, 20, 0, true);
  cr_assert(base->cols[1]->dict);
  /* t: s (coded, a reference) and a gathered copy of s (coded, shipped). */
  int64_t idx[400];
  for (int r = 0; r < 400; r++) idx[r] = 999 - r;
  canon__column *cols[] = {canon__column_view(base->cols[1], 0, 400),
                           canon__column_take(base->cols[1], idx, 400, false)};
  cr_assert(cols[0] && cols[1] && cols[1]->dict);
  uint64_t nvalues = (uint64_t)cols[1]->dict->values->length;
  canon_table *t = table_of("a:string,z:string", cols, 400);
  size_t len;
  uint8_t *buf = encode_ref(t, base, 1, &len);
  known k = {{base}, 1, 0};
  canon_error err;
  canon_table *got = decode_ref(buf, len, &k, &err);
  cr_assert(got, "%s", err.message);
  ct_assert_same_bits(t, got);
  canon_table_free(got);
  /* The one codes section (for column 1) made to name column 0. */
  size_t at = len;
  for (size_t p = 8; p + 24 <= len; p += 8) {
    uint32_t col, zero;
    uint64_t nv;
    memcpy(&col, buf + p, 4);
    memcpy(&zero, buf + p + 4, 4);
    memcpy(&nv, buf + p + 8, 8);
    if (col == 1 && zero == 0 && nv == nvalues) at = p;
  }
  cr_assert_lt(at, len, "codes section not found");
  buf[at] = 0;
  refused(buf, len, &k, CANON_ERR_PARSE, "codes for a reference");
  free(buf);
  canon_table_free(t);
  canon_table_free(base);
}
