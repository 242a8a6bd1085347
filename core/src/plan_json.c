/* plan_json.c — writing a logical plan as JSON (docs/plan-format.md).
 *
 * canon_plan_to_json walks the DAG below a canon_df depth-first, inputs
 * before their users, numbers the nodes 1..n in that order and emits one
 * object per node with its keys in a fixed order.  The output is therefore a
 * function of the plan alone (not of session ids or build order), which is
 * what lets writing, reading into a fresh session and writing again give the
 * same bytes.  Reading lives in plan_json_read.c.
 *
 * Sections: shared map and names; literals and cells; expressions; schemas
 * and sort keys; nodes; the public entry point.
 */
#include "plan_json.h"

#include "kernels.h"

#include <inttypes.h>
#include <stdio.h>

/* ---- shared map and names ---------------------------------------------- */

const char *const canon__pj_directions[4] = {
    "SORT_DIRECTION_ASC_NULLS_LAST",
    "SORT_DIRECTION_ASC_NULLS_FIRST",
    "SORT_DIRECTION_DESC_NULLS_LAST",
    "SORT_DIRECTION_DESC_NULLS_FIRST",
};

/* Fibonacci hashing: keys are pointers or small ids, both poorly spread in
 * their low bits. */
static size_t map_slot(uintptr_t key, size_t cap) {
  return (size_t)(((uint64_t)key * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & (cap - 1);
}

bool canon__pjmap_get(const canon__pjmap *m, uintptr_t key, intptr_t *val) {
  if (!m->cap) return false;
  for (size_t i = map_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == 0) return false;
    if (m->keys[i] == key) {
      *val = m->vals[i];
      return true;
    }
  }
}

/* Double the table (or create it), re-inserting every entry. */
static int map_grow(canon__pjmap *m) {
  size_t ncap = m->cap ? m->cap * 2 : 64;
  uintptr_t *nk = canon__calloc(ncap, sizeof *nk);
  intptr_t *nv = canon__calloc(ncap, sizeof *nv);
  if (!nk || !nv) {
    free(nk);
    free(nv);
    return CANON_ERR_NOMEM;
  }
  for (size_t j = 0; j < m->cap; j++) {
    if (!m->keys[j]) continue;
    size_t i = map_slot(m->keys[j], ncap);
    while (nk[i]) i = (i + 1) & (ncap - 1);
    nk[i] = m->keys[j];
    nv[i] = m->vals[j];
  }
  free(m->keys);
  free(m->vals);
  m->keys = nk;
  m->vals = nv;
  m->cap = ncap;
  return 0;
}

int canon__pjmap_put(canon__pjmap *m, uintptr_t key, intptr_t val) {
  /* Keep the load under one half so probe runs stay short. */
  if ((m->n + 1) * 2 > m->cap && map_grow(m) != 0) return CANON_ERR_NOMEM;
  size_t i = map_slot(key, m->cap);
  while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
  if (!m->keys[i]) m->n++;
  m->keys[i] = key;
  m->vals[i] = val;
  return 0;
}

void canon__pjmap_reset(canon__pjmap *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

/* ---- writer state ------------------------------------------------------ */

typedef struct pj_writer {
  canon_error *err;
  canon__pjmap ids;       /* node pointer -> new id (0 while being visited) */
  const canon_df **order; /* nodes in output order */
  int norder;
  char *scratch; /* NUL-terminated copies of string cells */
  size_t scratch_cap;
  /* The internal variant (job_codec.c): called after each node's keys;
   * table rows and computed persist rows are left to it. */
  canon__pj_write_hook hook;
  void *hook_ctx;
} pj_writer;

/* The JSON nesting level of an expression object that may still be read
 * back: cJSON refuses documents nested deeper than CJSON_NESTING_LIMIT, and
 * a call's "args" array sits one level below its object. */
#define PJ_MAX_EXPR_LEVEL (CJSON_NESTING_LIMIT - 1)

static int w_nomem(pj_writer *w) { return canon__nomem(w->err); }

/* Attach item to an object under key, or to an array when key is NULL;
 * takes ownership of item (freed when attaching fails). */
static int attach(pj_writer *w, cJSON *parent, const char *key, cJSON *item) {
  if (!item) return w_nomem(w);
  bool ok =
      key ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item);
  if (!ok) {
    cJSON_Delete(item);
    return w_nomem(w);
  }
  return 0;
}

static int add_string(pj_writer *w, cJSON *obj, const char *key, const char *s) {
  return attach(w, obj, key, cJSON_CreateString(s));
}

static int add_int(pj_writer *w, cJSON *obj, const char *key, int v) {
  return attach(w, obj, key, cJSON_CreateNumber((double)v));
}

/* 64-bit integers travel as strings: cJSON keeps numbers as doubles. */
static int add_i64_string(pj_writer *w, cJSON *obj, const char *key, int64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRId64, v);
  return add_string(w, obj, key, buf);
}

