/* conformance_random.c — random tables and random plans for
 * canon-conformance's differential mode (--random N --seed S).
 *
 * Tables mix the values that break engines: NULLs, NaN, -0.0, ±inf, the
 * int64 extremes, duplicates and skew (one hot value).  Plans use only the
 * ops and functions of docs/plan-format.md.  Each candidate node is loaded
 * into a serial session (tables without rows, which is cheap) so a node
 * that does not type-check is dropped and another one drawn; the analysis
 * (conformance_random_plan.c) drops nodes whose result the semantics leave
 * open (a limit over rows of undefined order, ...).  Everything random comes
 * from one SplitMix64 stream per plan, derived from the seed and the plan's
 * index: the same seed gives the same tables and plans. */
#include "conformance_random.h"

#include "canon_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t rnd_next(rnd_rng *r) {
  uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* A number in [0, n). */
static int below(rnd_rng *r, int n) { return n > 0 ? (int)(rnd_next(r) % (uint64_t)n) : 0; }
/* True with probability pct/100. */
static int chance(rnd_rng *r, int pct) { return below(r, 100) < pct; }

/* Which strict error a plan may raise: one kind per plan, because where
 * several errors occur, which one is reported is unspecified (§4). */
enum { MODE_OVERFLOW, MODE_DIVZERO, MODE_CAST, MODE__COUNT };

typedef struct gen {
  rnd_rng rng;
  rnd_plan *p;
  canon_session *s;
  unsigned caps;
  int mode;
  int next_id;
  int nnodes;
  int ids[64];
  rnd_info infos[64];
  int oom;
} gen;

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

#define NPOOL(a) ((int)(sizeof a / sizeof a[0]))

static const canon_type all_types[] = {CANON_BOOL, CANON_INT64, CANON_FLOAT64,
                                       CANON_STRING, CANON_DATE, CANON_TIMESTAMP};

/* A random value of type t as text in buf (never NULL). */
static const char *value_text(rnd_rng *r, canon_type t, char *buf, size_t cap) {
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

static char *dup_text(gen *g, const char *s) {
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
    snprintf(vals[i], sizeof vals[i], "%s", value_text(&g->rng, t->types[c], buf, sizeof buf));
  int hot = chance(&g->rng, 30) ? 70 : 0;
  for (int r = 0; r < t->nrows; r++) {
    char **cell = &t->cells[(size_t)r * (size_t)t->ncols + (size_t)c];
    if (chance(&g->rng, np)) continue;
    *cell = dup_text(g, vals[chance(&g->rng, hot) ? 0 : below(&g->rng, distinct)]);
  }
}

/* A random table named `name` with column names prefix0, prefix1, ...;
 * `types` (ncols of them) fixes the column types when not NULL. */
static void make_table(gen *g, rnd_table *t, const char *name, char prefix, int ncols,
                       const canon_type *types) {
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->ncols = ncols;
  int shape = below(&g->rng, 10);
  t->nrows = shape == 0 ? 0 : shape == 1 ? 1 + below(&g->rng, 3) : below(&g->rng, 301);
  for (int c = 0; c < ncols; c++) {
    snprintf(t->names[c], RND_NAMELEN, "%c%d", prefix, c);
    t->types[c] = types ? types[c] : all_types[below(&g->rng, 6)];
  }
  t->cells = calloc((size_t)(t->nrows ? t->nrows : 1) * (size_t)ncols, sizeof *t->cells);
  t->keep = malloc((size_t)(t->nrows ? t->nrows : 1));
  if (!t->cells || !t->keep) {
    g->oom = 1;
    t->nrows = 0;
    return;
  }
  memset(t->keep, 1, (size_t)(t->nrows ? t->nrows : 1));
  for (int c = 0; c < ncols; c++) fill_column(g, t, c);
}

/* ---- JSON pieces ------------------------------------------------------------ */

static cJSON *jcol(const char *name) {
  cJSON *o = cJSON_CreateObject();
  if (o) cJSON_AddStringToObject(o, "col", name);
  return o;
}

static cJSON *jlit(canon_type t, const char *text) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  if (text)
    cJSON_AddStringToObject(o, "lit", text);
  else
    cJSON_AddNullToObject(o, "lit");
  cJSON_AddStringToObject(o, "type", canon_type_name(t));
  return o;
}

