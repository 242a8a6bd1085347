/* expr.c — expression trees: constructors, reference counting, text form,
 * deep copies and binding (type checking against a schema).
 *
 * Sections: values; the function table; nodes and constructors; copying;
 * binding.  The text form lives in expr_text.c, evaluation in
 * kernels/eval.c.
 *
 * Expressions are immutable once built and shared by reference count, so a
 * plan may hold one tree in several places.  Binding never mutates the tree
 * it is given: it returns a fresh bound copy, because the same unbound tree
 * may be bound against several schemas. */
#include "expr_internal.h"
#include "kernels.h"

#include <inttypes.h>
#include <stdio.h>


/* ---- values ------------------------------------------------------------- */

/** Free what a value owns and zero it. */
void canon__value_reset(canon__value *v) {
  if (!v) return;
  free(v->s);
  memset(v, 0, sizeof *v);
}

/** Copy src into dst (dst is overwritten, not reset); 0 or CANON_ERR_NOMEM. */
int canon__value_copy(canon__value *dst, const canon__value *src) {
  *dst = *src;
  dst->s = NULL;
  if (src->s) {
    dst->s = canon__strndup(src->s, src->slen);
    if (!dst->s) {
      dst->slen = 0;
      return CANON_ERR_NOMEM;
    }
  }
  return 0;
}

/* ---- the function table ------------------------------------------------- */