/* A new array attached to obj under key (NULL after reporting OOM). */
static cJSON *add_array(pj_writer *w, cJSON *obj, const char *key) {
  cJSON *a = cJSON_CreateArray();
  return attach(w, obj, key, a) == 0 ? a : NULL;
}

/* ---- literals and cells ------------------------------------------------ */

/* Add len bytes as a JSON string (via a NUL-terminated scratch copy).
 * cJSON strings end at the first NUL, so a value holding one cannot travel
 * and is refused rather than cut short. */
static int add_bytes(pj_writer *w, cJSON *parent, const char *key, const char *s, size_t len,
                     const char *what) {
  if (memchr(s, '\0', len))
    return canon__seterr(w->err, CANON_ERR_UNSUPPORTED,
                         "%s holds a NUL byte, which plan JSON cannot carry", what);
  if (len + 1 > w->scratch_cap) {
    char *nb = canon__realloc(w->scratch, len + 1);
    if (!nb) return w_nomem(w);
    w->scratch = nb;
    w->scratch_cap = len + 1;
  }
  memcpy(w->scratch, s, len);
  w->scratch[len] = '\0';
  return add_string(w, parent, key, w->scratch);
}

/* Text of value i of a non-string column, exactly as CSV writes it, so a
 * plan's values and a table's cells read back through the same parser. */
static int cell_text(pj_writer *w, const canon__column *c, int64_t i, char *buf, size_t cap) {
  size_t n = canon__format_cell(c, i, buf, cap);
  if (n >= cap)
    return canon__seterr(w->err, CANON_ERR_INTERNAL, "a %s value formats to %zu bytes",
                         canon_type_name(c->type), n);
  return 0;
}

/* Text of a non-NULL, non-string literal: put it in a one-value column and
 * let canon__format_cell write it, so literals and cells never disagree. */
static int scalar_text(pj_writer *w, const canon__value *v, char *buf, size_t cap) {
  canon__colbuilder b;
  if (canon__cb_init(&b, v->type, 1) != 0) return w_nomem(w);
  int rc;
  switch (v->type) {
  case CANON_BOOL: rc = canon__cb_bool(&b, v->v.b); break;
  case CANON_INT64:
  case CANON_TIMESTAMP: rc = canon__cb_i64(&b, v->v.i); break;
  case CANON_FLOAT64: rc = canon__cb_f64(&b, v->v.f); break;
  case CANON_DATE: rc = canon__cb_i32(&b, v->v.d); break;
  default:
    canon__cb_reset(&b);
    return canon__seterr(w->err, CANON_ERR_INTERNAL, "literal of invalid type %d",
                         (int)v->type);
  }
  canon__column *c = rc == 0 ? canon__cb_finish(&b) : NULL;
  if (!c) {
    canon__cb_reset(&b);
    return w_nomem(w);
  }
  rc = cell_text(w, c, 0, buf, cap);
  canon__column_unref(c);
  return rc;
}

/* ---- expressions ------------------------------------------------------- */

static int write_expr(pj_writer *w, const canon_expr *e, int level, cJSON **out);

/* {"lit": "text" | null, "type": "int64"} */
static int write_lit(pj_writer *w, const canon__value *v, cJSON *o) {
  int rc;
  if (v->is_null) {
    rc = attach(w, o, "lit", cJSON_CreateNull());
  } else if (v->type == CANON_STRING) {
    rc = add_bytes(w, o, "lit", v->s ? v->s : "", v->s ? v->slen : 0, "a string literal");
  } else {
    char buf[64];
    rc = scalar_text(w, v, buf, sizeof buf);
    if (rc == 0) rc = add_string(w, o, "lit", buf);
  }
  if (rc == 0) rc = add_string(w, o, "type", canon_type_name(v->type));
  return rc;
}

