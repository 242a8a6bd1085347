/* job_codec.c — a job and its exchange states as byte strings, so an
 * engine can run a job's tasks in other processes (the processes engine;
 * later MPI ranks).
 *
 * A job travels as its logical plan, not its stages: the internal variant
 * of plan JSON (plan_json.h) with every in-memory table and computed
 * persist as a binary table (codec.c) referenced by index, each node's
 * display id ("origin", so stage names and error messages match the
 * sender's), the partition count, and the CSV byte ranges the sender cut.
 * The receiver reads the plan into a detached session (one without an
 * engine) and plans it again; planning is deterministic and the preset
 * ranges replace the file scan, so the stages are the sender's — checked
 * by comparing the stage count and names the sender recorded.
 *
 * Layout (little-endian, sections 8-byte aligned):
 *   u32 "CNJB", u32 version, i32 nparts, i32 nstages, u64 json bytes,
 *   u32 tables, u32 CSV stages; the JSON; per table u64 length + bytes
 *   (or, for a table the engine shares, u64 SHARED_TABLE then u64 id);
 *   per CSV stage u32 stage, u32 ranges, ranges as 3 x i64;
 *   per stage its name: u32 length + bytes.
 *
 * A shared table is one the engine already put where the receiver can see
 * it (a shared memory segment, a rank's cache): job_encode_shared asks the
 * engine for each table, job_decode_shared asks it for the table behind
 * each id.  Inline tables stay the default, so the encoding works alone. */
#include "physical.h"
#include "plan_json.h"

#include <stdio.h>

extern const canon_host canon__host;

#define JOB_MAGIC 0x424A4E43u   /* "CNJB" */
#define STATE_MAGIC 0x53584E43u /* "CNXS" */
#define CODEC_VERSION 1u
/* In place of a table's length: the table is shared, its id follows.  No
 * encoded table is that long. */
#define SHARED_TABLE UINT64_MAX

/* ---- a growable output buffer ---------------------------------------------- */

typedef struct wbuf {
  uint8_t *p;
  size_t n, cap;
  bool failed;
} wbuf;

static uint8_t *w_room(wbuf *w, size_t n) {
  if (w->failed) return NULL;
  if (w->n + n > w->cap) {
    size_t nc = w->cap ? w->cap : 256;
    while (nc < w->n + n) nc *= 2;
    uint8_t *np = canon__realloc(w->p, nc);
    if (!np) {
      w->failed = true;
      return NULL;
    }
    w->p = np;
    w->cap = nc;
  }
  uint8_t *at = w->p + w->n;
  w->n += n;
  return at;
}

static void w_u32(wbuf *w, uint32_t v) {
  uint8_t *p = w_room(w, 4);
  if (p) memcpy(p, &v, 4);
}
static void w_u64(wbuf *w, uint64_t v) {
  uint8_t *p = w_room(w, 8);
  if (p) memcpy(p, &v, 8);
}
/* n bytes then zeros up to the next multiple of 8. */
static void w_bytes(wbuf *w, const void *src, size_t n) {
  size_t padded = (n + 7) & ~(size_t)7;
  uint8_t *p = w_room(w, padded);
  if (!p) return;
  if (n) memcpy(p, src, n);
  memset(p + n, 0, padded - n);
}
static void w_table(wbuf *w, const canon_table *t, canon_error *err) {
  size_t n = canon__table_encoded_size(t);
  w_u64(w, n);
  uint8_t *p = w_room(w, n);
  if (p && canon__table_encode_into(t, p, n, err)) w->failed = true;
}

/* ---- a checked input cursor ------------------------------------------------ */

typedef struct rbuf {
  const uint8_t *p;
  size_t n, at;
  bool failed;
} rbuf;

static const uint8_t *r_take(rbuf *r, size_t n) {
  if (r->failed || n > r->n - r->at) {
    r->failed = true;
    return NULL;
  }
  const uint8_t *p = r->p + r->at;
  r->at += n;
  return p;
}
static uint32_t r_u32(rbuf *r) {
  uint32_t v = 0;
  const uint8_t *p = r_take(r, 4);
  if (p) memcpy(&v, p, 4);
  return v;
}
static uint64_t r_u64(rbuf *r) {
  uint64_t v = 0;
  const uint8_t *p = r_take(r, 8);
  if (p) memcpy(&v, p, 8);
  return v;
}
/* n bytes and their padding. */
static const uint8_t *r_bytes(rbuf *r, uint64_t n) {
  if (n > r->n) {
    r->failed = true;
    return NULL;
  }
  const uint8_t *p = r_take(r, (size_t)n);
  size_t pad = (size_t)(((n + 7) & ~(uint64_t)7) - n);
  if (p && pad) r_take(r, pad);
  return r->failed ? NULL : p;
}

