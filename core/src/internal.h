/* internal.h — the core's shared internal definitions.
 *
 * Sections: errors; buffers and columns (Arrow layout); schemas and tables;
 * column builders; expressions; logical plan nodes; sessions.  Names shared
 * across files use the canon__ prefix; nothing here is exported.
 */
#ifndef CANON_INTERNAL_H
#define CANON_INTERNAL_H

#include "canon.h"
#include "canon_backend.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CANON__PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---- errors ------------------------------------------------------------ */

/* Fill err (if non-NULL) with code and a printf-style message; returns code. */
int canon__seterr(canon_error *err, int code, const char *fmt, ...) CANON__PRINTF(3, 4);
/* Prefix an existing message: "<prefix>: <old message>". */
void canon__errprefix(canon_error *err, const char *fmt, ...) CANON__PRINTF(2, 3);
#define canon__nomem(err) canon__seterr((err), CANON_ERR_NOMEM, "out of memory")

/* Checked allocation helpers (NULL on failure or size overflow). */
/* Fault injection for tests (alloc.c): arm "the n-th allocation from now
 * fails" (0: disarm); how many allocations are left before it (0: it
 * fired, or none armed); whether this allocation is the one to fail. */
void canon__alloc_fail_after(long n);
long canon__alloc_fail_pending(void);
bool canon__alloc_fails(void);
void *canon__malloc(size_t n);
void *canon__calloc(size_t n, size_t size);
void *canon__realloc(void *p, size_t n);
void *canon__reallocarray(void *p, size_t n, size_t size);
char *canon__strdup(const char *s);
char *canon__strndup(const char *s, size_t n);
char *canon__asprintf(const char *fmt, ...) CANON__PRINTF(1, 2);

/* ---- malloc settings while sessions are open (memtune.c) --------------- */

void canon__memtune_session_opened(void);
void canon__memtune_session_closed(void);
void canon__memtune_release(void);

/* ---- buffers ----------------------------------------------------------- */

/* A reference-counted, 64-byte aligned byte buffer. */
typedef struct canon__buffer {
  long refs;        /* atomic */
  size_t size;      /* bytes in use */
  size_t cap;       /* bytes allocated */
  uint8_t *data;
  struct canon__buffer *parent;  /* set for an alias: data points into it */
} canon__buffer;

canon__buffer *canon__buffer_new(size_t cap);
canon__buffer *canon__buffer_ref(canon__buffer *b);
/* A read-only view of `size` bytes of `parent` from byte `offset`; it keeps
 * the parent alive.  Never reserved or written. */
canon__buffer *canon__buffer_alias(canon__buffer *parent, size_t offset, size_t size);
/* An empty window of room for `cap` bytes of `parent` from byte `offset`,
 * for one builder to write (a load written straight into the buffers its
 * table keeps, load_sink.c): it keeps the parent alive, and reserving past
 * its room moves its bytes out into a buffer of its own (it is then no
 * longer a window).  Windows of one parent must not overlap. */
canon__buffer *canon__buffer_window(canon__buffer *parent, size_t offset, size_t cap);
/* The buffer b is an alias or a window of (NULL: none, or b is external). */
canon__buffer *canon__buffer_parent(const canon__buffer *b);
void canon__buffer_unref(canon__buffer *b);
/* A buffer over `size` bytes at `data` that canon does not own (e.g. a
 * read-only shared mapping): never written; release(ctx) runs when the
 * last reference to it and its aliases goes. */
canon__buffer *canon__buffer_external(const uint8_t *data, size_t size, void (*release)(void *ctx),
                                      void *ctx);
/* Current reference count (for owners that check nothing outlived them). */
long canon__buffer_refs(const canon__buffer *b);
/* Grow capacity to at least `cap` (only while the buffer is unshared); a
 * window's bytes move into a buffer of its own, and an external buffer is
 * refused (CANON_ERR_INTERNAL). */
int canon__buffer_reserve(canon__buffer *b, size_t cap);

/* ---- columns ----------------------------------------------------------- */

