/* compare.c — the total order of values (SEMANTICS §2) and key equality
 * (§3), shared by sort, min/max, comparisons, grouping and joins. */
#include "kernels.h"

int canon__cmp_values(const canon__column *a, int64_t i, const canon__column *b, int64_t j) {
  switch (a->type) {
  case CANON_BOOL: return (int)canon__u8(a)[i] - (int)canon__u8(b)[j];
  case CANON_DATE: {
    int32_t x = canon__i32(a)[i], y = canon__i32(b)[j];
    return (x > y) - (x < y);
  }
  case CANON_INT64:
  case CANON_TIMESTAMP: {
    int64_t x = canon__i64(a)[i], y = canon__i64(b)[j];
    return (x > y) - (x < y);
  }
  case CANON_FLOAT64: return canon__cmp_f64(canon__f64(a)[i], canon__f64(b)[j]);
  case CANON_STRING: {
    size_t la, lb;
    const char *sa = canon__str(a, i, &la), *sb = canon__str(b, j, &lb);
    int c = memcmp(sa, sb, la < lb ? la : lb);
    if (c) return c < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
  }
  default: return 0;
  }
}

bool canon__key_equal(const canon__column *a, int64_t i, const canon__column *b, int64_t j) {
  bool va = canon__valid(a, i), vb = canon__valid(b, j);
  if (!va || !vb) return va == vb;
  return canon__cmp_values(a, i, b, j) == 0;
}
