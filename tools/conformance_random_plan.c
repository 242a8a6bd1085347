/* conformance_random_plan.c — random plans as documents, and the analysis
 * that says how a plan's result may be compared (docs/semantics.md §2):
 * exactly (order defined), run by run of sort ties (a sort over rows of
 * undefined order), or as a multiset — or not at all, when the semantics
 * leave the rows themselves open (a limit, take, sample or distinct-subset
 * over rows of undefined order).  The generator drops such nodes; the
 * minimizer rejects reductions that create them. */
#include "conformance_random.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rnd_plan_free(rnd_plan *p) {
  for (int t = 0; t < p->ntabs; t++) {
    rnd_table *tab = &p->tabs[t];
    for (size_t i = 0; tab->cells && i < (size_t)tab->nrows * (size_t)tab->ncols; i++)
      free(tab->cells[i]);
    free(tab->cells);
    free(tab->keep);
  }
  cJSON_Delete(p->nodes);
  memset(p, 0, sizeof *p);
}

static int node_id(const cJSON *n) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(n, "id");
  return cJSON_IsNumber(id) ? id->valueint : 0;
}

static const char *node_op(const cJSON *n) {
  const cJSON *op = cJSON_GetObjectItemCaseSensitive(n, "op");
  return cJSON_IsString(op) ? op->valuestring : "";
}

/* The ids n reads (0, 1 or 2 of them) into in[]; returns how many. */
static int node_inputs(const cJSON *n, int in[2]) {
  const cJSON *one = cJSON_GetObjectItemCaseSensitive(n, "input");
  const cJSON *two = cJSON_GetObjectItemCaseSensitive(n, "inputs");
  if (cJSON_IsNumber(one)) {
    in[0] = one->valueint;
    return 1;
  }
  int k = 0;
  for (const cJSON *e = cJSON_IsArray(two) ? two->child : NULL; e && k < 2; e = e->next)
    in[k++] = e->valueint;
  return k;
}

/* reach[i] = 1 for the nodes (by array position) the node `root` reads. */
static void reachable(const rnd_plan *p, int root, unsigned char *reach, int n) {
  memset(reach, 0, (size_t)n);
  int want[256] = {0}, nwant = 0;
  want[nwant++] = root;
  for (int i = n - 1; i >= 0; i--) {
    const cJSON *node = cJSON_GetArrayItem(p->nodes, i);
    int id = node_id(node), hit = 0;
    for (int k = 0; k < nwant && !hit; k++) hit = want[k] == id;
    if (!hit) continue;
    reach[i] = 1;
    int in[2], m = node_inputs(node, in);
    for (int k = 0; k < m && nwant < 256; k++) want[nwant++] = in[k];
  }
}

static const rnd_table *table_named(const rnd_plan *p, const char *name) {
  for (int t = 0; t < p->ntabs; t++)
    if (strcmp(p->tabs[t].name, name) == 0) return &p->tabs[t];
  return NULL;
}

/* The plan-format "table" node for input node n. */
static cJSON *table_node(const rnd_plan *p, const cJSON *n, int schema_only) {
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(n, "name");
  const rnd_table *t = cJSON_IsString(name) ? table_named(p, name->valuestring) : NULL;
  cJSON *o = cJSON_CreateObject(), *schema = cJSON_CreateArray(), *rows = cJSON_CreateArray();
  if (!t || !o || !schema || !rows) goto fail;
  cJSON_AddNumberToObject(o, "id", node_id(n));
  cJSON_AddStringToObject(o, "op", "table");
  for (int c = 0; c < t->ncols; c++) {
    cJSON *f = cJSON_CreateObject();
    if (!f || !cJSON_AddItemToArray(schema, f)) goto fail;
    cJSON_AddStringToObject(f, "name", t->names[c]);
    cJSON_AddStringToObject(f, "type", canon_type_name(t->types[c]));
  }
  for (int r = 0; !schema_only && r < t->nrows; r++) {
    if (!t->keep[r]) continue;
    cJSON *row = cJSON_CreateArray();
    if (!row || !cJSON_AddItemToArray(rows, row)) goto fail;
    for (int c = 0; c < t->ncols; c++) {
      const char *cell = t->cells[(size_t)r * (size_t)t->ncols + (size_t)c];
      if (!cJSON_AddItemToArray(row, cell ? cJSON_CreateString(cell) : cJSON_CreateNull())) goto fail;
    }
  }
  cJSON_AddItemToObject(o, "schema", schema);
  cJSON_AddItemToObject(o, "rows", rows);
  return o;
fail:
  cJSON_Delete(o);
  cJSON_Delete(schema);
  cJSON_Delete(rows);
  return NULL;
}

