/* joins_testutil.h — helpers shared by test_join.c and test_setops.c. */
#ifndef CANON_JOINS_TESTUTIL_H
#define CANON_JOINS_TESTUTIL_H

#include "testutil.h"

/* A plan over session s; `arg` is the test's own data. */
typedef tu_plan_fn jt_plan_fn;

/* A source from a schema line and CSV rows (see canon_table_from_csv_text). */
static inline canon_df *jt_src(canon_session *s, const char *schema, const char *rows) {
  canon_error err;
  canon_table *t = canon_table_from_csv_text(schema, rows, &err);
  cr_assert(t, "table %s: %s", schema, err.message);
  canon_df *df = canon_from_table(s, t, &err);
  cr_assert(df, "%s", err.message);
  canon_table_free(t);
  return df;
}

/* Lines after the header sorted (a multiset compare); also used on the
 * hand-written expectations. */
static inline char *jt_sorted(const char *csv) { return tu_sorted_lines(csv); }

static inline char *jt_run(jt_plan_fn plan, const void *arg, bool unordered) {
  return tu_run_everywhere(plan, arg, unordered);
}

/* jt_run (unordered) and compare with the expectation `want` (any line
 * order after its header). */
static inline void jt_expect(jt_plan_fn plan, const void *arg, const char *want) {
  char *got = jt_run(plan, arg, true);
  char *w = jt_sorted(want);
  cr_assert_str_eq(got, w, "got:\n%s\nwant:\n%s", got, w);
  free(got);
  free(w);
}

static inline char *jt_round_trip(canon_df *df, bool unordered) {
  return tu_plan_roundtrip(df, unordered);
}

/* Occurrences of needle in hay. */
static inline int jt_count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

/* The physical plan of df as text. */
static inline char *jt_explain(canon_df *df) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert(f);
  canon_error err;
  cr_assert_eq(canon_explain(df, f, 1, 0, &err), 0, "%s", err.message);
  fclose(f);
  return buf;
}

#endif
