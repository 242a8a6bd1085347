/* conformance_random.c — random plans for canon-conformance's differential
 * mode (--random N --seed S), over the random tables of
 * conformance_random_tables.c.  Plans use only the
 * ops and functions of docs/plan-format.md.  Each candidate node is loaded
 * into a serial session (tables without rows, which is cheap) so a node
 * that does not type-check is dropped and another one drawn; the analysis
 * (conformance_random_plan.c) drops nodes whose result the semantics leave
 * open (a limit over rows of undefined order, ...).  Everything random comes
 * from one SplitMix64 stream per plan, derived from the seed and the plan's
 * index: the same seed gives the same tables and plans. */
#include "conformance_random_gen.h"

#include "canon_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t rnd_next(rnd_rng *r) {
  uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* ---- JSON pieces ------------------------------------------------------------ */

static cJSON *jcol(const char *name) {
  cJSON *o = cJSON_CreateObject();
  if (o) cJSON_AddStringToObject(o, "col", name);
  return o;
}

static cJSON *jlit(canon_type t, const char *text) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  if (text)
    cJSON_AddStringToObject(o, "lit", text);
  else
    cJSON_AddNullToObject(o, "lit");
  cJSON_AddStringToObject(o, "type", canon_type_name(t));
  return o;
}

/* {"fn": fn, "args": [a, b, c]} (NULL args end the list). */
static cJSON *jcall(const char *fn, cJSON *a, cJSON *b, cJSON *c) {
  cJSON *o = cJSON_CreateObject(), *args = cJSON_CreateArray();
  if (!o || !args) {
    cJSON_Delete(o);
    cJSON_Delete(args);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    return NULL;
  }
  cJSON_AddStringToObject(o, "fn", fn);
  cJSON *v[3] = {a, b, c};
  for (int i = 0; i < 3; i++)
    if (v[i]) cJSON_AddItemToArray(args, v[i]);
  cJSON_AddItemToObject(o, "args", args);
  return o;
}

static cJSON *jcast(const char *fn, canon_type to, cJSON *a) {
  cJSON *o = cJSON_CreateObject(), *args = cJSON_CreateArray();
  if (!o || !args) {
    cJSON_Delete(o);
    cJSON_Delete(args);
    cJSON_Delete(a);
    return NULL;
  }
  cJSON_AddStringToObject(o, "fn", fn);
  cJSON_AddStringToObject(o, "to", canon_type_name(to));
  cJSON_AddItemToArray(args, a);
  cJSON_AddItemToObject(o, "args", args);
  return o;
}

static cJSON *jstrings(const char *const *v, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
  return a;
}

/* ---- expressions ------------------------------------------------------------ */

static const rnd_info *cur_info(const gen *g) { return &g->infos[g->nnodes - 1]; }

/* A random column of type t (or any type when t < 0); -1 if none. */
static int pick_col(gen *g, const rnd_info *in, int t) {
  int idx[RND_MAXCOLS], n = 0;
  for (int c = 0; c < in->ncols; c++)
    if (t < 0 || (int)in->types[c] == t) idx[n++] = c;
  return n ? idx[below(&g->rng, n)] : -1;
}

static cJSON *rand_lit(gen *g, canon_type t) {
  char buf[48];
  if (chance(&g->rng, 8)) return jlit(t, NULL);
  return jlit(t, rnd_value_text(&g->rng, t, buf, sizeof buf));
}

static cJSON *expr_of(gen *g, const rnd_info *in, canon_type t, int depth);

/* A leaf of type t: a column (mostly) or a literal. */
static cJSON *leaf(gen *g, const rnd_info *in, canon_type t) {
  int c = pick_col(g, in, (int)t);
  if (c >= 0 && chance(&g->rng, 75)) return jcol(in->names[c]);
  return rand_lit(g, t);
}

/* A cast of a random operand to t (strict only in cast mode). */
static cJSON *cast_to(gen *g, const rnd_info *in, canon_type t, int depth) {
  static const canon_type from_any[] = {CANON_STRING, CANON_INT64, CANON_FLOAT64, CANON_BOOL};
  canon_type from = from_any[below(&g->rng, 4)];
  if (t == CANON_DATE) from = chance(&g->rng, 50) ? CANON_TIMESTAMP : CANON_STRING;
  if (t == CANON_TIMESTAMP) from = chance(&g->rng, 50) ? CANON_DATE : CANON_STRING;
  if (t == CANON_STRING) from = rnd_all_types[below(&g->rng, 6)];
  const char *fn = g->mode == MODE_CAST && chance(&g->rng, 70) ? "cast" : "try_cast";
  return jcast(fn, t, expr_of(g, in, from, depth - 1));
}

