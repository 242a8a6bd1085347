/* agg_moments.c — var, stddev and corr, exact and rounded once (SEMANTICS
 * §5), plus the dispatch and helpers shared with agg_values.c.
 *
 * Method.  With n values, S1 = Σx and S2 = Σx² kept exactly (bigint.c:
 * every double is an integer times 2^-1074, every square or product an
 * integer times 2^-2148), the sample variance is
 *     var = (n·S2 − S1²) / (n·(n−1)),
 * whose numerator is an exact integer in units of 2^-2148.  It is formed
 * with big-integer products and divided by n and n−1 with the remainders
 * kept as a sticky bit, then rounded once to the nearest double.  corr
 * keeps Σx, Σy, Σx², Σy², Σxy over the rows where both are non-NULL and
 * forms the covariance and both variances the same way, each rounded once,
 * then c / (sqrt(vx) · sqrt(vy)) in float64.  int64 values enter exactly
 * (an int64 square needs 126 bits, still one 128-bit product).
 *
 * State (little-endian): i64 count, u8 flags (bit0: a NaN or an infinity
 * was seen), then the accumulators (2 for var/stddev: S1 S2; 5 for corr:
 * Sx Sy Sxx Syy Sxy) as canon__wacc_serialize writes them.
 *
 * Speed.  The partial step reads the rows once into group order (or, for
 * int64 arguments over at most AM_SMALL_ARRAY_MAX groups, straight into an
 * array of per-group sums); a group whose int64 values all lie within 2^31
 * is summed in 128 bits, which cannot overflow, and its state written from
 * those sums (the same bytes the wide accumulators would give).
 *
 * Sections: shared helpers and dispatch; accumulation; finishing. */
#include "agg_ext.h"
#include "bigint.h"

#include <math.h>

/* ---- shared helpers and dispatch ---------------------------------------- */

/** Whether fn is handled by agg_moments.c or agg_values.c. */
bool canon__aggx_handles(canon__fn fn) { return canon__aggm_handles(fn) || canon__aggv_handles(fn); }

/** Partial states (see agg_ext.h). */
int canon__aggx_partial(const canon_expr *e, const canon_table *in, const int64_t *gid,
                        int64_t ngroups, canon__colbuilder *out, canon_error *err) {
  if (canon__aggm_handles(e->fn)) return canon__aggm_partial(e, in, gid, ngroups, out, err);
  return canon__aggv_partial(e, in, gid, ngroups, out, err);
}

/** Final results (see agg_ext.h). */
int canon__aggx_final(const canon_expr *e, int idx, const canon__column *states,
                      const int64_t *gid, int64_t ngroups, canon__colbuilder *out,
                      canon_error *err) {
  if (canon__aggm_handles(e->fn)) return canon__aggm_final(e, idx, states, gid, ngroups, out, err);
  return canon__aggv_final(e, idx, states, gid, ngroups, out, err);
}

/** Group-order index of the rows (see agg_ext.h). */
int canon__aggx_csr(const int64_t *gid, int64_t n, int64_t ngroups, int64_t **start,
                    int64_t **order) {
  *start = canon__calloc((size_t)ngroups + 1, sizeof **start);
  *order = canon__reallocarray(NULL, n ? (size_t)n : 1, sizeof **order);
  int64_t *pos = canon__reallocarray(NULL, (size_t)ngroups + 1, sizeof *pos);
  if (!*start || !*order || !pos) {
    free(pos);
    return CANON_ERR_NOMEM;
  }
  for (int64_t i = 0; i < n; i++) {
    int64_t g = gid ? gid[i] : 0;
    if (g >= 0) (*start)[g + 1]++;
  }
  for (int64_t g = 0; g < ngroups; g++) (*start)[g + 1] += (*start)[g];
  memcpy(pos, *start, ((size_t)ngroups + 1) * sizeof *pos);
  for (int64_t i = 0; i < n; i++) {
    int64_t g = gid ? gid[i] : 0;
    if (g >= 0) (*order)[pos[g]++] = i;
  }
  free(pos);
  return 0;
}

