/* builder.c — the public table builder (canon_builder): what user
 * transforms and in-memory table code append rows to. */
#include "internal.h"

#include <stdio.h>

/* Remember the first failed append (see struct canon_builder). */
static int note(canon_builder *b, int col, int rc) {
  if (rc && b && !b->failed_code) {
    b->failed_code = rc;
    b->failed_col = col;
  }
  return rc;
}

static int builder_init_cols(canon_builder *b) {
  b->failed_code = 0;
  b->failed_col = -1;
  for (int i = 0; i < b->schema->n; i++)
    if (canon__cb_init(&b->cols[i], b->schema->types[i], 0) != 0) {
      for (int j = 0; j < i; j++) canon__cb_reset(&b->cols[j]);
      return CANON_ERR_NOMEM;
    }
  return 0;
}

canon_builder *canon_builder_new(const canon_schema *s, canon_error *err) {
  if (!s) {
    canon__seterr(err, CANON_ERR_INVALID, "builder needs a schema");
    return NULL;
  }
  canon_builder *b = canon__calloc(1, sizeof *b);
  if (!b) goto oom;
  b->schema = canon__schema_copy(s);
  b->cols = canon__calloc((size_t)s->n, sizeof *b->cols);
  if (!b->schema || !b->cols || builder_init_cols(b) != 0) {
    if (b) {
      canon_schema_free(b->schema);
      free(b->cols);
      free(b);
    }
    goto oom;
  }
  return b;
oom:
  canon__nomem(err);
  return NULL;
}

void canon_builder_free(canon_builder *b) {
  if (!b) return;
  for (int i = 0; i < b->schema->n; i++) canon__cb_reset(&b->cols[i]);
  free(b->cols);
  canon_schema_free(b->schema);
  free(b);
}

const canon_schema *canon_builder_schema(const canon_builder *b) { return b ? b->schema : NULL; }

/* Column `col` if it exists and has one of the accepted types. */
static canon__colbuilder *col_of(canon_builder *b, int col, canon_type want) {
  if (!b || col < 0 || col >= b->schema->n) return NULL;
  if (want != CANON_TYPE_INVALID && b->schema->types[col] != want) return NULL;
  return &b->cols[col];
}

int canon_builder_append_null(canon_builder *b, int col) {
  canon__colbuilder *c = col_of(b, col, CANON_TYPE_INVALID);
  return note(b, col, c ? canon__cb_null(c) : CANON_ERR_TYPE);
}

int canon_builder_append_bool(canon_builder *b, int col, int v) {
  canon__colbuilder *c = col_of(b, col, CANON_BOOL);
  return note(b, col, c ? canon__cb_bool(c, v != 0) : CANON_ERR_TYPE);
}

int canon_builder_append_int64(canon_builder *b, int col, int64_t v) {
  canon__colbuilder *c = col_of(b, col, CANON_INT64);
  return note(b, col, c ? canon__cb_i64(c, v) : CANON_ERR_TYPE);
}

int canon_builder_append_float64(canon_builder *b, int col, double v) {
  canon__colbuilder *c = col_of(b, col, CANON_FLOAT64);
  return note(b, col, c ? canon__cb_f64(c, v) : CANON_ERR_TYPE);
}

int canon_builder_append_string(canon_builder *b, int col, const char *s, size_t len) {
  canon__colbuilder *c = col_of(b, col, CANON_STRING);
  if (!c || (!s && len)) return note(b, col, CANON_ERR_TYPE);
  return note(b, col, canon__cb_str(c, s ? s : "", len));
}

int canon_builder_append_date(canon_builder *b, int col, int32_t days) {
  canon__colbuilder *c = col_of(b, col, CANON_DATE);
  return note(b, col, c ? canon__cb_i32(c, days) : CANON_ERR_TYPE);
}

int canon_builder_append_timestamp(canon_builder *b, int col, int64_t us) {
  canon__colbuilder *c = col_of(b, col, CANON_TIMESTAMP);
  return note(b, col, c ? canon__cb_i64(c, us) : CANON_ERR_TYPE);
}

int canon_builder_append_from(canon_builder *b, int col, const canon_table *src, int src_col,
                              int64_t row) {
  if (!src || src_col < 0 || src_col >= src->schema->n || row < 0 || row >= src->nrows)
    return note(b, col, CANON_ERR_INVALID);
  canon__colbuilder *c = col_of(b, col, src->schema->types[src_col]);
  return note(b, col, c ? canon__cb_from(c, src->cols[src_col], row) : CANON_ERR_TYPE);
}

int canon_builder_append_row(canon_builder *b, const canon_table *src, int64_t row) {
  if (!b || !src || src->schema->n != b->schema->n) return note(b, 0, CANON_ERR_TYPE);
  for (int i = 0; i < b->schema->n; i++) {
    int rc = canon_builder_append_from(b, i, src, i, row);
    if (rc) return rc;
  }
  return 0;
}

canon_table *canon_builder_finish(canon_builder *b, canon_error *err) {
  if (!b) {
    canon__seterr(err, CANON_ERR_INVALID, "builder is NULL");
    return NULL;
  }
  int n = b->schema->n;
  if (b->failed_code) {
    int col = b->failed_col;
    canon__seterr(err, b->failed_code == CANON_ERR_NOMEM ? CANON_ERR_NOMEM : CANON_ERR_TRANSFORM,
                  "an append to column %d%s%s%s failed (%s): the output does not match the "
                  "declared schema %s",
                  col, col >= 0 && col < n ? " '" : "", col >= 0 && col < n ? b->schema->names[col] : "",
                  col >= 0 && col < n ? "'" : "", canon_errcode_name(b->failed_code),
                  "(see canon_builder_schema)");
    for (int i = 0; i < n; i++) canon__cb_reset(&b->cols[i]);
    builder_init_cols(b);
    return NULL;
  }
  int64_t rows = n ? b->cols[0].length : 0;
  for (int i = 1; i < n; i++)
    if (b->cols[i].length != rows) {
      canon__seterr(err, CANON_ERR_INVALID,
                    "builder columns have different lengths: '%s' has %lld values, '%s' has %lld",
                    b->schema->names[0], (long long)rows, b->schema->names[i],
                    (long long)b->cols[i].length);
      return NULL;
    }
  canon__column **cols = canon__calloc((size_t)n, sizeof *cols);
  if (!cols) {
    canon__nomem(err);
    return NULL;
  }
  for (int i = 0; i < n; i++) cols[i] = canon__cb_finish(&b->cols[i]);
  for (int i = 0; i < n; i++)
    if (!cols[i]) {
      for (int j = 0; j < n; j++) canon__column_unref(cols[j]);
      free(cols);
      builder_init_cols(b);
      canon__nomem(err);
      return NULL;
    }
  canon_table *t = canon__table_make(b->schema, cols, rows, err);
  free(cols);
  if (builder_init_cols(b) != 0 && t) {
    canon_table_free(t);
    canon__nomem(err);
    return NULL;
  }
  return t;
}
