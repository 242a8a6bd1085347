/* plan_prune.c — projection pushdown: before a plan is cut into stages,
 * every column that no consumer can observe is dropped as early as
 * possible.
 *
 * The pass works on the logical DAG and never changes a node's meaning:
 *   1. From the root down (consumers before their inputs), each node gets
 *      the set of its output columns someone reads: the root all of them;
 *      a node used by several consumers the union of their needs.  From
 *      that set each node derives what it reads of its inputs (a filter
 *      its predicate's columns besides the ones it passes on, a join its
 *      keys and the partner of every clashing name it keeps, ...).  Nodes
 *      that observe whole rows (transform, dropna or distinct over every
 *      column, union/intersect/except) read every input column.
 *   2. From the leaves up, each node is rebuilt by its own constructor over
 *      the rebuilt inputs, so expressions are bound again against the
 *      narrower schemas.  A node whose rebuilt output is wider than what
 *      is read of it (a filter's predicate column nobody reads later, a
 *      scan of a CSV file, an in-memory table or a computed persist) or
 *      ordered differently is followed by a select of its needed columns
 *      in the original order (a row-wise operator: same stage); a consumer
 *      that reads fewer columns than a shared input yields gets a select of
 *      exactly its own.  Selects and aggregates read by name and yield only
 *      what they compute, so they read the rebuilt input before such a
 *      select (a select or aggregate right after a scan stays so).
 * The root's schema, and every column anyone reads, are exactly the
 * original's.  Rebuilt nodes carry the original node's id (origin_id), so
 * stage names, errors and explain name what the user wrote; the selects
 * the pass adds carry the id of the node whose output they narrow.
 *
 * The rebuilt nodes live in a session of their own (no engine) that the job
 * owns, so planning never adds nodes or ids to the user's session.  When
 * nothing can be dropped, or anything goes wrong, the original plan is
 * planned as it is.  Only existing node kinds are used, so a pruned plan
 * travels to other processes like any plan and is planned there again
 * without this pass (the receiver gets the pruned plan itself).
 *
 * A CSV scan still parses every column (the reader takes no column subset):
 * the select after it narrows what follows, from the task's first operator.
 *
 * The pass can be turned off: CANON_PRUNE=0 in the environment, or
 * canon__prune_set (tests compare both ways). */
#include "joins.h"
#include "physical.h"

#include <stdio.h>

/* -1: not decided yet (read CANON_PRUNE), 0: off, 1: on. */
static int prune_mode = -1;

void canon__prune_set(int on) {
  __atomic_store_n(&prune_mode, on < 0 ? -1 : on ? 1 : 0, __ATOMIC_RELAXED);
}

bool canon__prune_enabled(void) {
  int m = __atomic_load_n(&prune_mode, __ATOMIC_RELAXED);
  if (m < 0) {
    const char *e = getenv("CANON_PRUNE");
    m = !(e && strcmp(e, "0") == 0);
  }
  return m != 0;
}

typedef struct pnode {
  canon_df *d;
  bool *need;    /* per output column of d: someone reads it */
  bool *in[2];   /* per column of each input: d reads it */
  canon_df *base; /* the rebuilt d: every needed column, under d's names */
  bool exact;     /* base holds just the needed columns, in d's order */
  canon_df *out;  /* base narrowed to exactly that (made when first used) */
  canon_df *used[2]; /* while rebuilding: the inputs it was built over */
} pnode;

typedef struct pctx {
  canon_session *s; /* where rebuilt nodes go */
  pnode *nodes;     /* inputs before consumers */
  int n;
  int *at;          /* node id -> index in nodes, -1 if not reached */
  int nids;
  canon_error err;  /* scratch: a failure only means "do not prune" */
} pctx;

/* ---- walking the DAG ------------------------------------------------------ */

/* Inputs of d that its plan reads (a computed persist is a leaf). */
static int plan_inputs(const canon_df *d) {
  return d->kind == CANON__N_PERSIST && d->table ? 0 : d->ninputs;
}

