/* plan_json_read.c — loading a plan from JSON (docs/plan-format.md).
 *
 * canon_plan_from_json parses the document, checks the version, then reads
 * the nodes in order, building each through the public builder of its op
 * (canon_filter, ...), so a plan read from JSON is validated exactly like one
 * written in C; a builder's message gets the node's path, op and id in front.
 * The checked accessors and expression reading live in plan_json_check.c.
 *
 * Sections: nodes, one function per op; node ids; the document and the
 * public entry point.
 */
#include "plan_json.h"

#include <limits.h>
#include <stdio.h>

static const char *const column_keys[] = {"name", "expr"};
static const char *const partition_keys[] = {"by", "num", "presort"};
static const char *const sink_keys[] = {"kind", "path"};

/* ---- nodes, one function per op ---------------------------------------- */

/* A builder refused the node: put the node's path, op and id in front of
 * its message.  `sub` (may be NULL) points deeper, at the expression the
 * builder stumbled on.  The builder labels its message "filter node 12"
 * with the session's id, which means nothing to the reader of the
 * document, so that label gives way to the JSON one. */
static int builder_failed(canon__pj_reader *r, const char *sub) {
  char label[96];
  int len = snprintf(label, sizeof label, "%s node ", r->cur_op);
  char *m = r->err->message;
  if (len > 0 && (size_t)len < sizeof label && strncmp(m, label, (size_t)len) == 0) {
    size_t k = (size_t)len;
    while (m[k] >= '0' && m[k] <= '9') k++;
    if (k > (size_t)len && m[k] == ':' && m[k + 1] == ' ')
      memmove(m, m + k + 2, strlen(m + k + 2) + 1);
  }
  size_t mark = sub ? canon__pj_push(r, "%s", sub) : r->plen;
  canon__errprefix(r->err, "%s: %s (%s, id %d)", r->origin, canon__pj_path(r), r->cur_op,
                   r->cur_id);
  canon__pj_pop(r, mark);
  return r->err->code ? r->err->code : CANON_ERR_PLAN;
}

int canon__pj_builder_failed(canon__pj_reader *r, const char *sub) {
  return builder_failed(r, sub);
}

/* Output columns [{"name": .., "expr": ..}, ...] of select, assign and
 * aggregate. */
typedef struct pj_outputs {
  int n;
  canon_expr **exprs;
  const char **names; /* point into the document */
} pj_outputs;

static void outputs_reset(pj_outputs *o) {
  for (int i = 0; o->exprs && i < o->n; i++) canon_expr_free(o->exprs[i]);
  free(o->exprs);
  free(o->names);
  memset(o, 0, sizeof *o);
}

static int read_outputs(canon__pj_reader *r, const cJSON *j, const char *key, pj_outputs *o) {
  int rc;
  memset(o, 0, sizeof *o);
  const cJSON *a = canon__pj_member_of(r, j, key, true, cJSON_IsArray, "an array", &rc);
  if (!a) return rc;
  int count = cJSON_GetArraySize(a), i = 0;
  o->exprs = canon__calloc((size_t)count, sizeof *o->exprs);
  o->names = canon__calloc((size_t)count, sizeof *o->names);
  o->n = count;
  if (!o->exprs || !o->names) rc = canon__nomem(r->err);
  for (const cJSON *c = a->child; c && rc == 0; c = c->next, i++) {
    size_t mark = canon__pj_push(r, ".%s[%d]", key, i);
    if (!cJSON_IsObject(c))
      rc = canon__pj_fail(r, CANON_ERR_PLAN, "an output column must be an object, got %s",
                          canon__pj_jtype(c));
    if (rc == 0) rc = canon__pj_keys(r, c, column_keys, 2);
    if (rc == 0) rc = canon__pj_string(r, c, "name", true, &o->names[i]);
    if (rc == 0) rc = canon__pj_expr(r, c, "expr", &o->exprs[i]);
    canon__pj_pop(r, mark);
  }
  if (rc) outputs_reset(o);
  return rc;
}

