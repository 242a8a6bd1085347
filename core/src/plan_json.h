/* plan_json.h — what the plan JSON files share: the writer (plan_json.c),
 * the document accessors (plan_json_check.c) and the reader
 * (plan_json_read.c).  Private to them; the format itself is described in
 * docs/plan-format.md. */
#ifndef CANON_PLAN_JSON_H
#define CANON_PLAN_JSON_H

#include "internal.h"

#include <cjson/cJSON.h>

/* Substrait's names for the four sort directions, indexed by
 * descending * 2 + nulls_first. */
extern const char *const canon__pj_directions[4];

/* A small open-addressing map from non-zero keys to integers: node pointers
 * to new ids when writing, JSON ids to node indices when reading.  Plans are
 * small, but a hostile document can hold many nodes, so lookups must not be
 * linear. */
typedef struct canon__pjmap {
  uintptr_t *keys;  /* 0 = empty slot */
  intptr_t *vals;
  size_t cap;       /* power of two */
  size_t n;
} canon__pjmap;

/* Look key up; true with *val filled when present. */
bool canon__pjmap_get(const canon__pjmap *m, uintptr_t key, intptr_t *val);
/* Insert or overwrite; 0 or CANON_ERR_NOMEM. */
int canon__pjmap_put(canon__pjmap *m, uintptr_t key, intptr_t val);
/* Free the map's storage (it may be reused afterwards). */
void canon__pjmap_reset(canon__pjmap *m);

/* ---- the internal variant (job_codec.c) ----------------------------------
 * Engines ship plans to other processes as plan JSON plus binary tables.
 * The writer's hook runs after each node's keys are written (it adds
 * "origin" and "ref"); table nodes get empty "rows" and a computed persist
 * is written as a table node.  The reader allows those keys and calls its
 * hook on each node it built.  The public format never holds them. */
typedef int (*canon__pj_write_hook)(void *ctx, const canon_df *n, cJSON *o, canon_error *err);
typedef int (*canon__pj_read_hook)(void *ctx, const cJSON *j, canon_df *df, canon_error *err);
char *canon__plan_to_json_hooked(const canon_df *df, canon__pj_write_hook hook, void *ctx,
                                 canon_error *err);
int canon__plan_from_json_hooked(canon_session *s, const char *json, canon__pj_read_hook hook,
                                 void *ctx, canon_df **root, canon_error *err);

/* ---- reading (plan_json_check.c) --------------------------------------- */

/* The state of one canon_plan_from_json call. */
typedef struct canon__pj_reader {
  canon_session *s;
  const char *origin;      /* document name in messages */
  canon_error *err;        /* always set: the reader works on a local one */
  char *path;              /* where we are: "$.nodes[2].columns" */
  size_t plen, pcap;
  const cJSON *nodes;      /* the "nodes" array */
  canon__pjmap ids;        /* JSON id -> index into nodes */
  canon_df **dfs;          /* node built for each index */
  const char *cur_op;      /* the node being built, for builder messages */
  int cur_id;
  canon_df *in2;           /* a two-input node's second input ("inputs"[1]) */
  canon__pj_read_hook hook; /* the internal variant (see above) */
  void *hook_ctx;
} canon__pj_reader;

/* Append a printf-style piece to the path; returns the length to restore
 * with canon__pj_pop. */
size_t canon__pj_push(canon__pj_reader *r, const char *fmt, ...) CANON__PRINTF(2, 3);
void canon__pj_pop(canon__pj_reader *r, size_t len);
const char *canon__pj_path(const canon__pj_reader *r);
/* Set the error "<origin>: <path>: <message>"; returns code.  _at names
 * the member `key` of the current object. */
int canon__pj_fail(canon__pj_reader *r, int code, const char *fmt, ...) CANON__PRINTF(3, 4);
int canon__pj_fail_at(canon__pj_reader *r, const char *key, int code, const char *fmt, ...)
    CANON__PRINTF(4, 5);
/* Document text quoted for a message (escaped, cut short) into buf. */
const char *canon__pj_quote(const char *s, char *buf, size_t cap);
/* "a string", "an array", ... for "got ..." messages. */
const char *canon__pj_jtype(const cJSON *j);

