/* stress_engines — a plain program (no Criterion, so it also runs under
 * ThreadSanitizer) that runs aggregate, sort, transform and limit plans on
 * the threads engine with many partitions and small and large worker
 * counts, and checks every result equals the serial engine's.
 * Exit status 0 when all agree. */
#include "canon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *to_csv(canon_table *t) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  canon_error err;
  if (!f || canon_table_write_csv_file(t, f, &err) != 0) {
    fprintf(stderr, "write: %s\n", err.message);
    exit(1);
  }
  fclose(f);
  return buf;
}

static int cmp_lines(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort the lines after the header (for results of undefined order). */
static char *sorted(char *csv) {
  size_t n = 0, cap = 1024;
  char **lines = malloc(cap * sizeof *lines);
  for (char *save = NULL, *l = strtok_r(csv, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    if (n == cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
    lines[n++] = l;
  }
  if (n > 2) qsort(lines + 1, n - 1, sizeof *lines, cmp_lines);
  size_t total = 1;
  for (size_t i = 0; i < n; i++) total += strlen(lines[i]) + 1;
  char *out = malloc(total);
  size_t at = 0;
  for (size_t i = 0; i < n; i++) at += (size_t)sprintf(out + at, "%s\n", lines[i]);
  out[at] = '\0';
  free(lines);
  return out;
}

static int group_size(const canon_table *g, canon_builder *out, void *user, canon_error *err) {
  (void)user, (void)err;
  int rc = canon_builder_append_from(out, 0, g, 0, 0);
  return rc ? rc : canon_builder_append_int64(out, 1, canon_table_num_rows(g));
}

typedef canon_df *(*plan_fn)(canon_df *in, canon_error *err);

static canon_df *p_agg(canon_df *in, canon_error *err) {
  const char *keys[] = {"k"};
  canon_expr *aggs[] = {canon_sum(canon_col("v")), canon_count_star(), canon_min(canon_col("s"))};
  const char *names[] = {"sum_v", "n", "min_s"};
  return canon_aggregate(in, keys, 1, aggs, names, 3, err);
}

static canon_df *p_sort(canon_df *in, canon_error *err) {
  canon_sort_key k[] = {{.column = "k", .descending = 1}, {.column = "s", .nulls_first = 1}};
  return canon_limit(canon_sort(in, k, 2, err), 3000, err);
}

static canon_df *p_transform(canon_df *in, canon_error *err) {
  const char *by[] = {"k"};
  canon_partition_spec spec = {.by = by, .num_by = 1};
  return canon_transform(in, "group_size", "k:int64,n:int64", &spec, err);
}

/* The table written to a CSV file, then read back whole on each engine,
 * by a collect and by a persist: on the threads engine the read tasks
 * write their number columns into the kept table's buffers at once
 * (core/src/load_sink.c), which ThreadSanitizer watches here.  Returns
 * the number of failures. */
static int check_loads(const canon_table *t, const char *const *engines, size_t n) {
  char path[] = "/tmp/canon-stress-XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  canon_error err;
  if (!f || canon_table_write_csv_file(t, f, &err) != 0) {
    fprintf(stderr, "cannot write %s\n", path);
    return 1;
  }
  fclose(f);
  canon_csv_options opts = {.schema = "k:int64,v:float64,s:string"};
  char *expect = NULL;
  int failures = 0;
  for (size_t e = 0; e < n; e++) {
    canon_config *c = canon_config_new();
    canon_config_set_engine(c, engines[e], &err);
    canon_session *s = canon_session_open(c, &err);
    canon_config_free(c);
    canon_table *got[2] = {
        s ? canon_collect(canon_read_csv(s, path, &opts, &err), &err) : NULL,
        s ? canon_collect(canon_persist(canon_read_csv(s, path, &opts, &err), &err), &err) : NULL};
    for (int k = 0; k < 2; k++) {
      if (!got[k]) {
        fprintf(stderr, "load on %s: %s\n", engines[e], err.message);
        failures++;
        continue;
      }
      char *csv = to_csv(got[k]);
      canon_table_free(got[k]);
      if (!expect) {
        expect = csv;
        continue;
      }
      int same = strcmp(expect, csv) == 0;
      printf("%s %s on %s\n", same ? "ok  " : "FAIL", k ? "persisted load" : "load", engines[e]);
      failures += !same;
      free(csv);
    }
    canon_session_close(s);
  }
  free(expect);
  unlink(path);
  return failures;
}

int main(void) {
  canon_error err;
  canon_register_transform("group_size", group_size, NULL, &err);
  /* 20000 rows: skewed keys (half the rows in key 0), NULLs, duplicates. */
  canon_schema *sch = canon_schema_parse("k:int64,v:float64,s:string", &err);
  canon_builder *b = canon_builder_new(sch, &err);
  uint64_t x = 12345;
  for (int i = 0; i < 20000; i++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    int k = (x >> 33) % 2 ? 0 : (int)((x >> 40) % 300);
    if (i % 97 == 0)
      canon_builder_append_null(b, 0);
    else
      canon_builder_append_int64(b, 0, k);
    canon_builder_append_float64(b, 1, (double)((x >> 20) % 1000) / 8.0);
    char s[16];
    int len = snprintf(s, sizeof s, "s%d", (int)((x >> 50) % 50));
    if (i % 13 == 0)
      canon_builder_append_null(b, 2);
    else
      canon_builder_append_string(b, 2, s, (size_t)len);
  }
  canon_table *t = canon_builder_finish(b, &err);
  canon_builder_free(b);
  canon_schema_free(sch);
  struct { const char *name; plan_fn fn; int ordered; } plans[] = {
    {"aggregate", p_agg, 0}, {"sort+limit", p_sort, 1}, {"transform", p_transform, 0}};
  const char *engines[] = {"serial", "threads:workers=2,partitions=8", "threads:workers=4,partitions=3",
                           "threads:workers=3,partitions=16", "processes:workers=2,partitions=8",
                           "processes:workers=3,partitions=16"};
  int failures = 0;
  for (size_t p = 0; p < sizeof plans / sizeof plans[0]; p++) {
    char *expect = NULL;
    for (size_t e = 0; e < sizeof engines / sizeof engines[0]; e++) {
      canon_config *c = canon_config_new();
      canon_config_set_engine(c, engines[e], &err);
      canon_session *s = canon_session_open(c, &err);
      canon_config_free(c);
      if (!s) {
        fprintf(stderr, "%s: %s\n", engines[e], err.message);
        return 1;
      }
      canon_table *res = canon_collect(plans[p].fn(canon_from_table(s, t, &err), &err), &err);
      if (!res) {
        fprintf(stderr, "%s on %s: %s\n", plans[p].name, engines[e], err.message);
        return 1;
      }
      char *csv = to_csv(res);
      canon_table_free(res);
      if (!plans[p].ordered) {
        char *sc = sorted(csv);
        free(csv);
        csv = sc;
      }
      if (!expect) {
        expect = csv;
      } else {
        int same = strcmp(expect, csv) == 0;
        printf("%s %s on %s\n", same ? "ok  " : "FAIL", plans[p].name, engines[e]);
        failures += !same;
        free(csv);
      }
      canon_session_close(s);
    }
    free(expect);
  }
  failures += check_loads(t, engines, sizeof engines / sizeof engines[0]);
  canon_table_free(t);
  printf("%d failed\n", failures);
  return failures ? 1 : 0;
}