/* {"fn": "add", "to": "int64" (casts only), "args": [EXPR, ...]} */
static int write_call(pj_writer *w, const canon_expr *e, int level, cJSON *o) {
  const char *name = canon__fn_name(e->fn);
  if (!name)
    return canon__seterr(w->err, CANON_ERR_INTERNAL, "expression with unknown function %d",
                         (int)e->fn);
  int rc = add_string(w, o, "fn", name);
  if (rc == 0 && (e->fn == CANON__F_CAST || e->fn == CANON__F_TRY_CAST))
    rc = add_string(w, o, "to", canon_type_name(e->cast_to));
  cJSON *args = rc == 0 ? add_array(w, o, "args") : NULL;
  if (!args) return rc ? rc : CANON_ERR_NOMEM;
  for (int i = 0; i < e->nargs; i++) {
    cJSON *a;
    rc = write_expr(w, e->args[i], level + 2, &a);
    if (rc == 0)
      rc = attach(w, args, NULL, a);
    else
      cJSON_Delete(a);
    if (rc) return rc;
  }
  return 0;
}

/* One expression as a JSON object at nesting `level`; *out receives it
 * (possibly partial on error: the caller deletes it). */
static int write_expr(pj_writer *w, const canon_expr *e, int level, cJSON **out) {
  *out = NULL;
  if (!e) return canon__seterr(w->err, CANON_ERR_INTERNAL, "NULL expression in a plan node");
  /* Checked before recursing further, so an absurdly deep expression built
   * through the API cannot exhaust the stack here either. */
  if (level > PJ_MAX_EXPR_LEVEL)
    return canon__seterr(w->err, CANON_ERR_UNSUPPORTED,
                         "an expression is nested too deeply for plan JSON "
                         "(the document may nest at most %d levels)",
                         CJSON_NESTING_LIMIT);
  cJSON *o = cJSON_CreateObject();
  if (!o) return w_nomem(w);
  *out = o;
  switch (e->kind) {
  case CANON__E_COL: return add_string(w, o, "col", e->name);
  case CANON__E_LIT: return write_lit(w, &e->lit, o);
  case CANON__E_CALL:
  case CANON__E_AGG: return write_call(w, e, level, o);
  }
  return canon__seterr(w->err, CANON_ERR_INTERNAL, "expression of unknown kind %d",
                       (int)e->kind);
}

int canon__pj_write_expr(canon_error *err, const canon_expr *e, int level, cJSON **out) {
  pj_writer w = {.err = err};
  int rc = write_expr(&w, e, level, out);
  free(w.scratch);
  return rc;
}

/* [{"name": ..., "expr": EXPR}, ...] for select, assign and aggregate;
 * expression objects sit at nesting level 6 (root, nodes, node, array,
 * column object, expression). */
static int write_named_exprs(pj_writer *w, const canon_df *n, cJSON *obj, const char *key) {
  cJSON *arr = add_array(w, obj, key);
  if (!arr) return CANON_ERR_NOMEM;
  for (int i = 0; i < n->nexprs; i++) {
    cJSON *c = cJSON_CreateObject();
    int rc = attach(w, arr, NULL, c);
    if (rc) return rc;
    const canon_expr *e = n->exprs[i];
    /* A select of a bare column may leave its name implied. */
    const char *name = n->names && n->names[i]        ? n->names[i]
                       : e && e->kind == CANON__E_COL ? e->name
                                                      : NULL;
    if (!name) return canon__seterr(w->err, CANON_ERR_INTERNAL, "output %d has no name", i);
    rc = add_string(w, c, "name", name);
    cJSON *x = NULL;
    if (rc == 0) rc = write_expr(w, e, 6, &x);
    if (rc == 0)
      rc = attach(w, c, "expr", x);
    else
      cJSON_Delete(x);
    if (rc) return rc;
  }
  return 0;
}

/* ---- schemas and sort keys --------------------------------------------- */

/* [{"name": "a", "type": "int64"}, ...] */
static int write_schema(pj_writer *w, cJSON *obj, const canon_schema *s) {
  cJSON *arr = add_array(w, obj, "schema");
  if (!arr) return CANON_ERR_NOMEM;
  for (int i = 0; s && i < s->n; i++) {
    cJSON *f = cJSON_CreateObject();
    int rc = attach(w, arr, NULL, f);
    if (rc == 0) rc = add_string(w, f, "name", s->names[i]);
    if (rc == 0) rc = add_string(w, f, "type", canon_type_name(s->types[i]));
    if (rc) return rc;
  }
  return 0;
}

