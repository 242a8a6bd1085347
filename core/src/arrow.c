/* arrow.c — tables in and out through the Arrow C Data Interface.
 *
 * Export hands out a struct array ("+s") with one child per column.  Our
 * columns already use Arrow's layout, so the child buffers point straight
 * at the columns' canon__buffer data and each child's private data holds a
 * reference to the buffers it shows; the one exception is bool, stored as a
 * byte per value and packed into a fresh bitmap here.  Release callbacks
 * follow the C Data Interface rules: a parent releases the children that
 * were not moved out, everything frees its own private data, and release
 * is set to NULL.
 *
 * Import copies the values into new columns (simple, and safe against the
 * producer's buffers going away), then releases the array: the array is
 * moved in, and consumed on success and on failure alike.  Everything the
 * structs let us check is checked (lengths, offsets, buffer counts, string
 * offsets in order); buffer sizes themselves are not part of the interface
 * and are trusted.
 *
 * Sections: export (schema, array, stream); import.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>

/* ---- export: schema ------------------------------------------------------ */

typedef struct ax_schema_priv {
  char *name;
  int64_t n;
  struct ArrowSchema *kids;
  struct ArrowSchema **kidptrs;
} ax_schema_priv;

static void ax_schema_release(struct ArrowSchema *s) {
  if (!s || !s->release) return;
  ax_schema_priv *p = s->private_data;
  if (p) {
    for (int64_t i = 0; i < p->n; i++)
      if (p->kids[i].release) p->kids[i].release(&p->kids[i]);
    free(p->kids);
    free(p->kidptrs);
    free(p->name);
    free(p);
  }
  s->release = NULL;
}

static const char *ax_format(canon_type t) {
  switch (t) {
  case CANON_BOOL: return "b";
  case CANON_INT64: return "l";
  case CANON_FLOAT64: return "g";
  case CANON_STRING: return "U";
  case CANON_DATE: return "tdD";
  case CANON_TIMESTAMP: return "tsu:UTC";
  default: return NULL;
  }
}

/* Fill out with a format, a copy of name and nkids zeroed children for the
 * caller to fill. */
static int ax_schema_node(struct ArrowSchema *out, const char *format, const char *name,
                          int64_t nkids, int64_t flags) {
  memset(out, 0, sizeof *out);
  ax_schema_priv *p = canon__calloc(1, sizeof *p);
  if (!p) return CANON_ERR_NOMEM;
  p->name = canon__strdup(name ? name : "");
  if (nkids) {
    p->kids = canon__calloc((size_t)nkids, sizeof *p->kids);
    p->kidptrs = canon__calloc((size_t)nkids, sizeof *p->kidptrs);
  }
  if (!p->name || (nkids && (!p->kids || !p->kidptrs))) {
    free(p->name);
    free(p->kids);
    free(p->kidptrs);
    free(p);
    return CANON_ERR_NOMEM;
  }
  p->n = nkids;
  for (int64_t i = 0; i < nkids; i++) p->kidptrs[i] = &p->kids[i];
  out->format = format;
  out->name = p->name;
  out->flags = flags;
  out->n_children = nkids;
  out->children = nkids ? p->kidptrs : NULL;
  out->private_data = p;
  out->release = ax_schema_release;
  return 0;
}

static int ax_export_schema(const canon_schema *s, struct ArrowSchema *out) {
  int rc = ax_schema_node(out, "+s", "", s->n, 0);
  if (rc) return rc;
  ax_schema_priv *p = out->private_data;
  for (int i = 0; i < s->n; i++) {
    const char *fmt = ax_format(s->types[i]);
    if (!fmt || (rc = ax_schema_node(&p->kids[i], fmt, s->names[i], 0, ARROW_FLAG_NULLABLE))) {
      ax_schema_release(out);
      return fmt ? rc : CANON_ERR_INTERNAL;
    }
  }
  return 0;
}

/* ---- export: array ------------------------------------------------------- */