/* An immutable column in Arrow layout:
 *   validity: bitmap, LSB first, bit set = valid; NULL when no NULLs.
 *   values:   bool -> uint8 per value (0/1; packed only on Arrow export);
 *             int64, timestamp -> int64; float64 -> double; date -> int32;
 *             string -> int64 offsets, length+1 entries (the first is 0
 *             except in a view, whose offsets index its parent's bytes).
 *   strdata:  string bytes (strings only).
 * Columns are reference counted, so projections copy nothing.
 *
 * A string column may also carry dictionary codes (an accelerator, never
 * the only copy of its values): `dict` holds the column's distinct strings
 * once each, and `codes` one uint32 per row, the index in dict->values of
 * that row's string (0 at NULL rows).  Two rows of one column with codes
 * are equal exactly when their codes are.  Kernels that can use codes do
 * (hashing, grouping); every other reader sees an ordinary string column.
 * Gathers, slices and concatenations of one table carry the codes; a
 * column derived any other way simply has none (see core/kernels/dict.c). */
typedef struct canon__dict canon__dict;
typedef struct canon__column {
  long refs;
  canon_type type;
  int64_t length;
  int64_t null_count;
  canon__buffer *validity;
  canon__buffer *values;
  canon__buffer *strdata;
  canon__dict *dict;      /* strings only; NULL: no codes */
  canon__buffer *codes;   /* uint32 per row, with dict */
} canon__column;

/* The distinct values of a dictionary-coded string column: values (no
 * NULLs, each string once) and the row-hash pre-image of each (as
 * canon__hash_rows takes it from the bytes).  Immutable and shared. */
struct canon__dict {
  long refs;
  canon__column *values;
  uint64_t *prehash;
};
canon__dict *canon__dict_ref(canon__dict *d);
void canon__dict_unref(canon__dict *d);
static inline const uint32_t *canon__codes(const canon__column *c) {
  return (const uint32_t *)c->codes->data;
}
/* Dictionary codes (core/kernels/dict.c).  Give string column c — which
 * nobody else holds yet — codes when it has few distinct values (else
 * leave it as it is): 0, or CANON_ERR_NOMEM. */
int canon__column_dict_encode(canon__column *c);
/* Tests set this to make the dictionary set's string hash collide (only
 * 16 distinct values), so that its byte comparisons decide every probe. */
extern bool canon__dict_weak_hash;
/* The row checks of a decoding (codec_check.c) go to threads from this
 * many checked bytes on, in chunks of this many rows (a multiple of 64);
 * tests lower both to check small tables that way. */
extern size_t canon__check_threads_min;
extern int64_t canon__check_chunk_rows;
/* The same for every unshared string column of t, which it takes: t, or
 * NULL (t freed, err set) when out of memory. */
canon_table *canon__table_dict_encode(canon_table *t, canon_error *err);
/* Codes for the concatenation of column i of parts[0..n) when every
 * part's column has them (the parts' dictionary when they share one, else
 * a merged one), in steps: the merged
 * dictionary (*merged NULL: the concatenation has no codes) and maps[p],
 * part p's codes to the merged ones (NULL: unchanged; parts with one
 * dictionary share a map) — 0 or CANON_ERR_NOMEM; then each part's codes
 * through its map; then the maps freed. */
int canon__dict_concat_plan(canon_table *const *parts, int n, int i, canon__dict **merged,
                            uint32_t **maps);
/* The same over the parts' dictionaries (dicts[p] NULL: part p has none,
 * and the concatenation has no codes). */
int canon__dict_merge_plan(const canon__dict *const *dicts, int n, canon__dict **merged,
                           uint32_t **maps);
void canon__dict_codes_part(const canon__column *c, const uint32_t *map, uint32_t *dst);
/* Every part's codes through its map into one new buffer of total rows
 * (NULL: out of memory). */
canon__buffer *canon__dict_codes_concat(canon_table *const *parts, int n, int i,
                                        uint32_t *const *maps, int64_t total);
void canon__dict_maps_free(uint32_t **maps, int n);
/* Attach `values` (strings, no NULLs) as c's dictionary and `codes` (a
 * uint32 per row of c) as its codes, after checking everything an
 * encoding cannot be trusted with: values distinct, every valid row's code
 * in range and naming that row's own string, code 0 at NULL rows.  Takes
 * both references.  0; CANON_ERR_PARSE with *why set; CANON_ERR_NOMEM. */
int canon__dict_adopt(canon__column *c, canon__column *values, canon__buffer *codes,
                      const char **why);
/* An exchange split straight into its encoding (split_encode.c; layout
 * in canon_backend.h, exchange_split_encode): P bucket encodings of t's
 * rows, written once into memory from alloc(ctx, total), *len = total.
 * _scatter: bucket[i] is row i's bucket, rows in input order; _buckets:
 * encode bucket tables made by a split.  *out (NULL: not wanted) gets the rows
 * and bytes (validity, values, string bytes: canon__table_bytes) of all
 * buckets.  0, or an error (alloc's NULL is CANON_ERR_NOMEM). */