/* Fill c->nodes with every node below root, inputs first, each once.
 * Iterative, so a long chain of steps does not use the C stack.  Fails on
 * a node of another session (nothing is pruned then). */
static int order_nodes(pctx *c, canon_df *root) {
  typedef struct frame {
    canon_df *d;
    int next;
  } frame;
  canon_session *s = root->session;
  c->nids = s->next_id + 1;
  c->at = canon__calloc((size_t)c->nids, sizeof *c->at);
  c->nodes = canon__calloc((size_t)s->nnodes + 1, sizeof *c->nodes);
  frame *stack = canon__calloc((size_t)s->nnodes + 1, sizeof *stack);
  int depth = 0, rc = -1;
  if (!c->at || !c->nodes || !stack || root->id <= 0 || root->id >= c->nids) goto done;
  for (int i = 0; i < c->nids; i++) c->at[i] = -1;
  stack[depth++] = (frame){root, 0};
  c->at[root->id] = -2; /* on the stack */
  while (depth > 0) {
    frame *top = &stack[depth - 1];
    canon_df *d = top->d;
    if (top->next < plan_inputs(d)) {
      canon_df *in = d->inputs[top->next++];
      if (!in || in->session != s || in->id <= 0 || in->id >= c->nids || depth > s->nnodes)
        goto done;
      if (c->at[in->id] != -1) continue; /* done, or a cycle (impossible) */
      c->at[in->id] = -2;
      stack[depth++] = (frame){in, 0};
      continue;
    }
    c->at[d->id] = c->n;
    c->nodes[c->n++].d = d;
    depth--;
  }
  rc = 0;
done:
  free(stack);
  return rc;
}

static pnode *node_of(pctx *c, const canon_df *d) { return &c->nodes[c->at[d->id]]; }

/* ---- phase 1: which columns each node reads ----------------------------------- */

static int count(const bool *m, int n) {
  int k = 0;
  for (int i = 0; i < n; i++) k += m[i];
  return k;
}

static void mark_refs(const canon_expr *e, bool *m, int n) {
  if (!e) return;
  if (e->kind == CANON__E_COL && e->col >= 0 && e->col < n) m[e->col] = true;
  for (int i = 0; i < e->nargs; i++) mark_refs(e->args[i], m, n);
}

static void mark_name(const canon_schema *s, const char *name, bool *m) {
  int at = canon_schema_find(s, name);
  if (at >= 0) m[at] = true;
}

static void mark_all(bool *m, int n) {
  for (int i = 0; i < n; i++) m[i] = true;
}

/* A cheap column to keep when a consumer reads none (only counts rows):
 * the first fixed-width one. */
static int pick_one(const canon_schema *s) {
  for (int i = 0; i < s->n; i++)
    if (s->types[i] != CANON_STRING) return i;
  return 0;
}

/* d's output reads none of its columns: keep one, preferring one d reads
 * anyway (a key, a sort column). */
static void keep_one(const canon_df *d, bool *need) {
  const canon_schema *os = d->schema;
  int at = -1;
  switch (d->kind) {
  case CANON__N_SELECT: case CANON__N_RENAME: case CANON__N_DROP: case CANON__N_CAST:
    for (int i = 0; i < d->nexprs && at < 0; i++)
      if (d->bound[i]->kind == CANON__E_COL && d->bound[i]->type != CANON_STRING) at = i;
    break;
  case CANON__N_FILTER: {
    bool m[os->n ? os->n : 1];
    memset(m, 0, sizeof m);
    mark_refs(d->bound[0], m, os->n);
    for (int i = 0; i < os->n && at < 0; i++)
      if (m[i]) at = i;
    break;
  }
  case CANON__N_AGGREGATE: at = 0; break; /* the first key, else the first output */
  case CANON__N_SORT: at = canon_schema_find(os, d->sort[0].column); break;
  case CANON__N_DROPNA: case CANON__N_TAKE: case CANON__N_REPARTITION: case CANON__N_DISTINCT:
    if (d->nkeys) at = canon_schema_find(os, d->keys[0]);
    else if (d->kind == CANON__N_TAKE && d->nsort) at = canon_schema_find(os, d->sort[0].column);
    break;
  case CANON__N_JOIN:
    if (d->nkeys) at = canon_schema_find(os, d->keys[0]); /* merged or unsuffixed: may miss */
    break;
  default: break;
  }
  if (at < 0 || at >= os->n) at = pick_one(os);
  need[at] = true;
}

