/* plan.c — building the logical plan: the canon_df constructors.
 *
 * Every constructor validates against its input's schema and computes the
 * output schema at once, so a wrong column name or type fails at the line
 * that wrote it, not on a worker later.  Expressions are bound (checked and
 * resolved to column indices) here; engines trust what they are handed. */
#include "kernels.h"

#include <stdio.h>
#include <errno.h>
#include <unistd.h>

void canon__transform_names(char *buf, size_t cap);

static const char *const kind_names[CANON__N__COUNT] = {
  [CANON__N_READ_CSV] = "read_csv", [CANON__N_TABLE] = "table",
  [CANON__N_SELECT] = "select",     [CANON__N_FILTER] = "filter",
  [CANON__N_ASSIGN] = "assign",     [CANON__N_AGGREGATE] = "aggregate",
  [CANON__N_SORT] = "sort",         [CANON__N_LIMIT] = "limit",
  [CANON__N_TRANSFORM] = "transform",
  [CANON__N_DROPNA] = "dropna",     [CANON__N_FILLNA] = "fillna",
  [CANON__N_TAKE] = "take",         [CANON__N_SAMPLE] = "sample",
  [CANON__N_RENAME] = "rename",     [CANON__N_DROP] = "drop",
  [CANON__N_CAST] = "cast",         [CANON__N_REPARTITION] = "repartition",
  [CANON__N_PERSIST] = "persist",
  [CANON__N_JOIN] = "join",         [CANON__N_UNION_ALL] = "union_all",
  [CANON__N_UNION] = "union",       [CANON__N_INTERSECT] = "intersect",
  [CANON__N_INTERSECT_ALL] = "intersect_all", [CANON__N_EXCEPT] = "except",
  [CANON__N_EXCEPT_ALL] = "except_all", [CANON__N_DISTINCT] = "distinct",
};

const char *canon__node_kind_name(canon__node_kind k) {
  return (k > 0 && k < CANON__N__COUNT) ? kind_names[k] : "?";
}

canon__node_kind canon__node_kind_from_name(const char *name) {
  for (int k = 1; k < CANON__N__COUNT; k++)
    if (name && strcmp(name, kind_names[k]) == 0) return (canon__node_kind)k;
  return 0;
}

const canon_schema *canon_df_schema(const canon_df *df) { return df ? df->schema : NULL; }
canon_session *canon_df_session(const canon_df *df) { return df ? df->session : NULL; }

const char *canon__df_kind_name(const canon_df *d) {
  return canon__node_kind_name(d->origin_kind ? (canon__node_kind)(d->origin_kind - 1) : d->kind);
}

int canon_df_id(const canon_df *df) { return df ? (df->origin_id ? df->origin_id : df->id) : 0; }

/* Prefix err with the node's label: "filter node 4". */
void canon__node_errprefix(const canon_df *n, canon_error *err) {
  canon__errprefix(err, "%s node %d", canon__df_kind_name(n), canon_df_id(n));
}

/* Start a node over `in`; NULL input means an earlier step failed. */
static canon_df *unary(canon_df *in, canon__node_kind kind, canon_error *err) {
  if (!in) {
    canon__seterr(err, CANON_ERR_INVALID,
                  "%s: input is NULL (an earlier step failed)", canon__node_kind_name(kind));
    return NULL;
  }
  canon_df *n = canon__node_new(in->session, kind, err);
  if (!n) return NULL;
  n->ninputs = 1;
  n->inputs[0] = in;
  return n;
}

/* Take ownership of n expressions and their names into node d. */
static int take_exprs(canon_df *d, canon_expr **exprs, const char *const *names, int n,
                      canon_error *err) {
  d->exprs = canon__calloc((size_t)n, sizeof *d->exprs);
  d->bound = canon__calloc((size_t)n, sizeof *d->bound);
  d->names = canon__calloc((size_t)n, sizeof *d->names);
  d->nexprs = n;
  if (!d->exprs || !d->bound || !d->names) {
    for (int i = 0; i < n; i++) canon_expr_free(exprs[i]);
    free(d->exprs), free(d->bound), free(d->names);
    d->exprs = d->bound = NULL;
    d->names = NULL;
    d->nexprs = 0;
    return canon__nomem(err);
  }
  int rc = 0;
  for (int i = 0; i < n; i++) {
    d->exprs[i] = exprs[i];
    if (!exprs[i] && !rc)
      rc = canon__seterr(err, CANON_ERR_INVALID,
                         "expression %d is NULL (an earlier constructor failed)", i + 1);
    const char *nm = names ? names[i] : NULL;
    if (nm) {
      d->names[i] = canon__strdup(nm);
    } else if (exprs[i] && exprs[i]->kind == CANON__E_COL) {
      d->names[i] = canon__strdup(exprs[i]->name);
    } else if (exprs[i]) {
      d->names[i] = canon_expr_to_string(exprs[i]);
    }
    if (exprs[i] && !d->names[i] && !rc) rc = canon__nomem(err);
  }
  return rc;
}

