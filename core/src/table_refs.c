/* table_refs.c — which columns of a table are rows of another table's
 * columns, in that table's own memory: what lets an engine send a
 * reference (the table's id, a column, a first row) instead of the rows
 * (canon_host.table_range_of for a whole table, and the column
 * references of table_encode_ref_into, codec.c), both starting from where
 * a column's values lie inside another's (start_in). */
#include "internal.h"

#include <string.h>

/* Whether buffer b holds `size` bytes at `at` (pointer identity: canon's
 * buffers are immutable once shared, so the same address is the same
 * bytes). */
static bool same_bytes(const canon__buffer *b, const uint8_t *at, size_t size) {
  return b && b->data == at && b->size == size;
}

/* Whether rows [0, n) of c's validity equal rows [first, first + n) of
 * base's (a missing bitmap: every row valid). */
static bool same_validity(const canon__column *c, const canon__column *base, int64_t first) {
  int64_t n = c->length;
  if (!c->validity && !base->validity) return true;
  if (!c->validity) {
    if (base->null_count == 0) return true;
    for (int64_t k = 0; k < n; k++)
      if (!canon__valid(base, first + k)) return false;
    return true;
  }
  if (first % 8 == 0 && base->validity) {
    /* Whole bytes, then the last partial one. */
    const uint8_t *a = c->validity->data, *b = base->validity->data + first / 8;
    int64_t whole = n / 8;
    if (memcmp(a, b, (size_t)whole) != 0) return false;
    for (int64_t k = whole * 8; k < n; k++)
      if (canon__valid(c, k) != canon__valid(base, first + k)) return false;
    return true;
  }
  for (int64_t k = 0; k < n; k++)
    if (canon__valid(c, k) != canon__valid(base, first + k)) return false;
  return true;
}

/* Column c is rows [first, first + c->length) of column b, in b's memory. */
bool canon__column_range_of(const canon__column *c, const canon__column *b, int64_t first) {
  if (c == b) return first == 0;
  if (c->type != b->type || first + c->length > b->length) return false;
  size_t w = canon__type_width(c->type);
  size_t nv = (size_t)(c->length + (c->type == CANON_STRING)) * w;
  if (!b->values || !same_bytes(c->values, b->values->data + (size_t)first * w, nv)) return false;
  if (c->type == CANON_STRING) {
    /* Offsets index the same string bytes. */
    if (!c->strdata || !b->strdata || c->strdata->data != b->strdata->data) return false;
    if ((c->dict == NULL) != (b->dict == NULL) || c->dict != b->dict) return false;
    if (c->dict && !same_bytes(c->codes, b->codes->data + (size_t)first * sizeof(uint32_t),
                               (size_t)c->length * sizeof(uint32_t)))
      return false;
  }
  return same_validity(c, b, first);
}

/* Where c's values start inside b's, in rows, when they lie inside them
 * at a whole row (the first check of canon__column_range_of, by address). */
static bool start_in(const canon__column *c, const canon__column *b, int64_t *first) {
  if (c == b) {
    *first = 0;
    return true;
  }
  if (c->type != b->type || !c->values || !b->values) return false;
  size_t w = canon__type_width(c->type);
  uintptr_t pc = (uintptr_t)c->values->data, pb = (uintptr_t)b->values->data;
  if (pc < pb || (pc - pb) % w) return false;
  size_t d = (pc - pb) / w;
  if (d > (size_t)b->length) return false;
  *first = (int64_t)d;
  return true;
}

canon__colref canon__column_ref_in(const canon_table *t, int i, const canon_table *base) {
  canon__colref r = {-1, 0};
  const canon__column *c = t->cols[i];
  if (!base || t->nrows == 0 || c->length != t->nrows) return r;
  for (int j = 0; j < base->schema->n; j++) {
    const canon__column *b = base->cols[j];
    int64_t first;
    if (b->length == base->nrows && start_in(c, b, &first) && first <= b->length - c->length &&
        canon__column_range_of(c, b, first)) {
      r.col = j;
      r.first = first;
      break;
    }
  }
  return r;
}

int canon__table_range_of(const canon_table *t, const canon_table *base, int64_t *first) {
  if (!t || !base || !canon__schema_equal(t->schema, base->schema) || t->nrows > base->nrows)
    return 0;
  int n = t->schema->n;
  if (n == 0 || t->nrows == 0) return 0; /* nothing to point at: send the rows */
  int64_t at;
  if (!start_in(t->cols[0], base->cols[0], &at) || at > base->nrows - t->nrows) return 0;
  for (int i = 0; i < n; i++) {
    if (t->cols[i]->length != t->nrows) return 0;
    if (!canon__column_range_of(t->cols[i], base->cols[i], at)) return 0;
  }
  *first = at;
  return 1;
}
