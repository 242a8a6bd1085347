/* alloc.c — checked allocation wrappers.
 *
 * All core allocation goes through these so that size arithmetic overflow
 * is caught in one place and a fault-injection mode can be added here. */
#include "internal.h"

#include <stdio.h>

void *canon__malloc(size_t n) { return malloc(n ? n : 1); }

void *canon__calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }

void *canon__realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }

void *canon__reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) return NULL;
  return realloc(p, total ? total : 1);
}

char *canon__strdup(const char *s) {
  if (!s) return NULL;
  return canon__strndup(s, strlen(s));
}

char *canon__strndup(const char *s, size_t n) {
  char *r = canon__malloc(n + 1);
  if (!r) return NULL;
  memcpy(r, s, n);
  r[n] = '\0';
  return r;
}

char *canon__asprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *out = NULL;
  int n = vasprintf(&out, fmt, ap);
  va_end(ap);
  return n < 0 ? NULL : out;
}
