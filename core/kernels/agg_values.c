/* agg_values.c — the holistic aggregates median, quantile, quantile_disc
 * and count_distinct, and the boolean any/all (SEMANTICS §5).
 *
 * Holistic aggregates cannot be pre-reduced to a fixed-size state, so the
 * partial state of a group is its list of non-NULL values (count_distinct:
 * its distinct values), and the final step gathers every list of a group,
 * sorts the values by the §2 order and reads the answer off the sorted run.
 * Sorting (gid, value) pairs with the shared stable sort handles all groups
 * at once.  The answer depends only on the multiset of values: equal values
 * that differ in bits (-0.0 and 0.0, NaN payloads) are made canonical on
 * output.
 *
 * State layouts (little-endian):
 *   list      u64 count, then each value: bool u8, date u32, int64 /
 *             timestamp / float64 u64, string u64 length + bytes.  median
 *             and quantile store int64 input already converted to float64.
 *   any, all  u8: bit0 a true was seen, bit1 a false was seen.
 *
 * Sections: helpers; lists; any/all; dispatch. */
#include "agg_ext.h"

#include <math.h>

/** Whether fn is median, quantile, quantile_disc, count_distinct, any, all. */
bool canon__aggv_handles(canon__fn fn) {
  return fn == CANON__A_MEDIAN || fn == CANON__A_QUANTILE || fn == CANON__A_QUANTILE_DISC ||
         fn == CANON__A_COUNT_DISTINCT || fn == CANON__A_ANY || fn == CANON__A_ALL;
}

/* ---- helpers ------------------------------------------------------------- */

/* A growable byte string; oom sticks. */
typedef struct av_bytes {
  uint8_t *p;
  size_t len, cap;
  bool oom;
} av_bytes;

static void av_put(av_bytes *b, const void *src, size_t n) {
  if (b->oom) return;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n) cap *= 2;
    uint8_t *p = canon__realloc(b->p, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->len, src, n);
  b->len += n;
}

static void av_put64(av_bytes *b, uint64_t v) {
  uint8_t t[8];
  for (int k = 0; k < 8; k++) t[k] = (uint8_t)(v >> (8 * k));
  av_put(b, t, 8);
}

static uint64_t av_get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int k = 0; k < 8; k++) v |= (uint64_t)p[k] << (8 * k);
  return v;
}

/* Append value i of c (non-NULL) in the list encoding. */
static void av_put_value(av_bytes *b, const canon__column *c, int64_t i) {
  switch (c->type) {
  case CANON_BOOL: {
    uint8_t v = canon__u8(c)[i] != 0;
    av_put(b, &v, 1);
    break;
  }
  case CANON_DATE: {
    uint32_t v = (uint32_t)canon__i32(c)[i];
    uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    av_put(b, t, 4);
    break;
  }
  case CANON_STRING: {
    size_t n;
    const char *s = canon__str(c, i, &n);
    av_put64(b, (uint64_t)n);
    av_put(b, s, n);
    break;
  }
  default: { /* int64, timestamp, float64: 8 bytes as bits */
    uint64_t v;
    memcpy(&v, (const uint8_t *)c->values->data + 8 * i, 8);
    av_put64(b, v);
    break;
  }
  }
}

/* Parse one value of type t at p (len bytes left) into cb; the bytes used,
 * 0 when it does not parse (or on OOM: *oom set). */
static size_t av_get_value(const uint8_t *p, size_t len, canon_type t, canon__colbuilder *cb,
                           bool *oom) {
  int rc;
  size_t used;
  switch (t) {
  case CANON_BOOL:
    if (len < 1 || p[0] > 1) return 0;
    rc = canon__cb_bool(cb, p[0] != 0);
    used = 1;
    break;
  case CANON_DATE:
    if (len < 4) return 0;
    rc = canon__cb_i32(cb, (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                                     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24));
    used = 4;
    break;
  case CANON_STRING: {
    if (len < 8) return 0;
    uint64_t n = av_get64(p);
    if (n > len - 8) return 0;
    rc = canon__cb_str(cb, (const char *)p + 8, (size_t)n);
    used = 8 + (size_t)n;
    break;
  }
  case CANON_FLOAT64: {
    if (len < 8) return 0;
    uint64_t b = av_get64(p);
    double d;
    memcpy(&d, &b, 8);
    rc = canon__cb_f64(cb, d);
    used = 8;
    break;
  }
  default:
    if (len < 8) return 0;
    rc = canon__cb_i64(cb, (int64_t)av_get64(p));
    used = 8;
    break;
  }
  if (rc) {
    *oom = true;
    return 0;
  }
  return used;
}

