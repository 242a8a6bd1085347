/* eval.c — vectorized evaluation of bound scalar expressions (SEMANTICS §4).
 *
 * Each node is evaluated over the whole table at once: its arguments first,
 * each into a column, then one loop over all rows for the operator.  This is
 * the only evaluator, so every engine gets the same values and errors.
 *
 * Sections: shared helpers; literals; arithmetic; comparison; logic and
 * NULL tests; coalesce; dispatch.  Casts are in eval_cast.c.
 *
 * Value slots under NULL are written as zero so that results do not depend
 * on whatever an input held there. */
#include "eval_internal.h"

#include <stdio.h>

/* ---- shared helpers ------------------------------------------------------ */

canon__buffer *canon__ev_buffer(size_t bytes) {
  canon__buffer *b = canon__buffer_new(bytes);
  if (b) b->size = bytes;
  return b;
}

canon__buffer *canon__ev_bitmap(const canon__column *c, int64_t n) {
  size_t nb = (size_t)(n + 7) / 8;
  canon__buffer *b = canon__ev_buffer(nb);
  if (!b) return NULL;
  if (c && c->validity)
    memcpy(b->data, c->validity->data, nb);
  else
    memset(b->data, 0xff, nb);
  return b;
}

/* NULLs among the first n bits of a bitmap. */
static int64_t ev_count_nulls(const uint8_t *bits, int64_t n) {
  int64_t valid = 0, full = n / 8;
  for (int64_t k = 0; k < full; k++) valid += __builtin_popcount(bits[k]);
  if (n % 8) valid += __builtin_popcount(bits[full] & ((1u << (n % 8)) - 1));
  return n - valid;
}

canon__column *canon__ev_column(canon_type t, int64_t n, canon__buffer *values,
                                canon__buffer *validity, canon__buffer *strdata) {
  canon__column *c = values ? canon__calloc(1, sizeof *c) : NULL;
  if (!c) {
    canon__buffer_unref(values);
    canon__buffer_unref(validity);
    canon__buffer_unref(strdata);
    return NULL;
  }
  c->refs = 1;
  c->type = t;
  c->length = n;
  c->null_count = validity ? ev_count_nulls(validity->data, n) : 0;
  if (validity && c->null_count == 0) {
    canon__buffer_unref(validity);
    validity = NULL;
  }
  c->validity = validity;
  c->values = values;
  c->strdata = strdata;
  return c;
}

int canon__ev_error(canon_error *err, int code, const canon_expr *e, const char *what) {
  char *txt = canon_expr_to_string(e);
  canon__seterr(err, code, "%s in %s", what, txt ? txt : "expression");
  free(txt);
  return code;
}

/* Bitmap of rows valid in both a and b (fresh, so callers may clear bits
 * in it), or NULL with *oom false when neither has NULLs. */
static canon__buffer *ev_and_bits(const canon__column *a, const canon__column *b, int64_t n,
                                  bool *oom) {
  *oom = false;
  if (!a->validity && !b->validity) return NULL;
  canon__buffer *v = canon__ev_bitmap(a->validity ? a : b, n);
  if (!v) {
    *oom = true;
    return NULL;
  }
  if (a->validity && b->validity)
    for (size_t k = 0; k < v->size; k++) v->data[k] &= b->validity->data[k];
  return v;
}

/* Column c (int64 or float64) as doubles: c's own values, or a converted
 * copy in *tmp (which the caller frees).  NULL on OOM. */
static const double *ev_as_f64(const canon__column *c, int64_t n, double **tmp) {
  *tmp = NULL;
  if (c->type == CANON_FLOAT64) return canon__f64(c);
  double *d = canon__malloc((size_t)n * sizeof *d);
  if (!d) return NULL;
  const int64_t *x = canon__i64(c);
  for (int64_t i = 0; i < n; i++) d[i] = (double)x[i];
  *tmp = d;
  return d;
}

/* ---- literals ------------------------------------------------------------ */