/* Join d: what it reads of each side given the output columns needed. */
static int join_needs(const canon_df *d, const bool *need, bool *L, bool *R, canon_error *err) {
  canon__join_layout lay;
  if (canon__join_layout_make(d, &lay, err)) return -1;
  const canon_schema *ls = d->inputs[0]->schema, *rs = d->inputs[1]->schema;
  for (int j = 0; j < lay.nout; j++) {
    if (!need[j]) continue;
    if (lay.out_left[j] >= 0) L[lay.out_left[j]] = true;
    if (lay.out_right[j] >= 0) R[lay.out_right[j]] = true;
  }
  for (int k = 0; k < d->nkeys; k++) {
    L[lay.lkeys[k]] = true;
    R[lay.rkeys[k]] = true;
  }
  canon__join_layout_free(&lay);
  bool left_only = d->join_type == CANON_JOIN_SEMI || d->join_type == CANON_JOIN_ANTI;
  /* Keep both columns of every clashing name: dropping one would take the
   * suffix off the other and rename it. */
  for (int pass = 0; !left_only && pass < 2; pass++) {
    for (int i = 0; i < ls->n; i++)
      if (L[i]) mark_name(rs, ls->names[i], R);
    for (int j = 0; j < rs->n; j++)
      if (R[j]) mark_name(ls, rs->names[j], L);
  }
  /* An in-memory right table of few rows is broadcast (physical_join.c);
   * a select over it would turn that into a hash join. */
  if (canon__join_may_broadcast_table(d)) mark_all(R, rs->n);
  return 0;
}

