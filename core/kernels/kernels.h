/* kernels.h — the kernel library every engine shares.
 *
 * Kernels work on whole tables (one task's input) and know nothing about
 * engines.  Sections: value order and equality (compare.c); hashing and
 * grouping (hashing.c); sort (sort.c); exact sums (exactsum.c); aggregation
 * (aggregate.c, agg_final.c); exchange splits (partition.c); values as text (values.c);
 * CSV (csv_read.c, csv_write.c).
 */
#ifndef CANON_KERNELS_H
#define CANON_KERNELS_H

#include "../src/internal.h"

/* ---- order and equality (SEMANTICS §2, §3) ----------------------------- */

/* Total order of two non-NULL doubles: -inf < ... < -0.0 = 0.0 < ... < +inf
 * < NaN, all NaNs equal.  Returns <0, 0, >0. */
static inline int canon__cmp_f64(double a, double b) {
  bool an = a != a, bn = b != b;
  if (an || bn) return (int)an - (int)bn;
  return (a > b) - (a < b);
}
/* Compare value i of column a with value j of column b (same type, both
 * non-NULL) in the total order of §2. */
int canon__cmp_values(const canon__column *a, int64_t i,
                      const canon__column *b, int64_t j);
/* §3 key equality including NULLs (NULL = NULL). */
bool canon__key_equal(const canon__column *a, int64_t i,
                      const canon__column *b, int64_t j);

/* ---- hashing and grouping ---------------------------------------------- */

/* Hash of the key columns of row i; equal keys under §3 hash equally
 * (NaN canonical, -0.0 as 0.0, NULL its own value).  The function is fixed:
 * it decides which bucket a row goes to on every engine. */
uint64_t canon__hash_row(const canon_table *t, const int *cols, int ncols, int64_t row);
/* Hashes of every row. */
void canon__hash_rows(const canon_table *t, const int *cols, int ncols, uint64_t *out);
/* The hashes of rows [from, to) only, into out[0 .. to-from). */
void canon__hash_rows_range(const canon_table *t, const int *cols, int ncols, int64_t from,
                            int64_t to, uint64_t *out);

/* Assign each row a group id (0.. in order of first appearance) by §3
 * equality of the key columns.  *ngroups receives the count and *first_rows
 * (malloc'd, ngroups entries) the first row of each group.  With
 * drop_null_keys, rows with any NULL key get group id -1. */
int canon__group_rows(const canon_table *t, const int *cols, int ncols,
                      bool drop_null_keys, int64_t *group_of_row,
                      int64_t *ngroups, int64_t **first_rows, canon_error *err);

/* ---- sort -------------------------------------------------------------- */

typedef struct canon__sortcol {
  int col;            /* column index */
  bool descending;
  bool nulls_first;
} canon__sortcol;

/* Order-preserving 64-bit image of a non-NULL double under §2: unsigned
 * order of images is the total order (-0.0 and 0.0 one image, every NaN
 * UINT64_MAX, the largest). */
static inline uint64_t canon__f64_image(double d) {
  if (d != d) return UINT64_MAX;
  if (d == 0) d = 0.0;
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return (u >> 63) ? ~u : u | (UINT64_C(1) << 63);
}

/* Stable sort: fills perm[0..nrows) with the row order. */
int canon__sort_indices(const canon_table *t, const canon__sortcol *keys, int nkeys,
                        int64_t *perm, canon_error *err);
/* Compare row i of a with row j of b under the sort keys (same layout). */
int canon__cmp_rows(const canon_table *a, int64_t i, const canon_table *b, int64_t j,
                    const canon__sortcol *keys, int nkeys);
/* The rows a stable sort by keys (nkeys >= 1) puts first in their group,
 * at most n per group (group_of: each row's group, 0..ngroups-1; NULL: one
 * group), in that sorted order: perm (capacity t->nrows) receives them,
 * *kept their count.  No full sort: about one comparison per row. */
int canon__sort_top_n(const canon_table *t, const canon__sortcol *keys, int nkeys,
                      const int64_t *group_of, int64_t ngroups, int64_t n, int64_t *perm,
                      int64_t *kept, canon_error *err);
/* A stably sorted copy of t. */
canon_table *canon__sort_table(const canon_table *t, const canon__sortcol *keys,
                               int nkeys, canon_error *err);

/* ---- exact sums -------------------------------------------------------- */

/* A superaccumulator: the exact sum of any number of doubles (and int64
 * values), rounded once when read.  Merging two is exact too, so partial
 * sums give the same answer whatever the partitioning. */
