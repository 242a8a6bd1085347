/* physical.h — the physical plan: stages cut at exchanges (physical.c),
 * and the task runner engines call through canon_host (host.c). */
#ifndef CANON_PHYSICAL_H
#define CANON_PHYSICAL_H

#include "kernels.h"

/* One step of a stage's pipeline. */
typedef enum canon__op_kind {
  CANON__OP_SCAN_CSV = 1,   /* leaf: parse byte range p of the file */
  CANON__OP_SCAN_TABLE,     /* leaf: slice p of an in-memory table */
  CANON__OP_SELECT,
  CANON__OP_FILTER,
  CANON__OP_ASSIGN,
  CANON__OP_AGG_PARTIAL,    /* aggregate, before the exchange */
  CANON__OP_AGG_FINAL,      /* aggregate, after the exchange */
  CANON__OP_SORT,           /* stable local sort */
  CANON__OP_LIMIT,          /* first n rows of the task's input */
  CANON__OP_TRANSFORM,      /* user function per group or per partition */
  /* rowops.h: */
  CANON__OP_DROPNA,
  CANON__OP_FILLNA,
  CANON__OP_TAKE,           /* first n rows per group under presort */
  CANON__OP_SAMPLE,         /* fraction sample (after a REBALANCE) */
  CANON__OP_SAMPLE_PICK,    /* n smallest hashes of a partition, positions kept */
  CANON__OP_SAMPLE_FINAL,   /* n smallest hashes overall, positions dropped */
  CANON__OP_PASS,           /* identity (repartition) */
  /* physical_join.c: */
  CANON__OP_JOIN,           /* hash join; right side from inputs[op.input] */
  CANON__OP_UNION_ALL,      /* input 0 then input 1 (one is empty per task) */
  CANON__OP_SETOP,          /* union/intersect/except over inputs 0 and 1 */
  CANON__OP_DISTINCT        /* first row per key */
} canon__op_kind;

typedef struct canon__op {
  canon__op_kind kind;
  canon_df *node;           /* the logical node it implements */
  int input;                /* JOIN, SETOP: the stage input holding the right side */
} canon__op;

/* An exchange feeding input i of a stage. */
typedef struct canon__xin {
  int stage;                /* producing stage */
  canon_exchange_kind kind;
  int nkeys;
  int *keys;                /* HASH: key columns in the producer's output */
  canon__sortcol *sort;     /* RANGE: sort keys over the producer's output */
  canon_table *bounds;      /* RANGE: boundary rows (from exchange_prepare) */
  int64_t *offsets;         /* REBALANCE: first global row of each producer part */
  int64_t total;            /* REBALANCE: rows in all producer parts */
  int forward_offset;       /* FORWARD: producer part k goes to bucket offset + k */
} canon__xin;

typedef struct canon__stage {
  int nparts;
  int ninputs;
  canon__xin in[2];
  int nops, capops;
  canon__op *ops;
  canon__csv_range *ranges; /* SCAN_CSV leaf: one range per partition */
  char name[96];
} canon__stage;

struct canon_job {
  canon_session *session;
  int nstages, capstages;
  canon__stage *stages;
  /* While a decoded job is planned (job_codec.c): the CSV ranges the
   * original job cut, by stage (not owned); NULL otherwise. */
  canon__csv_range **preset_ranges;
  int npreset;
  canon_df *root;           /* the node planned, and the partition count */
  int nparts;
  /* canon__job_new: the session holding root when it is the pruned copy of
   * the caller's plan (plan_prune.c), closed with the job; else NULL. */
  canon_session *pruned;
  /* The caller makes one table of the results (collect, persist), so an
   * engine may hand back one it made itself; false for write_csv, which
   * writes the parts as they come (host job_result_one_table). */
  bool one_table;
  struct canon__obs_job *obs; /* events recorded while it runs (observe.h) */
  /* A bare CSV read the caller makes one table of (persist, collect) on
   * an engine running its tasks here: the buffers its tasks write into
   * (load_sink.c); or NULL. */
  struct canon__load_sink *sink;
};

/* load_sink.c: a load written straight into the table it keeps.  attach
 * gives job a sink when it is a bare CSV read of several ranges and the
 * engine's capabilities say its tasks run in this process (quietly none
 * otherwise, or when anything fails); claim hands the task of `part` of
 * stage st its windows, once per part and only in the attaching process
 * (false: build the plain way). */