const ex_fninfo canon__ex_fns[CANON__FN__COUNT] = {
  [CANON__F_ADD] = {"add", "+", EX_INFIX, 2},
  [CANON__F_SUB] = {"sub", "-", EX_INFIX, 2},
  [CANON__F_MUL] = {"mul", "*", EX_INFIX, 2},
  [CANON__F_DIV] = {"div", "/", EX_INFIX, 2},
  [CANON__F_TRY_DIV] = {"try_div", "try_div", EX_FUNC, 2},
  [CANON__F_IDIV] = {"idiv", "div", EX_INFIX, 2},
  [CANON__F_MOD] = {"mod", "mod", EX_INFIX, 2},
  [CANON__F_NEG] = {"neg", "-", EX_PREFIX, 1},
  [CANON__F_EQ] = {"eq", "=", EX_INFIX, 2},
  [CANON__F_NE] = {"ne", "<>", EX_INFIX, 2},
  [CANON__F_LT] = {"lt", "<", EX_INFIX, 2},
  [CANON__F_LE] = {"le", "<=", EX_INFIX, 2},
  [CANON__F_GT] = {"gt", ">", EX_INFIX, 2},
  [CANON__F_GE] = {"ge", ">=", EX_INFIX, 2},
  [CANON__F_AND] = {"and", "AND", EX_INFIX, 2},
  [CANON__F_OR] = {"or", "OR", EX_INFIX, 2},
  [CANON__F_NOT] = {"not", "NOT", EX_PREFIX, 1},
  [CANON__F_IS_NULL] = {"is_null", "IS NULL", EX_POSTFIX, 1},
  [CANON__F_IS_NOT_NULL] = {"is_not_null", "IS NOT NULL", EX_POSTFIX, 1},
  [CANON__F_COALESCE] = {"coalesce", "coalesce", EX_FUNC, -1},
  [CANON__F_CAST] = {"cast", "cast", EX_CAST, 1},
  [CANON__F_TRY_CAST] = {"try_cast", "try_cast", EX_CAST, 1},
  [CANON__A_COUNT_STAR] = {"count_star", "count", EX_FUNC, 0},
  [CANON__A_COUNT] = {"count", "count", EX_FUNC, 1},
  [CANON__A_SUM] = {"sum", "sum", EX_FUNC, 1},
  [CANON__A_MEAN] = {"mean", "mean", EX_FUNC, 1},
  [CANON__A_MIN] = {"min", "min", EX_FUNC, 1},
  [CANON__A_MAX] = {"max", "max", EX_FUNC, 1},
  /* expr_agg.c: quantile's p and method, quantile_disc's p are literals */
  [CANON__A_VAR] = {"var", "var", EX_FUNC, 1},
  [CANON__A_STDDEV] = {"stddev", "stddev", EX_FUNC, 1},
  [CANON__A_CORR] = {"corr", "corr", EX_FUNC, 2},
  [CANON__A_MEDIAN] = {"median", "median", EX_FUNC, 1},
  [CANON__A_QUANTILE] = {"quantile", "quantile", EX_FUNC, 3},
  [CANON__A_QUANTILE_DISC] = {"quantile_disc", "quantile_disc", EX_FUNC, 2},
  [CANON__A_COUNT_DISTINCT] = {"count_distinct", "count_distinct", EX_FUNC, 1},
  [CANON__A_ANY] = {"any", "any", EX_FUNC, 1},
  [CANON__A_ALL] = {"all", "all", EX_FUNC, 1},
  /* expr_fn.c checks the arity of the -1 entries exactly */
  [CANON__F_LENGTH] = {"length", "length", EX_FUNC, 1},
  [CANON__F_LOWER] = {"lower", "lower", EX_FUNC, 1},
  [CANON__F_UPPER] = {"upper", "upper", EX_FUNC, 1},
  [CANON__F_SUBSTRING] = {"substring", "substring", EX_FUNC, -1},
  [CANON__F_CONCAT] = {"concat", "concat", EX_FUNC, -1},
  [CANON__F_STARTS_WITH] = {"starts_with", "starts_with", EX_FUNC, 2},
  [CANON__F_CONTAINS] = {"contains", "contains", EX_FUNC, 2},
  [CANON__F_TRIM] = {"trim", "trim", EX_FUNC, 1},
  [CANON__F_LTRIM] = {"ltrim", "ltrim", EX_FUNC, 1},
  [CANON__F_RTRIM] = {"rtrim", "rtrim", EX_FUNC, 1},
  [CANON__F_ABS] = {"abs", "abs", EX_FUNC, 1},
  [CANON__F_ROUND] = {"round", "round", EX_FUNC, 2},
  [CANON__F_FLOOR] = {"floor", "floor", EX_FUNC, 1},
  [CANON__F_CEIL] = {"ceil", "ceil", EX_FUNC, 1},
  [CANON__F_SQRT] = {"sqrt", "sqrt", EX_FUNC, 1},
  [CANON__F_POW] = {"pow", "pow", EX_FUNC, 2},
  [CANON__F_LN] = {"ln", "ln", EX_FUNC, 1},
  [CANON__F_EXP] = {"exp", "exp", EX_FUNC, 1},
  [CANON__F_IF_ELSE] = {"if_else", "if_else", EX_FUNC, 3},
  [CANON__F_CASE_WHEN] = {"case_when", "case_when", EX_FUNC, -1},
  [CANON__F_IN_LIST] = {"in_list", "in_list", EX_FUNC, -1},
};

/* Aggregates follow the original scalars; later scalar additions (expr_fn.c)
 * are excluded by canon__fn_is_ext rather than assumed to come first. */
static bool ex_fn_is_agg(canon__fn fn) {
  return (fn >= CANON__A_COUNT_STAR && fn <= CANON__A_MAX) || canon__fn_is_agg_ext(fn);
}
/** Whether fn is an aggregate function. */
bool canon__fn_is_agg(canon__fn fn) { return ex_fn_is_agg(fn); }

/** The plan JSON name of a function ("add", "sum", ...), or NULL. */
const char *canon__fn_name(canon__fn fn) { return ex_fn_valid(fn) ? canon__ex_fns[fn].name : NULL; }

/** The function with plan JSON name `name`; 0 when unknown. */
canon__fn canon__fn_from_name(const char *name) {
  if (!name) return (canon__fn)0;
  for (int f = 1; f < CANON__FN__COUNT; f++)
    if (strcmp(canon__ex_fns[f].name, name) == 0) return (canon__fn)f;
  return (canon__fn)0;
}

/* ---- nodes and constructors --------------------------------------------- */

