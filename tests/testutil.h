/* testutil.h — helpers shared by the Criterion tests. */
#ifndef CANON_TESTUTIL_H
#define CANON_TESTUTIL_H

#include <criterion/criterion.h>

#include "canon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
static inline char *tu_sorted_lines(const char *csv) {
  char *copy = strdup(csv);
  char *lines[4096];
  int n = 0;
  for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l && n < 4096; l = strtok_r(NULL, "\n", &save))
    lines[n++] = l;
  for (int i = 2; i < n; i++)
    for (int j = i; j > 1 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
      char *t = lines[j];
      lines[j] = lines[j - 1];
      lines[j - 1] = t;
    }
  size_t cap = strlen(csv) + 2;
  char *out = malloc(cap);
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    strcat(out, lines[i]);
    strcat(out, "\n");
  }
  free(copy);
  return out;
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

#endif
