/* joins.h — join, the set operations and distinct: what their files share.
 *
 * Files: plan_join.c (canon_join, the output layout), plan_setops.c
 * (set operations, distinct), physical_join.c (stages and per-task glue;
 * its hooks are declared in physical.h), plan_json_join.c (plan JSON,
 * hooks in plan_json.h), kernels/join.c and kernels/setops.c (kernels.h). */
#ifndef CANON_JOINS_H
#define CANON_JOINS_H

#include "internal.h"

#include <stdio.h>

/* The output of a join node: per output column its left and right source
 * columns (-1: none; both for a merged key), the key column indices and
 * the output schema.  The constructor builds it to check and name the
 * output; every task builds it again to run the kernel. */
typedef struct canon__join_layout {
  int nout;
  int *out_left, *out_right;
  int *lkeys, *rkeys;
  canon_schema *schema;
} canon__join_layout;

/* Fill lay for join node d (its inputs, keys, type and suffixes set). */
int canon__join_layout_make(const canon_df *d, canon__join_layout *lay, canon_error *err);
void canon__join_layout_free(canon__join_layout *lay);

/* Join types as plan JSON writes them ("JOIN_TYPE_INNER", ...); 0 when
 * unknown. */
const char *canon__join_type_name(int type);
int canon__join_type_from_name(const char *name);
/* "auto", "broadcast", "hash". */
const char *canon__join_strategy_name(int strategy);
int canon__join_strategy_from_name(const char *name); /* -1 when unknown */

/* The default broadcast_max_rows of CANON_JOIN_AUTO. */
#define CANON__BROADCAST_MAX_ROWS 10000

/* explain: the node's details after "kind #id". */
void canon__joins_describe(const canon_df *d, FILE *out);

#endif
