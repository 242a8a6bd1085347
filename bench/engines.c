/* bench/engines — time the same plans on several engines.
 *
 *   ./build/bench/engines [--rows N] [--engines serial,threads] [--runs R]
 *
 * Builds an in-memory table of N rows (id:int64 uniform over N/100 keys,
 * k:string over 100 keys, v:float64 uniform [0,100)), then times, per
 * engine: a group-by (sum and mean of v by k, count by id) and a sort of all
 * rows by (k asc, v desc).  Prints one line per question and engine with the
 * best of R runs, the speedup over the first engine, and a checksum of the
 * answer that must agree across engines.  A join question joins every row
 * with a table of N/100 ids (hash strategy). */
#include "canon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static canon_table *make_table(int64_t n) {
  canon_error err;
  canon_schema *s = canon_schema_parse("id:int64,k:string,v:float64", &err);
  canon_builder *b = canon_builder_new(s, &err);
  int64_t nid = n / 100 > 0 ? n / 100 : 1;
  for (int64_t i = 0; i < n; i++) {
    char key[16];
    int len = snprintf(key, sizeof key, "id%03d", (int)(rng() % 100) + 1);
    canon_builder_append_int64(b, 0, (int64_t)(rng() % (uint64_t)nid) + 1);
    canon_builder_append_string(b, 1, key, (size_t)len);
    canon_builder_append_float64(b, 2, (double)(rng() % 100000000) / 1e6);
  }
  canon_table *t = canon_builder_finish(b, &err);
  canon_builder_free(b);
  canon_schema_free(s);
  return t;
}

/* Order-independent checksum of a table's CSV text lines. */
static uint64_t checksum(const canon_table *t) {
  uint64_t sum = 0;
  char buf[256];
  for (int64_t r = 0; r < canon_table_num_rows(t); r++) {
    uint64_t h = 1469598103934665603ULL;
    for (int c = 0; c < canon_table_num_columns(t); c++) {
      canon_table_format_value(t, c, r, buf, sizeof buf);
      for (const char *p = buf; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
      h = (h ^ 0xff) * 1099511628211ULL;
    }
    sum += h;
  }
  return sum;
}

typedef canon_df *(*question_fn)(canon_df *in, canon_error *err);

/* The right side of the join question: one row per id (id, w). */
static canon_table *dim_table;

static canon_df *q_join(canon_df *in, canon_error *err) {
  const char *keys[] = {"id"};
  canon_join_options o = {.strategy = CANON_JOIN_HASH};
  return canon_join(in, canon_from_table(canon_df_session(in), dim_table, err), CANON_JOIN_INNER,
                    keys, NULL, 1, &o, err);
}

static canon_df *q_groupby(canon_df *in, canon_error *err) {
  const char *keys[] = {"k"};
  canon_expr *aggs[] = {canon_sum(canon_col("v")), canon_mean(canon_col("v")), canon_count_star()};
  const char *names[] = {"sum_v", "mean_v", "n"};
  return canon_aggregate(in, keys, 1, aggs, names, 3, err);
}

static canon_df *q_groupby_id(canon_df *in, canon_error *err) {
  const char *keys[] = {"id"};
  canon_expr *aggs[] = {canon_sum(canon_col("v")), canon_count_star()};
  const char *names[] = {"sum_v", "n"};
  return canon_aggregate(in, keys, 1, aggs, names, 2, err);
}

static canon_df *q_sort(canon_df *in, canon_error *err) {
  canon_sort_key keys[] = {{.column = "k"}, {.column = "v", .descending = 1}};
  return canon_sort(in, keys, 2, err);
}

int main(int argc, char **argv) {
  int64_t rows = 1000000;
  int runs = 2;
  const char *engines = "serial,threads";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--rows") == 0) rows = atoll(argv[i + 1]);
    else if (strcmp(argv[i], "--runs") == 0) runs = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--engines") == 0) engines = argv[i + 1];
    else {
      fprintf(stderr, "usage: engines [--rows N] [--runs R] [--engines a,b]\n");
      return 2;
    }
  }
  double t0 = now();
  canon_table *t = make_table(rows);
  printf("# %lld rows generated in %.2f s\n", (long long)rows, now() - t0);
  printf("%-12s %-22s %10s %9s %8s %18s\n", "question", "engine", "best_s", "speedup", "rows", "checksum");
  {
    canon_error err;
    canon_schema *s = canon_schema_parse("id:int64,w:float64", &err);
    canon_builder *b = canon_builder_new(s, &err);
    for (int64_t i = 1; i <= (rows / 100 > 0 ? rows / 100 : 1); i++) {
      canon_builder_append_int64(b, 0, i);
      canon_builder_append_float64(b, 1, (double)i / 7.0);
    }
    dim_table = canon_builder_finish(b, &err);
    canon_builder_free(b);
    canon_schema_free(s);
  }
  struct { const char *name; question_fn fn; } qs[] = {
    {"groupby_k", q_groupby}, {"groupby_id", q_groupby_id}, {"sort", q_sort}, {"join", q_join}};
  for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++) {
    double base = 0;
    char *list = strdup(engines);
    for (char *save = NULL, *e = strtok_r(list, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
      canon_error err;
      canon_config *cfg = canon_config_new();
      canon_config_set_engine(cfg, e, &err);
      canon_session *s = canon_session_open(cfg, &err);
      canon_config_free(cfg);
      if (!s) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
      }
      double best = 1e30;
      int64_t nout = 0;
      uint64_t sum = 0;
      for (int r = 0; r < runs; r++) {
        double a = now();
        canon_table *res = canon_collect(qs[q].fn(canon_from_table(s, t, &err), &err), &err);
        double d = now() - a;
        if (!res) {
          fprintf(stderr, "%s on %s: %s\n", qs[q].name, e, err.message);
          return 1;
        }
        if (d < best) best = d;
        nout = canon_table_num_rows(res);
        sum = checksum(res);
        canon_table_free(res);
      }
      if (base == 0) base = best;
      printf("%-12s %-22s %10.3f %8.2fx %8lld %018llx\n", qs[q].name, e, best, base / best,
             (long long)nout, (unsigned long long)sum);
      fflush(stdout);
      canon_session_close(s);
    }
    free(list);
  }
  canon_table_free(t);
  canon_table_free(dim_table);
  return 0;
}
