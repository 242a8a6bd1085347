/* plan_aggregate.c — aggregate outputs that are expressions over aggregate
 * calls and group keys (max(v) - min(v), k * 2 + sum(v)), the options form
 * of canon_aggregate, and the final step that evaluates such outputs.
 *
 * The kernels (kernels/aggregate.c) compute a list of aggregate calls.  At
 * build time the distinct calls of all outputs are collected into d->aggs;
 * the final merge yields a table of (keys, one column per call) with schema
 * d->agg_schema, and each output is evaluated over that table from
 * d->post: a copy of the bound output whose aggregate calls read their
 * result column and whose key references read the key column.  Plan JSON
 * keeps writing the outputs as the user gave them. */
#include "kernels.h"

#include <stdio.h>

/* What the walk over one output collects. */
typedef struct pa_ctx {
  canon_df *d;
  const canon_schema *in;
  int out;              /* output index, for messages */
  char **texts;         /* text of each distinct aggregate call */
  int cap;
  canon_error *err;
} pa_ctx;

/* Index of the aggregate call a (bound) among d->aggs, adding it when new;
 * < 0 on OOM. */
static int pa_agg_index(pa_ctx *c, const canon_expr *a) {
  canon_df *d = c->d;
  char *txt = canon_expr_to_string(a);
  if (!txt) return -canon__nomem(c->err);
  for (int k = 0; k < d->naggs; k++)
    if (strcmp(c->texts[k], txt) == 0 && d->aggs[k]->type == a->type) {
      free(txt);
      return k;
    }
  if (d->naggs == c->cap) {
    int cap = c->cap ? 2 * c->cap : 8;
    char **t = canon__reallocarray(c->texts, (size_t)cap, sizeof *t);
    if (t) c->texts = t;
    canon_expr **g = t ? canon__reallocarray(d->aggs, (size_t)cap, sizeof *g) : NULL;
    if (g) d->aggs = g;
    if (!t || !g) {
      free(txt);
      return -canon__nomem(c->err);
    }
    c->cap = cap;
  }
  canon_expr *copy = canon__expr_copy(a);
  if (!copy) {
    free(txt);
    return -canon__nomem(c->err);
  }
  c->texts[d->naggs] = txt;
  d->aggs[d->naggs] = copy;
  return d->naggs++;
}

/* Rewrite the bound output tree e in place for the final table: aggregate
 * calls read their result column, key references their key column; any
 * other column reference is an error. */
static int pa_rewrite(pa_ctx *c, canon_expr *e) {
  canon_df *d = c->d;
  if (e->kind == CANON__E_AGG) {
    int k = pa_agg_index(c, e);
    if (k < 0) return -k;
    e->col = d->nkeys + k;
    return 0;
  }
  if (e->kind == CANON__E_COL) {
    for (int k = 0; k < d->nkeys; k++)
      if (e->name && strcmp(d->keys[k], e->name) == 0) {
        e->col = k;
        return 0;
      }
    return canon__seterr(c->err, CANON_ERR_PLAN,
                         "aggregate output '%s': column '%s' must be a group key or inside an "
                         "aggregate call",
                         d->names[c->out], e->name ? e->name : "?");
  }
  for (int i = 0; i < e->nargs; i++) {
    int rc = pa_rewrite(c, e->args[i]);
    if (rc) return rc;
  }
  return 0;
}

/** Collect the aggregate calls of d's bound outputs and prepare the final
 * step (see internal.h). */
int canon__aggregate_bind(canon_df *d, const canon_schema *in, canon_error *err) {
  pa_ctx c = {.d = d, .in = in, .err = err};
  int rc = 0;
  d->post = canon__calloc(d->nexprs ? (size_t)d->nexprs : 1, sizeof *d->post);
  if (!d->post) return canon__nomem(err);
  for (int i = 0; i < d->nexprs && !rc; i++) {
    c.out = i;
    if (!(d->post[i] = canon__expr_copy(d->bound[i]))) rc = canon__nomem(err);
    else rc = pa_rewrite(&c, d->post[i]);
  }
  for (int k = 0; k < d->naggs; k++) free(c.texts[k]);
  free(c.texts);
  if (rc) return rc;
  d->agg_schema = canon_schema_new();
  if (!d->agg_schema) return canon__nomem(err);
  for (int k = 0; k < d->nkeys; k++)
    if ((rc = canon_schema_add(d->agg_schema, d->keys[k],
                               in->types[canon_schema_find(in, d->keys[k])], err)) != 0)
      return rc;
  for (int k = 0; k < d->naggs; k++) {
    /* A name no key has: "__agg<k>", with underscores added on a clash. */
    char name[64];
    int len = snprintf(name, sizeof name, "__agg%d", k);
    while (canon_schema_find(d->agg_schema, name) >= 0 && len < (int)sizeof name - 1) {
      memmove(name + 1, name, (size_t)len + 1);
      name[0] = '_';
      len++;
    }
    if ((rc = canon_schema_add(d->agg_schema, name, d->aggs[k]->type, err)) != 0) return rc;
  }
  return 0;
}

/** Final step: merge the partial states, then evaluate the outputs. */
canon_table *canon__aggregate_final(const canon_df *d, const canon_table *partials,
                                    canon_error *err) {
  canon_table *mid = canon__agg_final(partials, d->nkeys, d->aggs, d->naggs, d->agg_schema, err);
  if (!mid) return NULL;
  int ncols = d->nkeys + d->nexprs;
  canon__column **cols = canon__calloc(ncols ? (size_t)ncols : 1, sizeof *cols);
  canon_table *out = NULL;
  if (!cols) {
    canon__nomem(err);
    goto done;
  }
  for (int k = 0; k < d->nkeys; k++) cols[k] = canon__column_ref(mid->cols[k]);
  for (int i = 0; i < d->nexprs; i++)
    if (!(cols[d->nkeys + i] = canon__expr_eval(d->post[i], mid, err))) goto done;
  out = canon__table_make(d->schema, cols, mid->nrows, err);
done:
  for (int k = 0; cols && k < ncols; k++) canon__column_unref(cols[k]);
  free(cols);
  canon_table_free(mid);
  return out;
}

/** Free the fields canon__aggregate_bind set. */
void canon__aggregate_free(canon_df *d) {
  for (int k = 0; k < d->naggs; k++) canon_expr_free(d->aggs[k]);
  free(d->aggs);
  for (int i = 0; d->post && i < d->nexprs; i++) canon_expr_free(d->post[i]);
  free(d->post);
  canon_schema_free(d->agg_schema);
  d->aggs = d->post = NULL;
  d->agg_schema = NULL;
  d->naggs = 0;
}

/** canon_aggregate with options (drop_null_keys). */
canon_df *canon_aggregate_opts(canon_df *in, const char *const *keys, int nkeys,
                               canon_expr **aggs, const char *const *names, int n,
                               const canon_aggregate_options *opts, canon_error *err) {
  canon_df *d = canon_aggregate(in, keys, nkeys, aggs, names, n, err);
  if (d && opts) d->drop_null_keys = opts->drop_null_keys != 0;
  return d;
}
