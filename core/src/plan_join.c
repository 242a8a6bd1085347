/* plan_join.c — canon_join: checking a join and naming its output
 * (SEMANTICS §6).
 *
 * The constructor checks the key pairs (both columns exist, same type) and
 * builds the output layout once, so a clashing column name fails where the
 * join was written.  Output columns: the left ones, then the right ones,
 * except that a right key paired with a left key of the same name is
 * merged into that left column.  A right column whose name is also a left
 * column's is a clash: with suffixes both get theirs, without it is an
 * error naming the column. */
#include "joins.h"

static const char *const type_names[] = {
  [CANON_JOIN_INNER] = "JOIN_TYPE_INNER", [CANON_JOIN_LEFT] = "JOIN_TYPE_LEFT",
  [CANON_JOIN_RIGHT] = "JOIN_TYPE_RIGHT", [CANON_JOIN_FULL] = "JOIN_TYPE_OUTER",
  [CANON_JOIN_SEMI] = "JOIN_TYPE_LEFT_SEMI", [CANON_JOIN_ANTI] = "JOIN_TYPE_LEFT_ANTI",
  [CANON_JOIN_CROSS] = "JOIN_TYPE_CROSS",
};
#define NTYPES ((int)(sizeof type_names / sizeof type_names[0]))

static const char *const strategy_names[] = {
  [CANON_JOIN_AUTO] = "auto", [CANON_JOIN_BROADCAST] = "broadcast", [CANON_JOIN_HASH] = "hash",
};

const char *canon__join_type_name(int type) {
  return type > 0 && type < NTYPES ? type_names[type] : NULL;
}

int canon__join_type_from_name(const char *name) {
  for (int t = 1; name && t < NTYPES; t++)
    if (strcmp(name, type_names[t]) == 0) return t;
  return 0;
}

const char *canon__join_strategy_name(int s) {
  return s >= 0 && s <= CANON_JOIN_HASH ? strategy_names[s] : NULL;
}

int canon__join_strategy_from_name(const char *name) {
  for (int s = 0; name && s <= CANON_JOIN_HASH; s++)
    if (strcmp(name, strategy_names[s]) == 0) return s;
  return -1;
}

void canon__join_layout_free(canon__join_layout *lay) {
  free(lay->out_left);
  free(lay->out_right);
  free(lay->lkeys);
  free(lay->rkeys);
  canon_schema_free(lay->schema);
  memset(lay, 0, sizeof *lay);
}

static bool has_suffixes(const canon_df *d) {
  return (d->left_suffix && *d->left_suffix) || (d->right_suffix && *d->right_suffix);
}

/* Add output column `name` + suffix (suffix may be NULL). */
static int add_out(canon__join_layout *lay, const char *name, const char *suffix, canon_type t,
                   int l, int r, canon_error *err) {
  char *full = canon__asprintf("%s%s", name, suffix ? suffix : "");
  if (!full) return canon__nomem(err);
  int rc = canon_schema_add(lay->schema, full, t, err);
  free(full);
  if (rc) return rc;
  lay->out_left[lay->nout] = l;
  lay->out_right[lay->nout] = r;
  lay->nout++;
  return 0;
}

