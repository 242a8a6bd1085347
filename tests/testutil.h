/* testutil.h — helpers shared by the Criterion tests. */
#ifndef CANON_TESTUTIL_H
#define CANON_TESTUTIL_H

#include <criterion/criterion.h>

#include "canon.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A deterministic generator for random test data: a test sets
 * tu_rnd_state first (Criterion runs each test in its own process). */
static uint64_t tu_rnd_state __attribute__((unused));
static inline uint64_t tu_rnd(void) {
  tu_rnd_state = tu_rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
  uint64_t x = tu_rnd_state;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}
static inline int64_t tu_rnd_below(int64_t n) { return (int64_t)(tu_rnd() % (uint64_t)n); }

/* Open a session on the given engine string; fails the test on error. */
static inline canon_session *tu_open(const char *engine) {
  canon_error err;
  canon_error_clear(&err);
  canon_config *c = canon_config_new();
  cr_assert(c);
  cr_assert_eq(canon_config_set_engine(c, engine, &err), 0, "%s", err.message);
  canon_session *s = canon_session_open(c, &err);
  canon_config_free(c);
  cr_assert(s, "open %s: %s", engine, err.message);
  return s;
}

/* The table as CSV text (malloc'd). */
static inline char *tu_csv(const canon_table *t) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert(f);
  canon_error err;
  cr_assert_eq(canon_table_write_csv_file(t, f, &err), 0, "%s", err.message);
  fclose(f);
  return buf;
}

/* Collect df and return its CSV text; fails the test on error. */
static inline char *tu_collect_csv(canon_df *df) {
  canon_error err;
  canon_error_clear(&err);
  canon_table *t = canon_collect(df, &err);
  cr_assert(t, "collect: %s", err.message);
  char *s = tu_csv(t);
  canon_table_free(t);
  return s;
}

/* Sort the lines after the header so unordered results compare. */
static inline int tu_cmp_lines(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline char *tu_sorted_lines(const char *csv) {
  char *copy = strdup(csv);
  size_t n = 0, cap = 64;
  char **lines = malloc(cap * sizeof *lines);
  cr_assert(copy && lines);
  for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    if (n == cap) {
      cap *= 2;
      lines = realloc(lines, cap * sizeof *lines);
      cr_assert(lines);
    }
    lines[n++] = l;
  }
  if (n > 2) qsort(lines + 1, n - 1, sizeof *lines, tu_cmp_lines);
  size_t len = strlen(csv) + 2;
  char *out = malloc(len);
  size_t at = 0;
  for (size_t i = 0; i < n; i++) at += (size_t)snprintf(out + at, len - at, "%s\n", lines[i]);
  out[at] = '\0';
  free(lines);
  free(copy);
  return out;
}

/* ---- every engine, every partition count --------------------------------- */

/* Partition counts and engine settings every plan test runs on (%d is the
 * partition count). */
static const int TU_PARTS[] = {1, 2, 3, 8};
/* Small CSV fixtures several test files share (header included): sales
 * rows with NULLs in every column, and region/units rows. */
#define TU_SALES_CSV \
  "region,item,units,price\n" \
  "north,apple,3,1.5\n" \
  "south,pear,,2.25\n" \
  ",apple,7,1.5\n" \
  "north,kiwi,1,0.1\n" \
  "south,apple,2,\n" \
  ",kiwi,4,0.2\n" \
  "east,pear,9,0.3\n" \
  "north,pear,3,1.5\n" \
  "east,kiwi,,\n" \
  "south,kiwi,5,0.25\n"

#define TU_REGION_UNITS_CSV \
  "region,units\n" \
  "north,3\n" \
  "south,\n" \
  "east,7\n" \
  "north,1\n" \
  "south,2\n" \
  "west,4\n" \
  "east,9\n" \
  "north,3\n" \
  "west,0\n" \
  "south,5\n"

#define TU_NPARTS 4
static const char *const TU_ENGINES[] = {"serial:partitions=%d", "threads:workers=2,partitions=%d",
                                         "threads:workers=3,partitions=%d",
                                         "processes:workers=2,partitions=%d"};
#define TU_NENGINES 4

typedef canon_df *(*tu_plan_fn)(canon_session *s, const void *arg);

/* Run `plan` on every engine at every partition count; the CSV results must
 * be identical (after sorting the lines when `unordered`).  Returns the
 * first result (sorted when unordered), malloc'd. */
static inline char *tu_run_everywhere(tu_plan_fn plan, const void *arg, bool unordered) {
  char *first = NULL;
  for (int i = 0; i < TU_NPARTS * TU_NENGINES; i++) {
    char engine[64];
    snprintf(engine, sizeof engine, TU_ENGINES[i / TU_NPARTS], TU_PARTS[i % TU_NPARTS]);
    canon_session *s = tu_open(engine);
    canon_df *df = plan(s, arg);
    cr_assert(df, "plan failed on %s", engine);
    char *csv = tu_collect_csv(df);
    if (unordered) {
      char *sorted = tu_sorted_lines(csv);
      free(csv);
      csv = sorted;
    }
    canon_session_close(s);
    if (!first) {
      first = csv;
    } else {
      cr_assert_str_eq(csv, first, "%s differs from serial:partitions=1", engine);
      free(csv);
    }
  }
  return first;
}

/* Write df as plan JSON, read it into a fresh session, write again: the
 * texts must be the same bytes, and the plan read back must give the same
 * rows (compared line-sorted when `unordered`).  Returns the JSON text. */
static inline char *tu_plan_roundtrip(canon_df *df, bool unordered) {
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
    char *sa = tu_sorted_lines(a), *sb = tu_sorted_lines(b);
    free(a), free(b);
    a = sa, b = sb;
  }
  cr_assert_str_eq(a, b);
  free(a), free(b), free(again);
  canon_session_close(s);
  return json;
}

/* A fresh temporary directory (caller removes it with tu_rmdir). */
static inline char *tu_tmpdir(void) {
  char *d = strdup("/tmp/canon-test-XXXXXX");
  cr_assert(mkdtemp(d));
  return d;
}

static inline void tu_rmdir(const char *d) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
  cr_assert_eq(system(cmd), 0);
}

/* Number of entries in a directory (excluding . and ..). */
#include <dirent.h>
static inline int tu_dir_entries(const char *d) {
  DIR *dir = opendir(d);
  cr_assert(dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dir)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(dir);
  return n;
}

static inline void tu_write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert(f, "%s", path);
  fputs(text, f);
  fclose(f);
}

/* The whole file as a string (malloc'd); fails the test if unreadable. */
static inline char *tu_read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert(f, "%s", path);
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  cr_assert(m);
  char chunk[65536];
  size_t got;
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, got, m);
  fclose(f);
  fclose(m);
  return buf;
}

#endif
