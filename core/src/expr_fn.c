/* expr_fn.c — the scalar functions beyond operators: string functions
 * (length .. rtrim), numeric functions (abs .. exp) and conditionals
 * (if_else, case_when, in_list).  Public constructors, the argument rules
 * checked at binding, and the arities plan JSON reads.  Their evaluation is
 * in kernels/eval_fn_*.c; their exact semantics in docs/semantics.md. */
#include "internal.h"

#include <stdio.h>

/** Whether fn is one of this file's functions. */
bool canon__fn_is_ext(canon__fn fn) { return fn >= CANON__F_LENGTH && fn <= CANON__F_IN_LIST; }

/** A call node over args[0..n) (moved in), without checks; NULL on OOM or
 * when an argument is NULL (an earlier failure), freeing every argument. */
canon_expr *canon__fn_ext_call(canon__fn fn, canon_expr **args, int n) {
  bool ok = n >= 0 && (n == 0 || args);
  for (int i = 0; ok && i < n; i++)
    if (!args[i]) ok = false;
  canon_expr *e = ok ? canon__expr_new(CANON__E_CALL) : NULL;
  if (e && n > 0 && !(e->args = canon__calloc((size_t)n, sizeof *e->args))) {
    free(e);
    e = NULL;
  }
  if (!e) {
    for (int i = 0; args && i < n; i++) canon_expr_free(args[i]);
    return NULL;
  }
  e->fn = fn;
  e->nargs = n;
  for (int i = 0; i < n; i++) e->args[i] = args[i];
  return e;
}

static canon_expr *fn1(canon__fn fn, canon_expr *a) { return canon__fn_ext_call(fn, &a, 1); }
static canon_expr *fn2(canon__fn fn, canon_expr *a, canon_expr *b) {
  canon_expr *args[2] = {a, b};
  return canon__fn_ext_call(fn, args, 2);
}
static canon_expr *fn3(canon__fn fn, canon_expr *a, canon_expr *b, canon_expr *c) {
  canon_expr *args[3] = {a, b, c};
  return canon__fn_ext_call(fn, args, 3);
}

/* ---- constructors -------------------------------------------------------- */

/** length(s): code points (int64). */
canon_expr *canon_length(canon_expr *s) { return fn1(CANON__F_LENGTH, s); }
/** lower(s), ASCII letters only. */
canon_expr *canon_lower(canon_expr *s) { return fn1(CANON__F_LOWER, s); }
/** upper(s), ASCII letters only. */
canon_expr *canon_upper(canon_expr *s) { return fn1(CANON__F_UPPER, s); }
/** substring(s, start, len), 1-based code points. */
canon_expr *canon_substring(canon_expr *s, canon_expr *start, canon_expr *len) {
  return fn3(CANON__F_SUBSTRING, s, start, len);
}
/** substring(s, start): from start to the end. */
canon_expr *canon_substring_from(canon_expr *s, canon_expr *start) {
  return fn2(CANON__F_SUBSTRING, s, start);
}
/** concat(args[0], ..., args[n-1]), n >= 1; owns every argument. */
canon_expr *canon_concat(canon_expr **args, int n) {
  if (!args) return NULL;
  if (n < 1) {
    for (int i = 0; i < n; i++) canon_expr_free(args[i]);
    return NULL;
  }
  return canon__fn_ext_call(CANON__F_CONCAT, args, n);
}
/** starts_with(s, prefix) -> bool */
canon_expr *canon_starts_with(canon_expr *s, canon_expr *prefix) {
  return fn2(CANON__F_STARTS_WITH, s, prefix);
}
/** contains(s, sub) -> bool */
canon_expr *canon_contains(canon_expr *s, canon_expr *sub) {
  return fn2(CANON__F_CONTAINS, s, sub);
}
/** trim(s): ASCII spaces off both ends. */
canon_expr *canon_trim(canon_expr *s) { return fn1(CANON__F_TRIM, s); }
/** ltrim(s): ASCII spaces off the start. */
canon_expr *canon_ltrim(canon_expr *s) { return fn1(CANON__F_LTRIM, s); }
/** rtrim(s): ASCII spaces off the end. */
canon_expr *canon_rtrim(canon_expr *s) { return fn1(CANON__F_RTRIM, s); }
/** abs(x) */
canon_expr *canon_abs(canon_expr *x) { return fn1(CANON__F_ABS, x); }
/** round(x, digits), half away from zero on the exact value. */
canon_expr *canon_round(canon_expr *x, canon_expr *digits) {
  return fn2(CANON__F_ROUND, x, digits);
}
/** floor(x) */
canon_expr *canon_floor(canon_expr *x) { return fn1(CANON__F_FLOOR, x); }
/** ceil(x) */
canon_expr *canon_ceil(canon_expr *x) { return fn1(CANON__F_CEIL, x); }
/** sqrt(x) */
canon_expr *canon_sqrt(canon_expr *x) { return fn1(CANON__F_SQRT, x); }
/** pow(x, y) */
canon_expr *canon_pow(canon_expr *x, canon_expr *y) { return fn2(CANON__F_POW, x, y); }
/** ln(x) */
canon_expr *canon_ln(canon_expr *x) { return fn1(CANON__F_LN, x); }
/** exp(x) */
canon_expr *canon_exp(canon_expr *x) { return fn1(CANON__F_EXP, x); }
/** if_else(cond, a, b): a where cond is true, b where false or NULL. */
canon_expr *canon_if_else(canon_expr *cond, canon_expr *a, canon_expr *b) {
  return fn3(CANON__F_IF_ELSE, cond, a, b);
}