/* The type the values of e's list have. */
static canon_type av_list_type(const canon_expr *e) {
  if (e->fn == CANON__A_MEDIAN || e->fn == CANON__A_QUANTILE) return CANON_FLOAT64;
  return e->args[0]->type;
}

/* ---- lists --------------------------------------------------------------- */

/* (group, value) pairs being collected, then sorted. */
typedef struct av_pairs {
  canon__colbuilder g, v;
  int ninit;
  canon_table *t;    /* after av_pairs_sort */
  int64_t *perm;     /* sorted order */
} av_pairs;

static int av_pairs_init(av_pairs *ps, canon_type vt, int64_t expect) {
  memset(ps, 0, sizeof *ps);
  if (canon__cb_init(&ps->g, CANON_INT64, expect)) return CANON_ERR_NOMEM;
  ps->ninit = 1;
  if (canon__cb_init(&ps->v, vt, expect)) return CANON_ERR_NOMEM;
  ps->ninit = 2;
  return 0;
}

static void av_pairs_free(av_pairs *ps) {
  if (ps->ninit > 0) canon__cb_reset(&ps->g);
  if (ps->ninit > 1) canon__cb_reset(&ps->v);
  canon_table_free(ps->t);
  free(ps->perm);
  memset(ps, 0, sizeof *ps);
}

/* Finish the builders and sort by (group, value), values by §2. */
static int av_pairs_sort(av_pairs *ps, canon_error *err) {
  int64_t n = ps->g.length;
  canon_type vt = ps->v.type;
  canon__column *cols[2] = {canon__cb_finish(&ps->g), canon__cb_finish(&ps->v)};
  ps->ninit = 0;
  canon_schema *s = canon_schema_new();
  int rc = 0;
  if (!cols[0] || !cols[1] || !s || canon_schema_add(s, "g", CANON_INT64, NULL) ||
      canon_schema_add(s, "v", vt, NULL)) {
    rc = canon__nomem(err);
  } else {
    ps->t = canon__table_make(s, cols, n, err);
    if (!ps->t) rc = err && err->code ? err->code : CANON_ERR_NOMEM;
  }
  canon_schema_free(s);
  canon__column_unref(cols[0]);
  canon__column_unref(cols[1]);
  if (rc) return rc;
  ps->perm = canon__reallocarray(NULL, n ? (size_t)n : 1, sizeof *ps->perm);
  if (!ps->perm) return canon__nomem(err);
  canon__sortcol keys[2] = {{0, false, false}, {1, false, false}};
  return canon__sort_indices(ps->t, keys, 2, ps->perm, err);
}

/* The parameters of quantile-like aggregates: p and the method. */
typedef enum av_interp { AV_LINEAR, AV_LOWER, AV_HIGHER, AV_MIDPOINT, AV_NEAREST } av_interp;

static double av_p(const canon_expr *e) {
  if (e->fn == CANON__A_MEDIAN) return 0.5;
  const canon__value *v = &e->args[1]->lit;
  return v->type == CANON_INT64 ? (double)v->v.i : v->v.f;
}

static av_interp av_method(const canon_expr *e) {
  if (e->fn != CANON__A_QUANTILE || e->nargs < 3) return AV_LINEAR;
  const char *s = e->args[2]->lit.s ? e->args[2]->lit.s : "";
  if (!strcmp(s, "lower")) return AV_LOWER;
  if (!strcmp(s, "higher")) return AV_HIGHER;
  if (!strcmp(s, "midpoint")) return AV_MIDPOINT;
  if (!strcmp(s, "nearest")) return AV_NEAREST;
  return AV_LINEAR;
}

/* quantile over the sorted run x[0..n) (n >= 1), exactly as §5 writes it. */
static double av_quantile(const double *vals, const int64_t *run, int64_t n, double p,
                          av_interp m) {
  double h = (double)(n - 1) * p;
  double fl = floor(h);
  int64_t lo = (int64_t)fl, hi = (int64_t)ceil(h);
  if (hi > n - 1) hi = n - 1;
  if (lo > hi) lo = hi;
  double d = h - fl;
  double xl = vals[run[lo]], xh = vals[run[hi]];
  switch (m) {
  case AV_LOWER: return xl;
  case AV_HIGHER: return xh;
  case AV_NEAREST:
    /* round half to even on h */
    if (d < 0.5) return xl;
    if (d > 0.5) return xh;
    return (lo % 2 == 0) ? xl : xh;
  case AV_MIDPOINT:
    if (canon__cmp_f64(xl, xh) == 0) return xl;
    return xl * 0.5 + xh * 0.5;
  default:
    if (canon__cmp_f64(xl, xh) == 0) return xl;
    return xl * (1 - d) + xh * d;
  }
}

