/* conformance_random.h — canon-conformance's differential mode: random
 * tables and random plans over them (conformance_random.c), run on an
 * engine and on the reference serial:partitions=1, compared, and the first
 * mismatch minimized and saved as a case file (conformance_differential.c).
 *
 * A plan is kept in the case format (conformance/README.md): its nodes
 * read the random tables through {"op": "input", "name": "t0"} nodes, so a
 * minimized plan is saved as it is. */
#ifndef CANON_CONFORMANCE_RANDOM_H
#define CANON_CONFORMANCE_RANDOM_H

#include "canon.h"

#include <cjson/cJSON.h>
#include <stdint.h>

#define RND_MAXCOLS 32
#define RND_NAMELEN 40
#define RND_MAXTABS 2

/* SplitMix64: the generator's only source of randomness (never rand()), so
 * a seed gives the same tables and plans on every platform. */
typedef struct rnd_rng {
  uint64_t state;
} rnd_rng;

uint64_t rnd_next(rnd_rng *r);

/* One random input table; cells are canonical value texts, NULL for NULL. */
typedef struct rnd_table {
  char name[8];
  int ncols, nrows;
  char names[RND_MAXCOLS][RND_NAMELEN];
  canon_type types[RND_MAXCOLS];
  char **cells;          /* nrows * ncols, row-major */
  unsigned char *keep;   /* per row: 1 while the row is in the plan (the minimizer drops rows) */
} rnd_table;

typedef struct rnd_plan {
  rnd_table tabs[RND_MAXTABS];
  int ntabs;
  cJSON *nodes;          /* case-format nodes, each after its inputs */
  int root;              /* the root node's id */
} rnd_plan;

/* How a result's row order is defined (docs/semantics.md §2). */
enum { RND_EXACT, RND_TIES, RND_ANY };

/* What the analysis knows about one node's result. */
typedef struct rnd_info {
  int ncols;
  char names[RND_MAXCOLS][RND_NAMELEN];
  canon_type types[RND_MAXCOLS];
  /* 1: a float column that may hold -0.0 (rows equal under a sort may then
   * still print differently, so a cut through such ties is not defined). */
  unsigned char nz[RND_MAXCOLS];
  int order;             /* RND_EXACT, RND_TIES or RND_ANY */
  int nties;
  char ties[RND_MAXCOLS][RND_NAMELEN];
  int determined;        /* 0: the semantics leave the rows themselves open */
} rnd_info;

/* Generate plan `index` of the run seeded `seed`.  Candidate nodes are
 * checked by loading them (tables without rows) into `gen`, a serial
 * session; transform steps only when caps has CANON_CAP_TRANSFORM.
 * Returns 0, or -1 when out of memory. */
int rnd_plan_generate(rnd_plan *p, uint64_t seed, int index, unsigned caps, canon_session *gen);
void rnd_plan_free(rnd_plan *p);

/* The loadable plan document for the node `root` (canon_plan 1, each input
 * node replaced by a table node with the table's kept rows, or with no rows
 * when schema_only).  malloc'd; NULL when out of memory. */
char *rnd_plan_document(const rnd_plan *p, int root, int schema_only);

/* Load every node of p (in `gen`, tables without rows) and analyze the
 * result.  Returns 0 and fills *out when every node loads and the result
 * is determined by the semantics; -1 otherwise. */
int rnd_plan_analyze(const rnd_plan *p, canon_session *gen, rnd_info *out);

/* The same for one node whose inputs were already analyzed (in0, in1 may
 * be NULL); `schema` is the node's loaded output schema. */
void rnd_info_step(const cJSON *node, const rnd_info *in0, const rnd_info *in1,
                   const canon_schema *schema, const rnd_plan *p, rnd_info *out);

/* Does p use a transform node (its case then requires the capability)? */
int rnd_plan_uses_transform(const rnd_plan *p);

/* Run differential mode; returns the exit status (0, 1 on a mismatch, 2 on
 * a setup error).  parts/nparts: partition counts for `engine`. */
int conf_random_run(const char *engine, const int *parts, int nparts, int count, uint64_t seed,
                    const char *save_dir, int verbose);

#endif /* CANON_CONFORMANCE_RANDOM_H */
