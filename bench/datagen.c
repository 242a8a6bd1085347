/* datagen.c — writes the benchmark's CSV tables (see datagen.h).
 *
 * Speed matters (about 0.5 GB at N = 1e7): values are formatted by hand
 * into a large buffer that is written with one fwrite per few MB.  Files are
 * written under a temporary name and renamed when complete, so a run that
 * was interrupted never leaves a truncated table that looks finished. */
#include "datagen.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- PRNG: xoshiro256** seeded through splitmix64 -------------------------- */

typedef struct rng { uint64_t s[4]; } rng;

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* One independent stream per purpose, so that adding a column never shifts
 * the values of another. */
static void rng_init(rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
  for (int i = 0; i < 4; i++) r->s[i] = splitmix(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(rng *r) {
  uint64_t *s = r->s;
  uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return out;
}

/* Uniform in [0, m) by multiply-high (bias below 2^-40 for our m). */
static inline uint64_t rng_below(rng *r, uint64_t m) {
  return (uint64_t)(((unsigned __int128)rng_next(r) * m) >> 64);
}

/* ---- output buffer --------------------------------------------------------- */

#define OUT_CAP (8u << 20)

typedef struct out {
  FILE *f;
  char *buf;
  size_t len;
  int failed;
} out;

static void out_flush(out *o) {
  if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len) o->failed = 1;
  o->len = 0;
}

/* Make room for one row (rows are far shorter than 4 KB). */
static inline void out_room(out *o) {
  if (o->len > OUT_CAP - 4096) out_flush(o);
}

static inline void put_ch(out *o, char c) { o->buf[o->len++] = c; }

static inline void put_str(out *o, const char *s, size_t n) {
  memcpy(o->buf + o->len, s, n);
  o->len += n;
}

/* Decimal digits of v, zero padded to at least `width`. */
static inline void put_u64w(out *o, uint64_t v, int width) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n < width) tmp[n++] = '0';
  while (n) o->buf[o->len++] = tmp[--n];
}

static inline void put_i64(out *o, int64_t v) {
  if (v < 0) {
    put_ch(o, '-');
    put_u64w(o, (uint64_t)0 - (uint64_t)v, 1);
  } else {
    put_u64w(o, (uint64_t)v, 1);
  }
}

/* u / 1e6 with exactly six decimals: u in [0, 1e8) gives [0, 100). */
static inline void put_micro(out *o, uint64_t u) {
  put_u64w(o, u / 1000000, 1);
  put_ch(o, '.');
  put_u64w(o, u % 1000000, 6);
}

static int out_open(out *o, const char *dir, const char *name, char *tmp, char *final,
                    size_t cap) {
  snprintf(final, cap, "%s/%s", dir, name);
  snprintf(tmp, cap, "%s/.%s.tmp", dir, name);
  o->f = fopen(tmp, "wb");
  o->buf = malloc(OUT_CAP);
  o->len = 0;
  o->failed = 0;
  if (!o->f || !o->buf) {
    fprintf(stderr, "gen: cannot write %s: %s\n", tmp, strerror(errno));
    if (o->f) fclose(o->f);
    free(o->buf);
    return -1;
  }
  return 0;
}

static int out_close(out *o, const char *tmp, const char *final) {
  out_flush(o);
  int bad = o->failed | (fclose(o->f) != 0);
  free(o->buf);
  if (bad || rename(tmp, final) != 0) {
    fprintf(stderr, "gen: writing %s failed: %s\n", final, strerror(errno));
    remove(tmp);
    return -1;
  }
  return 0;
}

static int make_dir(const char *dir) {
  if (mkdir(dir, 0777) == 0 || errno == EEXIST) return 0;
  fprintf(stderr, "gen: cannot create %s: %s\n", dir, strerror(errno));
  return -1;
}

/* ---- names ----------------------------------------------------------------- */

void bench_fmt_count(int64_t v, char *buf, size_t cap) {
  int e = 0;
  int64_t x = v;
  while (x >= 10 && x % 10 == 0) {
    x /= 10;
    e++;
  }
  if (x == 1 && e > 0) snprintf(buf, cap, "1e%d", e);
  else snprintf(buf, cap, "%lld", (long long)v);
}

int64_t bench_parse_count(const char *s) {
  char *end;
  errno = 0;
  double d = strtod(s, &end);
  if (errno || end == s || *end || !(d >= 0) || d > 9e15 || d != floor(d)) return -1;
  return (int64_t)d;
}

