/* agg_values.c — the holistic aggregates median, quantile, quantile_disc
 * and count_distinct, and the boolean any/all (SEMANTICS §5).
 *
 * Holistic aggregates cannot be pre-reduced to a fixed-size state, so the
 * partial state of a group is its list of non-NULL values (count_distinct:
 * its distinct values, found by sorting (gid, value) pairs with the shared
 * stable sort; the other lists keep input order).  The answer depends only
 * on the multiset of values: equal values that differ in bits (-0.0 and
 * 0.0, NaN payloads) are made canonical on output.  The final step gathers
 * every list of a group; count_distinct and quantile_disc over strings sort
 * the values by the §2 order and read the answer off the sorted run; the
 * others (fixed-width values) select the one or two order statistics they
 * need from the group's order-preserving images (§2 equal values share an
 * image, so the image stands for the canonical value).
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

/* Bytes per value of a fixed-width list type. */
static int av_width(canon_type t) {
  return t == CANON_BOOL ? 1 : t == CANON_DATE ? 4 : 8;
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

/* Positions of quantile p among n >= 1 sorted values, exactly as §5 writes
 * them: x[lo], x[hi] and the weight d of x[hi]. */
static void av_qpos(int64_t n, double p, int64_t *lo_out, int64_t *hi_out, double *d_out) {
  double h = (double)(n - 1) * p;
  double fl = floor(h);
  int64_t lo = (int64_t)fl, hi = (int64_t)ceil(h);
  if (hi > n - 1) hi = n - 1;
  if (lo > hi) lo = hi;
  *lo_out = lo;
  *hi_out = hi;
  *d_out = h - fl;
}

/* quantile from x[lo] = xl, x[hi] = xh (see av_qpos), exactly as §5 writes it. */
static double av_quantile(double xl, double xh, int64_t lo, double d, av_interp m) {
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

/* Position of quantile_disc p among n >= 1 sorted values (§5). */
static int64_t av_disc_pos(int64_t n, double p) {
  double np = (double)n * p;
  int64_t k = (int64_t)ceil(np) - 1;
  if (k < 0) k = 0;
  if (k > n - 1) k = n - 1;
  return k;
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
  /* quantile_disc over strings: the others take av_select_final. */
  return canon__cb_from(out, v, run[av_disc_pos(n, av_p(e))]);
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

/* Store v little-endian in w bytes at p. */
static void av_store(uint8_t *p, uint64_t v, size_t w) {
  for (size_t k = 0; k < w; k++) p[k] = (uint8_t)(v >> (8 * k));
}

/* av_plain_partial for fixed-width values: one pass counts each group's
 * values, a second writes every value straight into its group's state,
 * in place in out's string bytes (reserved once for all the groups). */
static int av_fixed_partial(const canon_expr *e, const canon__column *x, const int64_t *gid,
                            int64_t nrows, int64_t ngroups, canon__colbuilder *out,
                            canon_error *err) {
  canon_type t = av_list_type(e);
  size_t w = (size_t)av_width(t);
  size_t *at = canon__calloc((size_t)ngroups + 1, sizeof *at);
  int rc = 0;
  if (!at) return canon__nomem(err);
  for (int64_t i = 0; i < nrows; i++) {
    int64_t g = gid ? gid[i] : 0;
    if (g >= 0 && canon__valid(x, i)) at[g + 1]++;
  }
  /* at[g] becomes the offset of group g's state: u64 count, then values. */
  size_t total = 0;
  for (int64_t g = 0; g < ngroups; g++) {
    size_t cnt = at[g + 1];
    at[g + 1] = total + 8 + w * cnt; /* the end of group g, for now */
    at[g] = total;
    total = at[g + 1];
  }
  canon__buffer *sd = out->strdata;
  size_t base = sd->size;
  if (canon__buffer_reserve(sd, base + total) != 0) {
    free(at);
    return canon__nomem(err);
  }
  uint8_t *buf = sd->data + base;
  for (int64_t g = 0; g < ngroups; g++) {
    av_store(buf + at[g], (at[g + 1] - at[g] - 8) / w, 8);
    at[g] += 8; /* now the next value's place */
  }
  for (int64_t i = 0; i < nrows; i++) {
    int64_t g = gid ? gid[i] : 0;
    if (g < 0 || !canon__valid(x, i)) continue;
    uint64_t v;
    switch (x->type) {
    case CANON_BOOL: v = canon__u8(x)[i] != 0; break;
    case CANON_DATE: v = (uint32_t)canon__i32(x)[i]; break;
    case CANON_FLOAT64: memcpy(&v, &canon__f64(x)[i], 8); break;
    default: /* int64, timestamp; §5: median and quantile convert int64 first */
      if (t == CANON_FLOAT64) {
        double d = (double)canon__i64(x)[i];
        memcpy(&v, &d, 8);
      } else {
        v = (uint64_t)canon__i64(x)[i];
      }
      break;
    }
    av_store(buf + at[g], v, w);
    at[g] += w;
  }
  /* at[g] is now the end of group g, where g + 1 starts: each state's
   * bytes are in place, so appending it is appending its end offset (an
   * empty append after the bytes in use grew by the state's). */
  for (int64_t g = 0; g < ngroups && !rc; g++) {
    sd->size = base + at[g];
    if (canon__cb_str(out, "", 0)) rc = canon__nomem(err);
  }
  free(at);
  return rc;
}

/* Partial lists of median, quantile and quantile_disc: each group's
 * non-NULL values in input order (their answer needs no order).  This one
 * takes strings (quantile_disc); av_fixed_partial the rest. */
static int av_plain_partial(const canon__column *x, const int64_t *gid,
                            int64_t nrows, int64_t ngroups, canon__colbuilder *out,
                            canon_error *err) {
  int64_t *start = NULL, *order = NULL;
  if (canon__aggx_csr(gid, nrows, ngroups, &start, &order)) {
    free(start);
    free(order);
    return canon__nomem(err);
  }
  av_bytes buf = {0};
  int rc = 0;
  for (int64_t g = 0; g < ngroups && !rc; g++) {
    buf.len = 0;
    av_put64(&buf, 0);
    uint64_t cnt = 0;
    for (int64_t k = start[g]; k < start[g + 1]; k++) {
      int64_t i = order[k];
      if (!canon__valid(x, i)) continue;
      av_put_value(&buf, x, i);
      cnt++;
    }
    if (buf.oom) {
      rc = canon__nomem(err);
      break;
    }
    for (int k = 0; k < 8; k++) buf.p[k] = (uint8_t)(cnt >> (8 * k));
    if (canon__cb_str(out, (const char *)buf.p, buf.len)) rc = canon__nomem(err);
  }
  free(buf.p);
  free(start);
  free(order);
  return rc;
}

static int av_list_partial(const canon_expr *e, const canon_table *in, const int64_t *gid,
                           int64_t ngroups, canon__colbuilder *out, canon_error *err) {
  canon__column *x = canon__expr_eval(e->args[0], in, err);
  if (!x) return err && err->code ? err->code : CANON_ERR_INTERNAL;
  if (e->fn != CANON__A_COUNT_DISTINCT) {
    int rc = av_list_type(e) == CANON_STRING
                 ? av_plain_partial(x, gid, in->nrows, ngroups, out, err)
                 : av_fixed_partial(e, x, gid, in->nrows, ngroups, out, err);
    canon__column_unref(x);
    return rc;
  }
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

/* ---- selection (final of the fixed-width lists) -------------------------- */

/* Image of a fixed-width list value of type t read from p (little-endian,
 * width av_width(t)), ordered as §2 orders the values. */
static uint64_t av_image(canon_type t, const uint8_t *p) {
  switch (t) {
  case CANON_BOOL: return p[0];
  case CANON_DATE: {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (uint64_t)(int64_t)(int32_t)v ^ (UINT64_C(1) << 63);
  }
  case CANON_FLOAT64: {
    uint64_t b = av_get64(p);
    double d;
    memcpy(&d, &b, 8);
    return canon__f64_image(d);
  }
  default: return av_get64(p) ^ (UINT64_C(1) << 63); /* int64, timestamp */
  }
}

/* The float64 an image stands for: +0.0 for zeros, NaN for NaNs. */
static double av_f64_of_image(uint64_t m) {
  if (m == UINT64_MAX) return NAN;
  uint64_t u = (m >> 63) ? m ^ (UINT64_C(1) << 63) : ~m;
  double d;
  memcpy(&d, &u, 8);
  return d;
}

/* Append the value image m stands for (type t) to out. */
static int av_emit_image(canon__colbuilder *out, canon_type t, uint64_t m) {
  switch (t) {
  case CANON_BOOL: return canon__cb_bool(out, m != 0);
  case CANON_DATE: return canon__cb_i32(out, (int32_t)(int64_t)(m ^ (UINT64_C(1) << 63)));
  case CANON_FLOAT64: return canon__cb_f64(out, canon__aggx_canon_f64(av_f64_of_image(m)));
  default: return canon__cb_i64(out, (int64_t)(m ^ (UINT64_C(1) << 63)));
  }
}

static void av_swap(uint64_t *a, uint64_t *b) {
  uint64_t t = *a;
  *a = *b;
  *b = t;
}

static int av_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Rearrange v[0..n) so that v[k] is the k-th smallest (0-based), nothing
 * before it larger and nothing after it smaller: quickselect with a
 * three-way partition (a run of equal images ends it at once) around a
 * median of three; after 64 rounds (adversarial input) the rest is sorted. */
static void av_select(uint64_t *v, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n; /* v[k] lies in [lo, hi) */
  int budget = 64;        /* partitions before falling back to a full sort */
  while (hi - lo > 16) {
    if (budget-- == 0) {
      qsort(v + lo, (size_t)(hi - lo), sizeof *v, av_cmp_u64);
      return;
    }
    int64_t mid = lo + (hi - lo) / 2;
    uint64_t a = v[lo], b = v[mid], c = v[hi - 1];
    uint64_t piv = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
    /* [lo, lt) < piv, [lt, i) == piv, [gt, hi) > piv */
    int64_t lt = lo, i = lo, gt = hi;
    while (i < gt) {
      if (v[i] < piv) av_swap(&v[lt++], &v[i++]);
      else if (v[i] > piv) av_swap(&v[i], &v[--gt]);
      else i++;
    }
    if (k < lt) hi = lt;
    else if (k >= gt) lo = gt;
    else return;
  }
  for (int64_t i = lo + 1; i < hi; i++) { /* insertion sort of the short rest */
    uint64_t x = v[i];
    int64_t j = i;
    while (j > lo && v[j - 1] > x) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
}

/* The answer for one group's images v[0..n) (n >= 1; v is reordered). */
static int av_select_result(const canon_expr *e, canon_type t, uint64_t *v, int64_t n,
                            canon__colbuilder *out) {
  double p = av_p(e);
  if (e->fn == CANON__A_QUANTILE_DISC) {
    int64_t k = av_disc_pos(n, p);
    av_select(v, n, k);
    return av_emit_image(out, t, v[k]);
  }
  int64_t lo, hi;
  double d;
  av_qpos(n, p, &lo, &hi, &d);
  av_select(v, n, lo);
  uint64_t mh = v[lo];
  if (hi > lo) { /* hi = lo + 1: the smallest image after lo */
    mh = v[lo + 1];
    for (int64_t k = lo + 2; k < n; k++)
      if (v[k] < mh) mh = v[k];
  }
  double r = av_quantile(av_f64_of_image(v[lo]), av_f64_of_image(mh), lo, d, av_method(e));
  return canon__cb_f64(out, canon__aggx_canon_f64(r));
}

/* Values gathered at a time by av_select_final (8 bytes each): a batch of
 * groups whose images fit stays in cache from gathering to selecting. */
#define AV_SELECT_BATCH ((int64_t)1 << 17)

/* Final of median, quantile and quantile_disc over fixed-width values:
 * gather each group's images, then select.  Groups are taken a batch at a
 * time (consecutive groups with at most AV_SELECT_BATCH values in all, or
 * one larger group), their states found through an index of the state
 * rows by group, so the images of all the rows are never in memory at
 * once. */
static int av_select_final(const canon_expr *e, int idx, const canon__column *states,
                           const int64_t *gid, int64_t ngroups, canon__colbuilder *out,
                           canon_error *err) {
  canon_type t = av_list_type(e);
  size_t w = (size_t)av_width(t);
  size_t ng = (size_t)ngroups;
  int64_t nst = states->length;
  /* start[g]: group g's first value among all; rstart/rows: the state rows
   * of each group, in row order. */
  int64_t *start = canon__calloc(ng + 1, sizeof *start);
  int64_t *rstart = canon__calloc(ng + 1, sizeof *rstart);
  int64_t *rows = canon__reallocarray(NULL, nst ? (size_t)nst : 1, sizeof *rows);
  uint64_t *img = NULL;
  int rc = 0;
  if (!start || !rstart || !rows) {
    rc = canon__nomem(err);
    goto done;
  }
  /* Check every state and count each group's values and states. */
  for (int64_t i = 0; i < nst; i++) {
    int64_t g = gid ? gid[i] : 0;
    if (g < 0) continue;
    size_t len;
    const uint8_t *p = canon__valid(states, i) ? (const uint8_t *)canon__str(states, i, &len) : NULL;
    bool ok = p && len >= 8 && (len - 8) % w == 0 && av_get64(p) == (len - 8) / w;
    for (size_t at = 8; ok && t == CANON_BOOL && at < len; at++) ok = p[at] <= 1;
    if (!ok) {
      rc = canon__aggx_corrupt(err, idx, i);
      goto done;
    }
    start[g + 1] += (int64_t)((len - 8) / w);
    rstart[g + 1]++;
  }
  int64_t most = 0; /* the most values of one group */
  for (size_t g = 0; g < ng; g++) {
    most = start[g + 1] > most ? start[g + 1] : most;
    start[g + 1] += start[g];
    rstart[g + 1] += rstart[g];
  }
  for (int64_t i = 0; i < nst; i++) {
    int64_t g = gid ? gid[i] : 0;
    if (g >= 0) rows[rstart[g]++] = i;
  }
  for (size_t g = ng; g > 0; g--) rstart[g] = rstart[g - 1]; /* back to the starts */
  rstart[0] = 0;
  int64_t cap = start[ng] < AV_SELECT_BATCH ? start[ng] : AV_SELECT_BATCH;
  if (most > cap) cap = most;
  img = canon__reallocarray(NULL, cap ? (size_t)cap : 1, sizeof *img);
  if (!img) {
    rc = canon__nomem(err);
    goto done;
  }
  for (size_t g0 = 0; g0 < ng && !rc;) {
    size_t g1 = g0 + 1;
    while (g1 < ng && start[g1 + 1] - start[g0] <= cap) g1++;
    int64_t k = 0;
    for (int64_t r = rstart[g0]; r < rstart[g1]; r++) {
      size_t len;
      const uint8_t *p = (const uint8_t *)canon__str(states, rows[r], &len);
      for (size_t at = 8; at < len; at += w) img[k++] = av_image(t, p + at);
    }
    for (size_t g = g0; g < g1 && !rc; g++) {
      int64_t n = start[g + 1] - start[g];
      rc = n ? av_select_result(e, t, img + (start[g] - start[g0]), n, out) : canon__cb_null(out);
      if (rc) rc = canon__nomem(err);
    }
    g0 = g1;
  }
done:
  free(start);
  free(rstart);
  free(rows);
  free(img);
  return rc;
}

static int av_list_final(const canon_expr *e, int idx, const canon__column *states,
                         const int64_t *gid, int64_t ngroups, canon__colbuilder *out,
                         canon_error *err) {
  canon_type lt = av_list_type(e);
  if (e->fn != CANON__A_COUNT_DISTINCT && lt != CANON_STRING)
    return av_select_final(e, idx, states, gid, ngroups, out, err);
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