static int bind_all(canon_df *d, const canon_schema *in, bool allow_agg, canon_error *err) {
  for (int i = 0; i < d->nexprs; i++) {
    d->bound[i] = canon__expr_bind(d->exprs[i], in, allow_agg, err);
    if (!d->bound[i]) return err ? err->code : CANON_ERR_TYPE;
  }
  return 0;
}

/* ---- sources -------------------------------------------------------------- */

canon_df *canon_read_csv(canon_session *s, const char *path, const canon_csv_options *opts,
                         canon_error *err) {
  canon_df *n = canon__node_new(s, CANON__N_READ_CSV, err);
  if (!n) return NULL;
  if (!path || !*path) {
    canon__seterr(err, CANON_ERR_INVALID, "read_csv needs a path");
    goto fail;
  }
  n->path = canon__strdup(path);
  n->delimiter = opts && opts->delimiter ? opts->delimiter : ',';
  if (!n->path) {
    canon__nomem(err);
    goto fail;
  }
  if (access(path, R_OK) != 0) {
    canon__seterr(err, CANON_ERR_IO, "%s: cannot read file: %s", path, strerror(errno));
    goto fail;
  }
  if (opts && opts->schema) {
    n->csv_schema = canon_schema_parse(opts->schema, err);
  } else {
    n->schema_inferred = true;
    n->csv_schema = canon__csv_infer(path, n->delimiter,
                                     opts && opts->sample_rows > 0 ? opts->sample_rows : 10000, err);
  }
  if (!n->csv_schema || !(n->schema = canon__schema_copy(n->csv_schema))) {
    if (n->csv_schema) canon__nomem(err);
    goto fail;
  }
  return n;
fail:
  canon__node_errprefix(n, err);
  return NULL;
}

canon_df *canon_from_table(canon_session *s, const canon_table *t, canon_error *err) {
  canon_df *n = canon__node_new(s, CANON__N_TABLE, err);
  if (!n) return NULL;
  if (!t) {
    canon__seterr(err, CANON_ERR_INVALID, "table source needs a table");
    goto fail;
  }
  n->table = canon__table_share(t, err);
  if (!n->table) goto fail;
  n->schema = canon__schema_copy(t->schema);
  if (!n->schema) {
    canon__nomem(err);
    goto fail;
  }
  return n;
fail:
  canon__node_errprefix(n, err);
  return NULL;
}

canon_df *canon_from_arrow(canon_session *s, struct ArrowSchema *schema,
                           struct ArrowArray *array, canon_error *err) {
  canon_table *t = canon_table_import_arrow(schema, array, err);
  if (!t) return NULL;
  canon_df *d = canon_from_table(s, t, err);
  canon_table_free(t);
  return d;
}

/* ---- row-wise operators ------------------------------------------------ */

/* Output schema of select: the names and bound types, names unique. */
static int select_schema(canon_df *n, canon_error *err) {
  n->schema = canon_schema_new();
  if (!n->schema) return canon__nomem(err);
  for (int i = 0; i < n->nexprs; i++) {
    int rc = canon_schema_add(n->schema, n->names[i], n->bound[i]->type, err);
    if (rc) return rc;
  }
  return 0;
}

canon_df *canon_select(canon_df *in, canon_expr **exprs, const char *const *names, int n,
                       canon_error *err) {
  canon_df *d = unary(in, CANON__N_SELECT, err);
  if (!d) {
    for (int i = 0; i < n; i++) canon_expr_free(exprs ? exprs[i] : NULL);
    return NULL;
  }
  if (n <= 0 || !exprs) {
    canon__seterr(err, CANON_ERR_INVALID, "select needs at least one output column");
    goto fail;
  }
  if (take_exprs(d, exprs, names, n, err) || bind_all(d, in->schema, false, err) ||
      select_schema(d, err))
    goto fail;
  return d;
fail:
  canon__node_errprefix(d, err);
  return NULL;
}