static cJSON *bool_expr(gen *g, const rnd_info *in, int depth) {
  static const char *const cmp[] = {"eq", "ne", "lt", "le", "gt", "ge"};
  switch (below(&g->rng, 9)) {
  case 0:
  case 1: {
    int c = pick_col(g, in, -1);
    if (c < 0) break;
    canon_type t = in->types[c];
    cJSON *rhs;
    if ((t == CANON_INT64 || t == CANON_FLOAT64) && chance(&g->rng, 30))
      rhs = leaf(g, in, t == CANON_INT64 ? CANON_FLOAT64 : CANON_INT64);
    else
      rhs = chance(&g->rng, 50) ? leaf(g, in, t) : expr_of(g, in, t, depth - 1);
    return jcall(cmp[below(&g->rng, 6)], jcol(in->names[c]), rhs, NULL);
  }
  case 2: return jcall(chance(&g->rng, 50) ? "and" : "or", expr_of(g, in, CANON_BOOL, depth - 1),
                       expr_of(g, in, CANON_BOOL, depth - 1), NULL);
  case 3: return jcall("not", expr_of(g, in, CANON_BOOL, depth - 1), NULL, NULL);
  case 4: {
    int c = pick_col(g, in, -1);
    if (c < 0) break;
    return jcall(chance(&g->rng, 50) ? "is_null" : "is_not_null", jcol(in->names[c]), NULL, NULL);
  }
  case 5: {
    int c = pick_col(g, in, -1);
    if (c < 0) break;
    cJSON *e = jcall("in_list", jcol(in->names[c]), rand_lit(g, in->types[c]),
                     rand_lit(g, in->types[c]));
    cJSON *args = e ? cJSON_GetObjectItemCaseSensitive(e, "args") : NULL;
    if (args && chance(&g->rng, 50)) cJSON_AddItemToArray(args, rand_lit(g, in->types[c]));
    return e;
  }
  case 6:
    return jcall(chance(&g->rng, 50) ? "starts_with" : "contains",
                 expr_of(g, in, CANON_STRING, depth - 1), leaf(g, in, CANON_STRING), NULL);
  default: break;
  }
  return leaf(g, in, CANON_BOOL);
}

static cJSON *int_expr(gen *g, const rnd_info *in, int depth) {
  static const char *const arith[] = {"add", "sub", "mul"};
  switch (below(&g->rng, 8)) {
  case 0:
    if (g->mode != MODE_OVERFLOW) break;
    return jcall(arith[below(&g->rng, 3)], expr_of(g, in, CANON_INT64, depth - 1),
                 expr_of(g, in, CANON_INT64, depth - 1), NULL);
  case 1:
    if (g->mode == MODE_OVERFLOW)
      return jcall(chance(&g->rng, 50) ? "neg" : "abs", expr_of(g, in, CANON_INT64, depth - 1),
                   NULL, NULL);
    if (g->mode == MODE_DIVZERO)
      return jcall(chance(&g->rng, 50) ? "idiv" : "mod", expr_of(g, in, CANON_INT64, depth - 1),
                   expr_of(g, in, CANON_INT64, depth - 1), NULL);
    break;
  case 2: return jcall("length", expr_of(g, in, CANON_STRING, depth - 1), NULL, NULL);
  case 3: return jcall("if_else", expr_of(g, in, CANON_BOOL, depth - 1),
                       expr_of(g, in, CANON_INT64, depth - 1), leaf(g, in, CANON_INT64));
  case 4: return jcall("coalesce", expr_of(g, in, CANON_INT64, depth - 1),
                       leaf(g, in, CANON_INT64), NULL);
  case 5: return cast_to(g, in, CANON_INT64, depth);
  case 6: return jcall(chance(&g->rng, 50) ? "floor" : "ceil", leaf(g, in, CANON_INT64), NULL, NULL);
  default: break;
  }
  return leaf(g, in, CANON_INT64);
}

static cJSON *float_expr(gen *g, const rnd_info *in, int depth) {
  static const char *const arith[] = {"add", "sub", "mul", "div", "try_div"};
  static const char *const math1[] = {"sqrt", "ln", "exp", "abs", "floor", "ceil", "neg"};
  switch (below(&g->rng, 9)) {
  case 0:
  case 1: {
    /* A float operand keeps + - * free of int64 overflow; `/` needs an
     * int64 divisor to raise division_by_zero, allowed in that mode only. */
    const char *fn = arith[below(&g->rng, 5)];
    canon_type bt = chance(&g->rng, 30) ? CANON_INT64 : CANON_FLOAT64;
    if (strcmp(fn, "div") == 0 && g->mode != MODE_DIVZERO) bt = CANON_FLOAT64;
    cJSON *a = expr_of(g, in, CANON_FLOAT64, depth - 1), *b = expr_of(g, in, bt, depth - 1);
    return chance(&g->rng, 50) ? jcall(fn, a, b, NULL) : jcall(fn, b, a, NULL);
  }
  case 2: return jcall(math1[below(&g->rng, 7)], expr_of(g, in, CANON_FLOAT64, depth - 1), NULL, NULL);
  case 3: return jcall("round", expr_of(g, in, CANON_FLOAT64, depth - 1),
                       jlit(CANON_INT64, chance(&g->rng, 50) ? "0" : "2"), NULL);
  case 4: return jcall("pow", leaf(g, in, CANON_FLOAT64), jlit(CANON_FLOAT64, "2.0"), NULL);
  case 5: return jcall("if_else", expr_of(g, in, CANON_BOOL, depth - 1),
                       expr_of(g, in, CANON_FLOAT64, depth - 1), leaf(g, in, CANON_FLOAT64));
  case 6: return jcall("coalesce", expr_of(g, in, CANON_FLOAT64, depth - 1),
                       leaf(g, in, chance(&g->rng, 30) ? CANON_INT64 : CANON_FLOAT64), NULL);
  case 7: return cast_to(g, in, CANON_FLOAT64, depth);
  default: break;
  }
  return leaf(g, in, CANON_FLOAT64);
}

