/* aggregate.c — hash aggregation in two phases (SEMANTICS §5).
 *
 * canon__agg_partial reduces one partition to one row per group: the key
 * values, then one string column "__state<i>" per aggregate holding its
 * partial state as bytes (a large partition with few groups is reduced a
 * chunk of rows at a time, one row per group of each chunk; see
 * ag_partial_chunked).  canon__agg_final takes the partial rows of every
 * partition (concatenated, in any order), groups them by key again, merges
 * the states and finishes them.  Every state merges exactly (counts, 128-bit
 * integer sums, superaccumulators, min/max under the total order), so the
 * answer does not depend on how rows were split or ordered.
 *
 * State layouts (little-endian, readable by any process on any machine):
 *   count, count(*)      i64 count, or compact: u8 count (below 256)
 *   sum of int64         i128 sum (two's complement), i64 non-NULL count
 *   sum/mean (xsum)      i64 non-NULL count, then canon__xsum_serialize bytes
 *                        (at least 11 bytes); or compact: u8 0 (no values),
 *                        or u8 1 then the one value's 8 bytes (float64 IEEE
 *                        bits or int64, as the argument's type says)
 *   min, max             u8 has_value, then when set the value: bool u8,
 *                        date i32, int64/timestamp i64, float64 IEEE bits
 *                        (u64), string its bytes (the rest of the state)
 *
 * Float sums and means first try fixed point (agg_sum.c): when every value
 * of the run (partial) or every state (final) fits a 128-bit integer at a
 * common scale, each group is one 128-bit integer, and the state is written
 * from it.  Otherwise superaccumulators (~600 bytes) are used; with many
 * groups an array of them would be large and cache-hostile, so above
 * AG_XSUM_ARRAY_MAX groups the rows are put in group order first (a stable
 * counting sort) and each group is summed with one accumulator on the
 * stack.  int64 arguments are summed exactly in 128 bits per group and
 * added to the accumulator once.
 *
 * A group whose partition holds one value (the common case with very many
 * small groups) gets the compact state, and a group whose final input is
 * one such state is answered directly: the exact sum of one double is that
 * double (canonical: -0.0 becomes 0.0, NaN one NaN), and so is its mean.
 * When no group has two states, the final step needs no group-order index.
 * Key columns of both steps are gathered whole (float keys of the final
 * step value by value, to canonicalize them).
 *
 * Sections: specs; partial.  The final step lives in agg_final.c, sum and
 * mean in agg_sum.c; what the files share is in agg_internal.h.
 */
#include "agg_internal.h"
#include "agg_ext.h"

#include <math.h>
#include <stdio.h>

/* ---- specs ------------------------------------------------------------- */

static int ag_spec_init(const canon_expr *e, int i, ag_spec *s, canon_error *err) {
  memset(s, 0, sizeof *s);
  s->e = e;
  if (!e || e->kind != CANON__E_AGG)
    return canon__seterr(err, CANON_ERR_INVALID, "aggregate output %d is not an aggregate call", i);
  s->has_arg = e->fn != CANON__A_COUNT_STAR;
  if (s->has_arg && (e->nargs < 1 || !e->args[0]))
    return canon__seterr(err, CANON_ERR_INVALID, "aggregate output %d has no argument", i);
  s->in_type = s->has_arg ? e->args[0]->type : CANON_INT64;
  s->out_type = e->type;
  bool numeric = s->in_type == CANON_INT64 || s->in_type == CANON_FLOAT64;
  switch (e->fn) {
  case CANON__A_COUNT_STAR:
  case CANON__A_COUNT: s->kind = AG_COUNT; return 0;
  case CANON__A_SUM:
    if (!numeric) break;
    s->kind = s->in_type == CANON_INT64 ? AG_SUM_I64 : AG_XSUM;
    return 0;
  case CANON__A_MEAN:
    if (!numeric) break;
    s->kind = AG_XSUM;
    s->is_mean = true;
    return 0;
  case CANON__A_MIN:
  case CANON__A_MAX:
    if (s->in_type <= CANON_TYPE_INVALID || s->in_type >= CANON_TYPE__COUNT) break;
    s->kind = AG_MINMAX;
    s->is_max = e->fn == CANON__A_MAX;
    return 0;
  default:
    if (canon__aggx_handles(e->fn)) {
      s->kind = AG_EXT;
      return 0;
    }
    break;
  }
  char *txt = canon_expr_to_string(e);
  canon__seterr(err, CANON_ERR_TYPE, "unsupported aggregate %s", txt ? txt : "call");
  free(txt);
  return CANON_ERR_TYPE;
}

