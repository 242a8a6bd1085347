/* plan_json_rowops.c — plan JSON for dropna, fillna, take, sample, rename,
 * drop, cast, repartition and persist (docs/plan-format.md).
 *
 * rename and cast are written from the select the node holds (the columns
 * that change, in column order), so one plan has one text whatever order
 * the caller listed the columns in.  Reading builds each node through its
 * public constructor, like every other op. */
#include "plan_json.h"

#include "kernels.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

/* ---- writing ------------------------------------------------------------ */

/* Attach item under key (or to an array when key is NULL); item is freed
 * when that fails. */
static int put(canon_error *err, cJSON *parent, const char *key, cJSON *item) {
  if (!item) return canon__nomem(err);
  bool ok = key ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item);
  if (ok) return 0;
  cJSON_Delete(item);
  return canon__nomem(err);
}

static int put_str(canon_error *err, cJSON *parent, const char *key, const char *s) {
  return put(err, parent, key, cJSON_CreateString(s));
}

/* 64-bit integers travel as strings (cJSON numbers are doubles). */
static int put_i64(canon_error *err, cJSON *o, const char *key, int64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRId64, v);
  return put_str(err, o, key, buf);
}

/* A new array under key, or NULL after reporting OOM. */
static cJSON *put_array(canon_error *err, cJSON *o, const char *key) {
  cJSON *a = cJSON_CreateArray();
  return put(err, o, key, a) == 0 ? a : NULL;
}

static int put_names(canon_error *err, cJSON *o, const char *key, char *const *names, int n) {
  cJSON *a = put_array(err, o, key);
  if (!a) return CANON_ERR_NOMEM;
  for (int i = 0; i < n; i++) {
    int rc = put_str(err, a, NULL, names[i]);
    if (rc) return rc;
  }
  return 0;
}

/* A new object appended to array a, or NULL after reporting OOM. */
static cJSON *put_object(canon_error *err, cJSON *a) {
  cJSON *o = cJSON_CreateObject();
  return put(err, a, NULL, o) == 0 ? o : NULL;
}

static int put_sort(canon_error *err, cJSON *o, const char *key, const canon_sort_key *k, int n) {
  cJSON *a = put_array(err, o, key);
  if (!a) return CANON_ERR_NOMEM;
  for (int i = 0; i < n; i++) {
    cJSON *ko = put_object(err, a);
    if (!ko) return CANON_ERR_NOMEM;
    int rc = put_str(err, ko, "column", k[i].column);
    int dir = (k[i].descending ? 2 : 0) + (k[i].nulls_first ? 1 : 0);
    if (rc == 0) rc = put_str(err, ko, "direction", canon__pj_directions[dir]);
    if (rc) return rc;
  }
  return 0;
}

/* "values": [{"column": .., "value": LIT}, ...]; the value object sits at
 * nesting level 6 (root, nodes, node, array, object, value). */
static int write_fillna(canon_error *err, const canon_df *n, cJSON *o) {
  cJSON *a = put_array(err, o, "values");
  if (!a) return CANON_ERR_NOMEM;
  for (int i = 0; i < n->nexprs; i++) {
    cJSON *v = put_object(err, a), *x = NULL;
    int rc = v ? put_str(err, v, "column", n->names[i]) : CANON_ERR_NOMEM;
    if (rc == 0) rc = canon__pj_write_expr(err, n->exprs[i], 6, &x);
    if (rc == 0)
      rc = put(err, v, "value", x);
    else
      cJSON_Delete(x);
    if (rc) return rc;
  }
  return 0;
}

/* rename: [{"from", "to"}] and cast: [{"column", "type"}] for the select
 * outputs that change. */