/** A fresh node of `kind` with one reference and nothing bound. */
canon_expr *canon__expr_new(canon__expr_kind kind) {
  canon_expr *e = canon__calloc(1, sizeof *e);
  if (!e) return NULL;
  e->refs = 1;
  e->kind = kind;
  e->col = -1;
  e->type = CANON_TYPE_INVALID;
  e->cast_to = CANON_TYPE_INVALID;
  return e;
}

/** Take one more reference to e (NULL passes through). */
canon_expr *canon_expr_ref(canon_expr *e) {
  if (e) __atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
  return e;
}

/** Drop a reference; the last one frees the tree below it. */
void canon_expr_free(canon_expr *e) {
  if (!e) return;
  if (__atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  for (int i = 0; i < e->nargs; i++) canon_expr_free(e->args[i]);
  free(e->args);
  free(e->name);
  canon__value_reset(&e->lit);
  free(e);
}

/* A call node owning args[0..n); frees them all when any is NULL (an
 * earlier failure) or when allocation fails, so callers can nest freely. */
static canon_expr *ex_call(canon__expr_kind kind, canon__fn fn, canon_expr **args, int n) {
  bool ok = true;
  for (int i = 0; i < n; i++)
    if (!args[i]) ok = false;
  canon_expr *e = ok ? canon__expr_new(kind) : NULL;
  if (e && n > 0) {
    e->args = canon__calloc((size_t)n, sizeof *e->args);
    if (!e->args) {
      free(e);
      e = NULL;
    }
  }
  if (!e) {
    for (int i = 0; i < n; i++) canon_expr_free(args[i]);
    return NULL;
  }
  e->fn = fn;
  e->nargs = n;
  for (int i = 0; i < n; i++) e->args[i] = args[i];
  return e;
}

static canon_expr *ex_bin(canon__fn fn, canon_expr *a, canon_expr *b) {
  canon_expr *args[2] = {a, b};
  return ex_call(CANON__E_CALL, fn, args, 2);
}

static canon_expr *ex_un(canon__expr_kind kind, canon__fn fn, canon_expr *a) {
  return ex_call(kind, fn, &a, 1);
}

/** A reference to the column called `name`. */
canon_expr *canon_col(const char *name) {
  if (!name) return NULL;
  canon_expr *e = canon__expr_new(CANON__E_COL);
  if (!e) return NULL;
  e->name = canon__strdup(name);
  if (!e->name) {
    free(e);
    return NULL;
  }
  return e;
}

static canon_expr *ex_lit(canon_type t) {
  canon_expr *e = canon__expr_new(CANON__E_LIT);
  if (e) e->lit.type = t;
  return e;
}

/** A NULL literal of type t (NULL when t is not a type). */
canon_expr *canon_lit_null(canon_type t) {
  if (!ex_type_valid(t)) return NULL;
  canon_expr *e = ex_lit(t);
  if (e) e->lit.is_null = true;
  return e;
}

/** A bool literal (any non-zero v is true). */
canon_expr *canon_lit_bool(int v) {
  canon_expr *e = ex_lit(CANON_BOOL);
  if (e) e->lit.v.b = v != 0;
  return e;
}

/** An int64 literal. */
canon_expr *canon_lit_int64(int64_t v) {
  canon_expr *e = ex_lit(CANON_INT64);
  if (e) e->lit.v.i = v;
  return e;
}

/** A float64 literal (NaN and infinities allowed). */
canon_expr *canon_lit_float64(double v) {
  canon_expr *e = ex_lit(CANON_FLOAT64);
  if (e) e->lit.v.f = v;
  return e;
}

/** A string literal from a NUL-terminated string. */
canon_expr *canon_lit_string(const char *s) {
  return s ? canon_lit_stringn(s, strlen(s)) : NULL;
}

/** A string literal of len bytes (may hold NULs). */
canon_expr *canon_lit_stringn(const char *s, size_t len) {
  if (!s && len) return NULL;
  canon_expr *e = ex_lit(CANON_STRING);
  if (!e) return NULL;
  e->lit.s = canon__strndup(s ? s : "", len);
  if (!e->lit.s) {
    free(e);
    return NULL;
  }
  e->lit.slen = len;
  return e;
}

/** A date literal (days since 1970-01-01). */
canon_expr *canon_lit_date(int32_t days) {
  canon_expr *e = ex_lit(CANON_DATE);
  if (e) e->lit.v.d = days;
  return e;
}

/** A timestamp literal (microseconds since 1970-01-01 UTC). */
canon_expr *canon_lit_timestamp(int64_t us) {
  canon_expr *e = ex_lit(CANON_TIMESTAMP);
  if (e) e->lit.v.i = us;
  return e;
}

/** a + b */
canon_expr *canon_add(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_ADD, a, b); }
/** a - b */
canon_expr *canon_sub(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_SUB, a, b); }
/** a * b */
canon_expr *canon_mul(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_MUL, a, b); }
/** a / b (float64 result) */
canon_expr *canon_div(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_DIV, a, b); }
/** a / b, NULL where an integer divisor is zero */
canon_expr *canon_try_div(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_TRY_DIV, a, b); }
/** a div b (integer division truncating toward zero) */
canon_expr *canon_idiv(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_IDIV, a, b); }
/** a mod b (sign of the dividend) */
canon_expr *canon_mod(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_MOD, a, b); }
/** -a */
canon_expr *canon_neg(canon_expr *a) { return ex_un(CANON__E_CALL, CANON__F_NEG, a); }
/** a = b */
canon_expr *canon_eq(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_EQ, a, b); }
/** a <> b */
canon_expr *canon_ne(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_NE, a, b); }
/** a < b */
canon_expr *canon_lt(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_LT, a, b); }
/** a <= b */
canon_expr *canon_le(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_LE, a, b); }
/** a > b */
canon_expr *canon_gt(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_GT, a, b); }
/** a >= b */
canon_expr *canon_ge(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_GE, a, b); }
/** a AND b (Kleene) */
canon_expr *canon_and(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_AND, a, b); }
/** a OR b (Kleene) */
canon_expr *canon_or(canon_expr *a, canon_expr *b) { return ex_bin(CANON__F_OR, a, b); }
/** NOT a */
canon_expr *canon_not(canon_expr *a) { return ex_un(CANON__E_CALL, CANON__F_NOT, a); }
/** a IS NULL */
canon_expr *canon_is_null(canon_expr *a) { return ex_un(CANON__E_CALL, CANON__F_IS_NULL, a); }
/** a IS NOT NULL */
canon_expr *canon_is_not_null(canon_expr *a) {
  return ex_un(CANON__E_CALL, CANON__F_IS_NOT_NULL, a);
}