void bench_g1_name(const bench_gen_params *p, char *buf, size_t cap) {
  char n[32], k[32];
  bench_fmt_count(p->n, n, sizeof n);
  bench_fmt_count(p->k, k, sizeof k);
  snprintf(buf, cap, "G1_%s_%s_%d_%d.csv", n, k, p->na, p->sorted ? 1 : 0);
}

int64_t bench_j1_rows(int64_t n, int which) {
  int64_t r = which == 1 ? n / 1000000 : which == 2 ? n / 1000 : n;
  return r < 1 ? 1 : r;
}

void bench_j1_name(const bench_gen_params *p, int which, char *buf, size_t cap) {
  char n[32], r[32];
  bench_fmt_count(p->n, n, sizeof n);
  if (which == 0) snprintf(r, sizeof r, "NA");
  else bench_fmt_count(bench_j1_rows(p->n, which), r, sizeof r);
  snprintf(buf, cap, "J1_%s_%s_0_0.csv", n, r);
}

/* ---- group-by table -------------------------------------------------------- */

/* NULL flags for values 1..card: exactly round(card * na / 100) of them,
 * chosen by a partial Fisher-Yates shuffle.  NULL (no flags) when na = 0. */
static unsigned char *na_values(int64_t card, int na, uint64_t seed, uint64_t stream) {
  int64_t m = (int64_t)llround((double)card * na / 100.0);
  if (m <= 0) return NULL;
  unsigned char *flag = calloc((size_t)card + 1, 1);
  int64_t *perm = malloc(((size_t)card + 1) * sizeof *perm);
  if (!flag || !perm) {
    free(flag);
    free(perm);
    return NULL;
  }
  rng r;
  rng_init(&r, seed, stream);
  for (int64_t i = 0; i < card; i++) perm[i] = i + 1;
  for (int64_t i = 0; i < m; i++) {
    int64_t j = i + (int64_t)rng_below(&r, (uint64_t)(card - i));
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    flag[perm[i]] = 1;
  }
  free(perm);
  return flag;
}

/* Exactly m of n rows selected in one pass (Knuth's algorithm S). */
typedef struct row_pick {
  rng r;
  int64_t left_rows, left_pick;
} row_pick;

static inline int pick_next(row_pick *p) {
  int hit = p->left_pick > 0 && (int64_t)rng_below(&p->r, (uint64_t)p->left_rows) < p->left_pick;
  p->left_rows--;
  if (hit) p->left_pick--;
  return hit;
}

/* One G1 row before formatting; 0 (ids, v1, v2) or UINT32_MAX (v3) = NULL. */
typedef struct g1_row {
  uint32_t id[6];
  uint32_t v1, v2, v3;
} g1_row;

typedef struct g1_gen {
  int64_t n, k, nk;
  rng r;
  unsigned char *na[6];
  row_pick vna[3];
} g1_gen;

static inline uint32_t id_or_null(const unsigned char *na, uint32_t v) {
  return na && na[v] ? 0 : v;
}

static void g1_draw(g1_gen *g, g1_row *row) {
  uint64_t card[6] = {(uint64_t)g->k, (uint64_t)g->k, (uint64_t)g->nk,
                      (uint64_t)g->k, (uint64_t)g->k, (uint64_t)g->nk};
  for (int c = 0; c < 6; c++)
    row->id[c] = id_or_null(g->na[c], (uint32_t)rng_below(&g->r, card[c]) + 1);
  row->v1 = (uint32_t)rng_below(&g->r, 5) + 1;
  row->v2 = (uint32_t)rng_below(&g->r, 15) + 1;
  row->v3 = (uint32_t)rng_below(&g->r, 100000000);
  if (pick_next(&g->vna[0])) row->v1 = 0;
  if (pick_next(&g->vna[1])) row->v2 = 0;
  if (pick_next(&g->vna[2])) row->v3 = UINT32_MAX;
}

static void g1_put(out *o, const g1_row *row) {
  static const int width[3] = {3, 3, 10};
  out_room(o);
  for (int c = 0; c < 3; c++) {
    if (row->id[c]) {
      put_str(o, "id", 2);
      put_u64w(o, row->id[c], width[c]);
    }
    put_ch(o, ',');
  }
  for (int c = 3; c < 6; c++) {
    if (row->id[c]) put_u64w(o, row->id[c], 1);
    put_ch(o, ',');
  }
  if (row->v1) put_u64w(o, row->v1, 1);
  put_ch(o, ',');
  if (row->v2) put_u64w(o, row->v2, 1);
  put_ch(o, ',');
  if (row->v3 != UINT32_MAX) put_micro(o, row->v3);
  put_ch(o, '\n');
}