int canon__ag_specs(canon_expr *const *aggs, int naggs, ag_spec **out, canon_error *err) {
  *out = canon__calloc(naggs ? (size_t)naggs : 1, sizeof **out);
  if (!*out) return canon__nomem(err);
  for (int i = 0; i < naggs; i++) {
    int rc = ag_spec_init(aggs[i], i, &(*out)[i], err);
    if (rc) return rc;
  }
  return 0;
}

/* ---- partial ------------------------------------------------------------ */

/* Serialize value i of c (non-NULL) as a min/max value. */
static int ag_mm_put(canon__colbuilder *out, const canon__column *c, int64_t i) {
  uint8_t buf[9];
  buf[0] = 1;
  size_t len = 1;
  switch (c->type) {
  case CANON_BOOL: buf[len++] = canon__u8(c)[i] != 0; break;
  case CANON_DATE: {
    uint32_t v = (uint32_t)canon__i32(c)[i];
    for (int k = 0; k < 4; k++) buf[len++] = (uint8_t)(v >> (8 * k));
    break;
  }
  case CANON_FLOAT64: {
    uint64_t b;
    memcpy(&b, &canon__f64(c)[i], 8);
    ag_put64(buf + 1, b);
    len = 9;
    break;
  }
  case CANON_STRING: {
    size_t sl;
    const char *s = canon__str(c, i, &sl);
    /* has_value byte then the bytes: append in one piece. */
    char *tmp = canon__malloc(sl + 1);
    if (!tmp) return CANON_ERR_NOMEM;
    tmp[0] = 1;
    if (sl) memcpy(tmp + 1, s, sl);
    int rc = canon__cb_str(out, tmp, sl + 1);
    free(tmp);
    return rc;
  }
  default: /* int64, timestamp */
    ag_put64(buf + 1, (uint64_t)canon__i64(c)[i]);
    len = 9;
    break;
  }
  return canon__cb_str(out, (const char *)buf, len);
}

/* The min/max loop for 8-byte numbers: each group's best value so far is
 * kept next to its row (best[g], -1 while none), so a row is compared with
 * a value in a dense array instead of with a row anywhere in the column
 * (a cache miss per row once the column outgrows the cache).  Strictly
 * better only, with the column's own order: the same rows win as in the
 * general loop. */
static int ag_minmax_cached(ag_run *r, const canon__column *c, bool is_max, int64_t *best) {
  size_t ng = r->ngroups ? (size_t)r->ngroups : 1;
  uint64_t *bv = canon__reallocarray(NULL, ng, sizeof *bv);
  if (!bv) return CANON_ERR_NOMEM;
  bool f64 = c->type == CANON_FLOAT64;
  const uint64_t *v = (const uint64_t *)c->values->data;
  for (int64_t i = 0; i < r->n; i++) {
    int64_t g = AG_GID(r, i);
    if (g < 0 || !canon__valid(c, i)) continue;
    if (best[g] < 0) {
      best[g] = i;
      bv[g] = v[i];
      continue;
    }
    int cmp;
    if (f64) {
      double x, y;
      memcpy(&x, &v[i], 8);
      memcpy(&y, &bv[g], 8);
      cmp = canon__cmp_f64(x, y);
    } else {
      int64_t x = (int64_t)v[i], y = (int64_t)bv[g];
      cmp = (x > y) - (x < y);
    }
    if (is_max ? cmp > 0 : cmp < 0) {
      best[g] = i;
      bv[g] = v[i];
    }
  }
  free(bv);
  return 0;
}

