/* canon.h — the public API of canon.
 *
 * A canon program opens a session (which loads an engine plugin), builds a
 * lazy dataframe plan out of canon_df handles and asks for a result
 * (canon_collect, canon_write_csv, canon_export_arrow).  Nothing runs before
 * a result is asked for.  The same program gives the same answer on every
 * engine and at every partition count (docs/semantics.md).
 *
 * Conventions
 *   - Functions returning int give 0 on success and a canon_errcode otherwise;
 *     functions returning a pointer give NULL on failure.  Every fallible
 *     function takes an optional canon_error* that receives the message.
 *   - canon_df handles belong to their session and live until it closes; they
 *     are immutable, so one handle may feed several later steps.
 *   - canon_expr values are reference counted.  Constructors that take
 *     expressions take ownership of them ("move"); use canon_expr_ref() to
 *     use one expression twice.  A NULL argument makes the constructor return
 *     NULL, so a failed allocation surfaces at the plan step that uses it.
 *   - Tables (canon_table) are owned by the caller: canon_table_free().
 */
#ifndef CANON_H
#define CANON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CANON_API __attribute__((visibility("default")))
#else
#define CANON_API
#endif

#define CANON_VERSION_STRING "0.1.0"
#define CANON_PLAN_FORMAT_VERSION 1

/* ---- errors ------------------------------------------------------------ */

typedef enum canon_errcode {
  CANON_OK = 0,
  CANON_ERR_INVALID,        /* bad argument or API misuse */
  CANON_ERR_NOMEM,          /* allocation failed */
  CANON_ERR_IO,             /* file system error */
  CANON_ERR_PARSE,          /* malformed input data (CSV, Arrow) */
  CANON_ERR_PLAN,           /* malformed or invalid plan / plan JSON */
  CANON_ERR_TYPE,           /* type error in an expression or schema */
  CANON_ERR_NOT_FOUND,      /* unknown column, transform or engine */
  CANON_ERR_OVERFLOW,       /* int64 overflow */
  CANON_ERR_DIV_ZERO,       /* division_by_zero */
  CANON_ERR_CAST,           /* a strict cast failed */
  CANON_ERR_ENGINE,         /* an engine could not be loaded or failed */
  CANON_ERR_ABI,            /* engine ABI version mismatch */
  CANON_ERR_TRANSFORM,      /* a user transform failed or broke its contract */
  CANON_ERR_CONFIG,         /* bad configuration or engine string */
  CANON_ERR_UNSUPPORTED,    /* valid request this build or engine cannot do */
  CANON_ERR_INTERNAL,       /* a bug in canon: please report */
  CANON_ERR__COUNT
} canon_errcode;

typedef struct canon_error {
  int code;              /* canon_errcode, CANON_OK when no error */
  char message[1024];    /* one line, no trailing newline */
} canon_error;

/* The stable short name of an error code, e.g. "division_by_zero". */
CANON_API const char *canon_errcode_name(int code);
/* Reset an error to CANON_OK with an empty message. */
CANON_API void canon_error_clear(canon_error *err);

/* ---- types and schemas ------------------------------------------------- */

typedef enum canon_type {
  CANON_TYPE_INVALID = 0,
  CANON_BOOL,
  CANON_INT64,
  CANON_FLOAT64,
  CANON_STRING,
  CANON_DATE,       /* days since 1970-01-01 (int32) */
  CANON_TIMESTAMP,  /* microseconds since 1970-01-01 UTC (int64) */
  CANON_TYPE__COUNT
} canon_type;

/* "bool", "int64", "float64", "string", "date", "timestamp". */
CANON_API const char *canon_type_name(canon_type t);
/* Parse a type name; CANON_TYPE_INVALID when unknown. */
CANON_API canon_type canon_type_from_name(const char *name);

typedef struct canon_schema canon_schema;

/* Parse "name:type,name:type" (spaces around items allowed). */
CANON_API canon_schema *canon_schema_parse(const char *text, canon_error *err);
CANON_API canon_schema *canon_schema_new(void);
CANON_API int canon_schema_add(canon_schema *s, const char *name, canon_type t,
                               canon_error *err);