#define CANON__XSUM_LIMBS 72
typedef struct canon__xsum {
  int64_t limb[CANON__XSUM_LIMBS];  /* 32-bit digits with carry headroom */
  int64_t nadds;                    /* adds since the last carry propagation */
  int32_t lo, hi;                   /* limbs [lo, hi) hold the sum; the rest are
                                       unset and read as zero (lo == hi: zero) */
  uint8_t has_nan, has_pinf, has_ninf;
} canon__xsum;

void canon__xsum_init(canon__xsum *x);
void canon__xsum_add(canon__xsum *x, double v);
void canon__xsum_add_i64(canon__xsum *x, int64_t v);
/* Add the 128-bit integer hi * 2^64 + lo (two's complement). */
void canon__xsum_add_i128(canon__xsum *x, uint64_t lo, int64_t hi);
/* Add v[0..n) into x. */
void canon__xsum_add_run(canon__xsum *x, const double *v, int64_t n);
/* Add each row i of v[0..n) whose validity bit is set (valid NULL: all)
 * and whose group gid[i] is >= 0 (gid NULL: group 0) into acc[gid[i]]. */
void canon__xsum_add_grouped(canon__xsum *acc, const int64_t *gid, const double *v,
                             const uint8_t *valid, int64_t n);
void canon__xsum_merge(canon__xsum *x, const canon__xsum *y);
/* The exact sum rounded to nearest (ties to even), NaN/inf rules of §5. */
double canon__xsum_round(const canon__xsum *x);
/* The exact sum divided by n (> 0), rounded once. */
double canon__xsum_div_round(const canon__xsum *x, int64_t n);
/* Serialize into buf (at least CANON__XSUM_MAX_BYTES): a fixed
 * little-endian layout any process can read.  Returns the bytes written. */
#define CANON__XSUM_MAX_BYTES (3 + 4 * (CANON__XSUM_LIMBS + 1))
size_t canon__xsum_serialize(const canon__xsum *x, uint8_t *buf);
/* Read a serialized sum into x; returns the bytes consumed, -1 if invalid. */
int64_t canon__xsum_deserialize(canon__xsum *x, const uint8_t *buf, size_t len);
/* Add a serialized sum into x (an exact merge without the copy); returns
 * the bytes consumed, -1 if invalid (x then unchanged). */
int64_t canon__xsum_add_serialized(canon__xsum *x, const uint8_t *buf, size_t len);

/* Fixed point (exactsum.c): doubles whose exponents lie in a narrow window
 * are integers in units of 2^(pos - 1074) (bit pos of the accumulator), and
 * their exact sum is a 128-bit integer, added to a superaccumulator once. */
__extension__ typedef __int128 canon__i128;
/* A unit bit pos (>= 0) in which every value of v[0..n) (rows whose
 * validity bit is clear skipped; valid NULL: all) is an integer, and in
 * *mbits how many bits the largest magnitude needs (at most 2099); -1 when
 * a value is NaN or infinite. */
int canon__xsum_fix_window(const double *v, const uint8_t *valid, int64_t n, int *mbits);
/* acc[gid[i]] += v[i] in units of 2^(pos - 1074) for each valid row i with
 * gid[i] >= 0 (gid NULL: group 0), counted in cnt[gid[i]] or, when cnt is
 * NULL, in the low kbits bits of acc (the value then shifted above them);
 * groups below ngroups. */
void canon__xsum_fix_grouped(canon__i128 *acc, int64_t *cnt, int64_t ngroups, const int64_t *gid,
                             const double *v, const uint8_t *valid, int64_t n, int pos,
                             int kbits);
/* Add s * 2^(pos - 1074) into x (pos >= 0, pos + 128 within the limbs). */
void canon__xsum_add_fixed(canon__xsum *x, canon__i128 s, int pos);
/* canon__xsum_serialize of a sum holding exactly s * 2^(pos - 1074). */
size_t canon__xsum_fix_serialize(canon__i128 s, int pos, uint8_t *buf);
/* The bits of the double s * 2^(pos - 1074), which must be one (+0.0 for 0). */
uint64_t canon__xsum_fix_f64_bits(canon__i128 s, int pos);
/* Check a serialized sum as canon__xsum_add_serialized does (bytes consumed
 * or -1); *low, *high: its lowest and highest set bits (-1: zero);
 * *special: a NaN or infinity flag is set. */
int64_t canon__xsum_serialized_span(const uint8_t *buf, size_t len, int *low, int *high,
                                    bool *special);
/* That sum (no special flags, bits within [pos, pos + 126]) as s in units
 * of 2^(pos - 1074). */
canon__i128 canon__xsum_serialized_fixed(const uint8_t *buf, int pos);

/* ---- aggregation ------------------------------------------------------- */

/* Partial aggregation of one partition.  `aggs` are bound CANON__E_AGG
 * expressions over `in`'s schema.  Output: the key columns (names and types
 * of in's key columns), then one column "__state<i>" of type string per
 * aggregate holding its serialized partial state.  Without keys the output
 * has exactly one row, even for empty input. */