canon_df *canon_filter(canon_df *in, canon_expr *predicate, canon_error *err) {
  canon_df *d = unary(in, CANON__N_FILTER, err);
  if (!d) {
    canon_expr_free(predicate);
    return NULL;
  }
  static const char *const pname[1] = {"predicate"};
  if (take_exprs(d, &predicate, pname, 1, err) || bind_all(d, in->schema, false, err))
    goto fail;
  if (d->bound[0]->type != CANON_BOOL) {
    char *txt = canon_expr_to_string(d->exprs[0]);
    canon__seterr(err, CANON_ERR_TYPE, "filter predicate %s is %s, not bool", txt ? txt : "?",
                  canon_type_name(d->bound[0]->type));
    free(txt);
    goto fail;
  }
  if (!(d->schema = canon__schema_copy(in->schema))) {
    canon__nomem(err);
    goto fail;
  }
  return d;
fail:
  canon__node_errprefix(d, err);
  return NULL;
}

canon_df *canon_assign(canon_df *in, canon_expr **exprs, const char *const *names, int n,
                       canon_error *err) {
  canon_df *d = unary(in, CANON__N_ASSIGN, err);
  if (!d) {
    for (int i = 0; i < n; i++) canon_expr_free(exprs ? exprs[i] : NULL);
    return NULL;
  }
  if (n <= 0 || !exprs) {
    canon__seterr(err, CANON_ERR_INVALID, "assign needs at least one column");
    goto fail;
  }
  if (take_exprs(d, exprs, names, n, err) || bind_all(d, in->schema, false, err)) goto fail;
  /* Replaced columns keep their place (with the new type); new ones go at
   * the end in the order given. */
  d->schema = canon__schema_copy(in->schema);
  if (!d->schema) {
    canon__nomem(err);
    goto fail;
  }
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < i; j++)
      if (strcmp(d->names[i], d->names[j]) == 0) {
        canon__seterr(err, CANON_ERR_INVALID, "column '%s' assigned twice", d->names[i]);
        goto fail;
      }
    int at = canon_schema_find(d->schema, d->names[i]);
    if (at >= 0)
      d->schema->types[at] = d->bound[i]->type;
    else if (canon_schema_add(d->schema, d->names[i], d->bound[i]->type, err))
      goto fail;
  }
  return d;
fail:
  canon__node_errprefix(d, err);
  return NULL;
}

/* ---- aggregate --------------------------------------------------------- */

static int copy_keys(canon_df *d, const char *const *keys, int nkeys, const canon_schema *in,
                     const char *what, canon_error *err) {
  if (nkeys < 0 || (nkeys > 0 && !keys))
    return canon__seterr(err, CANON_ERR_INVALID, "bad %s list", what);
  d->keys = canon__calloc((size_t)(nkeys ? nkeys : 1), sizeof *d->keys);
  if (!d->keys) return canon__nomem(err);
  for (int i = 0; i < nkeys; i++) {
    if (!keys[i] || canon_schema_find(in, keys[i]) < 0) {
      char *avail = canon_schema_to_string(in);
      int rc = canon__seterr(err, CANON_ERR_NOT_FOUND, "unknown %s column '%s' (available: %s)",
                             what, keys[i] ? keys[i] : "(null)", avail ? avail : "?");
      free(avail);
      return rc;
    }
    for (int j = 0; j < i; j++)
      if (strcmp(keys[i], keys[j]) == 0)
        return canon__seterr(err, CANON_ERR_INVALID, "%s column '%s' given twice", what, keys[i]);
    if (!(d->keys[i] = canon__strdup(keys[i]))) return canon__nomem(err);
    d->nkeys = i + 1;
  }
  return 0;
}

canon_df *canon_aggregate(canon_df *in, const char *const *keys, int nkeys, canon_expr **aggs,
                          const char *const *names, int n, canon_error *err) {
  canon_df *d = unary(in, CANON__N_AGGREGATE, err);
  if (!d) {
    for (int i = 0; i < n; i++) canon_expr_free(aggs ? aggs[i] : NULL);
    return NULL;
  }
  if (n < 0 || (n > 0 && !aggs)) {
    canon__seterr(err, CANON_ERR_INVALID, "bad aggregate list");
    goto fail;
  }
  if (take_exprs(d, aggs, names, n, err) || copy_keys(d, keys, nkeys, in->schema, "group key", err) ||
      bind_all(d, in->schema, true, err))
    goto fail;
  /* Outputs: expressions over aggregate calls and keys (plan_aggregate.c). */
  if (canon__aggregate_bind(d, in->schema, err)) goto fail;
  if (n == 0 && nkeys == 0) {
    canon__seterr(err, CANON_ERR_INVALID, "aggregate needs keys or aggregates");
    goto fail;
  }
  d->schema = canon_schema_new();
  if (!d->schema) {
    canon__nomem(err);
    goto fail;
  }
  for (int i = 0; i < d->nkeys; i++)
    if (canon_schema_add(d->schema, d->keys[i],
                         in->schema->types[canon_schema_find(in->schema, d->keys[i])], err))
      goto fail;
  for (int i = 0; i < n; i++)
    if (canon_schema_add(d->schema, d->names[i], d->bound[i]->type, err)) goto fail;
  return d;
fail:
  canon__node_errprefix(d, err);
  return NULL;
}