/* A literal repeated over n rows. */
static canon__column *ev_literal(const canon__value *lit, int64_t n) {
  canon_type t = lit->type;
  if (lit->is_null) {
    canon__buffer *v = canon__ev_buffer(t == CANON_STRING ? (size_t)(n + 1) * 8
                                                          : (size_t)n * canon__type_width(t));
    canon__buffer *bits = canon__ev_buffer((size_t)(n + 7) / 8);
    canon__buffer *sd = t == CANON_STRING ? canon__ev_buffer(0) : NULL;
    if (v) memset(v->data, 0, v->size);
    if (bits) memset(bits->data, 0, bits->size);
    if (!v || !bits || (t == CANON_STRING && !sd)) {
      canon__buffer_unref(v);
      canon__buffer_unref(bits);
      canon__buffer_unref(sd);
      return NULL;
    }
    return canon__ev_column(t, n, v, bits, sd);
  }
  if (t == CANON_STRING) {
    size_t total;
    if (__builtin_mul_overflow((size_t)n, lit->slen, &total)) return NULL;
    canon__buffer *off = canon__ev_buffer((size_t)(n + 1) * 8);
    canon__buffer *sd = canon__ev_buffer(total);
    if (!off || !sd) {
      canon__buffer_unref(off);
      canon__buffer_unref(sd);
      return NULL;
    }
    int64_t *o = (int64_t *)off->data;
    for (int64_t i = 0; i <= n; i++) o[i] = i * (int64_t)lit->slen;
    for (int64_t i = 0; i < n && lit->slen; i++)
      memcpy(sd->data + (size_t)i * lit->slen, lit->s, lit->slen);
    return canon__ev_column(t, n, off, NULL, sd);
  }
  canon__buffer *v = canon__ev_buffer((size_t)n * canon__type_width(t));
  if (!v) return NULL;
  switch (t) {
  case CANON_BOOL: memset(v->data, lit->v.b ? 1 : 0, (size_t)n); break;
  case CANON_DATE:
    for (int64_t i = 0; i < n; i++) ((int32_t *)v->data)[i] = lit->v.d;
    break;
  case CANON_FLOAT64:
    for (int64_t i = 0; i < n; i++) ((double *)v->data)[i] = lit->v.f;
    break;
  default:
    for (int64_t i = 0; i < n; i++) ((int64_t *)v->data)[i] = lit->v.i;
    break;
  }
  return canon__ev_column(t, n, v, NULL, NULL);
}

/* ---- arithmetic ---------------------------------------------------------- */

/* int64 (op) int64 -> int64 with overflow and zero-divisor checks on the
 * rows whose operands are both valid. */
static canon__column *ev_arith_int(const canon_expr *e, const canon__column *a,
                                   const canon__column *b, int64_t n, canon_error *err) {
  bool oom;
  canon__buffer *vb = ev_and_bits(a, b, n, &oom);
  canon__buffer *out = oom ? NULL : canon__ev_buffer((size_t)n * 8);
  if (!out) {
    canon__buffer_unref(vb);
    canon__nomem(err);
    return NULL;
  }
  const uint8_t *v = vb ? vb->data : NULL;
  const int64_t *x = canon__i64(a), *y = canon__i64(b);
  int64_t *r = (int64_t *)out->data;
  int code = 0;
  int64_t i;
  /* One loop per operator keeps the per-row work branch-light. */
#define EV_ROWS(BODY)                 \
  for (i = 0; i < n; i++) {           \
    if (!canon__ev_bit(v, i)) {       \
      r[i] = 0;                       \
      continue;                       \
    }                                 \
    BODY                              \
  }
  switch (e->fn) {
  case CANON__F_ADD:
    EV_ROWS(if (__builtin_add_overflow(x[i], y[i], &r[i])) { code = CANON_ERR_OVERFLOW; break; })
    break;
  case CANON__F_SUB:
    EV_ROWS(if (__builtin_sub_overflow(x[i], y[i], &r[i])) { code = CANON_ERR_OVERFLOW; break; })
    break;
  case CANON__F_MUL:
    EV_ROWS(if (__builtin_mul_overflow(x[i], y[i], &r[i])) { code = CANON_ERR_OVERFLOW; break; })
    break;
  case CANON__F_IDIV:
    EV_ROWS(if (y[i] == 0) { code = CANON_ERR_DIV_ZERO; break; }
            if (y[i] == -1 && x[i] == INT64_MIN) { code = CANON_ERR_OVERFLOW; break; }
            r[i] = x[i] / y[i];)
    break;
  case CANON__F_MOD:
    /* C's % truncates toward zero and takes the dividend's sign, as §4 asks;
     * INT64_MIN % -1 is undefined in C but mathematically 0. */
    EV_ROWS(if (y[i] == 0) { code = CANON_ERR_DIV_ZERO; break; }
            r[i] = y[i] == -1 ? 0 : x[i] % y[i];)
    break;
  default: code = CANON_ERR_INTERNAL; break;
  }
#undef EV_ROWS
  if (code) {
    canon__buffer_unref(vb);
    canon__buffer_unref(out);
    canon__ev_error(err, code, e,
                    code == CANON_ERR_OVERFLOW   ? "integer overflow"
                    : code == CANON_ERR_DIV_ZERO ? "division_by_zero"
                                                 : "unexpected integer operator");
    return NULL;
  }
  return canon__ev_column(CANON_INT64, n, out, vb, NULL);
}

