/* agg_final.c — the final step of hash aggregation (SEMANTICS §5).
 *
 * canon__agg_final takes the partial rows of every partition (made by
 * canon__agg_partial in aggregate.c, whose header describes the state
 * layouts), groups them by key again, merges each group's states exactly
 * and finishes them into the answer's values.  Sums and means are merged
 * in agg_sum.c; min/max, counts and the extension aggregates here.
 */
#include "agg_internal.h"
#include "agg_ext.h"

#include <math.h>
#include <stdio.h>

/* ---- final -------------------------------------------------------------- */

/* Width of a min/max value of type t after the has_value byte (0: any). */
static size_t ag_mm_width(canon_type t) {
  switch (t) {
  case CANON_BOOL: return 1;
  case CANON_DATE: return 4;
  case CANON_STRING: return 0;
  default: return 8;
  }
}

/* Compare two min/max values (the bytes after has_value) in the §2 order. */
static int ag_mm_cmp(canon_type t, const uint8_t *a, size_t la, const uint8_t *b, size_t lb) {
  switch (t) {
  case CANON_BOOL: return (a[0] != 0) - (b[0] != 0);
  case CANON_DATE: {
    int32_t x = (int32_t)((uint32_t)a[0] | (uint32_t)a[1] << 8 | (uint32_t)a[2] << 16 |
                          (uint32_t)a[3] << 24);
    int32_t y = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                          (uint32_t)b[3] << 24);
    return (x > y) - (x < y);
  }
  case CANON_FLOAT64: return canon__cmp_f64(ag_f64(ag_get64(a)), ag_f64(ag_get64(b)));
  case CANON_STRING: {
    int c = memcmp(a, b, la < lb ? la : lb);
    if (c) return c < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
  }
  default: {
    int64_t x = (int64_t)ag_get64(a), y = (int64_t)ag_get64(b);
    return (x > y) - (x < y);
  }
  }
}

/* Append a min/max value (bytes after has_value) to out, canonical. */
static int ag_mm_emit(canon__colbuilder *out, canon_type t, const uint8_t *v, size_t len) {
  switch (t) {
  case CANON_BOOL: return canon__cb_bool(out, v[0] != 0);
  case CANON_DATE:
    return canon__cb_i32(out, (int32_t)((uint32_t)v[0] | (uint32_t)v[1] << 8 |
                                        (uint32_t)v[2] << 16 | (uint32_t)v[3] << 24));
  case CANON_FLOAT64: return canon__cb_f64(out, ag_canon_f64(ag_f64(ag_get64(v))));
  case CANON_STRING: return canon__cb_str(out, (const char *)v, len);
  default: return canon__cb_i64(out, (int64_t)ag_get64(v));
  }
}

/* Merge and finish aggregate s from state column c into out. */
static int ag_final_one(ag_run *r, const ag_spec *s, int idx, const canon__column *c,
                        canon__colbuilder *out, canon_error *err) {
  size_t ng = r->ngroups ? (size_t)r->ngroups : 1;
  int rc = 0;
  switch (s->kind) {
  case AG_EXT: return canon__aggx_final(s->e, idx, c, r->gid, r->ngroups, out, err);
  case AG_XSUM: {
    ag_xs_job j = {.spec = s, .col = c, .final = true, .out = out, .state_index = idx, .err = err};
    return canon__ag_xs_run(r, &j);
  }
  case AG_COUNT:
  case AG_SUM_I64: {
    size_t want = s->kind == AG_COUNT ? 8 : 24;
    /* Counts need no sums. */
    ag_u128 *sum = s->kind == AG_SUM_I64 ? canon__calloc(ng, sizeof *sum) : NULL;
    int64_t *cnt = canon__calloc(ng, sizeof *cnt);
    if ((s->kind == AG_SUM_I64 && !sum) || !cnt) rc = CANON_ERR_NOMEM;
    for (int64_t i = 0; i < r->n && !rc; i++) {
      int64_t g = AG_GID(r, i);
      size_t len;
      const uint8_t *p = canon__valid(c, i) ? (const uint8_t *)canon__str(c, i, &len) : NULL;
      bool small = p && s->kind == AG_COUNT && len == 1;
      if (!p || (len != want && !small)) {
        rc = canon__ag_corrupt(err, idx, i);
        break;
      }
      int64_t pc = small ? p[0] : (int64_t)ag_get64(p + want - 8);
      if (pc < 0 || pc > INT64_MAX - cnt[g]) {
        rc = canon__ag_corrupt(err, idx, i);
        break;
      }
      cnt[g] += pc;
      if (s->kind == AG_SUM_I64) sum[g] += (ag_u128)ag_get64(p) | (ag_u128)ag_get64(p + 8) << 64;
    }
    for (int64_t g = 0; g < r->ngroups && !rc; g++) {
      if (s->kind == AG_COUNT) {
        rc = canon__cb_i64(out, cnt[g]);
      } else if (!cnt[g]) {
        rc = canon__cb_null(out);
      } else {
        /* The exact sum must fit int64 only at the end (§5). */
        ag_i128 v = (ag_i128)sum[g];
        if (v > INT64_MAX || v < INT64_MIN) {
          char *txt = canon_expr_to_string(s->e);
          rc = canon__seterr(err, CANON_ERR_OVERFLOW, "integer overflow in %s", txt ? txt : "sum");
          free(txt);
        } else {
          rc = canon__cb_i64(out, (int64_t)v);
        }
      }
    }
    free(sum);
    free(cnt);
    return rc;
  }
  case AG_MINMAX: {
    int64_t *best = canon__reallocarray(NULL, ng, sizeof *best);
    if (!best) return CANON_ERR_NOMEM;
    for (size_t g = 0; g < ng; g++) best[g] = -1;
    size_t w = ag_mm_width(s->in_type);
    for (int64_t i = 0; i < r->n && !rc; i++) {
      int64_t g = AG_GID(r, i);
      size_t len;
      const uint8_t *p = canon__valid(c, i) ? (const uint8_t *)canon__str(c, i, &len) : NULL;
      if (!p || len < 1 || p[0] > 1 || (p[0] == 0 && len != 1) ||
          (p[0] == 1 && w && len != 1 + w)) {
        rc = canon__ag_corrupt(err, idx, i);
        break;
      }
      if (!p[0]) continue;
      if (best[g] < 0) {
        best[g] = i;
        continue;
      }
      size_t lb;
      const uint8_t *b = (const uint8_t *)canon__str(c, best[g], &lb);
      int cmp = ag_mm_cmp(s->in_type, p + 1, len - 1, b + 1, lb - 1);
      if (s->is_max ? cmp > 0 : cmp < 0) best[g] = i;
    }
    for (int64_t g = 0; g < r->ngroups && !rc; g++) {
      if (best[g] < 0) {
        rc = canon__cb_null(out);
      } else {
        size_t len;
        const uint8_t *p = (const uint8_t *)canon__str(c, best[g], &len);
        rc = ag_mm_emit(out, s->in_type, p + 1, len - 1);
      }
    }
    free(best);
    return rc;
  }
  }
  return canon__seterr(err, CANON_ERR_INTERNAL, "unknown aggregate state kind");
}

