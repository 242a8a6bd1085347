/* conformance_transforms.c — the fixed library of named transforms that
 * conformance cases may call (documented in conformance/README.md).
 *
 * Each one is small and deterministic given the rows of its call and their
 * order, so a case can state its output by hand. */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tf_error(canon_error *err, int code, const char *what) {
  if (err) {
    err->code = code;
    snprintf(err->message, sizeof err->message, "%s", what);
  }
  return code;
}

/* identity: every row, unchanged (output schema = input schema). */
static int tf_identity(const canon_table *g, canon_builder *out, void *ud, canon_error *err) {
  (void)ud;
  for (int64_t r = 0; r < canon_table_num_rows(g); r++) {
    int rc = canon_builder_append_row(out, g, r);
    if (rc) return tf_error(err, rc, "identity: the output schema must equal the input schema");
  }
  return 0;
}

/* count_rows: one row, n:int64 = the number of rows in the call. */
static int tf_count_rows(const canon_table *g, canon_builder *out, void *ud, canon_error *err) {
  (void)ud;
  if (canon_builder_append_int64(out, 0, canon_table_num_rows(g)))
    return tf_error(err, CANON_ERR_TYPE, "count_rows: the output schema must be n:int64");
  return 0;
}

/* first_row / last_row: the first (last) row of the call, unchanged. */
static int tf_first_row(const canon_table *g, canon_builder *out, void *ud, canon_error *err) {
  (void)ud;
  int rc = canon_builder_append_row(out, g, 0);
  return rc ? tf_error(err, rc, "first_row: the output schema must equal the input schema") : 0;
}

static int tf_last_row(const canon_table *g, canon_builder *out, void *ud, canon_error *err) {
  (void)ud;
  int rc = canon_builder_append_row(out, g, canon_table_num_rows(g) - 1);
  return rc ? tf_error(err, rc, "last_row: the output schema must equal the input schema") : 0;
}

/* group_summary: one row (k, n, s): k = column 0 of the first row, n = the
 * row count, s = the sum of the int64 column 1 skipping NULLs (NULL when
 * there is none).  Output schema: <type of column 0>, int64, int64. */
static int tf_group_summary(const canon_table *g, canon_builder *out, void *ud, canon_error *err) {
  (void)ud;
  if (canon_table_num_columns(g) < 2 || canon_table_column_type(g, 1) != CANON_INT64)
    return tf_error(err, CANON_ERR_TYPE, "group_summary: the input needs an int64 column 1");
  int64_t n = canon_table_num_rows(g), sum = 0, seen = 0;
  for (int64_t r = 0; r < n; r++) {
    if (canon_table_is_null(g, 1, r)) continue;
    if (__builtin_add_overflow(sum, canon_table_get_int64(g, 1, r), &sum))
      return tf_error(err, CANON_ERR_OVERFLOW, "group_summary: the sum overflows int64");
    seen++;
  }
  int rc = canon_builder_append_from(out, 0, g, 0, 0);
  if (!rc) rc = canon_builder_append_int64(out, 1, n);
  if (!rc) rc = seen ? canon_builder_append_int64(out, 2, sum) : canon_builder_append_null(out, 2);
  return rc ? tf_error(err, rc, "group_summary: the output schema must be (k, n:int64, s:int64)") : 0;
}

/* group_concat: one row (k, s): k = column 0 of the first row, s = the
 * canonical texts of column 1 in call order joined by "|", NULL as "NULL".
 * It shows the order rows reached the function. */
static int tf_group_concat(const canon_table *g, canon_builder *out, void *ud, canon_error *err) {
  (void)ud;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return tf_error(err, CANON_ERR_NOMEM, "group_concat: out of memory");
  for (int64_t r = 0; r < canon_table_num_rows(g); r++) {
    if (r) fputc('|', f);
    if (canon_table_is_null(g, 1, r)) {
      fputs("NULL", f);
      continue;
    }
    char small[128];
    size_t need = canon_table_format_value(g, 1, r, small, sizeof small);
    if (need < sizeof small) {
      fwrite(small, 1, need, f);
    } else {
      char *big = malloc(need + 1);
      if (big) {
        canon_table_format_value(g, 1, r, big, need + 1);
        fwrite(big, 1, need, f);
      }
      free(big);
    }
  }
  if (fclose(f) != 0) {
    free(buf);
    return tf_error(err, CANON_ERR_NOMEM, "group_concat: out of memory");
  }
  int rc = canon_builder_append_from(out, 0, g, 0, 0);
  if (!rc) rc = canon_builder_append_string(out, 1, buf, len);
  free(buf);
  return rc ? tf_error(err, rc, "group_concat: the output schema must be (k, s:string)") : 0;
}

/* fail_on_value: like identity, but fails with "fail_on_value: found 'boom'
 * in row R of the call" when column 0 holds the string "boom". */
static int tf_fail_on_value(const canon_table *g, canon_builder *out, void *ud, canon_error *err) {
  for (int64_t r = 0; r < canon_table_num_rows(g); r++) {
    size_t len;
    const char *s = canon_table_column_type(g, 0) == CANON_STRING && !canon_table_is_null(g, 0, r)
                        ? canon_table_get_string(g, 0, r, &len)
                        : NULL;
    if (s && len == 4 && memcmp(s, "boom", 4) == 0) {
      char msg[96];
      snprintf(msg, sizeof msg, "fail_on_value: found 'boom' in row %lld of the call", (long long)r);
      return tf_error(err, CANON_ERR_INVALID, msg);
    }
  }
  return tf_identity(g, out, ud, err);
}

/* ragged_output: appends a value to column 0 only, breaking the contract
 * that every output column holds the same number of values. */
static int tf_ragged_output(const canon_table *g, canon_builder *out, void *ud, canon_error *err) {
  (void)ud;
  int rc = canon_builder_append_int64(out, 0, canon_table_num_rows(g));
  return rc ? tf_error(err, rc, "ragged_output: column 0 must be int64") : 0;
}

/* no_rows: returns nothing. */
static int tf_no_rows(const canon_table *g, canon_builder *out, void *ud, canon_error *err) {
  (void)g, (void)out, (void)ud, (void)err;
  return 0;
}

int conf_register_transforms(canon_error *err) {
  static const struct {
    const char *name;
    canon_transform_fn fn;
  } lib[] = {
    {"identity", tf_identity},
    {"count_rows", tf_count_rows},
    {"first_row", tf_first_row},
    {"last_row", tf_last_row},
    {"group_summary", tf_group_summary},
    {"group_concat", tf_group_concat},
    {"fail_on_value", tf_fail_on_value},
    {"ragged_output", tf_ragged_output},
    {"no_rows", tf_no_rows},
  };
  for (size_t i = 0; i < sizeof lib / sizeof lib[0]; i++) {
    int rc = canon_register_transform(lib[i].name, lib[i].fn, NULL, err);
    if (rc) return rc;
  }
  return 0;
}
