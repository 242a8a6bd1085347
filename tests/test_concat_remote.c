/* test_concat_remote.c — a concatenation planned from the parts' sketches
 * and written part by part (core/src/concat_remote.c): the encoding must
 * be, byte for byte, table_encode_into of canon__table_concat of the same
 * parts, whatever order (or threads) the parts are written in, and a lying
 * sketch or order must fail cleanly or make an encoding the checked
 * decoder refuses — never a read or write outside the buffers (the
 * ASan+UBSan build runs these with buffers of exactly their length). */
#include "codec_testutil.h"

#include <pthread.h>

TestSuite(concat_remote);

/* A malloc'd sketch of t (*len bytes). */
static uint8_t *sketch_of(const canon_table *t, size_t *len) {
  canon_error err;
  *len = canon__table_sketch_size(t);
  uint8_t *b = malloc(*len);
  cr_assert(b);
  cr_assert_eq(canon__table_sketch_into(t, b, *len, &err), 0, "%s", err.message);
  return b;
}

/* The plan of parts[0..n) from their sketches, which go before it is used. */
static canon__rcat *plan_of(canon_table *const *parts, int n) {
  uint8_t *sk[8];
  size_t len[8];
  cr_assert_leq(n, 8);
  for (int p = 0; p < n; p++) sk[p] = sketch_of(parts[p], &len[p]);
  canon_error err;
  canon__rcat *c = canon__rcat_plan(parts[0]->schema, (const uint8_t *const *)sk, len, n, &err);
  cr_assert(c, "%s", err.message);
  for (int p = 0; p < n; p++) {
    memset(sk[p], 0x5a, len[p]);
    free(sk[p]);
  }
  return c;
}

static uint8_t *order_of(const canon__rcat *c, int p, size_t *len) {
  canon_error err;
  *len = canon__rcat_order_size(c, p);
  uint8_t *b = malloc(*len);
  cr_assert(b);
  cr_assert_eq(canon__rcat_order_into(c, p, b, *len, &err), 0, "%s", err.message);
  return b;
}

/* The encoding's buffer: junk, with everything but the rows written. */
static uint8_t *head_of(const canon__rcat *c, size_t *len) {
  canon_error err;
  *len = canon__rcat_len(c);
  uint8_t *b = malloc(*len ? *len : 1);
  cr_assert(b);
  memset(b, 0xa5, *len);
  cr_assert_eq(canon__rcat_put_head(c, b, *len, &err), 0, "%s", err.message);
  return b;
}

static void write_part(const canon__rcat *c, canon_table *part, int p, uint8_t *buf, size_t len) {
  size_t olen;
  uint8_t *o = order_of(c, p, &olen);
  canon_error err;
  cr_assert_eq(canon__rcat_write_part(part, p, o, olen, buf, len, &err), 0, "part %d: %s", p, err.message);
  free(o);
}

/* Two parts planned, the encoding's head written, and part 1's order:
 * what the tests of lying orders start from. */
typedef struct order_case {
  canon_table *p[2];
  canon__rcat *c;
  uint8_t *buf, *good;
  size_t len, olen;
} order_case;

static void order_case_make(order_case *k) {
  k->p[0] = ct_table_of(37, 1, 6, 3, true);
  k->p[1] = ct_table_of(29, 2, 5, 4, true);
  k->c = plan_of(k->p, 2);
  k->buf = head_of(k->c, &k->len);
  k->good = order_of(k->c, 1, &k->olen);
}

static void order_case_free(order_case *k) {
  free(k->good);
  free(k->buf);
  canon__rcat_free(k->c);
  for (int i = 0; i < 2; i++) canon_table_free(k->p[i]);
}

typedef struct part_job {
  const canon__rcat *c;
  canon_table *part;
  int p;
  uint8_t *buf;
  size_t len;
  int rc;
} part_job;

static void *write_thread(void *arg) {
  part_job *j = arg;
  size_t olen = canon__rcat_order_size(j->c, j->p);
  uint8_t *o = malloc(olen);
  canon_error err;
  j->rc = !o || canon__rcat_order_into(j->c, j->p, o, olen, &err) ||
          canon__rcat_write_part(j->part, j->p, o, olen, j->buf, j->len, &err);
  free(o);
  return NULL;
}

/* Planned from sketches and written part by part (in reverse, or each on
 * a thread of its own), the encoding is the concatenation's. */