/** case_when(conds[0], vals[0], ..., otherwise), n >= 1 pairs; owns all. */
canon_expr *canon_case_when(canon_expr **conds, canon_expr **vals, int n,
                            canon_expr *otherwise) {
  canon_expr **a = NULL;
  size_t total = 0;
  if (conds && vals && n >= 1 && n <= (INT32_MAX - 1) / 2) {
    total = (size_t)n * 2;
    a = canon__calloc(total + 1, sizeof *a);
  }
  if (!a) {
    for (int i = 0; i < n; i++) {
      if (conds) canon_expr_free(conds[i]);
      if (vals) canon_expr_free(vals[i]);
    }
    canon_expr_free(otherwise);
    return NULL;
  }
  for (int i = 0; i < n; i++) {
    a[2 * i] = conds[i];
    a[2 * i + 1] = vals[i];
  }
  a[total] = otherwise;
  canon_expr *e = canon__fn_ext_call(CANON__F_CASE_WHEN, a, (int)total + 1);
  free(a);
  return e;
}

/** in_list(x, values[0..n)), n >= 1; owns x and the values. */
canon_expr *canon_in_list(canon_expr *x, canon_expr **values, int n) {
  canon_expr **a = values && n >= 1 && n < INT32_MAX ? canon__calloc((size_t)n + 1, sizeof *a)
                                                     : NULL;
  if (!a) {
    canon_expr_free(x);
    for (int i = 0; values && i < n; i++) canon_expr_free(values[i]);
    return NULL;
  }
  a[0] = x;
  for (int i = 0; i < n; i++) a[i + 1] = values[i];
  canon_expr *e = canon__fn_ext_call(CANON__F_IN_LIST, a, n + 1);
  free(a);
  return e;
}

/* ---- arity and types ----------------------------------------------------- */

/** Arity of each function of this file for plan JSON ([lo, hi], -1: any). */
void canon__fn_ext_arity(canon__fn fn, int *lo, int *hi) {
  *lo = *hi = 1;
  switch (fn) {
  case CANON__F_SUBSTRING: *lo = 2, *hi = 3; break;
  case CANON__F_CONCAT: *hi = -1; break;
  case CANON__F_STARTS_WITH:
  case CANON__F_CONTAINS:
  case CANON__F_ROUND:
  case CANON__F_POW: *lo = *hi = 2; break;
  case CANON__F_IF_ELSE: *lo = *hi = 3; break;
  case CANON__F_CASE_WHEN: *lo = 3, *hi = -1; break;
  case CANON__F_IN_LIST: *lo = 2, *hi = -1; break;
  default: break;
  }
}

/* "type error in <e>: <detail>"; returns CANON_TYPE_INVALID so callers can
 * `return fn_type_error(...)`. */
static canon_type fn_type_error(canon_error *err, const canon_expr *e, const char *fmt, ...)
    CANON__PRINTF(3, 4);