/* {"fn": fn, "args": [a, b, c]} (NULL args end the list). */
static cJSON *jcall(const char *fn, cJSON *a, cJSON *b, cJSON *c) {
  cJSON *o = cJSON_CreateObject(), *args = cJSON_CreateArray();
  if (!o || !args) {
    cJSON_Delete(o);
    cJSON_Delete(args);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    return NULL;
  }
  cJSON_AddStringToObject(o, "fn", fn);
  cJSON *v[3] = {a, b, c};
  for (int i = 0; i < 3; i++)
    if (v[i]) cJSON_AddItemToArray(args, v[i]);
  cJSON_AddItemToObject(o, "args", args);
  return o;
}

static cJSON *jcast(const char *fn, canon_type to, cJSON *a) {
  cJSON *o = cJSON_CreateObject(), *args = cJSON_CreateArray();
  if (!o || !args) {
    cJSON_Delete(o);
    cJSON_Delete(args);
    cJSON_Delete(a);
    return NULL;
  }
  cJSON_AddStringToObject(o, "fn", fn);
  cJSON_AddStringToObject(o, "to", canon_type_name(to));
  cJSON_AddItemToArray(args, a);
  cJSON_AddItemToObject(o, "args", args);
  return o;
}

static cJSON *jstrings(const char *const *v, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
  return a;
}

/* ---- expressions ------------------------------------------------------------ */

static const rnd_info *cur_info(const gen *g) { return &g->infos[g->nnodes - 1]; }

/* A random column of type t (or any type when t < 0); -1 if none. */
static int pick_col(gen *g, const rnd_info *in, int t) {
  int idx[RND_MAXCOLS], n = 0;
  for (int c = 0; c < in->ncols; c++)
    if (t < 0 || (int)in->types[c] == t) idx[n++] = c;
  return n ? idx[below(&g->rng, n)] : -1;
}

static cJSON *rand_lit(gen *g, canon_type t) {
  char buf[48];
  if (chance(&g->rng, 8)) return jlit(t, NULL);
  return jlit(t, value_text(&g->rng, t, buf, sizeof buf));
}

static cJSON *expr_of(gen *g, const rnd_info *in, canon_type t, int depth);

/* A leaf of type t: a column (mostly) or a literal. */
static cJSON *leaf(gen *g, const rnd_info *in, canon_type t) {
  int c = pick_col(g, in, (int)t);
  if (c >= 0 && chance(&g->rng, 75)) return jcol(in->names[c]);
  return rand_lit(g, t);
}

/* A cast of a random operand to t (strict only in cast mode). */
static cJSON *cast_to(gen *g, const rnd_info *in, canon_type t, int depth) {
  static const canon_type from_any[] = {CANON_STRING, CANON_INT64, CANON_FLOAT64, CANON_BOOL};
  canon_type from = from_any[below(&g->rng, 4)];
  if (t == CANON_DATE) from = chance(&g->rng, 50) ? CANON_TIMESTAMP : CANON_STRING;
  if (t == CANON_TIMESTAMP) from = chance(&g->rng, 50) ? CANON_DATE : CANON_STRING;
  if (t == CANON_STRING) from = all_types[below(&g->rng, 6)];
  const char *fn = g->mode == MODE_CAST && chance(&g->rng, 70) ? "cast" : "try_cast";
  return jcast(fn, t, expr_of(g, in, from, depth - 1));
}

