/* codec_concat.c — the concatenation of tables written straight into an
 * encoding, and a table viewing it.
 *
 * An engine whose results come back from other processes has them as
 * several tables (one per partition) and the program wants one; and a
 * table the program persists is later put in shared memory again for the
 * processes to read.  canon__table_concat_encoded writes the rows of the
 * parts once, into memory the engine provides (a shared segment), in
 * exactly the bytes table_encode_into gives for their concatenation, and
 * returns a table whose columns view those bytes: the program's table and
 * the processes' copy are one.  The parts' dictionaries are merged as a
 * concatenation merges them.
 *
 * Nothing is decoded: the bytes were just written here, from tables of
 * this process.  Big copies are shared by a thread per core (the engine's
 * processes are idle while its driver concatenates). */
#include "codec_concat.h"


typedef struct cat_job {
  canon_table *const *parts;
  int n, nc;
  canon__cat_col *cols;
  uint8_t *buf;
  int next; /* the next (column, part) to copy, shared by the threads */
} cat_job;

/* Copy part p of column i into the encoding. */
static void cat_part(const cat_job *j, int i, int p) {
  const canon__column *c = j->parts[p]->cols[i];
  const canon__cat_col *cc = &j->cols[i];
  if (c->type == CANON_BOOL) {
    /* 0/1 bytes, whatever a kernel left in a NULL slot (as encoded). */
    const uint8_t *b = canon__u8(c);
    uint8_t *d = j->buf + cc->at.values + cc->row_at[p];
    for (int64_t k = 0; k < c->length; k++) d[k] = b[k] ? 1 : 0;
  } else {
    canon__concat_copy_part(c, j->buf + cc->at.values, j->buf + cc->at.strdata, cc->row_at[p],
                            cc->byte_at[p]);
    if (cc->ships)
      canon__dict_codes_part(c, cc->maps[p],
                             (uint32_t *)(j->buf + cc->at.codes + CODES_BYTES) + cc->row_at[p]);
  }
}