CANON_API void canon_schema_free(canon_schema *s);
CANON_API int canon_schema_num_fields(const canon_schema *s);
CANON_API const char *canon_schema_field_name(const canon_schema *s, int i);
CANON_API canon_type canon_schema_field_type(const canon_schema *s, int i);
/* Index of a field by name, -1 when absent. */
CANON_API int canon_schema_find(const canon_schema *s, const char *name);
/* "a:int64,b:string" into a malloc'd string. */
CANON_API char *canon_schema_to_string(const canon_schema *s);

/* ---- tables ------------------------------------------------------------ */

/* A materialized table: columns in Arrow layout, immutable once built. */
typedef struct canon_table canon_table;

CANON_API void canon_table_free(canon_table *t);
CANON_API int64_t canon_table_num_rows(const canon_table *t);
CANON_API int canon_table_num_columns(const canon_table *t);
CANON_API const canon_schema *canon_table_schema(const canon_table *t);
CANON_API const char *canon_table_column_name(const canon_table *t, int col);
CANON_API canon_type canon_table_column_type(const canon_table *t, int col);
CANON_API int canon_table_find_column(const canon_table *t, const char *name);
CANON_API int canon_table_is_null(const canon_table *t, int col, int64_t row);
CANON_API int canon_table_get_bool(const canon_table *t, int col, int64_t row);
/* int64, date (as days) and timestamp (as microseconds). */
CANON_API int64_t canon_table_get_int64(const canon_table *t, int col, int64_t row);
CANON_API double canon_table_get_float64(const canon_table *t, int col, int64_t row);
/* Bytes of a string value, not NUL-terminated; *len receives the length. */
CANON_API const char *canon_table_get_string(const canon_table *t, int col,
                                             int64_t row, size_t *len);
/* Write the table as CSV (header + rows, docs/semantics.md §10). */
CANON_API int canon_table_write_csv_file(const canon_table *t, FILE *f,
                                         canon_error *err);
/* Format one value as its CSV text into buf; returns the length needed. */
CANON_API size_t canon_table_format_value(const canon_table *t, int col,
                                          int64_t row, char *buf, size_t cap);

/* A builder appends rows column by column into a new table.  User
 * transforms receive one to fill. */
typedef struct canon_builder canon_builder;

CANON_API canon_builder *canon_builder_new(const canon_schema *s, canon_error *err);
CANON_API void canon_builder_free(canon_builder *b);
CANON_API const canon_schema *canon_builder_schema(const canon_builder *b);
/* Appends fail with CANON_ERR_TYPE when the column's type does not match. */
CANON_API int canon_builder_append_null(canon_builder *b, int col);
CANON_API int canon_builder_append_bool(canon_builder *b, int col, int v);
CANON_API int canon_builder_append_int64(canon_builder *b, int col, int64_t v);
CANON_API int canon_builder_append_float64(canon_builder *b, int col, double v);
CANON_API int canon_builder_append_string(canon_builder *b, int col,
                                          const char *s, size_t len);
CANON_API int canon_builder_append_date(canon_builder *b, int col, int32_t days);
CANON_API int canon_builder_append_timestamp(canon_builder *b, int col, int64_t us);
/* Append value `row` of column `src_col` of `src` (types must match). */
CANON_API int canon_builder_append_from(canon_builder *b, int col,
                                        const canon_table *src, int src_col,
                                        int64_t row);
/* Append a whole row of `src`, whose schema must equal the builder's. */
CANON_API int canon_builder_append_row(canon_builder *b, const canon_table *src,
                                       int64_t row);
/* Finish: every column must hold the same number of values.  The builder
 * is reset and may be reused. */
CANON_API canon_table *canon_builder_finish(canon_builder *b, canon_error *err);

/* Build a small table from a schema line and CSV rows, e.g.
 *   canon_table_from_csv_text("k:string,v:int64", "a,1\nb,\n", &err)
 * An empty field is NULL, "" the empty string. */
CANON_API canon_table *canon_table_from_csv_text(const char *schema,
                                                 const char *rows,
                                                 canon_error *err);

/* ---- Arrow C Data Interface -------------------------------------------- */

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4
struct ArrowSchema {
  const char *format;
  const char *name;
  const char *metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema **children;
  struct ArrowSchema *dictionary;
  void (*release)(struct ArrowSchema *);
  void *private_data;
};
struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void **buffers;
  struct ArrowArray **children;
  struct ArrowArray *dictionary;
  void (*release)(struct ArrowArray *);
  void *private_data;
};
#endif
#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE
struct ArrowArrayStream {
  int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
  int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
  const char *(*get_last_error)(struct ArrowArrayStream *);
  void (*release)(struct ArrowArrayStream *);
  void *private_data;
};
#endif

