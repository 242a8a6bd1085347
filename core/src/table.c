/* table.c — tables: construction, row selection (take/slice), concatenation
 * and the public read accessors.
 *
 * A table is a schema plus one immutable column per field.  Taking rows
 * gathers values into new buffers; a slice views them; selecting columns
 * shares them. */
#include "internal.h"
#include "gather_blocked.h"

#include <pthread.h>
#include <unistd.h>

#include <stdio.h>

canon_table *canon__table_make(const canon_schema *s, canon__column **cols, int64_t nrows,
                               canon_error *err) {
  canon_table *t = canon__calloc(1, sizeof *t);
  if (!t) goto oom;
  t->schema = canon__schema_copy(s);
  t->cols = canon__calloc((size_t)s->n, sizeof *t->cols);
  if (!t->schema || !t->cols) goto oom;
  t->nrows = nrows;
  for (int i = 0; i < s->n; i++) {
    t->cols[i] = cols[i];
    cols[i] = NULL;
  }
  return t;
oom:
  for (int i = 0; i < s->n; i++) canon__column_unref(cols[i]), cols[i] = NULL;
  if (t) {
    canon_schema_free(t->schema);
    free(t->cols);
    free(t);
  }
  canon__nomem(err);
  return NULL;
}

void canon_table_free(canon_table *t) {
  if (!t) return;
  if (t->schema)
    for (int i = 0; i < t->schema->n; i++)
      if (t->cols) canon__column_unref(t->cols[i]);
  free(t->cols);
  canon_schema_free(t->schema);
  free(t);
}

canon_table *canon__table_empty(const canon_schema *s, canon_error *err) {
  canon__column **cols = canon__calloc((size_t)s->n, sizeof *cols);
  if (!cols) {
    canon__nomem(err);
    return NULL;
  }
  for (int i = 0; i < s->n; i++) {
    canon__colbuilder b;
    if (canon__cb_init(&b, s->types[i], 0) != 0 || !(cols[i] = canon__cb_finish(&b))) {
      for (int j = 0; j < i; j++) canon__column_unref(cols[j]);
      free(cols);
      canon__nomem(err);
      return NULL;
    }
  }
  canon_table *t = canon__table_make(s, cols, 0, err);
  free(cols);
  return t;
}

/* Validity of the gathered rows: bit k set when row ROW(k) exists (index
 * >= 0) and is valid in c.  Built a byte at a time.  Returns the number of
 * NULLs; *out stays NULL when there are none. */
static int gather_validity(const canon__column *c, const int64_t *idx, int64_t start, int64_t n,
                           canon__buffer **out, int64_t *nulls_out) {
  *out = NULL;
  *nulls_out = 0;
  canon__buffer *v = canon__buffer_new((size_t)(n / 8 + 1));
  if (!v) return CANON_ERR_NOMEM;
  uint8_t *bits = v->data;
  int64_t valid = 0;
  for (int64_t k0 = 0; k0 < n; k0 += 8) {
    int64_t m = n - k0 < 8 ? n - k0 : 8;
    unsigned byte = 0;
    for (int64_t j = 0; j < m; j++) {
      int64_t r = idx ? idx[k0 + j] : start + k0 + j;
      byte |= (unsigned)(r >= 0 && canon__valid(c, r)) << j;
    }
    bits[k0 >> 3] = (uint8_t)byte;
    valid += __builtin_popcount(byte);
  }
  bits[n >> 3] &= (uint8_t)((1u << (n & 7)) - 1); /* the spare byte's bits stay 0 */
  v->size = (size_t)(n + 7) / 8;
  *nulls_out = n - valid;
  if (valid == n)
    canon__buffer_unref(v);
  else
    *out = v;
  return 0;
}

/* How far ahead gathers prefetch the source of a random index. */
#define GATHER_AHEAD 64

/* Fixed-width values dst[k] = src[idx[k]] for k < n (0 where idx[k] < 0,
 * which only happens with `neg`). */
