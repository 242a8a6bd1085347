/* plan_rowops.c — constructors of dropna, fillna, rename, drop, cast,
 * repartition and persist, their shared helpers, and persist's
 * materialization.
 *
 * rename, drop and cast are selects underneath: the node holds the select's
 * column expressions (exprs/bound/names) and output schema, so a task runs
 * them with the select operator, while the node kind keeps plan JSON and
 * explain in the user's terms. */
#include "rowops.h"

#include <stdio.h>

/* ---- helpers --------------------------------------------------------------- */

canon_df *canon__rowops_unary(canon_df *in, canon__node_kind kind, canon_error *err) {
  if (!in) {
    canon__seterr(err, CANON_ERR_INVALID, "%s: input is NULL (an earlier step failed)",
                  canon__node_kind_name(kind));
    return NULL;
  }
  canon_df *n = canon__node_new(in->session, kind, err);
  if (!n) return NULL;
  n->ninputs = 1;
  n->inputs[0] = in;
  n->thresh = -1;
  n->fraction = -1;
  return n;
}

canon_df *canon__rowops_fail(canon_df *d, canon_error *err) {
  canon__node_errprefix(d, err);
  return NULL;
}

/* "unknown <what> column 'x' (available: a:int64,...)" */
static int unknown_column(const char *what, const char *name, const canon_schema *s,
                          canon_error *err) {
  char *avail = canon_schema_to_string(s);
  int rc = canon__seterr(err, CANON_ERR_NOT_FOUND, "unknown %s column '%s' (available: %s)", what,
                         name ? name : "(null)", avail ? avail : "?");
  free(avail);
  return rc;
}

int canon__rowops_keys(canon_df *d, const char *const *names, int n, const canon_schema *s,
                       const char *what, canon_error *err) {
  if (n < 0 || (n > 0 && !names))
    return canon__seterr(err, CANON_ERR_INVALID, "bad %s list", what);
  d->keys = canon__calloc((size_t)(n ? n : 1), sizeof *d->keys);
  if (!d->keys) return canon__nomem(err);
  for (int i = 0; i < n; i++) {
    if (!names[i] || canon_schema_find(s, names[i]) < 0)
      return unknown_column(what, names[i], s, err);
    for (int j = 0; j < i; j++)
      if (strcmp(names[i], names[j]) == 0)
        return canon__seterr(err, CANON_ERR_INVALID, "%s column '%s' given twice", what,
                             names[i]);
    if (!(d->keys[i] = canon__strdup(names[i]))) return canon__nomem(err);
    d->nkeys = i + 1;
  }
  return 0;
}

int canon__rowops_sort(canon_df *d, const canon_sort_key *keys, int n, const canon_schema *s,
                       canon_error *err) {
  if (n < 0 || (n > 0 && !keys)) return canon__seterr(err, CANON_ERR_INVALID, "bad presort list");
  d->sort = canon__calloc((size_t)(n ? n : 1), sizeof *d->sort);
  if (!d->sort) return canon__nomem(err);
  for (int i = 0; i < n; i++) {
    if (!keys[i].column || canon_schema_find(s, keys[i].column) < 0)
      return unknown_column("presort", keys[i].column, s, err);
    if (!(d->sort[i].column = canon__strdup(keys[i].column))) return canon__nomem(err);
    d->sort[i].descending = keys[i].descending != 0;
    d->sort[i].nulls_first = keys[i].nulls_first != 0;
    d->nsort = i + 1;
  }
  return 0;
}

/* Give d its input's schema. */
static int same_schema(canon_df *d, canon_error *err) {
  d->schema = canon__schema_copy(d->inputs[0]->schema);
  return d->schema ? 0 : canon__nomem(err);
}

/* ---- dropna and fillna ------------------------------------------------------ */

