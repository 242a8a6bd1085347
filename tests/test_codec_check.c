/* test_codec_check.c — a decoding's row checks (core/src/codec_check.c)
 * run in chunks on several threads for big encodings: they find the same
 * faults as one pass, wherever a fault sits in its chunk (at a chunk's
 * first row too), and report the first column at fault.  Small tables go
 * the threaded way here by lowering its thresholds. */
#include "codec_testutil.h"

#include "canon_testing.h"

/* n rows: b bool (NULL every 7th), s string (NULL every 5th), i int64
 * (NULL every 3rd). */
static canon_table *rows(int n) {
  size_t cap = (size_t)n * 40 + 1, at = 0;
  char *text = malloc(cap);
  cr_assert(text);
  for (int r = 0; r < n; r++) {
    const char *b = r % 7 == 0 ? "" : r % 2 ? "true" : "false";
    char s[16] = "", i[16] = "";
    if (r % 5) snprintf(s, sizeof s, "s%d", r % 97);
    if (r % 3) snprintf(i, sizeof i, "%d", r * 7);
    at += (size_t)snprintf(text + at, cap - at, "%s,%s,%s\n", b, s, i);
  }
  canon_error err;
  canon_table *t = canon_testing_table("b:bool,s:string,i:int64", text, &err);
  cr_assert(t, "%s", err.message);
  free(text);
  return t;
}

/* Where section `which` (0 bitmap, 1 values, 2 string bytes) of column col
 * starts in an encoding (its header, descriptors and names, then each
 * column's sections, each padded to 8 bytes). */
static size_t section_at(const uint8_t *buf, int col, int which) {
  uint32_t nc;
  memcpy(&nc, buf + 16, 4);
  size_t at = 32 + (size_t)nc * 40, names = 0;
  for (uint32_t i = 0; i < nc; i++) {
    uint32_t len;
    memcpy(&len, buf + 32 + (size_t)i * 40 + 4, 4);
    names += len;
  }
  at += (names + 7) & ~(size_t)7;
  for (int i = 0; i <= col; i++)
    for (int k = 0; k < 3; k++) {
      if (i == col && k == which) return at;
      uint64_t size;
      memcpy(&size, buf + 32 + (size_t)i * 40 + 16 + (size_t)k * 8, 8);
      at += (size + 7) & ~(uint64_t)7;
    }
  return at;
}

/* The decoding's message (NULL: it decoded), one pass or in chunks of 64
 * rows on threads. */
static char *decode_message(const uint8_t *buf, size_t len, bool chunked) {
  size_t min = canon__check_threads_min;
  int64_t chunk = canon__check_chunk_rows;
  if (chunked) {
    canon__check_threads_min = 0;
    canon__check_chunk_rows = 64;
  }
  canon_error err;
  canon_error_clear(&err);
  canon_table *t = canon__table_decode(buf, len, &err);
  canon__check_threads_min = min;
  canon__check_chunk_rows = chunk;
  if (t) {
    canon_table_free(t);
    return NULL;
  }
  cr_assert_eq(err.code, CANON_ERR_PARSE, "%s", err.message);
  return strdup(err.message);
}

/* Decoding buf fails with a message holding `want`, both ways. */
static void assert_refused(const uint8_t *buf, size_t len, const char *want, const char *what) {
  for (int chunked = 0; chunked < 2; chunked++) {
    char *msg = decode_message(buf, len, chunked);
    cr_assert(msg, "%s (%s): decoded", what, chunked ? "in chunks" : "one pass");
    cr_assert(strstr(msg, want), "%s (%s): %s", what, chunked ? "in chunks" : "one pass", msg);
    free(msg);
  }
}

Test(codec_check, chunks_on_threads_give_the_same_table) {
  canon_table *t = rows(1000);
  size_t len;
  uint8_t *buf = ct_encode(t, &len);
  canon__check_threads_min = 0;
  canon__check_chunk_rows = 64;
  canon_error err;
  canon_table *got = canon__table_decode(buf, len, &err);
  canon__check_threads_min = (size_t)64 << 20;
  canon__check_chunk_rows = (int64_t)1 << 20;
  cr_assert(got, "%s", err.message);
  ct_assert_same_bits(got, t);
  canon_table_free(got);
  free(buf);
  canon_table_free(t);
}

Test(codec_check, faults_anywhere_in_a_chunk_are_found) {
  canon_table *t = rows(1000);
  size_t len;
  uint8_t *clean = ct_encode(t, &len);
  uint8_t *buf = malloc(len);
  cr_assert(buf);
  /* A string offset below the one before it: compared by the end of a
   * chunk (64, 128), by the start of the next (65, 129), and inside one
   * (700, 999: the last row). */
  int at_rows[] = {64, 65, 128, 129, 700, 999};
  for (size_t k = 0; k < sizeof at_rows / sizeof *at_rows; k++) {
    memcpy(buf, clean, len);
    uint8_t *off = buf + section_at(buf, 1, 1);
    int64_t before;
    memcpy(&before, off + (size_t)(at_rows[k] - 1) * 8, 8);
    cr_assert_gt(before, 0);
    before -= 1;
    memcpy(off + (size_t)at_rows[k] * 8, &before, 8);
    char what[64];
    snprintf(what, sizeof what, "offset %d", at_rows[k]);
    assert_refused(buf, len, "not monotone", what);
  }
  /* The last offset past the string bytes. */
  memcpy(buf, clean, len);
  {
    uint8_t *off = buf + section_at(buf, 1, 1);
    int64_t last;
    memcpy(&last, off + 1000 * 8, 8);
    last += 1;
    memcpy(off + 1000 * 8, &last, 8);
    assert_refused(buf, len, "do not end at the string bytes", "the end offset");
  }
  /* A NULL flipped to valid in a later chunk, and a bool of 2. */
  memcpy(buf, clean, len);
  buf[section_at(buf, 2, 0) + 900 / 8] ^= (uint8_t)(1u << (900 % 8));
  assert_refused(buf, len, "NULL count", "bitmap bit 900");
  memcpy(buf, clean, len);
  buf[section_at(buf, 0, 1) + 130] = 2;
  assert_refused(buf, len, "bool value", "bool at row 130");
  /* Two columns at fault: the first is the one reported. */
  buf[section_at(buf, 2, 0) + 900 / 8] ^= (uint8_t)(1u << (900 % 8));
  assert_refused(buf, len, "bool value", "bool and bitmap");
  free(buf);
  free(clean);
  canon_table_free(t);
}