typedef struct canon__split_out {
  int64_t rows, bytes;
} canon__split_out;
int canon__split_encode_scatter(const canon_table *t, const int32_t *bucket, int P,
                                uint8_t *(*alloc)(void *ctx, size_t len), void *ctx, size_t *len,
                                canon__split_out *out, canon_error *err);
int canon__split_encode_buckets(canon_table *const *buckets, int P,
                                uint8_t *(*alloc)(void *ctx, size_t len), void *ctx, size_t *len,
                                canon__split_out *out, canon_error *err);
/* The row-hash pre-image of a string's bytes (core/kernels/hashing.c). */
uint64_t canon__hash_str_pre(const char *s, size_t n);

canon__column *canon__column_ref(canon__column *c);
void canon__column_unref(canon__column *c);
/* A column of `n` NULLs of type t. */
canon__column *canon__column_nulls(canon_type t, int64_t n);

static inline bool canon__valid(const canon__column *c, int64_t i) {
  return !c->validity || ((c->validity->data[i >> 3] >> (i & 7)) & 1);
}
static inline const int64_t *canon__i64(const canon__column *c) {
  return (const int64_t *)c->values->data;
}
static inline const int32_t *canon__i32(const canon__column *c) {
  return (const int32_t *)c->values->data;
}
static inline const double *canon__f64(const canon__column *c) {
  return (const double *)c->values->data;
}
static inline const uint8_t *canon__u8(const canon__column *c) {
  return (const uint8_t *)c->values->data;
}
static inline const char *canon__str(const canon__column *c, int64_t i, size_t *len) {
  const int64_t *off = (const int64_t *)c->values->data;
  *len = (size_t)(off[i + 1] - off[i]);
  return (const char *)c->strdata->data + off[i];
}
/* Size in bytes of one value slot for fixed-width types (string: 8). */
size_t canon__type_width(canon_type t);

/* ---- schemas and tables ------------------------------------------------ */

struct canon_schema {
  int n;
  int cap;
  char **names;
  canon_type *types;
};

canon_schema *canon__schema_copy(const canon_schema *s);
bool canon__schema_equal(const canon_schema *a, const canon_schema *b);

/* A table (also the unit of data a task consumes and produces). */
struct canon_table {
  canon_schema *schema;
  int64_t nrows;
  canon__column **cols;  /* schema->n columns, each of length nrows */
};

/* Make a table from a schema (copied) and columns (references moved in). */
canon_table *canon__table_make(const canon_schema *s, canon__column **cols,
                               int64_t nrows, canon_error *err);
/* An empty table with the schema. */
canon_table *canon__table_empty(const canon_schema *s, canon_error *err);
/* Rows idx[0..n) of t, in that order, into a new table. */
/* Whether parts can be concatenated: parts given, at least one, all of one
 * schema; else `code` with a message in err (table.c). */
bool canon__table_concat_check(canon_table *const *parts, int n, int code, canon_error *err);
/* Where part p of a concatenation of column i starts: row row_at[p] and
 * (strings) byte byte_at[p]; both n + 1 long, the last the totals. */
void canon__concat_offsets(canon_table *const *parts, int n, int i, int64_t *row_at,
                           int64_t *byte_at);
/* Part column c's values (string offsets shifted to byte_at) into the
 * values of a concatenation from row row_at, and its string bytes into
 * strdata from byte byte_at. */
void canon__concat_copy_part(const canon__column *c, uint8_t *values, uint8_t *strdata,
                             int64_t row_at, int64_t byte_at);
/* OR bits [0, len) of src (NULL: all set) into dst from bit `at` (table.c). */
void canon__bits_or(uint8_t *dst, int64_t at, const uint8_t *src, int64_t len);
/* Run fn(arg) on up to `threads` threads (at most 8, the caller's among
 * them); fn takes its items from a shared counter in arg. */
void canon__run_threads(void *(*fn)(void *), void *arg, int threads);
/* Threads worth starting for `bytes` of memory-bound work (a copy, a
 * scan): one below 8 MiB, else one per online CPU, at most 8. */
int canon__threads_for(size_t bytes);
canon_table *canon__table_take(const canon_table *t, const int64_t *idx,
                               int64_t n, canon_error *err);
/* Values idx[0..n) of c, in that order, into a new column (NULL on OOM);
 * with may_null, an index < 0 gives a NULL (without, there is none). */
canon__column *canon__column_take(const canon__column *c, const int64_t *idx, int64_t n,
                                  bool may_null);
