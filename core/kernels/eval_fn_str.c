/* eval_fn_str.c — string functions: length, lower, upper, substring,
 * concat, starts_with, contains, trim, ltrim, rtrim.
 *
 * Strings are UTF-8.  A character (code point) starts at every byte that is
 * not a continuation byte (10xxxxxx), so positions and lengths count code
 * points and need no decoding; on bytes that are not valid UTF-8 the same
 * byte rule still gives a deterministic answer.  Case mapping and trimming
 * touch ASCII bytes only, so they never split a multi-byte character.
 * A NULL in any argument gives NULL. */
#include "eval_internal.h"

/* ---- helpers ------------------------------------------------------------- */

static bool is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

/* Whether row i is non-NULL in every one of a[0..k). */
static bool all_valid(canon__column *const *a, int k, int64_t i) {
  for (int j = 0; j < k; j++)
    if (!canon__valid(a[j], i)) return false;
  return true;
}

/* Byte offset where character `pos` (1-based, >= 1) starts; len when the
 * string has fewer characters.  Character 1 starts at byte 0. */
static size_t char_start(const char *s, size_t len, int64_t pos) {
  if (pos <= 1) return 0;
  int64_t seen = 0;
  for (size_t b = 0; b < len; b++)
    if (!is_cont((unsigned char)s[b]) && ++seen == pos) return b;
  return len;
}

/* Whether needle occurs in hay (an empty needle always does). */
static bool has_sub(const char *hay, size_t hn, const char *needle, size_t nn) {
  if (nn == 0) return true;
  for (size_t i = 0; i + nn <= hn; i++) {
    const char *p = memchr(hay + i, needle[0], hn - nn - i + 1);
    if (!p) return false;
    i = (size_t)(p - hay);
    if (memcmp(p, needle, nn) == 0) return true;
  }
  return false;
}

/* ---- one loop per result type -------------------------------------------- */

/* length / starts_with / contains: int64 or bool per row. */
static canon__column *ev_scalar_out(const canon_expr *e, canon__column *const *a, int64_t n,
                                    canon_error *err) {
  bool is_len = e->fn == CANON__F_LENGTH;
  canon__buffer *out = canon__ev_buffer((size_t)n * (is_len ? 8 : 1));
  canon__buffer *vb = canon__ev_bitmap(NULL, n);
  if (!out || !vb) {
    canon__buffer_unref(out);
    canon__buffer_unref(vb);
    canon__nomem(err);
    return NULL;
  }
  for (int64_t i = 0; i < n; i++) {
    int64_t r = 0;
    if (!all_valid(a, e->nargs, i)) {
      canon__ev_clear_bit(vb->data, i);
    } else {
      size_t sl, pl;
      const char *s = canon__str(a[0], i, &sl);
      if (is_len) {
        for (size_t b = 0; b < sl; b++) r += !is_cont((unsigned char)s[b]);
      } else {
        const char *p = canon__str(a[1], i, &pl);
        r = e->fn == CANON__F_STARTS_WITH ? pl <= sl && memcmp(s, p, pl) == 0
                                          : has_sub(s, sl, p, pl);
      }
    }
    if (is_len)
      ((int64_t *)out->data)[i] = r;
    else
      out->data[i] = (uint8_t)r;
  }
  canon__column *c = canon__ev_column(is_len ? CANON_INT64 : CANON_BOOL, n, out, vb, NULL);
  if (!c) canon__nomem(err);
  return c;
}

/* A reusable byte buffer for building one result value. */
typedef struct scratch {
  char *p;
  size_t cap;
} scratch;

/* At least n bytes of scratch space (never NULL for n = 0 unless OOM). */
static char *scratch_for(scratch *sc, size_t n) {
  if (n + 1 > sc->cap) {
    size_t cap = sc->cap ? sc->cap : 64;
    while (cap < n + 1) {
      if (cap > SIZE_MAX / 2) return NULL;
      cap *= 2;
    }
    char *p = canon__realloc(sc->p, cap);
    if (!p) return NULL;
    sc->p = p;
    sc->cap = cap;
  }
  return sc->p;
}

