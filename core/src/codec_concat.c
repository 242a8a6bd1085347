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
#include "codec_layout.h"

#include <unistd.h>

/* One column of the concatenation. */
typedef struct cat_col {
  codec_sizes sz;
  codec_at at;                /* its sections in the encoding */
  int64_t *row_at, *byte_at;  /* per part: first row and (strings) first byte; n + 1 */
  canon__column merged;       /* strings: the concatenation's dictionary, and its
                                 codes when they are not shipped */
  uint32_t **maps;            /* per part: its codes to the merged ones (NULL: same) */
  int nparts;
  bool ships;                 /* its codes are in the encoding (the threads write them) */
} cat_col;

typedef struct cat_job {
  canon_table *const *parts;
  int n, nc;
  cat_col *cols;
  uint8_t *buf;
  int next; /* the next (column, part) to copy, shared by the threads */
} cat_job;

/* Copy part p of column i into the encoding. */
static void cat_part(const cat_job *j, int i, int p) {
  const canon__column *c = j->parts[p]->cols[i];
  const cat_col *cc = &j->cols[i];
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

static void free_cols(cat_col *cols, int nc) {
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

/* Sizes and offsets of every column; the encoding's total length. */
static int cat_plan(canon_table *const *parts, int n, int64_t total, cat_col *cols, size_t *len,
                    uint32_t *ncoded) {
  const canon_schema *s = parts[0]->schema;
  int nc = s->n;
  size_t at = codec_head_size(s);
  *ncoded = 0;
  for (int i = 0; i < nc; i++) {
    cat_col *cc = &cols[i];
    canon_type ty = s->types[i];
    if (!(cc->row_at = canon__calloc((size_t)n + 1, sizeof *cc->row_at)) ||
        !(cc->byte_at = canon__calloc((size_t)n + 1, sizeof *cc->byte_at)))
      return CANON_ERR_NOMEM;
    canon__concat_offsets(parts, n, i, cc->row_at, cc->byte_at);
    int64_t nulls = 0;
    for (int p = 0; p < n; p++) {
      const canon__column *c = parts[p]->cols[i];
      nulls += c->validity ? c->null_count : 0;
    }
    cc->sz.null_count = nulls;
    cc->sz.validity = nulls ? (size_t)(total + 7) / 8 : 0;
    cc->sz.values = ((size_t)total + (ty == CANON_STRING)) * canon__type_width(ty);
    cc->sz.strdata = ty == CANON_STRING ? (size_t)cc->byte_at[n] : 0;
    codec_place(&cc->at, &cc->sz, &at);
    if (ty == CANON_STRING) {
      /* The concatenation's dictionary, as a concatenation merges them;
       * shipped codes are written by the copying threads, straight into
       * the encoding. */
      if (!(cc->maps = canon__calloc((size_t)n, sizeof *cc->maps))) return CANON_ERR_NOMEM;
      cc->nparts = n;
      if (canon__dict_concat_plan(parts, n, i, &cc->merged.dict, cc->maps) != 0)
        return CANON_ERR_NOMEM;
      cc->ships = cc->merged.dict && codec_ships_codes(cc->merged.dict->values->length, total);
      *ncoded += cc->ships;
      /* Codes that do not ship stay on the heap (an accelerator the table
       * keeps; a reader of the encoding goes without). */
      if (cc->merged.dict && !cc->ships &&
          !(cc->merged.codes = canon__dict_codes_concat(parts, n, i, cc->maps, total)))
        return CANON_ERR_NOMEM;
    }
  }
  for (int i = 0; i < nc; i++) {
    cat_col *cc = &cols[i];
    if (!cc->ships) continue;
    cc->at.codes = at;
    at += codec_codes_size(cc->merged.dict->values, total);
  }
  *len = at;
  return 0;
}


/* Write everything but the parts' rows (the threads copy those). */
static void cat_write_rest(cat_job *j, int64_t total, size_t len, uint32_t ncoded,
                           codec_sizes *sz) {
  uint8_t *buf = j->buf;
  int n = j->n;
  for (int i = 0; i < j->nc; i++) sz[i] = j->cols[i].sz;
  canon__codec_put_head(buf, j->parts[0]->schema, total, ncoded, len, sz);
  for (int i = 0; i < j->nc; i++) {
    cat_col *cc = &j->cols[i];
    canon__codec_put_frame(buf, i, j->parts[0]->schema->types[i], total, &cc->sz, &cc->at,
                           cc->ships ? cc->merged.dict->values : NULL);
    for (int p = 0; cc->sz.validity && p < n; p++) {
      const canon__column *c = j->parts[p]->cols[i];
      canon__bits_or(buf + cc->at.validity, cc->row_at[p], c->validity ? c->validity->data : NULL,
                     c->length);
    }
  }
}

/* Column i of the result: views of root, with the merged dictionary. */
static canon__column *cat_column(cat_col *cc, canon_type ty, int64_t total, canon__buffer *root) {
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
  cat_col *cols = canon__calloc((size_t)(nc ? nc : 1), sizeof *cols);
  codec_sizes *sz = canon__calloc((size_t)(nc ? nc : 1), sizeof *sz);
  size_t len = 0;
  uint32_t ncoded = 0;
  if (!cols || !sz || cat_plan(parts, n, total, cols, &len, &ncoded) != 0) {
    free_cols(cols, nc);
    free(sz);
    canon__nomem(err);
    return NULL;
  }
  uint8_t *buf = alloc(ctx, len);
  if (!buf) {
    free_cols(cols, nc);
    free(sz);
    canon__seterr(err, CANON_ERR_NOMEM, "cannot get %zu bytes for a concatenated table", len);
    return NULL;
  }
  canon__buffer *root = canon__buffer_external(buf, len, release, ctx);
  if (!root) {
    release(ctx);
    free_cols(cols, nc);
    free(sz);
    canon__nomem(err);
    return NULL;
  }
  cat_job j = {parts, n, nc, cols, buf, 0};
  cat_write_rest(&j, total, len, ncoded, sz);
  free(sz);
  /* Threads pay off once there are megabytes to copy (and fault in). */
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int threads = len < ((size_t)8 << 20) || cpus < 2 ? 1 : cpus > 8 ? 8 : (int)cpus;
  canon__run_threads(cat_worker, &j, threads);
  canon__column **out = canon__calloc((size_t)(nc ? nc : 1), sizeof *out);
  canon_table *t = NULL;
  bool ok = out != NULL;
  for (int i = 0; ok && i < nc; i++) ok = (out[i] = cat_column(&cols[i], s->types[i], total, root)) != NULL;
  if (ok) t = canon__table_make(s, out, total, err);
  else canon__nomem(err);
  if (!t)
    for (int i = 0; out && i < nc; i++) canon__column_unref(out[i]);
  free(out);
  free_cols(cols, nc);
  canon__buffer_unref(root); /* the columns' views keep it */
  return t;
}