/* After a builder refused outputs: the first expression that does not bind
 * on its own against the input names the place; -1 when none does (the
 * problem is elsewhere, e.g. a duplicate output name). */
static int find_bad_expr(canon_expr *const *exprs, int n, const canon_df *in, bool agg) {
  for (int i = 0; i < n; i++) {
    canon_error tmp;
    canon_expr *b = canon__expr_bind(exprs[i], canon_df_schema(in), agg, &tmp);
    if (!b) return i;
    canon_expr_free(b);
  }
  return -1;
}

/* Hand outputs to the builder of `kind` (select, assign, aggregate), which
 * takes the expressions; a reference is kept meanwhile to locate a failure. */
static int build_outputs(canon__pj_reader *r, const char *key, canon_df *in, pj_outputs *o,
                         canon__node_kind kind, const char *const *keys, int nkeys,
                         canon_df **out) {
  bool agg = kind == CANON__N_AGGREGATE;
  for (int i = 0; i < o->n; i++) canon_expr_ref(o->exprs[i]);
  *out = agg ? canon_aggregate(in, keys, nkeys, o->exprs, o->names, o->n, r->err)
         : kind == CANON__N_SELECT ? canon_select(in, o->exprs, o->names, o->n, r->err)
                                   : canon_assign(in, o->exprs, o->names, o->n, r->err);
  int rc = 0;
  if (!*out) {
    int bad = find_bad_expr(o->exprs, o->n, in, agg);
    char sub[64];
    if (bad >= 0) snprintf(sub, sizeof sub, ".%s[%d].expr", key, bad);
    rc = builder_failed(r, bad >= 0 ? sub : NULL);
  }
  outputs_reset(o); /* drops the references kept above */
  return rc;
}

static int op_select(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  pj_outputs o;
  int rc = read_outputs(r, j, "columns", &o);
  return rc ? rc : build_outputs(r, "columns", in, &o, CANON__N_SELECT, NULL, 0, out);
}

static int op_assign(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  pj_outputs o;
  int rc = read_outputs(r, j, "columns", &o);
  return rc ? rc : build_outputs(r, "columns", in, &o, CANON__N_ASSIGN, NULL, 0, out);
}

static int op_aggregate(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  const char **keys;
  int nkeys, rc;
  pj_outputs o;
  const cJSON *dn =
      canon__pj_member_of(r, j, "drop_null_keys", false, cJSON_IsBool, "true or false", &rc);
  if (rc) return rc;
  if ((rc = canon__pj_names(r, j, "keys", true, &keys, &nkeys))) return rc;
  if ((rc = read_outputs(r, j, "aggregates", &o)) == 0)
    rc = build_outputs(r, "aggregates", in, &o, CANON__N_AGGREGATE, keys, nkeys, out);
  free(keys);
  /* canon_aggregate has no parameter for the option; it is a plain field
   * of the node, read only when the plan runs. */
  if (rc == 0) (*out)->drop_null_keys = cJSON_IsTrue(dn);
  return rc;
}

static int op_filter(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  canon_expr *pred;
  int rc = canon__pj_expr(r, j, "predicate", &pred);
  if (rc) return rc;
  canon_expr_ref(pred);
  *out = canon_filter(in, pred, r->err);
  if (!*out) {
    bool bad = find_bad_expr(&pred, 1, in, false) == 0;
    rc = builder_failed(r, bad ? ".predicate" : NULL);
  }
  canon_expr_free(pred);
  return rc;
}

static int op_sort(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  canon_sort_key *keys;
  int n, rc = canon__pj_sort_keys(r, j, "keys", true, &keys, &n);
  if (rc) return rc;
  *out = canon_sort(in, keys, n, r->err);
  free(keys);
  return *out ? 0 : builder_failed(r, NULL);
}

static int op_limit(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  int64_t n = -1;
  int rc;
  if (!canon__pj_member(r, j, "n", true, &rc)) return rc;
  if ((rc = canon__pj_i64(r, j, "n", 0, INT64_MAX, &n))) return rc;
  *out = canon_limit(in, n, r->err);
  return *out ? 0 : builder_failed(r, NULL);
}