/* Given p->need (final), what p->d reads of its inputs (p->in). */
static int compute_needs(pctx *c, pnode *p) {
  canon_df *d = p->d;
  const canon_schema *os = d->schema;
  bool *N = p->need;
  if (count(N, os->n) == 0) keep_one(d, N);
  int nin = plan_inputs(d);
  for (int k = 0; k < nin; k++) {
    int n = d->inputs[k]->schema->n;
    if (!(p->in[k] = canon__calloc((size_t)(n ? n : 1), sizeof *p->in[k]))) return -1;
  }
  bool *L = p->in[0], *R = p->in[1];
  int nl = nin ? d->inputs[0]->schema->n : 0;
  const canon_schema *is = nin ? d->inputs[0]->schema : NULL;
  switch (d->kind) {
  case CANON__N_READ_CSV: case CANON__N_TABLE: return 0;
  case CANON__N_PERSIST: /* not computed (explain): materializing reads every column */
    if (nin) mark_all(L, nl);
    return 0;
  case CANON__N_SELECT: case CANON__N_RENAME: case CANON__N_DROP: case CANON__N_CAST:
    for (int i = 0; i < d->nexprs; i++)
      if (N[i]) mark_refs(d->bound[i], L, nl);
    return 0;
  case CANON__N_FILTER:
    mark_refs(d->bound[0], L, nl);
    for (int i = 0; i < nl; i++) L[i] |= N[i];
    return 0;
  case CANON__N_ASSIGN:
    for (int j = 0; j < os->n; j++) {
      if (!N[j]) continue;
      int a = -1;
      for (int i = 0; i < d->nexprs && a < 0; i++)
        if (strcmp(d->names[i], os->names[j]) == 0) a = i;
      if (a >= 0)
        mark_refs(d->bound[a], L, nl);
      else
        mark_name(is, os->names[j], L);
    }
    return 0;
  case CANON__N_AGGREGATE:
    for (int k = 0; k < d->nkeys; k++) mark_name(is, d->keys[k], L);
    for (int i = 0; i < d->nexprs; i++)
      if (N[d->nkeys + i]) mark_refs(d->bound[i], L, nl);
    return 0;
  case CANON__N_SORT: case CANON__N_TAKE:
    for (int i = 0; i < d->nsort; i++) mark_name(is, d->sort[i].column, L);
    for (int k = 0; k < d->nkeys; k++) mark_name(is, d->keys[k], L);
    for (int i = 0; i < nl; i++) L[i] |= N[i];
    return 0;
  case CANON__N_LIMIT: case CANON__N_FILLNA: case CANON__N_SAMPLE:
    for (int i = 0; i < nl; i++) L[i] = N[i];
    return 0;
  case CANON__N_DROPNA: case CANON__N_REPARTITION: case CANON__N_DISTINCT:
    if (d->nkeys == 0 && d->kind != CANON__N_REPARTITION) {
      mark_all(L, nl); /* every column is looked at */
      return 0;
    }
    for (int k = 0; k < d->nkeys; k++) mark_name(is, d->keys[k], L);
    for (int i = 0; i < nl; i++) L[i] |= N[i];
    return 0;
  case CANON__N_TRANSFORM: mark_all(L, nl); return 0;
  case CANON__N_JOIN: return join_needs(d, N, L, R, &c->err);
  case CANON__N_UNION_ALL: /* by position */
    for (int i = 0; i < nl; i++) L[i] = R[i] = N[i];
    return 0;
  case CANON__N_UNION: case CANON__N_INTERSECT: case CANON__N_INTERSECT_ALL:
  case CANON__N_EXCEPT: case CANON__N_EXCEPT_ALL:
    mark_all(L, nl);
    mark_all(R, d->inputs[1]->schema->n);
    return 0;
  default: return -1; /* a kind this pass does not know: do not prune */
  }
}

/* ---- phase 2: rebuilding ---------------------------------------------------- */

/* A select of the columns of `in` named by s's columns flagged in m (in
 * s's order); its id is `origin`'s. */
static canon_df *project(canon_df *in, const canon_schema *s, const bool *m, int origin,
                         canon_error *err) {
  int n = count(m, s->n), k = 0;
  canon_expr *exprs[n ? n : 1];
  for (int i = 0; i < s->n; i++)
    if (m[i]) exprs[k++] = canon_col(s->names[i]);
  canon_df *p = canon_select(in, exprs, NULL, n, err);
  if (p) p->origin_id = origin;
  return p;
}

/* Whether d's output is the same whatever other columns its input has:
 * it reads its input by name and yields only what it computes. */
static bool reads_by_name(const canon_df *d) {
  switch (d->kind) {
  case CANON__N_SELECT: case CANON__N_RENAME: case CANON__N_DROP: case CANON__N_CAST:
  case CANON__N_AGGREGATE:
    return true;
  default: return false;
  }
}

/* q's rebuilt node with exactly its needed columns, in order. */
static canon_df *out_of(pctx *c, pnode *q) {
  if (!q->out)
    q->out = q->exact ? q->base : project(q->base, q->d->schema, q->need, canon_df_id(q->d), &c->err);
  return q->out;
}

/* Input k of p as p reads it: the rebuilt input, narrowed to p's columns
 * when the input yields more (it is shared with a consumer that reads
 * them).  A consumer that reads no column (count(*)) takes it as it is; one
 * that reads by name takes the input before any select the pass put after
 * it (a select or an aggregate right after a scan reads the scan). */