static int parse_err(canon_error *err, const char *what) {
  return canon__seterr(err, CANON_ERR_PARSE, "encoded job: %s", what);
}

/* ---- writing a job --------------------------------------------------------- */

typedef struct enc_ctx {
  const canon_table **tables;
  int n, cap;
} enc_ctx;

/* Writer hook: the node's display id, and its rows as a table reference. */
static int write_hook(void *ctx, const canon_df *n, cJSON *o, canon_error *err) {
  enc_ctx *e = ctx;
  if (!cJSON_AddNumberToObject(o, "origin", canon_df_id(n))) return canon__nomem(err);
  bool kept = n->kind == CANON__N_PERSIST && n->table;
  if (kept && !cJSON_AddTrueToObject(o, "persist")) return canon__nomem(err);
  if (n->kind != CANON__N_TABLE && !kept) return 0;
  if (e->n == e->cap) {
    int nc = e->cap ? e->cap * 2 : 8;
    const canon_table **nt = canon__reallocarray(e->tables, (size_t)nc, sizeof *nt);
    if (!nt) return canon__nomem(err);
    e->tables = nt;
    e->cap = nc;
  }
  e->tables[e->n] = n->table;
  return cJSON_AddNumberToObject(o, "ref", e->n++) ? 0 : canon__nomem(err);
}

int canon__job_encode(const canon_job *job, uint8_t **buf, size_t *len, canon_error *err) {
  return canon__job_encode_shared(job, NULL, NULL, buf, len, err);
}

int canon__job_encode_shared(const canon_job *job, canon__share_fn share, void *ctx, uint8_t **buf,
                             size_t *len, canon_error *err) {
  *buf = NULL;
  *len = 0;
  if (!job->root) return canon__seterr(err, CANON_ERR_INTERNAL, "job without a root node");
  enc_ctx e = {0};
  char *json = canon__plan_to_json_hooked(job->root, write_hook, &e, err);
  if (!json) {
    free(e.tables);
    return err && err->code ? err->code : CANON_ERR_NOMEM;
  }
  wbuf w = {0};
  uint32_t ncsv = 0;
  for (int s = 0; s < job->nstages; s++) ncsv += job->stages[s].ranges != NULL;
  size_t jlen = strlen(json);
  w_u32(&w, JOB_MAGIC);
  w_u32(&w, CODEC_VERSION);
  w_u32(&w, (uint32_t)job->nparts);
  w_u32(&w, (uint32_t)job->nstages);
  w_u64(&w, jlen);
  w_u32(&w, (uint32_t)e.n);
  w_u32(&w, ncsv);
  w_bytes(&w, json, jlen);
  for (int i = 0; i < e.n && !w.failed; i++) {
    uint64_t id = 0;
    if (share && share(ctx, e.tables[i], &id, err) != 0) {
      w.failed = true;
      if (err && !err->code) canon__seterr(err, CANON_ERR_ENGINE, "a table could not be shared");
    } else if (id == SHARED_TABLE) {
      w.failed = true;
      canon__seterr(err, CANON_ERR_INTERNAL, "shared table id out of range");
    } else if (id) {
      w_u64(&w, SHARED_TABLE);
      w_u64(&w, id);
    } else {
      w_table(&w, e.tables[i], err);
    }
  }
  for (int s = 0; s < job->nstages; s++) {
    const canon__stage *st = &job->stages[s];
    if (!st->ranges) continue;
    w_u32(&w, (uint32_t)s);
    w_u32(&w, (uint32_t)st->nparts);
    for (int p = 0; p < st->nparts; p++) {
      w_u64(&w, (uint64_t)st->ranges[p].begin);
      w_u64(&w, (uint64_t)st->ranges[p].end);
      w_u64(&w, (uint64_t)st->ranges[p].first_line);
    }
  }
  for (int s = 0; s < job->nstages; s++) {
    size_t n = strlen(job->stages[s].name);
    w_u32(&w, (uint32_t)n);
    w_bytes(&w, job->stages[s].name, n);
  }
  free(json);
  free(e.tables);
  if (w.failed) {
    free(w.p);
    return err && err->code ? err->code : canon__nomem(err);
  }
  *buf = w.p;
  *len = w.n;
  return 0;
}

