/* join.c — the join kernel: one partition's hash join (SEMANTICS §6).
 *
 * The right side is the build side: its rows are grouped per hash slot,
 * each slot's run in row order.  Left rows probe in order, so the output of
 * inner and left joins is (left row, right row) pairs in input order; right
 * and full joins then append the right rows nothing matched.  Keys are
 * compared by §3 equality (NaN = NaN, -0.0 = 0.0); a row with a NULL key
 * is never built or probed unless nulls_equal, which is what makes such
 * rows unmatched — and kept by anti, left, right and full joins.  The
 * output columns are gathered column by column from the (left row, right
 * row) index pairs, or shared where every left row comes once and in
 * order.  A big build side is joined piece by piece (the end of the
 * file). */
#include "kernels.h"

/* Matched (left, right) row pairs; -1 stands for "no row" (NULLs). */
typedef struct jn_pairs {
  int64_t *l, *r;
  int64_t n, cap;
} jn_pairs;

/* Room for at least `want` pairs (doubling). */
static int jn_reserve(jn_pairs *p, int64_t want) {
  if (want <= p->cap) return 0;
  int64_t nc = p->cap ? p->cap : 1024;
  while (nc < want) nc *= 2;
  int64_t *nl = canon__reallocarray(p->l, (size_t)nc, sizeof *nl);
  if (!nl) return CANON_ERR_NOMEM;
  p->l = nl;
  int64_t *nr = canon__reallocarray(p->r, (size_t)nc, sizeof *nr);
  if (!nr) return CANON_ERR_NOMEM;
  p->r = nr;
  p->cap = nc;
  return 0;
}