/* Export a table as a struct array ("+s") whose children are the columns.
 * The table may be freed afterwards: the export holds its own references. */
CANON_API int canon_table_export_arrow(const canon_table *t,
                                       struct ArrowSchema *schema_out,
                                       struct ArrowArray *array_out,
                                       canon_error *err);
/* Export as a stream yielding the table as one struct array. */
CANON_API int canon_table_export_arrow_stream(const canon_table *t,
                                              struct ArrowArrayStream *out,
                                              canon_error *err);
/* Import a struct array by copying it into a new table.  The array is moved
 * in: its release callback is called before this returns, on success and on
 * failure alike; the schema is only read.  Supported child formats: b, l,
 * g, u, U, tdD, tsu:UTC (and tsu: with an empty zone). */
CANON_API canon_table *canon_table_import_arrow(struct ArrowSchema *schema,
                                                struct ArrowArray *array,
                                                canon_error *err);

/* ---- configuration and sessions ---------------------------------------- */

typedef struct canon_config canon_config;
typedef struct canon_session canon_session;

CANON_API canon_config *canon_config_new(void);
CANON_API void canon_config_free(canon_config *c);
/* Set the engine explicitly ("serial", "serial:partitions=4", a .so path);
 * this beats every other source. */
CANON_API int canon_config_set_engine(canon_config *c, const char *engine,
                                      canon_error *err);
/* Remove `--engine E` / `--engine=E` from argv (updating *argc) and remember
 * E as the flag source of the engine.  Other arguments are left in place. */
CANON_API int canon_config_parse_args(canon_config *c, int *argc, char **argv,
                                      canon_error *err);
/* Seeing a job run (docs/observability.md).  Progress: a live line on
 * stderr per running stage, drawn only when stderr is a terminal; on != 0
 * turns it on, 0 off; unset, CANON_PROGRESS=on|off decides (default off).
 * Trace: after every job, write a Chrome Trace Event JSON file of the
 * session's jobs so far to `path` (NULL: none, whatever CANON_TRACE says);
 * unset, CANON_TRACE names it.  Both return 0 or an error code (CANON_ERR_INVALID, CANON_ERR_NOMEM). */
CANON_API int canon_config_set_progress(canon_config *c, int on);
CANON_API int canon_config_set_trace(canon_config *c, const char *path);
/* The engine string the chain resolves to (explicit, flag, CANON_ENGINE,
 * CANON_CONFIG file, default) and which source gave it.  Returns a malloc'd
 * string or NULL on error. */
CANON_API char *canon_config_resolve_engine(const canon_config *c,
                                            const char **source,
                                            canon_error *err);

/* Open a session on the engine the config resolves to (config may be NULL).
 * Engines that fork workers or join an MPI job do so here. */
CANON_API canon_session *canon_session_open(const canon_config *c, canon_error *err);
CANON_API void canon_session_close(canon_session *s);
/* The engine's name and the engine string the session was opened with. */
CANON_API const char *canon_session_engine_name(const canon_session *s);
CANON_API const char *canon_session_engine_string(const canon_session *s);
/* The engine's CANON_CAP_* capability bits (canon_backend.h); 0 for NULL. */
CANON_API unsigned canon_session_capabilities(const canon_session *s);

/* ---- user transforms --------------------------------------------------- */

/* Called once per group (or partition) with every row of it, ordered by the
 * presort keys; appends its output rows to `out` (whose schema is the one
 * declared in canon_transform).  Returns 0, or non-zero after filling err. */
typedef int (*canon_transform_fn)(const canon_table *group, canon_builder *out,
                                  void *user_data, canon_error *err);

/* Register a transform by name before opening sessions.  Names travel with
 * plans to other processes, where the same program registered the same
 * name.  Re-registering a name replaces it. */
CANON_API int canon_register_transform(const char *name, canon_transform_fn fn,
                                       void *user_data, canon_error *err);

/* ---- expressions ------------------------------------------------------- */

typedef struct canon_expr canon_expr;