#define GATHER_FIXED(T, SRC, DST)                                                       \
  do {                                                                                  \
    const T *src_ = (const T *)(SRC);                                                   \
    T *dst_ = (T *)(DST);                                                               \
    if (!neg) {                                                                         \
      for (int64_t k = 0; k < n; k++) {                                                 \
        if (k + GATHER_AHEAD < n) __builtin_prefetch(&src_[idx[k + GATHER_AHEAD]]);     \
        dst_[k] = src_[idx[k]];                                                         \
      }                                                                                 \
    } else {                                                                            \
      for (int64_t k = 0; k < n; k++) {                                                 \
        if (k + GATHER_AHEAD < n) {                                                     \
          int64_t a_ = idx[k + GATHER_AHEAD];                                           \
          __builtin_prefetch(&src_[a_ < 0 ? 0 : a_]);                                   \
        }                                                                               \
        dst_[k] = idx[k] >= 0 ? src_[idx[k]] : (T)0;                                    \
      }                                                                                 \
    }                                                                                   \
  } while (0)

/* String values of rows idx[0..n) of c (an index < 0 gives an empty
 * string): offsets into noff[0..n], bytes into a new *bytes, in one pass:
 * the offsets of row k + AHEAD and
 * then the bytes of row k + AHEAD/2 are fetched ahead (random rows are a
 * cache miss each otherwise), and the byte buffer, sized from the column's
 * mean length, grows by extrapolation when that was short.  Short strings
 * are one 16-byte copy where both buffers have the room. */
static int gather_strings(const canon__column *c, const int64_t *idx, int64_t n, int64_t *noff,
                          canon__buffer **bytes) {
  const int64_t *off = (const int64_t *)c->values->data;
  const uint8_t *sd = c->strdata->data;
  size_t ssize = c->strdata->size;
  noff[0] = 0;
  /* 16 spare bytes after the estimate, so a short string is one copy. */
  size_t mean = c->length ? (size_t)(off[c->length] - off[0]) / (size_t)c->length : 0;
  size_t cap = mean * (size_t)n + (mean * (size_t)n) / 16 + 64;
  canon__buffer *buf = canon__buffer_new(cap + 16);
  if (!buf) return CANON_ERR_NOMEM;
  uint8_t *dst = buf->data;
  size_t at = 0;
  for (int64_t k = 0; k < n; k++) {
    if (k + GATHER_AHEAD < n) {
      int64_t a = idx[k + GATHER_AHEAD];
      __builtin_prefetch(&off[a < 0 ? 0 : a]);
    }
    if (k + GATHER_AHEAD / 2 < n) {
      int64_t a = idx[k + GATHER_AHEAD / 2];
      if (a >= 0) __builtin_prefetch(sd + off[a]);
    }
    int64_t r = idx[k];
    if (r >= 0) {
      size_t from = (size_t)off[r], len = (size_t)(off[r + 1] - off[r]);
      if (at + len > cap) {
        /* Extrapolate the mean so far over the rows left. */
        size_t ncap = at + len + (at / (size_t)(k + 1) + 1) * (size_t)(n - k) + 64;
        canon__buffer *nb = canon__buffer_new(ncap + 16);
        if (!nb) {
          canon__buffer_unref(buf);
          return CANON_ERR_NOMEM;
        }
        memcpy(nb->data, buf->data, at);
        canon__buffer_unref(buf);
        buf = nb;
        dst = buf->data;
        cap = ncap;
      }
      if (len <= 16 && from + 16 <= ssize)
        memcpy(dst + at, sd + from, 16);
      else
        memcpy(dst + at, sd + from, len);
      at += len;
    }
    noff[k + 1] = (int64_t)at;
  }
  buf->size = at;
  *bytes = buf;
  return 0;
}

/* The dictionary codes of the gathered rows into out (an index < 0 gives
 * code 0, a NULL row). */
static int gather_codes(const canon__column *c, const int64_t *idx, int64_t n, bool neg,
                        const canon__gplan *plan, canon__column *out) {
  canon__buffer *b = canon__buffer_new((size_t)n * sizeof(uint32_t));
  if (!b) return CANON_ERR_NOMEM;
  b->size = (size_t)n * sizeof(uint32_t);
  if (plan)
    canon__gplan_gather(plan, c->codes->data, b->data, sizeof(uint32_t));
  else
    GATHER_FIXED(uint32_t, c->codes->data, b->data);
  out->codes = b;
  out->dict = canon__dict_ref(c->dict);
  return 0;
}

