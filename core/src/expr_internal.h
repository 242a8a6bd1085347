/* expr_internal.h — what expr.c (trees, binding) and expr_text.c (the
 * text form) share: the function table and the tree depth limit. */
#ifndef CANON_EXPR_INTERNAL_H
#define CANON_EXPR_INTERNAL_H

#include "internal.h"

/* Deepest expression tree bound or printed; binding refuses deeper trees so
 * the recursive evaluator cannot exhaust the stack. */
#define EX_MAX_DEPTH 10000

/* How a function is written in text form. */
typedef enum ex_form { EX_INFIX, EX_PREFIX, EX_POSTFIX, EX_FUNC, EX_CAST } ex_form;

typedef struct ex_fninfo {
  const char *name;    /* plan JSON name (stable: part of the plan format) */
  const char *symbol;  /* operator or function name in text and messages */
  ex_form form;
  int nargs;           /* -1: one or more */
} ex_fninfo;

/* Every function's names, text form and arity (expr.c). */
extern const ex_fninfo canon__ex_fns[CANON__FN__COUNT];

static inline bool ex_fn_valid(canon__fn fn) { return fn > 0 && fn < CANON__FN__COUNT; }
static inline bool ex_type_valid(canon_type t) {
  return t > CANON_TYPE_INVALID && t < CANON_TYPE__COUNT;
}

#endif