static canon_df *input_for(pnode *p, int k, pctx *c) {
  pnode *q = node_of(c, p->d->inputs[k]);
  const canon_schema *s = q->d->schema;
  bool *want = p->in[k];
  if (reads_by_name(p->d)) return q->base;
  if (count(want, s->n) == 0 || memcmp(want, q->need, (size_t)s->n * sizeof *want) == 0)
    return out_of(c, q);
  return project(q->base, s, want, canon_df_id(q->d), &c->err);
}

/* A copy of d's unbound expressions i with keep[i] (NULL: every one) and
 * their names; *n of them. */
static int kept_exprs(const canon_df *d, const bool *keep, canon_expr ***exprs,
                      const char ***names, int *n) {
  *exprs = canon__calloc((size_t)(d->nexprs ? d->nexprs : 1), sizeof **exprs);
  *names = canon__calloc((size_t)(d->nexprs ? d->nexprs : 1), sizeof **names);
  *n = 0;
  if (!*exprs || !*names) return -1;
  for (int i = 0; i < d->nexprs; i++) {
    if (keep && !keep[i]) continue;
    if (!((*exprs)[*n] = canon__expr_copy(d->exprs[i]))) return -1;
    (*names)[(*n)++] = d->names[i];
  }
  return 0;
}

static void free_exprs(canon_expr **exprs, const char **names, int n, bool consumed) {
  for (int i = 0; !consumed && exprs && i < n; i++) canon_expr_free(exprs[i]);
  free(exprs);
  free(names);
}

/* A leaf copied into the pass's session. */
static canon_df *copy_leaf(pctx *c, const canon_df *d) {
  if (d->kind == CANON__N_TABLE) return canon_from_table(c->s, d->table, &c->err);
  canon_df *n = canon__node_new(c->s, d->kind, &c->err);
  if (!n) return NULL;
  n->schema = canon__schema_copy(d->schema);
  n->thresh = -1;
  n->fraction = -1;
  if (d->kind == CANON__N_READ_CSV) {
    n->path = canon__strdup(d->path);
    n->csv_schema = canon__schema_copy(d->csv_schema);
    n->schema_inferred = d->schema_inferred;
    n->delimiter = d->delimiter;
    if (!n->path || !n->csv_schema) return NULL;
  } else { /* a computed persist: a scan of its rows, its input is not read */
    if (!(n->table = canon__table_share(d->table, &c->err))) return NULL;
  }
  return n->schema ? n : NULL;
}

/* A transform over `in` (which has d's input schema). */
static canon_df *copy_transform(pctx *c, const canon_df *d, canon_df *in) {
  canon_df *n = canon__node_new(c->s, CANON__N_TRANSFORM, &c->err);
  if (!n) return NULL;
  n->ninputs = 1;
  n->inputs[0] = in;
  n->thresh = -1;
  n->fraction = -1;
  n->n = d->n;
  n->transform = canon__strdup(d->transform);
  n->schema = canon__schema_copy(d->schema);
  n->keys = canon__calloc((size_t)(d->nkeys ? d->nkeys : 1), sizeof *n->keys);
  n->sort = canon__calloc((size_t)(d->nsort ? d->nsort : 1), sizeof *n->sort);
  if (!n->transform || !n->schema || !n->keys || !n->sort) return NULL;
  for (int i = 0; i < d->nkeys; i++, n->nkeys++)
    if (!(n->keys[i] = canon__strdup(d->keys[i]))) return NULL;
  for (int i = 0; i < d->nsort; i++, n->nsort++) {
    n->sort[i] = d->sort[i];
    if (!(n->sort[i].column = canon__strdup(d->sort[i].column))) return NULL;
  }
  return n;
}

/* Rebuild p->d over its rebuilt inputs; the result has at least the needed
 * columns, under the original names (rebuild() narrows and orders it). */