static int write_changes(canon_error *err, const canon_df *n, cJSON *o) {
  cJSON *a = put_array(err, o, "columns");
  if (!a) return CANON_ERR_NOMEM;
  for (int i = 0; i < n->nexprs; i++) {
    const canon_expr *e = n->exprs[i];
    bool renamed = n->kind == CANON__N_RENAME && strcmp(e->name, n->names[i]) != 0;
    bool cast = n->kind == CANON__N_CAST && e->kind == CANON__E_CALL;
    if (!renamed && !cast) continue;
    cJSON *c = put_object(err, a);
    if (!c) return CANON_ERR_NOMEM;
    int rc = renamed ? put_str(err, c, "from", e->name) : put_str(err, c, "column", n->names[i]);
    if (rc == 0)
      rc = renamed ? put_str(err, c, "to", n->names[i])
                   : put_str(err, c, "type", canon_type_name(e->cast_to));
    if (rc) return rc;
  }
  if (n->kind != CANON__N_CAST) return 0;
  /* Every cast expression of the node is of one kind. */
  bool try_cast = false;
  for (int i = 0; i < n->nexprs; i++)
    if (n->exprs[i]->kind == CANON__E_CALL) try_cast = n->exprs[i]->fn == CANON__F_TRY_CAST;
  return put(err, o, "try", cJSON_CreateBool(try_cast));
}

int canon__pj_write_rowops(canon_error *err, const canon_df *n, cJSON *o) {
  int rc;
  switch (n->kind) {
  case CANON__N_DROPNA:
    rc = put_str(err, o, "how", n->how == CANON_DROPNA_ALL ? "all" : "any");
    if (rc == 0) rc = put_names(err, o, "subset", n->keys, n->nkeys);
    if (rc == 0)
      rc = n->thresh < 0 ? put(err, o, "thresh", cJSON_CreateNull())
                         : put_i64(err, o, "thresh", n->thresh);
    return rc;
  case CANON__N_FILLNA: return write_fillna(err, n, o);
  case CANON__N_TAKE:
    rc = put_i64(err, o, "n", n->n);
    if (rc == 0) rc = put_sort(err, o, "presort", n->sort, n->nsort);
    if (rc == 0) rc = put_names(err, o, "by", n->keys, n->nkeys);
    return rc;
  case CANON__N_SAMPLE: {
    char buf[64];
    if (n->fraction >= 0) {
      canon__format_f64(n->fraction, buf, sizeof buf);
      rc = put_str(err, o, "fraction", buf);
    } else {
      rc = put(err, o, "fraction", cJSON_CreateNull());
    }
    if (rc == 0)
      rc = n->n >= 0 ? put_i64(err, o, "n", n->n) : put(err, o, "n", cJSON_CreateNull());
    snprintf(buf, sizeof buf, "%" PRIu64, n->seed);
    if (rc == 0) rc = put_str(err, o, "seed", buf);
    return rc;
  }
  case CANON__N_RENAME:
  case CANON__N_CAST: return write_changes(err, n, o);
  case CANON__N_DROP: return put_names(err, o, "columns", n->keys, n->nkeys);
  case CANON__N_REPARTITION:
    rc = put_i64(err, o, "num", n->n);
    if (rc == 0) rc = put_names(err, o, "by", n->keys, n->nkeys);
    return rc;
  case CANON__N_PERSIST: return 0;
  default: break;
  }
  return canon__seterr(err, CANON_ERR_INTERNAL, "node kind %d is not a row operation",
                       (int)n->kind);
}

/* ---- reading ------------------------------------------------------------ */

/* An optional member that may also be null: true when present and not
 * null. */
static bool given(const cJSON *j, const char *key) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, key);
  return m && !cJSON_IsNull(m);
}

int canon__pj_read_dropna(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  const char *how = NULL, **subset = NULL;
  int nsubset = 0, h = CANON_DROPNA_ANY;
  int64_t thresh = -1;
  char q[128];
  int rc = canon__pj_string(r, j, "how", false, &how);
  if (rc == 0 && how) {
    if (strcmp(how, "all") == 0)
      h = CANON_DROPNA_ALL;
    else if (strcmp(how, "any") != 0)
      rc = canon__pj_fail_at(r, "how", CANON_ERR_PLAN, "must be \"any\" or \"all\", got %s",
                             canon__pj_quote(how, q, sizeof q));
  }
  if (rc == 0) rc = canon__pj_names(r, j, "subset", false, &subset, &nsubset);
  if (rc == 0 && given(j, "thresh")) rc = canon__pj_i64(r, j, "thresh", 0, INT64_MAX, &thresh);
  if (rc == 0) {
    *out = canon_dropna(in, h, subset, nsubset, thresh, r->err);
    if (!*out) rc = canon__pj_builder_failed(r, NULL);
  }
  free(subset);
  return rc;
}