/* [{"column": "k", "direction": "SORT_DIRECTION_ASC_NULLS_LAST"}, ...] */
static int write_sort_keys(pj_writer *w, cJSON *obj, const char *key,
                           const canon_sort_key *keys, int n) {
  cJSON *arr = add_array(w, obj, key);
  if (!arr) return CANON_ERR_NOMEM;
  for (int i = 0; i < n; i++) {
    cJSON *k = cJSON_CreateObject();
    int rc = attach(w, arr, NULL, k);
    if (rc == 0) rc = add_string(w, k, "column", keys[i].column);
    int dir = (keys[i].descending ? 2 : 0) + (keys[i].nulls_first ? 1 : 0);
    if (rc == 0) rc = add_string(w, k, "direction", canon__pj_directions[dir]);
    if (rc) return rc;
  }
  return 0;
}

static int write_string_array(pj_writer *w, cJSON *obj, const char *key, char *const *items,
                              int n) {
  cJSON *arr = add_array(w, obj, key);
  if (!arr) return CANON_ERR_NOMEM;
  for (int i = 0; i < n; i++) {
    int rc = add_string(w, arr, NULL, items[i]);
    if (rc) return rc;
  }
  return 0;
}

/* "rows": [[cell, ...], ...] with cells in canonical CSV text, NULL as null. */
static int write_rows(pj_writer *w, cJSON *obj, const canon_table *t) {
  cJSON *rows = add_array(w, obj, "rows");
  if (!rows) return CANON_ERR_NOMEM;
  for (int64_t r = 0; r < t->nrows; r++) {
    cJSON *row = cJSON_CreateArray();
    int rc = attach(w, rows, NULL, row);
    for (int c = 0; rc == 0 && c < t->schema->n; c++) {
      const canon__column *col = t->cols[c];
      if (!canon__valid(col, r)) {
        rc = attach(w, row, NULL, cJSON_CreateNull());
      } else if (col->type == CANON_STRING) {
        size_t len;
        const char *bytes = canon__str(col, r, &len);
        rc = add_bytes(w, row, NULL, bytes, len, "a string cell of the table");
      } else {
        char buf[64];
        rc = cell_text(w, col, r, buf, sizeof buf);
        if (rc == 0) rc = add_string(w, row, NULL, buf);
      }
    }
    if (rc) return rc;
  }
  return 0;
}

/* ---- nodes ------------------------------------------------------------- */

/* The new id of a node already written. */
static int new_id(pj_writer *w, const canon_df *n) {
  intptr_t v = 0;
  canon__pjmap_get(&w->ids, (uintptr_t)n, &v);
  return (int)v;
}

/* The op-specific keys of one node, in the order the format fixes. */
static int write_node_body(pj_writer *w, const canon_df *n, cJSON *o) {
  int rc;
  switch (n->kind) {
  case CANON__N_READ_CSV: {
    char delim[2] = {n->delimiter ? n->delimiter : ',', '\0'};
    rc = add_string(w, o, "path", n->path);
    /* Always the schema, inferred or not: the process that reads the plan
     * must not infer again (it could see a different file). */
    if (rc == 0) rc = write_schema(w, o, n->csv_schema ? n->csv_schema : n->schema);
    if (rc == 0) rc = add_string(w, o, "delimiter", delim);
    return rc;
  }
  case CANON__N_TABLE:
    if (!n->table) return canon__seterr(w->err, CANON_ERR_INTERNAL, "the node holds no table");
    rc = write_schema(w, o, n->table->schema);
    if (rc == 0 && w->hook) return attach(w, o, "rows", cJSON_CreateArray()); /* rows: the hook's */
    return rc ? rc : write_rows(w, o, n->table);
  case CANON__N_SELECT:
  case CANON__N_ASSIGN: return write_named_exprs(w, n, o, "columns");
  case CANON__N_FILTER: {
    cJSON *x = NULL;
    rc = n->nexprs == 1 ? write_expr(w, n->exprs[0], 4, &x)
                        : canon__seterr(w->err, CANON_ERR_INTERNAL, "no predicate");
    if (rc == 0) return attach(w, o, "predicate", x);
    cJSON_Delete(x);
    return rc;
  }
  case CANON__N_AGGREGATE:
    rc = write_string_array(w, o, "keys", n->keys, n->nkeys);
    if (rc == 0) rc = write_named_exprs(w, n, o, "aggregates");
    if (rc == 0) rc = attach(w, o, "drop_null_keys", cJSON_CreateBool(n->drop_null_keys));
    return rc;
  case CANON__N_SORT: return write_sort_keys(w, o, "keys", n->sort, n->nsort);
  case CANON__N_LIMIT: return add_i64_string(w, o, "n", n->n);
  case CANON__N_TRANSFORM: {
    rc = add_string(w, o, "name", n->transform);
    if (rc == 0) rc = write_schema(w, o, n->schema);
    cJSON *p = cJSON_CreateObject();
    if (rc == 0)
      rc = attach(w, o, "partition", p);
    else
      cJSON_Delete(p);
    if (rc == 0) rc = write_string_array(w, p, "by", n->keys, n->nkeys);
    if (rc == 0) rc = add_i64_string(w, p, "num", n->n);
    if (rc == 0) rc = write_sort_keys(w, p, "presort", n->sort, n->nsort);
    return rc;
  }
  case CANON__N_DROPNA: case CANON__N_FILLNA: case CANON__N_TAKE: case CANON__N_SAMPLE:
  case CANON__N_RENAME: case CANON__N_DROP: case CANON__N_CAST: case CANON__N_REPARTITION:
  case CANON__N_PERSIST:
    return canon__pj_write_rowops(w->err, n, o);
  case CANON__N_JOIN: case CANON__N_UNION_ALL: case CANON__N_UNION: case CANON__N_INTERSECT:
  case CANON__N_INTERSECT_ALL: case CANON__N_EXCEPT: case CANON__N_EXCEPT_ALL:
  case CANON__N_DISTINCT:
    return canon__pj_write_joins(w->err, n, o);
  default: break;
  }
  return canon__seterr(w->err, CANON_ERR_UNSUPPORTED,
                       "plan JSON cannot carry nodes of kind %d yet", (int)n->kind);
}