/* Partial states of aggregate s over argument column c into out. */
static int ag_partial_one(ag_run *r, const ag_spec *s, int idx, const canon__column *c,
                          canon__colbuilder *out, canon_error *err) {
  size_t ng = r->ngroups ? (size_t)r->ngroups : 1;
  int rc = 0;
  switch (s->kind) {
  case AG_COUNT: {
    int64_t *cnt = canon__calloc(ng, sizeof *cnt);
    if (!cnt) return CANON_ERR_NOMEM;
    for (int64_t i = 0; i < r->n; i++) {
      int64_t g = AG_GID(r, i);
      if (g >= 0 && (!c || canon__valid(c, i))) cnt[g]++;
    }
    uint8_t buf[8];
    for (int64_t g = 0; g < r->ngroups && !rc; g++) {
      ag_put64(buf, (uint64_t)cnt[g]);
      rc = canon__cb_str(out, (const char *)buf, cnt[g] < 256 ? 1 : 8);
    }
    free(cnt);
    return rc;
  }
  case AG_SUM_I64: {
    ag_u128 *sum = canon__calloc(ng, sizeof *sum);
    int64_t *cnt = canon__calloc(ng, sizeof *cnt);
    if (!sum || !cnt) rc = CANON_ERR_NOMEM;
    else canon__ag_i64_sums(r, c, sum, cnt);
    uint8_t buf[24];
    for (int64_t g = 0; g < r->ngroups && !rc; g++) {
      ag_put64(buf, (uint64_t)sum[g]);
      ag_put64(buf + 8, (uint64_t)(sum[g] >> 64));
      ag_put64(buf + 16, (uint64_t)cnt[g]);
      rc = canon__cb_str(out, (const char *)buf, 24);
    }
    free(sum);
    free(cnt);
    return rc;
  }
  case AG_XSUM: {
    ag_xs_job j = {.spec = s, .col = c, .final = false, .out = out, .state_index = idx, .err = err};
    return canon__ag_xs_run(r, &j);
  }
  case AG_MINMAX: {
    int64_t *best = canon__reallocarray(NULL, ng, sizeof *best);
    if (!best) return CANON_ERR_NOMEM;
    for (size_t g = 0; g < ng; g++) best[g] = -1;
    if (c->type == CANON_INT64 || c->type == CANON_TIMESTAMP || c->type == CANON_FLOAT64) {
      rc = ag_minmax_cached(r, c, s->is_max, best);
      goto minmax_out;
    }
    for (int64_t i = 0; i < r->n; i++) {
      int64_t g = AG_GID(r, i);
      if (g < 0 || !canon__valid(c, i)) continue;
      /* Strictly better only: the first of equal values stays (equal
       * values differ at most as -0.0/0.0 or NaN payloads, both
       * canonicalized at the end). */
      if (best[g] < 0) {
        best[g] = i;
      } else {
        int cmp = canon__cmp_values(c, i, c, best[g]);
        if (s->is_max ? cmp > 0 : cmp < 0) best[g] = i;
      }
    }
  minmax_out:
    for (int64_t g = 0; g < r->ngroups && !rc; g++)
      rc = best[g] < 0 ? canon__cb_str(out, "\0", 1) : ag_mm_put(out, c, best[g]);
    free(best);
    return rc;
  }
  case AG_EXT: break; /* canon__aggx_partial, called by canon__agg_partial */
  }
  return canon__seterr(err, CANON_ERR_INTERNAL, "unknown aggregate state kind");
}