CANON_API canon_expr *canon_expr_ref(canon_expr *e);
CANON_API void canon_expr_free(canon_expr *e);
/* Human-readable text, e.g. "(a + 1)"; malloc'd. */
CANON_API char *canon_expr_to_string(const canon_expr *e);

CANON_API canon_expr *canon_col(const char *name);
CANON_API canon_expr *canon_lit_null(canon_type t);
CANON_API canon_expr *canon_lit_bool(int v);
CANON_API canon_expr *canon_lit_int64(int64_t v);
CANON_API canon_expr *canon_lit_float64(double v);
CANON_API canon_expr *canon_lit_string(const char *s);
CANON_API canon_expr *canon_lit_stringn(const char *s, size_t len);
CANON_API canon_expr *canon_lit_date(int32_t days);
CANON_API canon_expr *canon_lit_timestamp(int64_t us);

CANON_API canon_expr *canon_add(canon_expr *a, canon_expr *b);
CANON_API canon_expr *canon_sub(canon_expr *a, canon_expr *b);
CANON_API canon_expr *canon_mul(canon_expr *a, canon_expr *b);
CANON_API canon_expr *canon_div(canon_expr *a, canon_expr *b);      /* '/' */
CANON_API canon_expr *canon_try_div(canon_expr *a, canon_expr *b);  /* NULL on /0 */
CANON_API canon_expr *canon_idiv(canon_expr *a, canon_expr *b);     /* 'div' */
CANON_API canon_expr *canon_mod(canon_expr *a, canon_expr *b);
CANON_API canon_expr *canon_neg(canon_expr *a);
CANON_API canon_expr *canon_eq(canon_expr *a, canon_expr *b);
CANON_API canon_expr *canon_ne(canon_expr *a, canon_expr *b);
CANON_API canon_expr *canon_lt(canon_expr *a, canon_expr *b);
CANON_API canon_expr *canon_le(canon_expr *a, canon_expr *b);
CANON_API canon_expr *canon_gt(canon_expr *a, canon_expr *b);
CANON_API canon_expr *canon_ge(canon_expr *a, canon_expr *b);
CANON_API canon_expr *canon_and(canon_expr *a, canon_expr *b);
CANON_API canon_expr *canon_or(canon_expr *a, canon_expr *b);
CANON_API canon_expr *canon_not(canon_expr *a);
CANON_API canon_expr *canon_is_null(canon_expr *a);
CANON_API canon_expr *canon_is_not_null(canon_expr *a);
/* coalesce of n expressions (n >= 1); takes ownership of all of them. */
CANON_API canon_expr *canon_coalesce(canon_expr **args, int n);
CANON_API canon_expr *canon_cast(canon_expr *a, canon_type to);
CANON_API canon_expr *canon_try_cast(canon_expr *a, canon_type to);

/* Scalar functions (docs/semantics.md has the exact rules).  NULL in, NULL
 * out, unless said otherwise.
 * Strings: positions and lengths count Unicode code points; case mapping
 * is ASCII only (bytes >= 0x80 unchanged); trim removes ASCII spaces. */
CANON_API canon_expr *canon_length(canon_expr *s);  /* int64: code points */
CANON_API canon_expr *canon_lower(canon_expr *s);
CANON_API canon_expr *canon_upper(canon_expr *s);
/* SQL substring(s FROM start FOR len): 1-based; negative len is an error. */
CANON_API canon_expr *canon_substring(canon_expr *s, canon_expr *start, canon_expr *len);
CANON_API canon_expr *canon_substring_from(canon_expr *s, canon_expr *start);
/* concat of n >= 1 strings; NULL if any is NULL (SQL ||); owns all args. */
CANON_API canon_expr *canon_concat(canon_expr **args, int n);
CANON_API canon_expr *canon_starts_with(canon_expr *s, canon_expr *prefix);
CANON_API canon_expr *canon_contains(canon_expr *s, canon_expr *sub);
CANON_API canon_expr *canon_trim(canon_expr *s);
CANON_API canon_expr *canon_ltrim(canon_expr *s);
CANON_API canon_expr *canon_rtrim(canon_expr *s);
/* Numbers: int64 arguments of float functions are converted to float64. */
CANON_API canon_expr *canon_abs(canon_expr *x);    /* abs(INT64_MIN): overflow error */
CANON_API canon_expr *canon_round(canon_expr *x, canon_expr *digits); /* half away from 0 */
CANON_API canon_expr *canon_floor(canon_expr *x);
CANON_API canon_expr *canon_ceil(canon_expr *x);
CANON_API canon_expr *canon_sqrt(canon_expr *x);
CANON_API canon_expr *canon_pow(canon_expr *x, canon_expr *y);
CANON_API canon_expr *canon_ln(canon_expr *x);
CANON_API canon_expr *canon_exp(canon_expr *x);
/* Conditionals: a NULL condition counts as false (SQL CASE).  Only the rows
 * a branch supplies are evaluated in it, so skipped rows raise no errors. */