/* ---- reading a job --------------------------------------------------------- */

typedef struct dec_ctx {
  canon_table **tables;
  int n;
  bool *used;
} dec_ctx;

/* Reader hook: restore the display id and the referenced rows. */
static int read_hook(void *ctx, const cJSON *j, canon_df *df, canon_error *err) {
  dec_ctx *d = ctx;
  const cJSON *origin = cJSON_GetObjectItemCaseSensitive(j, "origin");
  const cJSON *ref = cJSON_GetObjectItemCaseSensitive(j, "ref");
  const cJSON *persist = cJSON_GetObjectItemCaseSensitive(j, "persist");
  if (!cJSON_IsNumber(origin) || origin->valuedouble < 1 || origin->valuedouble > INT32_MAX ||
      origin->valuedouble != (double)(int)origin->valuedouble)
    return parse_err(err, "node without a valid \"origin\"");
  df->origin_id = (int)origin->valuedouble;
  if (persist && (!cJSON_IsTrue(persist) || df->kind != CANON__N_TABLE))
    return parse_err(err, "\"persist\" on a node that is not a table");
  if (!ref) return df->kind == CANON__N_TABLE ? parse_err(err, "table node without \"ref\"") : 0;
  if (df->kind != CANON__N_TABLE || !cJSON_IsNumber(ref) || ref->valuedouble < 0 ||
      ref->valuedouble >= d->n || ref->valuedouble != (double)(int)ref->valuedouble)
    return parse_err(err, "bad table \"ref\"");
  int k = (int)ref->valuedouble;
  if (d->used[k]) return parse_err(err, "a table is referenced twice");
  if (!canon__schema_equal(d->tables[k]->schema, df->schema))
    return parse_err(err, "a table does not have its node's schema");
  d->used[k] = true;
  canon_table_free(df->table);
  df->table = d->tables[k];
  d->tables[k] = NULL;
  /* A computed persist travelled as a table; planning treats both alike,
   * but its kind names it in messages. */
  if (persist) df->kind = CANON__N_PERSIST;
  return 0;
}

/* The ranges section: preset[s] for each CSV stage s < nstages. */
static int read_ranges(rbuf *r, uint32_t ncsv, int nstages, int nparts, canon__csv_range **preset,
                       canon_error *err) {
  for (uint32_t i = 0; i < ncsv; i++) {
    uint32_t s = r_u32(r), n = r_u32(r);
    if (r->failed || s >= (uint32_t)nstages || preset[s] || n != (uint32_t)nparts ||
        (uint64_t)n * 24 > r->n - r->at)
      return parse_err(err, "bad CSV range section");
    if (!(preset[s] = canon__calloc(n, sizeof **preset))) return canon__nomem(err);
    for (uint32_t p = 0; p < n; p++) {
      canon__csv_range *g = &preset[s][p];
      g->begin = (int64_t)r_u64(r);
      g->end = (int64_t)r_u64(r);
      g->first_line = (int64_t)r_u64(r);
      if (g->begin < 0 || g->end < g->begin || g->first_line < 1)
        return parse_err(err, "bad CSV range");
    }
  }
  return 0;
}

int canon__job_take_preset(canon_job *job, int s, canon_error *err) {
  canon__stage *st = &job->stages[s];
  if (s >= job->npreset || !job->preset_ranges[s] || st->nparts != job->nparts)
    return canon__seterr(err, CANON_ERR_PARSE,
                         "encoded job: stage %d reads a CSV file but carries no ranges", s);
  st->ranges = canon__calloc((size_t)st->nparts, sizeof *st->ranges);
  if (!st->ranges) return canon__nomem(err);
  memcpy(st->ranges, job->preset_ranges[s], (size_t)st->nparts * sizeof *st->ranges);
  return 0;
}

