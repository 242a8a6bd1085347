/* expr_text.c — the text form of an expression (canon_expr_to_string, used
 * by explain and in error messages): infix operators fully parenthesized,
 * functions by name, column names quoted where they need it, literals as
 * text. */
#include "expr_internal.h"
#include "kernels.h"

#include <inttypes.h>
#include <stdio.h>

/* A growable string; an allocation failure sticks so callers check once. */
typedef struct ex_sb {
  char *p;
  size_t len, cap;
  bool oom;
} ex_sb;

static void sb_put(ex_sb *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = canon__realloc(b->p, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_puts(ex_sb *b, const char *s) { sb_put(b, s, strlen(s)); }

/* Plain identifiers print bare; anything else in double quotes (doubled
 * inside) so the text stays unambiguous. */
static void sb_ident(ex_sb *b, const char *name) {
  bool plain = name[0] != '\0' && !(name[0] >= '0' && name[0] <= '9');
  for (const char *p = name; *p && plain; p++)
    plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '_';
  if (plain) {
    sb_puts(b, name);
    return;
  }
  sb_puts(b, "\"");
  for (const char *p = name; *p; p++) {
    sb_put(b, p, 1);
    if (*p == '"') sb_puts(b, "\"");
  }
  sb_puts(b, "\"");
}

/* 'text' with single quotes doubled. */
static void sb_quoted(ex_sb *b, const char *s, size_t n) {
  sb_puts(b, "'");
  for (size_t i = 0; i < n; i++) {
    sb_put(b, s + i, 1);
    if (s[i] == '\'') sb_puts(b, "'");
  }
  sb_puts(b, "'");
}

/* A date or timestamp as CSV writes it, through the shared formatter (a
 * one-value column on the stack), so literals read like the data. */
static void sb_cell(ex_sb *b, canon_type t, int64_t i64, int32_t i32) {
  union {
    int64_t i;
    int32_t d;
  } u;
  if (t == CANON_DATE)
    u.d = i32;
  else
    u.i = i64;
  canon__buffer vb = {.refs = 1, .size = sizeof u, .cap = sizeof u, .data = (uint8_t *)&u};
  canon__column c = {.refs = 1, .type = t, .length = 1, .values = &vb};
  char buf[64];
  size_t n = canon__format_cell(&c, 0, buf, sizeof buf);
  sb_put(b, buf, n < sizeof buf ? n : sizeof buf - 1);
}

static void sb_lit(ex_sb *b, const canon__value *v) {
  char buf[64];
  const char *tname = canon_type_name(v->type);
  if (v->is_null) {
    sb_puts(b, "NULL::");
    sb_puts(b, tname ? tname : "?");
    return;
  }
  switch (v->type) {
  case CANON_BOOL: sb_puts(b, v->v.b ? "true" : "false"); break;
  case CANON_INT64:
    snprintf(buf, sizeof buf, "%" PRId64, v->v.i);
    sb_puts(b, buf);
    break;
  case CANON_FLOAT64: {
    size_t n = canon__format_f64(v->v.f, buf, sizeof buf);
    sb_put(b, buf, n < sizeof buf ? n : sizeof buf - 1);
    break;
  }
  case CANON_STRING: sb_quoted(b, v->s ? v->s : "", v->slen); break;
  case CANON_DATE:
  case CANON_TIMESTAMP:
    sb_puts(b, "'");
    sb_cell(b, v->type, v->v.i, v->v.d);
    sb_puts(b, "'::");
    sb_puts(b, tname);
    break;
  default: sb_puts(b, "?"); break;
  }
}

static void sb_expr(ex_sb *b, const canon_expr *e, int depth);

/* Operands of NOT / IS NULL that are themselves NOT / IS NULL get
 * parentheses, so "NOT (a IS NULL)" and "(NOT a) IS NULL" stay distinct. */
static void sb_operand(ex_sb *b, const canon_expr *a, int depth) {
  bool wrap = a && a->kind == CANON__E_CALL &&
              (a->fn == CANON__F_NOT || a->fn == CANON__F_IS_NULL || a->fn == CANON__F_IS_NOT_NULL);
  if (wrap) sb_puts(b, "(");
  sb_expr(b, a, depth);
  if (wrap) sb_puts(b, ")");
}

static void sb_expr(ex_sb *b, const canon_expr *e, int depth) {
  if (!e) {
    sb_puts(b, "?");
    return;
  }
  /* Bounded recursion: trees this deep cannot be bound anyway. */
  if (depth > EX_MAX_DEPTH) {
    sb_puts(b, "...");
    return;
  }
  if (e->kind == CANON__E_COL) {
    sb_ident(b, e->name ? e->name : "");
    return;
  }
  if (e->kind == CANON__E_LIT) {
    sb_lit(b, &e->lit);
    return;
  }
  if (!ex_fn_valid(e->fn)) {
    sb_puts(b, "?(...)");
    return;
  }
  const ex_fninfo *f = &canon__ex_fns[e->fn];
  const canon_expr *a0 = e->nargs > 0 ? e->args[0] : NULL;
  switch (f->form) {
  case EX_INFIX:
    sb_puts(b, "(");
    sb_expr(b, a0, depth + 1);
    sb_puts(b, " ");
    sb_puts(b, f->symbol);
    sb_puts(b, " ");
    sb_expr(b, e->nargs > 1 ? e->args[1] : NULL, depth + 1);
    sb_puts(b, ")");
    break;
  case EX_PREFIX:
    if (e->fn == CANON__F_NEG) {
      /* Parenthesized so that -(-1) does not print as "--1". */
      sb_puts(b, "(-");
      sb_expr(b, a0, depth + 1);
      sb_puts(b, ")");
    } else {
      sb_puts(b, f->symbol);
      sb_puts(b, " ");
      sb_operand(b, a0, depth + 1);
    }
    break;
  case EX_POSTFIX:
    sb_operand(b, a0, depth + 1);
    sb_puts(b, " ");
    sb_puts(b, f->symbol);
    break;
  case EX_FUNC:
    sb_puts(b, f->symbol);
    sb_puts(b, "(");
    if (e->fn == CANON__A_COUNT_STAR) sb_puts(b, "*");
    for (int i = 0; i < e->nargs; i++) {
      if (i) sb_puts(b, ", ");
      sb_expr(b, e->args[i], depth + 1);
    }
    sb_puts(b, ")");
    break;
  case EX_CAST: {
    const char *tname = canon_type_name(e->cast_to);
    sb_puts(b, f->symbol);
    sb_puts(b, "(");
    sb_expr(b, a0, depth + 1);
    sb_puts(b, " AS ");
    sb_puts(b, ex_type_valid(e->cast_to) && tname ? tname : "?");
    sb_puts(b, ")");
    break;
  }
  }
}

/** The expression as text, e.g. "(a + 1)"; malloc'd, NULL on OOM. */
char *canon_expr_to_string(const canon_expr *e) {
  if (!e) return NULL;
  ex_sb b = {0};
  sb_expr(&b, e, 0);
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p ? b.p : canon__strdup("");
}
