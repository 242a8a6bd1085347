/* eval_fn.c — evaluation of the functions of expr_fn.c: dispatch to the
 * string and numeric files, in_list, and the conditionals if_else and
 * case_when.
 *
 * Conditionals evaluate lazily by rows: each condition only on the rows no
 * earlier condition took, each value only on the rows that select it (as a
 * sub-table of those rows).  So a branch never raises an error, such as an
 * overflow, for a row it does not supply, and the result cannot depend on
 * how rows were split into partitions. */
#include "eval_internal.h"

/* ---- in_list --------------------------------------------------------------- */

/* Whether row i of x equals row i of v (both non-NULL) under §2 equality,
 * an int64 meeting a float64 converted to float64 first (§4). */
static bool in_equal(const canon__column *x, const canon__column *v, int64_t i) {
  if (x->type == v->type && x->type != CANON_FLOAT64) return canon__cmp_values(x, i, v, i) == 0;
  double dx = x->type == CANON_FLOAT64 ? canon__f64(x)[i] : (double)canon__i64(x)[i];
  double dv = v->type == CANON_FLOAT64 ? canon__f64(v)[i] : (double)canon__i64(v)[i];
  return canon__cmp_f64(dx, dv) == 0;
}

/* x IN (v1, ..., vm) as x = v1 OR ... OR x = vm under Kleene logic: true on
 * a match, else NULL when x or some vi is NULL, else false. */
static canon__column *ev_in_list(const canon_expr *e, canon__column *const *a, int64_t n,
                                 canon_error *err) {
  canon__buffer *out = canon__ev_buffer((size_t)n);
  canon__buffer *vb = canon__ev_bitmap(NULL, n);
  if (!out || !vb) {
    canon__buffer_unref(out);
    canon__buffer_unref(vb);
    canon__nomem(err);
    return NULL;
  }
  for (int64_t i = 0; i < n; i++) {
    bool found = false, unknown = !canon__valid(a[0], i);
    for (int k = 1; k < e->nargs && !found && !unknown; k++) {
      if (canon__valid(a[k], i)) found = in_equal(a[0], a[k], i);
    }
    /* No match: a NULL among the values makes the answer unknown. */
    for (int k = 1; k < e->nargs && !found && !unknown; k++) unknown = !canon__valid(a[k], i);
    out->data[i] = found;
    if (!found && unknown) canon__ev_clear_bit(vb->data, i);
  }
  canon__column *c = canon__ev_column(CANON_BOOL, n, out, vb, NULL);
  if (!c) canon__nomem(err);
  return c;
}

/* ---- dispatch -------------------------------------------------------------- */

/** The functions of expr_fn.c over their evaluated arguments. */
canon__column *canon__ev_fn(const canon_expr *e, canon__column *const *a, int64_t n,
                            canon_error *err) {
  switch (e->fn) {
  case CANON__F_LENGTH:
  case CANON__F_LOWER:
  case CANON__F_UPPER:
  case CANON__F_SUBSTRING:
  case CANON__F_CONCAT:
  case CANON__F_STARTS_WITH:
  case CANON__F_CONTAINS:
  case CANON__F_TRIM:
  case CANON__F_LTRIM:
  case CANON__F_RTRIM: return canon__ev_str(e, a, n, err);
  case CANON__F_ABS:
  case CANON__F_ROUND:
  case CANON__F_FLOOR:
  case CANON__F_CEIL:
  case CANON__F_SQRT:
  case CANON__F_POW:
  case CANON__F_LN:
  case CANON__F_EXP: return canon__ev_num(e, a, n, err);
  case CANON__F_IN_LIST: return ev_in_list(e, a, n, err);
  default:
    /* if_else and case_when never get here: ev_node sends them to
     * canon__ev_case before evaluating their arguments. */
    canon__ev_error(err, CANON_ERR_INTERNAL, e, "unexpected function");
    return NULL;
  }
}

/* ---- if_else and case_when ------------------------------------------------- */

/* Evaluate x over rows idx[0..m) of t (all of t when m = t->nrows, as idx
 * then lists every row in order). */
