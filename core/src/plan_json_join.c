/* plan_json_join.c — join, the set operations and distinct in plan JSON
 * (docs/plan-format.md).
 *
 *   join:      "inputs": [left, right], "type": "JOIN_TYPE_INNER",
 *              "keys": [{"left": "k", "right": "k"}, ...],
 *              "options": {"nulls_equal", "left_suffix", "right_suffix",
 *                          "strategy", "broadcast_max_rows"}
 *   union_all, union, intersect, intersect_all, except, except_all:
 *              "inputs": [a, b]
 *   distinct:  "input": id, "subset": [names] ([] = every column)
 * The writer always writes every key, so write -> read -> write gives the
 * same bytes. */
#include "joins.h"
#include "plan_json.h"

#include <limits.h>
#include <stdio.h>

static const char *const pair_keys[] = {"left", "right"};
static const char *const option_keys[] = {"nulls_equal", "left_suffix", "right_suffix",
                                          "strategy", "broadcast_max_rows"};

/* ---- writing --------------------------------------------------------------- */

/* Attach item under key (array when key is NULL); item freed on failure. */
static int put(canon_error *err, cJSON *parent, const char *key, cJSON *item) {
  if (!item) return canon__nomem(err);
  bool ok = key ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item);
  if (!ok) {
    cJSON_Delete(item);
    return canon__nomem(err);
  }
  return 0;
}

/* A string, or null for a NULL pointer. */
static cJSON *string_or_null(const char *s) {
  return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static int write_join(canon_error *err, const canon_df *n, cJSON *o) {
  const char *type = canon__join_type_name(n->join_type);
  const char *strategy = canon__join_strategy_name(n->join_strategy);
  if (!type || !strategy)
    return canon__seterr(err, CANON_ERR_INTERNAL, "join node with type %d, strategy %d",
                         n->join_type, n->join_strategy);
  int rc = put(err, o, "type", cJSON_CreateString(type));
  cJSON *keys = cJSON_CreateArray();
  if (rc == 0)
    rc = put(err, o, "keys", keys);
  else
    cJSON_Delete(keys);
  for (int k = 0; rc == 0 && k < n->nkeys; k++) {
    cJSON *p = cJSON_CreateObject();
    rc = put(err, keys, NULL, p);
    if (rc == 0) rc = put(err, p, "left", cJSON_CreateString(n->keys[k]));
    if (rc == 0) rc = put(err, p, "right", cJSON_CreateString(n->rkeys[k]));
  }
  cJSON *opt = rc == 0 ? cJSON_CreateObject() : NULL;
  if (rc == 0) rc = put(err, o, "options", opt);
  if (rc == 0) rc = put(err, opt, "nulls_equal", cJSON_CreateBool(n->nulls_equal));
  if (rc == 0) rc = put(err, opt, "left_suffix", string_or_null(n->left_suffix));
  if (rc == 0) rc = put(err, opt, "right_suffix", string_or_null(n->right_suffix));
  if (rc == 0) rc = put(err, opt, "strategy", cJSON_CreateString(strategy));
  if (rc == 0) {
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)n->broadcast_max_rows);
    rc = put(err, opt, "broadcast_max_rows", cJSON_CreateString(buf));
  }
  return rc;
}

int canon__pj_write_joins(canon_error *err, const canon_df *n, cJSON *o) {
  switch (n->kind) {
  case CANON__N_JOIN: return write_join(err, n, o);
  case CANON__N_DISTINCT: {
    cJSON *a = cJSON_CreateArray();
    int rc = put(err, o, "subset", a);
    for (int k = 0; rc == 0 && k < n->nkeys; k++)
      rc = put(err, a, NULL, cJSON_CreateString(n->keys[k]));
    return rc;
  }
  default: return 0; /* set operations: "inputs" says it all */
  }
}

/* ---- reading --------------------------------------------------------------- */