static int op_transform(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  const char *name;
  canon_schema *schema = NULL;
  char *text = NULL;
  const char **by = NULL;
  canon_sort_key *presort = NULL;
  canon_partition_spec spec = {0};
  int64_t num = 0;
  int rc = canon__pj_string(r, j, "name", true, &name);
  if (rc == 0) rc = canon__pj_schema(r, j, true, &schema);
  if (rc == 0) rc = canon__pj_schema_text(r, schema, "a transform", &text);
  const cJSON *p =
      rc ? NULL
         : canon__pj_member_of(r, j, "partition", false, cJSON_IsObject, "an object", &rc);
  if (p) {
    size_t mark = canon__pj_push(r, ".partition");
    rc = canon__pj_keys(r, p, partition_keys, 3);
    if (rc == 0) rc = canon__pj_names(r, p, "by", false, &by, &spec.num_by);
    if (rc == 0) rc = canon__pj_i64(r, p, "num", 0, INT_MAX, &num);
    if (rc == 0) rc = canon__pj_sort_keys(r, p, "presort", false, &presort, &spec.num_presort);
    canon__pj_pop(r, mark);
  }
  if (rc == 0) {
    spec.by = by;
    spec.num = (int)num;
    spec.presort = presort;
    *out = canon_transform(in, name, text, &spec, r->err);
    if (!*out)
      rc = builder_failed(r, NULL);
    else if (!canon__schema_equal(canon_df_schema(*out), schema))
      rc = canon__pj_fail_at(r, "schema", CANON_ERR_INTERNAL,
                             "the declared schema did not survive its text form");
  }
  free(by);
  free(presort);
  free(text);
  canon_schema_free(schema);
  return rc;
}

static int op_read_csv(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  (void)in;
  const char *path, *delim = NULL;
  canon_schema *schema = NULL;
  char *text = NULL;
  canon_csv_options opts = {0};
  int rc = canon__pj_string(r, j, "path", true, &path);
  if (rc == 0) rc = canon__pj_schema(r, j, false, &schema);
  if (rc == 0 && schema) rc = canon__pj_schema_text(r, schema, "read_csv", &text);
  if (rc == 0) rc = canon__pj_string(r, j, "delimiter", false, &delim);
  if (rc == 0 && delim && strlen(delim) != 1)
    rc = canon__pj_fail_at(r, "delimiter", CANON_ERR_PLAN, "must be a one-character string");
  if (rc == 0) {
    opts.schema = text;
    opts.delimiter = delim ? delim[0] : ',';
    *out = canon_read_csv(r->s, path, &opts, r->err);
    if (!*out)
      rc = builder_failed(r, NULL);
    else if (schema && !canon__schema_equal(canon_df_schema(*out), schema))
      rc = canon__pj_fail_at(r, "schema", CANON_ERR_INTERNAL,
                             "the declared schema did not survive its text form");
  }
  free(text);
  canon_schema_free(schema);
  return rc;
}

static int op_table(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  (void)in;
  canon_schema *schema;
  canon_table *t = NULL;
  int rc = canon__pj_schema(r, j, true, &schema);
  if (rc == 0) rc = canon__pj_rows(r, j, schema, &t);
  if (rc == 0) {
    *out = canon_from_table(r->s, t, r->err);
    if (!*out) rc = builder_failed(r, NULL);
  }
  canon_table_free(t);
  canon_schema_free(schema);
  return rc;
}

/* What each op reads, indexed by node kind. */
typedef struct pj_op {
  int (*read)(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out);
  bool has_input;
  int nkeys;
  const char *keys[7];
  bool two_inputs;  /* "inputs": [a, b]; the second arrives in r->in2 */
} pj_op;