static const char *const value_keys[] = {"column", "value"};

int canon__pj_read_fillna(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  int rc;
  const cJSON *a = canon__pj_member_of(r, j, "values", true, cJSON_IsArray, "an array", &rc);
  if (!a) return rc;
  int n = cJSON_GetArraySize(a), i = 0;
  const char **cols = canon__calloc((size_t)(n ? n : 1), sizeof *cols);
  canon_expr **vals = canon__calloc((size_t)(n ? n : 1), sizeof *vals);
  if (!cols || !vals) rc = canon__nomem(r->err);
  for (const cJSON *c = a->child; c && rc == 0; c = c->next, i++) {
    size_t mark = canon__pj_push(r, ".values[%d]", i);
    if (!cJSON_IsObject(c))
      rc = canon__pj_fail(r, CANON_ERR_PLAN, "a fill value must be an object, got %s",
                          canon__pj_jtype(c));
    if (rc == 0) rc = canon__pj_keys(r, c, value_keys, 2);
    if (rc == 0) rc = canon__pj_string(r, c, "column", true, &cols[i]);
    if (rc == 0) rc = canon__pj_expr(r, c, "value", &vals[i]);
    canon__pj_pop(r, mark);
  }
  if (rc == 0) {
    *out = canon_fillna(in, cols, vals, n, r->err); /* takes the values */
    if (!*out) rc = canon__pj_builder_failed(r, NULL);
  } else {
    for (int k = 0; vals && k < n; k++) canon_expr_free(vals[k]);
  }
  free(cols);
  free(vals);
  return rc;
}

int canon__pj_read_take(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  int64_t n = -1;
  const char **by = NULL;
  canon_sort_key *presort = NULL;
  int nby = 0, npresort = 0, rc;
  if (!canon__pj_member(r, j, "n", true, &rc)) return rc;
  rc = canon__pj_i64(r, j, "n", 0, INT64_MAX, &n);
  if (rc == 0) rc = canon__pj_sort_keys(r, j, "presort", false, &presort, &npresort);
  if (rc == 0) rc = canon__pj_names(r, j, "by", false, &by, &nby);
  if (rc == 0) {
    *out = canon_take(in, n, presort, npresort, by, nby, r->err);
    if (!*out) rc = canon__pj_builder_failed(r, NULL);
  }
  free(by);
  free(presort);
  return rc;
}

/* A uint64 as a string of decimal digits. */
static int read_u64(canon__pj_reader *r, const cJSON *j, const char *key, uint64_t *out) {
  const char *s;
  char q[128];
  int rc = canon__pj_string(r, j, key, true, &s);
  if (rc) return rc;
  uint64_t v = 0;
  bool ok = *s != '\0';
  for (const char *p = s; ok && *p; p++) {
    unsigned d = (unsigned)(*p - '0');
    ok = d <= 9 && v <= (UINT64_MAX - d) / 10;
    v = v * 10 + d;
  }
  if (!ok)
    return canon__pj_fail_at(r, key, CANON_ERR_PLAN,
                             "must be a string holding an integer from 0 to %" PRIu64 ", got %s",
                             UINT64_MAX, canon__pj_quote(s, q, sizeof q));
  *out = v;
  return 0;
}

int canon__pj_read_sample(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  double fraction = -1;
  int64_t n = -1;
  uint64_t seed = 0;
  int rc = 0;
  char q[128];
  if (given(j, "fraction")) {
    const char *s;
    canon__value v = {0};
    rc = canon__pj_string(r, j, "fraction", true, &s);
    if (rc == 0 && canon__parse_value(CANON_FLOAT64, s, strlen(s), false, &v, NULL) != 0)
      rc = canon__pj_fail_at(r, "fraction", CANON_ERR_PLAN,
                             "must be a string holding a float64, got %s",
                             canon__pj_quote(s, q, sizeof q));
    fraction = v.v.f;
  }
  if (rc == 0 && given(j, "n")) rc = canon__pj_i64(r, j, "n", 0, INT64_MAX, &n);
  if (rc == 0) rc = read_u64(r, j, "seed", &seed);
  if (rc == 0) {
    *out = canon_sample(in, fraction, n, seed, r->err);
    if (!*out) rc = canon__pj_builder_failed(r, NULL);
  }
  return rc;
}