CANON_API canon_expr *canon_if_else(canon_expr *cond, canon_expr *a, canon_expr *b);
/* CASE WHEN conds[0] THEN vals[0] ... ELSE otherwise END, n >= 1; owns all
 * of them (otherwise may be canon_lit_null(type)). */
CANON_API canon_expr *canon_case_when(canon_expr **conds, canon_expr **vals, int n,
                                      canon_expr *otherwise);
/* x IN (values[0..n)), n >= 1, SQL three-valued; owns x and the values. */
CANON_API canon_expr *canon_in_list(canon_expr *x, canon_expr **values, int n);

/* Aggregate calls, usable only as outputs of canon_aggregate. */
CANON_API canon_expr *canon_count_star(void);
CANON_API canon_expr *canon_count(canon_expr *a);
CANON_API canon_expr *canon_sum(canon_expr *a);
CANON_API canon_expr *canon_mean(canon_expr *a);
CANON_API canon_expr *canon_min(canon_expr *a);
CANON_API canon_expr *canon_max(canon_expr *a);
/* Sample variance (n-1), its square root, and Pearson correlation over the
 * rows where x and y are both non-NULL: exact, rounded once (SEMANTICS §5). */
CANON_API canon_expr *canon_var(canon_expr *a);
CANON_API canon_expr *canon_stddev(canon_expr *a);
CANON_API canon_expr *canon_corr(canon_expr *x, canon_expr *y);
/* median = quantile(a, 0.5, "linear").  p is a number in [0, 1];
 * interpolation is "linear", "lower", "higher", "midpoint" or "nearest"
 * (NULL: "linear"); both are checked when the aggregate is built.
 * quantile_disc is SQL percentile_disc and keeps the input type. */
CANON_API canon_expr *canon_median(canon_expr *a);
CANON_API canon_expr *canon_quantile(canon_expr *a, double p, const char *interpolation);
CANON_API canon_expr *canon_quantile_disc(canon_expr *a, double p);
/* Distinct non-NULL values (NaN once, -0.0 and 0.0 once); 0 when none. */
CANON_API canon_expr *canon_count_distinct(canon_expr *a);
/* SQL bool_or / bool_and over bool values (NULLs skipped; none: NULL). */
CANON_API canon_expr *canon_any(canon_expr *a);
CANON_API canon_expr *canon_all(canon_expr *a);

/* ---- lazy dataframes --------------------------------------------------- */

typedef struct canon_df canon_df;

typedef struct canon_csv_options {
  const char *schema;     /* "a:int64,b:string"; NULL = infer from a sample */
  int64_t sample_rows;    /* rows sampled for inference; 0 = default 10000 */
  char delimiter;         /* 0 = ',' */
} canon_csv_options;

typedef struct canon_sort_key {
  const char *column;
  int descending;         /* 0 = ascending */
  int nulls_first;        /* 0 = NULLS LAST (the default for both directions) */
} canon_sort_key;

typedef struct canon_partition_spec {
  const char *const *by;  /* hash keys (may be NULL) */
  int num_by;
  int num;                /* without keys: number of partitions, 0 = engine's */
  const canon_sort_key *presort;
  int num_presort;
} canon_partition_spec;

CANON_API canon_df *canon_read_csv(canon_session *s, const char *path,
                                   const canon_csv_options *opts, canon_error *err);
/* Wrap an in-memory table (copied by reference; the caller keeps `t`). */
CANON_API canon_df *canon_from_table(canon_session *s, const canon_table *t,
                                     canon_error *err);
/* Import an Arrow struct array as a source (see canon_table_import_arrow). */
CANON_API canon_df *canon_from_arrow(canon_session *s, struct ArrowSchema *schema,
                                     struct ArrowArray *array, canon_error *err);