/* Allocate the arrays (once). */
static int ag_out_prepare(ag_out *o, int ncols) {
  if (o->cb) return 0;
  o->ncols = ncols;
  o->ninit = 0;
  o->cb = canon__calloc(ncols ? (size_t)ncols : 1, sizeof *o->cb);
  o->pre = canon__calloc(ncols ? (size_t)ncols : 1, sizeof *o->pre);
  return o->cb && o->pre ? 0 : CANON_ERR_NOMEM;
}

int canon__ag_out_init(ag_out *o, const canon_type *types, int ncols, int64_t rows) {
  if (ag_out_prepare(o, ncols)) return CANON_ERR_NOMEM;
  for (int k = 0; k < ncols; k++) {
    /* A gathered column needs no builder storage. */
    if (canon__cb_init(&o->cb[k], types[k], o->pre[k] ? 0 : rows) != 0) return CANON_ERR_NOMEM;
    o->ninit++;
  }
  return 0;
}

void canon__ag_out_reset(ag_out *o) {
  for (int k = 0; k < o->ninit; k++) canon__cb_reset(&o->cb[k]);
  if (o->pre)
    for (int k = 0; k < o->ncols; k++) canon__column_unref(o->pre[k]);
  free(o->cb);
  free(o->pre);
  o->cb = NULL;
  o->pre = NULL;
  o->ninit = 0;
}

/* Set o->pre[k] (before canon__ag_out_init sets up the builders) to rows
 * first[0..ng) of column cols[k] of t, for each k < nkeys with take[k]: one
 * gather per column instead of one append per value. */
int canon__ag_out_take_keys(ag_out *o, int ncols, const canon_table *t, const int *cols,
                            int nkeys, const bool *take, const int64_t *first, int64_t ng,
                            canon_error *err) {
  if (ag_out_prepare(o, ncols)) return canon__nomem(err);
  canon_schema *ks = canon_schema_new();
  canon__column **kc = canon__calloc(nkeys ? (size_t)nkeys : 1, sizeof *kc);
  canon_table *kt = NULL, *taken = NULL;
  int rc = 0, m = 0;
  int *at = canon__calloc(nkeys ? (size_t)nkeys : 1, sizeof *at);
  if (!ks || !kc || !at) goto oom;
  for (int k = 0; k < nkeys; k++) {
    if (!take[k]) continue;
    char name[32];
    snprintf(name, sizeof name, "k%d", k);
    if ((rc = canon_schema_add(ks, name, t->schema->types[cols[k]], err)) != 0) goto done;
    kc[m] = canon__column_ref(t->cols[cols[k]]);
    at[m++] = k;
  }
  if (!m) goto done;
  kt = canon__table_make(ks, kc, t->nrows, err); /* moves (or drops) kc's references */
  if (!kt) {
    rc = err && err->code ? err->code : CANON_ERR_NOMEM;
    goto done;
  }
  /* Every row its own group: first rows ascend (order of first
   * appearance), so they are 0..n-1 and the key columns serve as they are. */
  taken = ng == t->nrows ? canon__table_share(kt, err) : canon__table_take(kt, first, ng, err);
  if (!taken) {
    rc = err && err->code ? err->code : CANON_ERR_NOMEM;
    goto done;
  }
  for (int j = 0; j < ks->n; j++) o->pre[at[j]] = canon__column_ref(taken->cols[j]);
  goto done;
oom:
  rc = canon__nomem(err);
done:
  for (int j = 0; j < m; j++) canon__column_unref(kc[j]);
  canon_table_free(taken);
  canon_table_free(kt);
  canon_schema_free(ks);
  free(kc);
  free(at);
  return rc;
}

/* Finish the builders into a table with schema s. */
canon_table *canon__ag_out_finish(ag_out *o, const canon_schema *s, int64_t rows,
                                  canon_error *err) {
  canon__column **cols = canon__calloc(o->ncols ? (size_t)o->ncols : 1, sizeof *cols);
  if (!cols) {
    canon__nomem(err);
    return NULL;
  }
  for (int k = 0; k < o->ncols; k++) {
    if (o->pre[k]) {
      cols[k] = o->pre[k];
      o->pre[k] = NULL;
      continue;
    }
    cols[k] = canon__cb_finish(&o->cb[k]);
    if (!cols[k]) {
      for (int m = 0; m < k; m++) canon__column_unref(cols[m]);
      free(cols);
      canon__nomem(err);
      return NULL;
    }
  }
  canon_table *t = canon__table_make(s, cols, rows, err);
  free(cols);
  return t;
}

