/* expr_agg.c — the aggregates beyond count/sum/mean/min/max: var, stddev,
 * corr, median, quantile, quantile_disc, count_distinct, any, all.  Public
 * constructors, the argument rules checked at binding and the arities plan
 * JSON reads.  They run in kernels/agg_moments.c and kernels/agg_values.c.
 *
 * quantile's p and interpolation and quantile_disc's p are literal
 * arguments (args[1], args[2]), so plan JSON carries them like any other
 * argument and the text form shows them: quantile(x, 0.9, 'nearest'). */
#include "internal.h"

#include <math.h>
#include <stdio.h>

/** Whether fn is one of this file's aggregates. */
bool canon__fn_is_agg_ext(canon__fn fn) { return fn >= CANON__A_VAR && fn <= CANON__A_ALL; }

/** An aggregate call over args[0..n) (moved in), without checks (binding
 * checks); quantile with two arguments gets "linear".  NULL on OOM or when
 * an argument is NULL, freeing every argument. */
canon_expr *canon__agg_ext_call(canon__fn fn, canon_expr **args, int n) {
  canon_expr *a[3] = {NULL, NULL, NULL};
  if (n < 0 || n > 3 || (n > 0 && !args)) {
    for (int i = 0; args && i < n; i++) canon_expr_free(args[i]);
    return NULL;
  }
  bool ok = true;
  for (int i = 0; i < n; i++) ok &= (a[i] = args[i]) != NULL;
  if (fn == CANON__A_QUANTILE && n == 2) {
    ok &= (a[2] = canon_lit_string("linear")) != NULL;
    n = 3;
  }
  canon_expr *e = ok ? canon__expr_new(CANON__E_AGG) : NULL;
  if (e && n > 0 && !(e->args = canon__calloc((size_t)n, sizeof *e->args))) {
    free(e);
    e = NULL;
  }
  if (!e) {
    for (int i = 0; i < n; i++) canon_expr_free(a[i]);
    return NULL;
  }
  e->fn = fn;
  e->nargs = n;
  for (int i = 0; i < n; i++) e->args[i] = a[i];
  return e;
}

static canon_expr *agg1(canon__fn fn, canon_expr *a) { return canon__agg_ext_call(fn, &a, 1); }
static canon_expr *agg2(canon__fn fn, canon_expr *a, canon_expr *b) {
  canon_expr *args[2] = {a, b};
  return canon__agg_ext_call(fn, args, 2);
}

/* ---- constructors -------------------------------------------------------- */

/** var(a): sample variance, exact and rounded once. */
canon_expr *canon_var(canon_expr *a) { return agg1(CANON__A_VAR, a); }
/** stddev(a): IEEE square root of var(a). */
canon_expr *canon_stddev(canon_expr *a) { return agg1(CANON__A_STDDEV, a); }
/** corr(x, y) over the rows where both are non-NULL. */
canon_expr *canon_corr(canon_expr *x, canon_expr *y) { return agg2(CANON__A_CORR, x, y); }
/** median(a) = quantile(a, 0.5, "linear"). */
canon_expr *canon_median(canon_expr *a) { return agg1(CANON__A_MEDIAN, a); }
/** quantile(a, p, interpolation); interpolation NULL means "linear". */
canon_expr *canon_quantile(canon_expr *a, double p, const char *interpolation) {
  canon_expr *args[3] = {a, canon_lit_float64(p),
                         canon_lit_string(interpolation ? interpolation : "linear")};
  if (!args[1] || !args[2]) {
    for (int i = 0; i < 3; i++) canon_expr_free(args[i]);
    return NULL;
  }
  return canon__agg_ext_call(CANON__A_QUANTILE, args, 3);
}
/** quantile_disc(a, p): SQL percentile_disc, the input type. */
canon_expr *canon_quantile_disc(canon_expr *a, double p) {
  canon_expr *lit = canon_lit_float64(p);
  if (!lit) {
    canon_expr_free(a);
    return NULL;
  }
  return agg2(CANON__A_QUANTILE_DISC, a, lit);
}
/** count_distinct(a): distinct non-NULL values. */
canon_expr *canon_count_distinct(canon_expr *a) { return agg1(CANON__A_COUNT_DISTINCT, a); }
/** any(b): SQL bool_or. */
canon_expr *canon_any(canon_expr *a) { return agg1(CANON__A_ANY, a); }
/** all(b): SQL bool_and. */
canon_expr *canon_all(canon_expr *a) { return agg1(CANON__A_ALL, a); }