/* The stage names the sender recorded must be the rebuilt ones. */
static int check_names(rbuf *r, const canon_job *job, canon_error *err) {
  for (int s = 0; s < job->nstages; s++) {
    uint32_t n = r_u32(r);
    const uint8_t *p = r_bytes(r, n);
    if (!p) return parse_err(err, "stage names cut short");
    if (n != strlen(job->stages[s].name) || memcmp(p, job->stages[s].name, n) != 0)
      return canon__seterr(err, CANON_ERR_INTERNAL,
                           "rebuilt job differs from the sender's at stage %d (%s)", s,
                           job->stages[s].name);
  }
  return r->at == r->n ? 0 : parse_err(err, "trailing bytes");
}

canon_job *canon__job_decode(const uint8_t *buf, size_t len, canon_error *err) {
  return canon__job_decode_shared(buf, len, NULL, NULL, err);
}

/* Table i of an encoded job: inline (decoded) or shared (looked up). */
static canon_table *read_table(rbuf *r, canon__lookup_fn lookup, void *ctx, canon_error *err) {
  uint64_t n = r_u64(r);
  if (!r->failed && n == SHARED_TABLE) {
    uint64_t id = r_u64(r);
    if (r->failed) {
      parse_err(err, "table cut short");
      return NULL;
    }
    if (!lookup || id == 0) {
      canon__seterr(err, CANON_ERR_PARSE,
                    "encoded job: references shared table %llu, but no shared tables were given",
                    (unsigned long long)id);
      return NULL;
    }
    const canon_table *t = lookup(ctx, id, err);
    if (!t) {
      if (err && !err->code)
        canon__seterr(err, CANON_ERR_ENGINE, "shared table %llu is not available",
                      (unsigned long long)id);
      return NULL;
    }
    return canon__table_share(t, err);
  }
  const uint8_t *p = r_bytes(r, n);
  if (!p) {
    parse_err(err, "table cut short");
    return NULL;
  }
  return canon__table_decode(p, (size_t)n, err);
}

canon_job *canon__job_decode_shared(const uint8_t *buf, size_t len, canon__lookup_fn lookup,
                                    void *ctx, canon_error *err) {
  rbuf r = {.p = buf, .n = buf ? len : 0};
  uint32_t magic = r_u32(&r), version = r_u32(&r);
  int nparts = (int)r_u32(&r), nstages = (int)r_u32(&r);
  uint64_t jlen = r_u64(&r);
  uint32_t ntables = r_u32(&r), ncsv = r_u32(&r);
  if (r.failed || magic != JOB_MAGIC) {
    parse_err(err, "bad header");
    return NULL;
  }
  if (version != CODEC_VERSION) {
    canon__seterr(err, CANON_ERR_PARSE, "encoded job: unsupported version %u", version);
    return NULL;
  }
  /* Every stage and table costs at least 8 bytes: the counts are bounded
   * by the input before anything is allocated for them. */
  if (nparts < 1 || nparts > (1 << 20) || nstages < 1 || (size_t)nstages > len / 8 ||
      ntables > len / 8 || ncsv > (uint32_t)nstages) {
    parse_err(err, "counts out of range");
    return NULL;
  }
  const uint8_t *jtext = r_bytes(&r, jlen);
  dec_ctx d = {.n = (int)ntables};
  canon__csv_range **preset = canon__calloc((size_t)nstages, sizeof *preset);
  char *json = NULL;
  canon_session *s = NULL;
  canon_job *job = NULL;
  d.tables = canon__calloc(ntables, sizeof *d.tables);
  d.used = canon__calloc(ntables, sizeof *d.used);
  if (!jtext) {
    parse_err(err, "plan text cut short");
    goto done;
  }
  if (!preset || !d.tables || !d.used || !(json = canon__strndup((const char *)jtext, (size_t)jlen))) {
    canon__nomem(err);
    goto done;
  }
  if (strlen(json) != jlen) {
    parse_err(err, "plan text holds a NUL byte");
    goto done;
  }
  for (uint32_t i = 0; i < ntables; i++)
    if (!(d.tables[i] = read_table(&r, lookup, ctx, err))) goto done;
  if (read_ranges(&r, ncsv, nstages, nparts, preset, err)) goto done;
  if (!(s = canon__calloc(1, sizeof *s))) {
    canon__nomem(err);
    goto done;
  }
  s->next_id = 1;
  canon_df *root = NULL;
  if (canon__plan_from_json_hooked(s, json, read_hook, &d, &root, err)) goto done;
  for (uint32_t i = 0; i < ntables; i++)
    if (!d.used[i]) {
      parse_err(err, "a table is not referenced");
      goto done;
    }
  if (!(job = canon__job_new_preset(root, nparts, preset, nstages, err))) goto done;
  bool ok = job->nstages == nstages;
  if (!ok)
    canon__seterr(err, CANON_ERR_INTERNAL, "rebuilt job has %d stages, the sender's %d",
                  job->nstages, nstages);
  else
    ok = check_names(&r, job, err) == 0;
  for (int k = 0; ok && k < nstages; k++)
    if (preset[k] && !job->stages[k].ranges) {
      canon__seterr(err, CANON_ERR_INTERNAL, "CSV ranges for stage %d were not used", k);
      ok = false;
    }
  if (!ok) {
    canon__job_free(job);
    job = NULL;
  }
done:
  for (uint32_t i = 0; d.tables && i < ntables; i++) canon_table_free(d.tables[i]);
  free(d.tables);
  free(d.used);
  for (int k = 0; preset && k < nstages; k++) free(preset[k]);
  free(preset);
  free(json);
  if (!job) canon_session_close(s);
  return job;
}