char *rnd_plan_document(const rnd_plan *p, int root, int schema_only) {
  int n = cJSON_GetArraySize(p->nodes);
  unsigned char *reach = malloc((size_t)(n ? n : 1));
  cJSON *doc = cJSON_CreateObject(), *nodes = cJSON_CreateArray();
  char *text = NULL;
  if (!reach || !doc || !nodes) goto done;
  reachable(p, root, reach, n);
  cJSON_AddNumberToObject(doc, "canon_plan", 1);
  cJSON_AddItemToObject(doc, "nodes", nodes);
  nodes = NULL;
  cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "nodes");
  for (int i = 0; i < n; i++) {
    if (!reach[i]) continue;
    const cJSON *node = cJSON_GetArrayItem(p->nodes, i);
    cJSON *copy = strcmp(node_op(node), "input") == 0 ? table_node(p, node, schema_only)
                                                       : cJSON_Duplicate(node, 1);
    if (!copy || !cJSON_AddItemToArray(arr, copy)) {
      cJSON_Delete(copy);
      goto done;
    }
  }
  cJSON_AddNumberToObject(doc, "root", root);
  text = cJSON_PrintUnformatted(doc);
done:
  free(reach);
  cJSON_Delete(nodes);
  cJSON_Delete(doc);
  return text;
}

int rnd_plan_uses_transform(const rnd_plan *p) {
  for (const cJSON *n = p->nodes ? p->nodes->child : NULL; n; n = n->next)
    if (strcmp(node_op(n), "transform") == 0) return 1;
  return 0;
}

/* ---- analysis ------------------------------------------------------------ */

static int col_index(const rnd_info *in, const char *name) {
  for (int c = 0; in && c < in->ncols; c++)
    if (strcmp(in->names[c], name) == 0) return c;
  return -1;
}

/* nz of column c of o from the input column of the same name and type;
 * a new float column may hold -0.0. */
static void carry_nz(rnd_info *o, const rnd_info *a) {
  for (int c = 0; c < o->ncols; c++) {
    int k = col_index(a, o->names[c]);
    o->nz[c] = k >= 0 && a->types[k] == o->types[c] ? a->nz[k] : o->types[c] == CANON_FLOAT64;
  }
}

/* The input's order, with its tie keys where o still has them unchanged. */
static void keep_order(rnd_info *o, const rnd_info *a) {
  o->order = a->order;
  o->nties = 0;
  if (a->order != RND_TIES) return;
  for (int i = 0; i < a->nties; i++) {
    int k = col_index(o, a->ties[i]), j = col_index(a, a->ties[i]);
    if (k < 0 || j < 0 || o->types[k] != a->types[j]) {
      o->order = RND_ANY;
      return;
    }
    snprintf(o->ties[o->nties++], RND_NAMELEN, "%s", a->ties[i]);
  }
}

/* Names of the sort keys in keys (an array of {"column", "direction"}). */
static int sort_names(const cJSON *keys, const char *out[RND_MAXCOLS]) {
  int n = 0;
  for (const cJSON *k = cJSON_IsArray(keys) ? keys->child : NULL; k && n < RND_MAXCOLS; k = k->next) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(k, "column");
    if (cJSON_IsString(c)) out[n++] = c->valuestring;
  }
  return n;
}

/* Rows equal under sort keys `names` are equal as printed: the keys cover
 * every column and no float column may hold -0.0 (NaNs compare equal). */
static int keys_cover_all(const rnd_info *a, const char *const *names, int n) {
  for (int c = 0; c < a->ncols; c++) {
    if (a->nz[c]) return 0;
    int hit = 0;
    for (int k = 0; k < n && !hit; k++) hit = strcmp(names[k], a->names[c]) == 0;
    if (!hit) return 0;
  }
  return 1;
}

static void add_tie(rnd_info *o, const char *name) {
  for (int i = 0; i < o->nties; i++)
    if (strcmp(o->ties[i], name) == 0) return;
  if (o->nties < RND_MAXCOLS) snprintf(o->ties[o->nties++], RND_NAMELEN, "%s", name);
}

static void step_sort(rnd_info *o, const rnd_info *a, const cJSON *node) {
  const char *names[RND_MAXCOLS];
  int n = sort_names(cJSON_GetObjectItemCaseSensitive(node, "keys"), names);
  if (a->order == RND_EXACT || keys_cover_all(a, names, n)) {
    o->order = RND_EXACT;
    return;
  }
  /* Rows tied on the new keys keep their old relative order, which is
   * itself open only among the old ties. */
  o->order = RND_TIES;
  for (int i = 0; i < n; i++) add_tie(o, names[i]);
  for (int i = 0; a->order == RND_TIES && i < a->nties; i++) add_tie(o, a->ties[i]);
}