/* (op) over float64 results: + - * / and try_div, either operand int64
 * (converted first).  An int64 zero divisor is division_by_zero (NULL for
 * try_div); a float64 zero divisor follows IEEE. */
static canon__column *ev_arith_float(const canon_expr *e, const canon__column *a,
                                     const canon__column *b, int64_t n, canon_error *err) {
  bool oom;
  double *ta = NULL, *tb = NULL;
  canon__buffer *vb = ev_and_bits(a, b, n, &oom);
  canon__buffer *out = oom ? NULL : canon__ev_buffer((size_t)n * 8);
  const double *x = out ? ev_as_f64(a, n, &ta) : NULL;
  const double *y = x ? ev_as_f64(b, n, &tb) : NULL;
  if (!y) {
    canon__buffer_unref(vb);
    canon__buffer_unref(out);
    free(ta);
    canon__nomem(err);
    return NULL;
  }
  double *r = (double *)out->data;
  switch (e->fn) {
  case CANON__F_ADD:
    for (int64_t i = 0; i < n; i++) r[i] = x[i] + y[i];
    break;
  case CANON__F_SUB:
    for (int64_t i = 0; i < n; i++) r[i] = x[i] - y[i];
    break;
  case CANON__F_MUL:
    for (int64_t i = 0; i < n; i++) r[i] = x[i] * y[i];
    break;
  default:
    for (int64_t i = 0; i < n; i++) r[i] = x[i] / y[i];
    break;
  }
  free(ta);
  free(tb);
  bool is_div = e->fn == CANON__F_DIV || e->fn == CANON__F_TRY_DIV;
  if (is_div && b->type == CANON_INT64) {
    const int64_t *yi = canon__i64(b);
    for (int64_t i = 0; i < n; i++) {
      if (yi[i] != 0 || !canon__ev_bit(vb ? vb->data : NULL, i)) continue;
      if (e->fn == CANON__F_DIV) {
        canon__buffer_unref(vb);
        canon__buffer_unref(out);
        canon__ev_error(err, CANON_ERR_DIV_ZERO, e, "division_by_zero");
        return NULL;
      }
      if (!vb && !(vb = canon__ev_bitmap(NULL, n))) {
        canon__buffer_unref(out);
        canon__nomem(err);
        return NULL;
      }
      canon__ev_clear_bit(vb->data, i);
    }
  }
  if (vb)
    for (int64_t i = 0; i < n; i++)
      if (!canon__ev_bit(vb->data, i)) r[i] = 0.0;
  return canon__ev_column(CANON_FLOAT64, n, out, vb, NULL);
}

/* -a: int64 overflows only for INT64_MIN; float64 flips the sign (also of
 * zeros and NaN, as IEEE negation does). */
static canon__column *ev_neg(const canon_expr *e, const canon__column *a, int64_t n,
                             canon_error *err) {
  canon__buffer *out = canon__ev_buffer((size_t)n * 8);
  if (!out) {
    canon__nomem(err);
    return NULL;
  }
  const uint8_t *v = canon__ev_bits(a);
  if (a->type == CANON_FLOAT64) {
    const double *x = canon__f64(a);
    double *r = (double *)out->data;
    for (int64_t i = 0; i < n; i++) r[i] = canon__ev_bit(v, i) ? -x[i] : 0.0;
  } else {
    const int64_t *x = canon__i64(a);
    int64_t *r = (int64_t *)out->data;
    for (int64_t i = 0; i < n; i++) {
      if (!canon__ev_bit(v, i)) {
        r[i] = 0;
      } else if (x[i] == INT64_MIN) {
        canon__buffer_unref(out);
        canon__ev_error(err, CANON_ERR_OVERFLOW, e, "integer overflow");
        return NULL;
      } else {
        r[i] = -x[i];
      }
    }
  }
  /* Validity is unchanged, and bitmaps are immutable: share it. */
  return canon__ev_column(a->type, n, out, canon__buffer_ref(a->validity), NULL);
}

/* ---- comparison ---------------------------------------------------------- */