/* Rows [start, start+n) (the whole table shared, else a view). */
canon_table *canon__table_slice(const canon_table *t, int64_t start, int64_t n,
                                canon_error *err);
/* Rows [start, start+n) of t sharing its buffers, from any start. */
canon_table *canon__table_view_rows(const canon_table *t, int64_t start, int64_t n,
                                    canon_error *err);
/* Rows [start, start+n) of column c sharing its buffers (NULL: out of
 * memory); the caller checks the range. */
canon__column *canon__column_view(const canon__column *c, int64_t start, int64_t n);
/* Column c is rows [first, first + c->length) of column b, in b's own
 * memory: the same buffers (by address), NULLs and dictionary codes. */
bool canon__column_range_of(const canon__column *c, const canon__column *b, int64_t first);
/* A column of a table that is rows of a column of another (table_refs.c). */
typedef struct canon__colref {
  int col;       /* the other table's column; -1: none */
  int64_t first; /* the row of it where this column's rows start */
} canon__colref;
/* The column of base that column i of t is a row range of
 * (canon__column_range_of; the first such), or col -1 (always with base
 * NULL or a table without rows).  No allocation, no failure. */
canon__colref canon__column_ref_in(const canon_table *t, int i, const canon_table *base);
/* canon_host.table_range_of: 1 with *first set when t is exactly rows
 * [*first, *first + rows(t)) of base, in base's own memory, under base's
 * schema; else 0. */
int canon__table_range_of(const canon_table *t, const canon_table *base, int64_t *first);
/* Split t's rows into out[0..n): row i goes to out[bucket[i]], which gets
 * counts[k] rows in input order (table_scatter.c: one pass per column). */
int canon__table_scatter(const canon_table *t, const int32_t *bucket, int n,
                         const int64_t *counts, canon_table **out, canon_error *err);
canon_table *canon__table_concat(canon_table *const *parts, int n, canon_error *err);
/* Concatenate, releasing each part's columns as they are copied; the parts
 * are freed and set to NULL in every case.  Big columns are copied with a
 * thread per core: for the driver once an engine is done (persist,
 * collect), never inside a task. */
canon_table *canon__table_concat_free(canon_table **parts, int n, canon_error *err);
/* The same for a table the session keeps (persist): the memory of each
 * part's column goes back to the kernel once it is copied (memtune.c). */
canon_table *canon__table_concat_keep(canon_table **parts, int n, canon_error *err);
/* A new table sharing the columns of t (cheap copy). */
canon_table *canon__table_share(const canon_table *t, canon_error *err);
int64_t canon__table_bytes(const canon_table *t);

/* ---- column builders --------------------------------------------------- */

typedef struct canon__colbuilder {
  canon_type type;
  int64_t length;
  int64_t null_count;
  canon__buffer *validity;  /* allocated on the first NULL */
  canon__buffer *values;
  canon__buffer *strdata;
} canon__colbuilder;

int canon__cb_init(canon__colbuilder *b, canon_type t, int64_t expected);
void canon__cb_reset(canon__colbuilder *b);  /* frees everything */
int canon__cb_null(canon__colbuilder *b);
int canon__cb_bool(canon__colbuilder *b, bool v);
int canon__cb_i64(canon__colbuilder *b, int64_t v);   /* int64, timestamp */
int canon__cb_i32(canon__colbuilder *b, int32_t v);   /* date */
int canon__cb_f64(canon__colbuilder *b, double v);
int canon__cb_str(canon__colbuilder *b, const char *s, size_t len);
/* Append value i of column c (same type). */
int canon__cb_from(canon__colbuilder *b, const canon__column *c, int64_t i);
/* Finish into a column (NULL on OOM); the builder is reset. */
canon__column *canon__cb_finish(canon__colbuilder *b);

struct canon_builder {
  canon_schema *schema;
  canon__colbuilder *cols;
  /* The first append that failed (type mismatch, bad column, no memory):
   * sticky until finish, so a caller that ignores return codes still gets
   * an error instead of silently shorter output. */
  int failed_code;
  int failed_col;
};

/* ---- expressions ------------------------------------------------------- */

typedef enum canon__expr_kind {
  CANON__E_COL = 1,
  CANON__E_LIT,
  CANON__E_CALL,
  CANON__E_AGG
} canon__expr_kind;

/* Scalar functions (CANON__E_CALL) and aggregate functions (CANON__E_AGG).
 * The JSON name of each is in canon__fn_names (expr.c). */