/** coalesce(args[0], ..., args[n-1]); owns every argument. */
canon_expr *canon_coalesce(canon_expr **args, int n) {
  if (!args) return NULL;
  if (n < 1) return NULL;
  return ex_call(CANON__E_CALL, CANON__F_COALESCE, args, n);
}

static canon_expr *ex_cast(canon__fn fn, canon_expr *a, canon_type to) {
  if (!ex_type_valid(to)) {
    canon_expr_free(a);
    return NULL;
  }
  canon_expr *e = ex_un(CANON__E_CALL, fn, a);
  if (e) e->cast_to = to;
  return e;
}

/** cast(a AS to): strict, fails on values that do not convert. */
canon_expr *canon_cast(canon_expr *a, canon_type to) { return ex_cast(CANON__F_CAST, a, to); }
/** try_cast(a AS to): NULL for values that do not convert. */
canon_expr *canon_try_cast(canon_expr *a, canon_type to) {
  return ex_cast(CANON__F_TRY_CAST, a, to);
}

/** count(*) */
canon_expr *canon_count_star(void) { return ex_call(CANON__E_AGG, CANON__A_COUNT_STAR, NULL, 0); }
/** count(a): non-NULL values */
canon_expr *canon_count(canon_expr *a) { return ex_un(CANON__E_AGG, CANON__A_COUNT, a); }
/** sum(a) */
canon_expr *canon_sum(canon_expr *a) { return ex_un(CANON__E_AGG, CANON__A_SUM, a); }
/** mean(a) */
canon_expr *canon_mean(canon_expr *a) { return ex_un(CANON__E_AGG, CANON__A_MEAN, a); }
/** min(a) */
canon_expr *canon_min(canon_expr *a) { return ex_un(CANON__E_AGG, CANON__A_MIN, a); }
/** max(a) */
canon_expr *canon_max(canon_expr *a) { return ex_un(CANON__E_AGG, CANON__A_MAX, a); }