static cJSON *bool_expr(gen *g, const rnd_info *in, int depth) {
  static const char *const cmp[] = {"eq", "ne", "lt", "le", "gt", "ge"};
  switch (below(&g->rng, 9)) {
  case 0:
  case 1: {
    int c = pick_col(g, in, -1);
    if (c < 0) break;
    canon_type t = in->types[c];
    cJSON *rhs;
    if ((t == CANON_INT64 || t == CANON_FLOAT64) && chance(&g->rng, 30))
      rhs = leaf(g, in, t == CANON_INT64 ? CANON_FLOAT64 : CANON_INT64);
    else
      rhs = chance(&g->rng, 50) ? leaf(g, in, t) : expr_of(g, in, t, depth - 1);
    return jcall(cmp[below(&g->rng, 6)], jcol(in->names[c]), rhs, NULL);
  }
  case 2: return jcall(chance(&g->rng, 50) ? "and" : "or", expr_of(g, in, CANON_BOOL, depth - 1),
                       expr_of(g, in, CANON_BOOL, depth - 1), NULL);
  case 3: return jcall("not", expr_of(g, in, CANON_BOOL, depth - 1), NULL, NULL);
  case 4: {
    int c = pick_col(g, in, -1);
    if (c < 0) break;
    return jcall(chance(&g->rng, 50) ? "is_null" : "is_not_null", jcol(in->names[c]), NULL, NULL);
  }
  case 5: {
    int c = pick_col(g, in, -1);
    if (c < 0) break;
    cJSON *e = jcall("in_list", jcol(in->names[c]), rand_lit(g, in->types[c]),
                     rand_lit(g, in->types[c]));
    cJSON *args = e ? cJSON_GetObjectItemCaseSensitive(e, "args") : NULL;
    if (args && chance(&g->rng, 50)) cJSON_AddItemToArray(args, rand_lit(g, in->types[c]));
    return e;
  }
  case 6:
    return jcall(chance(&g->rng, 50) ? "starts_with" : "contains",
                 expr_of(g, in, CANON_STRING, depth - 1), leaf(g, in, CANON_STRING), NULL);
  default: break;
  }
  return leaf(g, in, CANON_BOOL);
}

static cJSON *int_expr(gen *g, const rnd_info *in, int depth) {
  static const char *const arith[] = {"add", "sub", "mul"};
  switch (below(&g->rng, 8)) {
  case 0:
    if (g->mode != MODE_OVERFLOW) break;
    return jcall(arith[below(&g->rng, 3)], expr_of(g, in, CANON_INT64, depth - 1),
                 expr_of(g, in, CANON_INT64, depth - 1), NULL);
  case 1:
    if (g->mode == MODE_OVERFLOW)
      return jcall(chance(&g->rng, 50) ? "neg" : "abs", expr_of(g, in, CANON_INT64, depth - 1),
                   NULL, NULL);
    if (g->mode == MODE_DIVZERO)
      return jcall(chance(&g->rng, 50) ? "idiv" : "mod", expr_of(g, in, CANON_INT64, depth - 1),
                   expr_of(g, in, CANON_INT64, depth - 1), NULL);
    break;
  case 2: return jcall("length", expr_of(g, in, CANON_STRING, depth - 1), NULL, NULL);
  case 3: return jcall("if_else", expr_of(g, in, CANON_BOOL, depth - 1),
                       expr_of(g, in, CANON_INT64, depth - 1), leaf(g, in, CANON_INT64));
  case 4: return jcall("coalesce", expr_of(g, in, CANON_INT64, depth - 1),
                       leaf(g, in, CANON_INT64), NULL);
  case 5: return cast_to(g, in, CANON_INT64, depth);
  case 6: return jcall(chance(&g->rng, 50) ? "floor" : "ceil", leaf(g, in, CANON_INT64), NULL, NULL);
  default: break;
  }
  return leaf(g, in, CANON_INT64);
}