/* {"id": .., "op": .., "input": .., <op keys>} appended to nodes. */
static int write_node(pj_writer *w, const canon_df *n, cJSON *nodes) {
  /* Internal variant: a computed persist travels as a table of its rows. */
  bool kept = w->hook && n->kind == CANON__N_PERSIST && n->table;
  const char *op = kept ? "table" : canon__node_kind_name(n->kind);
  if (!op)
    return canon__seterr(w->err, CANON_ERR_UNSUPPORTED,
                         "plan JSON cannot carry nodes of kind %d", (int)n->kind);
  cJSON *o = cJSON_CreateObject();
  int rc = attach(w, nodes, NULL, o);
  if (rc == 0) rc = add_int(w, o, "id", new_id(w, n));
  if (rc == 0) rc = add_string(w, o, "op", op);
  if (rc == 0 && n->ninputs > 1) {
    /* Two-input ops: "inputs": [first, second]. */
    cJSON *ins = add_array(w, o, "inputs");
    for (int i = 0; ins && rc == 0 && i < n->ninputs; i++)
      rc = add_int(w, ins, NULL, new_id(w, n->inputs[i]));
    if (!ins) rc = CANON_ERR_NOMEM;
  }
  if (rc == 0 && n->ninputs == 1 && !kept) rc = add_int(w, o, "input", new_id(w, n->inputs[0]));
  if (rc == 0 && kept) rc = write_schema(w, o, n->table->schema);
  if (rc == 0 && kept) rc = attach(w, o, "rows", cJSON_CreateArray());
  if (rc == 0 && !kept) rc = write_node_body(w, n, o);
  return rc == 0 && w->hook ? w->hook(w->hook_ctx, n, o, w->err) : rc;
}

/* Fill w->order with every node below root, inputs first, each once, and
 * number them 1..n.  Iterative: a long chain of steps must not be limited
 * by the C stack. */