/** Report a state that does not parse. */
int canon__aggx_corrupt(canon_error *err, int idx, int64_t row) {
  return canon__seterr(err, CANON_ERR_PARSE, "corrupt partial state in column __state%d, row %lld",
                       idx, (long long)row);
}

/** Never -0.0; NaN canonical. */
double canon__aggx_canon_f64(double d) {
  if (d != d) return NAN;
  return d == 0 ? 0.0 : d;
}

/** Whether fn is var, stddev or corr. */
bool canon__aggm_handles(canon__fn fn) {
  return fn == CANON__A_VAR || fn == CANON__A_STDDEV || fn == CANON__A_CORR;
}

/* ---- accumulation -------------------------------------------------------- */

/* One group's moments: count, whether a NaN/inf was seen, accumulators. */
typedef struct am_state {
  int64_t n;
  bool special;
  int nacc;              /* 2 (var, stddev) or 5 (corr) */
  canon__wacc acc[5];    /* S1 S2, or Sx Sy Sxx Syy Sxy */
} am_state;

static void am_init(am_state *s, int nacc) {
  s->n = 0;
  s->special = false;
  s->nacc = nacc;
  for (int k = 0; k < nacc; k++) canon__wacc_init(&s->acc[k]);
}

/* A value's 8 bytes (int64, or float64 bits) as exact parts; false for
 * NaN/inf. */
static bool am_parts(bool is_int, uint64_t raw, uint64_t *m, int *pos, bool *neg) {
  if (is_int) {
    canon__exact_parts_i64((int64_t)raw, m, pos, neg);
    return true;
  }
  if ((raw >> 52 & 0x7ff) == 0x7ff) return false;
  double v;
  memcpy(&v, &raw, sizeof v);
  canon__exact_parts_f64(v, m, pos, neg);
  return true;
}

/* Add one row: x, and y for corr (both non-NULL), as raw 8-byte values. */
static void am_add(am_state *s, bool xint, uint64_t xraw, bool has_y, bool yint, uint64_t yraw) {
  s->n++;
  /* y's parts are only read when y is given; zeroed for the compiler. */
  uint64_t mx, my = 0;
  int px, py = 0;
  bool nx, ny = false;
  bool okx = am_parts(xint, xraw, &mx, &px, &nx);
  bool oky = has_y ? am_parts(yint, yraw, &my, &py, &ny) : true;
  if (!okx || !oky) {
    s->special = true;
    return;
  }
  if (s->special) return;
  canon__wacc_add(&s->acc[0], mx, px, nx);
  if (!has_y) {
    canon__wacc_add(&s->acc[1], (canon__u128)mx * mx, 2 * px, false);
    return;
  }
  canon__wacc_add(&s->acc[1], my, py, ny);
  canon__wacc_add(&s->acc[2], (canon__u128)mx * mx, 2 * px, false);
  canon__wacc_add(&s->acc[3], (canon__u128)my * my, 2 * py, false);
  canon__wacc_add(&s->acc[4], (canon__u128)mx * my, px + py, nx != ny);
}

static int am_emit_state(canon__colbuilder *out, const am_state *s, uint8_t *buf) {
  uint64_t n = (uint64_t)s->n;
  for (int k = 0; k < 8; k++) buf[k] = (uint8_t)(n >> (8 * k));
  buf[8] = s->special ? 1 : 0;
  size_t len = 9;
  for (int k = 0; k < s->nacc; k++) len += canon__wacc_serialize(&s->acc[k], buf + len);
  return canon__cb_str(out, (const char *)buf, len);
}