/* The output of select / assign: a plain column reference carries its
 * source's nz and tie-key role under the output name. */
static void step_outputs(rnd_info *o, const rnd_info *a, const cJSON *cols, int assign) {
  carry_nz(o, a);
  keep_order(o, a);
  for (const cJSON *c = cJSON_IsArray(cols) ? cols->child : NULL; c; c = c->next) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "expr"), "col");
    if (!cJSON_IsString(name)) continue;
    int k = col_index(o, name->valuestring), src = cJSON_IsString(ref) ? col_index(a, ref->valuestring) : -1;
    if (k >= 0) o->nz[k] = src >= 0 ? a->nz[src] : o->types[k] == CANON_FLOAT64;
    for (int i = 0; assign && i < o->nties; i++)
      if (strcmp(o->ties[i], name->valuestring) == 0 && (src < 0 || strcmp(ref->valuestring, name->valuestring)))
        o->order = RND_ANY;
  }
  if (assign || a->order != RND_TIES) return;
  /* select: each tie key must come through as a plain reference. */
  o->order = RND_TIES;
  o->nties = 0;
  for (int i = 0; i < a->nties && o->order == RND_TIES; i++) {
    const char *to = NULL;
    for (const cJSON *c = cols->child; c && !to; c = c->next) {
      const cJSON *ref = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "expr"), "col");
      if (cJSON_IsString(ref) && strcmp(ref->valuestring, a->ties[i]) == 0)
        to = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
    }
    if (to) add_tie(o, to);
    else o->order = RND_ANY;
  }
}

/* Does string array arr name `name`? */
static int names_has(const cJSON *arr, const char *name) {
  for (const cJSON *e = cJSON_IsArray(arr) ? arr->child : NULL; e; e = e->next)
    if (cJSON_IsString(e) && strcmp(e->valuestring, name) == 0) return 1;
  return 0;
}