void canon__job_decoded_free(canon_job *job) {
  if (!job) return;
  canon_session *s = job->session;
  canon__job_free(job);
  canon_session_close(s);
}

/* ---- exchange states ------------------------------------------------------- */

/* The input's exchange, after checking the indices. */
static canon__xin *xin_at(const canon_job *job, int stage, int input, canon_error *err) {
  if (stage < 0 || stage >= job->nstages || input < 0 || input >= job->stages[stage].ninputs) {
    canon__seterr(err, CANON_ERR_INTERNAL, "no input %d of stage %d", input, stage);
    return NULL;
  }
  return (canon__xin *)&job->stages[stage].in[input];
}

int canon__exchange_state_encode(const canon_job *job, int stage, int input, uint8_t **buf,
                                 size_t *len, canon_error *err) {
  *buf = NULL;
  *len = 0;
  const canon__xin *x = xin_at(job, stage, input, err);
  if (!x) return CANON_ERR_INTERNAL;
  wbuf w = {0};
  w_u32(&w, STATE_MAGIC);
  w_u32(&w, (uint32_t)x->kind);
  w_u32(&w, (uint32_t)stage);
  w_u32(&w, (uint32_t)input);
  if (x->kind == CANON_EXCHANGE_RANGE) {
    if (x->bounds)
      w_table(&w, x->bounds, err);
    else
      w_u64(&w, 0);
  } else if (x->kind == CANON_EXCHANGE_REBALANCE) {
    int n = job->stages[x->stage].nparts;
    w_u64(&w, (uint64_t)x->total);
    w_u32(&w, (uint32_t)n);
    w_u32(&w, x->offsets != NULL);
    for (int k = 0; x->offsets && k < n; k++) w_u64(&w, (uint64_t)x->offsets[k]);
  }
  if (w.failed) {
    free(w.p);
    return err && err->code ? err->code : canon__nomem(err);
  }
  *buf = w.p;
  *len = w.n;
  return 0;
}

/* RANGE bounds must fit the split: one column per key of the key's type,
 * fewer rows than partitions. */
static int check_bounds(const canon__stage *st, const canon__xin *x, const canon_table *b,
                        canon_error *err) {
  if (b->schema->n != x->nkeys || b->nrows > st->nparts - 1)
    return parse_err(err, "range bounds do not fit the exchange");
  const canon_schema *in = st->nops > 0 && st->ops[0].kind == CANON__OP_SORT
                               ? st->ops[0].node->inputs[0]->schema
                               : NULL;
  for (int k = 0; in && k < x->nkeys; k++)
    if (x->sort[k].col < 0 || x->sort[k].col >= in->n || b->schema->types[k] != in->types[x->sort[k].col])
      return parse_err(err, "range bounds have the wrong key types");
  return 0;
}

