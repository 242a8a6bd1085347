/* questions.c — the db-benchmark group-by and join questions, plus a full
 * sort, written against canon.h only.  Each builder returns the plan whose
 * collected table is the answer (the runner times canon_collect of it). */
#include "questions.h"

#include <stddef.h>

const char *const bench_g1_schema =
    "id1:string,id2:string,id3:string,id4:int64,id5:int64,id6:int64,"
    "v1:int64,v2:int64,v3:float64";

const char *const bench_j1_schema[4] = {
    "id1:int64,id2:int64,id3:int64,id4:string,id5:string,id6:string,v1:float64",
    "id1:int64,id4:string,v2:float64",
    "id1:int64,id2:int64,id4:string,id5:string,v2:float64",
    "id1:int64,id2:int64,id3:int64,id4:string,id5:string,id6:string,v2:float64"};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static canon_df *agg(canon_df *in, const char *const *keys, int nkeys, canon_expr **aggs,
                     const char *const *names, int n, canon_error *err) {
  return canon_aggregate(in, keys, nkeys, aggs, names, n, err);
}

/* q1: sum v1 by id1 */
static canon_df *q1(const bench_tables *t, canon_error *err) {
  const char *keys[] = {"id1"};
  canon_expr *a[] = {canon_sum(canon_col("v1"))};
  const char *names[] = {"v1"};
  return agg(t->g1, keys, 1, a, names, 1, err);
}

/* q2: sum v1 by id1, id2 */
static canon_df *q2(const bench_tables *t, canon_error *err) {
  const char *keys[] = {"id1", "id2"};
  canon_expr *a[] = {canon_sum(canon_col("v1"))};
  const char *names[] = {"v1"};
  return agg(t->g1, keys, 2, a, names, 1, err);
}

/* q3: sum v1, mean v3 by id3 */
static canon_df *q3(const bench_tables *t, canon_error *err) {
  const char *keys[] = {"id3"};
  canon_expr *a[] = {canon_sum(canon_col("v1")), canon_mean(canon_col("v3"))};
  const char *names[] = {"v1", "v3"};
  return agg(t->g1, keys, 1, a, names, 2, err);
}

/* q4: mean v1, v2, v3 by id4 */
static canon_df *q4(const bench_tables *t, canon_error *err) {
  const char *keys[] = {"id4"};
  canon_expr *a[] = {canon_mean(canon_col("v1")), canon_mean(canon_col("v2")),
                     canon_mean(canon_col("v3"))};
  const char *names[] = {"v1", "v2", "v3"};
  return agg(t->g1, keys, 1, a, names, 3, err);
}

/* q5: sum v1, v2, v3 by id6 */
static canon_df *q5(const bench_tables *t, canon_error *err) {
  const char *keys[] = {"id6"};
  canon_expr *a[] = {canon_sum(canon_col("v1")), canon_sum(canon_col("v2")),
                     canon_sum(canon_col("v3"))};
  const char *names[] = {"v1", "v2", "v3"};
  return agg(t->g1, keys, 1, a, names, 3, err);
}

/* q6: median and standard deviation of v3 by id4, id5 */
static canon_df *q6(const bench_tables *t, canon_error *err) {
  const char *keys[] = {"id4", "id5"};
  canon_expr *a[] = {canon_median(canon_col("v3")), canon_stddev(canon_col("v3"))};
  const char *names[] = {"median_v3", "sd_v3"};
  return agg(t->g1, keys, 2, a, names, 2, err);
}

/* q7: max(v1) - min(v2) by id3 (an expression over two aggregates) */
static canon_df *q7(const bench_tables *t, canon_error *err) {
  const char *keys[] = {"id3"};
  canon_expr *a[] = {canon_sub(canon_max(canon_col("v1")), canon_min(canon_col("v2")))};
  const char *names[] = {"range_v1_v2"};
  return agg(t->g1, keys, 1, a, names, 1, err);
}