/* The node input id `id` names, defined before $.nodes[idx]. */
static int input_by_id(canon__pj_reader *r, int i, int id, int idx, canon_df **out) {
  intptr_t at;
  if (canon__pjmap_get(&r->ids, (uintptr_t)id, &at)) {
    *out = r->dfs[at];
    return 0;
  }
  size_t mark = canon__pj_push(r, ".inputs[%d]", i);
  int k = 0, rc = 0;
  for (const cJSON *n = r->nodes->child; n && !rc; n = n->next, k++) {
    const cJSON *nid = k >= idx ? cJSON_GetObjectItemCaseSensitive(n, "id") : NULL;
    if (!cJSON_IsNumber(nid) || nid->valuedouble != id) continue;
    rc = k == idx ? canon__pj_fail(r, CANON_ERR_PLAN, "a node cannot be its own input (id %d)", id)
                  : canon__pj_fail(r, CANON_ERR_PLAN,
                                   "node id %d is defined later, at $.nodes[%d] (inputs must "
                                   "come before the nodes that use them)",
                                   id, k);
  }
  if (!rc) rc = canon__pj_fail(r, CANON_ERR_PLAN, "no node has id %d", id);
  canon__pj_pop(r, mark);
  return rc;
}

int canon__pj_inputs(canon__pj_reader *r, const cJSON *j, int idx, canon_df **a, canon_df **b) {
  int rc;
  const cJSON *arr = canon__pj_member_of(r, j, "inputs", true, cJSON_IsArray, "an array", &rc);
  if (!arr) return rc;
  if (cJSON_GetArraySize(arr) != 2)
    return canon__pj_fail_at(r, "inputs", CANON_ERR_PLAN, "must hold two node ids, got %d",
                             cJSON_GetArraySize(arr));
  canon_df **out[2] = {a, b};
  int i = 0;
  for (const cJSON *c = arr->child; c; c = c->next, i++) {
    double d = cJSON_IsNumber(c) ? c->valuedouble : -1;
    if (!(d >= 1 && d <= INT_MAX) || d != (double)(int)d) {
      size_t mark = canon__pj_push(r, ".inputs[%d]", i);
      rc = canon__pj_fail(r, CANON_ERR_PLAN, "must be a node id (an integer >= 1), got %s",
                          canon__pj_jtype(c));
      canon__pj_pop(r, mark);
      return rc;
    }
    if ((rc = input_by_id(r, i, (int)d, idx, out[i]))) return rc;
  }
  return 0;
}

/* "keys": [{"left": .., "right": ..}, ...] into two arrays pointing into
 * the document. */
static int read_pairs(canon__pj_reader *r, const cJSON *j, const char ***lk, const char ***rk,
                      int *n) {
  int rc;
  *lk = *rk = NULL;
  *n = 0;
  const cJSON *a = canon__pj_member_of(r, j, "keys", true, cJSON_IsArray, "an array", &rc);
  if (!a) return rc;
  int count = cJSON_GetArraySize(a), i = 0;
  *lk = canon__calloc((size_t)(count ? count : 1), sizeof **lk);
  *rk = canon__calloc((size_t)(count ? count : 1), sizeof **rk);
  if (!*lk || !*rk) return canon__nomem(r->err);
  for (const cJSON *c = a->child; c && rc == 0; c = c->next, i++) {
    size_t mark = canon__pj_push(r, ".keys[%d]", i);
    if (!cJSON_IsObject(c))
      rc = canon__pj_fail(r, CANON_ERR_PLAN, "a key pair must be an object, got %s",
                          canon__pj_jtype(c));
    if (rc == 0) rc = canon__pj_keys(r, c, pair_keys, 2);
    if (rc == 0) rc = canon__pj_string(r, c, "left", true, &(*lk)[i]);
    if (rc == 0) rc = canon__pj_string(r, c, "right", true, &(*rk)[i]);
    canon__pj_pop(r, mark);
  }
  *n = count;
  return rc;
}