static canon_type fn_type_error(canon_error *err, const canon_expr *e, const char *fmt, ...) {
  char detail[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  canon__expr_type_error(err, e, "%s", detail);
  return CANON_TYPE_INVALID;
}

static const char *tn(canon_type t) {
  const char *n = canon_type_name(t);
  return n ? n : "?";
}

static bool numeric(canon_type t) { return t == CANON_INT64 || t == CANON_FLOAT64; }

/* The common type of two branch or list types: equal types, or int64 with
 * float64 giving float64 (SEMANTICS §4); INVALID when there is none. */
static canon_type common(canon_type a, canon_type b) {
  if (a == b) return a;
  if (numeric(a) && numeric(b)) return CANON_FLOAT64;
  return CANON_TYPE_INVALID;
}

/* Argument i must have type want ("argument 2 of substring must be int64"). */
static bool want_arg(const canon_expr *e, const canon_expr *b, int i, canon_type want,
                     canon_error *err) {
  if (b->args[i]->type == want) return true;
  fn_type_error(err, e, "argument %d of %s must be %s, got %s", i + 1, canon__fn_name(e->fn),
                tn(want), tn(b->args[i]->type));
  return false;
}

static bool want_numeric(const canon_expr *e, const canon_expr *b, int i, canon_error *err) {
  if (numeric(b->args[i]->type)) return true;
  fn_type_error(err, e, "argument %d of %s must be int64 or float64, got %s", i + 1,
                canon__fn_name(e->fn), tn(b->args[i]->type));
  return false;
}

/* The arities plan JSON checks are rechecked here because an expression can
 * also be built by hand; case_when additionally needs an odd count. */
static bool arity_ok(const canon_expr *e, canon_error *err) {
  int lo, hi, n = e->nargs;
  canon__fn_ext_arity(e->fn, &lo, &hi);
  const char *name = canon__fn_name(e->fn);
  if (n < lo || (hi >= 0 && n > hi)) {
    if (hi == lo)
      canon__seterr(err, CANON_ERR_INVALID, "%s takes %d argument%s, got %d", name, lo,
                    lo == 1 ? "" : "s", n);
    else if (hi < 0)
      canon__seterr(err, CANON_ERR_INVALID, "%s takes at least %d argument%s, got %d", name, lo,
                    lo == 1 ? "" : "s", n);
    else
      canon__seterr(err, CANON_ERR_INVALID, "%s takes %d to %d arguments, got %d", name, lo, hi,
                    n);
    return false;
  }
  if (e->fn == CANON__F_CASE_WHEN && n % 2 == 0) {
    canon__seterr(err, CANON_ERR_INVALID,
                  "case_when takes condition/value pairs and an else value (an odd number of "
                  "arguments), got %d",
                  n);
    return false;
  }
  return true;
}

/** Result type of a function of this file over bound arguments b->args. */
canon_type canon__fn_ext_type(const canon_expr *e, const canon_expr *b, canon_error *err) {
  if (!arity_ok(e, err)) return CANON_TYPE_INVALID;
  int n = b->nargs;
  canon_type t0 = b->args[0]->type;
  switch (e->fn) {
  case CANON__F_LENGTH: return want_arg(e, b, 0, CANON_STRING, err) ? CANON_INT64 : CANON_TYPE_INVALID;
  case CANON__F_LOWER:
  case CANON__F_UPPER:
  case CANON__F_TRIM:
  case CANON__F_LTRIM:
  case CANON__F_RTRIM: return want_arg(e, b, 0, CANON_STRING, err) ? CANON_STRING : CANON_TYPE_INVALID;
  case CANON__F_SUBSTRING:
    for (int i = 0; i < n; i++)
      if (!want_arg(e, b, i, i == 0 ? CANON_STRING : CANON_INT64, err)) return CANON_TYPE_INVALID;
    return CANON_STRING;
  case CANON__F_CONCAT:
    for (int i = 0; i < n; i++)
      if (!want_arg(e, b, i, CANON_STRING, err)) return CANON_TYPE_INVALID;
    return CANON_STRING;
  case CANON__F_STARTS_WITH:
  case CANON__F_CONTAINS:
    return want_arg(e, b, 0, CANON_STRING, err) && want_arg(e, b, 1, CANON_STRING, err)
               ? CANON_BOOL
               : CANON_TYPE_INVALID;
  case CANON__F_ABS:
  case CANON__F_FLOOR:
  case CANON__F_CEIL: return want_numeric(e, b, 0, err) ? t0 : CANON_TYPE_INVALID;
  case CANON__F_ROUND:
    return want_numeric(e, b, 0, err) && want_arg(e, b, 1, CANON_INT64, err) ? t0 : CANON_TYPE_INVALID;
  case CANON__F_SQRT:
  case CANON__F_LN:
  case CANON__F_EXP: return want_numeric(e, b, 0, err) ? CANON_FLOAT64 : CANON_TYPE_INVALID;
  case CANON__F_POW:
    return want_numeric(e, b, 0, err) && want_numeric(e, b, 1, err) ? CANON_FLOAT64 : CANON_TYPE_INVALID;
  case CANON__F_IF_ELSE:
  case CANON__F_CASE_WHEN: {
    /* Conditions at even positions before the last; values at odd ones and
     * the last (else). */
    canon_type t = b->args[n - 1]->type;
    for (int i = 0; i + 1 < n; i += 2) {
      if (!want_arg(e, b, i, CANON_BOOL, err)) return CANON_TYPE_INVALID;
      canon_type ti = b->args[i + 1]->type, c = common(t, ti);
      if (c == CANON_TYPE_INVALID)
        return fn_type_error(err, e, "%s branches have incompatible types %s and %s",
                             canon__fn_name(e->fn), tn(ti), tn(t));
      t = c;
    }
    return t;
  }
  case CANON__F_IN_LIST:
    for (int i = 1; i < n; i++)
      if (common(t0, b->args[i]->type) == CANON_TYPE_INVALID)
        return fn_type_error(err, e, "cannot compare %s with list value %d of type %s", tn(t0),
                             i, tn(b->args[i]->type));
    return CANON_BOOL;
  default: break;
  }
  canon__seterr(err, CANON_ERR_INTERNAL, "function %d has no type rule", (int)e->fn);
  return CANON_TYPE_INVALID;
}