static const pj_op ops[CANON__N__COUNT] = {
  [CANON__N_READ_CSV] = {op_read_csv, false, 5, {"id", "op", "path", "schema", "delimiter"}},
  [CANON__N_TABLE] = {op_table, false, 4, {"id", "op", "schema", "rows"}},
  [CANON__N_SELECT] = {op_select, true, 4, {"id", "op", "input", "columns"}},
  [CANON__N_FILTER] = {op_filter, true, 4, {"id", "op", "input", "predicate"}},
  [CANON__N_ASSIGN] = {op_assign, true, 4, {"id", "op", "input", "columns"}},
  [CANON__N_AGGREGATE] = {op_aggregate, true, 6,
                          {"id", "op", "input", "keys", "aggregates", "drop_null_keys"}},
  [CANON__N_SORT] = {op_sort, true, 4, {"id", "op", "input", "keys"}},
  [CANON__N_LIMIT] = {op_limit, true, 4, {"id", "op", "input", "n"}},
  [CANON__N_TRANSFORM] = {op_transform, true, 6,
                          {"id", "op", "input", "name", "schema", "partition"}},
  [CANON__N_DROPNA] = {canon__pj_read_dropna, true, 6,
                       {"id", "op", "input", "how", "subset", "thresh"}},
  [CANON__N_FILLNA] = {canon__pj_read_fillna, true, 4, {"id", "op", "input", "values"}},
  [CANON__N_TAKE] = {canon__pj_read_take, true, 6, {"id", "op", "input", "n", "presort", "by"}},
  [CANON__N_SAMPLE] = {canon__pj_read_sample, true, 6,
                       {"id", "op", "input", "fraction", "n", "seed"}},
  [CANON__N_RENAME] = {canon__pj_read_rename, true, 4, {"id", "op", "input", "columns"}},
  [CANON__N_DROP] = {canon__pj_read_drop, true, 4, {"id", "op", "input", "columns"}},
  [CANON__N_CAST] = {canon__pj_read_cast, true, 5, {"id", "op", "input", "columns", "try"}},
  [CANON__N_REPARTITION] = {canon__pj_read_repartition, true, 5,
                            {"id", "op", "input", "num", "by"}},
  [CANON__N_PERSIST] = {canon__pj_read_persist, true, 3, {"id", "op", "input"}},
  [CANON__N_JOIN] = {.read = canon__pj_read_join, .nkeys = 6, .two_inputs = true,
                     .keys = {"id", "op", "inputs", "type", "keys", "options"}},
  [CANON__N_UNION_ALL] = {canon__pj_read_setop, false, 3, {"id", "op", "inputs"}, true},
  [CANON__N_UNION] = {canon__pj_read_setop, false, 3, {"id", "op", "inputs"}, true},
  [CANON__N_INTERSECT] = {canon__pj_read_setop, false, 3, {"id", "op", "inputs"}, true},
  [CANON__N_INTERSECT_ALL] = {canon__pj_read_setop, false, 3, {"id", "op", "inputs"}, true},
  [CANON__N_EXCEPT] = {canon__pj_read_setop, false, 3, {"id", "op", "inputs"}, true},
  [CANON__N_EXCEPT_ALL] = {canon__pj_read_setop, false, 3, {"id", "op", "inputs"}, true},
  [CANON__N_DISTINCT] = {canon__pj_read_distinct, true, 4, {"id", "op", "input", "subset"}},
};

/* ---- node ids ---------------------------------------------------------- */

/* The node an "input" id names; ids must be defined before they are used,
 * which also rules out cycles. */
static int resolve_input(canon__pj_reader *r, const cJSON *j, int idx, canon_df **in) {
  int id, rc = canon__pj_int(r, j, "input", 1, INT_MAX, &id);
  if (rc) return rc;
  intptr_t at;
  if (canon__pjmap_get(&r->ids, (uintptr_t)id, &at)) {
    *in = r->dfs[at];
    return 0;
  }
  /* Only on error: say whether the id exists further down. */
  int k = 0;
  for (const cJSON *n = r->nodes->child; n; n = n->next, k++) {
    const cJSON *nid = k >= idx ? cJSON_GetObjectItemCaseSensitive(n, "id") : NULL;
    if (!cJSON_IsNumber(nid) || nid->valuedouble != id) continue;
    if (k == idx)
      return canon__pj_fail_at(r, "input", CANON_ERR_PLAN,
                               "a node cannot be its own input (id %d)", id);
    return canon__pj_fail_at(
        r, "input", CANON_ERR_PLAN,
        "node id %d is defined later, at $.nodes[%d] (inputs must come before "
        "the nodes that use them)",
        id, k);
  }
  return canon__pj_fail_at(r, "input", CANON_ERR_PLAN, "no node has id %d", id);
}