typedef enum canon__fn {
  CANON__F_ADD = 1, CANON__F_SUB, CANON__F_MUL, CANON__F_DIV, CANON__F_TRY_DIV,
  CANON__F_IDIV, CANON__F_MOD, CANON__F_NEG,
  CANON__F_EQ, CANON__F_NE, CANON__F_LT, CANON__F_LE, CANON__F_GT, CANON__F_GE,
  CANON__F_AND, CANON__F_OR, CANON__F_NOT, CANON__F_IS_NULL, CANON__F_IS_NOT_NULL,
  CANON__F_COALESCE, CANON__F_CAST, CANON__F_TRY_CAST,
  /* aggregates */
  CANON__A_COUNT_STAR, CANON__A_COUNT, CANON__A_SUM, CANON__A_MEAN,
  CANON__A_MIN, CANON__A_MAX,
  /* scalar functions (expr_fn.c, kernels/eval_fn*.c); CANON__F_LENGTH ..
   * CANON__F_IN_LIST are scalars although they follow the aggregates */
  CANON__F_LENGTH, CANON__F_LOWER, CANON__F_UPPER, CANON__F_SUBSTRING, CANON__F_CONCAT,
  CANON__F_STARTS_WITH, CANON__F_CONTAINS, CANON__F_TRIM, CANON__F_LTRIM, CANON__F_RTRIM,
  CANON__F_ABS, CANON__F_ROUND, CANON__F_FLOOR, CANON__F_CEIL, CANON__F_SQRT, CANON__F_POW,
  CANON__F_LN, CANON__F_EXP, CANON__F_IF_ELSE, CANON__F_CASE_WHEN, CANON__F_IN_LIST,
  /* more aggregates (expr_agg.c, kernels/agg_moments.c, kernels/agg_values.c);
   * canon__fn_is_agg_ext is the range CANON__A_VAR .. CANON__A_ALL, so scalar
   * functions appended after it need a range of their own */
  CANON__A_VAR, CANON__A_STDDEV, CANON__A_CORR, CANON__A_MEDIAN, CANON__A_QUANTILE,
  CANON__A_QUANTILE_DISC, CANON__A_COUNT_DISTINCT, CANON__A_ANY, CANON__A_ALL,
  CANON__FN__COUNT
} canon__fn;

/* A literal value. */
typedef struct canon__value {
  canon_type type;
  bool is_null;
  union {
    bool b;
    int64_t i;    /* int64, timestamp */
    int32_t d;    /* date */
    double f;
  } v;
  char *s;        /* string bytes (owned), NUL-terminated for convenience */
  size_t slen;
} canon__value;

struct canon_expr {
  long refs;
  canon__expr_kind kind;
  canon__fn fn;          /* CALL / AGG */
  char *name;            /* COL: column name */
  canon__value lit;      /* LIT */
  canon_type cast_to;    /* CAST / TRY_CAST target */
  int nargs;
  canon_expr **args;
  /* Set by binding (canon__expr_bind returns a bound copy): */
  int col;               /* COL: column index in the input schema */
  canon_type type;       /* result type */
};

canon_expr *canon__expr_new(canon__expr_kind kind);
/* Name of a function as written in plan JSON ("add", "sum", ...), or NULL. */
const char *canon__fn_name(canon__fn fn);
canon__fn canon__fn_from_name(const char *name);  /* 0 when unknown */
/* Type-check `e` against `s` and return a bound deep copy (col indices and
 * result types filled).  `allow_agg`: aggregate calls allowed at the top
 * (under an aggregate no aggregate may nest). */
/* Fill err with "type error in <e>: <detail>" (CANON_ERR_TYPE). */
void canon__expr_type_error(canon_error *err, const canon_expr *e, const char *fmt, ...)
    CANON__PRINTF(3, 4);
canon_expr *canon__expr_bind(const canon_expr *e, const canon_schema *s,
                             bool allow_agg, canon_error *err);
/* Evaluate a bound scalar expression over the rows of t into a new column
 * of t->nrows values.  Errors name the expression. */
canon__column *canon__expr_eval(const canon_expr *bound, const canon_table *t,
                                canon_error *err);
/* Deep-copy an (unbound) expression. */
canon_expr *canon__expr_copy(const canon_expr *e);
void canon__value_reset(canon__value *v);
int canon__value_copy(canon__value *dst, const canon__value *src);
/* Whether fn is an aggregate (CANON__E_AGG) function. */
bool canon__fn_is_agg(canon__fn fn);
/* The functions of expr_fn.c (length .. in_list): */
bool canon__fn_is_ext(canon__fn fn);
/* Their result type given bound arguments (b), after checking arity and
 * argument types; CANON_TYPE_INVALID after reporting an error about e. */