/* Group the rows of t by columns cols[0..nkeys) (no keys: one group). */
/* Rows the partial step groups first to judge whether grouping pays. */
#define AG_SAMPLE 16384

/* Distinct keys D a uniform draw of n rows showing d distinct keys comes
 * from: the D with D (1 - e^(-n/D)) = d, by bisection (the left side grows
 * with D).  Infinite when every key in the draw was new. */
static double ag_estimate_keys(double n, double d) {
  if (d >= n) return INFINITY;
  double lo = d, hi = d;
  while (hi * (1 - exp(-n / hi)) < d && hi < 1e300) hi *= 2;
  for (int i = 0; i < 100; i++) {
    double mid = 0.5 * (lo + hi);
    if (mid * (1 - exp(-n / mid)) < d) lo = mid;
    else hi = mid;
  }
  return hi;
}

/* Groups expected among all of t's rows, from the keys of its first
 * AG_SAMPLE rows (as if keys were drawn uniformly): t's row count when
 * nearly every sampled key was new.  A wrong guess costs time, never a
 * different answer.  Only asked of partitions with at least 4 * AG_SAMPLE
 * rows. */
static int ag_expect_groups(const canon_table *t, const int *cols, int nkeys,
                            bool drop_null_keys, double *groups, double *keys,
                            canon_error *err) {
  *groups = *keys = (double)t->nrows;
  canon_table *head = canon__table_slice(t, 0, AG_SAMPLE, err);
  int64_t *g = canon__reallocarray(NULL, AG_SAMPLE, sizeof *g), *f = NULL, n = 0;
  int rc = head && g ? canon__group_rows(head, cols, nkeys, drop_null_keys, g, &n, &f, err)
                     : canon__nomem(err);
  if (rc == 0) {
    double k = ag_estimate_keys(AG_SAMPLE, (double)n), rows = (double)t->nrows;
    *groups = isinf(k) ? rows : k * (1 - exp(-rows / k));
    *keys = isinf(k) ? rows : k;
  }
  canon_table_free(head);
  free(g);
  free(f);
  return rc;
}

/* Group t by the key columns (one group when there are none).  `barely`
 * (partial grouping would hardly reduce t: the keys are nearly all
 * distinct): every row is made its own group instead (in input order,
 * NULL-key rows still dropped when asked): the final step merges the
 * states of equal keys wherever they come from, so the answer is the
 * same, and one hash pass over the keys is saved. */
int canon__ag_group(const canon_table *t, const int *cols, int nkeys, bool drop_null_keys,
                    bool barely, ag_run *r, int64_t **gid, int64_t **first,
                    canon_error *err) {
  memset(r, 0, sizeof *r);
  r->n = t->nrows;
  *gid = NULL;
  *first = NULL;
  if (nkeys == 0) {
    r->ngroups = 1;
    return 0;
  }
  *gid = canon__reallocarray(NULL, r->n ? (size_t)r->n : 1, sizeof **gid);
  if (!*gid) return canon__nomem(err);
  r->gid = *gid;
  if (!barely)
    return canon__group_rows(t, cols, nkeys, drop_null_keys, *gid, &r->ngroups, first, err);
  *first = canon__reallocarray(NULL, (size_t)r->n, sizeof **first);
  if (!*first) return canon__nomem(err);
  int64_t ng = 0;
  for (int64_t i = 0; i < r->n; i++) {
    bool drop = false;
    for (int k = 0; drop_null_keys && k < nkeys && !drop; k++)
      drop = !canon__valid(t->cols[cols[k]], i);
    (*gid)[i] = drop ? -1 : ng;
    if (!drop) (*first)[ng++] = i;
  }
  r->ngroups = ng;
  return 0;
}