/* Merge one serialized state into s; false when it does not parse. */
static bool am_merge(am_state *s, const uint8_t *p, size_t len) {
  if (len < 9 || p[8] > 1) return false;
  uint64_t n = 0;
  for (int k = 0; k < 8; k++) n |= (uint64_t)p[k] << (8 * k);
  if (n > (uint64_t)(INT64_MAX - s->n)) return false;
  size_t at = 9;
  am_state t;
  am_init(&t, s->nacc);
  for (int k = 0; k < s->nacc; k++) {
    int64_t used = canon__wacc_add_serialized(&t.acc[k], p + at, len - at);
    if (used < 0) return false;
    at += (size_t)used;
  }
  if (at != len) return false;
  /* Parsed: now add for real (adding twice is cheaper than copying). */
  at = 9;
  for (int k = 0; k < s->nacc; k++)
    at += (size_t)canon__wacc_add_serialized(&s->acc[k], p + at, len - at);
  s->n += (int64_t)n;
  s->special |= p[8] != 0;
  return true;
}

/* Int64 values of magnitude at most 2^31 (a group whose values all are
 * sums them in 128 bits: squares and products stay below 2^62, so 2^63
 * rows cannot overflow). */
#define AM_SMALL_INT ((int64_t)1 << 31)

static bool am_small(const uint64_t *v, int64_t n) {
  for (int64_t k = 0; k < n; k++)
    if (v[k] + (uint64_t)AM_SMALL_INT > 2 * (uint64_t)AM_SMALL_INT) return false;
  return true;
}

/* The moments of a group of small int64 values, exact in 128 bits. */
typedef struct am_small_sums {
  int64_t n;
  canon__i128 sx, sy, sxx, syy, sxy;
} am_small_sums;

static inline void am_small_add(am_small_sums *m, int64_t a, int64_t b, bool has_y) {
  m->n++;
  m->sx += a;
  m->sxx += (canon__i128)a * a;
  if (has_y) {
    m->sy += b;
    m->syy += (canon__i128)b * b;
    m->sxy += (canon__i128)a * b;
  }
}

/* The state of a group of small int64 values (x, and y when given), the
 * same bytes as am_emit_state writes for them: the sums are exact integers
 * either way, and the serialized form of a value is unique. */
static int am_emit_sums(canon__colbuilder *out, const am_small_sums *m, bool has_y, uint8_t *buf) {
  for (int k = 0; k < 8; k++) buf[k] = (uint8_t)((uint64_t)m->n >> (8 * k));
  buf[8] = 0;
  size_t len = 9;
  /* Values sit at unit 2^0 = bit 1074, squares and products at 2148. */
  len += canon__wacc_serialize_i128(m->sx, 1074, buf + len);
  if (has_y) {
    len += canon__wacc_serialize_i128(m->sy, 1074, buf + len);
    len += canon__wacc_serialize_i128(m->sxx, 2148, buf + len);
    len += canon__wacc_serialize_i128(m->syy, 2148, buf + len);
    len += canon__wacc_serialize_i128(m->sxy, 2148, buf + len);
  } else {
    len += canon__wacc_serialize_i128(m->sxx, 2148, buf + len);
  }
  return canon__cb_str(out, (const char *)buf, len);
}

static int am_emit_small(canon__colbuilder *out, const uint64_t *xv, const uint64_t *yv,
                         int64_t n, uint8_t *buf) {
  am_small_sums m = {0};
  for (int64_t k = 0; k < n; k++) am_small_add(&m, (int64_t)xv[k], yv ? (int64_t)yv[k] : 0, yv);
  return am_emit_sums(out, &m, yv != NULL, buf);
}

/* Up to this many groups, int64 arguments are first tried in one pass over
 * the rows into an array of 128-bit sums (88 bytes a group). */
#define AM_SMALL_ARRAY_MAX 65536

/* That pass: *done when every value was small and the states are written;
 * otherwise nothing is written.  Returns 0 or CANON_ERR_NOMEM. */