typedef struct ax_array_priv {
  canon__buffer *refs[3];   /* buffers kept alive for the consumer */
  uint8_t *packed;          /* bool values packed into bits (owned) */
  const void *bufs[3];
  int64_t n;
  struct ArrowArray *kids;
  struct ArrowArray **kidptrs;
} ax_array_priv;

static void ax_array_release(struct ArrowArray *a) {
  if (!a || !a->release) return;
  ax_array_priv *p = a->private_data;
  if (p) {
    for (int64_t i = 0; i < p->n; i++)
      if (p->kids[i].release) p->kids[i].release(&p->kids[i]);
    for (int k = 0; k < 3; k++) canon__buffer_unref(p->refs[k]);
    free(p->packed);
    free(p->kids);
    free(p->kidptrs);
    free(p);
  }
  a->release = NULL;
}

/* A non-NULL pointer for an empty buffer (consumers may dereference). */
static const int64_t ax_empty[1] = {0};

static int ax_export_column(const canon__column *c, struct ArrowArray *out) {
  memset(out, 0, sizeof *out);
  ax_array_priv *p = canon__calloc(1, sizeof *p);
  if (!p) return CANON_ERR_NOMEM;
  int64_t n = c->length;
  if (c->validity && c->null_count > 0) {
    p->refs[0] = canon__buffer_ref(c->validity);
    p->bufs[0] = c->validity->data;
  }
  int nbuf = 2;
  if (c->type == CANON_BOOL) {
    /* The one copy: Arrow wants bits, we keep a byte per value. */
    size_t bytes = (size_t)(n + 7) / 8;
    p->packed = canon__calloc(bytes ? bytes : 1, 1);
    if (!p->packed) {
      canon__buffer_unref(p->refs[0]);
      free(p);
      return CANON_ERR_NOMEM;
    }
    const uint8_t *v = canon__u8(c);
    for (int64_t i = 0; i < n; i++)
      if (v[i]) p->packed[i >> 3] |= (uint8_t)(1u << (i & 7));
    p->bufs[1] = p->packed;
  } else {
    p->refs[1] = canon__buffer_ref(c->values);
    p->bufs[1] = c->values->data;
    if (c->type == CANON_STRING) {
      nbuf = 3;
      p->refs[2] = canon__buffer_ref(c->strdata);
      p->bufs[2] = c->strdata && c->strdata->data ? (const void *)c->strdata->data : ax_empty;
    }
  }
  out->length = n;
  out->null_count = p->bufs[0] ? c->null_count : 0;
  out->offset = 0;
  out->n_buffers = nbuf;
  out->buffers = p->bufs;
  out->private_data = p;
  out->release = ax_array_release;
  return 0;
}

static int ax_export_array(const canon_table *t, struct ArrowArray *out) {
  memset(out, 0, sizeof *out);
  int nc = t->schema->n;
  ax_array_priv *p = canon__calloc(1, sizeof *p);
  if (!p) return CANON_ERR_NOMEM;
  if (nc) {
    p->kids = canon__calloc((size_t)nc, sizeof *p->kids);
    p->kidptrs = canon__calloc((size_t)nc, sizeof *p->kidptrs);
    if (!p->kids || !p->kidptrs) {
      free(p->kids);
      free(p->kidptrs);
      free(p);
      return CANON_ERR_NOMEM;
    }
  }
  out->length = t->nrows;
  out->n_buffers = 1;  /* the struct's validity: none */
  out->buffers = p->bufs;
  out->n_children = nc;
  out->children = nc ? p->kidptrs : NULL;
  out->private_data = p;
  out->release = ax_array_release;
  for (int i = 0; i < nc; i++) {
    p->kidptrs[i] = &p->kids[i];
    int rc = ax_export_column(t->cols[i], &p->kids[i]);
    p->n = i + 1;
    if (rc) {
      ax_array_release(out);
      return rc;
    }
  }
  return 0;
}