/* $.nodes[idx] (the current path): check it, build it, remember its id. */
static int read_node(canon__pj_reader *r, const cJSON *j, int idx) {
  const char *opname;
  char q[128];
  if (!cJSON_IsObject(j))
    return canon__pj_fail(r, CANON_ERR_PLAN, "a node must be an object, got %s",
                          canon__pj_jtype(j));
  /* The op decides which keys are allowed, so it is looked at first. */
  int rc = canon__pj_string(r, j, "op", true, &opname);
  if (rc) return rc;
  canon__node_kind kind = canon__node_kind_from_name(opname);
  if ((int)kind <= 0 || kind >= CANON__N__COUNT || !ops[kind].read) {
    /* List the ops this reader knows, from the same table it dispatches on. */
    char known[512];
    size_t at = 0;
    known[0] = '\0';
    for (int k = 1; k < CANON__N__COUNT && at < sizeof known; k++)
      if (ops[k].read) {
        int n = snprintf(known + at, sizeof known - at, "%s%s", at ? ", " : "",
                         canon__node_kind_name((canon__node_kind)k));
        if (n < 0) break;
        at += (size_t)n;
      }
    return canon__pj_fail_at(r, "op", CANON_ERR_PLAN, "unknown op %s (expected one of: %s)",
                             canon__pj_quote(opname, q, sizeof q), known);
  }
  const pj_op *op = &ops[kind];
  int id;
  canon_df *in = NULL, *df = NULL;
  intptr_t other;
  if (r->hook) {
    /* The internal variant's keys are allowed too. */
    const char *keys[16] = {"origin", "ref", "persist"};
    for (int k = 0; k < op->nkeys && k < 13; k++) keys[3 + k] = op->keys[k];
    rc = canon__pj_keys(r, j, keys, 3 + op->nkeys);
  } else {
    rc = canon__pj_keys(r, j, op->keys, op->nkeys);
  }
  if (rc) return rc;
  if ((rc = canon__pj_int(r, j, "id", 1, INT_MAX, &id))) return rc;
  if (canon__pjmap_get(&r->ids, (uintptr_t)id, &other))
    return canon__pj_fail_at(r, "id", CANON_ERR_PLAN,
                             "duplicate node id %d (also at $.nodes[%d])", id, (int)other);
  if (op->has_input && (rc = resolve_input(r, j, idx, &in))) return rc;
  if (op->two_inputs && (rc = canon__pj_inputs(r, j, idx, &in, &r->in2))) return rc;
  r->cur_op = opname;
  r->cur_id = id;
  if ((rc = op->read(r, j, in, &df))) return rc;
  df->origin_id = id;
  if (r->hook && (rc = r->hook(r->hook_ctx, j, df, r->err))) return rc;
  r->dfs[idx] = df;
  return canon__pjmap_put(&r->ids, (uintptr_t)id, idx) ? canon__nomem(r->err) : 0;
}

/* ---- the document and the public entry point --------------------------- */

/* 1-based line and column (in characters, not bytes) of offset off. */
static void line_col(const char *text, size_t off, int *line, int *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < off && text[i]; i++) {
    if (text[i] == '\n') {
      (*line)++;
      *col = 1;
    } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
      (*col)++;
    }
  }
}