/* Output columns `exprs[i]` named `names[i]` (names may be NULL, or hold
 * NULL entries, for plain column references, which keep their name). */
CANON_API canon_df *canon_select(canon_df *in, canon_expr **exprs,
                                 const char *const *names, int n, canon_error *err);
CANON_API canon_df *canon_filter(canon_df *in, canon_expr *predicate, canon_error *err);
/* Add or replace columns; a replaced column keeps its position. */
CANON_API canon_df *canon_assign(canon_df *in, canon_expr **exprs,
                                 const char *const *names, int n, canon_error *err);
/* Group by `keys` (may be 0 keys) and compute aggregate outputs. */
CANON_API canon_df *canon_aggregate(canon_df *in, const char *const *keys, int nkeys,
                                    canon_expr **aggs, const char *const *names,
                                    int n, canon_error *err);
/* Options of canon_aggregate_opts (zero-initialize; NULL = defaults). */
typedef struct canon_aggregate_options {
  int drop_null_keys;  /* drop every row in which any key is NULL */
} canon_aggregate_options;
/* canon_aggregate with options.  Outputs may be any expression over
 * aggregate calls and group keys, e.g. max(v) - min(v) or k + sum(v). */
CANON_API canon_df *canon_aggregate_opts(canon_df *in, const char *const *keys, int nkeys,
                                         canon_expr **aggs, const char *const *names, int n,
                                         const canon_aggregate_options *opts,
                                         canon_error *err);
CANON_API canon_df *canon_sort(canon_df *in, const canon_sort_key *keys, int n,
                               canon_error *err);
CANON_API canon_df *canon_limit(canon_df *in, int64_t n, canon_error *err);
/* Run the registered transform `name` per group / partition; its output has
 * the declared schema `out_schema` ("a:int64,b:string"). */
CANON_API canon_df *canon_transform(canon_df *in, const char *name,
                                    const char *out_schema,
                                    const canon_partition_spec *spec,
                                    canon_error *err);

/* ---- missing values, row selection, columns, layout ------------------- */

typedef enum canon_dropna_how { CANON_DROPNA_ANY = 0, CANON_DROPNA_ALL = 1 } canon_dropna_how;

/* Drop rows with NULLs in `subset` (nsubset == 0: every column).  ANY drops
 * a row holding a NULL there, ALL a row whose subset values are all NULL;
 * thresh >= 0 overrides how: keep rows with at least thresh non-NULL values
 * in the subset (thresh < 0: not given).  NaN is not NULL.  Keeps order. */
CANON_API canon_df *canon_dropna(canon_df *in, int how, const char *const *subset,
                                 int nsubset, int64_t thresh, canon_error *err);
/* Replace NULLs of columns[i] by values[i], a non-NULL literal of exactly
 * the column's type (moved in).  NaN is left alone.  Keeps order. */
CANON_API canon_df *canon_fillna(canon_df *in, const char *const *columns,
                                 canon_expr **values, int n, canon_error *err);
/* The first n rows of each group of `by` (nby == 0: of everything) under
 * the stable `presort` (npresort == 0: input order).  Without keys the
 * output is in presort (else input) order; with keys its order is
 * unspecified. */
CANON_API canon_df *canon_take(canon_df *in, int64_t n, const canon_sort_key *presort,
                               int npresort, const char *const *by, int nby,
                               canon_error *err);
/* A reproducible sample: exactly one of fraction in [0, 1] or n >= 0 (pass
 * a negative value for the other).  Row g (global position) is kept for
 * fraction f iff splitmix64_g(seed) < f * 2^64; with n, the n rows with the
 * smallest such values, in input order.  Independent of the engine and the
 * partition count (docs/semantics.md). */
CANON_API canon_df *canon_sample(canon_df *in, double fraction, int64_t n, uint64_t seed,
                                 canon_error *err);
/* Rename from[i] to to[i]; other columns keep their names and places. */
CANON_API canon_df *canon_rename(canon_df *in, const char *const *from,
                                 const char *const *to, int n, canon_error *err);
/* Drop the named columns (at least one column must remain). */
CANON_API canon_df *canon_drop(canon_df *in, const char *const *columns, int n,
                               canon_error *err);