/* Append the partial states of t's rows, grouped as r says, to the state
 * builders out->cb[nkeys ..]. */
static int ag_partial_states(const canon_table *t, int nkeys, canon_expr *const *aggs, int naggs,
                             const ag_spec *specs, ag_run *r, ag_out *out, canon_error *err) {
  canon__column *arg = NULL;
  int rc = 0;
  for (int i = 0; i < naggs && !rc; i++) {
    if (specs[i].kind == AG_EXT) {
      /* These evaluate their own arguments (corr has two). */
      rc = canon__aggx_partial(aggs[i], t, r->gid, r->ngroups, &out->cb[nkeys + i], err);
      continue;
    }
    if (specs[i].has_arg) {
      arg = canon__expr_eval(aggs[i]->args[0], t, err);
      if (!arg) return err && err->code ? err->code : CANON_ERR_INTERNAL;
      if (arg->type != specs[i].in_type || arg->length != t->nrows) {
        canon__column_unref(arg);
        return canon__seterr(err, CANON_ERR_INTERNAL, "aggregate argument %d evaluated wrongly", i);
      }
    }
    rc = ag_partial_one(r, &specs[i], i, arg, &out->cb[nkeys + i], err);
    canon__column_unref(arg);
    arg = NULL;
  }
  return rc;
}

/* Chunked partial aggregation.  A large partition with few groups is
 * aggregated a chunk of rows at a time: the chunk's group ids (and any
 * per-row arrays an aggregate builds) stay in cache and are written into
 * the same memory for every chunk, instead of arrays as long as the
 * partition that are fresh pages each time.  Every chunk appends its own
 * partial rows (one per group of the chunk, in order of first appearance
 * within it): a key may appear once per chunk, and the final step merges
 * its states like those of different partitions.  A chunk is at least
 * AG_CHUNK_MIN rows and at least AG_CHUNK_PER_GROUP rows per expected
 * group, so the extra partial rows are few. */
#define AG_CHUNK_MIN ((int64_t)1 << 17)
#define AG_CHUNK_PER_GROUP 256

/* Rows per chunk for a partition of n rows with about `keys` distinct keys
 * (0: do not chunk). */
static int64_t ag_chunk_rows(int64_t n, double keys) {
  double want = keys * AG_CHUNK_PER_GROUP;
  if (want < (double)AG_CHUNK_MIN) want = (double)AG_CHUNK_MIN;
  if (want * 2 > (double)n) return 0;
  return (int64_t)want;
}

/* Key columns of the output: rows first[0..ng) of in's keys, gathered
 * whole (nkeys <= AG_TAKE_MAX) or appended value by value. */
static int ag_partial_keys(ag_out *out, int ncols, const canon_table *in, const int *keys,
                           int nkeys, const int64_t *first, int64_t ng, canon_error *err) {
  if (nkeys <= AG_TAKE_MAX) {
    bool take[AG_TAKE_MAX];
    for (int k = 0; k < nkeys; k++) take[k] = true;
    return canon__ag_out_take_keys(out, ncols, in, keys, nkeys, take, first, ng, err);
  }
  for (int k = 0; k < nkeys; k++)
    for (int64_t g = 0; g < ng; g++)
      if (canon__cb_from(&out->cb[k], in->cols[keys[k]], first[g]) != 0) return canon__nomem(err);
  return 0;
}

/* The chunks of in, from the first, into out (initialized); *rows: the
 * partial rows made.  Group ids of a chunk go to a buffer of `chunk` rows
 * reused by every chunk.  With `adapt`, a short last chunk joins the one
 * before, and when a chunk hardly reduces its rows (the sample misjudged
 * the keys) the rest is taken as one chunk. */