/* obj.columns as an array of {k1: string, k2: string} objects. */
static int read_pairs(canon__pj_reader *r, const cJSON *j, const char *k1, const char *k2,
                      const char ***a, const char ***b, int *n) {
  int rc;
  *a = *b = NULL;
  *n = 0;
  const cJSON *arr = canon__pj_member_of(r, j, "columns", true, cJSON_IsArray, "an array", &rc);
  if (!arr) return rc;
  int count = cJSON_GetArraySize(arr), i = 0;
  const char *const keys[2] = {k1, k2};
  *a = canon__calloc((size_t)(count ? count : 1), sizeof **a);
  *b = canon__calloc((size_t)(count ? count : 1), sizeof **b);
  if (!*a || !*b) rc = canon__nomem(r->err);
  for (const cJSON *c = arr->child; c && rc == 0; c = c->next, i++) {
    size_t mark = canon__pj_push(r, ".columns[%d]", i);
    if (!cJSON_IsObject(c))
      rc = canon__pj_fail(r, CANON_ERR_PLAN, "a column entry must be an object, got %s",
                          canon__pj_jtype(c));
    if (rc == 0) rc = canon__pj_keys(r, c, keys, 2);
    if (rc == 0) rc = canon__pj_string(r, c, k1, true, &(*a)[i]);
    if (rc == 0) rc = canon__pj_string(r, c, k2, true, &(*b)[i]);
    canon__pj_pop(r, mark);
  }
  *n = count;
  return rc;
}

int canon__pj_read_rename(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  const char **from, **to;
  int n, rc = read_pairs(r, j, "from", "to", &from, &to, &n);
  if (rc == 0) {
    *out = canon_rename(in, from, to, n, r->err);
    if (!*out) rc = canon__pj_builder_failed(r, NULL);
  }
  free(from);
  free(to);
  return rc;
}

int canon__pj_read_drop(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  const char **cols;
  int n, rc = canon__pj_names(r, j, "columns", true, &cols, &n);
  if (rc) return rc;
  *out = canon_drop(in, cols, n, r->err);
  free(cols);
  return *out ? 0 : canon__pj_builder_failed(r, NULL);
}

int canon__pj_read_cast(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  const char **cols, **names;
  canon_type *types = NULL;
  char q[128];
  int n, rc = read_pairs(r, j, "column", "type", &cols, &names, &n);
  const cJSON *t = rc ? NULL : canon__pj_member_of(r, j, "try", false, cJSON_IsBool,
                                                   "true or false", &rc);
  if (rc == 0 && !(types = canon__calloc((size_t)(n ? n : 1), sizeof *types)))
    rc = canon__nomem(r->err);
  for (int i = 0; rc == 0 && i < n; i++) {
    types[i] = canon_type_from_name(names[i]);
    if (types[i] == CANON_TYPE_INVALID) {
      size_t mark = canon__pj_push(r, ".columns[%d]", i);
      rc = canon__pj_fail_at(r, "type", CANON_ERR_PLAN,
                             "unknown type %s (expected bool, int64, float64, string, date or "
                             "timestamp)",
                             canon__pj_quote(names[i], q, sizeof q));
      canon__pj_pop(r, mark);
    }
  }
  if (rc == 0) {
    *out = canon_cast_columns(in, cols, types, n, cJSON_IsTrue(t), r->err);
    if (!*out) rc = canon__pj_builder_failed(r, NULL);
  }
  free(cols);
  free(names);
  free(types);
  return rc;
}

int canon__pj_read_repartition(canon__pj_reader *r, const cJSON *j, canon_df *in,
                               canon_df **out) {
  int64_t num = 0;
  const char **by = NULL;
  int nby = 0;
  int rc = canon__pj_i64(r, j, "num", 0, INT_MAX, &num);
  if (rc == 0) rc = canon__pj_names(r, j, "by", false, &by, &nby);
  if (rc == 0) {
    *out = canon_repartition(in, (int)num, by, nby, r->err);
    if (!*out) rc = canon__pj_builder_failed(r, NULL);
  }
  free(by);
  return rc;
}

int canon__pj_read_persist(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out) {
  (void)j;
  *out = canon_persist(in, r->err);
  return *out ? 0 : canon__pj_builder_failed(r, NULL);
}