/* Append the result of a string-valued function for one non-NULL row;
 * 0, or an error code after reporting it. */
static int str_row(const canon_expr *e, canon__column *const *a, int64_t i,
                   canon__colbuilder *cb, scratch *sc, canon_error *err) {
  size_t sl;
  const char *s = canon__str(a[0], i, &sl);
  switch (e->fn) {
  case CANON__F_LOWER:
  case CANON__F_UPPER: {
    char *d = scratch_for(sc, sl);
    if (!d) return canon__nomem(err);
    bool up = e->fn == CANON__F_UPPER;
    for (size_t b = 0; b < sl; b++) {
      char ch = s[b];
      if (up && ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
      if (!up && ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
      d[b] = ch;
    }
    return canon__cb_str(cb, d, sl) ? canon__nomem(err) : 0;
  }
  case CANON__F_TRIM:
  case CANON__F_LTRIM:
  case CANON__F_RTRIM: {
    size_t lo = 0, hi = sl;
    if (e->fn != CANON__F_RTRIM)
      while (lo < hi && s[lo] == ' ') lo++;
    if (e->fn != CANON__F_LTRIM)
      while (hi > lo && s[hi - 1] == ' ') hi--;
    return canon__cb_str(cb, s + lo, hi - lo) ? canon__nomem(err) : 0;
  }
  case CANON__F_SUBSTRING: {
    /* SQL (PostgreSQL) rule: the characters at positions p with
     * start <= p < start + len, clipped to 1 .. length. */
    int64_t start = canon__i64(a[1])[i], len = -1, end = INT64_MAX;
    if (e->nargs > 2) {
      len = canon__i64(a[2])[i];
      if (len < 0)
        return canon__ev_error(err, CANON_ERR_INVALID, e, "negative substring length");
      if (__builtin_add_overflow(start, len, &end)) end = INT64_MAX;
    }
    size_t b0 = char_start(s, sl, start);
    size_t b1 = end <= start || end <= 1 ? b0 : char_start(s, sl, end);
    if (b1 < b0) b1 = b0;
    return canon__cb_str(cb, s + b0, b1 - b0) ? canon__nomem(err) : 0;
  }
  case CANON__F_CONCAT: {
    size_t total = 0;
    for (int k = 0; k < e->nargs; k++) {
      size_t l;
      canon__str(a[k], i, &l);
      if (__builtin_add_overflow(total, l, &total)) return canon__nomem(err);
    }
    char *d = scratch_for(sc, total);
    if (!d) return canon__nomem(err);
    size_t at = 0;
    for (int k = 0; k < e->nargs; k++) {
      size_t l;
      const char *p = canon__str(a[k], i, &l);
      if (l) memcpy(d + at, p, l);
      at += l;
    }
    return canon__cb_str(cb, d, total) ? canon__nomem(err) : 0;
  }
  default: return canon__ev_error(err, CANON_ERR_INTERNAL, e, "not a string function");
  }
}

/** The string functions over their evaluated arguments. */
canon__column *canon__ev_str(const canon_expr *e, canon__column *const *a, int64_t n,
                             canon_error *err) {
  if (e->fn == CANON__F_LENGTH || e->fn == CANON__F_STARTS_WITH || e->fn == CANON__F_CONTAINS)
    return ev_scalar_out(e, a, n, err);
  canon__colbuilder cb;
  if (canon__cb_init(&cb, CANON_STRING, n)) {
    canon__nomem(err);
    return NULL;
  }
  scratch sc = {0};
  for (int64_t i = 0; i < n; i++) {
    int rc = all_valid(a, e->nargs, i) ? str_row(e, a, i, &cb, &sc, err)
                                       : (canon__cb_null(&cb) ? canon__nomem(err) : 0);
    if (rc) {
      free(sc.p);
      canon__cb_reset(&cb);
      return NULL;
    }
  }
  free(sc.p);
  canon__column *c = canon__cb_finish(&cb);
  if (!c) canon__nomem(err);
  return c;
}