/* Emit the result of group run [a, b) of the sorted pairs (final). */
static int av_result(const canon_expr *e, const av_pairs *ps, int64_t a, int64_t b,
                     canon__colbuilder *out) {
  const canon__column *v = ps->t->cols[1];
  const int64_t *run = ps->perm + a;
  int64_t n = b - a;
  if (e->fn == CANON__A_COUNT_DISTINCT) {
    int64_t cnt = n ? 1 : 0;
    for (int64_t k = 1; k < n; k++)
      if (canon__cmp_values(v, run[k - 1], v, run[k]) != 0) cnt++;
    return canon__cb_i64(out, cnt);
  }
  if (!n) return canon__cb_null(out);
  double p = av_p(e);
  if (e->fn == CANON__A_QUANTILE_DISC) {
    double np = (double)n * p;
    int64_t k = (int64_t)ceil(np) - 1;
    if (k < 0) k = 0;
    if (k > n - 1) k = n - 1;
    if (v->type == CANON_FLOAT64) return canon__cb_f64(out, canon__aggx_canon_f64(canon__f64(v)[run[k]]));
    return canon__cb_from(out, v, run[k]);
  }
  double r = av_quantile(canon__f64(v), run, n, p, av_method(e));
  return canon__cb_f64(out, canon__aggx_canon_f64(r));
}

/* Walk the sorted pairs group by group: partial emits each group's list
 * (count_distinct: one value per run of equal values), final the result. */
static int av_walk(const canon_expr *e, const av_pairs *ps, int64_t ngroups, bool final,
                   canon__colbuilder *out) {
  const int64_t *g = canon__i64(ps->t->cols[0]);
  const canon__column *v = ps->t->cols[1];
  bool distinct = e->fn == CANON__A_COUNT_DISTINCT;
  int64_t n = ps->t->nrows, a = 0;
  av_bytes buf = {0};
  int rc = 0;
  for (int64_t grp = 0; grp < ngroups && !rc; grp++) {
    int64_t b = a;
    while (b < n && g[ps->perm[b]] == grp) b++;
    if (final) {
      rc = av_result(e, ps, a, b, out);
    } else {
      buf.len = 0;
      av_put64(&buf, 0);
      uint64_t cnt = 0;
      for (int64_t k = a; k < b; k++) {
        if (distinct && k > a && canon__cmp_values(v, ps->perm[k - 1], v, ps->perm[k]) == 0)
          continue;
        av_put_value(&buf, v, ps->perm[k]);
        cnt++;
      }
      if (buf.oom) {
        rc = CANON_ERR_NOMEM;
        break;
      }
      for (int k = 0; k < 8; k++) buf.p[k] = (uint8_t)(cnt >> (8 * k));
      rc = canon__cb_str(out, (const char *)buf.p, buf.len);
    }
    a = b;
  }
  free(buf.p);
  return rc;
}

static int av_list_partial(const canon_expr *e, const canon_table *in, const int64_t *gid,
                           int64_t ngroups, canon__colbuilder *out, canon_error *err) {
  canon__column *x = canon__expr_eval(e->args[0], in, err);
  if (!x) return err && err->code ? err->code : CANON_ERR_INTERNAL;
  canon_type lt = av_list_type(e);
  av_pairs ps;
  int rc = av_pairs_init(&ps, lt, in->nrows);
  for (int64_t i = 0; i < in->nrows && !rc; i++) {
    int64_t g = gid ? gid[i] : 0;
    if (g < 0 || !canon__valid(x, i)) continue;
    rc = canon__cb_i64(&ps.g, g);
    if (rc) break;
    if (lt == CANON_FLOAT64 && x->type == CANON_INT64)
      rc = canon__cb_f64(&ps.v, (double)canon__i64(x)[i]); /* §5: converted first */
    else
      rc = canon__cb_from(&ps.v, x, i);
  }
  if (rc) rc = canon__nomem(err);
  if (!rc) rc = av_pairs_sort(&ps, err);
  if (!rc) rc = av_walk(e, &ps, ngroups, false, out);
  av_pairs_free(&ps);
  canon__column_unref(x);
  return rc;
}

