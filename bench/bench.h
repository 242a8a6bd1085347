/* bench.h — shared types of the benchmark runner (run.c, session.c, report.c). */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include "datagen.h"
#include "questions.h"

#include <stdint.h>
#include <stdio.h>

/* One line of the result table. */
typedef struct bench_result {
  char question[64];
  char engine[256];
  double run[2];        /* seconds; < 0 when not run */
  int64_t rows;         /* rows of the answer (load: rows loaded) */
  uint64_t checksum;    /* order-independent hash of the answer; 0 for loads */
  int has_checksum;
  double peak_mb;       /* ru_maxrss of the engine's session process so far */
  double workers_mb;    /* largest worker process ru_maxrss (processes engine) */
  double load1;         /* 1-minute load average when the question started */
  char note[1200];      /* errors, skips, per-table load times, order check */
} bench_result;

typedef struct bench_options {
  bench_gen_params gen;
  const char *data_dir;
  const char *engines;
  const char *csv_path;
  char questions[64];   /* selected[i] for bench_questions[i]; load rows always */
  int runs;             /* 1 or 2 */
  double cap_seconds;   /* run 1 slower than this: later runs skipped */
  canon_join_strategy strategy;
} bench_options;

/* Child side: open `engine`, load the tables of session `kind`, answer the
 * selected questions and write one record line per result to `out`.
 * Returns the process exit status. */
int bench_session_run(const bench_options *o, const char *engine, bench_session_kind kind,
                      FILE *out);

/* Record lines between the session child and the runner. */
void bench_result_write(FILE *f, const bench_result *r);
int bench_result_parse(const char *line, bench_result *r);

/* Order-independent checksum of a table: the sum of a hash of each row's
 * canonical cell text (the column names are hashed in too). */
uint64_t bench_checksum(const canon_table *t);

/* Print the result table, MISMATCH lines, the target comparison; write CSV.
 * Returns the number of checksum mismatches. */
int bench_report(const bench_options *o, const bench_result *r, int n, FILE *out);
int bench_write_csv(const char *path, const bench_result *r, int n);
/* Estimated in-memory bytes of the loaded group-by table (Arrow layout). */
double bench_g1_bytes(const bench_gen_params *p);

double bench_now(void);
double bench_loadavg(void);

#endif