/* String values of the gathered rows of a column with codes, whose codes
 * (out->codes) and validity (out->validity) are gathered already: a valid
 * row's string is its code's dictionary value, so the bytes come from the
 * dictionary (small, so mostly in cache) in two sequential passes (offsets,
 * then bytes) instead of two random reads of the column per row.  A NULL
 * row keeps the source row's bytes (an index < 0 gives an empty string),
 * as gather_strings gives them. */
static int gather_strings_dict(const canon__column *c, const int64_t *idx, int64_t n,
                               const canon__column *out, int64_t *noff, canon__buffer **bytes) {
  const canon__column *dv = c->dict->values;
  const int64_t *doff = canon__i64(dv), *off = canon__i64(c);
  const uint8_t *dsd = dv->strdata->data, *sd = c->strdata->data;
  size_t dsize = dv->strdata->size, ssize = c->strdata->size;
  const uint32_t *code = canon__codes(out);
  int64_t at = 0;
  noff[0] = 0;
  for (int64_t k = 0; k < n; k++) {
    int64_t r = idx[k];
    if (canon__valid(out, k))
      at += doff[code[k] + 1] - doff[code[k]];
    else if (r >= 0)
      at += off[r + 1] - off[r];
    noff[k + 1] = at;
  }
  canon__buffer *buf = canon__buffer_new((size_t)at + 16); /* room for 16-byte copies */
  if (!buf) return CANON_ERR_NOMEM;
  uint8_t *dst = buf->data;
  for (int64_t k = 0; k < n; k++) {
    const uint8_t *from;
    size_t len = (size_t)(noff[k + 1] - noff[k]), room;
    if (!len) continue;
    if (canon__valid(out, k)) {
      from = dsd + doff[code[k]];
      room = dsize - (size_t)doff[code[k]];
    } else {
      from = sd + off[idx[k]];
      room = ssize - (size_t)off[idx[k]];
    }
    if (len <= 16 && room >= 16)
      memcpy(dst + noff[k], from, 16);
    else
      memcpy(dst + noff[k], from, len);
  }
  buf->size = (size_t)at;
  *bytes = buf;
  return 0;
}

/* Gather rows idx[0..n) of c into a new column; with `neg`, an index < 0 gives a NULL (stored as 0, or an empty
 * string).  Fixed-width values are copied per type, fetching random rows
 * ahead, or by `plan` (never with `neg`) when there is one. */
static canon__column *gather_col(const canon__column *c, const int64_t *idx, int64_t n,
                                 bool neg, const canon__gplan *plan) {
  canon__column *out = canon__calloc(1, sizeof *out);
  if (!out) return NULL;
  out->refs = 1;
  out->type = c->type;
  out->length = n;
  size_t w = canon__type_width(c->type);
  if ((c->validity || neg) &&
      gather_validity(c, idx, 0, n, &out->validity, &out->null_count) != 0)
    goto oom;
  if (c->type == CANON_STRING) {
    out->values = canon__buffer_new((size_t)(n + 1) * 8);
    if (!out->values) goto oom;
    out->values->size = (size_t)(n + 1) * 8;
    int64_t *noff = (int64_t *)out->values->data;
    if (c->dict) {
      if (gather_codes(c, idx, n, neg, plan, out) != 0 ||
          gather_strings_dict(c, idx, n, out, noff, &out->strdata) != 0)
        goto oom;
    } else if (gather_strings(c, idx, n, noff, &out->strdata) != 0) {
      goto oom;
    }
  } else {
    out->values = canon__buffer_new((size_t)n * w);
    if (!out->values) goto oom;
    if (c->length == 0)
      memset(out->values->data, 0, (size_t)n * w); /* every index is < 0 */
    else if (plan)
      canon__gplan_gather(plan, c->values->data, out->values->data, w);
    else if (w == 8)
      GATHER_FIXED(uint64_t, c->values->data, out->values->data);
    else if (w == 4)
      GATHER_FIXED(uint32_t, c->values->data, out->values->data);
    else
      GATHER_FIXED(uint8_t, c->values->data, out->values->data);
    out->values->size = (size_t)n * w;
  }
  return out;
oom:
  canon__column_unref(out);
  return NULL;
}
#undef GATHER_FIXED

canon__column *canon__column_take(const canon__column *c, const int64_t *idx, int64_t n,
                                  bool may_null) {
  return gather_col(c, idx, n, may_null, NULL);
}