/* ---- copying ------------------------------------------------------------- */

/* A copy of node e alone (children not yet attached, args array sized). */
static canon_expr *ex_copy_node(const canon_expr *e) {
  canon_expr *c = canon__expr_new(e->kind);
  if (!c) return NULL;
  c->fn = e->fn;
  c->cast_to = e->cast_to;
  c->col = e->col;
  c->type = e->type;
  if (e->name && !(c->name = canon__strdup(e->name))) goto oom;
  if (canon__value_copy(&c->lit, &e->lit) != 0) goto oom;
  if (e->nargs > 0) {
    c->args = canon__calloc((size_t)e->nargs, sizeof *c->args);
    if (!c->args) goto oom;
    c->nargs = e->nargs;
  }
  return c;
oom:
  canon_expr_free(c);
  return NULL;
}

/** A deep copy of e (bound fields included); NULL on OOM. */
canon_expr *canon__expr_copy(const canon_expr *e) {
  if (!e) return NULL;
  canon_expr *c = ex_copy_node(e);
  if (!c) return NULL;
  for (int i = 0; i < e->nargs; i++)
    if (!(c->args[i] = canon__expr_copy(e->args[i]))) {
      canon_expr_free(c);
      return NULL;
    }
  return c;
}

/* ---- binding ------------------------------------------------------------- */

/* Where an aggregate may appear while binding. */
typedef enum ex_aggctx {
  EX_AGG_NO,      /* not in an aggregate output */
  EX_AGG_TOP,     /* at the top of an aggregate output: allowed */
  EX_AGG_BELOW,   /* under a scalar function in an aggregate output */
  EX_AGG_INSIDE,  /* inside an aggregate's argument */
} ex_aggctx;

/* "type error in <e>: <detail>" (code CANON_ERR_TYPE); shared with the
 * function and aggregate binding files. */