static int am_partial_small_array(const canon__column *x, const canon__column *y,
                                  const int64_t *gid, int64_t n, int64_t ngroups,
                                  canon__colbuilder *out, uint8_t *buf, bool *done) {
  *done = false;
  am_small_sums *m = canon__calloc(ngroups ? (size_t)ngroups : 1, sizeof *m);
  if (!m) return CANON_ERR_NOMEM;
  const int64_t *xr = canon__i64(x), *yr = y ? canon__i64(y) : NULL;
  bool has_y = y != NULL, nulls = x->validity || (y && y->validity);
  const uint64_t lim = 2 * (uint64_t)AM_SMALL_INT;
  bool small = true;
  for (int64_t i = 0; i < n; i++) {
    int64_t g = gid ? gid[i] : 0;
    if (g < 0 || (nulls && (!canon__valid(x, i) || (y && !canon__valid(y, i))))) continue;
    int64_t a = xr[i], b = has_y ? yr[i] : 0;
    /* [-2^31, 2^31] maps to [0, 2^32]. */
    if ((uint64_t)a + (uint64_t)AM_SMALL_INT > lim || (uint64_t)b + (uint64_t)AM_SMALL_INT > lim) {
      small = false;
      break;
    }
    am_small_add(&m[g], a, b, has_y);
  }
  int rc = 0;
  for (int64_t g = 0; g < ngroups && small && !rc; g++)
    if (am_emit_sums(out, &m[g], has_y, buf)) rc = CANON_ERR_NOMEM;
  *done = small && !rc;
  free(m);
  return rc;
}

/** Partial states of var, stddev, corr.  The values of rows where the
 * arguments are non-NULL are first put in group order (sequential reads,
 * one write stream per group), then each group is summed from its run;
 * groups of small int64 values take the 128-bit path. */
int canon__aggm_partial(const canon_expr *e, const canon_table *in, const int64_t *gid,
                        int64_t ngroups, canon__colbuilder *out, canon_error *err) {
  bool corr = e->fn == CANON__A_CORR;
  canon__column *x = canon__expr_eval(e->args[0], in, err);
  canon__column *y = corr && x ? canon__expr_eval(e->args[1], in, err) : NULL;
  size_t ng = (size_t)ngroups;
  int64_t *start = canon__calloc(ng + 1, sizeof *start);
  int64_t *pos = canon__reallocarray(NULL, ng + 1, sizeof *pos);
  uint64_t *xv = NULL, *yv = NULL;
  am_state *s = canon__malloc(sizeof *s);
  uint8_t *buf = canon__malloc(9 + 5 * CANON__WACC_MAX_BYTES);
  int rc = 0;
  if (!x || (corr && !y)) {
    rc = err && err->code ? err->code : CANON_ERR_INTERNAL;
    goto done;
  }
  if (!s || !buf || !start || !pos) goto oom;
  int64_t n = in->nrows;
  if (x->type == CANON_INT64 && (!y || y->type == CANON_INT64) && ngroups <= AM_SMALL_ARRAY_MAX) {
    bool done_small;
    if (am_partial_small_array(x, y, gid, n, ngroups, out, buf, &done_small)) goto oom;
    if (done_small) goto done;
  }
  for (int64_t i = 0; i < n; i++) {
    int64_t g = gid ? gid[i] : 0;
    if (g >= 0 && canon__valid(x, i) && (!y || canon__valid(y, i))) start[g + 1]++;
  }
  for (size_t g = 0; g < ng; g++) start[g + 1] += start[g];
  size_t nv = start[ng] ? (size_t)start[ng] : 1;
  xv = canon__reallocarray(NULL, nv, sizeof *xv);
  if (y) yv = canon__reallocarray(NULL, nv, sizeof *yv);
  if (!xv || (y && !yv)) goto oom;
  memcpy(pos, start, (ng + 1) * sizeof *pos);
  /* int64 and float64 values are both 8 bytes: move them as bits. */
  const uint64_t *xr = (const uint64_t *)x->values->data;
  const uint64_t *yr = y ? (const uint64_t *)y->values->data : NULL;
  for (int64_t i = 0; i < n; i++) {
    int64_t g = gid ? gid[i] : 0;
    if (g < 0 || !canon__valid(x, i) || (y && !canon__valid(y, i))) continue;
    int64_t k = pos[g]++;
    xv[k] = xr[i];
    if (y) yv[k] = yr[i];
  }
  bool xint = x->type == CANON_INT64, yint = y && y->type == CANON_INT64;
  for (size_t g = 0; g < ng && !rc; g++) {
    int64_t a = start[g], cnt = start[g + 1] - a;
    if (xint && (!y || yint) && am_small(xv + a, cnt) && (!y || am_small(yv + a, cnt))) {
      rc = am_emit_small(out, xv + a, y ? yv + a : NULL, cnt, buf);
      continue;
    }
    am_init(s, corr ? 5 : 2);
    for (int64_t k = a; k < start[g + 1]; k++) am_add(s, xint, xv[k], y != NULL, yint, y ? yv[k] : 0);
    rc = am_emit_state(out, s, buf);
  }
  goto done;
oom:
  rc = canon__nomem(err);
done:
  canon__column_unref(x);
  canon__column_unref(y);
  free(start);
  free(pos);
  free(xv);
  free(yv);
  free(s);
  free(buf);
  return rc;
}

