/* conformance_random_tables.c — random values and tables for
 * canon-conformance's differential mode: NULLs, NaN, -0.0, ±inf, the int64
 * extremes, strings that look like numbers, dates around the epoch;
 * duplicates (a small value pool per column) and skew (one hot value). */
#include "conformance_random_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ---------------------------------------------------------------- */

static const char *const pool_bool[] = {"true", "false"};
static const char *const pool_int[] = {
  "0", "1", "-1", "2", "3", "-7", "7", "42", "100", "-100", "1000000",
  "9223372036854775807", "-9223372036854775808", "4611686018427387904",
  "-4611686018427387904", "3037000500", "9007199254740993"};
static const char *const pool_float[] = {
  "0.0", "-0.0", "NaN", "inf", "-inf", "0.1", "0.2", "0.3", "1.0", "-1.0", "2.5", "-2.5",
  "1e+16", "-1e+16", "1e+300", "-1e+300", "5e-324", "1.7976931348623157e+308", "0.5", "3.0"};
static const char *const pool_string[] = {
  "", "a", "b", "A", "ab", "abc", " a", "a ", "\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "x,y",
  "\"q\"", "NULL", "0", "1.5", " 7 ", "true", "2024-01-31", "-0.0", "NaN", "zz"};
static const char *const pool_date[] = {
  "1970-01-01", "1969-12-31", "2024-02-29", "2000-01-01", "0001-01-01", "9999-12-31",
  "2024-01-31"};
static const char *const pool_ts[] = {
  "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999Z", "2024-01-31T10:00:00Z",
  "2024-01-31T10:00:00.5Z", "2000-01-01T00:00:00Z", "2024-02-29T23:59:59Z"};

const canon_type rnd_all_types[6] = {CANON_BOOL, CANON_INT64, CANON_FLOAT64,
                                       CANON_STRING, CANON_DATE, CANON_TIMESTAMP};

/* A random value of type t as text in buf (never NULL). */
const char *rnd_value_text(rnd_rng *r, canon_type t, char *buf, size_t cap) {
  switch (t) {
  case CANON_BOOL: return pool_bool[below(r, 2)];
  case CANON_INT64:
    if (chance(r, 70)) return pool_int[below(r, NPOOL(pool_int))];
    snprintf(buf, cap, "%d", below(r, 2001) - 1000);
    return buf;
  case CANON_FLOAT64:
    if (chance(r, 70)) return pool_float[below(r, NPOOL(pool_float))];
    snprintf(buf, cap, "%.17g", (below(r, 4001) - 2000) / 8.0);
    return buf;
  case CANON_STRING: return pool_string[below(r, NPOOL(pool_string))];
  case CANON_DATE: return pool_date[below(r, NPOOL(pool_date))];
  default: return pool_ts[below(r, NPOOL(pool_ts))];
  }
}

char *rnd_dup_text(gen *g, const char *s) {
  char *d = strdup(s);
  if (!d) g->oom = 1;
  return d;
}

/* Fill column c of t: a NULL rate, a small value pool (duplicates) and
 * sometimes one hot value (skew). */
static void fill_column(gen *g, rnd_table *t, int c) {
  static const int null_pct[] = {0, 0, 5, 20, 50, 100};
  int np = null_pct[below(&g->rng, NPOOL(null_pct))];
  if (np == 100 && chance(&g->rng, 70)) np = 30;
  int distinct = 1 + below(&g->rng, chance(&g->rng, 50) ? 4 : 40);
  char vals[40][48], buf[48];
  for (int i = 0; i < distinct; i++)
    snprintf(vals[i], sizeof vals[i], "%s", rnd_value_text(&g->rng, t->types[c], buf, sizeof buf));
  int hot = chance(&g->rng, 30) ? 70 : 0;
  for (int r = 0; r < t->nrows; r++) {
    char **cell = &t->cells[(size_t)r * (size_t)t->ncols + (size_t)c];
    if (chance(&g->rng, np)) continue;
    *cell = rnd_dup_text(g, vals[chance(&g->rng, hot) ? 0 : below(&g->rng, distinct)]);
  }
}

/* A random table named `name` with column names prefix0, prefix1, ...;
 * `types` (ncols of them) fixes the column types when not NULL. */
void rnd_make_table(gen *g, rnd_table *t, const char *name, char prefix, int ncols,
                    const canon_type *types) {
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->ncols = ncols;
  int shape = below(&g->rng, 10);
  t->nrows = shape == 0 ? 0 : shape == 1 ? 1 + below(&g->rng, 3) : below(&g->rng, 301);
  for (int c = 0; c < ncols; c++) {
    snprintf(t->names[c], RND_NAMELEN, "%c%d", prefix, c);
    t->types[c] = types ? types[c] : rnd_all_types[below(&g->rng, 6)];
  }
  size_t rows = t->nrows > 0 ? (size_t)t->nrows : 1;
  t->cells = calloc(rows * (size_t)(ncols > 0 ? ncols : 1), sizeof *t->cells);
  t->keep = malloc(rows);
  if (!t->cells || !t->keep) {
    g->oom = 1;
    t->nrows = 0;
    return;
  }
  memset(t->keep, 1, rows);
  for (int c = 0; c < ncols; c++) fill_column(g, t, c);
}