static canon__column *eval_rows(const canon_expr *x, const canon_table *t, const int64_t *idx,
                                int64_t m, canon_error *err) {
  if (m == t->nrows) return canon__expr_eval(x, t, err);
  canon_table *sub = canon__table_take(t, idx, m, err);
  if (!sub) return NULL;
  canon__column *c = canon__expr_eval(x, sub, err);
  canon_table_free(sub);
  return c;
}

/* Case state: which branch supplies each row and where its value is. */
typedef struct case_state {
  int64_t n;
  int nb;                 /* branches: the pairs, then else */
  int32_t *pick;          /* branch of each row */
  int64_t *pos;           /* row's index in its branch's value column */
  int64_t *rows;          /* scratch: row indices */
  canon__column **vals;   /* value column of each branch (NULL: unused) */
} case_state;

static void case_free(case_state *s) {
  for (int b = 0; s->vals && b < s->nb; b++) canon__column_unref(s->vals[b]);
  free(s->vals);
  free(s->pick);
  free(s->pos);
  free(s->rows);
}

/* Decide s->pick: conditions in order, each over the rows still open;
 * 0, or -1 with err set. */
static int case_pick(const canon_expr *e, const canon_table *t, case_state *s,
                     canon_error *err) {
  int64_t open = s->n;
  for (int64_t i = 0; i < s->n; i++) s->rows[i] = i;
  for (int b = 0; b + 1 < s->nb && open > 0; b++) {
    canon__column *c = eval_rows(e->args[2 * b], t, s->rows, open, err);
    if (!c) return -1;
    int64_t still = 0;
    for (int64_t j = 0; j < open; j++) {
      /* NULL counts as not true, as in SQL CASE WHEN. */
      if (canon__valid(c, j) && canon__u8(c)[j])
        s->pick[s->rows[j]] = b;
      else
        s->rows[still++] = s->rows[j];
    }
    canon__column_unref(c);
    open = still;
  }
  for (int64_t j = 0; j < open; j++) s->pick[s->rows[j]] = s->nb - 1;
  return 0;
}

/* Evaluate each branch's value over the rows that picked it; 0 or -1. */
static int case_values(const canon_expr *e, const canon_table *t, case_state *s,
                       canon_error *err) {
  for (int b = 0; b < s->nb; b++) {
    int64_t m = 0;
    for (int64_t i = 0; i < s->n; i++)
      if (s->pick[i] == b) {
        s->pos[i] = m;
        s->rows[m++] = i;
      }
    if (m == 0) continue;
    const canon_expr *x = b + 1 < s->nb ? e->args[2 * b + 1] : e->args[e->nargs - 1];
    if (!(s->vals[b] = eval_rows(x, t, s->rows, m, err))) return -1;
  }
  return 0;
}

/** if_else(c, a, b) and case_when(c1, v1, ..., else) over table t. */
canon__column *canon__ev_case(const canon_expr *e, const canon_table *t, canon_error *err) {
  case_state s = {.n = t->nrows, .nb = (e->nargs - 1) / 2 + 1};
  s.pick = canon__malloc((size_t)s.n * sizeof *s.pick);
  s.pos = canon__malloc((size_t)s.n * sizeof *s.pos);
  s.rows = canon__malloc((size_t)s.n * sizeof *s.rows);
  s.vals = canon__calloc((size_t)s.nb, sizeof *s.vals);
  canon__column *out = NULL;
  canon__colbuilder cb;
  if (!s.pick || !s.pos || !s.rows || !s.vals || canon__cb_init(&cb, e->type, s.n)) {
    canon__nomem(err);
    case_free(&s);
    return NULL;
  }
  if (case_pick(e, t, &s, err) == 0 && case_values(e, t, &s, err) == 0) {
    int rc = 0;
    for (int64_t i = 0; i < s.n && rc == 0; i++) {
      const canon__column *c = s.vals[s.pick[i]];
      int64_t j = s.pos[i];
      if (!canon__valid(c, j))
        rc = canon__cb_null(&cb);
      else if (c->type != e->type)  /* int64 branch of a float64 result */
        rc = canon__cb_f64(&cb, (double)canon__i64(c)[j]);
      else
        rc = canon__cb_from(&cb, c, j);
    }
    if (rc == 0) out = canon__cb_finish(&cb);
    if (!out) canon__nomem(err);
  }
  canon__cb_reset(&cb);
  case_free(&s);
  return out;
}
