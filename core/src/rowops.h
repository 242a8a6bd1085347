/* rowops.h — dropna, fillna, take, sample, rename, drop, cast, repartition
 * and persist: the hooks the shared layers call (planning, tasks, plan JSON,
 * explain) and the kernels they run.
 *
 * Files: plan_rowops.c and plan_take_sample.c (constructors, persist's
 * materialization), physical_rowops.c (stages and per-task glue),
 * plan_json_rowops.c (JSON), kernels/rowops.c and kernels/take_sample.c. */
#ifndef CANON_ROWOPS_H
#define CANON_ROWOPS_H

#include "physical.h"

#include <stdio.h>

/* ---- planning and tasks (physical_rowops.c) ----------------------------- */

/* Plan a node of one of this family's kinds; returns its stage or < 0. */
int canon__plan_rowops(canon_job *job, canon_df *d, int P, canon_error *err);
/* Run op (one of CANON__OP_DROPNA .. CANON__OP_PASS) of stage st on the
 * task's current table. */
canon_table *canon__rowops_run(const canon__stage *st, const canon__op *op, int part,
                               const canon_table *cur, canon_error *err);
/* The op's name in physical plans, or NULL when op is not of this family. */
const char *canon__rowops_op_name(canon__op_kind k);
/* The node's details for explain (after "kind #id"). */
void canon__rowops_describe(const canon_df *d, FILE *out);

/* ---- constructor helpers (plan_rowops.c) -------------------------------- */

/* A new node of `kind` over `in` (NULL in: an earlier step failed). */
canon_df *canon__rowops_unary(canon_df *in, canon__node_kind kind, canon_error *err);
/* Put "<kind> node <id>: " in front of err's message; returns NULL. */
canon_df *canon__rowops_fail(canon_df *d, canon_error *err);
/* Copy n column names into d->keys, each an existing column of s and none
 * twice; `what` names the list in errors ("subset", "partition key"). */
int canon__rowops_keys(canon_df *d, const char *const *names, int n, const canon_schema *s,
                       const char *what, canon_error *err);
/* Copy n sort keys into d->sort, checking each column against s. */
int canon__rowops_sort(canon_df *d, const canon_sort_key *keys, int n, const canon_schema *s,
                       canon_error *err);

/* ---- persist (plan_rowops.c) -------------------------------------------- */

/* Compute and keep the result of every persist node below df that has not
 * been computed yet (innermost first).  Called before a result is planned. */
int canon__persist_materialize(canon_df *df, canon_error *err);

/* ---- kernels (kernels/rowops.c, kernels/take_sample.c) ------------------ */

/* Rows of t with at least `need` non-NULL values among cols[0..ncols). */
canon_table *canon__dropna_rows(const canon_table *t, const int *cols, int ncols, int need,
                                canon_error *err);
/* t with the NULLs of cols[i] replaced by the literal vals[i] (same type). */
canon_table *canon__fillna_cols(const canon_table *t, const int *cols,
                                const canon__value *const *vals, int n, canon_error *err);
/* The first n rows of each group of keys (nkeys 0: one group) under the
 * stable sort keys; output in sort order (input order without keys). */
canon_table *canon__take_rows(const canon_table *t, int64_t n, const canon__sortcol *sort,
                              int nsort, const int *keys, int nkeys, canon_error *err);
/* The sampling hash of global row g: output g (0-based) of SplitMix64
 * seeded with seed. */
uint64_t canon__sample_hash(uint64_t seed, uint64_t g);
/* Rows of t (global positions first_pos..) with hash < threshold; every row
 * when all is set. */
canon_table *canon__sample_fraction(const canon_table *t, int64_t first_pos, uint64_t seed,
                                    uint64_t threshold, bool all, canon_error *err);
/* The n rows of t with the smallest hashes, in order.  pos_col >= 0: global
 * positions are read from that int64 column (and it is dropped from the
 * output); else rows are first_pos.. and a last int64 column "pos_name"
 * holding them is added. */
canon_table *canon__sample_n(const canon_table *t, int64_t n, uint64_t seed, int pos_col,
                             int64_t first_pos, const char *pos_name, canon_error *err);

#endif
