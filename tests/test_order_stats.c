/* Tests of median, quantile and quantile_disc against a reference written
 * from SEMANTICS §5 (sort the group's values by the §2 order, read the
 * answer off the sorted run), on random groups full of edge values: NULLs,
 * NaN, -0.0 and 0.0, ±inf, huge and tiny magnitudes, many equal values,
 * empty (all-NULL) and one-value groups.  Every engine and partition count
 * must give the reference's bits. */
#include "testutil.h"

#include <math.h>
#include <stdint.h>

static int cmp_f64(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  bool xn = x != x, yn = y != y;
  if (xn || yn) return (int)xn - (int)yn;
  return (x > y) - (x < y);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static double canon_f64(double d) {
  if (d != d) return NAN;
  return d == 0 ? 0.0 : d;
}

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static const char *const METHODS[] = {"linear", "lower", "higher", "midpoint", "nearest"};

/* §5 quantile of the sorted x[0..n) (n >= 1). */
static double ref_quantile(const double *x, int64_t n, double p, int m) {
  double h = (double)(n - 1) * p;
  int64_t lo = (int64_t)floor(h), hi = (int64_t)ceil(h);
  if (hi > n - 1) hi = n - 1;
  if (lo > hi) lo = hi;
  double d = h - floor(h), xl = x[lo], xh = x[hi];
  bool eq = cmp_f64(&xl, &xh) == 0;
  switch (m) {
  case 1: return canon_f64(xl);
  case 2: return canon_f64(xh);
  case 3: return canon_f64(eq ? xl : xl * 0.5 + xh * 0.5);
  case 4: return canon_f64(d < 0.5 ? xl : d > 0.5 ? xh : (lo % 2 == 0 ? xl : xh));
  default: return canon_f64(eq ? xl : xl * (1 - d) + xh * d);
  }
}

static int64_t ref_disc(int64_t n, double p) {
  int64_t k = (int64_t)ceil((double)n * p) - 1;
  return k < 0 ? 0 : k > n - 1 ? n - 1 : k;
}

static double edge_value(void) {
  static const double pool[] = {0.0,     -0.0,     1.0,     -1.0,     INFINITY, -INFINITY,
                                1e308,   -1.7e308, 5e-324,  -5e-324,  2.5,      2.5,
                                1e-300,  -3.25,    42.0,    0.1};
  uint64_t r = tu_rnd();
  switch (r % 8) {
  case 0: { /* NaN with a payload or a sign */
    uint64_t bits = 0x7ff0000000000001ULL | (tu_rnd() & 0x800fffffffffffffULL);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
  }
  case 1: case 2: case 3: return pool[(r >> 8) % (sizeof pool / sizeof *pool)];
  case 4: return (double)(int64_t)((r >> 8) % 7) - 3; /* many equal values */
  default: return ((double)(r >> 11) / 9007199254740992.0 - 0.5) * 200;
  }
}

#define NGROUPS 60
#define NP 6
static const double PS[NP] = {0, 0.1, 0.25, 0.5, 0.9, 1};

typedef struct rows {
  int64_t n;
  int64_t *k;
  double *f;
  int64_t *i;
  bool *fnull, *inull;
} rows;

/* Group g gets a size that covers empty, one-value, small and large groups. */
static int64_t group_size(int g) {
  if (g < 4) return g;          /* 0..3 rows */
  if (g < 8) return 16 + g;     /* about the insertion-sort cut */
  return (int64_t)(tu_rnd() % 400);
}

static rows make_rows(void) {
  rows r = {0};
  int64_t cap = NGROUPS * 400;
  r.k = malloc((size_t)cap * sizeof *r.k);
  r.f = malloc((size_t)cap * sizeof *r.f);
  r.i = malloc((size_t)cap * sizeof *r.i);
  r.fnull = malloc((size_t)cap);
  r.inull = malloc((size_t)cap);
  int64_t sizes[NGROUPS];
  for (int g = 0; g < NGROUPS; g++) sizes[g] = group_size(g);
  /* Interleave the groups' rows so each partition sees parts of many groups. */
  for (;;) {
    int live = 0;
    for (int g = 0; g < NGROUPS; g++) live += sizes[g] > 0;
    if (!live) break;
    int g = (int)(tu_rnd() % NGROUPS);
    if (!sizes[g]) continue;
    sizes[g]--;
    int64_t at = r.n++;
    r.k[at] = g;
    r.fnull[at] = g == 5 || tu_rnd() % 10 == 0; /* group 5: every value NULL */
    r.f[at] = edge_value();
    r.inull[at] = tu_rnd() % 10 == 0;
    uint64_t x = tu_rnd();
    r.i[at] = x % 3 == 0 ? (int64_t)(x >> 1) - INT64_MAX / 2 : (int64_t)(x % 9) - 4;
    if (x % 97 == 0) r.i[at] = x % 2 ? INT64_MAX : INT64_MIN;
  }
  return r;
}

static canon_table *rows_table(const rows *r) {
  canon_error err;
  canon_schema *s = canon_schema_parse("k:int64,f:float64,i:int64,d:date", &err);
  cr_assert(s, "%s", err.message);
  canon_builder *b = canon_builder_new(s, &err);
  for (int64_t j = 0; j < r->n; j++) {
    canon_builder_append_int64(b, 0, r->k[j]);
    if (r->fnull[j]) canon_builder_append_null(b, 1);
    else canon_builder_append_float64(b, 1, r->f[j]);
    if (r->inull[j]) {
      canon_builder_append_null(b, 2);
      canon_builder_append_null(b, 3);
    } else {
      canon_builder_append_int64(b, 2, r->i[j]);
      canon_builder_append_date(b, 3, (int32_t)(r->i[j] % 100000));
    }
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  return t;
}

static void check_group(const canon_table *got, int64_t row, const rows *r, int g) {
  double *f = malloc(400 * sizeof *f), *fi = malloc(400 * sizeof *fi);
  int64_t *iv = malloc(400 * sizeof *iv), *dv = malloc(400 * sizeof *dv);
  int64_t nf = 0, ni = 0;
  for (int64_t j = 0; j < r->n; j++) {
    if (r->k[j] != g) continue;
    if (!r->fnull[j]) f[nf++] = r->f[j];
    if (!r->inull[j]) {
      fi[ni] = (double)r->i[j];
      iv[ni] = r->i[j];
      dv[ni++] = (int32_t)(r->i[j] % 100000);
    }
  }
  qsort(f, (size_t)nf, sizeof *f, cmp_f64);
  qsort(fi, (size_t)ni, sizeof *fi, cmp_f64);
  qsort(iv, (size_t)ni, sizeof *iv, cmp_i64);
  qsort(dv, (size_t)ni, sizeof *dv, cmp_i64);
  int col = 1;
  /* float column: median, quantile (every p and method), quantile_disc */
  for (int which = 0; which < 2; which++) {
    const double *x = which ? fi : f;
    int64_t n = which ? ni : nf;
    for (int pi = 0; pi < NP; pi++)
      for (int m = 0; m < 5; m++, col++) {
        if (!n) {
          cr_assert(canon_table_is_null(got, col, row), "group %d col %d: want NULL", g, col);
          continue;
        }
        double want = ref_quantile(x, n, PS[pi], m), have = canon_table_get_float64(got, col, row);
        cr_assert(same_bits(want, have), "group %d (n=%lld) %s p=%g %s: want %a got %a", g,
                  (long long)n, which ? "int" : "float", PS[pi], METHODS[m], want, have);
      }
  }
  for (int pi = 0; pi < NP; pi++, col += 4) {
    if (!nf) {
      cr_assert(canon_table_is_null(got, col, row));
    } else {
      double want = canon_f64(f[ref_disc(nf, PS[pi])]);
      cr_assert(same_bits(want, canon_table_get_float64(got, col, row)),
                "group %d disc p=%g: want %a got %a", g, PS[pi], want,
                canon_table_get_float64(got, col, row));
    }
    if (!ni) {
      cr_assert(canon_table_is_null(got, col + 1, row));
      cr_assert(canon_table_is_null(got, col + 2, row));
      cr_assert(canon_table_is_null(got, col + 3, row));
    } else {
      cr_assert_eq(canon_table_get_int64(got, col + 1, row), iv[ref_disc(ni, PS[pi])],
                   "group %d int disc p=%g", g, PS[pi]);
      cr_assert_eq(canon_table_get_int64(got, col + 2, row), dv[ref_disc(ni, PS[pi])],
                   "group %d date disc p=%g", g, PS[pi]);
    }
  }
  free(f);
  free(fi);
  free(iv);
  free(dv);
}

static void run_case(const char *engine) {
  rows r = make_rows();
  canon_table *t = rows_table(&r);
  canon_error err;
  canon_session *s = tu_open(engine);
  canon_df *df = canon_from_table(s, t, &err);
  cr_assert(df, "%s", err.message);
  enum { NOUT = 2 * NP * 5 + NP * 4 };
  canon_expr *outs[NOUT];
  char names[NOUT][16];
  const char *np[NOUT];
  int at = 0;
  for (int which = 0; which < 2; which++)
    for (int pi = 0; pi < NP; pi++)
      for (int m = 0; m < 5; m++) {
        const char *c = which ? "i" : "f";
        outs[at] = PS[pi] == 0.5 && m == 0 ? canon_median(canon_col(c))
                                            : canon_quantile(canon_col(c), PS[pi], METHODS[m]);
        at++;
      }
  for (int pi = 0; pi < NP; pi++) {
    outs[at++] = canon_quantile_disc(canon_col("f"), PS[pi]);
    outs[at++] = canon_quantile_disc(canon_col("i"), PS[pi]);
    outs[at++] = canon_quantile_disc(canon_col("d"), PS[pi]);
    outs[at++] = canon_count_star(); /* a spacer that keeps the layout simple */
  }
  for (int j = 0; j < NOUT; j++) {
    snprintf(names[j], sizeof names[j], "o%d", j);
    np[j] = names[j];
  }
  const char *keys[] = {"k"};
  df = canon_aggregate(df, keys, 1, outs, np, NOUT, &err);
  cr_assert(df, "%s", err.message);
  canon_table *got = canon_collect(df, &err);
  cr_assert(got, "%s: %s", engine, err.message);
  int64_t n = canon_table_num_rows(got);
  cr_assert_eq(n, NGROUPS - 1, "%s: groups", engine); /* group 0 has no rows */
  for (int64_t row = 0; row < n; row++)
    check_group(got, row, &r, (int)canon_table_get_int64(got, 0, row));
  canon_table_free(got);
  canon_session_close(s);
  canon_table_free(t);
  free(r.k);
  free(r.f);
  free(r.i);
  free(r.fnull);
  free(r.inull);
}

Test(order_stats, serial_one_partition) { run_case("serial:partitions=1"); }
Test(order_stats, serial_five_partitions) { run_case("serial:partitions=5"); }
Test(order_stats, threads) { run_case("threads:workers=2,partitions=7"); }
Test(order_stats, processes) { run_case("processes:workers=2,partitions=3"); }

/* Without keys: one group over every row, and a table with no rows. */
Test(order_stats, whole_table_and_empty) {
  for (int rows_n = 0; rows_n < 3000; rows_n += 2999) {
    canon_error err;
    canon_schema *s = canon_schema_parse("f:float64", &err);
    canon_builder *b = canon_builder_new(s, &err);
    double *v = malloc(3000 * sizeof *v);
    int64_t nv = 0;
    for (int j = 0; j < rows_n; j++) {
      double d = edge_value();
      if (j % 13 == 0) {
        canon_builder_append_null(b, 0);
      } else {
        canon_builder_append_float64(b, 0, d);
        v[nv++] = d;
      }
    }
    canon_table *t = canon_builder_finish(b, &err);
    qsort(v, (size_t)nv, sizeof *v, cmp_f64);
    canon_session *ss = tu_open("serial:partitions=3");
    canon_df *df = canon_from_table(ss, t, &err);
    canon_expr *o[] = {canon_median(canon_col("f")), canon_quantile(canon_col("f"), 0.9, "nearest"),
                       canon_quantile_disc(canon_col("f"), 0.3)};
    const char *names[] = {"m", "q", "d"};
    df = canon_aggregate(df, NULL, 0, o, names, 3, &err);
    canon_table *got = canon_collect(df, &err);
    cr_assert(got, "%s", err.message);
    cr_assert_eq(canon_table_num_rows(got), 1);
    if (!nv) {
      for (int c = 0; c < 3; c++) cr_assert(canon_table_is_null(got, c, 0));
    } else {
      cr_assert(same_bits(canon_table_get_float64(got, 0, 0), ref_quantile(v, nv, 0.5, 0)));
      cr_assert(same_bits(canon_table_get_float64(got, 1, 0), ref_quantile(v, nv, 0.9, 4)));
      cr_assert(same_bits(canon_table_get_float64(got, 2, 0), canon_f64(v[ref_disc(nv, 0.3)])));
    }
    canon_table_free(got);
    canon_session_close(ss);
    canon_table_free(t);
    canon_builder_free(b);
    canon_schema_free(s);
    free(v);
  }
}