static cJSON *float_expr(gen *g, const rnd_info *in, int depth) {
  static const char *const arith[] = {"add", "sub", "mul", "div", "try_div"};
  static const char *const math1[] = {"sqrt", "ln", "exp", "abs", "floor", "ceil", "neg"};
  switch (below(&g->rng, 9)) {
  case 0:
  case 1: {
    /* A float operand keeps + - * free of int64 overflow; `/` needs an
     * int64 divisor to raise division_by_zero, allowed in that mode only. */
    const char *fn = arith[below(&g->rng, 5)];
    canon_type bt = chance(&g->rng, 30) ? CANON_INT64 : CANON_FLOAT64;
    if (strcmp(fn, "div") == 0 && g->mode != MODE_DIVZERO) bt = CANON_FLOAT64;
    cJSON *a = expr_of(g, in, CANON_FLOAT64, depth - 1), *b = expr_of(g, in, bt, depth - 1);
    return chance(&g->rng, 50) ? jcall(fn, a, b, NULL) : jcall(fn, b, a, NULL);
  }
  case 2: return jcall(math1[below(&g->rng, 7)], expr_of(g, in, CANON_FLOAT64, depth - 1), NULL, NULL);
  case 3: return jcall("round", expr_of(g, in, CANON_FLOAT64, depth - 1),
                       jlit(CANON_INT64, chance(&g->rng, 50) ? "0" : "2"), NULL);
  case 4: return jcall("pow", leaf(g, in, CANON_FLOAT64), jlit(CANON_FLOAT64, "2.0"), NULL);
  case 5: return jcall("if_else", expr_of(g, in, CANON_BOOL, depth - 1),
                       expr_of(g, in, CANON_FLOAT64, depth - 1), leaf(g, in, CANON_FLOAT64));
  case 6: return jcall("coalesce", expr_of(g, in, CANON_FLOAT64, depth - 1),
                       leaf(g, in, chance(&g->rng, 30) ? CANON_INT64 : CANON_FLOAT64), NULL);
  case 7: return cast_to(g, in, CANON_FLOAT64, depth);
  default: break;
  }
  return leaf(g, in, CANON_FLOAT64);
}

static cJSON *string_expr(gen *g, const rnd_info *in, int depth) {
  static const char *const fn1[] = {"lower", "upper", "trim", "ltrim", "rtrim"};
  switch (below(&g->rng, 7)) {
  case 0: return jcall(fn1[below(&g->rng, 5)], expr_of(g, in, CANON_STRING, depth - 1), NULL, NULL);
  case 1: return jcall("concat", expr_of(g, in, CANON_STRING, depth - 1), leaf(g, in, CANON_STRING),
                       NULL);
  case 2: {
    char a[8], b[8];
    snprintf(a, sizeof a, "%d", below(&g->rng, 5) - 1);
    snprintf(b, sizeof b, "%d", below(&g->rng, 4));
    return jcall("substring", expr_of(g, in, CANON_STRING, depth - 1), jlit(CANON_INT64, a),
                 jlit(CANON_INT64, b));
  }
  case 3: return cast_to(g, in, CANON_STRING, depth);
  case 4: return jcall("coalesce", expr_of(g, in, CANON_STRING, depth - 1), leaf(g, in, CANON_STRING),
                       NULL);
  default: break;
  }
  return leaf(g, in, CANON_STRING);
}

/* An expression of type t over the columns of `in`, at most `depth` deep. */
static cJSON *expr_of(gen *g, const rnd_info *in, canon_type t, int depth) {
  if (depth <= 0 || chance(&g->rng, 25)) return leaf(g, in, t);
  switch (t) {
  case CANON_BOOL: return bool_expr(g, in, depth);
  case CANON_INT64: return int_expr(g, in, depth);
  case CANON_FLOAT64: return float_expr(g, in, depth);
  case CANON_STRING: return string_expr(g, in, depth);
  default:
    if (chance(&g->rng, 30)) return cast_to(g, in, t, depth);
    if (chance(&g->rng, 30))
      return jcall("coalesce", leaf(g, in, t), leaf(g, in, t), NULL);
    return leaf(g, in, t);
  }
}