typedef struct canon__load_sink canon__load_sink;
void canon__load_sink_attach(canon_job *job, uint32_t capabilities);
bool canon__load_sink_claim(const canon_job *job, const canon__stage *st, int part,
                            canon__csv_dest *dest);
void canon__load_sink_free(canon__load_sink *s);

/* Planning helpers for operator files (physical.c):
 * canon__plan_node plans node d and returns the stage whose output is d's
 * result (< 0 on error); canon__new_stage adds a stage; canon__add_op
 * appends an operator to stage s's pipeline; canon__exchange_stage adds a
 * stage whose input 0 is stage `from` through an exchange (set its keys /
 * sort in job->stages[t].in[0] afterwards; a second input can be added as
 * in[1] with ninputs = 2). */
int canon__plan_node(canon_job *job, canon_df *d, int P, canon_error *err);
int canon__new_stage(canon_job *job, int nparts, canon_error *err);
int canon__add_op(canon_job *job, int s, canon__op_kind kind, canon_df *node, canon_error *err);
int canon__exchange_stage(canon_job *job, int from, canon_exchange_kind kind, int nparts,
                          canon_error *err);
/* Column indices of `names` in s; sort keys resolved against s. */
int *canon__key_indices(const canon_schema *s, char *const *names, int n, canon_error *err);
canon__sortcol *canon__sort_cols(const canon_schema *s, const canon_sort_key *keys, int n,
                                 canon_error *err);
const char *canon__op_name(canon__op_kind k);
const char *canon__exchange_name(int kind);

/* physical_join.c: planning and running joins, set operations, distinct.
 * canon__plan_binary plans a JOIN, set-operation or DISTINCT node like
 * canon__plan_node; canon__run_binary_op runs one of their operators on a
 * task's current table `cur` and the stage inputs. */
int canon__plan_binary(canon_job *job, canon_df *d, int P, canon_error *err);
canon_table *canon__run_binary_op(const canon__op *op, const canon_table *cur,
                                  canon_table *const *inputs, canon_error *err);

/* physical_join.c: whether join d is broadcast because its right side is
 * an in-memory table of few rows (CANON_JOIN_AUTO), a choice that depends
 * on that side being a table node. */
bool canon__join_may_broadcast_table(const canon_df *d);

/* plan_prune.c: projection pushdown.  A copy of the plan below root in
 * which every node yields only the columns some consumer reads (the root
 * all of its own, unchanged), in a new session returned in *owned; or root
 * itself (*owned NULL) when nothing can be dropped, the pass is off or
 * anything fails.  canon__prune_set(0/1) turns the pass off/on for the
 * process, -1 goes back to the default: on unless CANON_PRUNE=0. */
canon_df *canon__prune(canon_df *root, canon_session **owned);
void canon__prune_set(int on);
bool canon__prune_enabled(void);

/* Plan `root` for `nparts` partitions, after pruning columns (job->root is
 * the pruned plan).  Reads CSV headers to cut byte ranges; fails on a
 * mismatched header. */
canon_job *canon__job_new(canon_df *root, int nparts, canon_error *err);
/* The same without pruning, and CSV stages take preset[s] (npreset
 * stages) instead of cutting their file again (job_codec.c rebuilding a
 * shipped job, whose plan was pruned by the sender). */
canon_job *canon__job_new_preset(canon_df *root, int nparts, canon__csv_range **preset,
                                 int npreset, canon_error *err);
/* job_codec.c: copy the preset ranges of stage s into the stage. */
int canon__job_take_preset(canon_job *job, int s, canon_error *err);
void canon__job_free(canon_job *job);
/* Plan root for the session's engine and run it (result.c): on success
 * *parts holds the root stage's outputs in partition order.  `one_table`:
 * the caller makes one table of them (collect, persist); errors name the
 * engine when it gave no message. */
int canon__run_plan(canon_df *root, bool one_table, canon_table ***parts, int *nparts,
                    canon_error *err);
/* Print the stages as an indented tree (or Graphviz). */
void canon__job_print(const canon_job *job, FILE *out, bool dot);

/* host.c: run the pipeline of task (stage, part). */
int canon__run_task(const canon_job *job, int stage, int part, canon_table *const *inputs,
                    canon_table **out, canon_error *err);

#endif
