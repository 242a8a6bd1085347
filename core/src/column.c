/* column.c — reference-counted buffers, immutable columns, and the column
 * builders that make them.
 *
 * Buffers are 64-byte aligned (Arrow's recommendation) so exports can hand
 * them out as they are.  A builder owns its buffers exclusively while it
 * grows them; finishing moves them into a column, after which they are
 * shared and never written again. */
#include "internal.h"

#include <stdio.h>

/* ---- buffers ------------------------------------------------------------ */

static uint8_t *aligned_bytes(size_t cap) {
  void *p = NULL;
  if (canon__alloc_fails() || posix_memalign(&p, 64, cap ? cap : 64) != 0) return NULL;
  return p;
}

canon__buffer *canon__buffer_new(size_t cap) {
  canon__buffer *b = canon__malloc(sizeof *b);
  if (!b) return NULL;
  b->data = aligned_bytes(cap);
  if (!b->data) {
    free(b);
    return NULL;
  }
  b->refs = 1;
  b->size = 0;
  b->cap = cap ? cap : 64;
  b->parent = NULL;
  return b;
}

canon__buffer *canon__buffer_alias(canon__buffer *parent, size_t offset, size_t size) {
  canon__buffer *b = canon__malloc(sizeof *b);
  if (!b) return NULL;
  b->refs = 1;
  b->size = b->cap = size;
  b->data = parent->data + offset;
  b->parent = canon__buffer_ref(parent);
  return b;
}

canon__buffer *canon__buffer_window(canon__buffer *parent, size_t offset, size_t cap) {
  canon__buffer *b = canon__buffer_alias(parent, offset, cap);
  if (b) b->size = 0;
  return b;
}

/* An external buffer: the bytes belong to someone else (a read-only
 * shared mapping, say), and release(ctx) runs when the last reference to
 * the buffer — and so to every alias of it — goes.  Marked by a parent
 * pointing at `external_mark`, which is never a real buffer. */
typedef struct external_buffer {
  canon__buffer b;  /* first: a canon__buffer * is an external_buffer * */
  void (*release)(void *ctx);
  void *ctx;
} external_buffer;

static canon__buffer external_mark;

canon__buffer *canon__buffer_external(const uint8_t *data, size_t size, void (*release)(void *ctx),
                                      void *ctx) {
  external_buffer *e = canon__malloc(sizeof *e);
  if (!e) return NULL;
  e->b.refs = 1;
  e->b.size = e->b.cap = size;
  e->b.data = (uint8_t *)data; /* never written: columns are immutable */
  e->b.parent = &external_mark;
  e->release = release;
  e->ctx = ctx;
  return &e->b;
}

long canon__buffer_refs(const canon__buffer *b) { return __atomic_load_n(&b->refs, __ATOMIC_ACQUIRE); }

canon__buffer *canon__buffer_ref(canon__buffer *b) {
  if (b) __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
  return b;
}

void canon__buffer_unref(canon__buffer *b) {
  if (!b) return;
  if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0) {
    if (b->parent == &external_mark) {
      external_buffer *e = (external_buffer *)b;
      if (e->release) e->release(e->ctx);
      free(e);
      return;
    }
    if (b->parent)
      canon__buffer_unref(b->parent);
    else
      free(b->data);
    free(b);
  }
}

int canon__buffer_reserve(canon__buffer *b, size_t cap) {
  if (cap <= b->cap) return 0;
  if (b->parent == &external_mark) return CANON_ERR_INTERNAL; /* never grown */
  size_t ncap = b->cap ? b->cap : 64;
  while (ncap < cap) {
    if (ncap > SIZE_MAX / 2) return CANON_ERR_NOMEM;
    ncap *= 2;
  }
  uint8_t *nd = aligned_bytes(ncap);
  if (!nd) return CANON_ERR_NOMEM;
  memcpy(nd, b->data, b->size);
  if (b->parent) { /* a window: its bytes move out, the parent stays as it is */
    canon__buffer_unref(b->parent);
    b->parent = NULL;
  } else {
    free(b->data);
  }
  b->data = nd;
  b->cap = ncap;
  return 0;
}

