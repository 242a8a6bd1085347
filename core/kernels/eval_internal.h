/* eval_internal.h — helpers shared by the expression evaluator's files
 * (eval.c: dispatch, literals, arithmetic, comparison, logic, coalesce;
 * eval_cast.c: casts).  Not used outside them. */
#ifndef CANON_EVAL_INTERNAL_H
#define CANON_EVAL_INTERNAL_H

#include "kernels.h"

/* Validity bit i of a bitmap; a NULL bitmap means every value is valid. */
static inline bool canon__ev_bit(const uint8_t *bits, int64_t i) {
  return !bits || ((bits[i >> 3] >> (i & 7)) & 1);
}
static inline void canon__ev_clear_bit(uint8_t *bits, int64_t i) {
  bits[i >> 3] &= (uint8_t)~(1u << (i & 7));
}
static inline const uint8_t *canon__ev_bits(const canon__column *c) {
  return c->validity ? c->validity->data : NULL;
}

/* A new buffer of exactly `bytes` bytes in use (contents undefined). */
canon__buffer *canon__ev_buffer(size_t bytes);
/* A new validity bitmap for n rows: a copy of c's, or all valid when c is
 * NULL or has no bitmap.  NULL on OOM. */
canon__buffer *canon__ev_bitmap(const canon__column *c, int64_t n);
/* Wrap buffers (moved in, released on failure) into a column of n values;
 * the null count comes from the bitmap, which is dropped when it holds no
 * NULL.  NULL on OOM. */
canon__column *canon__ev_column(canon_type t, int64_t n, canon__buffer *values,
                                canon__buffer *validity, canon__buffer *strdata);
/* Report "<what> in <expression text>" with code; returns code. */
int canon__ev_error(canon_error *err, int code, const canon_expr *e, const char *what);

/* cast / try_cast of column `in` (n values) as node e describes. */
canon__column *canon__ev_cast(const canon_expr *e, canon__column *in, int64_t n,
                              canon_error *err);

/* The functions of expr_fn.c over their evaluated arguments a[] (n rows):
 * eval_fn.c dispatches to strings (eval_fn_str.c) and numbers
 * (eval_fn_num.c) and does in_list. */
canon__column *canon__ev_fn(const canon_expr *e, canon__column *const *a, int64_t n,
                            canon_error *err);
canon__column *canon__ev_str(const canon_expr *e, canon__column *const *a, int64_t n,
                             canon_error *err);
canon__column *canon__ev_num(const canon_expr *e, canon__column *const *a, int64_t n,
                             canon_error *err);
/* if_else / case_when over table t (t->nrows > 0), each argument evaluated
 * only on the rows that reach it (eval_fn.c). */
canon__column *canon__ev_case(const canon_expr *e, const canon_table *t, canon_error *err);

#endif /* CANON_EVAL_INTERNAL_H */