static int ag_partial_chunked(const canon_table *in, const int *keys, int nkeys,
                              canon_expr *const *aggs, int naggs, const ag_spec *specs,
                              bool drop_null_keys, int64_t chunk, bool adapt, ag_out *out,
                              int64_t *rows, canon_error *err) {
  int64_t n = in->nrows, nfirst = 0, capfirst = 0, *firsts = NULL, *f = NULL, capbuf = chunk;
  int64_t *gbuf = canon__reallocarray(NULL, (size_t)chunk, sizeof *gbuf);
  int rc = gbuf ? 0 : canon__nomem(err);
  for (int64_t start = 0; start < n && !rc;) {
    int64_t len = n - start < chunk ? n - start : chunk;
    /* No short last chunk: its partial rows would cost more than they save. */
    if (adapt && n - start - len < chunk / 2) len = n - start;
    if (len > capbuf) {
      int64_t *nb = canon__reallocarray(gbuf, (size_t)len, sizeof *nb);
      if (!nb) {
        rc = canon__nomem(err);
        break;
      }
      gbuf = nb;
      capbuf = len;
    }
    canon_table *part = canon__table_slice(in, start, len, err);
    ag_run r = {.n = len, .gid = gbuf};
    if (!part) {
      rc = err && err->code ? err->code : CANON_ERR_NOMEM;
      break;
    }
    rc = canon__group_rows(part, keys, nkeys, drop_null_keys, gbuf, &r.ngroups, &f, err);
    if (!rc && nfirst + r.ngroups > capfirst) {
      int64_t ncap = capfirst ? capfirst : 1024;
      while (ncap < nfirst + r.ngroups) ncap *= 2;
      int64_t *nf = canon__reallocarray(firsts, (size_t)ncap, sizeof *nf);
      if (!nf) rc = canon__nomem(err);
      else {
        firsts = nf;
        capfirst = ncap;
      }
    }
    if (!rc) {
      for (int64_t g = 0; g < r.ngroups; g++) firsts[nfirst++] = start + f[g];
      rc = ag_partial_states(part, nkeys, aggs, naggs, specs, &r, out, err);
    }
    if (!rc && start == 0 && len < n) {
      /* The first chunk's states tell what the others will need: reserve
       * it all now, instead of copying the state bytes at every doubling
       * of their buffers. */
      double scale = (double)n / (double)len * 1.0625;
      for (int k = nkeys; k < nkeys + naggs && !rc; k++) {
        canon__colbuilder *b = &out->cb[k];
        if (canon__buffer_reserve(b->strdata, (size_t)((double)b->strdata->size * scale)) ||
            canon__buffer_reserve(b->values, (size_t)((double)b->values->size * scale)))
          rc = canon__nomem(err);
      }
    }
    ag_csr_free(&r.csr);
    free(f);
    f = NULL;
    canon_table_free(part);
    start += len;
    if (adapt && r.ngroups * 8 > len) chunk = n - start;
  }
  if (!rc) rc = ag_partial_keys(out, nkeys + naggs, in, keys, nkeys, firsts, nfirst, err);
  *rows = nfirst;
  free(firsts);
  free(gbuf);
  return rc;
}

/* Partial aggregation of one partition, `force` rows at a time when
 * force > 0 (and there are keys), else in chunks when ag_chunk_rows says. */