/* Every key of obj is one of allowed[0..n) (n <= 32) and appears once. */
int canon__pj_keys(canon__pj_reader *r, const cJSON *obj, const char *const *allowed, int n);
/* Member `key` of obj or NULL; *rc reports a missing required key or, for
 * _of, a member failing the cJSON type test `is` (`want` names the type). */
const cJSON *canon__pj_member(canon__pj_reader *r, const cJSON *obj, const char *key,
                              bool required, int *rc);
const cJSON *canon__pj_member_of(canon__pj_reader *r, const cJSON *obj, const char *key,
                                 bool required, cJSON_bool (*is)(const cJSON *),
                                 const char *want, int *rc);
int canon__pj_string(canon__pj_reader *r, const cJSON *obj, const char *key, bool required,
                     const char **out);
/* A required JSON number holding an integer in [lo, hi]. */
int canon__pj_int(canon__pj_reader *r, const cJSON *obj, const char *key, int lo, int hi,
                  int *out);
/* An optional string holding an int64 in [lo, hi]; *out kept when absent. */
int canon__pj_i64(canon__pj_reader *r, const cJSON *obj, const char *key, int64_t lo,
                  int64_t hi, int64_t *out);
/* An array of strings (malloc'd array pointing into the document). */
int canon__pj_names(canon__pj_reader *r, const cJSON *obj, const char *key, bool required,
                    const char ***out, int *n);
/* The expression under obj.key (required). */
int canon__pj_expr(canon__pj_reader *r, const cJSON *obj, const char *key, canon_expr **out);
/* obj.schema as a schema (NULL when absent and not required). */
int canon__pj_schema(canon__pj_reader *r, const cJSON *obj, bool required,
                     canon_schema **out);
/* The schema as "name:type,..." text for builders taking one. */
int canon__pj_schema_text(canon__pj_reader *r, const canon_schema *s, const char *op,
                          char **out);
/* obj.key as sort keys (malloc'd; column strings point into the document). */
int canon__pj_sort_keys(canon__pj_reader *r, const cJSON *obj, const char *key,
                        bool required, canon_sort_key **out, int *n);
/* obj.rows as a table of schema s. */
int canon__pj_rows(canon__pj_reader *r, const cJSON *obj, const canon_schema *s,
                   canon_table **out);

/* ---- dropna, fillna, take, sample, rename, drop, cast, repartition,
 * persist (plan_json_rowops.c) ---------------------------------------- */

/* plan_json.c: one expression object at nesting `level` (*out may be
 * partial on error: the caller deletes it). */
int canon__pj_write_expr(canon_error *err, const canon_expr *e, int level, cJSON **out);
/* plan_json_read.c: a builder refused the current node (see its comment). */
int canon__pj_builder_failed(canon__pj_reader *r, const char *sub);
/* The op keys of node n into o. */
int canon__pj_write_rowops(canon_error *err, const canon_df *n, cJSON *o);
/* Readers, one per op, for the table in plan_json_read.c. */
int canon__pj_read_dropna(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out);
int canon__pj_read_fillna(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out);
int canon__pj_read_take(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out);
int canon__pj_read_sample(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out);
int canon__pj_read_rename(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out);
int canon__pj_read_drop(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out);
int canon__pj_read_cast(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out);
int canon__pj_read_repartition(canon__pj_reader *r, const cJSON *j, canon_df *in,
                               canon_df **out);
int canon__pj_read_persist(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out);

/* ---- join, set operations, distinct (plan_json_join.c) ----------------- */

/* The op keys of node n into o. */
int canon__pj_write_joins(canon_error *err, const canon_df *n, cJSON *o);
/* "inputs": [a, b] of $.nodes[idx]: both ids defined earlier. */
int canon__pj_inputs(canon__pj_reader *r, const cJSON *j, int idx, canon_df **a,
                     canon_df **b);
/* Readers for the op table; two-input ops find their second input in
 * r->in2. */
int canon__pj_read_join(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out);
int canon__pj_read_setop(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out);
int canon__pj_read_distinct(canon__pj_reader *r, const cJSON *j, canon_df *in, canon_df **out);

#endif /* CANON_PLAN_JSON_H */