/* A syntax error: "<origin>:L:C: invalid JSON near '...'". */
static int syntax_error(canon__pj_reader *r, const char *text, size_t off, const char *what) {
  int line, col;
  line_col(text, off, &line, &col);
  const char *p = text + off;
  if (!*p)
    return canon__seterr(r->err, CANON_ERR_PLAN, "%s:%d:%d: %s: unexpected end of input",
                         r->origin, line, col, what);
  /* Up to 24 bytes of the rest of the line, not cutting a UTF-8 sequence. */
  char near[32];
  size_t n = 0;
  while (p[n] && p[n] != '\n' && p[n] != '\r' && n < 24) n++;
  while (n > 0 && p[n] && ((unsigned char)p[n] & 0xC0) == 0x80) n--;
  for (size_t i = 0; i < n; i++) near[i] = (unsigned char)p[i] < 0x20 ? ' ' : p[i];
  near[n] = '\0';
  return canon__seterr(r->err, CANON_ERR_PLAN, "%s:%d:%d: %s near '%s'", r->origin, line, col,
                       what, near);
}

/* cJSON turns "\u0000" into a NUL inside its C string, silently cutting the
 * text short; such a document is refused instead.  Every backslash in valid
 * JSON starts a two-character escape, so no string tracking is needed. */
static int check_nul_escapes(canon__pj_reader *r, const char *text) {
  for (size_t i = 0; text[i]; i++) {
    if (text[i] != '\\') continue;
    if (text[i + 1] == 'u' && strncmp(text + i + 2, "0000", 4) == 0)
      return syntax_error(r, text, i, "a string holds \\u0000 (plans cannot carry NUL bytes)");
    if (text[i + 1]) i++;
  }
  return 0;
}

/* "sink": {"kind": "csv", "path": ..}; strings kept by the session. */
static int read_sink(canon__pj_reader *r, const cJSON *doc, canon_sink *out) {
  int rc;
  const cJSON *sink =
      canon__pj_member_of(r, doc, "sink", false, cJSON_IsObject, "an object", &rc);
  if (!sink) return rc;
  const char *kind, *path;
  char q[128];
  size_t mark = canon__pj_push(r, ".sink");
  rc = canon__pj_keys(r, sink, sink_keys, 2);
  if (rc == 0) rc = canon__pj_string(r, sink, "kind", true, &kind);
  if (rc == 0 && strcmp(kind, "csv") != 0)
    rc = canon__pj_fail_at(r, "kind", CANON_ERR_PLAN,
                           "unsupported sink kind %s (expected \"csv\")",
                           canon__pj_quote(kind, q, sizeof q));
  if (rc == 0) rc = canon__pj_string(r, sink, "path", true, &path);
  if (rc == 0 && !*path)
    rc = canon__pj_fail_at(r, "path", CANON_ERR_PLAN, "must not be empty");
  canon__pj_pop(r, mark);
  if (rc || !out) return rc;
  char *k = canon__strdup(kind), *p = canon__strdup(path);
  out->kind = k ? canon__session_keep_string(r->s, k) : NULL;
  out->path = p ? canon__session_keep_string(r->s, p) : NULL;
  if (!out->kind || !out->path) {
    out->kind = out->path = NULL;
    return canon__nomem(r->err);
  }
  return 0;
}

/* The root object: version first (a newer document should say so, not
 * trip over keys this build does not know), then nodes, root and sink. */