int canon__join_layout_make(const canon_df *d, canon__join_layout *lay, canon_error *err) {
  memset(lay, 0, sizeof *lay);
  const canon_schema *ls = d->inputs[0]->schema, *rs = d->inputs[1]->schema;
  int cap = ls->n + rs->n, nk = d->nkeys, rc = 0;
  int *merged_into = canon__calloc((size_t)(rs->n ? rs->n : 1), sizeof *merged_into);
  int *merged_from = canon__calloc((size_t)(ls->n ? ls->n : 1), sizeof *merged_from);
  lay->out_left = canon__calloc((size_t)(cap ? cap : 1), sizeof *lay->out_left);
  lay->out_right = canon__calloc((size_t)(cap ? cap : 1), sizeof *lay->out_right);
  lay->lkeys = canon__calloc((size_t)(nk ? nk : 1), sizeof *lay->lkeys);
  lay->rkeys = canon__calloc((size_t)(nk ? nk : 1), sizeof *lay->rkeys);
  lay->schema = canon_schema_new();
  if (!merged_into || !merged_from || !lay->out_left || !lay->out_right || !lay->lkeys ||
      !lay->rkeys || !lay->schema) {
    rc = canon__nomem(err);
    goto done;
  }
  for (int j = 0; j < rs->n; j++) merged_into[j] = -1;
  for (int i = 0; i < ls->n; i++) merged_from[i] = -1;
  for (int k = 0; k < nk; k++) {
    lay->lkeys[k] = canon_schema_find(ls, d->keys[k]);
    lay->rkeys[k] = canon_schema_find(rs, d->rkeys[k]);
    if (lay->lkeys[k] < 0 || lay->rkeys[k] < 0) {
      rc = canon__seterr(err, CANON_ERR_INTERNAL, "join key pair %d is not resolved", k + 1);
      goto done;
    }
    /* A key named the same on both sides appears once. */
    if (strcmp(d->keys[k], d->rkeys[k]) == 0) {
      merged_into[lay->rkeys[k]] = lay->lkeys[k];
      merged_from[lay->lkeys[k]] = lay->rkeys[k];
    }
  }
  bool left_only = d->join_type == CANON_JOIN_SEMI || d->join_type == CANON_JOIN_ANTI;
  bool suffixes = has_suffixes(d);
  for (int i = 0; i < ls->n && rc == 0; i++) {
    /* A left column clashes when a right column of its name stays. */
    int j = left_only ? -1 : canon_schema_find(rs, ls->names[i]);
    bool clash = j >= 0 && merged_into[j] < 0;
    if (clash && !suffixes) {
      rc = canon__seterr(err, CANON_ERR_INVALID,
                         "column '%s' is on both sides of the join (left column %d, right "
                         "column %d); give suffixes (left_suffix, right_suffix) or rename one",
                         ls->names[i], i + 1, j + 1);
      break;
    }
    rc = add_out(lay, ls->names[i], clash ? d->left_suffix : NULL, ls->types[i], i,
                 left_only ? -1 : merged_from[i], err);
  }
  for (int j = 0; !left_only && j < rs->n && rc == 0; j++) {
    if (merged_into[j] >= 0) continue;
    bool clash = canon_schema_find(ls, rs->names[j]) >= 0;
    rc = add_out(lay, rs->names[j], clash ? d->right_suffix : NULL, rs->types[j], -1, j, err);
  }
  if (rc && err && err->code == CANON_ERR_INVALID && strstr(err->message, "duplicate"))
    canon__errprefix(err, "join output");
done:
  free(merged_into);
  free(merged_from);
  if (rc) canon__join_layout_free(lay);
  return rc;
}

/* Resolve the key pairs into d->keys / d->rkeys, checking names and types. */
static int copy_key_pairs(canon_df *d, const char *const *lk, const char *const *rk, int n,
                          canon_error *err) {
  const canon_schema *ls = d->inputs[0]->schema, *rs = d->inputs[1]->schema;
  if (d->join_type == CANON_JOIN_CROSS) {
    if (n != 0)
      return canon__seterr(err, CANON_ERR_INVALID, "a cross join takes no keys (got %d)", n);
    return 0;
  }
  if (n <= 0 || !lk)
    return canon__seterr(err, CANON_ERR_INVALID,
                         "join needs at least one key pair (CANON_JOIN_CROSS joins every pair)");
  d->keys = canon__calloc((size_t)n, sizeof *d->keys);
  d->rkeys = canon__calloc((size_t)n, sizeof *d->rkeys);
  if (!d->keys || !d->rkeys) return canon__nomem(err);
  for (int k = 0; k < n; k++) {
    const char *l = lk[k], *r = rk ? rk[k] : lk[k];
    const canon_schema *side[2] = {ls, rs};
    const char *name[2] = {l, r}, *what[2] = {"left", "right"};
    int at[2];
    for (int s = 0; s < 2; s++) {
      at[s] = name[s] ? canon_schema_find(side[s], name[s]) : -1;
      if (at[s] < 0) {
        char *avail = canon_schema_to_string(side[s]);
        int rc = canon__seterr(err, CANON_ERR_NOT_FOUND,
                               "unknown %s join key '%s' (available: %s)", what[s],
                               name[s] ? name[s] : "(null)", avail ? avail : "?");
        free(avail);
        return rc;
      }
    }
    if (ls->types[at[0]] != rs->types[at[1]])
      return canon__seterr(err, CANON_ERR_TYPE,
                           "join key types differ: left '%s' is %s, right '%s' is %s "
                           "(cast one side first)",
                           l, canon_type_name(ls->types[at[0]]), r,
                           canon_type_name(rs->types[at[1]]));
    d->keys[k] = canon__strdup(l);
    d->rkeys[k] = canon__strdup(r);
    d->nkeys = k + 1;
    if (!d->keys[k] || !d->rkeys[k]) return canon__nomem(err);
  }
  return 0;
}