/* a (op) b under the total order of §2, NULL when either side is NULL. */
static canon__column *ev_compare(const canon_expr *e, const canon__column *a,
                                 const canon__column *b, int64_t n, canon_error *err) {
  bool oom;
  canon__buffer *vb = ev_and_bits(a, b, n, &oom);
  canon__buffer *out = oom ? NULL : canon__ev_buffer((size_t)n);
  if (!out) goto nomem;
  /* First pass: r[i] = sign of the comparison + 1 (0, 1 or 2). */
  uint8_t *r = out->data;
  if (a->type != b->type || a->type == CANON_FLOAT64) {
    double *ta, *tb = NULL;
    const double *x = ev_as_f64(a, n, &ta);
    const double *y = x ? ev_as_f64(b, n, &tb) : NULL;
    if (y)
      for (int64_t i = 0; i < n; i++) r[i] = (uint8_t)(canon__cmp_f64(x[i], y[i]) + 1);
    free(ta);
    free(tb);
    if (!y) goto nomem;
  } else if (a->type == CANON_INT64 || a->type == CANON_TIMESTAMP) {
    const int64_t *x = canon__i64(a), *y = canon__i64(b);
    for (int64_t i = 0; i < n; i++) r[i] = (uint8_t)((x[i] > y[i]) - (x[i] < y[i]) + 1);
  } else if (a->type == CANON_DATE) {
    const int32_t *x = canon__i32(a), *y = canon__i32(b);
    for (int64_t i = 0; i < n; i++) r[i] = (uint8_t)((x[i] > y[i]) - (x[i] < y[i]) + 1);
  } else {
    /* bool and string: the shared order (string bytes, then length); rows
     * under NULL may hold anything, so skip them. */
    const uint8_t *v = vb ? vb->data : NULL;
    for (int64_t i = 0; i < n; i++) {
      int c = canon__ev_bit(v, i) ? canon__cmp_values(a, i, b, i) : 0;
      r[i] = (uint8_t)((c > 0) - (c < 0) + 1);
    }
  }
  /* Second pass: the operator's truth value. */
  switch (e->fn) {
  case CANON__F_EQ:
    for (int64_t i = 0; i < n; i++) r[i] = r[i] == 1;
    break;
  case CANON__F_NE:
    for (int64_t i = 0; i < n; i++) r[i] = r[i] != 1;
    break;
  case CANON__F_LT:
    for (int64_t i = 0; i < n; i++) r[i] = r[i] == 0;
    break;
  case CANON__F_LE:
    for (int64_t i = 0; i < n; i++) r[i] = r[i] <= 1;
    break;
  case CANON__F_GT:
    for (int64_t i = 0; i < n; i++) r[i] = r[i] == 2;
    break;
  default:
    for (int64_t i = 0; i < n; i++) r[i] = r[i] >= 1;
    break;
  }
  if (vb)
    for (int64_t i = 0; i < n; i++)
      if (!canon__ev_bit(vb->data, i)) r[i] = 0;
  return canon__ev_column(CANON_BOOL, n, out, vb, NULL);
nomem:
  canon__buffer_unref(vb);
  canon__buffer_unref(out);
  canon__nomem(err);
  return NULL;
}

/* ---- logic and NULL tests ------------------------------------------------ */

/* Kleene AND / OR: a known false (AND) or true (OR) decides the row even
 * when the other side is NULL; otherwise a NULL makes the row NULL. */
static canon__column *ev_andor(const canon_expr *e, const canon__column *a,
                               const canon__column *b, int64_t n, canon_error *err) {
  bool is_and = e->fn == CANON__F_AND;
  canon__buffer *out = canon__ev_buffer((size_t)n);
  canon__buffer *vb = (a->validity || b->validity) ? canon__ev_bitmap(NULL, n) : NULL;
  if (!out || ((a->validity || b->validity) && !vb)) {
    canon__buffer_unref(out);
    canon__buffer_unref(vb);
    canon__nomem(err);
    return NULL;
  }
  const uint8_t *x = canon__u8(a), *y = canon__u8(b);
  const uint8_t *va = canon__ev_bits(a), *vbb = canon__ev_bits(b);
  uint8_t *r = out->data;
  if (!vb) {
    if (is_and)
      for (int64_t i = 0; i < n; i++) r[i] = x[i] & y[i];
    else
      for (int64_t i = 0; i < n; i++) r[i] = x[i] | y[i];
    return canon__ev_column(CANON_BOOL, n, out, NULL, NULL);
  }
  /* The deciding value: false for AND, true for OR. */
  uint8_t decide = is_and ? 0 : 1;
  for (int64_t i = 0; i < n; i++) {
    bool ka = canon__ev_bit(va, i), kb = canon__ev_bit(vbb, i);
    if ((ka && x[i] == decide) || (kb && y[i] == decide)) {
      r[i] = decide;
    } else if (ka && kb) {
      r[i] = !decide;
    } else {
      r[i] = 0;
      canon__ev_clear_bit(vb->data, i);
    }
  }
  return canon__ev_column(CANON_BOOL, n, out, vb, NULL);
}

