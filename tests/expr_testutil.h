/* expr_testutil.h — helpers shared by the expression tests (test_expr.c,
 * test_functions.c): build a table, bind and evaluate an expression over it,
 * expect success or an exact error. */
#ifndef CANON_EXPR_TESTUTIL_H
#define CANON_EXPR_TESTUTIL_H

#include <criterion/criterion.h>

#include "internal.h"
#include "kernels.h"

static inline canon_table *tbl(const char *schema, const char *rows) {
  canon_error err = {0};
  canon_table *t = canon_table_from_csv_text(schema, rows, &err);
  cr_assert(t, "table: %s", err.message);
  return t;
}

/* Bind e (consumed) against t and evaluate it; NULL with err on failure. */
static inline canon__column *run(const canon_table *t, canon_expr *e, canon_error *err) {
  cr_assert(e, "expression constructor failed");
  canon_error_clear(err);
  canon_expr *b = canon__expr_bind(e, t->schema, false, err);
  canon_expr_free(e);
  if (!b) return NULL;
  canon__column *c = canon__expr_eval(b, t, err);
  canon_expr_free(b);
  if (c) cr_assert_eq(c->length, t->nrows);
  return c;
}

/* Evaluate and expect success. */
static inline canon__column *ok(const canon_table *t, canon_expr *e) {
  canon_error err = {0};
  canon__column *c = run(t, e, &err);
  cr_assert(c, "eval failed: %s", err.message);
  return c;
}

/* Expect failure (binding or evaluation) with code and exact message. */
static inline void fails(const canon_table *t, canon_expr *e, int code, const char *msg) {
  canon_error err = {0};
  canon__column *c = run(t, e, &err);
  cr_assert_null(c, "expected an error: %s", msg);
  cr_assert_eq(err.code, code, "code %d (%s), want %d", err.code, err.message, code);
  cr_assert_str_eq(err.message, msg);
}

#endif