canon_df *canon_dropna(canon_df *in, int how, const char *const *subset, int nsubset,
                       int64_t thresh, canon_error *err) {
  canon_df *d = canon__rowops_unary(in, CANON__N_DROPNA, err);
  if (!d) return NULL;
  if (how != CANON_DROPNA_ANY && how != CANON_DROPNA_ALL) {
    canon__seterr(err, CANON_ERR_INVALID, "dropna how must be any (0) or all (1), not %d", how);
    return canon__rowops_fail(d, err);
  }
  d->how = how;
  d->thresh = thresh < 0 ? -1 : thresh;
  if (canon__rowops_keys(d, subset, nsubset, in->schema, "subset", err) || same_schema(d, err))
    return canon__rowops_fail(d, err);
  return d;
}

/* Check fill value i (a non-NULL literal of the column's exact type). */
static int check_fill(const canon_df *d, int i, const canon_schema *s, canon_error *err) {
  const canon_expr *e = d->exprs[i];
  const char *col = d->names[i];
  int at = canon_schema_find(s, col);
  if (at < 0) return unknown_column("fillna", col, s, err);
  for (int j = 0; j < i; j++)
    if (strcmp(col, d->names[j]) == 0)
      return canon__seterr(err, CANON_ERR_INVALID, "fillna column '%s' given twice", col);
  if (!e)
    return canon__seterr(err, CANON_ERR_INVALID,
                         "fill value for column '%s' is NULL (an earlier constructor failed)", col);
  if (e->kind != CANON__E_LIT) {
    char *t = canon_expr_to_string(e);
    int rc = canon__seterr(err, CANON_ERR_INVALID,
                           "fill value for column '%s' must be a literal, not %s", col,
                           t ? t : "an expression");
    free(t);
    return rc;
  }
  if (e->lit.is_null)
    return canon__seterr(err, CANON_ERR_INVALID,
                         "fill value for column '%s' is a NULL literal (it would fill nothing)",
                         col);
  if (e->lit.type != s->types[at])
    return canon__seterr(err, CANON_ERR_TYPE,
                         "fill value for column '%s' is %s, but the column is %s (cast the "
                         "value: fillna never converts)",
                         col, canon_type_name(e->lit.type), canon_type_name(s->types[at]));
  return 0;
}

canon_df *canon_fillna(canon_df *in, const char *const *columns, canon_expr **values, int n,
                       canon_error *err) {
  canon_df *d = canon__rowops_unary(in, CANON__N_FILLNA, err);
  if (!d || n < 0 || (n > 0 && (!columns || !values))) {
    for (int i = 0; values && i < n; i++) canon_expr_free(values[i]);
    if (!d) return NULL;
    canon__seterr(err, CANON_ERR_INVALID, "bad fillna column list");
    return canon__rowops_fail(d, err);
  }
  d->exprs = canon__calloc((size_t)(n ? n : 1), sizeof *d->exprs);
  d->names = canon__calloc((size_t)(n ? n : 1), sizeof *d->names);
  if (!d->exprs || !d->names) {
    for (int i = 0; i < n; i++) canon_expr_free(values[i]);
    canon__nomem(err);
    return canon__rowops_fail(d, err);
  }
  /* The node owns every value from here on (freed with the session). */
  d->nexprs = n;
  int rc = 0;
  for (int i = 0; i < n; i++) {
    d->exprs[i] = values[i];
    d->names[i] = canon__strdup(columns[i] ? columns[i] : "");
    if (!d->names[i] && !rc) rc = canon__nomem(err);
  }
  for (int i = 0; i < n && !rc; i++) rc = check_fill(d, i, in->schema, err);
  if (rc || same_schema(d, err)) return canon__rowops_fail(d, err);
  return d;
}

/* ---- rename, drop, cast: selects underneath ---------------------------------- */

/* Output column i of a select-like node: expression e (moved in) named
 * `name`, bound against the input. */
static int add_output(canon_df *d, canon_expr *e, const char *name, canon_error *err) {
  int i = d->nexprs;
  if (!e) return canon__nomem(err);
  d->exprs[i] = e;
  d->nexprs = i + 1;
  if (!(d->names[i] = canon__strdup(name))) return canon__nomem(err);
  if (!(d->bound[i] = canon__expr_bind(e, d->inputs[0]->schema, false, err)))
    return err ? err->code : CANON_ERR_TYPE;
  return 0;
}