/* A table of n rows whose column i is make(t->cols[i], idx, start, n). */
typedef canon__column *(*col_maker)(const canon__column *c, const int64_t *idx, int64_t start,
                                    int64_t n);

static canon_table *map_columns(const canon_table *t, col_maker make, const int64_t *idx,
                                int64_t start, int64_t n, canon_error *err) {
  int nc = t->schema->n;
  canon__column **cols = canon__calloc((size_t)nc, sizeof *cols);
  if (!cols) {
    canon__nomem(err);
    return NULL;
  }
  for (int i = 0; i < nc; i++)
    if (!(cols[i] = make(t->cols[i], idx, start, n))) {
      for (int j = 0; j < i; j++) canon__column_unref(cols[j]);
      free(cols);
      canon__nomem(err);
      return NULL;
    }
  canon_table *out = canon__table_make(t->schema, cols, n, err);
  free(cols);
  return out;
}


/* Rows [start, start+n) of c without copying its values: buffers that alias
 * the column's own.  A string view keeps the column's offsets and whole
 * byte buffer, so its first offset is not 0: readers take a row's bytes at
 * strdata + off[i], and a column's bytes are off[0] .. off[length].  The
 * validity bitmap is aliased when start is a multiple of 8 (it then starts
 * on a byte), else copied shifted; it is dropped when the rows hold no
 * NULL. */
canon__column *canon__column_view(const canon__column *c, int64_t start, int64_t n) {
  canon__column *out = canon__calloc(1, sizeof *out);
  if (!out) return NULL;
  out->refs = 1;
  out->type = c->type;
  out->length = n;
  if (c->validity && start % 8 == 0) {
    const uint8_t *v = c->validity->data + start / 8;
    int64_t valid = 0;
    for (int64_t k = 0; k < n; k++) valid += (v[k >> 3] >> (k & 7)) & 1;
    out->null_count = n - valid;
    if (out->null_count &&
        !(out->validity = canon__buffer_alias(c->validity, (size_t)(start / 8), (size_t)(n + 7) / 8)))
      goto oom;
  } else if (c->validity) {
    /* copied shifted; counts the NULLs and drops a bitmap without any */
    if (gather_validity(c, NULL, start, n, &out->validity, &out->null_count) != 0) goto oom;
  }
  size_t w = canon__type_width(c->type);
  out->values = canon__buffer_alias(c->values, (size_t)start * w,
                                    (size_t)(n + (c->type == CANON_STRING)) * w);
  if (!out->values) goto oom;
  if (c->type == CANON_STRING) {
    out->strdata = canon__buffer_ref(c->strdata);
    if (c->dict) {
      out->codes = canon__buffer_alias(c->codes, (size_t)start * sizeof(uint32_t),
                                       (size_t)n * sizeof(uint32_t));
      if (!out->codes) goto oom;
      out->dict = canon__dict_ref(c->dict);
    }
  }
  return out;
oom:
  canon__column_unref(out);
  return NULL;
}

static canon__column *view_col(const canon__column *c, const int64_t *idx, int64_t start,
                               int64_t n) {
  (void)idx;
  return canon__column_view(c, start, n);
}

canon_table *canon__table_view_rows(const canon_table *t, int64_t start, int64_t n,
                                    canon_error *err) {
  if (start < 0 || n < 0 || start + n > t->nrows) {
    canon__seterr(err, CANON_ERR_INTERNAL, "view [%lld, +%lld) outside %lld rows",
                  (long long)start, (long long)n, (long long)t->nrows);
    return NULL;
  }
  return map_columns(t, view_col, NULL, start, n, err);
}

/* A large take in random order (a sort's) builds one blocked plan for all
 * its columns (gather_blocked.c) when at least GPLAN_MIN_COLS columns have
 * values it can move (the plan costs about what it saves on three or four
 * columns); else each column is gathered directly. */
