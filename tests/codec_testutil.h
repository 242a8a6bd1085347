/* codec_testutil.h — encoding a table for the codec tests (test_codec.c,
 * test_dict.c). */
#ifndef CANON_CODEC_TESTUTIL_H
#define CANON_CODEC_TESTUTIL_H

#include "testutil.h"

#include "internal.h"

/* t encoded into a malloc'd buffer of *len bytes. */
static inline uint8_t *ct_encode(const canon_table *t, size_t *len) {
  *len = canon__table_encoded_size(t);
  uint8_t *buf = malloc(*len);
  canon_error err;
  cr_assert(buf);
  cr_assert_eq(canon__table_encode_into(t, buf, *len, &err), 0, "%s", err.message);
  return buf;
}

#endif