void rnd_info_step(const cJSON *node, const rnd_info *a, const rnd_info *b,
                   const canon_schema *schema, const rnd_plan *p, rnd_info *o) {
  (void)p;
  memset(o, 0, sizeof *o);
  o->determined = 1;
  o->order = RND_ANY;
  o->ncols = canon_schema_num_fields(schema);
  if (o->ncols > RND_MAXCOLS) {
    o->ncols = 0;
    o->determined = 0;
    return;
  }
  for (int c = 0; c < o->ncols; c++) {
    snprintf(o->names[c], RND_NAMELEN, "%s", canon_schema_field_name(schema, c));
    o->types[c] = canon_schema_field_type(schema, c);
    o->nz[c] = o->types[c] == CANON_FLOAT64;
  }
  const char *op = node_op(node);
  if (strcmp(op, "input") == 0) {
    o->order = RND_EXACT;
    return;
  }
  if (!a) {
    o->determined = 0;
    return;
  }
  if (!strcmp(op, "filter") || !strcmp(op, "dropna") || !strcmp(op, "drop") || !strcmp(op, "fillna")) {
    carry_nz(o, a);
    keep_order(o, a);
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(node, "values");
    for (const cJSON *v = cJSON_IsArray(vals) ? vals->child : NULL; v; v = v->next) {
      int k = col_index(o, cJSON_GetObjectItemCaseSensitive(v, "column")->valuestring);
      if (k >= 0) o->nz[k] = o->types[k] == CANON_FLOAT64;
    }
  } else if (!strcmp(op, "limit") || !strcmp(op, "sample")) {
    carry_nz(o, a);
    o->order = RND_EXACT;
    o->determined = a->order == RND_EXACT;
  } else if (!strcmp(op, "sort")) {
    carry_nz(o, a);
    step_sort(o, a, node);
  } else if (!strcmp(op, "take")) {
    const char *names[RND_MAXCOLS];
    int n = sort_names(cJSON_GetObjectItemCaseSensitive(node, "presort"), names);
    carry_nz(o, a);
    o->determined = a->order == RND_EXACT || (n > 0 && keys_cover_all(a, names, n));
    o->order = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(node, "by")) ? RND_ANY : RND_EXACT;
  } else if (!strcmp(op, "select") || !strcmp(op, "assign")) {
    step_outputs(o, a, cJSON_GetObjectItemCaseSensitive(node, "columns"), !strcmp(op, "assign"));
  } else if (!strcmp(op, "rename")) {
    for (int c = 0; c < o->ncols && c < a->ncols; c++) o->nz[c] = a->nz[c];
    o->order = a->order;
    for (int i = 0; i < a->nties; i++) {
      int k = col_index(a, a->ties[i]);
      if (k >= 0 && k < o->ncols) memcpy(o->ties[o->nties++], o->names[k], RND_NAMELEN);
    }
  } else if (!strcmp(op, "cast")) {
    carry_nz(o, a);
    keep_order(o, a);
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(node, "columns");
    for (const cJSON *v = cJSON_IsArray(cols) ? cols->child : NULL; v; v = v->next) {
      const char *name = cJSON_GetObjectItemCaseSensitive(v, "column")->valuestring;
      int k = col_index(o, name);
      if (k >= 0) o->nz[k] = o->types[k] == CANON_FLOAT64;
      for (int i = 0; i < o->nties; i++)
        if (strcmp(o->ties[i], name) == 0) o->order = RND_ANY;
    }
  } else if (!strcmp(op, "distinct")) {
    const cJSON *subset = cJSON_GetObjectItemCaseSensitive(node, "subset");
    carry_nz(o, a);
    for (int c = 0; c < o->ncols; c++)
      if (!cJSON_GetArraySize(subset) || names_has(subset, o->names[c])) o->nz[c] = 0;
    o->determined = cJSON_GetArraySize(subset) == 0 || a->order == RND_EXACT;
  } else if (!strcmp(op, "aggregate") || !strcmp(op, "union") || !strcmp(op, "intersect") ||
             !strcmp(op, "intersect_all") || !strcmp(op, "except") || !strcmp(op, "except_all")) {
    memset(o->nz, 0, sizeof o->nz);  /* canonical keys; aggregates never give -0.0 (§5) */
  } else if (!strcmp(op, "union_all")) {
    for (int c = 0; c < o->ncols; c++)
      o->nz[c] = (c < a->ncols && a->nz[c]) || (b && c < b->ncols && b->nz[c]);
    o->order = b && a->order == RND_EXACT && b->order == RND_EXACT ? RND_EXACT : RND_ANY;
  } else if (!strcmp(op, "transform")) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(node, "name");
    const cJSON *part = cJSON_GetObjectItemCaseSensitive(node, "partition");
    const char *fn = cJSON_IsString(name) ? name->valuestring : "";
    if (!strcmp(fn, "identity")) {
      carry_nz(o, a);
      keep_order(o, a);
    } else if (!strcmp(fn, "count_rows")) {
      /* With num, rows go to partitions by global position: the counts
       * depend only on the row count, in partition order. */
      o->order = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(part, "by")) ? RND_ANY : RND_EXACT;
      o->determined = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(part, "by")) > 0 ||
                      cJSON_IsString(cJSON_GetObjectItemCaseSensitive(part, "num"));
    } else {
      /* group_summary keeps column 0 of a group's first row: the same in
       * every row of the group unless it is a float (-0.0 / 0.0). */
      o->determined = a->ncols > 0 && a->types[0] != CANON_FLOAT64;
    }
  }
  /* join, repartition: any order, floats as they come. */
}

int rnd_plan_analyze(const rnd_plan *p, canon_session *gen, rnd_info *out) {
  int n = cJSON_GetArraySize(p->nodes), rc = -1;
  unsigned char *reach = malloc((size_t)(n ? n : 1));
  rnd_info *infos = calloc((size_t)(n ? n : 1), sizeof *infos);
  int *ids = calloc((size_t)(n ? n : 1), sizeof *ids);
  if (!reach || !infos || !ids) goto done;
  reachable(p, p->root, reach, n);
  for (int i = 0; i < n; i++) {
    if (!reach[i]) continue;
    const cJSON *node = cJSON_GetArrayItem(p->nodes, i);
    ids[i] = node_id(node);
    char *doc = rnd_plan_document(p, ids[i], 1);
    canon_df *df = NULL;
    canon_error err;
    canon_error_clear(&err);
    int ok = doc && canon_plan_from_json(gen, doc, "random", &df, NULL, &err) == 0;
    free(doc);
    if (!ok) goto done;
    int in[2], m = node_inputs(node, in);
    const rnd_info *ab[2] = {NULL, NULL};
    for (int k = 0; k < m; k++)
      for (int j = 0; j < i; j++)
        if (reach[j] && ids[j] == in[k]) ab[k] = &infos[j];
    rnd_info_step(node, ab[0], ab[1], canon_df_schema(df), p, &infos[i]);
    if (!infos[i].determined) goto done;
    if (ids[i] == p->root) {
      *out = infos[i];
      rc = 0;
    }
  }
done:
  free(reach);
  free(infos);
  free(ids);
  return rc;
}