#define GPLAN_MIN_COLS 4
canon_table *canon__table_take(const canon_table *t, const int64_t *idx, int64_t n,
                               canon_error *err) {
  int nc = t->schema->n, movable = 0;
  for (int i = 0; i < nc; i++)
    movable += t->cols[i]->type != CANON_STRING || t->cols[i]->dict != NULL;
  canon__gplan *plan = NULL;
  if (movable >= GPLAN_MIN_COLS && canon__gplan_wanted(idx, n, t->nrows))
    plan = canon__gplan_new(idx, n, t->nrows); /* NULL (short of memory): directly */
  canon__column **cols = canon__calloc((size_t)(nc ? nc : 1), sizeof *cols);
  if (!cols) {
    canon__gplan_free(plan);
    canon__nomem(err);
    return NULL;
  }
  for (int i = 0; i < nc; i++)
    if (!(cols[i] = gather_col(t->cols[i], idx, n, false, plan))) {
      for (int j = 0; j < i; j++) canon__column_unref(cols[j]);
      free(cols);
      canon__gplan_free(plan);
      canon__nomem(err);
      return NULL;
    }
  canon__gplan_free(plan);
  canon_table *out = canon__table_make(t->schema, cols, n, err);
  free(cols);
  return out;
}

canon_table *canon__table_slice(const canon_table *t, int64_t start, int64_t n,
                                canon_error *err) {
  /* (the view checks the range) */
  if (start == 0 && n == t->nrows) return canon__table_share(t, err);
  return canon__table_view_rows(t, start, n, err);
}

canon_table *canon__table_share(const canon_table *t, canon_error *err) {
  canon__column **cols = canon__calloc((size_t)t->schema->n, sizeof *cols);
  if (!cols) {
    canon__nomem(err);
    return NULL;
  }
  for (int i = 0; i < t->schema->n; i++) cols[i] = canon__column_ref(t->cols[i]);
  canon_table *out = canon__table_make(t->schema, cols, t->nrows, err);
  free(cols);
  return out;
}

/* ---- concatenation ------------------------------------------------------ */

/* Copying column i of the parts into `out`, whose buffers are allocated:
 * part p's rows start at row row_at[p] and (strings) byte byte_at[p];
 * dictionary codes (when `codes`) go through maps[p]. */
typedef struct cc_copy {
  canon_table *const *parts;
  int n, i;
  canon__column *out;
  const int64_t *row_at, *byte_at;
  uint32_t *codes;
  uint32_t *const *maps;
  int next; /* the next part to copy (shared by the copying threads) */
} cc_copy;

void canon__concat_copy_part(const canon__column *c, uint8_t *values, uint8_t *strdata,
                             int64_t row_at, int64_t byte_at) {
  if (c->type == CANON_STRING) {
    const int64_t *co = canon__i64(c);
    int64_t *off = (int64_t *)values + row_at;
    if (co[c->length] > co[0])
      memcpy(strdata + byte_at, c->strdata->data + co[0], (size_t)(co[c->length] - co[0]));
    int64_t shift = byte_at - co[0];
    for (int64_t k = 0; k < c->length; k++) off[k + 1] = co[k + 1] + shift;
  } else {
    size_t w = canon__type_width(c->type);
    if (c->length) memcpy(values + (size_t)row_at * w, c->values->data, (size_t)c->length * w);
  }
}

void canon__concat_offsets(canon_table *const *parts, int n, int i, int64_t *row_at,
                           int64_t *byte_at) {
  row_at[0] = byte_at[0] = 0;
  for (int p = 0; p < n; p++) {
    const canon__column *c = parts[p]->cols[i];
    row_at[p + 1] = row_at[p] + c->length;
    byte_at[p + 1] = byte_at[p];
    if (c->type == CANON_STRING) byte_at[p + 1] += canon__i64(c)[c->length] - canon__i64(c)[0];
  }
}

static void cc_part(const cc_copy *j, int p) {
  const canon__column *c = j->parts[p]->cols[j->i];
  canon__concat_copy_part(c, j->out->values->data, j->out->strdata ? j->out->strdata->data : NULL,
                          j->row_at[p], j->byte_at[p]);
  if (j->codes) canon__dict_codes_part(c, j->maps[p], j->codes + j->row_at[p]);
}

