/* join.c — the join kernel: one partition's hash join (SEMANTICS §6).
 *
 * The right side is the build side: its rows are chained per hash slot,
 * each chain in row order.  Left rows probe in order, so the output of
 * inner and left joins is (left row, right row) pairs in input order; right
 * and full joins then append the right rows nothing matched.  Keys are
 * compared with canon__key_equal (NaN = NaN, -0.0 = 0.0); a row with a
 * NULL key is never built or probed unless nulls_equal, which is what makes
 * such rows unmatched — and kept by anti, left, right and full joins. */
#include "kernels.h"

/* Matched (left, right) row pairs; -1 stands for "no row" (NULLs). */
typedef struct jn_pairs {
  int64_t *l, *r;
  int64_t n, cap;
} jn_pairs;

static int jn_add(jn_pairs *p, int64_t l, int64_t r) {
  if (p->n == p->cap) {
    int64_t nc = p->cap ? p->cap * 2 : 1024;
    int64_t *nl = canon__reallocarray(p->l, (size_t)nc, sizeof *nl);
    if (!nl) return CANON_ERR_NOMEM;
    p->l = nl;
    int64_t *nr = canon__reallocarray(p->r, (size_t)nc, sizeof *nr);
    if (!nr) return CANON_ERR_NOMEM;
    p->r = nr;
    p->cap = nc;
  }
  p->l[p->n] = l;
  p->r[p->n] = r;
  p->n++;
  return 0;
}

static bool jn_null_key(const canon_table *t, const int *cols, int n, int64_t row) {
  for (int k = 0; k < n; k++)
    if (!canon__valid(t->cols[cols[k]], row)) return true;
  return false;
}

static bool jn_keys_equal(const canon_table *L, int64_t i, const canon_table *R, int64_t j,
                          const canon__join_spec *sp) {
  for (int k = 0; k < sp->nkeys; k++)
    if (!canon__key_equal(L->cols[sp->lkeys[k]], i, R->cols[sp->rkeys[k]], j)) return false;
  return true;
}

/* Value idx[i] of c for each i (-1: NULL), or for a merged key the left
 * value and, where there is no left row, the right one. */
static canon__column *jn_gather(const canon__column *lc, const int64_t *li,
                                const canon__column *rc, const int64_t *ri, int64_t n) {
  canon__colbuilder b;
  canon_type t = lc ? lc->type : rc->type;
  if (canon__cb_init(&b, t, n) != 0) return NULL;
  for (int64_t i = 0; i < n; i++) {
    int rc_ = 0;
    if (lc && li[i] >= 0)
      rc_ = canon__cb_from(&b, lc, li[i]);
    else if (rc && ri[i] >= 0)
      rc_ = canon__cb_from(&b, rc, ri[i]);
    else
      rc_ = canon__cb_null(&b);
    if (rc_) {
      canon__cb_reset(&b);
      return NULL;
    }
  }
  return canon__cb_finish(&b);
}

/* The pairs of an equi-join (every type but cross). */
static int jn_match(const canon_table *L, const canon_table *R, const canon__join_spec *sp,
                    jn_pairs *out) {
  int64_t nL = L->nrows, nR = R->nrows;
  int bits = 4;
  while (bits < 62 && ((int64_t)1 << bits) < 2 * nR) bits++;
  int shift = 64 - bits;
  size_t nslots = (size_t)1 << bits;
  int64_t *head = canon__reallocarray(NULL, nslots, sizeof *head);
  int64_t *next = canon__reallocarray(NULL, nR ? (size_t)nR : 1, sizeof *next);
  uint64_t *rh = canon__reallocarray(NULL, nR ? (size_t)nR : 1, sizeof *rh);
  uint64_t *lh = canon__reallocarray(NULL, nL ? (size_t)nL : 1, sizeof *lh);
  bool *matched = canon__calloc(nR ? (size_t)nR : 1, sizeof *matched);
  int rc = 0;
  if (!head || !next || !rh || !lh || !matched) {
    rc = CANON_ERR_NOMEM;
    goto done;
  }
  for (size_t s = 0; s < nslots; s++) head[s] = -1;
  canon__hash_rows(R, sp->rkeys, sp->nkeys, rh);
  canon__hash_rows(L, sp->lkeys, sp->nkeys, lh);
  /* Slots by the hash's high bits: the rows of one hash-exchange bucket
   * share the hash modulo the bucket count.  Built backwards so each chain
   * runs in row order. */
  for (int64_t j = nR - 1; j >= 0; j--) {
    if (!sp->nulls_equal && jn_null_key(R, sp->rkeys, sp->nkeys, j)) continue;
    size_t s = (size_t)(rh[j] >> shift);
    next[j] = head[s];
    head[s] = j;
  }
  for (int64_t i = 0; i < nL && rc == 0; i++) {
    bool found = false;
    if (sp->nulls_equal || !jn_null_key(L, sp->lkeys, sp->nkeys, i)) {
      for (int64_t j = head[lh[i] >> shift]; j >= 0 && rc == 0; j = next[j]) {
        if (rh[j] != lh[i] || !jn_keys_equal(L, i, R, j, sp)) continue;
        found = true;
        if (sp->type == CANON_JOIN_SEMI || sp->type == CANON_JOIN_ANTI) break;
        matched[j] = true;
        rc = jn_add(out, i, j);
      }
    }
    if (rc) break;
    switch (sp->type) {
    case CANON_JOIN_SEMI:
      if (found) rc = jn_add(out, i, -1);
      break;
    case CANON_JOIN_ANTI:
    case CANON_JOIN_LEFT:
    case CANON_JOIN_FULL:
      if (!found) rc = jn_add(out, i, -1);
      break;
    default: break;
    }
  }
  if (rc == 0 && (sp->type == CANON_JOIN_RIGHT || sp->type == CANON_JOIN_FULL))
    for (int64_t j = 0; j < nR && rc == 0; j++)
      if (!matched[j]) rc = jn_add(out, -1, j);
done:
  free(head);
  free(next);
  free(rh);
  free(lh);
  free(matched);
  return rc;
}

canon_table *canon__join(const canon_table *L, const canon_table *R, const canon__join_spec *sp,
                         canon_error *err) {
  jn_pairs p = {0};
  canon__column **cols = NULL;
  canon_table *out = NULL;
  int nout = sp->out->n, rc = 0;
  if (sp->type == CANON_JOIN_CROSS) {
    for (int64_t i = 0; i < L->nrows && rc == 0; i++)
      for (int64_t j = 0; j < R->nrows && rc == 0; j++) rc = jn_add(&p, i, j);
  } else {
    rc = jn_match(L, R, sp, &p);
  }
  if (rc) goto oom;
  if (!(cols = canon__calloc((size_t)(nout ? nout : 1), sizeof *cols))) goto oom;
  for (int c = 0; c < nout; c++) {
    const canon__column *lc = sp->out_left[c] >= 0 ? L->cols[sp->out_left[c]] : NULL;
    const canon__column *rcol = sp->out_right[c] >= 0 ? R->cols[sp->out_right[c]] : NULL;
    if (!lc && !rcol) {
      canon__seterr(err, CANON_ERR_INTERNAL, "join output column %d has no source", c);
      goto done;
    }
    if (!(cols[c] = jn_gather(lc, p.l, rcol, p.r, p.n))) goto oom;
  }
  out = canon__table_make(sp->out, cols, p.n, err);
  goto done;
oom:
  canon__nomem(err);
done:
  for (int c = 0; cols && c < nout; c++) canon__column_unref(cols[c]);
  free(cols);
  free(p.l);
  free(p.r);
  return out;
}