/* NOT a (NULL stays NULL). */
static canon__column *ev_not(const canon__column *a, int64_t n, canon_error *err) {
  canon__buffer *out = canon__ev_buffer((size_t)n);
  if (!out) {
    canon__nomem(err);
    return NULL;
  }
  const uint8_t *x = canon__u8(a), *v = canon__ev_bits(a);
  for (int64_t i = 0; i < n; i++) out->data[i] = canon__ev_bit(v, i) ? !x[i] : 0;
  return canon__ev_column(CANON_BOOL, n, out, canon__buffer_ref(a->validity), NULL);
}

/* a IS [NOT] NULL: never NULL itself. */
static canon__column *ev_is_null(const canon__column *a, int64_t n, bool want_null,
                                 canon_error *err) {
  canon__buffer *out = canon__ev_buffer((size_t)n);
  if (!out) {
    canon__nomem(err);
    return NULL;
  }
  const uint8_t *v = canon__ev_bits(a);
  for (int64_t i = 0; i < n; i++) out->data[i] = canon__ev_bit(v, i) != want_null;
  return canon__ev_column(CANON_BOOL, n, out, NULL, NULL);
}

/* ---- coalesce ------------------------------------------------------------ */

/* The first non-NULL argument per row, converted to the result type t. */
static canon__column *ev_coalesce(canon_type t, canon__column *const *args, int nargs, int64_t n,
                                  canon_error *err) {
  /* pick[i]: which argument row i takes, -1 for none (NULL). */
  int32_t *pick = canon__malloc((size_t)n * sizeof *pick);
  if (!pick) goto nomem;
  for (int64_t i = 0; i < n; i++) pick[i] = -1;
  for (int k = nargs - 1; k >= 0; k--) {
    const uint8_t *v = canon__ev_bits(args[k]);
    for (int64_t i = 0; i < n; i++)
      if (canon__ev_bit(v, i)) pick[i] = k;
  }
  if (t == CANON_STRING) {
    canon__colbuilder cb;
    if (canon__cb_init(&cb, t, n) != 0) goto nomem;
    for (int64_t i = 0; i < n; i++) {
      int rc = pick[i] < 0 ? canon__cb_null(&cb) : canon__cb_from(&cb, args[pick[i]], i);
      if (rc) {
        canon__cb_reset(&cb);
        goto nomem;
      }
    }
    free(pick);
    canon__column *c = canon__cb_finish(&cb);
    if (!c) canon__nomem(err);
    return c;
  }
  size_t w = canon__type_width(t);
  canon__buffer *out = canon__ev_buffer((size_t)n * w);
  canon__buffer *vb = canon__ev_bitmap(NULL, n);
  if (!out || !vb) {
    canon__buffer_unref(out);
    canon__buffer_unref(vb);
    goto nomem;
  }
  for (int64_t i = 0; i < n; i++) {
    int k = pick[i];
    if (k < 0) {
      memset(out->data + (size_t)i * w, 0, w);
      canon__ev_clear_bit(vb->data, i);
    } else if (t == CANON_FLOAT64 && args[k]->type == CANON_INT64) {
      ((double *)out->data)[i] = (double)canon__i64(args[k])[i];
    } else {
      memcpy(out->data + (size_t)i * w, args[k]->values->data + (size_t)i * w, w);
    }
  }
  free(pick);
  canon__column *c = canon__ev_column(t, n, out, vb, NULL);
  if (!c) canon__nomem(err);
  return c;
nomem:
  free(pick);
  canon__nomem(err);
  return NULL;
}

/* ---- dispatch ------------------------------------------------------------ */

static canon__column *ev_node(const canon_expr *e, const canon_table *t, canon_error *err);