static void check_parts(canon_table *const *parts, int n, bool threads, const char *what) {
  canon_error err;
  canon_table *want = canon__table_concat(parts, n, &err);
  cr_assert(want, "%s: %s", what, err.message);
  size_t wlen;
  uint8_t *wbuf = ct_encode(want, &wlen);
  canon__rcat *c = plan_of(parts, n);
  size_t len;
  uint8_t *buf = head_of(c, &len);
  cr_assert_eq(len, wlen, "%s: %zu bytes, want %zu", what, len, wlen);
  if (threads) {
    pthread_t tid[8];
    part_job jobs[8];
    for (int p = 0; p < n; p++) {
      jobs[p] = (part_job){c, parts[p], p, buf, len, 0};
      cr_assert_eq(pthread_create(&tid[p], NULL, write_thread, &jobs[p]), 0);
    }
    for (int p = 0; p < n; p++) {
      pthread_join(tid[p], NULL);
      cr_assert_eq(jobs[p].rc, 0, "%s: part %d", what, p);
    }
  } else {
    for (int p = n - 1; p >= 0; p--) write_part(c, parts[p], p, buf, len);
  }
  for (size_t i = 0; i < wlen; i++) cr_assert_eq(buf[i], wbuf[i], "%s: byte %zu of %zu", what, i, wlen);
  canon_table *got = canon__table_decode(buf, len, &err);
  cr_assert(got, "%s: %s", what, err.message);
  ct_assert_same_bits(got, want);
  canon_table_free(got);
  canon__rcat_free(c);
  free(buf);
  free(wbuf);
  canon_table_free(want);
}

Test(concat_remote, equals_encoding_the_concatenation) {
  ct_parts t;
  ct_concat_case cases[CT_CONCAT_CASES];
  ct_parts_make(&t, cases);
  for (int k = 0; k < CT_CONCAT_CASES; k++) {
    check_parts(cases[k].p, cases[k].n, false, cases[k].what);
    check_parts(cases[k].p, cases[k].n, true, cases[k].what);
  }
  ct_parts_free(&t);
}

Test(concat_remote, big_parts_on_threads) {
  canon_table *p[3] = {ct_table_of(200000, 5, 100, 11, true), ct_table_of(150001, 6, 100, 0, true),
                       ct_table_of(170003, 7, 90, 13, true)};
  check_parts(p, 3, true, "big parts");
  for (int k = 0; k < 3; k++) canon_table_free(p[k]);
}

Test(concat_remote, tables_without_columns) {
  canon_error err;
  canon_schema *s = canon_schema_new();
  canon_table *e = canon__table_empty(s, &err);
  cr_assert(e, "%s", err.message);
  canon_table *p[2] = {e, e};
  check_parts(p, 2, false, "no columns");
  canon_table_free(e);
  canon_schema_free(s);
}

/* ---- lies ---------------------------------------------------------------------- */

/* Plan from the sketches with sketch q replaced by (lie, llen); when a
 * plan comes out, write every part as ordered and decode (checked): each
 * step may fail, cleanly. */
static void plan_with_lie(canon_table *const *parts, int n, int q, const uint8_t *lie, size_t llen) {
  uint8_t *sk[4];
  size_t len[4];
  for (int p = 0; p < n; p++) {
    if (p == q) {
      sk[p] = malloc(llen ? llen : 1);
      cr_assert(sk[p]);
      memcpy(sk[p], lie, llen);
      len[p] = llen;
    } else {
      sk[p] = sketch_of(parts[p], &len[p]);
    }
  }
  canon_error err;
  canon_error_clear(&err);
  canon__rcat *c = canon__rcat_plan(parts[0]->schema, (const uint8_t *const *)sk, len, n, &err);
  for (int p = 0; p < n; p++) free(sk[p]);
  if (!c) {
    cr_assert(err.code == CANON_ERR_PARSE || err.code == CANON_ERR_NOMEM, "code %d: %s", err.code, err.message);
    return;
  }
  size_t blen = canon__rcat_len(c);
  if (blen > ((size_t)64 << 20)) { /* a lie about sizes: nobody would get that memory */
    canon__rcat_free(c);
    return;
  }
  uint8_t *buf = head_of(c, &blen);
  bool ok = true;
  for (int p = 0; p < n; p++) {
    size_t olen;
    uint8_t *o = order_of(c, p, &olen);
    if (canon__rcat_write_part(parts[p], p, o, olen, buf, blen, &err) != 0) {
      cr_assert_eq(err.code, CANON_ERR_INVALID, "%s", err.message);
      ok = false;
    }
    free(o);
  }
  if (ok) canon_table_free(canon__table_decode(buf, blen, &err));
  free(buf);
  canon__rcat_free(c);
}

/* Every byte of a sketch, set to values that break sizes and counts, and
 * every shorter length: refused, or an encoding the decoder judges. */
