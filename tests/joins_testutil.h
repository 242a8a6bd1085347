/* joins_testutil.h — helpers shared by test_join.c and test_setops.c. */
#ifndef CANON_JOINS_TESTUTIL_H
#define CANON_JOINS_TESTUTIL_H

#include "testutil.h"

static const int JT_PARTS[] = {1, 2, 3, 8};
#define JT_NPARTS 4
/* Engine settings every plan runs on; %d is the partition count. */
static const char *const JT_ENGINES[] = {"serial:partitions=%d",
                                         "threads:workers=2,partitions=%d"};
#define JT_NENGINES 2

/* A plan over session s; `arg` is the test's own data. */
typedef canon_df *(*jt_plan_fn)(canon_session *s, const void *arg);

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

/* Run `plan` on every engine at every partition count; the CSV results
 * must be identical (after sorting lines when `unordered`).  Returns the
 * first result (sorted when unordered). */
static inline char *jt_run(jt_plan_fn plan, const void *arg, bool unordered) {
  char *first = NULL;
  for (int i = 0; i < JT_NPARTS * JT_NENGINES; i++) {
    char engine[64];
    snprintf(engine, sizeof engine, JT_ENGINES[i / JT_NPARTS], JT_PARTS[i % JT_NPARTS]);
    canon_session *s = tu_open(engine);
    char *csv = tu_collect_csv(plan(s, arg));
    if (unordered) {
      char *sorted = jt_sorted(csv);
      free(csv);
      csv = sorted;
    }
    canon_session_close(s);
    if (!first) {
      first = csv;
    } else {
      cr_assert_str_eq(csv, first, "%s differs from %s", engine, "serial:partitions=1");
      free(csv);
    }
  }
  return first;
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

/* Write df as plan JSON, read it into a fresh session, write again: the
 * texts must be the same bytes, and the plan read back must give the same
 * rows.  Returns the JSON text. */
static inline char *jt_round_trip(canon_df *df, bool unordered) {
  canon_error err;
  char *json = canon_plan_to_json(df, NULL, &err);
  cr_assert(json, "to_json: %s", err.message);
  canon_session *s = tu_open("serial:partitions=3");
  canon_df *root = NULL;
  cr_assert_eq(canon_plan_from_json(s, json, "plan.json", &root, NULL, &err), 0, "%s\n%s",
               err.message, json);
  char *again = canon_plan_to_json(root, NULL, &err);
  cr_assert(again, "%s", err.message);
  cr_assert_str_eq(again, json);
  char *a = tu_collect_csv(df), *b = tu_collect_csv(root);
  if (unordered) {
    char *sa = jt_sorted(a), *sb = jt_sorted(b);
    free(a), free(b);
    a = sa, b = sb;
  }
  cr_assert_str_eq(a, b);
  free(a), free(b), free(again);
  canon_session_close(s);
  return json;
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