/* Sorting: string ids compare as text ("id1000" < "id999"), so each string
 * column gets a rank table for its values; NULL (0) sorts first. */
static uint32_t *rank_of[3];
static int rank_width;

static int cmp_text(const void *a, const void *b) {
  char x[32], y[32];
  snprintf(x, sizeof x, "id%0*u", rank_width, *(const uint32_t *)a);
  snprintf(y, sizeof y, "id%0*u", rank_width, *(const uint32_t *)b);
  return strcmp(x, y);
}

static uint32_t *text_ranks(int64_t card, int width) {
  uint32_t *vals = malloc((size_t)card * sizeof *vals);
  uint32_t *rank = calloc((size_t)card + 1, sizeof *rank);
  if (!vals || !rank) {
    free(vals);
    free(rank);
    return NULL;
  }
  for (int64_t i = 0; i < card; i++) vals[i] = (uint32_t)(i + 1);
  rank_width = width;
  qsort(vals, (size_t)card, sizeof *vals, cmp_text);
  for (int64_t i = 0; i < card; i++) rank[vals[i]] = (uint32_t)(i + 1);
  free(vals);
  return rank;
}

static int cmp_g1(const void *a, const void *b) {
  const g1_row *x = a, *y = b;
  for (int c = 0; c < 6; c++) {
    uint32_t u = x->id[c], v = y->id[c];
    if (c < 3) {
      u = u ? rank_of[c][u] : 0;
      v = v ? rank_of[c][v] : 0;
    }
    if (u != v) return u < v ? -1 : 1;
  }
  return 0;
}

int bench_gen_groupby(const char *dir, const bench_gen_params *p) {
  if (p->n < 1 || p->k < 1 || p->k > p->n || p->n > 4000000000LL || p->na < 0 || p->na > 100) {
    fprintf(stderr, "gen: need 1 <= K <= N <= 4e9 and 0 <= NA <= 100\n");
    return -1;
  }
  if (make_dir(dir)) return -1;
  g1_gen g = {.n = p->n, .k = p->k, .nk = p->n / p->k};
  rng_init(&g.r, p->seed, 1);
  int rc = -1;
  for (int c = 0; c < 6; c++) {
    int64_t card = (c == 2 || c == 5) ? g.nk : g.k;
    g.na[c] = p->na ? na_values(card, p->na, p->seed, 10 + (uint64_t)c) : NULL;
  }
  for (int c = 0; c < 3; c++) {
    rng_init(&g.vna[c].r, p->seed, 20 + (uint64_t)c);
    g.vna[c].left_rows = p->n;
    g.vna[c].left_pick = (int64_t)llround((double)p->n * p->na / 100.0);
  }
  char name[256], tmp[4096], final[4096];
  bench_g1_name(p, name, sizeof name);
  out o;
  g1_row *rows = NULL;
  if (out_open(&o, dir, name, tmp, final, sizeof final)) goto done;
  put_str(&o, "id1,id2,id3,id4,id5,id6,v1,v2,v3\n", 33);
  if (!p->sorted) {
    for (int64_t i = 0; i < p->n; i++) {
      g1_row row;
      g1_draw(&g, &row);
      g1_put(&o, &row);
    }
  } else {
    rows = malloc((size_t)p->n * sizeof *rows);
    rank_of[0] = text_ranks(g.k, 3);
    rank_of[1] = text_ranks(g.k, 3);
    rank_of[2] = text_ranks(g.nk, 10);
    if (!rows || !rank_of[0] || !rank_of[1] || !rank_of[2]) {
      fprintf(stderr, "gen: out of memory sorting %lld rows\n", (long long)p->n);
      fclose(o.f);
      free(o.buf);
      remove(tmp);
      goto done;
    }
    for (int64_t i = 0; i < p->n; i++) g1_draw(&g, &rows[i]);
    qsort(rows, (size_t)p->n, sizeof *rows, cmp_g1);
    for (int64_t i = 0; i < p->n; i++) g1_put(&o, &rows[i]);
  }
  rc = out_close(&o, tmp, final);
done:
  free(rows);
  for (int c = 0; c < 3; c++) {
    free(rank_of[c]);
    rank_of[c] = NULL;
  }
  for (int c = 0; c < 6; c++) free(g.na[c]);
  return rc;
}

/* ---- join tables ----------------------------------------------------------- */