int canon__exchange_state_decode(canon_job *job, int stage, int input, const uint8_t *buf,
                                 size_t len, canon_error *err) {
  canon__xin *x = xin_at(job, stage, input, err);
  if (!x) return CANON_ERR_INTERNAL;
  rbuf r = {.p = buf, .n = buf ? len : 0};
  uint32_t magic = r_u32(&r), kind = r_u32(&r), s = r_u32(&r), i = r_u32(&r);
  if (r.failed || magic != STATE_MAGIC || kind != (uint32_t)x->kind || s != (uint32_t)stage ||
      i != (uint32_t)input)
    return canon__seterr(err, CANON_ERR_PARSE,
                         "encoded exchange state does not belong to input %d of stage %d", input,
                         stage);
  if (x->kind == CANON_EXCHANGE_RANGE) {
    uint64_t n = r_u64(&r);
    const uint8_t *p = n ? r_bytes(&r, n) : NULL;
    canon_table *b = NULL;
    if (r.failed) return parse_err(err, "range bounds cut short");
    if (p && !(b = canon__table_decode(p, (size_t)n, err))) return err ? err->code : CANON_ERR_PARSE;
    if (b && check_bounds(&job->stages[stage], x, b, err)) {
      canon_table_free(b);
      return CANON_ERR_PARSE;
    }
    canon_table_free(x->bounds);
    x->bounds = b;
  } else if (x->kind == CANON_EXCHANGE_REBALANCE) {
    int64_t total = (int64_t)r_u64(&r);
    uint32_t n = r_u32(&r), has = r_u32(&r);
    int want = job->stages[x->stage].nparts;
    if (r.failed || n != (uint32_t)want || has > 1 || total < 0 ||
        (has && (uint64_t)n * 8 > r.n - r.at))
      return parse_err(err, "bad rebalance state");
    int64_t *off = NULL;
    if (has) {
      if (!(off = canon__calloc(n, sizeof *off))) return canon__nomem(err);
      for (uint32_t k = 0; k < n; k++) {
        off[k] = (int64_t)r_u64(&r);
        if ((k == 0 && off[k] != 0) || (k > 0 && off[k] < off[k - 1]) || off[k] > total) {
          free(off);
          return parse_err(err, "rebalance offsets out of order");
        }
      }
    }
    free(x->offsets);
    x->offsets = off;
    x->total = total;
  }
  return r.at == r.n ? 0 : parse_err(err, "trailing bytes in an exchange state");
}

static void mark_gone(void *ctx) { *(int *)ctx = 1; }

int canon__exchange_prepare_encoded(canon_job *job, int stage, int input,
                                    const uint8_t *const *outs, const size_t *lens, int n,
                                    canon_error *err) {
  canon__xin *x = xin_at(job, stage, input, err);
  if (!x) return CANON_ERR_INTERNAL;
  switch (x->kind) {
  case CANON_EXCHANGE_HASH: case CANON_EXCHANGE_GATHER: case CANON_EXCHANGE_BROADCAST:
  case CANON_EXCHANGE_FORWARD:
    return 0; /* nothing to prepare */
  case CANON_EXCHANGE_REBALANCE: {
    /* Only row counts: read from the headers. */
    int64_t *off = canon__calloc((size_t)n, sizeof *off), total = 0;
    if (!off) return canon__nomem(err);
    for (int k = 0; k < n; k++) {
      int64_t rows = canon__table_encoded_rows(outs[k], lens[k], err);
      if (rows < 0) {
        free(off);
        return err ? err->code : CANON_ERR_PARSE;
      }
      off[k] = total;
      total += rows;
    }
    free(x->offsets);
    x->offsets = off;
    x->total = total;
    return 0;
  }
  default: break;
  }
  /* RANGE (samples of every output) and anything newer: let
   * exchange_prepare look at the outputs — as views of the encodings, not
   * copies (it keeps only rows it copied out). */
  canon_table **t = canon__calloc((size_t)n, sizeof *t);
  int *gone = canon__calloc((size_t)(n ? n : 1), sizeof *gone);
  if (!t || !gone) {
    free(t);
    free(gone);
    return canon__nomem(err);
  }
  int rc = 0;
  for (int k = 0; k < n && rc == 0; k++)
    if (!(t[k] = canon__table_decode_shared(outs[k], lens[k], mark_gone, &gone[k], err)))
      rc = err ? err->code : CANON_ERR_PARSE;
  if (rc == 0) rc = canon__host.exchange_prepare(job, stage, input, t, n, err);
  for (int k = 0; k < n; k++) canon_table_free(t[k]);
  free(t);
  /* The caller unmaps the outputs next: nothing may still view them. */
  for (int k = 0; k < n && rc == 0; k++)
    if (!gone[k])
      rc = canon__seterr(err, CANON_ERR_INTERNAL, "exchange state still uses a producer output");
  free(gone);
  return rc;
}