static canon_df *rebuild_node(pctx *c, pnode *p) {
  canon_df *d = p->d;
  canon_error *err = &c->err;
  const canon_schema *os = d->schema;
  canon_df *in[2] = {NULL, NULL};
  for (int k = 0; k < plan_inputs(d); k++)
    if (!(in[k] = p->used[k] = input_for(p, k, c))) return NULL;
  canon_expr **exprs = NULL;
  const char **names = NULL;
  int n = 0;
  canon_df *out = NULL;
  const char *const *keys = (const char *const *)d->keys;
  switch (d->kind) {
  case CANON__N_READ_CSV: case CANON__N_TABLE: return copy_leaf(c, d);
  case CANON__N_PERSIST: return d->table ? copy_leaf(c, d) : canon_persist(in[0], err);
  case CANON__N_SELECT: case CANON__N_RENAME: case CANON__N_DROP: case CANON__N_CAST:
    if (kept_exprs(d, p->need, &exprs, &names, &n) == 0)
      out = canon_select(in[0], exprs, names, n, err);
    free_exprs(exprs, names, n, true);
    /* A narrowed rename, cast or drop is a select, named in errors and
     * explain as the user's node ("cast node 2"); a processes worker, whose
     * plan JSON carries the id only, still calls it a select. */
    if (out && out != in[0] && out->kind == CANON__N_SELECT && d->kind != CANON__N_SELECT)
      out->origin_kind = (int)d->kind + 1;
    return out;
  case CANON__N_FILTER: return canon_filter(in[0], canon__expr_copy(d->exprs[0]), err);
  case CANON__N_ASSIGN:
  case CANON__N_AGGREGATE:
  case CANON__N_FILLNA: {
    bool keep[d->nexprs ? d->nexprs : 1];
    int base = d->kind == CANON__N_AGGREGATE ? d->nkeys : 0;
    for (int i = 0; i < d->nexprs; i++)
      keep[i] = d->kind == CANON__N_AGGREGATE ? p->need[base + i]
                                              : p->need[canon_schema_find(os, d->names[i])];
    if (kept_exprs(d, keep, &exprs, &names, &n)) {
      free_exprs(exprs, names, n, false);
      return NULL;
    }
    if (d->kind == CANON__N_AGGREGATE) {
      canon_aggregate_options o = {.drop_null_keys = d->drop_null_keys};
      out = canon_aggregate_opts(in[0], keys, d->nkeys, exprs, names, n, &o, err);
    } else if (n == 0) { /* every column it sets is dropped: it is not needed */
      out = in[0];
    } else if (d->kind == CANON__N_ASSIGN) {
      out = canon_assign(in[0], exprs, names, n, err);
    } else {
      out = canon_fillna(in[0], names, exprs, n, err);
    }
    free_exprs(exprs, names, n, true);
    return out;
  }
  case CANON__N_SORT: return canon_sort(in[0], d->sort, d->nsort, err);
  case CANON__N_LIMIT: return canon_limit(in[0], d->n, err);
  case CANON__N_TRANSFORM: return copy_transform(c, d, in[0]);
  case CANON__N_DROPNA: return canon_dropna(in[0], d->how, keys, d->nkeys, d->thresh, err);
  case CANON__N_TAKE: return canon_take(in[0], d->n, d->sort, d->nsort, keys, d->nkeys, err);
  case CANON__N_SAMPLE: return canon_sample(in[0], d->fraction, d->n, d->seed, err);
  case CANON__N_REPARTITION: return canon_repartition(in[0], (int)d->n, keys, d->nkeys, err);
  case CANON__N_DISTINCT: return canon_distinct(in[0], d->nkeys ? keys : NULL, d->nkeys, err);
  case CANON__N_JOIN: {
    canon_join_options o = {.nulls_equal = d->nulls_equal, .left_suffix = d->left_suffix,
                            .right_suffix = d->right_suffix, .strategy = d->join_strategy,
                            .broadcast_max_rows = d->broadcast_max_rows};
    return canon_join(in[0], in[1], d->join_type, d->nkeys ? keys : NULL,
                      d->nkeys ? (const char *const *)d->rkeys : NULL, d->nkeys, &o, err);
  }
  case CANON__N_UNION_ALL: return canon_union_all(in[0], in[1], err);
  case CANON__N_UNION: return canon_union(in[0], in[1], err);
  case CANON__N_INTERSECT: return canon_intersect(in[0], in[1], err);
  case CANON__N_INTERSECT_ALL: return canon_intersect_all(in[0], in[1], err);
  case CANON__N_EXCEPT: return canon_except(in[0], in[1], err);
  case CANON__N_EXCEPT_ALL: return canon_except_all(in[0], in[1], err);
  default: return NULL;
  }
}