/* Room for one output per input column, then the select's schema. */
static int select_alloc(canon_df *d, canon_error *err) {
  int n = d->inputs[0]->schema->n;
  d->exprs = canon__calloc((size_t)(n ? n : 1), sizeof *d->exprs);
  d->bound = canon__calloc((size_t)(n ? n : 1), sizeof *d->bound);
  d->names = canon__calloc((size_t)(n ? n : 1), sizeof *d->names);
  return d->exprs && d->bound && d->names ? 0 : canon__nomem(err);
}

static int select_schema(canon_df *d, canon_error *err) {
  if (!(d->schema = canon_schema_new())) return canon__nomem(err);
  for (int i = 0; i < d->nexprs; i++) {
    int rc = canon_schema_add(d->schema, d->names[i], d->bound[i]->type, err);
    if (rc) return rc;
  }
  return 0;
}

canon_df *canon_rename(canon_df *in, const char *const *from, const char *const *to, int n,
                       canon_error *err) {
  canon_df *d = canon__rowops_unary(in, CANON__N_RENAME, err);
  if (!d) return NULL;
  const canon_schema *s = in->schema;
  if (n < 0 || (n > 0 && (!from || !to))) {
    canon__seterr(err, CANON_ERR_INVALID, "bad rename list");
    return canon__rowops_fail(d, err);
  }
  /* Validate with keys = the old names (also what the node keeps). */
  if (canon__rowops_keys(d, from, n, s, "rename", err) || select_alloc(d, err))
    return canon__rowops_fail(d, err);
  for (int i = 0; i < n; i++)
    if (!to[i] || !*to[i]) {
      canon__seterr(err, CANON_ERR_INVALID, "rename of '%s' needs a non-empty new name", from[i]);
      return canon__rowops_fail(d, err);
    }
  for (int c = 0; c < s->n; c++) {
    const char *name = s->names[c];
    for (int i = 0; i < n; i++)
      if (strcmp(from[i], s->names[c]) == 0) name = to[i];
    /* A clash: the new name is held by another column of the output. */
    for (int j = 0; j < d->nexprs; j++)
      if (strcmp(d->names[j], name) == 0) {
        canon__seterr(err, CANON_ERR_INVALID,
                      "rename gives two columns the name '%s' (columns '%s' and '%s')", name,
                      d->exprs[j]->name, s->names[c]);
        return canon__rowops_fail(d, err);
      }
    if (add_output(d, canon_col(s->names[c]), name, err)) return canon__rowops_fail(d, err);
  }
  return select_schema(d, err) ? canon__rowops_fail(d, err) : d;
}

canon_df *canon_drop(canon_df *in, const char *const *columns, int n, canon_error *err) {
  canon_df *d = canon__rowops_unary(in, CANON__N_DROP, err);
  if (!d) return NULL;
  const canon_schema *s = in->schema;
  if (canon__rowops_keys(d, columns, n, s, "drop", err) || select_alloc(d, err))
    return canon__rowops_fail(d, err);
  if (n >= s->n) {
    canon__seterr(err, CANON_ERR_INVALID, "drop would remove every column");
    return canon__rowops_fail(d, err);
  }
  for (int c = 0; c < s->n; c++) {
    bool dropped = false;
    for (int i = 0; i < n; i++) dropped |= strcmp(columns[i], s->names[c]) == 0;
    if (!dropped && add_output(d, canon_col(s->names[c]), s->names[c], err))
      return canon__rowops_fail(d, err);
  }
  return select_schema(d, err) ? canon__rowops_fail(d, err) : d;
}