canon_type canon__fn_ext_type(const canon_expr *e, const canon_expr *b, canon_error *err);
/* Their arity for plan JSON: [*lo, *hi], *hi -1 = no limit. */
void canon__fn_ext_arity(canon__fn fn, int *lo, int *hi);
/* A call node of fn over args[0..n) (moved in; freed on failure) without
 * checks (binding checks); NULL on OOM. */
canon_expr *canon__fn_ext_call(canon__fn fn, canon_expr **args, int n);
/* The aggregates of expr_agg.c (var .. all), the same four entries: */
bool canon__fn_is_agg_ext(canon__fn fn);
canon_type canon__agg_ext_type(const canon_expr *e, const canon_expr *b, canon_error *err);
void canon__agg_ext_arity(canon__fn fn, int *lo, int *hi);
canon_expr *canon__agg_ext_call(canon__fn fn, canon_expr **args, int n);

/* ---- logical plan ------------------------------------------------------ */

typedef enum canon__node_kind {
  CANON__N_READ_CSV = 1,
  CANON__N_TABLE,      /* in-memory table */
  CANON__N_SELECT,
  CANON__N_FILTER,
  CANON__N_ASSIGN,
  CANON__N_AGGREGATE,
  CANON__N_SORT,
  CANON__N_LIMIT,
  CANON__N_TRANSFORM,
  /* plan_rowops.c, plan_take_sample.c */
  CANON__N_DROPNA, CANON__N_FILLNA, CANON__N_TAKE, CANON__N_SAMPLE, CANON__N_RENAME,
  CANON__N_DROP, CANON__N_CAST, CANON__N_REPARTITION, CANON__N_PERSIST,
  /* joins, set operations, distinct (plan_join.c, plan_setops.c) */
  CANON__N_JOIN, CANON__N_UNION_ALL, CANON__N_UNION, CANON__N_INTERSECT,
  CANON__N_INTERSECT_ALL, CANON__N_EXCEPT, CANON__N_EXCEPT_ALL, CANON__N_DISTINCT,
  CANON__N__COUNT
} canon__node_kind;

/* A logical plan node: what the user sees as a canon_df. */
struct canon_df {
  int id;                       /* unique in the session, from 1 */
  int origin_id;                /* the id a plan JSON gave it (0: none); errors
                                   name this one when set */
  int origin_kind;              /* kind + 1 of the user's node this one stands
                                   for in errors and explain (plan_prune.c: a
                                   narrowed cast, rename or drop is a select);
                                   0: its own */
  canon__node_kind kind;
  canon_session *session;
  int ninputs;
  canon_df *inputs[2];
  canon_schema *schema;         /* output schema, known at build time */

  /* READ_CSV */
  char *path;
  canon_schema *csv_schema;     /* declared or inferred */
  bool schema_inferred;
  char delimiter;
  /* TABLE */
  canon_table *table;
  /* SELECT, ASSIGN, AGGREGATE (outputs), FILTER (exprs[0] = predicate).
   * exprs are unbound as the user gave them; bound holds the bound copies
   * against the input schema. */
  int nexprs;
  canon_expr **exprs;
  canon_expr **bound;
  char **names;
  /* AGGREGATE keys, TRANSFORM by-keys */
  int nkeys;
  char **keys;
  bool drop_null_keys;
  /* AGGREGATE (plan_aggregate.c): the distinct aggregate calls of the
   * outputs bound against the input (naggs), the schema of (keys, aggregate
   * results) the final merge makes, and the outputs bound over it (nexprs;
   * their aggregate calls read column `col` of that table). */
  int naggs;
  canon_expr **aggs;
  canon_schema *agg_schema;
  canon_expr **post;
  /* SORT keys, TRANSFORM presort */
  int nsort;
  canon_sort_key *sort;         /* column strings owned */
  /* LIMIT n, TRANSFORM num */
  int64_t n;
  /* TRANSFORM */
  char *transform;
  /* DROPNA how (canon_dropna_how) and thresh (< 0: not given); SAMPLE
   * fraction (< 0: sample n rows) and seed (plan_rowops.c, plan_take_sample.c) */
  int how;
  int64_t thresh;
  double fraction;
  uint64_t seed;
  /* JOIN (plan_join.c): left keys in keys, the right key paired with each
   * in rkeys (nkeys entries); suffixes NULL when not given.  DISTINCT
   * subset in keys. */
  char **rkeys;
  int join_type;                /* canon_join_type */
  bool nulls_equal;
  char *left_suffix, *right_suffix;
  int join_strategy;            /* canon_join_strategy */
  int64_t broadcast_max_rows;
};