/* Export a table as a struct array with its schema; see canon.h. */
int canon_table_export_arrow(const canon_table *t, struct ArrowSchema *schema_out,
                             struct ArrowArray *array_out, canon_error *err) {
  if (!t || !schema_out || !array_out)
    return canon__seterr(err, CANON_ERR_INVALID, "arrow export needs a table, schema and array");
  int rc = ax_export_schema(t->schema, schema_out);
  if (!rc && (rc = ax_export_array(t, array_out)) != 0) ax_schema_release(schema_out);
  if (rc == CANON_ERR_NOMEM) return canon__nomem(err);
  if (rc) return canon__seterr(err, rc, "arrow export failed: a column has an unknown type");
  return 0;
}

/* ---- export: stream ------------------------------------------------------ */

typedef struct ax_stream_priv {
  canon_table *t;
  bool done;
  char msg[128];
} ax_stream_priv;

static int ax_stream_get_schema(struct ArrowArrayStream *s, struct ArrowSchema *out) {
  ax_stream_priv *p = s->private_data;
  int rc = ax_export_schema(p->t->schema, out);
  if (!rc) return 0;
  snprintf(p->msg, sizeof p->msg, "arrow schema export failed (%s)", canon_errcode_name(rc));
  return rc == CANON_ERR_NOMEM ? ENOMEM : EINVAL;
}

static int ax_stream_get_next(struct ArrowArrayStream *s, struct ArrowArray *out) {
  ax_stream_priv *p = s->private_data;
  if (p->done) {
    memset(out, 0, sizeof *out);  /* release == NULL: end of stream */
    return 0;
  }
  int rc = ax_export_array(p->t, out);
  if (!rc) {
    p->done = true;
    return 0;
  }
  snprintf(p->msg, sizeof p->msg, "arrow array export failed (%s)", canon_errcode_name(rc));
  return rc == CANON_ERR_NOMEM ? ENOMEM : EINVAL;
}

static const char *ax_stream_last_error(struct ArrowArrayStream *s) {
  ax_stream_priv *p = s->private_data;
  return p->msg[0] ? p->msg : NULL;
}

static void ax_stream_release(struct ArrowArrayStream *s) {
  if (!s || !s->release) return;
  ax_stream_priv *p = s->private_data;
  if (p) {
    canon_table_free(p->t);
    free(p);
  }
  s->release = NULL;
}

/* Export as a stream yielding the table as one struct array; see canon.h. */
int canon_table_export_arrow_stream(const canon_table *t, struct ArrowArrayStream *out,
                                    canon_error *err) {
  if (!t || !out) return canon__seterr(err, CANON_ERR_INVALID, "arrow stream export needs a table");
  ax_stream_priv *p = canon__calloc(1, sizeof *p);
  if (!p) return canon__nomem(err);
  p->t = canon__table_share(t, err);
  if (!p->t) {
    free(p);
    return err ? err->code : CANON_ERR_NOMEM;
  }
  memset(out, 0, sizeof *out);
  out->get_schema = ax_stream_get_schema;
  out->get_next = ax_stream_get_next;
  out->get_last_error = ax_stream_last_error;
  out->release = ax_stream_release;
  out->private_data = p;
  return 0;
}

/* ---- import -------------------------------------------------------------- */

/* The canon type of an Arrow format we accept (*large: int64 offsets). */
static canon_type ax_type_of(const char *f, bool *large) {
  *large = false;
  if (!f) return CANON_TYPE_INVALID;
  if (!strcmp(f, "b")) return CANON_BOOL;
  if (!strcmp(f, "l")) return CANON_INT64;
  if (!strcmp(f, "g")) return CANON_FLOAT64;
  if (!strcmp(f, "u")) return CANON_STRING;
  if (!strcmp(f, "U")) return (*large = true), CANON_STRING;
  if (!strcmp(f, "tdD")) return CANON_DATE;
  if (!strcmp(f, "tsu:UTC") || !strcmp(f, "tsu:")) return CANON_TIMESTAMP;
  return CANON_TYPE_INVALID;
}