/* The keys of one join level with nk keys per side: a random permutation of
 * 1..nk + nk/10 cut into [common | x only | right only], common being
 * nk - nk/10 keys.  x draws from its nk keys (common + x only); the right
 * tables hold common + right only, shuffled.  So about 90% of x's rows find
 * a match and 10% of each right table's keys have none in x. */
typedef struct key_level {
  int64_t nk;
  int64_t *xkeys;  /* nk keys x draws from */
  int64_t *rkeys;  /* nk keys of the right tables, shuffled */
} key_level;

static int level_init(key_level *l, int64_t nk, uint64_t seed, uint64_t stream) {
  int64_t extra = nk / 10, common = nk - extra, total = nk + extra;
  l->nk = nk;
  l->xkeys = malloc((size_t)total * sizeof *l->xkeys);
  l->rkeys = malloc((size_t)nk * sizeof *l->rkeys);
  if (!l->xkeys || !l->rkeys) {
    fprintf(stderr, "gen: out of memory for %lld join keys\n", (long long)nk);
    return -1;
  }
  rng r;
  rng_init(&r, seed, stream);
  int64_t *perm = l->xkeys;
  for (int64_t i = 0; i < total; i++) perm[i] = i + 1;
  for (int64_t i = total - 1; i > 0; i--) {
    int64_t j = (int64_t)rng_below(&r, (uint64_t)i + 1), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  memcpy(l->rkeys, perm, (size_t)common * sizeof *perm);
  memcpy(l->rkeys + common, perm + nk, (size_t)extra * sizeof *perm);
  for (int64_t i = nk - 1; i > 0; i--) {
    int64_t j = (int64_t)rng_below(&r, (uint64_t)i + 1), t = l->rkeys[i];
    l->rkeys[i] = l->rkeys[j];
    l->rkeys[j] = t;
  }
  return 0;
}

static void put_skey(out *o, int64_t key) {
  put_str(o, "id", 2);
  put_i64(o, key);
}

/* Columns: 3 int keys (nkeys of them), their string twins, one value. */
static int write_join_table(const char *dir, const bench_gen_params *p, int which,
                            const key_level lv[3], uint64_t stream) {
  static const char *headers[4] = {
      "id1,id2,id3,id4,id5,id6,v1\n", "id1,id4,v2\n", "id1,id2,id4,id5,v2\n",
      "id1,id2,id3,id4,id5,id6,v2\n"};
  int nkeys = which == 0 ? 3 : which; /* small 1, medium 2, big 3 */
  int64_t rows = bench_j1_rows(p->n, which);
  char name[256], tmp[4096], final[4096];
  bench_j1_name(p, which, name, sizeof name);
  out o;
  if (out_open(&o, dir, name, tmp, final, sizeof final)) return -1;
  put_str(&o, headers[which], strlen(headers[which]));
  rng r;
  rng_init(&r, p->seed, stream);
  for (int64_t i = 0; i < rows; i++) {
    int64_t key[3];
    for (int c = 0; c < nkeys; c++) {
      const key_level *l = &lv[c];
      if (which == 0) key[c] = l->xkeys[rng_below(&r, (uint64_t)l->nk)];
      else if (c == nkeys - 1) key[c] = l->rkeys[i]; /* the table's own level: each key once */
      else key[c] = l->rkeys[rng_below(&r, (uint64_t)l->nk)];
    }
    out_room(&o);
    for (int c = 0; c < nkeys; c++) {
      put_i64(&o, key[c]);
      put_ch(&o, ',');
    }
    for (int c = 0; c < nkeys; c++) {
      put_skey(&o, key[c]);
      put_ch(&o, ',');
    }
    put_micro(&o, rng_below(&r, 100000000));
    put_ch(&o, '\n');
  }
  return out_close(&o, tmp, final);
}

int bench_gen_join(const char *dir, const bench_gen_params *p) {
  if (p->n < 1) {
    fprintf(stderr, "gen: need N >= 1\n");
    return -1;
  }
  if (make_dir(dir)) return -1;
  key_level lv[3] = {{0}};
  int rc = -1;
  for (int c = 0; c < 3; c++)
    if (level_init(&lv[c], bench_j1_rows(p->n, c + 1), p->seed, 30 + (uint64_t)c)) goto done;
  rc = 0;
  for (int w = 0; w < 4 && rc == 0; w++) rc = write_join_table(dir, p, w, lv, 40 + (uint64_t)w);
done:
  for (int c = 0; c < 3; c++) {
    free(lv[c].xkeys);
    free(lv[c].rkeys);
  }
  return rc;
}
