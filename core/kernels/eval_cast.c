/* eval_cast.c — cast and try_cast over whole columns (SEMANTICS §4).
 *
 * Casts are strict: a value that does not convert exactly as the contract
 * says is an error naming the value and the expression; try_cast makes it
 * NULL instead.  Which pairs of types may be cast is decided at bind time
 * (expr.c), so every pair reaching here has a conversion below. */
#include "eval_internal.h"

#include <stdio.h>

#define CS_US_PER_DAY INT64_C(86400000000)

/* State of one cast: where a failing row goes (error or NULL). */
typedef struct cs_ctx {
  const canon_expr *e;
  const canon__column *in;
  int64_t n;
  bool try_;             /* try_cast: failures become NULL */
  canon__buffer *vb;     /* output validity once a try_cast failure needs one */
  canon_error *err;
} cs_ctx;

/* The text of value i of the input, for messages: strings quoted and cut
 * short, other types as CSV writes them. */
static void cs_value_text(const canon__column *c, int64_t i, char *buf, size_t cap) {
  if (c->type == CANON_STRING) {
    size_t len, o = 0;
    const char *s = canon__str(c, i, &len);
    const size_t max_shown = 64;
    buf[o++] = '\'';
    for (size_t k = 0; k < len && k < max_shown && o + 5 < cap; k++) buf[o++] = s[k];
    if (len > max_shown && o + 5 < cap) {
      memcpy(buf + o, "...", 3);
      o += 3;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
    return;
  }
  size_t need = canon__format_cell(c, i, buf, cap);
  if (need >= cap) buf[cap - 1] = '\0';
}

/* Row i failed to convert: an error for cast (returns its code), NULL for
 * try_cast (returns 0). */
static int cs_bad(cs_ctx *c, int64_t i) {
  if (c->try_) {
    if (!c->vb && !(c->vb = canon__ev_bitmap(c->in, c->n))) return canon__nomem(c->err);
    canon__ev_clear_bit(c->vb->data, i);
    return 0;
  }
  char val[96], what[160];
  cs_value_text(c->in, i, val, sizeof val);
  snprintf(what, sizeof what, "cannot cast %s to %s", val, canon_type_name(c->e->cast_to));
  return canon__ev_error(c->err, CANON_ERR_CAST, c->e, what);
}

/* Anything to string: the text CSV would write. */
static canon__column *cs_to_string(cs_ctx *c) {
  canon__colbuilder cb;
  char small[128];
  if (canon__cb_init(&cb, CANON_STRING, c->n) != 0) goto nomem;
  const uint8_t *v = canon__ev_bits(c->in);
  for (int64_t i = 0; i < c->n; i++) {
    int rc;
    if (!canon__ev_bit(v, i)) {
      rc = canon__cb_null(&cb);
    } else {
      size_t len = canon__format_cell(c->in, i, small, sizeof small);
      if (len < sizeof small) {
        rc = canon__cb_str(&cb, small, len);
      } else {
        /* Not expected for non-string types, but never truncate. */
        char *big = canon__malloc(len + 1);
        rc = big ? canon__cb_str(&cb, big, canon__format_cell(c->in, i, big, len + 1))
                 : CANON_ERR_NOMEM;
        free(big);
      }
    }
    if (rc) {
      canon__cb_reset(&cb);
      goto nomem;
    }
  }
  canon__column *out = canon__cb_finish(&cb);
  if (!out) goto nomem;
  return out;
nomem:
  canon__nomem(c->err);
  return NULL;
}

/* Store a parsed value into slot i of an output of type t. */
static void cs_store(uint8_t *out, canon_type t, int64_t i, const canon__value *v) {
  switch (t) {
  case CANON_BOOL: out[i] = v->v.b ? 1 : 0; break;
  case CANON_DATE: ((int32_t *)out)[i] = v->v.d; break;
  case CANON_FLOAT64: ((double *)out)[i] = v->v.f; break;
  default: ((int64_t *)out)[i] = v->v.i; break;
  }
}

/* String to a fixed-width type, strictly (ASCII spaces around allowed). */
static int cs_from_string(cs_ctx *c, canon_type to, uint8_t *out) {
  const uint8_t *v = canon__ev_bits(c->in);
  for (int64_t i = 0; i < c->n; i++) {
    if (!canon__ev_bit(v, i)) continue;
    size_t len;
    const char *s = canon__str(c->in, i, &len);
    canon__value val;
    memset(&val, 0, sizeof val);
    int rc = canon__parse_value(to, s, len, true, &val, NULL);
    if (rc == 0) cs_store(out, to, i, &val);
    canon__value_reset(&val);
    if (rc == CANON_ERR_NOMEM) return canon__nomem(c->err);
    if (rc && (rc = cs_bad(c, i)) != 0) return rc;
  }
  return 0;
}

/* Conversions between fixed-width types. */
static int cs_fixed(cs_ctx *c, canon_type to, uint8_t *out) {
  canon_type from = c->in->type;
  const uint8_t *v = canon__ev_bits(c->in);
  int64_t n = c->n;
  int rc;
  if (from == CANON_INT64 && to == CANON_FLOAT64) {
    const int64_t *x = canon__i64(c->in);
    for (int64_t i = 0; i < n; i++) ((double *)out)[i] = (double)x[i];
  } else if (from == CANON_FLOAT64 && to == CANON_INT64) {
    /* In range means -2^63 <= x < 2^63; (double)INT64_MAX rounds up to 2^63,
     * which is out of range.  NaN fails both comparisons. */
    const double *x = canon__f64(c->in);
    for (int64_t i = 0; i < n; i++) {
      if (!canon__ev_bit(v, i)) continue;
      if (x[i] >= -9223372036854775808.0 && x[i] < 9223372036854775808.0)
        ((int64_t *)out)[i] = (int64_t)x[i];  /* C truncates toward zero */
      else if ((rc = cs_bad(c, i)) != 0)
        return rc;
    }
  } else if (from == CANON_BOOL) {
    const uint8_t *x = canon__u8(c->in);
    for (int64_t i = 0; i < n; i++) {
      if (to == CANON_INT64)
        ((int64_t *)out)[i] = x[i] ? 1 : 0;
      else
        ((double *)out)[i] = x[i] ? 1.0 : 0.0;
    }
  } else if (from == CANON_INT64 && to == CANON_BOOL) {
    const int64_t *x = canon__i64(c->in);
    for (int64_t i = 0; i < n; i++) out[i] = x[i] != 0;
  } else if (from == CANON_DATE && to == CANON_TIMESTAMP) {
    /* Midnight UTC; only dates ~290,000 years out overflow. */
    const int32_t *x = canon__i32(c->in);
    for (int64_t i = 0; i < n; i++) {
      if (!canon__ev_bit(v, i)) continue;
      if (__builtin_mul_overflow((int64_t)x[i], CS_US_PER_DAY, &((int64_t *)out)[i]) &&
          (rc = cs_bad(c, i)) != 0)
        return rc;
    }
  } else if (from == CANON_TIMESTAMP && to == CANON_DATE) {
    /* Floor to the day, also before 1970. */
    const int64_t *x = canon__i64(c->in);
    for (int64_t i = 0; i < n; i++) {
      int64_t d = x[i] / CS_US_PER_DAY;
      if (x[i] % CS_US_PER_DAY < 0) d--;
      ((int32_t *)out)[i] = (int32_t)d;
    }
  } else {
    char what[96];
    snprintf(what, sizeof what, "no conversion from %s to %s", canon_type_name(from),
             canon_type_name(to));
    return canon__ev_error(c->err, CANON_ERR_INTERNAL, c->e, what);
  }
  return 0;
}

canon__column *canon__ev_cast(const canon_expr *e, canon__column *in, int64_t n,
                              canon_error *err) {
  canon_type to = e->cast_to;
  /* Columns are immutable, so an identity cast shares its input. */
  if (in->type == to) return canon__column_ref(in);
  cs_ctx c = {.e = e, .in = in, .n = n, .try_ = e->fn == CANON__F_TRY_CAST, .err = err};
  if (to == CANON_STRING) return cs_to_string(&c);

  size_t w = canon__type_width(to);
  canon__buffer *out = canon__ev_buffer((size_t)n * w);
  if (!out) {
    canon__nomem(err);
    return NULL;
  }
  /* Slots under NULL (and failed try_cast rows) stay zero. */
  memset(out->data, 0, out->size);
  int rc = in->type == CANON_STRING ? cs_from_string(&c, to, out->data)
                                     : cs_fixed(&c, to, out->data);
  if (rc) {
    canon__buffer_unref(out);
    canon__buffer_unref(c.vb);
    return NULL;
  }
  if (!c.vb && in->validity && !(c.vb = canon__buffer_ref(in->validity))) {
    canon__buffer_unref(out);
    canon__nomem(err);
    return NULL;
  }
  /* Fixed conversions wrote every slot; zero those under NULL. */
  if (c.vb)
    for (int64_t i = 0; i < n; i++)
      if (!canon__ev_bit(c.vb->data, i)) memset(out->data + (size_t)i * w, 0, w);
  canon__column *col = canon__ev_column(to, n, out, c.vb, NULL);
  if (!col) canon__nomem(err);
  return col;
}
