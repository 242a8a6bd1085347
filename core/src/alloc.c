/* alloc.c — checked allocation wrappers.
 *
 * All core allocation goes through these (and column.c's aligned buffers
 * through canon__alloc_fails), so that size arithmetic overflow is caught
 * in one place and tests can make any one allocation fail: the unit tests
 * sweep "the k-th allocation from now fails" over an operation to prove
 * every out-of-memory path returns a clean error and leaks nothing. */
#include "internal.h"

#include <stdio.h>

/* Allocations left before the injected failure; 0: none armed. */
static long fail_countdown;

void canon__alloc_fail_after(long n) { __atomic_store_n(&fail_countdown, n > 0 ? n : 0, __ATOMIC_RELAXED); }

long canon__alloc_fail_pending(void) { return __atomic_load_n(&fail_countdown, __ATOMIC_RELAXED); }

bool canon__alloc_fails(void) {
  if (__builtin_expect(__atomic_load_n(&fail_countdown, __ATOMIC_RELAXED) == 0, 1)) return false;
  /* Exactly one allocation sees the count reach 0 (racing threads too). */
  long left = __atomic_load_n(&fail_countdown, __ATOMIC_RELAXED);
  while (left > 0 &&
         !__atomic_compare_exchange_n(&fail_countdown, &left, left - 1, false, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED)) {
  }
  return left == 1;
}

void *canon__malloc(size_t n) { return canon__alloc_fails() ? NULL : malloc(n ? n : 1); }

void *canon__calloc(size_t n, size_t size) {
  return canon__alloc_fails() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *canon__realloc(void *p, size_t n) { return canon__alloc_fails() ? NULL : realloc(p, n ? n : 1); }

void *canon__reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total) || canon__alloc_fails()) return NULL;
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