/* ---- finishing ----------------------------------------------------------- */

/* (n · Sab − Sa · Sb) / (n (n−1)), rounded once; a, b index S1-style
 * accumulators and ab the matching sum of products. */
static double am_comoment(const am_state *s, int a, int b, int ab, canon__big *tmp) {
  canon__big *A = &tmp[0], *B = &tmp[1], *P = &tmp[2], *AB = &tmp[3], *N = &tmp[4];
  bool an, bn, pn, nn;
  canon__wacc_to_big(&s->acc[a], A, &an);
  canon__wacc_to_big(&s->acc[b], B, &bn);
  canon__big_mul(A, B, AB);              /* Sa · Sb, sign an ^ bn */
  canon__wacc_to_big(&s->acc[ab], P, &pn);
  canon__big_mul_u64(P, (uint64_t)s->n); /* n · Sab */
  canon__big_sub_signed(P, pn, AB, an != bn, N, &nn);
  return canon__big_div_round(N, nn, (uint64_t)s->n, (uint64_t)s->n - 1, -2148);
}

static int am_finish(canon__colbuilder *out, canon__fn fn, const am_state *s, canon__big *tmp) {
  if (s->n < 2) return canon__cb_null(out);
  if (s->special) return canon__cb_f64(out, NAN);
  double r;
  if (fn == CANON__A_CORR) {
    double c = am_comoment(s, 0, 1, 4, tmp);
    double vx = am_comoment(s, 0, 0, 2, tmp);
    double vy = am_comoment(s, 1, 1, 3, tmp);
    r = c / (sqrt(vx) * sqrt(vy));
  } else {
    r = am_comoment(s, 0, 0, 1, tmp);
    if (fn == CANON__A_STDDEV) r = sqrt(r);
  }
  return canon__cb_f64(out, canon__aggx_canon_f64(r));
}

/** Merge the states of each group and finish var, stddev or corr. */
int canon__aggm_final(const canon_expr *e, int idx, const canon__column *states,
                      const int64_t *gid, int64_t ngroups, canon__colbuilder *out,
                      canon_error *err) {
  int64_t *start = NULL, *order = NULL;
  am_state *s = canon__malloc(sizeof *s);
  canon__big *tmp = canon__malloc(5 * sizeof *tmp);
  int rc = 0;
  if (!s || !tmp || canon__aggx_csr(gid, states->length, ngroups, &start, &order)) {
    rc = canon__nomem(err);
    goto done;
  }
  for (int64_t g = 0; g < ngroups && !rc; g++) {
    am_init(s, e->fn == CANON__A_CORR ? 5 : 2);
    for (int64_t k = start[g]; k < start[g + 1] && !rc; k++) {
      int64_t i = order[k];
      size_t len;
      const uint8_t *p = canon__valid(states, i) ? (const uint8_t *)canon__str(states, i, &len) : NULL;
      if (!p || !am_merge(s, p, len)) rc = canon__aggx_corrupt(err, idx, i);
    }
    if (!rc) rc = am_finish(out, e->fn, s, tmp);
  }
done:
  free(start);
  free(order);
  free(s);
  free(tmp);
  return rc;
}