/* ---- sort and limit ------------------------------------------------------ */

static int copy_sort(canon_df *d, const canon_sort_key *keys, int n, const canon_schema *in,
                     canon_error *err) {
  if (n < 0 || (n > 0 && !keys)) return canon__seterr(err, CANON_ERR_INVALID, "bad sort key list");
  d->sort = canon__calloc((size_t)(n ? n : 1), sizeof *d->sort);
  if (!d->sort) return canon__nomem(err);
  for (int i = 0; i < n; i++) {
    if (!keys[i].column || canon_schema_find(in, keys[i].column) < 0) {
      char *avail = canon_schema_to_string(in);
      int rc = canon__seterr(err, CANON_ERR_NOT_FOUND, "unknown sort column '%s' (available: %s)",
                             keys[i].column ? keys[i].column : "(null)", avail ? avail : "?");
      free(avail);
      return rc;
    }
    d->sort[i].column = canon__strdup(keys[i].column);
    if (!d->sort[i].column) return canon__nomem(err);
    d->sort[i].descending = keys[i].descending != 0;
    d->sort[i].nulls_first = keys[i].nulls_first != 0;
    d->nsort = i + 1;
  }
  return 0;
}

canon_df *canon_sort(canon_df *in, const canon_sort_key *keys, int n, canon_error *err) {
  canon_df *d = unary(in, CANON__N_SORT, err);
  if (!d) return NULL;
  if (n <= 0) {
    canon__seterr(err, CANON_ERR_INVALID, "sort needs at least one key");
    goto fail;
  }
  if (copy_sort(d, keys, n, in->schema, err)) goto fail;
  if (!(d->schema = canon__schema_copy(in->schema))) {
    canon__nomem(err);
    goto fail;
  }
  return d;
fail:
  canon__node_errprefix(d, err);
  return NULL;
}

canon_df *canon_limit(canon_df *in, int64_t n, canon_error *err) {
  canon_df *d = unary(in, CANON__N_LIMIT, err);
  if (!d) return NULL;
  if (n < 0) {
    canon__seterr(err, CANON_ERR_INVALID, "limit must be >= 0, not %lld", (long long)n);
    goto fail;
  }
  d->n = n;
  if (!(d->schema = canon__schema_copy(in->schema))) {
    canon__nomem(err);
    goto fail;
  }
  return d;
fail:
  canon__node_errprefix(d, err);
  return NULL;
}

/* ---- transform ------------------------------------------------------------ */

canon_df *canon_transform(canon_df *in, const char *name, const char *out_schema,
                          const canon_partition_spec *spec, canon_error *err) {
  canon_df *d = unary(in, CANON__N_TRANSFORM, err);
  if (!d) return NULL;
  if (!name || !canon__transform_find(name)) {
    char names[512];
    canon__transform_names(names, sizeof names);
    canon__seterr(err, CANON_ERR_NOT_FOUND,
                  "unknown transform '%s' (registered: %s); register it with "
                  "canon_register_transform before opening the session",
                  name ? name : "(null)", names);
    goto fail;
  }
  if (!(d->transform = canon__strdup(name))) {
    canon__nomem(err);
    goto fail;
  }
  if (!out_schema) {
    canon__seterr(err, CANON_ERR_INVALID, "transform '%s' needs a declared output schema", name);
    goto fail;
  }
  if (!(d->schema = canon_schema_parse(out_schema, err))) goto fail;
  if (spec) {
    if (spec->num < 0) {
      canon__seterr(err, CANON_ERR_INVALID, "partition num must be >= 0");
      goto fail;
    }
    if (spec->num > 0 && spec->num_by > 0) {
      canon__seterr(err, CANON_ERR_INVALID, "partition spec takes 'by' keys or 'num', not both");
      goto fail;
    }
    if (copy_keys(d, spec->by, spec->num_by, in->schema, "partition", err) ||
        copy_sort(d, spec->presort, spec->num_presort, in->schema, err))
      goto fail;
    d->n = spec->num;
  }
  return d;
fail:
  canon__node_errprefix(d, err);
  return NULL;
}