static cJSON *string_expr(gen *g, const rnd_info *in, int depth) {
  static const char *const fn1[] = {"lower", "upper", "trim", "ltrim", "rtrim"};
  switch (below(&g->rng, 7)) {
  case 0: return jcall(fn1[below(&g->rng, 5)], expr_of(g, in, CANON_STRING, depth - 1), NULL, NULL);
  case 1: return jcall("concat", expr_of(g, in, CANON_STRING, depth - 1), leaf(g, in, CANON_STRING),
                       NULL);
  case 2: {
    char a[8], b[8];
    snprintf(a, sizeof a, "%d", below(&g->rng, 5) - 1);
    snprintf(b, sizeof b, "%d", below(&g->rng, 4));
    return jcall("substring", expr_of(g, in, CANON_STRING, depth - 1), jlit(CANON_INT64, a),
                 jlit(CANON_INT64, b));
  }
  case 3: return cast_to(g, in, CANON_STRING, depth);
  case 4: return jcall("coalesce", expr_of(g, in, CANON_STRING, depth - 1), leaf(g, in, CANON_STRING),
                       NULL);
  default: break;
  }
  return leaf(g, in, CANON_STRING);
}

/* An expression of type t over the columns of `in`, at most `depth` deep. */
static cJSON *expr_of(gen *g, const rnd_info *in, canon_type t, int depth) {
  if (depth <= 0 || chance(&g->rng, 25)) return leaf(g, in, t);
  switch (t) {
  case CANON_BOOL: return bool_expr(g, in, depth);
  case CANON_INT64: return int_expr(g, in, depth);
  case CANON_FLOAT64: return float_expr(g, in, depth);
  case CANON_STRING: return string_expr(g, in, depth);
  default:
    if (chance(&g->rng, 30)) return cast_to(g, in, t, depth);
    if (chance(&g->rng, 30))
      return jcall("coalesce", leaf(g, in, t), leaf(g, in, t), NULL);
    return leaf(g, in, t);
  }
}

/* ---- nodes ------------------------------------------------------------------ */

static const char *const directions[] = {
  "SORT_DIRECTION_ASC_NULLS_LAST", "SORT_DIRECTION_ASC_NULLS_FIRST",
  "SORT_DIRECTION_DESC_NULLS_LAST", "SORT_DIRECTION_DESC_NULLS_FIRST"};

static cJSON *node_new(gen *g, const char *op, int input) {
  cJSON *n = cJSON_CreateObject();
  if (!n) {
    g->oom = 1;
    return NULL;
  }
  cJSON_AddNumberToObject(n, "id", g->next_id);
  cJSON_AddStringToObject(n, "op", op);
  if (input) cJSON_AddNumberToObject(n, "input", input);
  return n;
}

static const rnd_info *info_of(const gen *g, int id) {
  for (int i = 0; i < g->nnodes; i++)
    if (g->ids[i] == id) return &g->infos[i];
  return NULL;
}

/* Append `node`, load it and analyze it: its id, or 0 when it does not
 * load or its result is not determined (the node is dropped again). */
static int add_node(gen *g, cJSON *node) {
  if (!node) return 0;
  if (g->nnodes == 64 || !cJSON_AddItemToArray(g->p->nodes, node)) {
    cJSON_Delete(node);
    return 0;
  }
  int id = g->next_id;
  char *doc = rnd_plan_document(g->p, id, 1);
  canon_df *df = NULL;
  canon_error err;
  canon_error_clear(&err);
  int ok = doc && canon_plan_from_json(g->s, doc, "random", &df, NULL, &err) == 0;
  if (!doc) g->oom = 1;
  free(doc);
  if (ok) {
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(node, "input");
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(node, "inputs");
    const rnd_info *a = NULL, *b = NULL;
    if (cJSON_IsNumber(in)) a = info_of(g, in->valueint);
    if (cJSON_GetArraySize(ins) == 2) {
      a = info_of(g, cJSON_GetArrayItem(ins, 0)->valueint);
      b = info_of(g, cJSON_GetArrayItem(ins, 1)->valueint);
    }
    rnd_info_step(node, a, b, canon_df_schema(df), g->p, &g->infos[g->nnodes]);
    ok = g->infos[g->nnodes].determined;
  }
  if (!ok) {
    cJSON_DeleteItemFromArray(g->p->nodes, cJSON_GetArraySize(g->p->nodes) - 1);
    return 0;
  }
  g->ids[g->nnodes++] = id;
  g->next_id++;
  return id;
}