/* q8: the two largest v3 per id6 (NULL v3 dropped first, as db-benchmark) */
static canon_df *q8(const bench_tables *t, canon_error *err) {
  canon_df *nn = canon_filter(t->g1, canon_is_not_null(canon_col("v3")), err);
  const canon_sort_key pre[] = {{.column = "v3", .descending = 1}};
  const char *by[] = {"id6"};
  canon_df *top = canon_take(nn, 2, pre, 1, by, 1, err);
  canon_expr *cols[] = {canon_col("id6"), canon_col("v3")};
  const char *names[] = {NULL, "largest2_v3"};
  return canon_select(top, cols, names, 2, err);
}

/* q9: squared correlation of v1 and v2 by id2, id4 */
static canon_df *q9(const bench_tables *t, canon_error *err) {
  const char *keys[] = {"id2", "id4"};
  canon_expr *a[] = {canon_pow(canon_corr(canon_col("v1"), canon_col("v2")),
                               canon_lit_int64(2))};
  const char *names[] = {"r2"};
  return agg(t->g1, keys, 2, a, names, 1, err);
}

/* q10: sum v3 and count by id1..id6 (about one group per row) */
static canon_df *q10(const bench_tables *t, canon_error *err) {
  const char *keys[] = {"id1", "id2", "id3", "id4", "id5", "id6"};
  canon_expr *a[] = {canon_sum(canon_col("v3")), canon_count_star()};
  const char *names[] = {"v3", "count"};
  return agg(t->g1, keys, 6, a, names, 2, err);
}

/* sort: every row by id1 ascending, v3 descending */
static canon_df *q_sort(const bench_tables *t, canon_error *err) {
  const canon_sort_key keys[] = {{.column = "id1"}, {.column = "v3", .descending = 1}};
  return canon_sort(t->g1, keys, 2, err);
}

/* Joins: clashing non-key columns of the right side get "_r". */
static canon_df *join(const bench_tables *t, canon_df *right, canon_join_type how,
                      const char *key, canon_error *err) {
  const char *keys[] = {key};
  canon_join_options o = {.right_suffix = "_r", .strategy = t->strategy};
  return canon_join(t->x, right, how, keys, NULL, 1, &o, err);
}

static canon_df *join_q1(const bench_tables *t, canon_error *err) {
  return join(t, t->small, CANON_JOIN_INNER, "id1", err);
}
static canon_df *join_q2(const bench_tables *t, canon_error *err) {
  return join(t, t->medium, CANON_JOIN_INNER, "id2", err);
}
static canon_df *join_q3(const bench_tables *t, canon_error *err) {
  return join(t, t->medium, CANON_JOIN_LEFT, "id2", err);
}
static canon_df *join_q4(const bench_tables *t, canon_error *err) {
  return join(t, t->medium, CANON_JOIN_INNER, "id5", err);
}
static canon_df *join_q5(const bench_tables *t, canon_error *err) {
  return join(t, t->big, CANON_JOIN_INNER, "id3", err);
}

const bench_question bench_questions[] = {
    {"q1", BENCH_GROUPBY, "sum v1 by id1", q1},
    {"q2", BENCH_GROUPBY, "sum v1 by id1:id2", q2},
    {"q3", BENCH_GROUPBY, "sum v1 mean v3 by id3", q3},
    {"q4", BENCH_GROUPBY, "mean v1:v3 by id4", q4},
    {"q5", BENCH_GROUPBY, "sum v1:v3 by id6", q5},
    {"q6", BENCH_GROUPBY, "median v3 sd v3 by id4 id5", q6},
    {"q7", BENCH_GROUPBY, "max v1 - min v2 by id3", q7},
    {"q8", BENCH_GROUPBY, "largest two v3 by id6", q8},
    {"q9", BENCH_GROUPBY, "regression v1 v2 by id2 id4", q9},
    {"q10", BENCH_GROUPBY, "sum v3 count by id1:id6", q10},
    {"sort", BENCH_GROUPBY, "sort by id1 asc, v3 desc", q_sort},
    {"j1", BENCH_JOIN, "small inner on int", join_q1},
    {"j2", BENCH_JOIN, "medium inner on int", join_q2},
    {"j3", BENCH_JOIN, "medium outer on int", join_q3},
    {"j4", BENCH_JOIN, "medium inner on factor", join_q4},
    {"j5", BENCH_JOIN, "big inner on int", join_q5},
};
const int bench_num_questions = N_OF(bench_questions);