/* A call node over its evaluated arguments. */
static canon__column *ev_call(const canon_expr *e, canon__column *const *a, int64_t n,
                              canon_error *err) {
  switch (e->fn) {
  case CANON__F_ADD:
  case CANON__F_SUB:
  case CANON__F_MUL:
  case CANON__F_DIV:
  case CANON__F_TRY_DIV:
  case CANON__F_IDIV:
  case CANON__F_MOD:
    return e->type == CANON_INT64 ? ev_arith_int(e, a[0], a[1], n, err)
                                  : ev_arith_float(e, a[0], a[1], n, err);
  case CANON__F_NEG: return ev_neg(e, a[0], n, err);
  case CANON__F_EQ:
  case CANON__F_NE:
  case CANON__F_LT:
  case CANON__F_LE:
  case CANON__F_GT:
  case CANON__F_GE: return ev_compare(e, a[0], a[1], n, err);
  case CANON__F_AND:
  case CANON__F_OR: return ev_andor(e, a[0], a[1], n, err);
  case CANON__F_NOT: return ev_not(a[0], n, err);
  case CANON__F_IS_NULL: return ev_is_null(a[0], n, true, err);
  case CANON__F_IS_NOT_NULL: return ev_is_null(a[0], n, false, err);
  case CANON__F_COALESCE: return ev_coalesce(e->type, a, e->nargs, n, err);
  case CANON__F_CAST:
  case CANON__F_TRY_CAST: return canon__ev_cast(e, a[0], n, err);
  default:
    if (canon__fn_is_ext(e->fn)) return canon__ev_fn(e, a, n, err);
    canon__ev_error(err, CANON_ERR_INTERNAL, e, "unknown function");
    return NULL;
  }
}

/* An empty column of type t. */
static canon__column *ev_empty(canon_type t, canon_error *err) {
  canon__colbuilder cb;
  canon__column *c = canon__cb_init(&cb, t, 0) == 0 ? canon__cb_finish(&cb) : NULL;
  if (!c) canon__nomem(err);
  return c;
}

static canon__column *ev_node(const canon_expr *e, const canon_table *t, canon_error *err) {
  int64_t n = t->nrows;
  switch (e->kind) {
  case CANON__E_COL:
    if (e->col < 0 || e->col >= t->schema->n || t->schema->types[e->col] != e->type) {
      canon__seterr(err, CANON_ERR_INTERNAL,
                    "column '%s' was bound against a different schema", e->name ? e->name : "?");
      return NULL;
    }
    /* Columns are immutable: hand out another reference, copy nothing. */
    return canon__column_ref(t->cols[e->col]);
  case CANON__E_LIT: {
    canon__column *c = ev_literal(&e->lit, n);
    if (!c) canon__nomem(err);
    return c;
  }
  case CANON__E_AGG:
    /* In an aggregate's final step a call reads its result column
     * (plan_aggregate.c sets col). */
    if (e->col >= 0 && e->col < t->schema->n && t->schema->types[e->col] == e->type)
      return canon__column_ref(t->cols[e->col]);
    canon__ev_error(err, CANON_ERR_INTERNAL, e, "aggregate evaluated as a scalar");
    return NULL;
  case CANON__E_CALL: break;
  default: canon__seterr(err, CANON_ERR_INTERNAL, "malformed expression node"); return NULL;
  }
  if (e->type == CANON_TYPE_INVALID || e->nargs < 1) {
    canon__ev_error(err, CANON_ERR_INTERNAL, e, "expression not bound");
    return NULL;
  }
  if (n == 0) return ev_empty(e->type, err);
  /* Conditionals evaluate each argument only on the rows that need it. */
  if (e->fn == CANON__F_IF_ELSE || e->fn == CANON__F_CASE_WHEN) return canon__ev_case(e, t, err);

  canon__column *local[2] = {NULL, NULL};
  canon__column **a = e->nargs <= 2 ? local : canon__calloc((size_t)e->nargs, sizeof *a);
  if (!a) {
    canon__nomem(err);
    return NULL;
  }
  canon__column *out = NULL;
  int done = 0;
  for (; done < e->nargs; done++)
    if (!(a[done] = ev_node(e->args[done], t, err))) break;
  if (done == e->nargs) out = ev_call(e, a, n, err);
  for (int k = 0; k < done; k++) canon__column_unref(a[k]);
  if (a != local) free(a);
  return out;
}

/** Evaluate bound scalar expression `bound` over every row of t. */
canon__column *canon__expr_eval(const canon_expr *bound, const canon_table *t,
                                canon_error *err) {
  if (!bound || !t) {
    canon__seterr(err, CANON_ERR_INVALID, "expression evaluation needs an expression and a table");
    return NULL;
  }
  return ev_node(bound, t, err);
}