static inline int jn_add(jn_pairs *p, int64_t l, int64_t r) {
  if (p->n == p->cap) {
    int rc = jn_reserve(p, p->n + 1);
    if (rc) return rc;
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

/* Does any key column of t have NULLs? */
static bool jn_has_nulls(const canon_table *t, const int *cols, int n) {
  for (int k = 0; k < n; k++)
    if (t->cols[cols[k]]->validity) return true;
  return false;
}

/* §3 equality of value i of a and value j of b (same type), as
 * canon__key_equal, with strings compared inline. */
static inline bool jn_value_equal(const canon__column *a, int64_t i, const canon__column *b,
                                  int64_t j) {
  if (a->type != CANON_STRING) return canon__key_equal(a, i, b, j);
  bool va = canon__valid(a, i), vb = canon__valid(b, j);
  if (!va || !vb) return va == vb;
  const int64_t *oa = (const int64_t *)a->values->data, *ob = (const int64_t *)b->values->data;
  int64_t la = oa[i + 1] - oa[i];
  if (la != ob[j + 1] - ob[j]) return false;
  return memcmp(a->strdata->data + oa[i], b->strdata->data + ob[j], (size_t)la) == 0;
}

static bool jn_keys_equal(const canon_table *L, int64_t i, const canon_table *R, int64_t j,
                          const canon__join_spec *sp) {
  for (int k = 0; k < sp->nkeys; k++)
    if (!jn_value_equal(L->cols[sp->lkeys[k]], i, R->cols[sp->rkeys[k]], j)) return false;
  return true;
}

/* Value idx[i] of c for each i (-1: NULL), or for a merged key the left
 * value and, where there is no left row, the right one.  l_neg / r_neg:
 * li / ri may hold -1. */
static canon__column *jn_gather(const canon__column *lc, const int64_t *li, bool l_neg,
                                const canon__column *rc, const int64_t *ri, bool r_neg,
                                int64_t n) {
  if (!lc) return canon__column_take(rc, ri, n, r_neg);
  if (!rc || !l_neg) return canon__column_take(lc, li, n, l_neg);
  /* A merged key of a right or full join: value by value. */
  canon__colbuilder b;
  if (canon__cb_init(&b, lc->type, n) != 0) return NULL;
  for (int64_t i = 0; i < n; i++) {
    int rc_ = 0;
    if (li[i] >= 0)
      rc_ = canon__cb_from(&b, lc, li[i]);
    else if (ri[i] >= 0)
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

/* One build row: its hash and row number. */
typedef struct jn_entry {
  uint64_t hash;
  int64_t row;
} jn_entry;

/* The pairs of an equi-join (every type but cross).
 *
 * The build rows are laid out by hash slot (a counting sort on the slot):
 * slot s holds ent[bound[s] .. bound[s+1]), in row order, so a probe reads
 * one bound pair and one run of entries.  One key of a fixed-width type
 * needs no key comparison: its row hash is a bijection of the canonical
 * value (see hashing.c), so equal hashes are equal keys, up to NULL, whose
 * constant may equal a value's bits (then validity is compared). */
static int jn_match(const canon_table *L, const canon_table *R, const canon__join_spec *sp,
                    jn_pairs *out) {
  /* Row hashes are taken a block at a time (into hb), each block before
   * the rows that need it: no hash array as long as a side. */
  enum { HB = 4096, AHEAD = 16 };
  int64_t nL = L->nrows, nR = R->nrows;
  int bits = 4;
  while (bits < 62 && ((int64_t)1 << bits) < nR) bits++;
  int shift = 64 - bits;
  size_t nslots = (size_t)1 << bits;
  int64_t *bound = canon__calloc(nslots + 1, sizeof *bound);
  jn_entry *ent = canon__reallocarray(NULL, nR ? (size_t)nR : 1, sizeof *ent);
  uint64_t *hb = canon__reallocarray(NULL, HB + AHEAD, sizeof *hb);
  bool *matched = NULL;
  bool track = sp->type == CANON_JOIN_RIGHT || sp->type == CANON_JOIN_FULL;
  bool first_only = sp->type == CANON_JOIN_SEMI || sp->type == CANON_JOIN_ANTI;
  int rc = 0;
  if (track) matched = canon__calloc(nR ? (size_t)nR : 1, sizeof *matched);
  if (!bound || !ent || !hb || (track && !matched)) {
    rc = CANON_ERR_NOMEM;
    goto done;
  }
  bool rnulls = !sp->nulls_equal && jn_has_nulls(R, sp->rkeys, sp->nkeys);
  bool lnulls = !sp->nulls_equal && jn_has_nulls(L, sp->lkeys, sp->nkeys);
  bool hash_decides =
      sp->nkeys == 1 && R->cols[sp->rkeys[0]]->type != CANON_STRING;
  /* With NULLs equal, a NULL's hash may equal a value's: compare validity. */
  const canon__column *lv = NULL, *rv = NULL;
  if (hash_decides && sp->nulls_equal && (L->cols[sp->lkeys[0]]->validity ||
                                          R->cols[sp->rkeys[0]]->validity)) {
    lv = L->cols[sp->lkeys[0]];
    rv = R->cols[sp->rkeys[0]];
  }

  /* Slots by the hash's high bits: the rows of one hash-exchange bucket
   * share the hash modulo the bucket count.  bound[s + 1] counts slot s,
   * then (prefix sums) starts it, then (as the fill cursor) ends it.  Each
   * pass hashes R's rows again, a block at a time. */
  int64_t *cur = bound + 1;
  for (int64_t b0 = 0; b0 < nR; b0 += HB) {
    int64_t b1 = nR - b0 < HB ? nR : b0 + HB;
    canon__hash_rows_range(R, sp->rkeys, sp->nkeys, b0, b1, hb);
    for (int64_t j = b0; j < b1; j++) {
      if (j + 32 < b1) __builtin_prefetch(&cur[hb[j + 32 - b0] >> shift], 1);
      if (rnulls && jn_null_key(R, sp->rkeys, sp->nkeys, j)) continue;
      cur[hb[j - b0] >> shift]++;
    }
  }
  int64_t sum = 0;
  for (size_t s = 0; s < nslots; s++) {
    int64_t c = cur[s];
    cur[s] = sum;
    sum += c;
  }
  for (int64_t b0 = 0; b0 < nR; b0 += HB) {
    int64_t b1 = nR - b0 < HB ? nR : b0 + HB;
    canon__hash_rows_range(R, sp->rkeys, sp->nkeys, b0, b1, hb);
    for (int64_t j = b0; j < b1; j++) {
      const uint64_t *h = hb - b0;
      if (j + 32 < b1) __builtin_prefetch(&cur[h[j + 32] >> shift], 1);
      if (j + 16 < b1) __builtin_prefetch(&ent[cur[h[j + 16] >> shift]], 1);
      if (rnulls && jn_null_key(R, sp->rkeys, sp->nkeys, j)) continue;
      int64_t e = cur[h[j] >> shift]++;
      ent[e].hash = h[j];
      ent[e].row = j;
    }
  }

  /* Probe: the hashes of rows [b0, b1) and of the AHEAD rows after them
   * (for the fetches ahead) are in hb. */
  for (int64_t b0 = 0; b0 < nL && rc == 0; b0 += HB) {
    int64_t b1 = nL - b0 < HB ? nL : b0 + HB;
    int64_t bx = nL - b1 < AHEAD ? nL : b1 + AHEAD;
    canon__hash_rows_range(L, sp->lkeys, sp->nkeys, b0, bx, hb);
    const uint64_t *lh = hb - b0;
    for (int64_t i = b0; i < b1 && rc == 0; i++) {
      /* Fetch the bounds of a later row's slot, then the entries of a
       * nearer one's (the bounds of which are in cache by now). */
      if (i + 16 < bx) __builtin_prefetch(&bound[lh[i + 16] >> shift]);
      if (i + 8 < bx) __builtin_prefetch(&ent[bound[lh[i + 8] >> shift]]);
      bool found = false;
      if (!lnulls || !jn_null_key(L, sp->lkeys, sp->nkeys, i)) {
        uint64_t h = lh[i];
        size_t s = (size_t)(h >> shift);
        for (int64_t e = bound[s], end = bound[s + 1]; e < end; e++) {
          if (ent[e].hash != h) continue;
          int64_t j = ent[e].row;
          if (hash_decides ? (lv && canon__valid(lv, i) != canon__valid(rv, j))
                           : !jn_keys_equal(L, i, R, j, sp))
            continue;
          found = true;
          if (first_only) break;
          if (track) matched[j] = true;
          if ((rc = jn_add(out, i, j)) != 0) break;
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
  }
  if (rc == 0 && track)
    for (int64_t j = 0; j < nR && rc == 0; j++)
      if (!matched[j]) rc = jn_add(out, -1, j);
done:
  free(bound);
  free(ent);
  free(hb);
  free(matched);
  return rc;
}

/* The join of L and R as one hash table and one set of pairs. */
static canon_table *jn_join_whole(const canon_table *L, const canon_table *R,
                                  const canon__join_spec *sp, canon_error *err) {
  jn_pairs p = {0};
  canon__column **cols = NULL;
  canon_table *out = NULL;
  int nout = sp->out->n, rc = 0;
  /* Most joins emit about one pair per left row: reserve that up front
   * (pages never written are never touched). */
  if (jn_reserve(&p, L->nrows + 1) != 0) goto oom;

  if (sp->type == CANON_JOIN_CROSS) {
    for (int64_t i = 0; i < L->nrows && rc == 0; i++)
      for (int64_t j = 0; j < R->nrows && rc == 0; j++) rc = jn_add(&p, i, j);
  } else {
    rc = jn_match(L, R, sp, &p);
  }
  if (rc) goto oom;
  /* Which sides have "no row" entries (only right and full joins lack
   * left rows; cross, inner and right joins always have right ones). */
  bool l_neg = sp->type == CANON_JOIN_RIGHT || sp->type == CANON_JOIN_FULL;
  bool r_neg = sp->type != CANON_JOIN_CROSS && sp->type != CANON_JOIN_INNER &&
               sp->type != CANON_JOIN_RIGHT;
  /* Every left row once and in order (a left join on unique build keys,
   * an inner join every row of which matched): the left columns are the
   * output's as they are, shared instead of gathered. */
  bool l_same = !l_neg && p.n == L->nrows;
  for (int64_t i = 0; l_same && i < p.n; i++) l_same = p.l[i] == i;
  if (!(cols = canon__calloc((size_t)(nout ? nout : 1), sizeof *cols))) goto oom;
  for (int c = 0; c < nout; c++) {
    canon__column *lc = sp->out_left[c] >= 0 ? L->cols[sp->out_left[c]] : NULL;
    const canon__column *rcol = sp->out_right[c] >= 0 ? R->cols[sp->out_right[c]] : NULL;
    if (!lc && !rcol) {
      canon__seterr(err, CANON_ERR_INTERNAL, "join output column %d has no source", c);
      goto done;
    }
    if (lc && l_same)
      cols[c] = canon__column_ref(lc);
    else if (!(cols[c] = jn_gather(lc, p.l, l_neg, rcol, p.r, r_neg, p.n)))
      goto oom;
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

/* ---- a big build side: the join piece by piece ---------------------------
 * Probing a hash table of millions of rows and gathering the output's
 * right-hand values from millions of rows are a cache (and TLB) miss per
 * row.  So from canon__join_split_min_rows build rows on, both sides are
 * split by key hash (canon__split_hash) into pieces of about
 * canon__join_split_piece_rows build rows, each piece is joined as above
 * with its tables in cache, and the pieces' outputs are concatenated.
 * Rows with equal keys (NULL keys too: one hash) land in the same piece, so
 * every pair, every unmatched left row and every semi / anti verdict is the
 * whole join's; only the order of the rows changes, piece by piece (it is
 * unspecified, §6, and still determined by the input).  Right and full
 * joins, whose unmatched right rows come last, are not split.  The engines
 * that partition a join themselves give the kernel pieces below the
 * threshold; this is for one partition holding a whole big side. */

enum { JN_MAX_PIECES = 256 };

/* 2^17 build rows to a piece: measured at 1e7 rows a side, 2^16 and 2^18
 * did about as well, 2^15 and 2^19 worse. */
int64_t canon__join_split_min_rows = (int64_t)1 << 21;
int64_t canon__join_split_piece_rows = (int64_t)1 << 17;

static canon_table *jn_join_split(const canon_table *L, const canon_table *R,
                                  const canon__join_spec *sp, int n, canon_error *err) {
  canon_table **lp = canon__calloc((size_t)n, sizeof *lp);
  canon_table **rp = canon__calloc((size_t)n, sizeof *rp);
  canon_table **op = canon__calloc((size_t)n, sizeof *op);
  canon_table *out = NULL;
  if (!lp || !rp || !op) {
    canon__nomem(err);
    goto done;
  }
  /* By the hash's high half: an exchange partition's rows all have one
   * value of the low bits canon__split_hash uses. */
  if (canon__split_hash_high(R, sp->rkeys, sp->nkeys, n, rp, err) != 0 ||
      canon__split_hash_high(L, sp->lkeys, sp->nkeys, n, lp, err) != 0)
    goto done;
  for (int k = 0; k < n; k++) {
    if (!(op[k] = jn_join_whole(lp[k], rp[k], sp, err))) goto done;
    /* The pieces of the inputs are no longer needed. */
    canon_table_free(lp[k]);
    canon_table_free(rp[k]);
    lp[k] = rp[k] = NULL;
  }
  out = canon__table_concat(op, n, err);
done:
  for (int k = 0; k < n; k++) {
    if (lp) canon_table_free(lp[k]);
    if (rp) canon_table_free(rp[k]);
    if (op) canon_table_free(op[k]);
  }
  free(lp);
  free(rp);
  free(op);
  return out;
}

canon_table *canon__join(const canon_table *L, const canon_table *R, const canon__join_spec *sp,
                         canon_error *err) {
  /* Right and full joins keep their unmatched right rows last. */
  bool splits = sp->type == CANON_JOIN_INNER || sp->type == CANON_JOIN_LEFT ||
                sp->type == CANON_JOIN_SEMI || sp->type == CANON_JOIN_ANTI;
  if (splits && sp->nkeys > 0 && R->nrows >= canon__join_split_min_rows && R->nrows > 1) {
    int n = 2;
    while (n < JN_MAX_PIECES && (int64_t)n * canon__join_split_piece_rows < R->nrows) n *= 2;
    return jn_join_split(L, R, sp, n, err);
  }
  return jn_join_whole(L, R, sp, err);
}