/* Append key value `row` of c to out; float keys canonical (§3). */
static int ag_key_emit(canon__colbuilder *out, const canon__column *c, int64_t row) {
  if (c->type == CANON_FLOAT64 && canon__valid(c, row))
    return canon__cb_f64(out, ag_canon_f64(canon__f64(c)[row]));
  return canon__cb_from(out, c, row);
}

/* Final aggregation of concatenated partials; see kernels.h. */
canon_table *canon__agg_final(const canon_table *partials, int nkeys, canon_expr *const *aggs,
                              int naggs, const canon_schema *out_schema, canon_error *err) {
  canon_table *res = NULL;
  ag_spec *specs = NULL;
  ag_run run;
  memset(&run, 0, sizeof run);
  int64_t *gid = NULL, *first = NULL;
  int *keycols = NULL;
  ag_out out = {0};
  int ncols = nkeys + naggs, rc;
  const canon_schema *ps = partials->schema;

  if ((rc = canon__ag_specs(aggs, naggs, &specs, err)) != 0) goto done;
  if (ps->n != ncols || !out_schema || out_schema->n != ncols) {
    rc = canon__seterr(err, CANON_ERR_INTERNAL,
                       "final aggregation expects %d key and %d state columns", nkeys, naggs);
    goto done;
  }
  for (int k = 0; k < ncols; k++) {
    bool key = k < nkeys;
    canon_type want_in = key ? out_schema->types[k] : CANON_STRING;
    canon_type want_out = key ? ps->types[k] : specs[k - nkeys].out_type;
    if (ps->types[k] != want_in || out_schema->types[k] != want_out) {
      rc = canon__seterr(err, CANON_ERR_INTERNAL,
                         "final aggregation: column %d of the partials or output has the wrong type", k);
      goto done;
    }
  }
  keycols = canon__calloc(nkeys ? (size_t)nkeys : 1, sizeof *keycols);
  if (!keycols) goto oom;
  for (int k = 0; k < nkeys; k++) keycols[k] = k;
  if ((rc = canon__ag_group(partials, keycols, nkeys, false, false, &run, &gid, &first, err)) != 0)
    goto done;
  if (nkeys && nkeys <= AG_TAKE_MAX) {
    /* Float keys are canonicalized value by value (ag_key_emit). */
    bool take[AG_TAKE_MAX];
    for (int k = 0; k < nkeys; k++) take[k] = ps->types[k] != CANON_FLOAT64;
    if ((rc = canon__ag_out_take_keys(&out, ncols, partials, keycols, nkeys, take, first, run.ngroups,
                               err)) != 0)
      goto done;
  }
  if (canon__ag_out_init(&out, out_schema->types, ncols, run.ngroups) != 0) goto oom;

  for (int k = 0; k < nkeys; k++)
    if (!out.pre[k])
      for (int64_t g = 0; g < run.ngroups; g++)
        if (ag_key_emit(&out.cb[k], partials->cols[k], first[g]) != 0) goto oom;
  for (int i = 0; i < naggs; i++) {
    rc = ag_final_one(&run, &specs[i], i, partials->cols[nkeys + i], &out.cb[nkeys + i], err);
    if (rc == CANON_ERR_NOMEM) goto oom;
    if (rc) goto done;
  }
  res = canon__ag_out_finish(&out, out_schema, run.ngroups, err);
  goto done;
oom:
  rc = canon__nomem(err);
done:
  canon__ag_out_reset(&out);
  ag_csr_free(&run.csr);
  free(specs);
  free(keycols);
  free(gid);
  free(first);
  return res;
}