static int av_list_final(const canon_expr *e, int idx, const canon__column *states,
                         const int64_t *gid, int64_t ngroups, canon__colbuilder *out,
                         canon_error *err) {
  canon_type lt = av_list_type(e);
  av_pairs ps;
  int rc = av_pairs_init(&ps, lt, states->length);
  bool oom = rc != 0;
  for (int64_t i = 0; i < states->length && !rc; i++) {
    int64_t g = gid ? gid[i] : 0;
    if (g < 0) continue;
    size_t len;
    const uint8_t *p = canon__valid(states, i) ? (const uint8_t *)canon__str(states, i, &len) : NULL;
    if (!p || len < 8) {
      rc = canon__aggx_corrupt(err, idx, i);
      break;
    }
    uint64_t cnt = av_get64(p);
    size_t at = 8;
    for (uint64_t k = 0; k < cnt && !rc; k++) {
      size_t used = av_get_value(p + at, len - at, lt, &ps.v, &oom);
      if (!used || canon__cb_i64(&ps.g, g)) rc = oom || used ? CANON_ERR_NOMEM : CANON_ERR_PARSE;
      at += used;
    }
    if (!rc && at != len) rc = CANON_ERR_PARSE;
    if (rc == CANON_ERR_PARSE) rc = canon__aggx_corrupt(err, idx, i);
  }
  if (rc == CANON_ERR_NOMEM) rc = canon__nomem(err);
  if (!rc) rc = av_pairs_sort(&ps, err);
  if (!rc) rc = av_walk(e, &ps, ngroups, true, out);
  av_pairs_free(&ps);
  return rc;
}

/* ---- any / all ------------------------------------------------------------ */

static int av_bool_emit(canon__colbuilder *out, const uint8_t *st, int64_t ngroups, bool final,
                        bool is_any) {
  int rc = 0;
  for (int64_t g = 0; g < ngroups && !rc; g++) {
    if (!final) rc = canon__cb_str(out, (const char *)&st[g], 1);
    else if (!st[g]) rc = canon__cb_null(out);
    else rc = canon__cb_bool(out, is_any ? (st[g] & 1) != 0 : (st[g] & 2) == 0);
  }
  return rc;
}

/* ---- dispatch ------------------------------------------------------------- */

/** Partial states of the aggregates of this file. */
int canon__aggv_partial(const canon_expr *e, const canon_table *in, const int64_t *gid,
                        int64_t ngroups, canon__colbuilder *out, canon_error *err) {
  if (e->fn != CANON__A_ANY && e->fn != CANON__A_ALL)
    return av_list_partial(e, in, gid, ngroups, out, err);
  canon__column *x = canon__expr_eval(e->args[0], in, err);
  if (!x) return err && err->code ? err->code : CANON_ERR_INTERNAL;
  uint8_t *st = canon__calloc(ngroups ? (size_t)ngroups : 1, 1);
  int rc = st ? 0 : canon__nomem(err);
  for (int64_t i = 0; i < in->nrows && !rc; i++) {
    int64_t g = gid ? gid[i] : 0;
    if (g >= 0 && canon__valid(x, i)) st[g] |= canon__u8(x)[i] ? 1 : 2;
  }
  if (!rc) rc = av_bool_emit(out, st, ngroups, false, e->fn == CANON__A_ANY);
  free(st);
  canon__column_unref(x);
  return rc;
}

/** Merge and finish the aggregates of this file. */
int canon__aggv_final(const canon_expr *e, int idx, const canon__column *states,
                      const int64_t *gid, int64_t ngroups, canon__colbuilder *out,
                      canon_error *err) {
  if (e->fn != CANON__A_ANY && e->fn != CANON__A_ALL)
    return av_list_final(e, idx, states, gid, ngroups, out, err);
  uint8_t *st = canon__calloc(ngroups ? (size_t)ngroups : 1, 1);
  if (!st) return canon__nomem(err);
  int rc = 0;
  for (int64_t i = 0; i < states->length && !rc; i++) {
    int64_t g = gid ? gid[i] : 0;
    if (g < 0) continue;
    size_t len;
    const uint8_t *p = canon__valid(states, i) ? (const uint8_t *)canon__str(states, i, &len) : NULL;
    if (!p || len != 1 || p[0] > 3) rc = canon__aggx_corrupt(err, idx, i);
    else st[g] |= p[0];
  }
  if (!rc) rc = av_bool_emit(out, st, ngroups, true, e->fn == CANON__A_ANY);
  free(st);
  return rc;
}