static inline bool ax_bit(const void *bitmap, int64_t i) {
  return (((const uint8_t *)bitmap)[i >> 3] >> (i & 7)) & 1;
}

/* String offset i of an int32 ("u") or int64 ("U") offsets buffer. */
static inline int64_t ax_offset(const void *offsets, bool large, int64_t i) {
  return large ? ((const int64_t *)offsets)[i] : ((const int32_t *)offsets)[i];
}

/* The column of child a (schema s) for parent rows [poff, poff+n); rows
 * whose parent slot is NULL (pvalid) become NULL. */
static canon__column *ax_import_column(const struct ArrowSchema *s, const struct ArrowArray *a,
                                       int idx, int64_t poff, int64_t n, const void *pvalid,
                                       canon_error *err) {
  const char *name = s->name ? s->name : "?";
  bool large;
  canon_type t = ax_type_of(s->format, &large);
  if (t == CANON_TYPE_INVALID || s->dictionary || a->dictionary) {
    canon__seterr(err, CANON_ERR_UNSUPPORTED,
                  "arrow column %d '%s' has unsupported format '%s'%s", idx, name,
                  s->format ? s->format : "(null)",
                  s->dictionary || a->dictionary ? " (dictionary encoded)" : "");
    return NULL;
  }
  int64_t want_bufs = t == CANON_STRING ? 3 : 2;
  if (a->length < 0 || a->offset < 0 || a->length > INT64_MAX - a->offset ||
      a->length < poff + n || a->n_buffers != want_bufs || !a->buffers || a->n_children != 0 ||
      (n > 0 && !a->buffers[1]) || a->null_count < -1 || a->null_count > a->length) {
    canon__seterr(err, CANON_ERR_PARSE,
                  "arrow column %d '%s' (%s): invalid length, offset, buffers or children", idx,
                  name, s->format);
    return NULL;
  }
  int64_t base = a->offset + poff;  /* physical index of our first row */
  const void *valid = a->null_count != 0 ? a->buffers[0] : NULL;
  if (a->null_count > 0 && !valid) {
    canon__seterr(err, CANON_ERR_PARSE, "arrow column %d '%s' has nulls but no validity bitmap",
                  idx, name);
    return NULL;
  }
  const uint8_t *data = t == CANON_STRING ? a->buffers[2] : NULL;
  if (t == CANON_STRING && n > 0) {
    /* Offsets must start >= 0 and never go backwards; bytes need a buffer. */
    int64_t first = ax_offset(a->buffers[1], large, base), prev = first;
    for (int64_t i = 1; i <= n && first >= 0; i++) {
      int64_t o = ax_offset(a->buffers[1], large, base + i);
      if (o < prev) {
        first = -1;
        break;
      }
      prev = o;
    }
    if (first < 0 || (prev > first && !data)) {
      canon__seterr(err, CANON_ERR_PARSE, "arrow column %d '%s' (%s): string offsets %s", idx,
                    name, s->format, first < 0 ? "negative or out of order" : "without data");
      return NULL;
    }
  }

  canon__colbuilder b;
  if (canon__cb_init(&b, t, n) != 0) {
    canon__nomem(err);
    return NULL;
  }
  int rc = 0;
  for (int64_t i = 0; i < n && !rc; i++) {
    int64_t j = base + i;
    if ((valid && !ax_bit(valid, j)) || (pvalid && !ax_bit(pvalid, poff + i))) {
      rc = canon__cb_null(&b);
      continue;
    }
    switch (t) {
    case CANON_BOOL: rc = canon__cb_bool(&b, ax_bit(a->buffers[1], j)); break;
    case CANON_INT64:
    case CANON_TIMESTAMP: rc = canon__cb_i64(&b, ((const int64_t *)a->buffers[1])[j]); break;
    case CANON_FLOAT64: rc = canon__cb_f64(&b, ((const double *)a->buffers[1])[j]); break;
    case CANON_DATE: rc = canon__cb_i32(&b, ((const int32_t *)a->buffers[1])[j]); break;
    default: {
      int64_t o0 = ax_offset(a->buffers[1], large, j), o1 = ax_offset(a->buffers[1], large, j + 1);
      rc = canon__cb_str(&b, (const char *)data + o0, (size_t)(o1 - o0));
      break;
    }
    }
  }
  if (rc) {
    canon__cb_reset(&b);
    canon__nomem(err);
    return NULL;
  }
  canon__column *c = canon__cb_finish(&b);
  if (!c) canon__nomem(err);
  return c;
}