Test(concat_remote, lying_sketches_fail_cleanly) {
  canon_table *p[3] = {ct_table_of(40, 1, 6, 3, true), ct_table_of(33, 2, 5, 0, true),
                       ct_table_of(19, 3, 4, 5, false)};
  size_t len;
  uint8_t *good = sketch_of(p[1], &len);
  uint8_t *lie = malloc(len);
  const uint8_t values[] = {0x00, 0x01, 0x07, 0x80, 0xff};
  for (size_t i = 0; i < len; i++)
    for (size_t v = 0; v < sizeof values; v++) {
      memcpy(lie, good, len);
      if (lie[i] == values[v]) continue;
      lie[i] = values[v];
      plan_with_lie(p, 3, 1, lie, len);
    }
  for (size_t l = 0; l < len; l++) plan_with_lie(p, 3, 1, good, l);
  free(lie);
  free(good);
  for (int k = 0; k < 3; k++) canon_table_free(p[k]);
}

/* Every byte of an order set to other values, and every shorter length:
 * refused before any write, or written inside the encoding's bytes (the
 * buffer is exactly that long). */
Test(concat_remote, lying_orders_never_write_outside) {
  order_case k;
  order_case_make(&k);
  canon_table *const *p = k.p;
  canon__rcat *c = k.c;
  size_t len = k.len, olen = k.olen;
  uint8_t *buf = k.buf, *good = k.good;
  uint8_t *lie = malloc(olen);
  canon_error err;
  const uint8_t values[] = {0x00, 0x01, 0x07, 0x80, 0xff};
  int refused = 0;
  for (size_t i = 0; i < olen; i++)
    for (size_t v = 0; v < sizeof values; v++) {
      memcpy(lie, good, olen);
      if (lie[i] == values[v]) continue;
      lie[i] = values[v];
      if (canon__rcat_write_part(p[1], 1, lie, olen, buf, len, &err) != 0) {
        cr_assert_eq(err.code, CANON_ERR_INVALID);
        refused++;
      }
    }
  cr_assert_gt(refused, 100);
  /* Cut short (in a buffer of exactly that length): refused, but for the
   * padding after the last map, which nothing reads. */
  for (size_t l = 0; l < olen; l++) {
    uint8_t *cut = malloc(l ? l : 1);
    memcpy(cut, good, l);
    int rc = canon__rcat_write_part(p[1], 1, cut, l, buf, len, &err);
    cr_assert(rc != 0 || l + 8 > olen, "length %zu of %zu", l, olen);
    free(cut);
  }
  /* Another part's order (also for a part of as many rows), or a smaller
   * encoding: refused. */
  size_t o0len;
  uint8_t *o0 = order_of(c, 0, &o0len);
  cr_assert_neq(canon__rcat_write_part(p[1], 1, o0, o0len, buf, len, &err), 0);
  cr_assert_neq(canon__rcat_write_part(p[1], 0, good, olen, buf, len, &err), 0);
  cr_assert_neq(canon__rcat_write_part(p[1], 1, good, olen, buf, len - 1, &err), 0);
  free(o0);
  free(lie);
  order_case_free(&k);
}

/* Fields forged together: rows of a concatenation of 2^64 - 1 rows and a
 * first row near the end, which one byte at a time never makes (sums over
 * rows would wrap and aim before the encoding). */
Test(concat_remote, forged_orders_are_refused) {
  order_case oc;
  order_case_make(&oc);
  canon_table *const *p = oc.p;
  canon__rcat *c = oc.c;
  size_t len = oc.len, olen = oc.olen;
  uint8_t *buf = oc.buf, *o = oc.good;
  canon_error err;
  uint64_t rows = (uint64_t)canon_table_num_rows(p[1]);
  const uint64_t totals[] = {UINT64_MAX, UINT64_MAX - 1, (uint64_t)1 << 41, (uint64_t)1 << 63};
  for (size_t k = 0; k < sizeof totals / sizeof *totals; k++) {
    uint8_t *lie = malloc(olen);
    memcpy(lie, o, olen);
    memcpy(lie + 24, &totals[k], 8);
    for (int i = 0; i < p[1]->schema->n; i++) {
      uint64_t at = totals[k] - rows;
      memcpy(lie + 40 + (size_t)i * 64 + 32, &at, 8);
    }
    cr_assert_neq(canon__rcat_write_part(p[1], 1, lie, olen, buf, len, &err), 0, "total %llu",
                  (unsigned long long)totals[k]);
    cr_assert_eq(err.code, CANON_ERR_INVALID);
    free(lie);
  }
  /* No part 2 or -1: no order, and no read past the plan. */
  cr_assert_eq(canon__rcat_order_size(c, 2), 0);
  cr_assert_eq(canon__rcat_order_size(c, -1), 0);
  cr_assert_neq(canon__rcat_order_into(c, 2, o, olen, &err), 0);
  cr_assert_neq(canon__rcat_order_into(c, -1, o, olen, &err), 0);
  order_case_free(&oc);
}