canon_df *canon_cast_columns(canon_df *in, const char *const *columns, const canon_type *types,
                             int n, int try_cast, canon_error *err) {
  canon_df *d = canon__rowops_unary(in, CANON__N_CAST, err);
  if (!d) return NULL;
  const canon_schema *s = in->schema;
  if (n > 0 && !types) {
    canon__seterr(err, CANON_ERR_INVALID, "cast needs a type per column");
    return canon__rowops_fail(d, err);
  }
  if (canon__rowops_keys(d, columns, n, s, "cast", err) || select_alloc(d, err))
    return canon__rowops_fail(d, err);
  for (int i = 0; i < n; i++)
    if (types[i] <= CANON_TYPE_INVALID || types[i] >= CANON_TYPE__COUNT) {
      canon__seterr(err, CANON_ERR_TYPE, "cast of column '%s' to an invalid type %d",
                    columns[i], (int)types[i]);
      return canon__rowops_fail(d, err);
    }
  /* Each column in place: cast(col) for the listed ones (the expression
   * machinery checks the pair of types and casts strictly at run time). */
  for (int c = 0; c < s->n; c++) {
    canon_expr *e = canon_col(s->names[c]);
    for (int i = 0; i < n; i++)
      if (strcmp(columns[i], s->names[c]) == 0)
        e = try_cast ? canon_try_cast(e, types[i]) : canon_cast(e, types[i]);
    if (add_output(d, e, s->names[c], err)) return canon__rowops_fail(d, err);
  }
  return select_schema(d, err) ? canon__rowops_fail(d, err) : d;
}

/* ---- repartition and persist ------------------------------------------------ */

canon_df *canon_repartition(canon_df *in, int num, const char *const *by, int nby,
                            canon_error *err) {
  canon_df *d = canon__rowops_unary(in, CANON__N_REPARTITION, err);
  if (!d) return NULL;
  if (num < 0 || (num > 0 && nby > 0)) {
    canon__seterr(err, CANON_ERR_INVALID, num < 0 ? "repartition num must be >= 0"
                                                  : "repartition takes 'by' keys or 'num', not both");
    return canon__rowops_fail(d, err);
  }
  d->n = num;
  if (canon__rowops_keys(d, by, nby, in->schema, "partition key", err) || same_schema(d, err))
    return canon__rowops_fail(d, err);
  return d;
}

canon_df *canon_persist(canon_df *in, canon_error *err) {
  canon_df *d = canon__rowops_unary(in, CANON__N_PERSIST, err);
  if (!d) return NULL;
  return same_schema(d, err) ? canon__rowops_fail(d, err) : d;
}

/* Run the plan below persist node d and keep its rows in d->table. */
static int compute_persist(canon_df *d, canon_error *err) {
  canon_table **parts = NULL;
  int n = 0;
  int rc = canon__run_plan(d->inputs[0], true, &parts, &n, err);
  if (rc == 0) {
    /* One table in partition order: later plans re-split it like any
     * in-memory table, so results never depend on the layout it had. */
    d->table = canon__table_concat_keep(parts, n, err);
    if (!d->table) rc = err && err->code ? err->code : CANON_ERR_NOMEM;
  }
  for (int i = 0; i < n; i++) canon_table_free(parts[i]);
  free(parts);
  return rc;
}

/* Depth-first, inputs first, each node once (`seen` indexed by node id). */
static int materialize(canon_df *d, bool *seen, canon_error *err) {
  if (seen[d->id]) return 0;
  seen[d->id] = true;
  if (d->kind == CANON__N_PERSIST && d->table) return 0; /* its inputs are not planned */
  for (int i = 0; i < d->ninputs && i < 2; i++) {
    int rc = materialize(d->inputs[i], seen, err);
    if (rc) return rc;
  }
  if (d->kind != CANON__N_PERSIST) return 0;
  int rc = compute_persist(d, err);
  if (rc && err && !strstr(err->message, "persist node "))
    canon__errprefix(err, "persist node %d", canon_df_id(d));
  return rc;
}

int canon__persist_materialize(canon_df *df, canon_error *err) {
  if (!df) return 0;
  bool *seen = canon__calloc((size_t)df->session->next_id + 1, sizeof *seen);
  if (!seen) return canon__nomem(err);
  int rc = materialize(df, seen, err);
  free(seen);
  return rc;
}