static canon_table *ag_partial(const canon_table *in, const int *keys, int nkeys,
                               canon_expr *const *aggs, int naggs, bool drop_null_keys,
                               int64_t force, canon_error *err) {
  canon_table *res = NULL;
  ag_spec *specs = NULL;
  ag_run run;
  memset(&run, 0, sizeof run);
  int64_t *gid = NULL, *first = NULL;
  canon_schema *schema = NULL;
  canon_type *types = NULL;
  ag_out out = {0};
  int ncols = nkeys + naggs, rc;

  if ((rc = canon__ag_specs(aggs, naggs, &specs, err)) != 0) goto done;
  for (int k = 0; k < nkeys; k++)
    if (keys[k] < 0 || keys[k] >= in->schema->n) {
      rc = canon__seterr(err, CANON_ERR_INVALID, "aggregate key index %d out of range", keys[k]);
      goto done;
    }
  schema = canon_schema_new();
  types = canon__calloc(ncols ? (size_t)ncols : 1, sizeof *types);
  if (!schema || !types) goto oom;
  for (int k = 0; k < nkeys; k++) {
    types[k] = in->schema->types[keys[k]];
    if ((rc = canon_schema_add(schema, in->schema->names[keys[k]], types[k], err)) != 0) goto done;
  }
  for (int i = 0; i < naggs; i++) {
    char name[32];
    snprintf(name, sizeof name, "__state%d", i);
    types[nkeys + i] = CANON_STRING;
    if ((rc = canon_schema_add(schema, name, CANON_STRING, err)) != 0) goto done;
  }

  double groups = 0, nkeys_est = 0;
  int64_t chunk = nkeys && force > 0 ? force : 0;
  if (nkeys && !chunk && in->nrows >= 4 * AG_SAMPLE) {
    if ((rc = ag_expect_groups(in, keys, nkeys, drop_null_keys, &groups, &nkeys_est, err)) != 0)
      goto done;
    if (groups * 2 <= (double)in->nrows) chunk = ag_chunk_rows(in->nrows, nkeys_est);
  }
  if (chunk) {
    int64_t rows = 0;
    double nchunks = (double)in->nrows / (double)chunk;
    if (canon__ag_out_init(&out, types, ncols, (int64_t)(nkeys_est * nchunks) + 1) != 0) goto oom;
    rc = ag_partial_chunked(in, keys, nkeys, aggs, naggs, specs, drop_null_keys, chunk,
                            force <= 0, &out, &rows, err);
    if (rc == CANON_ERR_NOMEM) goto oom;
    if (rc) goto done;
    res = canon__ag_out_finish(&out, schema, rows, err);
    goto done;
  }

  if ((rc = canon__ag_group(in, keys, nkeys, drop_null_keys, groups * 2 > (double)in->nrows, &run,
                     &gid, &first, err)) != 0)
    goto done;
  if (nkeys && nkeys <= AG_TAKE_MAX &&
      (rc = ag_partial_keys(&out, ncols, in, keys, nkeys, first, run.ngroups, err)) != 0)
    goto done;
  if (canon__ag_out_init(&out, types, ncols, run.ngroups) != 0) goto oom;
  if (nkeys > AG_TAKE_MAX &&
      (rc = ag_partial_keys(&out, ncols, in, keys, nkeys, first, run.ngroups, err)) != 0)
    goto done;
  rc = ag_partial_states(in, nkeys, aggs, naggs, specs, &run, &out, err);
  if (rc == CANON_ERR_NOMEM) goto oom;
  if (rc) goto done;
  res = canon__ag_out_finish(&out, schema, run.ngroups, err);
  goto done;
oom:
  rc = canon__nomem(err);
done:
  canon__ag_out_reset(&out);
  ag_csr_free(&run.csr);
  canon_schema_free(schema);
  free(types);
  free(specs);
  free(gid);
  free(first);
  return res;
}

/* Partial aggregation of one partition; see kernels.h. */
canon_table *canon__agg_partial(const canon_table *in, const int *keys, int nkeys,
                                canon_expr *const *aggs, int naggs, bool drop_null_keys,
                                canon_error *err) {
  return ag_partial(in, keys, nkeys, aggs, naggs, drop_null_keys, 0, err);
}

/* canon__agg_partial in chunks of exactly `chunk` rows; see kernels.h. */
canon_table *canon__agg_partial_chunks(const canon_table *in, const int *keys, int nkeys,
                                       canon_expr *const *aggs, int naggs, bool drop_null_keys,
                                       int64_t chunk, canon_error *err) {
  return ag_partial(in, keys, nkeys, aggs, naggs, drop_null_keys, chunk > 0 ? chunk : 1, err);
}