canon__buffer *canon__buffer_parent(const canon__buffer *b) {
  return b && b->parent != &external_mark ? b->parent : NULL;
}

/* ---- columns ------------------------------------------------------------ */

size_t canon__type_width(canon_type t) {
  switch (t) {
  case CANON_BOOL: return 1;
  case CANON_DATE: return 4;
  case CANON_INT64:
  case CANON_FLOAT64:
  case CANON_TIMESTAMP:
  case CANON_STRING: return 8;
  default: return 0;
  }
}

canon__column *canon__column_ref(canon__column *c) {
  if (c) __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
  return c;
}

void canon__column_unref(canon__column *c) {
  if (!c) return;
  if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0) {
    canon__buffer_unref(c->validity);
    canon__buffer_unref(c->values);
    canon__buffer_unref(c->strdata);
    canon__buffer_unref(c->codes);
    canon__dict_unref(c->dict);
    free(c);
  }
}

canon__dict *canon__dict_ref(canon__dict *d) {
  if (d) __atomic_add_fetch(&d->refs, 1, __ATOMIC_RELAXED);
  return d;
}

void canon__dict_unref(canon__dict *d) {
  if (d && __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) == 0) {
    canon__column_unref(d->values);
    free(d->prehash);
    free(d);
  }
}

canon__column *canon__column_nulls(canon_type t, int64_t n) {
  canon__colbuilder b;
  if (canon__cb_init(&b, t, n) != 0) return NULL;
  for (int64_t i = 0; i < n; i++)
    if (canon__cb_null(&b) != 0) {
      canon__cb_reset(&b);
      return NULL;
    }
  return canon__cb_finish(&b);
}

/* ---- column builders ---------------------------------------------------- */

int canon__cb_init(canon__colbuilder *b, canon_type t, int64_t expected) {
  memset(b, 0, sizeof *b);
  b->type = t;
  size_t w = canon__type_width(t);
  if (!w) return CANON_ERR_INVALID;
  if (expected < 0) expected = 0;
  size_t n = (size_t)expected + (t == CANON_STRING ? 1 : 0);
  b->values = canon__buffer_new(n * w);
  if (!b->values) return CANON_ERR_NOMEM;
  if (t == CANON_STRING) {
    b->strdata = canon__buffer_new(64);
    if (!b->strdata) {
      canon__cb_reset(b);
      return CANON_ERR_NOMEM;
    }
    memset(b->values->data, 0, 8);
    b->values->size = 8;
  }
  return 0;
}

void canon__cb_reset(canon__colbuilder *b) {
  canon__buffer_unref(b->validity);
  canon__buffer_unref(b->values);
  canon__buffer_unref(b->strdata);
  b->validity = b->values = b->strdata = NULL;
  b->length = b->null_count = 0;
}

/* Record validity of the value being appended at position b->length. */
static int cb_set_valid(canon__colbuilder *b, bool valid) {
  int64_t i = b->length;
  if (!valid && !b->validity) {
    /* First NULL: materialize a bitmap with every earlier value valid. */
    size_t need = (size_t)(i / 8 + 1);
    b->validity = canon__buffer_new(need < 64 ? 64 : need * 2);
    if (!b->validity) return CANON_ERR_NOMEM;
    memset(b->validity->data, 0xff, b->validity->cap);
    b->validity->size = need;
  }
  if (!b->validity) return 0;
  /* Invariant: the bytes of the bitmap past `size` are all 0xff (valid),
   * so only a reallocation has new bytes to fill. */
  size_t byte = (size_t)(i >> 3);
  if (byte >= b->validity->size) {
    if (byte >= b->validity->cap) {
      size_t used = b->validity->size;
      if (canon__buffer_reserve(b->validity, byte + 1) != 0) return CANON_ERR_NOMEM;
      memset(b->validity->data + used, 0xff, b->validity->cap - used);
    }
    b->validity->size = byte + 1;
  }
  if (!valid) {
    b->validity->data[byte] &= (uint8_t)~(1u << (i & 7));
    b->null_count++;
  }
  return 0;
}

