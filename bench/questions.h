/* questions.h — the benchmark's questions as canon plans (public API only). */
#ifndef BENCH_QUESTIONS_H
#define BENCH_QUESTIONS_H

#include "canon.h"

/* The loaded (persisted) tables a session's questions read. */
typedef struct bench_tables {
  canon_df *g1;                   /* group-by table */
  canon_df *x, *small, *medium, *big; /* join tables */
  canon_join_strategy strategy;   /* strategy of every join question */
} bench_tables;

typedef enum bench_session_kind { BENCH_GROUPBY = 0, BENCH_JOIN = 1 } bench_session_kind;

typedef struct bench_question {
  const char *name;    /* "q1".."q10", "sort", "j1".."j5" */
  bench_session_kind session;
  const char *what;    /* one line, for the README table */
  canon_df *(*build)(const bench_tables *t, canon_error *err);
} bench_question;

extern const bench_question bench_questions[];
extern const int bench_num_questions;

/* The declared CSV schemas of the tables. */
extern const char *const bench_g1_schema;
extern const char *const bench_j1_schema[4];

#endif