/* Many string columns each claiming 2^50 bytes: each claim is in bounds,
 * their sum is not, and the plan refuses it (the layout's sums would
 * wrap and the head be written past a short encoding). */
Test(concat_remote, sketches_too_big_in_all_are_refused) {
  enum { NC = 16384 };
  size_t cap = (size_t)NC * 16 + 1;
  char *spec = malloc(cap);
  size_t at = 0;
  for (int i = 0; i < NC; i++) at += (size_t)snprintf(spec + at, cap - at, "%sc%d:string", i ? "," : "", i);
  canon_error err;
  canon_schema *sc = canon_schema_parse(spec, &err);
  cr_assert(sc, "%s", err.message);
  size_t len = 16 + (size_t)NC * 24;
  uint8_t *sk = calloc(1, len);
  uint32_t magic = 0x4B534E43u, nc = NC;
  uint64_t rows = 1, bytes = (uint64_t)1 << 50;
  memcpy(sk, &magic, 4);
  memcpy(sk + 4, &nc, 4);
  memcpy(sk + 8, &rows, 8);
  for (int i = 0; i < NC; i++) memcpy(sk + 16 + (size_t)i * 24 + 8, &bytes, 8);
  const uint8_t *sks[1] = {sk};
  canon_error_clear(&err);
  cr_assert_null(canon__rcat_plan(sc, sks, &len, 1, &err));
  cr_assert_eq(err.code, CANON_ERR_PARSE, "%s", err.message);
  free(sk);
  free(spec);
  canon_schema_free(sc);
}

/* Orders with the concatenation's rows set near the wrap-around point
 * and a column's rows ending there (a quarter of them), and one to three
 * fields of its columns set at random to values near the edges — the wrap-around point, the
 * encoding's length, the rows left before the end — many times over:
 * each is refused or written inside the encoding, whose buffer is
 * exactly its length (the ASan build sees any byte outside). */
Test(concat_remote, random_forged_orders_never_write_outside) {
  order_case oc;
  order_case_make(&oc);
  canon_table *const *p = oc.p;
  size_t len = oc.len, olen = oc.olen;
  uint8_t *buf = oc.buf, *good = oc.good;
  uint8_t *lie = malloc(olen);
  canon_error err;
  int nc = p[1]->schema->n;
  uint64_t rows = (uint64_t)canon_table_num_rows(p[1]);
  tu_rnd_state = 20261126;
  int refused = 0;
  for (int it = 0; it < 40000; it++) {
    memcpy(lie, good, olen);
    uint64_t total;
    if (tu_rnd_below(4) == 0) {
      /* Rows near the wrap-around point, and a column whose rows end
       * there, its sections at the encoding's start. */
      total = UINT64_MAX - (uint64_t)tu_rnd_below(4);
      memcpy(lie + 24, &total, 8);
      uint8_t *e = lie + 40 + (size_t)tu_rnd_below(nc) * 64;
      uint64_t first = total - rows - (uint64_t)tu_rnd_below(3), zero = 8 * (uint64_t)tu_rnd_below(4);
      memcpy(e + 32, &first, 8);
      for (int s = 0; s < 4; s++)
        if (tu_rnd_below(2)) memcpy(e + 8 * s, &zero, 8);
    }
    memcpy(&total, lie + 24, 8);
    int k = 1 + (int)tu_rnd_below(3);
    for (int j = 0; j < k; j++) {
      /* A column's field: bitmap, values, strings, codes, first row,
       * first byte, map entries, map offset. */
      size_t f = 40 + (size_t)tu_rnd_below(nc) * 64 + 8 * (size_t)tu_rnd_below(8);
      uint64_t old, v;
      memcpy(&old, lie + f, 8);
      switch (tu_rnd_below(7)) {
      case 0: v = UINT64_MAX - (uint64_t)tu_rnd_below(64); break;
      case 1: v = (uint64_t)len - (uint64_t)tu_rnd_below(64); break;
      case 2: v = total - rows - (uint64_t)tu_rnd_below(3); break;
      case 3: v = (uint64_t)tu_rnd_below(4096); break;
      case 4: v = old + (uint64_t)tu_rnd_below(17) - 8; break;
      case 5: v = (uint64_t)1 << tu_rnd_below(64); break;
      default: v = UINT64_MAX; break;
      }
      memcpy(lie + f, &v, 8);
    }
    if (canon__rcat_write_part(p[1], 1, lie, olen, buf, len, &err) != 0) refused++;
  }
  cr_assert_gt(refused, 1000);
  free(lie);
  order_case_free(&oc);
}