static int order_nodes(pj_writer *w, const canon_df *root) {
  typedef struct frame {
    const canon_df *node;
    int next;
  } frame;
  frame *stack = NULL;
  int depth = 0, cap = 0, cap_order = 0, rc = 0;
  if (canon__pjmap_put(&w->ids, (uintptr_t)root, 0) != 0) return w_nomem(w);
  const canon_df *push = root;
  while (push || depth > 0) {
    if (push) {
      if (depth == cap) {
        cap = cap ? cap * 2 : 16;
        frame *ns = canon__reallocarray(stack, (size_t)cap, sizeof *ns);
        if (!ns) goto oom;
        stack = ns;
      }
      stack[depth++] = (frame){push, 0};
      push = NULL;
    }
    frame *top = &stack[depth - 1];
    const canon_df *n = top->node;
    bool kept = w->hook && n->kind == CANON__N_PERSIST && n->table; /* inputs not needed */
    if (top->next < n->ninputs && top->next < 2 && !kept) {
      const canon_df *in = n->inputs[top->next++];
      intptr_t seen;
      if (!in) {
        rc = canon__seterr(w->err, CANON_ERR_INTERNAL, "node %d has a NULL input", n->id);
        goto done;
      }
      if (canon__pjmap_get(&w->ids, (uintptr_t)in, &seen)) continue;
      if (canon__pjmap_put(&w->ids, (uintptr_t)in, 0) != 0) goto oom;
      push = in;
      continue;
    }
    /* Every input is numbered: this node comes next. */
    if (w->norder == cap_order) {
      cap_order = cap_order ? cap_order * 2 : 16;
      const canon_df **no = canon__reallocarray(w->order, (size_t)cap_order, sizeof *no);
      if (!no) goto oom;
      w->order = no;
    }
    w->order[w->norder++] = n;
    if (canon__pjmap_put(&w->ids, (uintptr_t)n, w->norder) != 0) goto oom;
    depth--;
  }
  goto done;
oom:
  rc = w_nomem(w);
done:
  free(stack);
  return rc;
}

/* ---- the public entry point -------------------------------------------- */

/* "sink": {"kind": "csv", "path": ...}, or nothing without a sink. */
static int write_sink(pj_writer *w, cJSON *doc, const canon_sink *sink) {
  if (!sink || !sink->kind) return 0;
  if (strcmp(sink->kind, "csv") != 0)
    return canon__seterr(w->err, CANON_ERR_INVALID,
                         "unsupported sink kind '%s' (plan JSON knows \"csv\")", sink->kind);
  if (!sink->path || !*sink->path)
    return canon__seterr(w->err, CANON_ERR_INVALID, "a csv sink needs a path");
  cJSON *o = cJSON_CreateObject();
  int rc = attach(w, doc, "sink", o);
  if (rc == 0) rc = add_string(w, o, "kind", sink->kind);
  if (rc == 0) rc = add_string(w, o, "path", sink->path);
  return rc;
}

static char *plan_to_json(const canon_df *df, const canon_sink *sink, canon__pj_write_hook hook,
                          void *hook_ctx, canon_error *err) {
  if (!df) {
    canon__seterr(err, CANON_ERR_INVALID, "canon_plan_to_json: dataframe is NULL");
    return NULL;
  }
  pj_writer w = {.err = err, .hook = hook, .hook_ctx = hook_ctx};
  char *text = NULL;
  cJSON *doc = cJSON_CreateObject();
  int rc = doc ? order_nodes(&w, df) : w_nomem(&w);
  if (rc == 0) rc = add_int(&w, doc, "canon_plan", CANON_PLAN_FORMAT_VERSION);
  cJSON *nodes = rc == 0 ? add_array(&w, doc, "nodes") : NULL;
  if (rc == 0 && !nodes) rc = CANON_ERR_NOMEM;
  for (int i = 0; rc == 0 && i < w.norder; i++) {
    const canon_df *n = w.order[i];
    rc = write_node(&w, n, nodes);
    if (rc && rc != CANON_ERR_NOMEM)
      canon__errprefix(err, "cannot write plan JSON: node %d (%s)",
                       n->origin_id ? n->origin_id : n->id,
                       canon__node_kind_name(n->kind) ? canon__node_kind_name(n->kind) : "?");
  }
  if (rc == 0) rc = add_int(&w, doc, "root", w.norder);
  if (rc == 0) rc = write_sink(&w, doc, sink);
  if (rc == 0) {
    /* Copied so the caller frees with free() whatever hooks cJSON uses. */
    char *printed = cJSON_Print(doc);
    text = printed ? canon__strdup(printed) : NULL;
    cJSON_free(printed);
    if (!text) w_nomem(&w);
  }
  cJSON_Delete(doc);
  canon__pjmap_reset(&w.ids);
  free(w.order);
  free(w.scratch);
  return text;
}

char *canon_plan_to_json(const canon_df *df, const canon_sink *sink, canon_error *err) {
  return plan_to_json(df, sink, NULL, NULL, err);
}

char *canon__plan_to_json_hooked(const canon_df *df, canon__pj_write_hook hook, void *ctx,
                                 canon_error *err) {
  return plan_to_json(df, NULL, hook, ctx, err);
}