static int read_document(canon__pj_reader *r, const cJSON *doc, canon_df **root,
                         canon_sink *sink) {
  static const char *const doc_keys[] = {"canon_plan", "nodes", "root", "sink"};
  if (!cJSON_IsObject(doc))
    return canon__pj_fail(r, CANON_ERR_PLAN, "a plan must be a JSON object, got %s",
                          canon__pj_jtype(doc));
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "canon_plan");
  if (!v)
    return canon__pj_fail(r, CANON_ERR_PLAN,
                          "missing required key \"canon_plan\" (the plan format "
                          "version, %d)",
                          CANON_PLAN_FORMAT_VERSION);
  if (!cJSON_IsNumber(v) || v->valuedouble != CANON_PLAN_FORMAT_VERSION) {
    if (cJSON_IsNumber(v))
      return canon__pj_fail_at(
          r, "canon_plan", CANON_ERR_PLAN,
          "unsupported plan format version %.17g (this build reads version %d)",
          v->valuedouble, CANON_PLAN_FORMAT_VERSION);
    return canon__pj_fail_at(r, "canon_plan", CANON_ERR_PLAN, "must be the number %d, got %s",
                             CANON_PLAN_FORMAT_VERSION, canon__pj_jtype(v));
  }
  int rc = canon__pj_keys(r, doc, doc_keys, 4);
  if (rc) return rc;
  r->nodes = canon__pj_member_of(r, doc, "nodes", true, cJSON_IsArray, "an array", &rc);
  if (!r->nodes) return rc;
  int n = cJSON_GetArraySize(r->nodes), i = 0;
  if (n == 0)
    return canon__pj_fail_at(r, "nodes", CANON_ERR_PLAN, "a plan needs at least one node");
  r->dfs = canon__calloc((size_t)n, sizeof *r->dfs);
  if (!r->dfs) return canon__nomem(r->err);
  for (const cJSON *j = r->nodes->child; j && rc == 0; j = j->next, i++) {
    size_t mark = canon__pj_push(r, ".nodes[%d]", i);
    rc = read_node(r, j, i);
    canon__pj_pop(r, mark);
  }
  int id;
  intptr_t at;
  if (rc == 0) rc = canon__pj_int(r, doc, "root", 1, INT_MAX, &id);
  if (rc == 0 && !canon__pjmap_get(&r->ids, (uintptr_t)id, &at))
    rc = canon__pj_fail_at(r, "root", CANON_ERR_PLAN, "no node has id %d", id);
  if (rc == 0) rc = read_sink(r, doc, sink);
  if (rc == 0) *root = r->dfs[at];
  return rc;
}

static int plan_from_json(canon_session *s, const char *json, const char *origin,
                          canon_df **root, canon_sink *sink_out, canon__pj_read_hook hook,
                          void *hook_ctx, canon_error *err) {
  if (root) *root = NULL;
  if (sink_out) sink_out->kind = sink_out->path = NULL;
  if (!s || !json || !root)
    return canon__seterr(err, CANON_ERR_INVALID,
                         "canon_plan_from_json: session, json and root are required");
  /* Work on a local error so codes are known even when err is NULL. */
  canon_error local = {0};
  canon__pj_reader r = {.s = s, .origin = origin ? origin : "<plan>", .err = &local,
                        .hook = hook, .hook_ctx = hook_ctx};
  canon__pj_push(&r, "$");
  int rc = check_nul_escapes(&r, json);
  cJSON *doc = NULL;
  if (rc == 0) {
    const char *end = NULL;
    size_t len = strlen(json);
    /* The length includes the NUL so cJSON checks that nothing follows the
     * value (require_null_terminated looks for that NUL). */
    doc = cJSON_ParseWithLengthOpts(json, len + 1, &end, true);
    if (!doc) {
      size_t off = end && end >= json && end <= json + len ? (size_t)(end - json) : len;
      rc = syntax_error(&r, json, off, "invalid JSON");
    }
  }
  if (rc == 0) rc = read_document(&r, doc, root, sink_out);
  if (rc) {
    *root = NULL;
    if (sink_out) sink_out->kind = sink_out->path = NULL;
    if (!local.code) local.code = rc;
    if (err) *err = local;
  }
  cJSON_Delete(doc);
  canon__pjmap_reset(&r.ids);
  free(r.dfs);
  free(r.path);
  return rc;
}

int canon_plan_from_json(canon_session *s, const char *json, const char *origin,
                         canon_df **root, canon_sink *sink_out, canon_error *err) {
  return plan_from_json(s, json, origin, root, sink_out, NULL, NULL, err);
}

int canon__plan_from_json_hooked(canon_session *s, const char *json, canon__pj_read_hook hook,
                                 void *ctx, canon_df **root, canon_error *err) {
  return plan_from_json(s, json, "<job>", root, NULL, hook, ctx, err);
}