/* Sort keys over random columns, or over every column (which makes a
 * following limit defined when no float may hold -0.0). */
static cJSON *sort_keys(gen *g, const rnd_info *in, int all) {
  cJSON *keys = cJSON_CreateArray();
  int order[RND_MAXCOLS], n = in->ncols;
  for (int i = 0; i < n; i++) order[i] = i;
  for (int i = n - 1; i > 0; i--) {
    int j = below(&g->rng, i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  if (!all) n = 1 + below(&g->rng, n < 3 ? n : 3);
  for (int i = 0; keys && i < n; i++) {
    cJSON *k = cJSON_CreateObject();
    if (!k) break;
    cJSON_AddStringToObject(k, "column", in->names[order[i]]);
    cJSON_AddStringToObject(k, "direction", directions[below(&g->rng, 4)]);
    cJSON_AddItemToArray(keys, k);
  }
  return keys;
}

static cJSON *step_sort(gen *g, int h, const rnd_info *in) {
  cJSON *n = node_new(g, "sort", h);
  if (n) cJSON_AddItemToObject(n, "keys", sort_keys(g, in, in->order != RND_EXACT && chance(&g->rng, 50)));
  return n;
}

static cJSON *step_limit(gen *g, int h) {
  static const char *const ns[] = {"0", "1", "2", "3", "5", "10", "10", "50", "50", "1000"};
  cJSON *n = node_new(g, "limit", h);
  if (n) cJSON_AddStringToObject(n, "n", ns[below(&g->rng, NPOOL(ns))]);
  return n;
}

/* A filter: often one range comparison (keeps a fair share of the rows),
 * else any bool expression. */
static cJSON *step_filter(gen *g, int h, const rnd_info *in) {
  static const char *const cmp[] = {"lt", "le", "gt", "ge", "ne"};
  cJSON *n = node_new(g, "filter", h), *pred = NULL;
  int c = pick_col(g, in, -1);
  if (c >= 0 && in->types[c] != CANON_BOOL && chance(&g->rng, 60)) {
    char buf[48];
    pred = jcall(cmp[below(&g->rng, 5)], jcol(in->names[c]),
                 jlit(in->types[c], rnd_value_text(&g->rng, in->types[c], buf, sizeof buf)), NULL);
  } else {
    pred = expr_of(g, in, CANON_BOOL, 3);
  }
  if (n) cJSON_AddItemToObject(n, "predicate", pred);
  else cJSON_Delete(pred);
  return n;
}

/* An expression that may raise the plan's error kind on some rows:
 * int64 overflow, an int64 zero divisor, or a strict cast. */
static cJSON *risky_expr(gen *g, const rnd_info *in) {
  static const char *const arith[] = {"add", "sub", "mul"};
  if (g->mode == MODE_OVERFLOW)
    return jcall(arith[below(&g->rng, 3)], leaf(g, in, CANON_INT64), leaf(g, in, CANON_INT64), NULL);
  if (g->mode == MODE_DIVZERO)
    return jcall(chance(&g->rng, 50) ? "div" : chance(&g->rng, 50) ? "idiv" : "mod",
                 leaf(g, in, CANON_INT64), leaf(g, in, CANON_INT64), NULL);
  static const canon_type to[] = {CANON_INT64, CANON_FLOAT64, CANON_DATE, CANON_BOOL};
  return jcast("cast", to[below(&g->rng, 4)], leaf(g, in, CANON_STRING));
}

static cJSON *output(const char *name, cJSON *expr) {
  cJSON *o = cJSON_CreateObject();
  if (!o) {
    cJSON_Delete(expr);
    return NULL;
  }
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddItemToObject(o, "expr", expr);
  return o;
}

/* select: some columns (sometimes renamed) and some computed ones. */
static cJSON *step_select(gen *g, int h, const rnd_info *in) {
  cJSON *n = node_new(g, "select", h), *cols = cJSON_CreateArray();
  char name[RND_NAMELEN];
  for (int c = 0; cols && c < in->ncols; c++) {
    if (chance(&g->rng, 30)) continue;
    if (chance(&g->rng, 15))
      snprintf(name, sizeof name, "s%d_%d", g->next_id, c);
    else
      snprintf(name, sizeof name, "%s", in->names[c]);
    cJSON_AddItemToArray(cols, output(name, jcol(in->names[c])));
  }
  int extra = below(&g->rng, 3) + (cJSON_GetArraySize(cols) == 0);
  for (int k = 0; cols && k < extra; k++) {
    snprintf(name, sizeof name, "e%d_%d", g->next_id, k);
    cJSON_AddItemToArray(cols, output(name, expr_of(g, in, rnd_all_types[below(&g->rng, 6)], 3)));
  }
  if (n) cJSON_AddItemToObject(n, "columns", cols);
  else cJSON_Delete(cols);
  return n;
}

/* assign: one or two columns, new or replacing (any type). */
static cJSON *step_assign(gen *g, int h, const rnd_info *in) {
  cJSON *n = node_new(g, "assign", h), *cols = cJSON_CreateArray();
  int k = 1 + below(&g->rng, 2);
  for (int i = 0; cols && i < k; i++) {
    char name[RND_NAMELEN];
    int c = chance(&g->rng, 40) ? pick_col(g, in, -1) : -1;
    if (c >= 0 && i == 0)
      snprintf(name, sizeof name, "%s", in->names[c]);
    else
      snprintf(name, sizeof name, "e%d_%d", g->next_id, i);
    canon_type t = c >= 0 && chance(&g->rng, 60) ? in->types[c] : rnd_all_types[below(&g->rng, 6)];
    cJSON_AddItemToArray(cols, output(name, chance(&g->rng, 25) ? risky_expr(g, in) : expr_of(g, in, t, 3)));
  }
  if (n) cJSON_AddItemToObject(n, "columns", cols);
  else cJSON_Delete(cols);
  return n;
}

/* aggregate: 0-2 keys, 1-3 aggregate calls (count_star, count, sum, mean,
 * min, max).  An int64 sum may overflow: only in overflow mode. */
static cJSON *step_aggregate(gen *g, int h, const rnd_info *in) {
  static const char *const fns[] = {"count_star", "count", "sum", "mean", "min", "max"};
  cJSON *n = node_new(g, "aggregate", h), *keys = cJSON_CreateArray(), *aggs = cJSON_CreateArray();
  int nk = chance(&g->rng, 20) ? 0 : 1 + below(&g->rng, 2), used[RND_MAXCOLS] = {0};
  for (int i = 0; keys && i < nk; i++) {
    int c = pick_col(g, in, -1);
    if (c < 0 || used[c]) continue;
    used[c] = 1;
    cJSON_AddItemToArray(keys, cJSON_CreateString(in->names[c]));
  }
  int na = 1 + below(&g->rng, 3);
  for (int i = 0; aggs && i < na; i++) {
    char name[RND_NAMELEN];
    snprintf(name, sizeof name, "g%d_%d", g->next_id, i);
    const char *fn = fns[below(&g->rng, 6)];
    int c = pick_col(g, in, -1);
    if (strcmp(fn, "sum") == 0 || strcmp(fn, "mean") == 0) {
      int f = pick_col(g, in, CANON_FLOAT64), k = pick_col(g, in, CANON_INT64);
      c = k >= 0 && (f < 0 || chance(&g->rng, 50)) ? k : f;
      if (c >= 0 && in->types[c] == CANON_INT64 && strcmp(fn, "sum") == 0 && g->mode != MODE_OVERFLOW)
        fn = "mean";
    }
    cJSON *call = strcmp(fn, "count_star") == 0 || c < 0 ? jcall("count_star", NULL, NULL, NULL)
                                                          : jcall(fn, jcol(in->names[c]), NULL, NULL);
    cJSON_AddItemToArray(aggs, output(name, call));
  }
  if (n) {
    cJSON_AddItemToObject(n, "keys", keys);
    cJSON_AddItemToObject(n, "aggregates", aggs);
    cJSON_AddBoolToObject(n, "drop_null_keys", chance(&g->rng, 30));
  } else {
    cJSON_Delete(keys);
    cJSON_Delete(aggs);
  }
  return n;
}

/* Up to `max` distinct random column names. */
static cJSON *some_columns(gen *g, const rnd_info *in, int max) {
  const char *v[RND_MAXCOLS];
  int n = 0, used[RND_MAXCOLS] = {0}, want = 1 + below(&g->rng, max);
  for (int i = 0; i < want; i++) {
    int c = pick_col(g, in, -1);
    if (c < 0 || used[c]) continue;
    used[c] = 1;
    v[n++] = in->names[c];
  }
  return jstrings(v, n);
}

static cJSON *step_rowop(gen *g, int h, const rnd_info *in, int which) {
  cJSON *n = NULL;
  char buf[48];
  switch (which) {
  case 0:
    if ((n = node_new(g, "distinct", h)))
      cJSON_AddItemToObject(n, "subset", chance(&g->rng, 50) ? cJSON_CreateArray() : some_columns(g, in, 2));
    break;
  case 1:
    if ((n = node_new(g, "dropna", h))) {
      cJSON_AddStringToObject(n, "how", chance(&g->rng, 50) ? "any" : "all");
      cJSON_AddItemToObject(n, "subset", chance(&g->rng, 50) ? cJSON_CreateArray() : some_columns(g, in, 3));
      snprintf(buf, sizeof buf, "%d", below(&g->rng, 4));
      if (chance(&g->rng, 30)) cJSON_AddStringToObject(n, "thresh", buf);
      else cJSON_AddNullToObject(n, "thresh");
    }
    break;
  case 2:
    if ((n = node_new(g, "fillna", h))) {
      cJSON *vals = cJSON_CreateArray();
      int c = pick_col(g, in, -1);
      cJSON *v = cJSON_CreateObject();
      if (v && c >= 0) {
        cJSON_AddStringToObject(v, "column", in->names[c]);
        cJSON_AddItemToObject(v, "value", jlit(in->types[c], rnd_value_text(&g->rng, in->types[c], buf, sizeof buf)));
        cJSON_AddItemToArray(vals, v);
      } else {
        cJSON_Delete(v);
      }
      cJSON_AddItemToObject(n, "values", vals);
    }
    break;
  case 3:
    if ((n = node_new(g, "take", h))) {
      snprintf(buf, sizeof buf, "%d", below(&g->rng, 6));
      cJSON_AddStringToObject(n, "n", buf);
      cJSON_AddItemToObject(n, "presort", chance(&g->rng, 30) ? cJSON_CreateArray()
                                                               : sort_keys(g, in, chance(&g->rng, 50)));
      cJSON_AddItemToObject(n, "by", chance(&g->rng, 50) ? cJSON_CreateArray() : some_columns(g, in, 1));
    }
    break;
  case 4:
    if ((n = node_new(g, "sample", h))) {
      static const char *const fr[] = {"0.0", "0.25", "0.5", "0.9", "1.0"};
      snprintf(buf, sizeof buf, "%d", below(&g->rng, 20));
      if (chance(&g->rng, 50)) {
        cJSON_AddStringToObject(n, "fraction", fr[below(&g->rng, 5)]);
        cJSON_AddNullToObject(n, "n");
      } else {
        cJSON_AddNullToObject(n, "fraction");
        cJSON_AddStringToObject(n, "n", buf);
      }
      snprintf(buf, sizeof buf, "%llu", (unsigned long long)rnd_next(&g->rng));
      cJSON_AddStringToObject(n, "seed", buf);
    }
    break;
  default:
    if ((n = node_new(g, "repartition", h))) {
      snprintf(buf, sizeof buf, "%d", below(&g->rng, 5));
      int by = chance(&g->rng, 50);
      cJSON_AddStringToObject(n, "num", by ? "0" : buf);
      cJSON_AddItemToObject(n, "by", by ? some_columns(g, in, 2) : cJSON_CreateArray());
    }
    break;
  }
  return n;
}

/* rename, drop and cast columns. */
static cJSON *step_columns(gen *g, int h, const rnd_info *in, int which) {
  cJSON *n = NULL;
  int c = pick_col(g, in, -1);
  if (c < 0) return NULL;
  if (which == 0 && (n = node_new(g, "rename", h))) {
    cJSON *cols = cJSON_CreateArray(), *m = cJSON_CreateObject();
    char to[RND_NAMELEN];
    snprintf(to, sizeof to, "r%d_%d", g->next_id, c);
    if (m) {
      cJSON_AddStringToObject(m, "from", in->names[c]);
      cJSON_AddStringToObject(m, "to", to);
    }
    cJSON_AddItemToArray(cols, m);
    cJSON_AddItemToObject(n, "columns", cols);
  } else if (which == 1 && (n = node_new(g, "drop", h))) {
    cJSON_AddItemToObject(n, "columns", jstrings((const char *const[]){in->names[c]}, 1));
  } else if (which == 2 && (n = node_new(g, "cast", h))) {
    /* Casts allowed by docs/semantics.md §11: string to and from all,
     * int64 <-> float64, bool -> numbers, int64 -> bool, date <-> timestamp. */
    canon_type from = in->types[c], to = CANON_STRING;
    if (from == CANON_STRING) to = rnd_all_types[below(&g->rng, 6)];
    else if (from == CANON_INT64) to = chance(&g->rng, 50) ? CANON_FLOAT64 : CANON_BOOL;
    else if (from == CANON_FLOAT64 || from == CANON_BOOL) to = CANON_INT64;
    else if (from == CANON_DATE) to = CANON_TIMESTAMP;
    else if (from == CANON_TIMESTAMP) to = CANON_DATE;
    if (chance(&g->rng, 30)) to = CANON_STRING;
    cJSON *cols = cJSON_CreateArray(), *m = cJSON_CreateObject();
    if (m) {
      cJSON_AddStringToObject(m, "column", in->names[c]);
      cJSON_AddStringToObject(m, "type", canon_type_name(to));
    }
    cJSON_AddItemToArray(cols, m);
    cJSON_AddItemToObject(n, "columns", cols);
    cJSON_AddBoolToObject(n, "try", g->mode != MODE_CAST || chance(&g->rng, 30));
  }
  return n;
}

/* transform with the runner's named transforms (conformance/README.md). */
static cJSON *step_transform(gen *g, int h, const rnd_info *in) {
  cJSON *n = node_new(g, "transform", h), *part = cJSON_CreateObject();
  if (!n || !part) {
    cJSON_Delete(n);
    cJSON_Delete(part);
    return NULL;
  }
  char schema[512] = "";
  int kind = below(&g->rng, 4);
  if (kind == 3 && (in->ncols < 2 || in->types[0] == CANON_FLOAT64 || in->types[1] != CANON_INT64 ||
                    g->mode != MODE_OVERFLOW))
    kind = 0;
  if (kind == 0) {
    cJSON_AddStringToObject(n, "name", "identity");
    for (int c = 0; c < in->ncols; c++)
      snprintf(schema + strlen(schema), sizeof schema - strlen(schema), "%s%s:%s", c ? "," : "",
               in->names[c], canon_type_name(in->types[c]));
  } else if (kind == 1 || kind == 2) {
    cJSON_AddStringToObject(n, "name", "count_rows");
    snprintf(schema, sizeof schema, "n:int64");
    if (kind == 1) cJSON_AddItemToObject(part, "by", some_columns(g, in, 2));
    else cJSON_AddStringToObject(part, "num", chance(&g->rng, 50) ? "3" : "1");
  } else {
    cJSON_AddStringToObject(n, "name", "group_summary");
    snprintf(schema, sizeof schema, "k:%s,n:int64,s:int64", canon_type_name(in->types[0]));
    cJSON_AddItemToObject(part, "by", jstrings((const char *const[]){in->names[0]}, 1));
  }
  canon_schema *s = canon_schema_parse(schema, &(canon_error){0});
  cJSON *arr = cJSON_CreateArray();
  for (int i = 0; s && arr && i < canon_schema_num_fields(s); i++) {
    cJSON *f = cJSON_CreateObject();
    if (!f) break;
    cJSON_AddStringToObject(f, "name", canon_schema_field_name(s, i));
    cJSON_AddStringToObject(f, "type", canon_type_name(canon_schema_field_type(s, i)));
    cJSON_AddItemToArray(arr, f);
  }
  canon_schema_free(s);
  cJSON_AddItemToObject(n, "schema", arr);
  cJSON_AddItemToObject(n, "partition", part);
  return n;
}

/* One random single-input step on head h (row_only: steps that keep the
 * columns, before a set operation); returns the new head. */
static int chain_step(gen *g, int h, int row_only) {
  for (int attempt = 0; attempt < 8 && !g->oom; attempt++) {
    /* Weights: step kinds by how much they exercise; a sort is likelier
     * after a step that leaves the order undefined (ties then matter). */
    static const int weights[] = {4, 1, 4, 2, 3, 2, 1, 1, 1, 1, 1, 1, 2, 1};
    const rnd_info *in = cur_info(g);
    int total = 0, id = 0, k = 0;
    for (int i = 0; i < 14; i++) total += weights[i];
    for (int x = below(&g->rng, total); x >= weights[k]; k++) x -= weights[k];
    if (in->order != RND_EXACT && chance(&g->rng, 40)) k = 2;
    if (row_only) k = (int[]){0, 1, 2, 8, 9}[below(&g->rng, 5)];
    switch (k) {
    case 0: id = add_node(g, step_filter(g, h, in)); break;
    case 1: id = add_node(g, step_rowop(g, h, in, 1)); break;
    case 2:
      id = add_node(g, step_sort(g, h, in));
      if (id && chance(&g->rng, 60)) {
        int l = add_node(g, step_limit(g, id));
        id = l ? l : id;
      }
      break;
    case 3: id = add_node(g, step_select(g, h, in)); break;
    case 4: id = add_node(g, step_assign(g, h, in)); break;
    case 5:
    case 6: id = add_node(g, step_aggregate(g, h, in)); break;
    case 7: id = add_node(g, step_limit(g, h)); break;
    case 8: id = add_node(g, step_rowop(g, h, in, 4)); break;    /* sample */
    case 9: id = add_node(g, step_rowop(g, h, in, 3)); break;    /* take */
    case 10: id = add_node(g, step_rowop(g, h, in, below(&g->rng, 2) ? 0 : 2)); break;
    case 11: id = add_node(g, step_rowop(g, h, in, 5)); break;   /* repartition */
    case 12: id = add_node(g, step_columns(g, h, in, below(&g->rng, 3))); break;
    default:
      if (g->caps & CANON_CAP_TRANSFORM) id = add_node(g, step_transform(g, h, in));
      break;
    }
    if (id) return id;
  }
  return h;
}

static int input_node(gen *g, const char *name) {
  cJSON *n = node_new(g, "input", 0);
  if (n) cJSON_AddStringToObject(n, "name", name);
  return add_node(g, n);
}

/* A join of head h (over t0) with a new table t1 on one same-typed key
 * (named like the left key half of the time, so the keys merge). */
static int make_join(gen *g, int h) {
  static const char *const types[] = {"JOIN_TYPE_INNER", "JOIN_TYPE_LEFT", "JOIN_TYPE_RIGHT",
                                      "JOIN_TYPE_OUTER", "JOIN_TYPE_LEFT_SEMI",
                                      "JOIN_TYPE_LEFT_ANTI", "JOIN_TYPE_CROSS"};
  static const char *const strategies[] = {"auto", "broadcast", "hash"};
  const rnd_info *left = cur_info(g);
  int lk = pick_col(g, left, -1);
  char lname[RND_NAMELEN];
  snprintf(lname, sizeof lname, "%s", left->names[lk]);
  canon_type kt = left->types[lk], tt[RND_MAXCOLS];
  int nc = 1 + below(&g->rng, 4), rk = below(&g->rng, nc);
  for (int c = 0; c < nc; c++) tt[c] = rnd_all_types[below(&g->rng, 6)];
  tt[rk] = kt;
  rnd_table *t1 = &g->p->tabs[g->p->ntabs++];
  rnd_make_table(g, t1, "t1", 'b', nc, tt);
  if (chance(&g->rng, 50)) snprintf(t1->names[rk], RND_NAMELEN, "%s", lname);
  int r = input_node(g, "t1");
  if (!r) return h;
  const char *type = types[below(&g->rng, 7)];
  cJSON *n = node_new(g, "join", 0), *opts = cJSON_CreateObject(), *keys = cJSON_CreateArray();
  if (!n || !opts || !keys) {
    cJSON_Delete(n);
    cJSON_Delete(opts);
    cJSON_Delete(keys);
    return h;
  }
  cJSON_AddItemToObject(n, "inputs", cJSON_CreateIntArray((const int[]){h, r}, 2));
  cJSON_AddStringToObject(n, "type", type);
  cJSON *k = cJSON_CreateObject();
  if (k && strcmp(type, "JOIN_TYPE_CROSS") != 0) {
    cJSON_AddStringToObject(k, "left", lname);
    cJSON_AddStringToObject(k, "right", t1->names[rk]);
    cJSON_AddItemToArray(keys, k);
  } else {
    cJSON_Delete(k);
  }
  cJSON_AddItemToObject(n, "keys", keys);
  cJSON_AddBoolToObject(opts, "nulls_equal", chance(&g->rng, 30));
  cJSON_AddStringToObject(opts, "right_suffix", "_r");
  cJSON_AddStringToObject(opts, "strategy", strategies[below(&g->rng, 3)]);
  cJSON_AddItemToObject(n, "options", opts);
  int id = add_node(g, n);
  return id ? id : h;
}

/* A set operation of head h (over t0, columns unchanged) with t1 of the
 * same column types. */
static int make_setop(gen *g, int h) {
  static const char *const ops[] = {"union_all", "union", "intersect", "intersect_all",
                                    "except", "except_all"};
  rnd_table *t0 = &g->p->tabs[0], *t1 = &g->p->tabs[g->p->ntabs++];
  rnd_make_table(g, t1, "t1", 'b', t0->ncols, t0->types);
  /* Half of t1's rows copy rows of t0, so the inputs overlap. */
  for (int r = 0; t0->nrows && r < t1->nrows && !g->oom; r++) {
    if (chance(&g->rng, 50)) continue;
    int src = below(&g->rng, t0->nrows);
    for (int c = 0; c < t0->ncols; c++) {
      char **dst = &t1->cells[(size_t)r * (size_t)t1->ncols + (size_t)c];
      const char *v = t0->cells[(size_t)src * (size_t)t0->ncols + (size_t)c];
      free(*dst);
      *dst = v ? rnd_dup_text(g, v) : NULL;
    }
  }
  int r = input_node(g, "t1");
  if (!r) return h;
  cJSON *n = node_new(g, ops[below(&g->rng, 6)], 0);
  if (n) cJSON_AddItemToObject(n, "inputs", cJSON_CreateIntArray((const int[]){h, r}, 2));
  int id = add_node(g, n);
  return id ? id : h;
}

int rnd_plan_generate(rnd_plan *p, uint64_t seed, int index, unsigned caps, canon_session *s) {
  memset(p, 0, sizeof *p);
  gen *g = calloc(1, sizeof *g);
  if (!g) return -1;
  rnd_rng mix = {seed ^ ((uint64_t)index * 0xD1B54A32D192ED03ull)};
  g->rng.state = rnd_next(&mix);
  g->p = p;
  g->s = s;
  g->caps = caps;
  g->next_id = 1;
  g->mode = below(&g->rng, MODE__COUNT);
  if (!(p->nodes = cJSON_CreateArray())) g->oom = 1;
  int shape = below(&g->rng, 10);
  p->ntabs = 1;
  rnd_make_table(g, &p->tabs[0], "t0", 'a', 1 + below(&g->rng, 6), NULL);
  int h = g->oom ? 0 : input_node(g, "t0");
  if (h && shape >= 6) {
    if (chance(&g->rng, 40)) h = chain_step(g, h, 1);
    h = shape < 8 ? make_join(g, h) : make_setop(g, h);
  }
  for (int i = below(&g->rng, 6); h && i > 0 && !g->oom; i--) h = chain_step(g, h, 0);
  p->root = h;
  int rc = g->oom || !h ? -1 : 0;
  free(g);
  return rc;
}