canon_table *canon__agg_partial(const canon_table *in, const int *keys, int nkeys,
                                canon_expr *const *aggs, int naggs,
                                bool drop_null_keys, canon_error *err);
/* canon__agg_partial taking exactly `chunk` rows at a time (with keys),
 * each chunk adding its own partial rows, as a large partition with few
 * groups does by itself; for tests. */
canon_table *canon__agg_partial_chunks(const canon_table *in, const int *keys, int nkeys,
                                       canon_expr *const *aggs, int naggs,
                                       bool drop_null_keys, int64_t chunk, canon_error *err);
/* Final aggregation of concatenated partial tables: merge the states of each
 * key and produce the result with schema `out` (keys, then aggregates).
 * Without keys: exactly one row. */
canon_table *canon__agg_final(const canon_table *partials, int nkeys,
                              canon_expr *const *aggs, int naggs,
                              const canon_schema *out, canon_error *err);

/* ---- exchange splits --------------------------------------------------- */

/* Split t into n buckets by hash of the key columns (bucket = hash % n). */
int canon__split_hash(const canon_table *t, const int *cols, int ncols, int n,
                      canon_table **buckets, canon_error *err);
/* The same by the hash's high half ((hash >> 32) % n): buckets that do not
 * follow canon__split_hash's, for splitting one of its buckets again. */
int canon__split_hash_high(const canon_table *t, const int *cols, int ncols, int n,
                           canon_table **buckets, canon_error *err);
/* Split t into n buckets by sort-key ranges: `bounds` holds n-1 boundary
 * rows (same layout as t's key columns, ascending under keys); a row goes
 * to the first bucket whose boundary is >= the row. */
int canon__split_range(const canon_table *t, const canon__sortcol *keys, int nkeys,
                       const canon_table *bounds, int n, canon_table **buckets,
                       canon_error *err);
/* The bucket of each row of those splits, for writing the buckets
 * elsewhere (split_encode.c): a hash split's ((hash >> shift) % n)... */
int canon__hash_buckets(const canon_table *t, const int *cols, int ncols, int n, int shift,
                        int32_t *bucket, canon_error *err);
/* ...and a rebalance's (rows of a partition starting at global position
 * `offset` of `total`). */
void canon__rebalance_buckets(int64_t rows, int64_t offset, int64_t total, int n, int32_t *bucket);
/* Rows of a partition whose first row has global position `offset` in a
 * whole of `total` rows, split evenly into n buckets by position. */
int canon__split_rebalance(const canon_table *t, int64_t offset, int64_t total,
                           int n, canon_table **buckets, canon_error *err);

/* ---- joins, set operations, distinct (join.c, setops.c) ---------------- */

/* One partition's join.  Output column c takes its value from left column
 * out_left[c] and/or right column out_right[c] (-1: none); with both set
 * (a merged key) the left value, or the right one where there is no left
 * row.  Keys match by §3 equality except that a NULL key never matches
 * unless nulls_equal.  Right and full joins emit unmatched right rows last;
 * semi and anti emit left rows only; cross takes no keys. */
typedef struct canon__join_spec {
  int type;                     /* canon_join_type */
  int nkeys;
  const int *lkeys, *rkeys;     /* key columns in left / right */
  bool nulls_equal;
  const canon_schema *out;
  const int *out_left, *out_right;
} canon__join_spec;
canon_table *canon__join(const canon_table *left, const canon_table *right,
                         const canon__join_spec *spec, canon_error *err);

typedef enum canon__setop_kind {
  CANON__SET_UNION = 1,
  CANON__SET_INTERSECT,
  CANON__SET_INTERSECT_ALL,
  CANON__SET_EXCEPT,
  CANON__SET_EXCEPT_ALL
} canon__setop_kind;
/* Set operation over whole rows of a and b (same column types; the output
 * has schema `out`), §3 equality, float values canonical.  Each distinct
 * row of a comes out 1 (union, intersect, except) or min(m, n) / max(m - n,
 * 0) times (the _all forms), m and n its counts in a and b. */
canon_table *canon__setop(const canon_table *a, const canon_table *b, canon__setop_kind op,
                          const canon_schema *out, canon_error *err);
/* The first row (in input order) of each distinct value of the key
 * columns, in order of first appearance; key float values canonical. */
canon_table *canon__distinct(const canon_table *t, const int *keys, int nkeys,
                             canon_error *err);
/* t with the schema `s` (same types, other names), sharing the columns. */
canon_table *canon__table_relabel(const canon_table *t, const canon_schema *s,
                                  canon_error *err);