/* "options": {...} (every key optional) into o. */
static int read_options(canon__pj_reader *r, const cJSON *j, canon_join_options *o) {
  int rc;
  const cJSON *opt = canon__pj_member_of(r, j, "options", false, cJSON_IsObject, "an object", &rc);
  if (!opt) return rc;
  size_t mark = canon__pj_push(r, ".options");
  const cJSON *ne = NULL;
  const char *strategy = NULL;
  char q[128];
  rc = canon__pj_keys(r, opt, option_keys, 5);
  if (rc == 0) ne = canon__pj_member_of(r, opt, "nulls_equal", false, cJSON_IsBool,
                                        "true or false", &rc);
  if (rc == 0) o->nulls_equal = cJSON_IsTrue(ne);
  /* A suffix is a string, or null for "not given". */
  const char *const skeys[2] = {"left_suffix", "right_suffix"};
  const char **sout[2] = {&o->left_suffix, &o->right_suffix};
  for (int s = 0; s < 2 && rc == 0; s++) {
    const cJSON *v = canon__pj_member(r, opt, skeys[s], false, &rc);
    if (v && cJSON_IsString(v))
      *sout[s] = v->valuestring;
    else if (v && !cJSON_IsNull(v))
      rc = canon__pj_fail_at(r, skeys[s], CANON_ERR_PLAN, "must be a string or null, got %s",
                             canon__pj_jtype(v));
  }
  if (rc == 0) rc = canon__pj_string(r, opt, "strategy", false, &strategy);
  if (rc == 0 && strategy) {
    int st = canon__join_strategy_from_name(strategy);
    if (st < 0)
      rc = canon__pj_fail_at(r, "strategy", CANON_ERR_PLAN,
                             "unknown strategy %s (expected \"auto\", \"broadcast\" or \"hash\")",
                             canon__pj_quote(strategy, q, sizeof q));
    else
      o->strategy = (canon_join_strategy)st;
  }
  if (rc == 0) rc = canon__pj_i64(r, opt, "broadcast_max_rows", INT64_MIN, INT64_MAX,
                                  &o->broadcast_max_rows);
  canon__pj_pop(r, mark);
  return rc;
}

int canon__pj_read_join(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  const char *type;
  const char **lk = NULL, **rk = NULL;
  int n = 0, how = 0;
  char q[128];
  canon_join_options o = {0};
  int rc = canon__pj_string(r, j, "type", true, &type);
  if (rc == 0 && !(how = canon__join_type_from_name(type)))
    rc = canon__pj_fail_at(r, "type", CANON_ERR_PLAN,
                           "unknown join type %s (expected JOIN_TYPE_INNER, JOIN_TYPE_LEFT, "
                           "JOIN_TYPE_RIGHT, JOIN_TYPE_OUTER, JOIN_TYPE_LEFT_SEMI, "
                           "JOIN_TYPE_LEFT_ANTI or JOIN_TYPE_CROSS)",
                           canon__pj_quote(type, q, sizeof q));
  if (rc == 0) rc = read_pairs(r, j, &lk, &rk, &n);
  if (rc == 0) rc = read_options(r, j, &o);
  if (rc == 0) {
    *out = canon_join(in, r->in2, (canon_join_type)how, lk, rk, n, &o, r->err);
    if (!*out) rc = canon__pj_builder_failed(r, NULL);
  }
  free(lk);
  free(rk);
  return rc;
}

int canon__pj_read_setop(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  (void)j;
  canon_df *(*make)(canon_df *, canon_df *, canon_error *) = NULL;
  switch (canon__node_kind_from_name(r->cur_op)) {
  case CANON__N_UNION_ALL: make = canon_union_all; break;
  case CANON__N_UNION: make = canon_union; break;
  case CANON__N_INTERSECT: make = canon_intersect; break;
  case CANON__N_INTERSECT_ALL: make = canon_intersect_all; break;
  case CANON__N_EXCEPT: make = canon_except; break;
  case CANON__N_EXCEPT_ALL: make = canon_except_all; break;
  default:
    return canon__pj_fail(r, CANON_ERR_INTERNAL, "%s is not a set operation", r->cur_op);
  }
  *out = make(in, r->in2, r->err);
  return *out ? 0 : canon__pj_builder_failed(r, NULL);
}

int canon__pj_read_distinct(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  const char **subset;
  int n, rc = canon__pj_names(r, j, "subset", false, &subset, &n);
  if (rc) return rc;
  *out = canon_distinct(in, subset, n, r->err);
  free(subset);
  return *out ? 0 : canon__pj_builder_failed(r, NULL);
}
