/* bench/gen — write the benchmark's data tables.
 *
 *   gen [--n 1e7] [--k 100] [--na 0] [--sort 0] [--seed S] [--data DIR]
 *       [--what groupby|join|all]
 *
 * Writes G1_<N>_<K>_<NA>_<SORT>.csv (group-by) and/or the join tables
 * J1_<N>_{NA,<N/1e6>,<N/1e3>,<N>}_0_0.csv into DIR (default bench/data).
 * The bytes depend only on the arguments (see bench/README.md). */
#include "datagen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int usage(void) {
  fprintf(stderr, "usage: gen [--n 1e7] [--k 100] [--na 0] [--sort 0|1] [--seed S]\n"
                  "           [--data DIR] [--what groupby|join|all]\n");
  return 2;
}

int main(int argc, char **argv) {
  bench_gen_params p = {.n = 10000000, .k = 100, .seed = BENCH_DEFAULT_SEED};
  const char *dir = "bench/data", *what = "all";
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) return usage();
    const char *a = argv[i], *v = argv[i + 1];
    if (strcmp(a, "--n") == 0) p.n = bench_parse_count(v);
    else if (strcmp(a, "--k") == 0) p.k = bench_parse_count(v);
    else if (strcmp(a, "--na") == 0) p.na = atoi(v);
    else if (strcmp(a, "--sort") == 0) p.sorted = atoi(v) != 0;
    else if (strcmp(a, "--seed") == 0) p.seed = strtoull(v, NULL, 0);
    else if (strcmp(a, "--data") == 0) dir = v;
    else if (strcmp(a, "--what") == 0) what = v;
    else return usage();
  }
  if (p.n < 1 || p.k < 1) return usage();
  int g = strcmp(what, "groupby") == 0 || strcmp(what, "all") == 0;
  int j = strcmp(what, "join") == 0 || strcmp(what, "all") == 0;
  if (!g && !j) return usage();
  double t0 = now();
  if (g) {
    if (bench_gen_groupby(dir, &p)) return 1;
    char name[256];
    bench_g1_name(&p, name, sizeof name);
    printf("%s/%s written in %.2f s\n", dir, name, now() - t0);
  }
  if (j) {
    double t1 = now();
    if (bench_gen_join(dir, &p)) return 1;
    printf("%s/J1 tables for N=%lld written in %.2f s\n", dir, (long long)p.n, now() - t1);
  }
  return 0;
}
