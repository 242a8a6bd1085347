/* datagen.h — the benchmark's data generator (db-benchmark style tables).
 *
 * Group-by table G1_<N>_<K>_<NA>_<SORT>.csv and the four join tables
 * J1_<N>_NA_0_0.csv (x), J1_<N>_<N/1e6>_0_0.csv (small),
 * J1_<N>_<N/1e3>_0_0.csv (medium), J1_<N>_<N>_0_0.csv (big).  The files are
 * a pure function of the parameters and the seed (own PRNG), so every
 * machine generates the same bytes.  See bench/README.md for the layout. */
#ifndef BENCH_DATAGEN_H
#define BENCH_DATAGEN_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_DEFAULT_SEED 20240611ULL

typedef struct bench_gen_params {
  int64_t n;      /* rows of G1 and of J1 x */
  int64_t k;      /* G1 group cardinality */
  int na;         /* G1: percent of id values / value rows that are NULL (0..100) */
  int sorted;     /* G1: rows sorted by id1..id6 */
  uint64_t seed;
} bench_gen_params;

/* "1e7" for powers of ten >= 10, else the decimal number. */
void bench_fmt_count(int64_t v, char *buf, size_t cap);
/* Parse "1e7", "10000000", "2.5e6"; -1 on malformed text. */
int64_t bench_parse_count(const char *s);

/* The file names (no directory) of the group-by table and of the join
 * tables x, small, medium, big (which = 0..3). */
void bench_g1_name(const bench_gen_params *p, char *buf, size_t cap);
void bench_j1_name(const bench_gen_params *p, int which, char *buf, size_t cap);
/* Rows of join table `which` (0 x, 1 small, 2 medium, 3 big). */
int64_t bench_j1_rows(int64_t n, int which);

/* Write the group-by table into dir (created if missing).  Returns 0, or -1
 * after printing the reason to stderr. */
int bench_gen_groupby(const char *dir, const bench_gen_params *p);
/* Write the four join tables into dir. */
int bench_gen_join(const char *dir, const bench_gen_params *p);

#endif