static void *cat_worker(void *arg) {
  cat_job *j = arg;
  int items = j->nc * j->n;
  for (int k; (k = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < items;)
    cat_part(j, k / j->n, k % j->n);
  return NULL;
}

void canon__cat_cols_free(canon__cat_col *cols, int nc) {
  for (int i = 0; cols && i < nc; i++) {
    free(cols[i].row_at);
    free(cols[i].byte_at);
    canon__dict_unref(cols[i].merged.dict);
    canon__buffer_unref(cols[i].merged.codes);
    if (cols[i].maps) canon__dict_maps_free(cols[i].maps, cols[i].nparts);
    free(cols[i].maps);
  }
  free(cols);
}

int canon__cat_plan(const canon_schema *s, int n, int64_t total, const canon__cat_in *in,
                    canon__cat_col *cols, size_t *len, uint32_t *ncoded) {
  int nc = s->n;
  size_t at = codec_head_size(s);
  *ncoded = 0;
  const canon__dict **dicts = canon__calloc((size_t)n, sizeof *dicts);
  if (!dicts) return CANON_ERR_NOMEM;
  int rc = 0;
  for (int i = 0; i < nc && !rc; i++) {
    canon__cat_col *cc = &cols[i];
    const canon__cat_in *ci = in + (size_t)i * (size_t)n;
    canon_type ty = s->types[i];
    if (!(cc->row_at = canon__calloc((size_t)n + 1, sizeof *cc->row_at)) ||
        !(cc->byte_at = canon__calloc((size_t)n + 1, sizeof *cc->byte_at))) {
      rc = CANON_ERR_NOMEM;
      break;
    }
    int64_t nulls = 0;
    for (int p = 0; p < n; p++) {
      cc->row_at[p + 1] = cc->row_at[p] + ci[p].rows;
      cc->byte_at[p + 1] = cc->byte_at[p] + (ty == CANON_STRING ? ci[p].bytes : 0);
      nulls += ci[p].nulls;
    }
    cc->sz.null_count = nulls;
    cc->sz.validity = nulls ? (size_t)(total + 7) / 8 : 0;
    cc->sz.values = ((size_t)total + (ty == CANON_STRING)) * canon__type_width(ty);
    cc->sz.strdata = ty == CANON_STRING ? (size_t)cc->byte_at[n] : 0;
    codec_place(&cc->at, &cc->sz, &at);
    if (ty == CANON_STRING) {
      /* The concatenation's dictionary, as a concatenation merges them;
       * shipped codes are written with the rows, straight into the
       * encoding. */
      if (!(cc->maps = canon__calloc((size_t)n, sizeof *cc->maps))) {
        rc = CANON_ERR_NOMEM;
        break;
      }
      cc->nparts = n;
      for (int p = 0; p < n; p++) dicts[p] = ci[p].dict;
      if ((rc = canon__dict_merge_plan(dicts, n, &cc->merged.dict, cc->maps)) != 0) break;
      cc->ships = cc->merged.dict && codec_ships_codes(cc->merged.dict->values->length, total);
      *ncoded += cc->ships;
    }
  }
  free(dicts);
  if (rc) return rc;
  for (int i = 0; i < nc; i++) {
    canon__cat_col *cc = &cols[i];
    if (!cc->ships) continue;
    cc->at.codes = at;
    at += codec_codes_size(cc->merged.dict->values, total);
  }
  *len = at;
  return 0;
}

int canon__cat_put_head(uint8_t *buf, const canon_schema *s, int64_t total, size_t len,
                        uint32_t ncoded, const canon__cat_col *cols) {
  codec_sizes *sz = canon__calloc((size_t)(s->n ? s->n : 1), sizeof *sz);
  if (!sz) return CANON_ERR_NOMEM;
  for (int i = 0; i < s->n; i++) sz[i] = cols[i].sz;
  canon__codec_put_head(buf, s, total, ncoded, len, sz);
  free(sz);
  for (int i = 0; i < s->n; i++)
    canon__codec_put_frame(buf, i, s->types[i], total, &cols[i].sz, &cols[i].at,
                           cols[i].ships ? cols[i].merged.dict->values : NULL);
  return 0;
}

/* The plan of a concatenation of parts in this process, and the codes
 * that do not ship: kept on the heap (an accelerator the table keeps; a
 * reader of the encoding goes without). */
static int cat_plan_local(canon_table *const *parts, int n, int64_t total, canon__cat_col *cols,
                          size_t *len, uint32_t *ncoded) {
  const canon_schema *s = parts[0]->schema;
  int nc = s->n;
  canon__cat_in *in = canon__calloc((size_t)(nc ? nc : 1) * (size_t)n, sizeof *in);
  if (!in) return CANON_ERR_NOMEM;
  for (int i = 0; i < nc; i++)
    for (int p = 0; p < n; p++) {
      const canon__column *c = parts[p]->cols[i];
      canon__cat_in *ci = &in[(size_t)i * (size_t)n + (size_t)p];
      ci->rows = c->length;
      ci->nulls = c->validity ? c->null_count : 0;
      ci->bytes = c->type == CANON_STRING ? canon__i64(c)[c->length] - canon__i64(c)[0] : 0;
      ci->dict = c->type == CANON_STRING ? c->dict : NULL;
    }
  int rc = canon__cat_plan(s, n, total, in, cols, len, ncoded);
  free(in);
  for (int i = 0; i < nc && !rc; i++) {
    canon__cat_col *cc = &cols[i];
    if (cc->merged.dict && !cc->ships &&
        !(cc->merged.codes = canon__dict_codes_concat(parts, n, i, cc->maps, total)))
      rc = CANON_ERR_NOMEM;
  }
  return rc;
}

/* The parts' NULL bitmaps into the encoding's (cleared by the frames). */
static void cat_put_bits(const cat_job *j) {
  for (int i = 0; i < j->nc; i++) {
    const canon__cat_col *cc = &j->cols[i];
    for (int p = 0; cc->sz.validity && p < j->n; p++) {
      const canon__column *c = j->parts[p]->cols[i];
      canon__bits_or(j->buf + cc->at.validity, cc->row_at[p], c->validity ? c->validity->data : NULL,
                     c->length);
    }
  }
}

/* Column i of the result: views of root, with the merged dictionary. */
static canon__column *cat_column(canon__cat_col *cc, canon_type ty, int64_t total,
                                 canon__buffer *root) {
  canon__column *c = canon__calloc(1, sizeof *c);
  if (!c) return NULL;
  c->refs = 1;
  c->type = ty;
  c->length = total;
  c->null_count = cc->sz.null_count;
  if ((cc->sz.validity && !(c->validity = canon__buffer_alias(root, cc->at.validity, cc->sz.validity))) ||
      !(c->values = canon__buffer_alias(root, cc->at.values, cc->sz.values)) ||
      (ty == CANON_STRING && !(c->strdata = canon__buffer_alias(root, cc->at.strdata, cc->sz.strdata)))) {
    canon__column_unref(c);
    return NULL;
  }
  if (cc->merged.dict) {
    /* Shipped codes are read where they were written; others stay on the
     * heap (an accelerator: a reader of the encoding goes without). */
    canon__buffer *codes = cc->ships ? canon__buffer_alias(root, cc->at.codes + CODES_BYTES, (size_t)total * 4)
                                     : canon__buffer_ref(cc->merged.codes);
    if (!codes) {
      canon__column_unref(c);
      return NULL;
    }
    c->codes = codes;
    c->dict = cc->merged.dict;
    cc->merged.dict = NULL;
  }
  return c;
}

canon_table *canon__table_concat_encoded(canon_table *const *parts, int n,
                                         uint8_t *(*alloc)(void *ctx, size_t len),
                                         void (*release)(void *ctx), void *ctx, canon_error *err) {
  if (!canon__table_concat_check(parts, n, CANON_ERR_INVALID, err)) return NULL;
  const canon_schema *s = parts[0]->schema;
  int nc = s->n;
  int64_t total = 0;
  for (int p = 0; p < n; p++) total += parts[p]->nrows;
  canon__cat_col *cols = canon__calloc((size_t)(nc ? nc : 1), sizeof *cols);
  size_t len = 0;
  uint32_t ncoded = 0;
  if (!cols || cat_plan_local(parts, n, total, cols, &len, &ncoded) != 0) {
    canon__cat_cols_free(cols, nc);
    canon__nomem(err);
    return NULL;
  }
  uint8_t *buf = alloc(ctx, len);
  if (!buf) {
    canon__cat_cols_free(cols, nc);
    canon__seterr(err, CANON_ERR_NOMEM, "cannot get %zu bytes for a concatenated table", len);
    return NULL;
  }
  canon__buffer *root = canon__buffer_external(buf, len, release, ctx);
  if (!root || canon__cat_put_head(buf, s, total, len, ncoded, cols) != 0) {
    if (root) canon__buffer_unref(root);
    else release(ctx);
    canon__cat_cols_free(cols, nc);
    canon__nomem(err);
    return NULL;
  }
  cat_job j = {parts, n, nc, cols, buf, 0};
  cat_put_bits(&j);
  /* Threads pay off once there are megabytes to copy (and fault in). */
  canon__run_threads(cat_worker, &j, canon__threads_for(len));
  canon__column **out = canon__calloc((size_t)(nc ? nc : 1), sizeof *out);
  canon_table *t = NULL;
  bool ok = out != NULL;
  for (int i = 0; ok && i < nc; i++) ok = (out[i] = cat_column(&cols[i], s->types[i], total, root)) != NULL;
  if (ok) t = canon__table_make(s, out, total, err);
  else canon__nomem(err);
  if (!t)
    for (int i = 0; out && i < nc; i++) canon__column_unref(out[i]);
  free(out);
  canon__cat_cols_free(cols, nc);
  canon__buffer_unref(root); /* the columns' views keep it */
  return t;
}