static void *cc_worker(void *arg) {
  cc_copy *j = arg;
  for (int p; (p = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->n;) cc_part(j, p);
  return NULL;
}

/* OR bits [0, len) of src (NULL: all set) into dst from bit `at`, a byte
 * at a time (bits of src past len are not read as set). */
void canon__bits_or(uint8_t *dst, int64_t at, const uint8_t *src, int64_t len) {
  int s = (int)(at & 7);
  uint8_t *d = dst + (at >> 3);
  for (int64_t k = 0; k * 8 < len; k++) {
    unsigned b = src ? src[k] : 0xffu;
    if (len - k * 8 < 8) b &= (1u << (len - k * 8)) - 1;
    d[k] |= (uint8_t)(b << s);
    if (s && (b >> (8 - s))) d[k + 1] |= (uint8_t)(b >> (8 - s));
  }
}

/* Run fn(arg) on up to `threads` threads (at most 8, the caller's among
 * them), each taking items in turn from a shared counter in arg; a thread
 * that cannot be started leaves its share to the others.  The caller runs
 * first(first_arg), when given, once the others have started. */
static void run_threads_after(void *(*fn)(void *), void *arg, int threads, void (*first)(void *),
                              void *first_arg) {
  pthread_t tid[8];
  int started = 0;
  for (int t = 1; t < threads && t < 8; t++)
    if (pthread_create(&tid[started], NULL, fn, arg) == 0) started++;
  if (first) first(first_arg);
  fn(arg);
  for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
}

void canon__run_threads(void *(*fn)(void *), void *arg, int threads) {
  run_threads_after(fn, arg, threads, NULL, NULL);
}

int canon__threads_for(size_t bytes) {
  if (bytes < ((size_t)8 << 20)) return 1;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus;
}

/* Releasing column i of every part (a consuming concatenation), and with
 * `trim` giving the memory back to the kernel at once (memtune.c). */
typedef struct cc_release {
  canon_table *const *parts;
  int n, i;
  bool trim;
} cc_release;

static void cc_release_col(void *arg) {
  const cc_release *r = arg;
  for (int p = 0; p < r->n; p++) {
    canon__column_unref(r->parts[p]->cols[r->i]);
    r->parts[p]->cols[r->i] = NULL;
  }
  /* Kept for reuse, the parts' freed columns (in the malloc arenas of the
   * threads that made them) would stay next to the whole result. */
  if (r->trim) canon__memtune_release();
}

/* When column i of the parts lies in one buffer, each part's values right
 * after the previous part's (a load written into the table it keeps,
 * load_sink.c, or views of one table), that span of the buffer: the
 * concatenation without a copy.  Only for a span of at least half the
 * buffer, so that a small result never keeps a big buffer alive.  NULL
 * otherwise (and when out of memory: the copy then reports it). */
static canon__buffer *cc_adopt(canon_table *const *parts, int n, int i, int64_t total) {
  const canon__column *c0 = parts[0]->cols[i];
  canon__buffer *parent = canon__buffer_parent(c0->values);
  if (!parent || c0->type == CANON_STRING) return NULL;
  size_t w = canon__type_width(c0->type);
  if ((size_t)total * w < parent->size / 2) return NULL;
  const uint8_t *at = c0->values->data;
  for (int p = 0; p < n; p++) {
    const canon__column *c = parts[p]->cols[i];
    if (canon__buffer_parent(c->values) != parent || c->values->data != at ||
        c->values->size < (size_t)c->length * w)
      return NULL;
    at += (size_t)c->length * w;
  }
  return canon__buffer_alias(parent, (size_t)(c0->values->data - parent->data),
                             (size_t)total * w);
}

/* Concatenate column i of every part; with `parallel`, big columns are
 * copied by several threads (part by part: the destinations do not overlap),
 * dictionary codes included.  `release` (or NULL): the previous column's
 * release, which the calling thread makes while the others start copying
 * (giving pages back is the kernel's work, as faulting them in is). */
static canon__column *concat_col(canon_table *const *parts, int n, int i, int64_t total,
                                 bool parallel, cc_release *release) {
  canon__column *out = canon__calloc(1, sizeof *out);
  int64_t *row_at = canon__calloc((size_t)n + 1, sizeof *row_at);
  int64_t *byte_at = canon__calloc((size_t)n + 1, sizeof *byte_at);
  uint32_t **maps = canon__calloc((size_t)n, sizeof *maps);
  canon__dict *merged = NULL;
  if (out) out->refs = 1; /* so the oom path's unref frees it */
  if (!out || !row_at || !byte_at || !maps) goto oom;
  canon_type ty = parts[0]->cols[i]->type;
  size_t w = canon__type_width(ty);
  out->type = ty;
  out->length = total;
  canon__concat_offsets(parts, n, i, row_at, byte_at);
  int64_t nulls = 0;
  for (int p = 0; p < n; p++) nulls += parts[p]->cols[i]->null_count;
  out->null_count = nulls;
  if (nulls) {
    out->validity = canon__buffer_new((size_t)(total / 8 + 1));
    if (!out->validity) goto oom;
    memset(out->validity->data, 0, (size_t)(total / 8 + 1));
    out->validity->size = (size_t)(total + 7) / 8;
    for (int p = 0; p < n; p++) {
      const canon__column *c = parts[p]->cols[i];
      canon__bits_or(out->validity->data, row_at[p], c->validity ? c->validity->data : NULL, c->length);
    }
  }
  size_t bytes = ty == CANON_STRING ? (size_t)byte_at[n] : 0;
  if ((out->values = cc_adopt(parts, n, i, total))) {
    if (release) cc_release_col(release);
    goto done;
  }
  out->values = canon__buffer_new((size_t)(total + (ty == CANON_STRING)) * w);
  if (!out->values || (ty == CANON_STRING && !(out->strdata = canon__buffer_new(bytes)))) goto oom;
  out->values->size = (size_t)(total + (ty == CANON_STRING)) * w;
  if (ty == CANON_STRING) {
    ((int64_t *)out->values->data)[0] = 0;
    out->strdata->size = bytes;
    /* The concatenation's dictionary (when every part has one): its
     * codes are written by the copying threads. */
    if (canon__dict_concat_plan(parts, n, i, &merged, maps) != 0) goto oom;
    if (merged) {
      if (!(out->codes = canon__buffer_new((size_t)total * sizeof(uint32_t)))) goto oom;
      out->codes->size = (size_t)total * sizeof(uint32_t);
    }
  }
  cc_copy j = {parts, n, i, out, row_at, byte_at, out->codes ? (uint32_t *)out->codes->data : NULL,
               maps, 0};
  /* Threads pay off once there are megabytes to copy (and fault in). */
  run_threads_after(cc_worker, &j, parallel ? canon__threads_for(out->values->size + bytes) : 1,
                    release ? cc_release_col : NULL, release);
  out->dict = merged;
done:
  canon__dict_maps_free(maps, n);
  free(maps);
  free(row_at);
  free(byte_at);
  return out;
oom:
  if (release) cc_release_col(release);
  if (maps) canon__dict_maps_free(maps, n);
  free(maps);
  canon__dict_unref(merged);
  free(row_at);
  free(byte_at);
  canon__column_unref(out);
  return NULL;
}

bool canon__table_concat_check(canon_table *const *parts, int n, int code, canon_error *err) {
  if (!parts || n <= 0) {
    canon__seterr(err, code, "concat of no tables");
    return false;
  }
  for (int p = 1; p < n; p++)
    if (!canon__schema_equal(parts[0]->schema, parts[p]->schema)) {
      canon__seterr(err, code, "concat of tables with different schemas");
      return false;
    }
  return true;
}

/* Concatenate n >= 2 checked parts column by column; `consume`: release
 * each part's column once it has been copied (while the next column is
 * being copied), and `trim`: give the memory it held back to the kernel
 * then. */
static canon_table *concat_parts(canon_table *const *parts, int n, bool consume, bool trim,
                                 bool parallel, canon_error *err) {
  int64_t total = 0;
  for (int p = 0; p < n; p++) total += parts[p]->nrows;
  int nc = parts[0]->schema->n;
  canon__column **cols = canon__calloc((size_t)(nc ? nc : 1), sizeof *cols);
  if (!cols) {
    canon__nomem(err);
    return NULL;
  }
  for (int i = 0; i < nc; i++) {
    cc_release prev = {parts, n, i - 1, trim};
    if (!(cols[i] = concat_col(parts, n, i, total, parallel, consume && i > 0 ? &prev : NULL))) {
      for (int j = 0; j < i; j++) canon__column_unref(cols[j]);
      free(cols);
      canon__nomem(err);
      return NULL;
    }
  }
  if (consume && nc > 0) cc_release_col(&(cc_release){parts, n, nc - 1, trim});
  canon_table *out = canon__table_make(parts[0]->schema, cols, total, err);
  free(cols);
  return out;
}

canon_table *canon__table_concat(canon_table *const *parts, int n, canon_error *err) {
  if (!canon__table_concat_check(parts, n, CANON_ERR_INTERNAL, err)) return NULL;
  if (n == 1) return canon__table_share(parts[0], err);
  return concat_parts(parts, n, false, false, false, err);
}

static canon_table *concat_free(canon_table **parts, int n, bool release, canon_error *err) {
  canon_table *out = NULL;
  if (n == 1) {
    out = parts[0];
    parts[0] = NULL;
  } else if (canon__table_concat_check(parts, n, CANON_ERR_INTERNAL, err)) {
    /* Called on the driver once an engine has finished (persist,
     * collect): its cores are idle, so a big copy is shared out. */
    out = concat_parts(parts, n, true, release, true, err);
  }
  for (int p = 0; p < n; p++) canon_table_free(parts[p]), parts[p] = NULL;
  return out;
}

/* Concatenate and consume the parts: each part's column is released as soon
 * as it has been copied, so the peak is the result plus one column of the
 * parts rather than twice the table.  The parts are freed (and set to NULL)
 * whether or not the concatenation succeeds.  Their memory stays with
 * malloc for the next job to reuse (memtune.c). */
canon_table *canon__table_concat_free(canon_table **parts, int n, canon_error *err) {
  return concat_free(parts, n, false, err);
}

/* The same for a table the session keeps (persist): the memory of each
 * part's column goes back to the kernel once copied.  Kept, it would sit
 * next to the table for the whole session (twice the table after a load);
 * trimming costs the next job page faults, which a collect's answer,
 * made once per job, would pay every time. */
canon_table *canon__table_concat_keep(canon_table **parts, int n, canon_error *err) {
  return concat_free(parts, n, true, err);
}

int64_t canon__table_bytes(const canon_table *t) {
  int64_t b = 0;
  for (int i = 0; i < t->schema->n; i++) {
    const canon__column *c = t->cols[i];
    b += (int64_t)c->values->size;
    if (c->validity) b += (int64_t)c->validity->size;
    if (c->strdata) b += canon__i64(c)[c->length] - canon__i64(c)[0];
  }
  return b;
}

/* ---- public accessors ---------------------------------------------------- */

int64_t canon_table_num_rows(const canon_table *t) { return t ? t->nrows : 0; }
int canon_table_num_columns(const canon_table *t) { return t ? t->schema->n : 0; }
const canon_schema *canon_table_schema(const canon_table *t) { return t ? t->schema : NULL; }

const char *canon_table_column_name(const canon_table *t, int col) {
  return canon_schema_field_name(t->schema, col);
}

canon_type canon_table_column_type(const canon_table *t, int col) {
  return canon_schema_field_type(t->schema, col);
}

int canon_table_find_column(const canon_table *t, const char *name) {
  return canon_schema_find(t->schema, name);
}

static bool in_range(const canon_table *t, int col, int64_t row) {
  return t && col >= 0 && col < t->schema->n && row >= 0 && row < t->nrows;
}

int canon_table_is_null(const canon_table *t, int col, int64_t row) {
  if (!in_range(t, col, row)) return 1;
  return !canon__valid(t->cols[col], row);
}

int canon_table_get_bool(const canon_table *t, int col, int64_t row) {
  if (!in_range(t, col, row) || t->cols[col]->type != CANON_BOOL) return 0;
  return canon__u8(t->cols[col])[row] != 0;
}

int64_t canon_table_get_int64(const canon_table *t, int col, int64_t row) {
  if (!in_range(t, col, row)) return 0;
  const canon__column *c = t->cols[col];
  switch (c->type) {
  case CANON_INT64:
  case CANON_TIMESTAMP: return canon__i64(c)[row];
  case CANON_DATE: return canon__i32(c)[row];
  case CANON_BOOL: return canon__u8(c)[row];
  default: return 0;
  }
}

double canon_table_get_float64(const canon_table *t, int col, int64_t row) {
  if (!in_range(t, col, row)) return 0.0;
  const canon__column *c = t->cols[col];
  if (c->type == CANON_FLOAT64) return canon__f64(c)[row];
  if (c->type == CANON_INT64) return (double)canon__i64(c)[row];
  return 0.0;
}

const char *canon_table_get_string(const canon_table *t, int col, int64_t row, size_t *len) {
  size_t dummy;
  if (!len) len = &dummy;
  *len = 0;
  if (!in_range(t, col, row) || t->cols[col]->type != CANON_STRING) return NULL;
  return canon__str(t->cols[col], row, len);
}