static inline int cb_put(canon__colbuilder *b, const void *v, size_t w) {
  canon__buffer *vb = b->values;
  if (vb->size + w > vb->cap && canon__buffer_reserve(vb, vb->size + w) != 0)
    return CANON_ERR_NOMEM;
  memcpy(vb->data + vb->size, v, w);
  vb->size += w;
  return 0;
}

int canon__cb_null(canon__colbuilder *b) {
  if (cb_set_valid(b, false) != 0) return CANON_ERR_NOMEM;
  int rc;
  if (b->type == CANON_STRING) {
    int64_t end = (int64_t)b->strdata->size;
    rc = cb_put(b, &end, 8);
  } else {
    uint64_t zero = 0;
    rc = cb_put(b, &zero, canon__type_width(b->type));
  }
  if (rc == 0) b->length++;
  return rc;
}

#define CB_APPEND(b, val, w)                               \
  do {                                                     \
    if (cb_set_valid((b), true) != 0) return CANON_ERR_NOMEM; \
    if (cb_put((b), &(val), (w)) != 0) return CANON_ERR_NOMEM; \
    (b)->length++;                                         \
    return 0;                                              \
  } while (0)

int canon__cb_bool(canon__colbuilder *b, bool v) {
  uint8_t x = v ? 1 : 0;
  CB_APPEND(b, x, 1);
}

int canon__cb_i64(canon__colbuilder *b, int64_t v) { CB_APPEND(b, v, 8); }

int canon__cb_i32(canon__colbuilder *b, int32_t v) { CB_APPEND(b, v, 4); }

int canon__cb_f64(canon__colbuilder *b, double v) { CB_APPEND(b, v, 8); }

int canon__cb_str(canon__colbuilder *b, const char *s, size_t len) {
  canon__buffer *sd = b->strdata;
  if (sd->size + len > sd->cap && canon__buffer_reserve(sd, sd->size + len) != 0)
    return CANON_ERR_NOMEM;
  if (len) memcpy(sd->data + sd->size, s, len);
  sd->size += len;
  int64_t end = (int64_t)sd->size;
  CB_APPEND(b, end, 8);
}

int canon__cb_from(canon__colbuilder *b, const canon__column *c, int64_t i) {
  if (!canon__valid(c, i)) return canon__cb_null(b);
  switch (c->type) {
  case CANON_BOOL: return canon__cb_bool(b, canon__u8(c)[i] != 0);
  case CANON_DATE: return canon__cb_i32(b, canon__i32(c)[i]);
  case CANON_INT64:
  case CANON_TIMESTAMP: return canon__cb_i64(b, canon__i64(c)[i]);
  case CANON_FLOAT64: return canon__cb_f64(b, canon__f64(c)[i]);
  case CANON_STRING: {
    size_t len;
    const char *s = canon__str(c, i, &len);
    return canon__cb_str(b, s, len);
  }
  default: return CANON_ERR_INVALID;
  }
}

canon__column *canon__cb_finish(canon__colbuilder *b) {
  canon__column *c = canon__calloc(1, sizeof *c);
  if (!c) {
    canon__cb_reset(b);
    return NULL;
  }
  c->refs = 1;
  c->type = b->type;
  c->length = b->length;
  c->null_count = b->null_count;
  c->validity = b->null_count ? b->validity : NULL;
  if (!b->null_count) canon__buffer_unref(b->validity);
  c->values = b->values;
  c->strdata = b->strdata;
  b->validity = b->values = b->strdata = NULL;
  b->length = b->null_count = 0;
  return c;
}