/* Cast columns[i] to types[i] in place (strict casts, docs/semantics.md §4;
 * try_cast != 0: NULL where a strict cast would fail). */
CANON_API canon_df *canon_cast_columns(canon_df *in, const char *const *columns,
                                       const canon_type *types, int n, int try_cast,
                                       canon_error *err);
/* Redistribute rows: evenly by position into num partitions (num 0: the
 * engine's count), or by hash of the `by` keys.  Output order undefined. */
CANON_API canon_df *canon_repartition(canon_df *in, int num, const char *const *by,
                                      int nby, canon_error *err);
/* Materialize once: the first result asked for through the returned df (or
 * any plan built on it) computes it and keeps the rows in the session; later
 * plans read them like an in-memory table.  Freed when the session closes. */
CANON_API canon_df *canon_persist(canon_df *in, canon_error *err);

/* ---- joins, set operations, distinct (docs/semantics.md §6, §7) -------- */

typedef enum canon_join_type {
  CANON_JOIN_INNER = 1,
  CANON_JOIN_LEFT,
  CANON_JOIN_RIGHT,
  CANON_JOIN_FULL,
  CANON_JOIN_SEMI,   /* left rows that have a match (EXISTS); left columns only */
  CANON_JOIN_ANTI,   /* left rows that have none, NULL keys included; left columns */
  CANON_JOIN_CROSS   /* every pair; takes no keys */
} canon_join_type;

/* How the join moves data.  The result never depends on it. */
typedef enum canon_join_strategy {
  CANON_JOIN_AUTO = 0,    /* broadcast a small in-memory right table, else hash */
  CANON_JOIN_BROADCAST,   /* send the whole right side to every left partition
                             (inner, left, semi, anti; right and full use hash) */
  CANON_JOIN_HASH         /* hash-partition both sides on the keys */
} canon_join_strategy;  /* a cross join always broadcasts its right side */

typedef struct canon_join_options {
  int nulls_equal;            /* NULL keys match each other (IS NOT DISTINCT FROM) */
  const char *left_suffix;    /* appended to clashing non-key names (NULL: ""); */
  const char *right_suffix;   /* with neither given a clash is an error */
  canon_join_strategy strategy;
  int64_t broadcast_max_rows; /* AUTO: largest right table broadcast; 0 = 10000,
                                 < 0 = never */
} canon_join_options;

/* Join on left_keys[i] = right_keys[i] (right_keys NULL: the same names).
 * Key pairs must have the same type.  Output: the left columns, then the
 * right columns, except that a key named the same on both sides appears
 * once (left value; right value for unmatched right rows).  opts may be
 * NULL.  Output order is unspecified. */
CANON_API canon_df *canon_join(canon_df *left, canon_df *right, canon_join_type how,
                               const char *const *left_keys,
                               const char *const *right_keys, int nkeys,
                               const canon_join_options *opts, canon_error *err);
/* Set operations: the inputs' columns must have the same types by position;
 * names come from `a`.  union_all keeps order (all of a, then all of b);
 * the others compare whole rows with NULL = NULL, NaN = NaN, -0.0 = 0.0,
 * give float values canonically (+0.0, one NaN) and leave order unspecified.
 * The _all variants keep multiplicity: intersect_all min(m, n) copies,
 * except_all max(m - n, 0). */
CANON_API canon_df *canon_union_all(canon_df *a, canon_df *b, canon_error *err);
CANON_API canon_df *canon_union(canon_df *a, canon_df *b, canon_error *err);
CANON_API canon_df *canon_intersect(canon_df *a, canon_df *b, canon_error *err);
CANON_API canon_df *canon_intersect_all(canon_df *a, canon_df *b, canon_error *err);
CANON_API canon_df *canon_except(canon_df *a, canon_df *b, canon_error *err);
CANON_API canon_df *canon_except_all(canon_df *a, canon_df *b, canon_error *err);
/* One row per distinct value of `subset` (NULL / n == 0: every column): the
 * first in input order where that is defined.  Key float values come out
 * canonical; other columns are the kept row's.  Output order unspecified. */
CANON_API canon_df *canon_distinct(canon_df *in, const char *const *subset, int n,
                                   canon_error *err);

CANON_API const canon_schema *canon_df_schema(const canon_df *df);
/* The plan node's id (unique within the session; named in errors). */
CANON_API int canon_df_id(const canon_df *df);
/* The session a dataframe belongs to. */
CANON_API canon_session *canon_df_session(const canon_df *df);