/* ---- binding rules -------------------------------------------------------- */

/* "type error in <e>: <detail>" with the given code. */
static void ag_error(canon_error *err, int code, const canon_expr *e, const char *detail) {
  char *txt = canon_expr_to_string(e);
  canon__seterr(err, code, "%s in %s: %s", code == CANON_ERR_TYPE ? "type error" : "invalid argument",
                txt ? txt : "aggregate", detail);
  free(txt);
}

static bool ag_numeric(canon_type t) { return t == CANON_INT64 || t == CANON_FLOAT64; }

/* p must be a non-NULL number literal in [0, 1]. */
static bool ag_p_ok(const canon_expr *p) {
  if (!p || p->kind != CANON__E_LIT || p->lit.is_null) return false;
  double v;
  if (p->lit.type == CANON_INT64) v = (double)p->lit.v.i;
  else if (p->lit.type == CANON_FLOAT64) v = p->lit.v.f;
  else return false;
  return v >= 0.0 && v <= 1.0; /* false for NaN */
}

static bool ag_method_ok(const canon_expr *m) {
  static const char *const names[] = {"linear", "lower", "higher", "midpoint", "nearest"};
  if (!m || m->kind != CANON__E_LIT || m->lit.is_null || m->lit.type != CANON_STRING) return false;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (m->lit.s && strlen(names[i]) == m->lit.slen && !strcmp(m->lit.s, names[i])) return true;
  return false;
}

/** Result type of aggregate e given its bound arguments b (see internal.h). */
canon_type canon__agg_ext_type(const canon_expr *e, const canon_expr *b, canon_error *err) {
  canon_type t0 = b->nargs > 0 ? b->args[0]->type : CANON_TYPE_INVALID;
  char msg[160];
  switch (e->fn) {
  case CANON__A_VAR:
  case CANON__A_STDDEV:
  case CANON__A_MEDIAN:
    if (ag_numeric(t0)) return CANON_FLOAT64;
    break;
  case CANON__A_CORR:
    if (ag_numeric(t0) && b->nargs > 1 && ag_numeric(b->args[1]->type)) return CANON_FLOAT64;
    break;
  case CANON__A_QUANTILE:
  case CANON__A_QUANTILE_DISC: {
    bool disc = e->fn == CANON__A_QUANTILE_DISC;
    if (!disc && !ag_numeric(t0)) break;
    if (!ag_p_ok(b->nargs > 1 ? b->args[1] : NULL)) {
      ag_error(err, CANON_ERR_INVALID, e, "p must be a number literal in [0, 1]");
      return CANON_TYPE_INVALID;
    }
    if (!disc && !ag_method_ok(b->nargs > 2 ? b->args[2] : NULL)) {
      ag_error(err, CANON_ERR_INVALID, e,
               "interpolation must be 'linear', 'lower', 'higher', 'midpoint' or 'nearest'");
      return CANON_TYPE_INVALID;
    }
    return disc ? t0 : CANON_FLOAT64;
  }
  case CANON__A_COUNT_DISTINCT:
    if (t0 > CANON_TYPE_INVALID && t0 < CANON_TYPE__COUNT) return CANON_INT64;
    break;
  case CANON__A_ANY:
  case CANON__A_ALL:
    if (t0 == CANON_BOOL) return CANON_BOOL;
    break;
  default: break;
  }
  const char *n0 = canon_type_name(t0);
  const char *n1 = b->nargs > 1 ? canon_type_name(b->args[1]->type) : NULL;
  if (e->fn == CANON__A_CORR)
    snprintf(msg, sizeof msg, "cannot apply corr to %s and %s", n0 ? n0 : "?", n1 ? n1 : "?");
  else
    snprintf(msg, sizeof msg, "cannot apply %s to %s", canon__fn_name(e->fn), n0 ? n0 : "?");
  ag_error(err, CANON_ERR_TYPE, e, msg);
  return CANON_TYPE_INVALID;
}

/** Arity for plan JSON (quantile's interpolation may be left out). */
void canon__agg_ext_arity(canon__fn fn, int *lo, int *hi) {
  *lo = *hi = 1;
  if (fn == CANON__A_CORR || fn == CANON__A_QUANTILE_DISC) *lo = *hi = 2;
  if (fn == CANON__A_QUANTILE) {
    *lo = 2;
    *hi = 3;
  }
}