/* Kind name as in plan JSON ("read_csv", "filter", ...). */
const char *canon__node_kind_name(canon__node_kind k);
/* The kind a node is named by in errors and explain: the user's
 * (origin_kind) when set, else its own. */
const char *canon__df_kind_name(const canon_df *d);
/* Put "<kind> node <id>: " (the user's node) in front of err's message. */
void canon__node_errprefix(const canon_df *d, canon_error *err);
canon__node_kind canon__node_kind_from_name(const char *name);

/* Aggregate nodes (plan_aggregate.c): check the bound outputs of d (keys
 * outside aggregate calls allowed) and set naggs, aggs, agg_schema, post;
 * run the final stage over the concatenated partials; free those fields. */
int canon__aggregate_bind(canon_df *d, const canon_schema *in, canon_error *err);
canon_table *canon__aggregate_final(const canon_df *d, const canon_table *partials,
                                    canon_error *err);
void canon__aggregate_free(canon_df *d);

/* Allocate a node in session s with the next id (inputs not yet set). */
canon_df *canon__node_new(canon_session *s, canon__node_kind kind, canon_error *err);

/* ---- sessions and transforms -------------------------------------------- */

typedef struct canon__transform_entry {
  char *name;
  canon_transform_fn fn;
  void *user_data;
} canon__transform_entry;

/* Look a registered transform up by name (NULL if absent). */
const canon__transform_entry *canon__transform_find(const char *name);

typedef struct canon__loaded_backend canon__loaded_backend;

struct canon_session {
  char *engine_string;
  const canon_backend *backend;
  void *backend_state;
  void *dl_handle;
  int next_id;
  int nnodes, capnodes;
  canon_df **nodes;             /* every node made in the session */
  int nstrings, capstrings;
  char **strings;               /* strings handed out (sink paths) */
  struct canon__obs_session *obs; /* progress, trace, last statistics (observe.h) */
};

/* Keep a malloc'd string alive until the session closes. */
const char *canon__session_keep_string(canon_session *s, char *str);

/* ---- moving tables and jobs between processes (codec.c, job_codec.c) ---- */

/* Table codec: bytes needed, encode into buf (cap >= that), decode with
 * full validation (CANON_ERR_PARSE on anything malformed). */
size_t canon__table_encoded_size(const canon_table *t);
int canon__table_encode_into(const canon_table *t, uint8_t *buf, size_t cap, canon_error *err);
canon_table *canon__table_decode(const uint8_t *buf, size_t len, canon_error *err);
/* The same checks, but the columns view buf instead of copying it: buf
 * must stay readable until release(ctx) runs — once, when the table and
 * every table sharing its buffers are freed, or before returning NULL.
 * (A buf not 8-byte aligned is copied, and released at once.) */
canon_table *canon__table_decode_shared(const uint8_t *buf, size_t len, void (*release)(void *ctx),
                                        void *ctx, canon_error *err);
/* Rows of an encoded table from its header alone; -1 when malformed. */
int64_t canon__table_encoded_rows(const uint8_t *buf, size_t len, canon_error *err);
/* Job codec: *buf malloc'd; a decoded job owns a detached session and is
 * freed with canon__job_decoded_free. */
int canon__job_encode(const canon_job *job, uint8_t **buf, size_t *len, canon_error *err);
canon_job *canon__job_decode(const uint8_t *buf, size_t len, canon_error *err);
void canon__job_decoded_free(canon_job *job);
/* The same with shared tables (see canon_host.job_encode_shared): share
 * gives each table's id (0: inline), lookup the table behind an id
 * (borrowed; the job shares its buffers). */
typedef int (*canon__share_fn)(void *ctx, const canon_table *t, uint64_t *id, canon_error *err);
typedef const canon_table *(*canon__lookup_fn)(void *ctx, uint64_t id, canon_error *err);
int canon__job_encode_shared(const canon_job *job, canon__share_fn share, void *ctx, uint8_t **buf,
                             size_t *len, canon_error *err);
canon_job *canon__job_decode_shared(const uint8_t *buf, size_t len, canon__lookup_fn lookup,
                                    void *ctx, canon_error *err);