/* ---- results ----------------------------------------------------------- */

CANON_API canon_table *canon_collect(canon_df *df, canon_error *err);
/* Write CSV atomically: a temporary file beside `path`, renamed on success;
 * on failure no file is left behind. */
CANON_API int canon_write_csv(canon_df *df, const char *path, canon_error *err);
CANON_API int canon_export_arrow(canon_df *df, struct ArrowSchema *schema_out,
                                 struct ArrowArray *array_out, canon_error *err);
CANON_API int canon_export_arrow_stream(canon_df *df, struct ArrowArrayStream *out,
                                        canon_error *err);

/* ---- run statistics (docs/observability.md) ----------------------------- */

/* One stage of the last job.  Rows and bytes count tables handed between
 * tasks; times are seconds; memory is getrusage's peak RSS in KiB. */
typedef struct canon_stage_stats {
  int stage;                 /* stage number (inputs come before consumers) */
  const char *name;          /* its operators, "scan_csv#1 > agg_partial#3" */
  int partitions;            /* tasks planned */
  int64_t tasks;             /* tasks that ran */
  int64_t splits;            /* exchange splits feeding the stage */
  int64_t rows_in, rows_out; /* task inputs (0 for a leaf stage) and outputs */
  int64_t bytes_in, bytes_out;
  int64_t bytes_exchanged;   /* bucket bytes the splits produced for the stage */
  double wall_seconds;       /* first split or task start to last end */
  double cpu_seconds;        /* thread CPU time of its tasks and splits */
  int64_t peak_rss_kb;       /* highest peak RSS of a process running it */
  double task_max_seconds, task_median_seconds;
  double skew;               /* task max / median (0 when unmeasurable) */
} canon_stage_stats;

typedef struct canon_job_stats {
  const char *engine;        /* the session's engine string */
  int stages;
  int failed;                /* the job ended with an error */
  int64_t result_rows;
  double wall_seconds, cpu_seconds;
  int64_t driver_peak_rss_kb;  /* the calling process */
  int64_t worker_peak_rss_kb;  /* worker processes (0: none) */
} canon_job_stats;

typedef struct canon_stats canon_stats;

/* Statistics of the session's last job (a copy: canon_stats_free it).
 * CANON_ERR_NOT_FOUND before the first job. */
CANON_API int canon_session_last_stats(canon_session *s, canon_stats **out, canon_error *err);
CANON_API void canon_stats_free(canon_stats *st);
CANON_API const canon_job_stats *canon_stats_job(const canon_stats *st);
CANON_API int canon_stats_num_stages(const canon_stats *st);
CANON_API const canon_stage_stats *canon_stats_stage(const canon_stats *st, int stage);
/* The statistics as a table; the session variant prints the last job's. */
CANON_API int canon_stats_print(const canon_stats *st, FILE *out);
CANON_API int canon_session_print_stats(canon_session *s, FILE *out);
/* Run the plan (discarding its rows) and print its physical plan with each
 * stage's statistics. */
CANON_API int canon_explain_analyze(canon_df *df, FILE *out, canon_error *err);

/* ---- plans as JSON (docs/plan-format.md) ------------------------------- */

typedef struct canon_sink {
  const char *kind;      /* "csv" or NULL for none */
  const char *path;
} canon_sink;

/* Serialize the plan that produces `df` (and an optional sink) to JSON;
 * returns a malloc'd string. */
CANON_API char *canon_plan_to_json(const canon_df *df, const canon_sink *sink,
                                   canon_error *err);
/* Load a plan into a session.  `origin` names the document in errors (a file
 * name, or NULL).  On success *root is the plan's result and, when sink_out
 * is given, the sink is stored there (strings owned by the session). */
CANON_API int canon_plan_from_json(canon_session *s, const char *json,
                                   const char *origin, canon_df **root,
                                   canon_sink *sink_out, canon_error *err);

/* Print the logical plan (and with physical != 0 the physical plan of the
 * session's engine) as an indented tree, or as Graphviz with dot != 0. */
CANON_API int canon_explain(canon_df *df, FILE *out, int physical, int dot,
                            canon_error *err);

#ifdef __cplusplus
}
#endif
#endif /* CANON_H */