static int copy_options(canon_df *d, const canon_join_options *o, canon_error *err) {
  if (!o) return 0;
  d->nulls_equal = o->nulls_equal != 0;
  if (o->strategy < CANON_JOIN_AUTO || o->strategy > CANON_JOIN_HASH)
    return canon__seterr(err, CANON_ERR_INVALID, "unknown join strategy %d", (int)o->strategy);
  d->join_strategy = o->strategy;
  d->broadcast_max_rows = o->broadcast_max_rows;
  if ((o->left_suffix && !(d->left_suffix = canon__strdup(o->left_suffix))) ||
      (o->right_suffix && !(d->right_suffix = canon__strdup(o->right_suffix))))
    return canon__nomem(err);
  return 0;
}

canon_df *canon_join(canon_df *left, canon_df *right, canon_join_type how,
                     const char *const *left_keys, const char *const *right_keys, int nkeys,
                     const canon_join_options *opts, canon_error *err) {
  if (!left || !right) {
    canon__seterr(err, CANON_ERR_INVALID, "join: %s input is NULL (an earlier step failed)",
                  !left ? "left" : "right");
    return NULL;
  }
  if (left->session != right->session) {
    canon__seterr(err, CANON_ERR_INVALID, "join: the inputs belong to different sessions");
    return NULL;
  }
  canon_df *d = canon__node_new(left->session, CANON__N_JOIN, err);
  if (!d) return NULL;
  d->ninputs = 2;
  d->inputs[0] = left;
  d->inputs[1] = right;
  d->join_type = how;
  canon__join_layout lay;
  if (!canon__join_type_name(how)) {
    canon__seterr(err, CANON_ERR_INVALID, "unknown join type %d", (int)how);
    goto fail;
  }
  if (copy_key_pairs(d, left_keys, right_keys, nkeys, err) || copy_options(d, opts, err) ||
      canon__join_layout_make(d, &lay, err))
    goto fail;
  d->schema = lay.schema;
  lay.schema = NULL;
  canon__join_layout_free(&lay);
  return d;
fail:
  canon__errprefix(err, "join node %d", canon_df_id(d));
  return NULL;
}

void canon__joins_describe(const canon_df *d, FILE *out) {
  if (d->kind == CANON__N_JOIN) {
    fprintf(out, " %s", canon__join_type_name(d->join_type));
    for (int k = 0; k < d->nkeys; k++)
      fprintf(out, "%s%s = %s", k ? " AND " : " on ", d->keys[k], d->rkeys[k]);
    if (d->nulls_equal) fprintf(out, " (nulls equal)");
    if (d->join_strategy != CANON_JOIN_AUTO)
      fprintf(out, " [%s]", canon__join_strategy_name(d->join_strategy));
  } else if (d->kind == CANON__N_DISTINCT && d->nkeys) {
    fprintf(out, " on [");
    for (int k = 0; k < d->nkeys; k++) fprintf(out, "%s%s", k ? ", " : "", d->keys[k]);
    fprintf(out, "]");
  }
}