void canon__expr_type_error(canon_error *err, const canon_expr *e, const char *fmt, ...) {
  char detail[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  char *txt = canon_expr_to_string(e);
  canon__seterr(err, CANON_ERR_TYPE, "type error in %s: %s", txt ? txt : "expression", detail);
  free(txt);
}

static const char *tn(canon_type t) {
  const char *n = canon_type_name(t);
  return n ? n : "?";
}

static bool ex_numeric(canon_type t) { return t == CANON_INT64 || t == CANON_FLOAT64; }

/* Whether cast(from AS to) is defined (SEMANTICS §4; the set is fixed so
 * every engine rejects the same casts when the plan is built). */
static bool ex_cast_ok(canon_type from, canon_type to) {
  if (from == to || from == CANON_STRING || to == CANON_STRING) return true;
  if (ex_numeric(from) && ex_numeric(to)) return true;
  if (from == CANON_BOOL && ex_numeric(to)) return true;
  if (from == CANON_INT64 && to == CANON_BOOL) return true;
  if (from == CANON_DATE && to == CANON_TIMESTAMP) return true;
  if (from == CANON_TIMESTAMP && to == CANON_DATE) return true;
  return false;
}

/* The result type of call/aggregate `e` whose arguments (in `b`, bound)
 * have their types set; CANON_TYPE_INVALID after reporting a type error. */
static canon_type ex_result_type(const canon_expr *e, const canon_expr *b, canon_error *err) {
  const char *sym = canon__ex_fns[e->fn].symbol;
  canon_type t0 = b->nargs > 0 ? b->args[0]->type : CANON_TYPE_INVALID;
  canon_type t1 = b->nargs > 1 ? b->args[1]->type : CANON_TYPE_INVALID;
  switch (e->fn) {
  case CANON__F_ADD:
  case CANON__F_SUB:
  case CANON__F_MUL:
    if (t0 == CANON_INT64 && t1 == CANON_INT64) return CANON_INT64;
    if (ex_numeric(t0) && ex_numeric(t1)) return CANON_FLOAT64;
    break;
  case CANON__F_DIV:
  case CANON__F_TRY_DIV:
    if (ex_numeric(t0) && ex_numeric(t1)) return CANON_FLOAT64;
    break;
  case CANON__F_IDIV:
  case CANON__F_MOD:
    if (t0 == CANON_INT64 && t1 == CANON_INT64) return CANON_INT64;
    break;
  case CANON__F_NEG:
    if (ex_numeric(t0)) return t0;
    canon__expr_type_error(err, e, "cannot apply %s to %s", sym, tn(t0));
    return CANON_TYPE_INVALID;
  case CANON__F_EQ:
  case CANON__F_NE:
  case CANON__F_LT:
  case CANON__F_LE:
  case CANON__F_GT:
  case CANON__F_GE:
    if (t0 == t1 || (ex_numeric(t0) && ex_numeric(t1))) return CANON_BOOL;
    break;
  case CANON__F_AND:
  case CANON__F_OR:
    if (t0 == CANON_BOOL && t1 == CANON_BOOL) return CANON_BOOL;
    break;
  case CANON__F_NOT:
    if (t0 == CANON_BOOL) return CANON_BOOL;
    canon__expr_type_error(err, e, "cannot apply NOT to %s", tn(t0));
    return CANON_TYPE_INVALID;
  case CANON__F_IS_NULL:
  case CANON__F_IS_NOT_NULL: return CANON_BOOL;
  case CANON__A_COUNT_STAR:
  case CANON__A_COUNT: return CANON_INT64;
  case CANON__F_COALESCE: {
    canon_type t = t0;
    for (int i = 1; i < b->nargs; i++) {
      canon_type ti = b->args[i]->type;
      if (ti == t) continue;
      if (ex_numeric(t) && ex_numeric(ti)) {
        t = CANON_FLOAT64;
        continue;
      }
      canon__expr_type_error(err, e, "coalesce arguments have incompatible types %s and %s", tn(t), tn(ti));
      return CANON_TYPE_INVALID;
    }
    return t;
  }
  case CANON__F_CAST:
  case CANON__F_TRY_CAST:
    if (!ex_type_valid(e->cast_to)) {
      canon__expr_type_error(err, e, "cast to an unknown type");
      return CANON_TYPE_INVALID;
    }
    if (ex_cast_ok(t0, e->cast_to)) return e->cast_to;
    canon__expr_type_error(err, e, "cannot cast %s to %s", tn(t0), tn(e->cast_to));
    return CANON_TYPE_INVALID;
  case CANON__A_SUM:
    if (ex_numeric(t0)) return t0;
    canon__expr_type_error(err, e, "cannot apply sum to %s", tn(t0));
    return CANON_TYPE_INVALID;
  case CANON__A_MEAN:
    if (ex_numeric(t0)) return CANON_FLOAT64;
    canon__expr_type_error(err, e, "cannot apply mean to %s", tn(t0));
    return CANON_TYPE_INVALID;
  case CANON__A_MIN:
  case CANON__A_MAX: return t0;
  default:
    if (canon__fn_is_ext(e->fn)) return canon__fn_ext_type(e, b, err);
    if (canon__fn_is_agg_ext(e->fn)) return canon__agg_ext_type(e, b, err);
    break;
  }
  canon__expr_type_error(err, e, "cannot apply %s to %s and %s", sym, tn(t0), tn(t1));
  return CANON_TYPE_INVALID;
}

static void ex_unknown_column(const canon_expr *e, const canon_schema *s, canon_error *err) {
  size_t len = 1;
  for (int i = 0; i < s->n; i++) len += strlen(s->names[i]) + 2;
  char *names = canon__malloc(len);
  if (names) {
    size_t at = 0;
    for (int i = 0; i < s->n; i++)
      at += (size_t)sprintf(names + at, "%s%s", i ? ", " : "", s->names[i]);
    names[at] = 0;
  }
  canon__seterr(err, CANON_ERR_NOT_FOUND, "unknown column '%s' (available: %s)", e->name,
                !names ? "?" : s->n ? names : "none");
  free(names);
}

static canon_expr *ex_bind(const canon_expr *e, const canon_schema *s, ex_aggctx ctx, int depth,
                           canon_error *err) {
  if (!e) {
    canon__seterr(err, CANON_ERR_INVALID, "expression is NULL");
    return NULL;
  }
  if (depth > EX_MAX_DEPTH) {
    canon__seterr(err, CANON_ERR_UNSUPPORTED, "expression nested deeper than %d levels",
                  EX_MAX_DEPTH);
    return NULL;
  }
  switch (e->kind) {
  case CANON__E_COL: {
    int idx = -1;
    for (int i = 0; e->name && i < s->n; i++)
      if (strcmp(s->names[i], e->name) == 0) {
        idx = i;
        break;
      }
    if (idx < 0) {
      ex_unknown_column(e, s, err);
      return NULL;
    }
    canon_expr *c = ex_copy_node(e);
    if (!c) goto oom;
    c->col = idx;
    c->type = s->types[idx];
    return c;
  }
  case CANON__E_LIT: {
    if (!ex_type_valid(e->lit.type)) {
      canon__seterr(err, CANON_ERR_TYPE, "literal of unknown type");
      return NULL;
    }
    canon_expr *c = ex_copy_node(e);
    if (!c) goto oom;
    c->type = e->lit.type;
    return c;
  }
  case CANON__E_CALL:
  case CANON__E_AGG: break;
  default: canon__seterr(err, CANON_ERR_INVALID, "malformed expression node"); return NULL;
  }

  bool agg = e->kind == CANON__E_AGG;
  if (!ex_fn_valid(e->fn) || ex_fn_is_agg(e->fn) != agg) {
    canon__seterr(err, CANON_ERR_INVALID, "malformed expression: bad function %d", (int)e->fn);
    return NULL;
  }
  const ex_fninfo *f = &canon__ex_fns[e->fn];
  if (f->nargs >= 0 ? e->nargs != f->nargs : e->nargs < 1) {
    canon__seterr(err, CANON_ERR_INVALID, "%s takes %s%d argument%s, got %d", f->name,
                  f->nargs < 0 ? "at least " : "", f->nargs < 0 ? 1 : f->nargs,
                  f->nargs == 1 || f->nargs < 0 ? "" : "s", e->nargs);
    return NULL;
  }
  /* Aggregate outputs may compute over aggregate calls (max(v) - min(v)). */
  if (agg && ctx != EX_AGG_TOP && ctx != EX_AGG_BELOW) {
    char *txt = canon_expr_to_string(e);
    const char *why = ctx == EX_AGG_INSIDE  ? "cannot be nested inside another aggregate"
                      : ctx == EX_AGG_BELOW ? "must be the whole output expression"
                                            : "is only allowed as an output of aggregate";
    canon__seterr(err, CANON_ERR_TYPE, "aggregate %s %s", txt ? txt : "call", why);
    free(txt);
    return NULL;
  }
  ex_aggctx sub = agg ? EX_AGG_INSIDE : ctx == EX_AGG_TOP ? EX_AGG_BELOW : ctx;

  canon_expr *c = ex_copy_node(e);
  if (!c) goto oom;
  for (int i = 0; i < e->nargs; i++)
    if (!(c->args[i] = ex_bind(e->args[i], s, sub, depth + 1, err))) {
      canon_expr_free(c);
      return NULL;
    }
  c->type = ex_result_type(e, c, err);
  if (c->type == CANON_TYPE_INVALID) {
    canon_expr_free(c);
    return NULL;
  }
  return c;
oom:
  canon__nomem(err);
  return NULL;
}

/** Type-check e against s and return a bound deep copy (see internal.h). */
canon_expr *canon__expr_bind(const canon_expr *e, const canon_schema *s, bool allow_agg,
                             canon_error *err) {
  if (!s) {
    canon__seterr(err, CANON_ERR_INVALID, "binding needs a schema");
    return NULL;
  }
  return ex_bind(e, s, allow_agg ? EX_AGG_TOP : EX_AGG_NO, 0, err);
}