/* FORWARD exchange: all of t into bucket `to`, the other n-1 empty. */
int canon__split_forward(const canon_table *t, int to, int n, canon_table **buckets,
                         canon_error *err);

/* ---- values as text (values.c) ----------------------------------------- */

/* Strict parse of text as type t (SEMANTICS §4 casts, §10 CSV):
 *   int64: optional sign and decimal digits, range checked;
 *   float64: decimal or exponent form, "NaN", "inf", "-inf" (also "+inf",
 *            "Infinity", case-insensitive);
 *   bool: "true"/"false";  date: YYYY-MM-DD;  timestamp:
 *   YYYY-MM-DD[T ]HH:MM:SS[.f{1,6}]Z;  string: the bytes as they are.
 * `trim_spaces` allows ASCII spaces around the text (casts do).  Returns 0
 * or CANON_ERR_CAST with a message saying why (err may be NULL). */
int canon__parse_value(canon_type t, const char *s, size_t n, bool trim_spaces,
                       canon__value *out, canon_error *err);
/* Shortest decimal text that reads back as exactly d ("NaN", "inf", "-inf",
 * "-0.0" style for zero: "0.0"/"-0.0"; integers keep a ".0"). */
size_t canon__format_f64(double d, char *buf, size_t cap);
/* Text of value i of column c as CSV writes it (no quoting; NULL -> ""). */
size_t canon__format_cell(const canon__column *c, int64_t i, char *buf, size_t cap);
/* Calendar helpers: days since epoch <-> y/m/d (proleptic Gregorian). */
int32_t canon__days_from_civil(int64_t y, unsigned m, unsigned d);
void canon__civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/* ---- CSV (csv_read.c, csv_write.c) ------------------------------------- */

/* A byte range of a CSV file holding whole records. */
typedef struct canon__csv_range {
  int64_t begin;       /* byte offset of the first record */
  int64_t end;         /* one past the last byte */
  int64_t first_line;  /* 1-based line number of the first record */
} canon__csv_range;

/* Infer a schema from the header and up to sample_rows records:
 * per column the narrowest of bool, int64, float64, date, timestamp,
 * string that parses every non-empty sampled value. */
canon_schema *canon__csv_infer(const char *path, char delim, int64_t sample_rows,
                               canon_error *err);
/* Check the header against the schema and cut the records after it into n
 * ranges of about equal size on record boundaries (quote-aware).  *ranges is
 * malloc'd with n entries (some may be empty). */
int canon__csv_split(const char *path, char delim, const canon_schema *schema,
                     int n, canon__csv_range **ranges, canon_error *err);
/* Room for at most this many records in each of the n ranges of the file
 * (its line breaks, and one for a last record without one): rows_max[k].
 * A record holds at least one line break unless it ends the file, so the
 * bound holds for every split canon__csv_split makes. */
int canon__csv_rows_max(const char *path, const canon__csv_range *ranges, int n,
                        int64_t *rows_max, canon_error *err);
/* Where a range's read writes its fixed-width columns (a load written
 * straight into the table kept, load_sink.c): column c's values go into
 * cols[c] (when set) from row row_at on, with room for rows_max rows.
 * Past that room a column moves into its own buffer, so a wrong bound
 * costs a copy, never a wrong answer. */
typedef struct canon__csv_dest {
  canon__buffer *const *cols;
  int64_t row_at, rows_max;
} canon__csv_dest;
/* Parse the records of a range with the schema (into dest's buffers when
 * given, else the table's own). Errors name file:line:col. */
canon_table *canon__csv_read_range(const char *path, char delim,
                                   const canon_schema *schema,
                                   const canon__csv_range *range,
                                   const canon__csv_dest *dest, canon_error *err);
/* Parse CSV text in memory: `has_header` says whether the first record is a
 * header (then checked against schema).  `origin` names it in errors. */
canon_table *canon__csv_parse_buffer(const char *buf, size_t len, const char *origin,
                                     char delim, const canon_schema *schema,
                                     bool has_header, canon_error *err);
/* Write tables (same schema) as one CSV document: header then rows. */
int canon__csv_write(FILE *f, canon_table *const *parts, int n, canon_error *err);
/* Write atomically to path: temporary file in the same directory (mode
 * 0600 -> 0644 on rename), fsync, rename; nothing left behind on error. */
int canon__csv_write_atomic(const char *path, canon_table *const *parts, int n,
                            canon_error *err);

/* Build (right) rows from which canon__join splits both sides by key hash
 * and joins piece by piece (inner, left, semi and anti joins: the same
 * rows, in another order), and about how many build rows go to a piece.
 * Variables so tests can lower them. */
extern int64_t canon__join_split_min_rows;
extern int64_t canon__join_split_piece_rows;

#endif /* CANON_KERNELS_H */