/* p->base: p->d rebuilt; p->exact: whether it needs narrowing (or
 * ordering) to yield just its needed columns. */
static int rebuild(pctx *c, pnode *p) {
  canon_df *d = p->d;
  canon_df *b = rebuild_node(c, p);
  if (!b) return -1;
  bool fresh = true;
  for (int k = 0; k < plan_inputs(d); k++) fresh &= b != p->used[k];
  if (fresh && b->session == c->s) b->origin_id = canon_df_id(d);
  /* Does b hold exactly the needed columns, in d's order, with d's types? */
  const canon_schema *os = d->schema, *bs = b->schema;
  bool exact = bs->n == count(p->need, os->n);
  for (int i = 0, j = 0; i < os->n; i++) {
    if (!p->need[i]) continue;
    int at = canon_schema_find(bs, os->names[i]);
    if (at < 0 || bs->types[at] != os->types[i]) return -1; /* cannot happen */
    exact &= at == j++;
  }
  p->base = b;
  p->exact = exact;
  return 0;
}

/* ---- the pass ---------------------------------------------------------------- */

canon_df *canon__prune(canon_df *root, canon_session **owned) {
  *owned = NULL;
  if (!root || !root->session || !canon__prune_enabled()) return root;
  pctx c;
  memset(&c, 0, sizeof c);
  canon_df *result = root;
  if (order_nodes(&c, root)) goto done;
  /* Phase 1, consumers first: the root is read whole. */
  pnode *top = &c.nodes[c.n - 1];
  for (int i = 0; i < c.n; i++) {
    int n = c.nodes[i].d->schema->n;
    if (!(c.nodes[i].need = canon__calloc((size_t)(n ? n : 1), sizeof *c.nodes[i].need))) goto done;
  }
  mark_all(top->need, root->schema->n);
  bool narrower = false;
  for (int i = c.n - 1; i >= 0; i--) {
    pnode *p = &c.nodes[i];
    if (compute_needs(&c, p)) goto done;
    for (int k = 0; k < plan_inputs(p->d); k++) {
      pnode *q = node_of(&c, p->d->inputs[k]);
      int n = q->d->schema->n;
      for (int j = 0; j < n; j++) q->need[j] |= p->in[k][j];
      narrower |= count(p->in[k], n) < n;
    }
  }
  if (!narrower) goto done; /* every node reads all of its inputs */
  /* Phase 2, inputs first, in a session of the job's own. */
  if (!(c.s = canon__calloc(1, sizeof *c.s))) goto done;
  c.s->next_id = 1;
  for (int i = 0; i < c.n; i++)
    if (rebuild(&c, &c.nodes[i])) goto done;
  if (!out_of(&c, top) || !canon__schema_equal(top->out->schema, root->schema))
    goto done; /* cannot happen */
  result = top->out;
  *owned = c.s;
  c.s = NULL;
done:
  canon_session_close(c.s);
  for (int i = 0; c.nodes && i < c.n; i++) {
    free(c.nodes[i].need);
    free(c.nodes[i].in[0]);
    free(c.nodes[i].in[1]);
  }
  free(c.nodes);
  free(c.at);
  return result;
}
