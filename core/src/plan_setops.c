/* plan_setops.c — the set operations and distinct: constructors
 * (SEMANTICS §7).
 *
 * A set operation lines its inputs up by position: the column types must
 * agree, the names are the first input's. */
#include "joins.h"

/* A node of `kind` over a and b after checking that their columns line
 * up; NULL (err filled) otherwise. */
static canon_df *binary(canon_df *a, canon_df *b, canon__node_kind kind, canon_error *err) {
  const char *op = canon__node_kind_name(kind);
  if (!a || !b) {
    canon__seterr(err, CANON_ERR_INVALID, "%s: %s input is NULL (an earlier step failed)", op,
                  !a ? "first" : "second");
    return NULL;
  }
  if (a->session != b->session) {
    canon__seterr(err, CANON_ERR_INVALID, "%s: the inputs belong to different sessions", op);
    return NULL;
  }
  canon_df *d = canon__node_new(a->session, kind, err);
  if (!d) return NULL;
  d->ninputs = 2;
  d->inputs[0] = a;
  d->inputs[1] = b;
  const canon_schema *sa = a->schema, *sb = b->schema;
  int n = sa->n < sb->n ? sa->n : sb->n;
  for (int i = 0; i < n; i++)
    if (sa->types[i] != sb->types[i]) {
      canon__seterr(err, CANON_ERR_TYPE,
                    "column %d differs: '%s' is %s in the first input, '%s' is %s in the "
                    "second (cast one side first)",
                    i + 1, sa->names[i], canon_type_name(sa->types[i]), sb->names[i],
                    canon_type_name(sb->types[i]));
      goto fail;
    }
  if (sa->n != sb->n) {
    canon__seterr(err, CANON_ERR_TYPE,
                  "the inputs have %d and %d columns (column %d, '%s', has no partner)",
                  sa->n, sb->n, n + 1, sa->n > n ? sa->names[n] : sb->names[n]);
    goto fail;
  }
  if (!(d->schema = canon__schema_copy(sa))) {
    canon__nomem(err);
    goto fail;
  }
  return d;
fail:
  canon__errprefix(err, "%s node %d", op, canon_df_id(d));
  return NULL;
}

canon_df *canon_union_all(canon_df *a, canon_df *b, canon_error *err) {
  return binary(a, b, CANON__N_UNION_ALL, err);
}
canon_df *canon_union(canon_df *a, canon_df *b, canon_error *err) {
  return binary(a, b, CANON__N_UNION, err);
}
canon_df *canon_intersect(canon_df *a, canon_df *b, canon_error *err) {
  return binary(a, b, CANON__N_INTERSECT, err);
}
canon_df *canon_intersect_all(canon_df *a, canon_df *b, canon_error *err) {
  return binary(a, b, CANON__N_INTERSECT_ALL, err);
}
canon_df *canon_except(canon_df *a, canon_df *b, canon_error *err) {
  return binary(a, b, CANON__N_EXCEPT, err);
}
canon_df *canon_except_all(canon_df *a, canon_df *b, canon_error *err) {
  return binary(a, b, CANON__N_EXCEPT_ALL, err);
}

canon_df *canon_distinct(canon_df *in, const char *const *subset, int n, canon_error *err) {
  if (!in) {
    canon__seterr(err, CANON_ERR_INVALID, "distinct: input is NULL (an earlier step failed)");
    return NULL;
  }
  canon_df *d = canon__node_new(in->session, CANON__N_DISTINCT, err);
  if (!d) return NULL;
  d->ninputs = 1;
  d->inputs[0] = in;
  if (n < 0 || (n > 0 && !subset)) {
    canon__seterr(err, CANON_ERR_INVALID, "bad distinct subset list");
    goto fail;
  }
  if (!subset) n = 0;
  /* nkeys == 0 stands for every column. */
  if (n && !(d->keys = canon__calloc((size_t)n, sizeof *d->keys))) {
    canon__nomem(err);
    goto fail;
  }
  for (int i = 0; i < n; i++) {
    if (!subset[i] || canon_schema_find(in->schema, subset[i]) < 0) {
      char *avail = canon_schema_to_string(in->schema);
      canon__seterr(err, CANON_ERR_NOT_FOUND, "unknown distinct column '%s' (available: %s)",
                    subset[i] ? subset[i] : "(null)", avail ? avail : "?");
      free(avail);
      goto fail;
    }
    for (int j = 0; j < i; j++)
      if (strcmp(subset[i], subset[j]) == 0) {
        canon__seterr(err, CANON_ERR_INVALID, "distinct column '%s' given twice", subset[i]);
        goto fail;
      }
    if (!(d->keys[i] = canon__strdup(subset[i]))) {
      canon__nomem(err);
      goto fail;
    }
    d->nkeys = i + 1;
  }
  if (!(d->schema = canon__schema_copy(in->schema))) {
    canon__nomem(err);
    goto fail;
  }
  return d;
fail:
  canon__errprefix(err, "distinct node %d", canon_df_id(d));
  return NULL;
}