static canon_table *ax_import(const struct ArrowSchema *schema, const struct ArrowArray *array,
                              canon_error *err) {
  if (!schema->format || strcmp(schema->format, "+s") != 0) {
    canon__seterr(err, CANON_ERR_UNSUPPORTED,
                  "arrow import expects a struct array (format '+s'), got '%s'",
                  schema->format ? schema->format : "(null)");
    return NULL;
  }
  int64_t nc = schema->n_children;
  if (nc < 0 || nc > INT32_MAX || array->n_children != nc || (nc && (!schema->children ||
                                                                     !array->children)) ||
      array->length < 0 || array->offset < 0 || array->length > INT64_MAX - array->offset ||
      array->n_buffers < 1 || !array->buffers) {
    canon__seterr(err, CANON_ERR_PARSE, "arrow import: malformed struct array or schema");
    return NULL;
  }
  const void *pvalid = array->null_count != 0 ? array->buffers[0] : NULL;
  if (array->null_count > 0 && !pvalid) {
    canon__seterr(err, CANON_ERR_PARSE, "arrow import: struct has nulls but no validity bitmap");
    return NULL;
  }
  canon_schema *s = canon_schema_new();
  canon__column **cols = canon__calloc(nc ? (size_t)nc : 1, sizeof *cols);
  canon_table *t = NULL;
  if (!s || !cols) {
    canon__nomem(err);
    goto done;
  }
  for (int64_t i = 0; i < nc; i++) {
    const struct ArrowSchema *cs = schema->children[i];
    const struct ArrowArray *ca = array->children[i];
    if (!cs || !ca) {
      canon__seterr(err, CANON_ERR_PARSE, "arrow import: child %lld missing", (long long)i);
      goto done;
    }
    cols[i] = ax_import_column(cs, ca, (int)i, array->offset, array->length, pvalid, err);
    if (!cols[i]) goto done;
    char fallback[32];
    const char *name = cs->name && *cs->name ? cs->name : fallback;
    snprintf(fallback, sizeof fallback, "column%lld", (long long)i);
    if (canon_schema_add(s, name, cols[i]->type, err) != 0) {
      canon__errprefix(err, "arrow import");
      goto done;
    }
  }
  t = canon__table_make(s, cols, array->length, err);
  nc = 0;  /* moved into the table (or released by it on failure) */
done:
  for (int64_t i = 0; i < nc; i++) canon__column_unref(cols[i]);
  free(cols);
  canon_schema_free(s);
  return t;
}

/* Import a struct array into a new table (values copied).  The array is
 * moved in: canon calls its release before returning, on success and on
 * failure; the schema is only read.  See canon.h. */
canon_table *canon_table_import_arrow(struct ArrowSchema *schema, struct ArrowArray *array,
                                      canon_error *err) {
  if (!array || !array->release) {
    canon__seterr(err, CANON_ERR_INVALID, "arrow import: no array, or the array was released");
    return NULL;
  }
  canon_table *t = NULL;
  if (!schema || !schema->release)
    canon__seterr(err, CANON_ERR_INVALID, "arrow import: no schema, or the schema was released");
  else
    t = ax_import(schema, array, err);
  array->release(array);
  array->release = NULL;
  return t;
}