/* For caches of shipped tables: whether a and b hold the same columns
 * (same buffers, schema and rows); whether some column of t is held by t
 * alone, so that no other table holds t's data. */
bool canon__table_same_data(const canon_table *a, const canon_table *b);
bool canon__table_data_orphaned(const canon_table *t);
/* Exchange state of input i of stage s (see canon_host). */
int canon__exchange_state_encode(const canon_job *job, int stage, int input, uint8_t **buf,
                                 size_t *len, canon_error *err);
int canon__exchange_state_decode(canon_job *job, int stage, int input, const uint8_t *buf,
                                 size_t len, canon_error *err);
int canon__exchange_prepare_encoded(canon_job *job, int stage, int input,
                                    const uint8_t *const *outs, const size_t *lens, int n,
                                    canon_error *err);

/* ---- encodings of this program's own (codec.c, dict.c) ---- */

/* canon__dict_adopt for codes this program's own encoder wrote: checks
 * only that every code lies inside the dictionary (0 at NULL rows), not
 * that values are distinct or that codes name their rows' strings. */
int canon__dict_adopt_own(canon__column *c, canon__column *values, canon__buffer *codes,
                          const char **why);
/* canon__table_decode_shared for an encoding written by
 * canon__table_encode_into in another process of the same program (see
 * canon_host.table_decode_own): adopts dictionary codes with
 * canon__dict_adopt_own; every other check is the same. */
canon_table *canon__table_decode_own(const uint8_t *buf, size_t len, void (*release)(void *ctx),
                                     void *ctx, canon_error *err);

/* Column references (codec.c, canon_host.table_encode_ref_into): the
 * encoding with each column that is rows of one of base's (see
 * canon__column_ref_in) written as (base_id, column, first row) instead of
 * its rows; base NULL: the plain encoding.  Decoding resolves references
 * with lookup and views the table it gives (no copy); it is
 * canon__table_decode_own otherwise. */
size_t canon__table_encoded_size_ref(const canon_table *t, const canon_table *base);
int canon__table_encode_ref_into(const canon_table *t, const canon_table *base, uint64_t base_id,
                                 uint8_t *buf, size_t cap, canon_error *err);
canon_table *canon__table_decode_ref(const uint8_t *buf, size_t len, void (*release)(void *ctx),
                                     void *ctx, canon__lookup_fn lookup, void *lctx,
                                     canon_error *err);
/* The concatenation of parts (n >= 1, one schema) encoded — the bytes
 * canon__table_encode_into gives for canon__table_concat(parts) — into
 * the len bytes alloc(ctx, len) returns (NULL: out of memory), and a
 * table of those rows whose columns view them (codec_concat.c).
 * release(ctx) runs once alloc has returned memory: when the table and
 * every table sharing its buffers are freed, or before NULL returns. */
canon_table *canon__table_concat_encoded(canon_table *const *parts, int n,
                                         uint8_t *(*alloc)(void *ctx, size_t len),
                                         void (*release)(void *ctx), void *ctx, canon_error *err);

/* A concatenation planned here and written by the processes holding its
 * parts (concat_remote.c): a part's sketch (size, then the bytes); the
 * plan from every part's sketch (n >= 1, in part order; they may go once
 * it is made), the encoding's length, everything of it but the rows into
 * buf, and part p's order (size, then the bytes); then, where part p is,
 * its rows into the encoding as its order says — checked first against
 * the part (its index and rows) and the encoding's dlen bytes
 * (CANON_ERR_INVALID).  The
 * encoding is then canon__table_encode_into's bytes for the
 * concatenation; decode it with the usual checks. */
typedef struct canon__rcat canon__rcat;
size_t canon__table_sketch_size(const canon_table *t);
int canon__table_sketch_into(const canon_table *t, uint8_t *buf, size_t cap, canon_error *err);
canon__rcat *canon__rcat_plan(const canon_schema *s, const uint8_t *const *sketch, const size_t *lens,
                              int n, canon_error *err);
size_t canon__rcat_len(const canon__rcat *c);
int canon__rcat_put_head(const canon__rcat *c, uint8_t *buf, size_t cap, canon_error *err);
size_t canon__rcat_order_size(const canon__rcat *c, int p);
int canon__rcat_order_into(const canon__rcat *c, int p, uint8_t *buf, size_t cap, canon_error *err);
void canon__rcat_free(canon__rcat *c);
int canon__rcat_write_part(const canon_table *t, int part, const uint8_t *order, size_t olen,
                           uint8_t *dst, size_t dlen, canon_error *err);

#endif /* CANON_INTERNAL_H */
