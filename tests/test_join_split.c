/* test_join_split.c — canon__join on a big build side splits both sides by
 * key hash and joins piece by piece (join.c).  With the thresholds lowered
 * the split join must give exactly the rows of the whole join (compared as
 * multisets: every output row carries the ids of its left and right row),
 * for every join type, with and without nulls_equal, on int keys
 * (negative, extreme, the value whose bits are the NULL hash constant),
 * float keys (NaN, -0.0), string keys (empty, longer than 7 bytes, with
 * and without dictionary codes) and two keys, with NULL keys, duplicate
 * and unique build keys, and empty or one-row sides; and in the same order
 * every time. */
#include "testutil.h"

#include <math.h>

#include "kernels.h"

/* Values a key is drawn from: index k of `card`. */
static int64_t int_key(int64_t k) {
  static const int64_t fixed[] = {INT64_MIN, INT64_MAX, -1, 0, (int64_t)0x1ff135342e825ce1LL};
  return k < 5 ? fixed[k] : (k % 2 ? -k * 1000003 : k * 7919);
}

static double float_key(int64_t k) {
  static const double fixed[] = {0.0, -0.0, NAN, INFINITY, -1.5};
  return k < 5 ? fixed[k] : (double)k * 0.25;
}

static int str_key(int64_t k, char *buf) {
  static const char *fixed[] = {"", "a", "abcdefgh", "abcdefghi", "id0000000001"};
  if (k < 5) {
    strcpy(buf, fixed[k]);
    return (int)strlen(buf);
  }
  int len = (int)(k % 23);
  for (int i = 0; i < len; i++) buf[i] = (char)('a' + (k * 5 + i * 11) % 26);
  buf[len] = 0;
  return len;
}

/* "id:int64,k:int64,f:float64,s:string": id = row number, keys drawn from
 * `card` values, NULL keys at rate 1/null_every (0: none); unique keys
 * (card 0): key k of row k. */
static canon_table *side(int64_t n, int64_t card, int null_every, bool dict) {
  canon_error err;
  canon_schema *s = canon_schema_parse("id:int64,k:int64,f:float64,s:string", &err);
  cr_assert(s, "%s", err.message);
  canon_builder *b = canon_builder_new(s, &err);
  cr_assert(b);
  char buf[32];
  for (int64_t r = 0; r < n; r++) {
    cr_assert_eq(canon_builder_append_int64(b, 0, r), 0);
    int64_t k = card ? tu_rnd_below(card) : r;
    for (int c = 1; c < 4; c++) {
      if (null_every && tu_rnd_below(null_every) == 0) {
        cr_assert_eq(canon_builder_append_null(b, c), 0);
        continue;
      }
      int rc;
      if (c == 1) rc = canon_builder_append_int64(b, c, int_key(k));
      else if (c == 2) rc = canon_builder_append_float64(b, c, float_key(k));
      else rc = canon_builder_append_string(b, c, buf, (size_t)str_key(k, buf));
      cr_assert_eq(rc, 0);
    }
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  if (dict) {
    t = canon__table_dict_encode(t, &err);
    cr_assert(t, "%s", err.message);
  }
  return t;
}

typedef struct jrun {
  canon_schema *s;
  int out_left[8], out_right[8];
  canon__join_spec sp;
} jrun;

/* Every left column, then (but for semi and anti) every right one; the
 * first key column merged (the left value, else the right one). */
static void jrun_init(jrun *j, int type, const int *keys, int nk, bool nulls_equal) {
  static const char *names[] = {"id", "k", "f", "s"};
  static const canon_type types[] = {CANON_INT64, CANON_INT64, CANON_FLOAT64, CANON_STRING};
  canon_error err;
  bool right_cols = type != CANON_JOIN_SEMI && type != CANON_JOIN_ANTI;
  int n = 0;
  j->s = canon_schema_new();
  for (int c = 0; c < 4; c++) {
    cr_assert_eq(canon_schema_add(j->s, names[c], types[c], &err), 0);
    j->out_left[n] = c;
    j->out_right[n++] = right_cols && c == keys[0] ? c : -1;
  }
  for (int c = 0; right_cols && c < 4; c++) {
    char nm[8];
    snprintf(nm, sizeof nm, "%s_r", names[c]);
    cr_assert_eq(canon_schema_add(j->s, nm, types[c], &err), 0);
    j->out_left[n] = -1;
    j->out_right[n++] = c;
  }
  j->sp = (canon__join_spec){.type = type, .nkeys = nk, .lkeys = keys, .rkeys = keys,
                             .nulls_equal = nulls_equal, .out = j->s,
                             .out_left = j->out_left, .out_right = j->out_right};
}

/* The join's CSV, split from `min_rows` build rows on into pieces of about
 * `piece` build rows. */
static char *join_csv(const canon_table *L, const canon_table *R, const jrun *j,
                      int64_t min_rows, int64_t piece) {
  int64_t old_min = canon__join_split_min_rows, old_piece = canon__join_split_piece_rows;
  canon__join_split_min_rows = min_rows;
  canon__join_split_piece_rows = piece;
  canon_error err;
  canon_table *out = canon__join(L, R, &j->sp, &err);
  canon__join_split_min_rows = old_min;
  canon__join_split_piece_rows = old_piece;
  cr_assert(out, "%s", err.message);
  char *csv = tu_csv(out);
  canon_table_free(out);
  return csv;
}

/* The split join gives the whole join's rows, the same way twice.  Returns
 * whether its order differed from the whole join's. */
static bool check_split(const canon_table *L, const canon_table *R, int type, const int *keys,
                        int nk, bool nulls_equal, int64_t piece) {
  jrun j;
  jrun_init(&j, type, keys, nk, nulls_equal);
  char *whole = join_csv(L, R, &j, INT64_MAX, piece);
  char *split = join_csv(L, R, &j, 1, piece);
  char *again = join_csv(L, R, &j, 1, piece);
  cr_assert_str_eq(split, again, "type %d: the split join's order is not reproducible", type);
  bool reordered = strcmp(whole, split) != 0;
  char *ws = tu_sorted_lines(whole), *ss = tu_sorted_lines(split);
  cr_assert_str_eq(ss, ws,
                   "type %d keys %d+%d nulls_equal %d piece %lld, %lld x %lld rows: the split "
                   "join's rows differ",
                   type, keys[0], nk, nulls_equal, (long long)piece, (long long)L->nrows,
                   (long long)R->nrows);
  free(whole);
  free(split);
  free(again);
  free(ws);
  free(ss);
  canon_schema_free(j.s);
  return reordered;
}

static const int TYPES[] = {CANON_JOIN_INNER, CANON_JOIN_LEFT, CANON_JOIN_SEMI,
                            CANON_JOIN_ANTI,  CANON_JOIN_RIGHT, CANON_JOIN_FULL};

Test(join_split, same_rows_as_the_whole_join) {
  static const int keysets[][2] = {{1}, {2}, {3}, {3, 1}};
  static const int nks[] = {1, 1, 1, 2};
  /* left rows, right rows, key cardinality (0: unique keys), NULL rate */
  static const int64_t shapes[][4] = {{300, 250, 40, 7}, {250, 200, 0, 0}, {200, 2, 3, 0},
                                      {0, 100, 20, 5},   {100, 0, 20, 5},  {1, 1, 1, 0},
                                      {150, 120, 120, 3}, {2, 3, 1, 2}};
  static const int64_t pieces[] = {1, 13, 1000000};
  tu_rnd_state = 11;
  bool reordered = false;
  for (int z = 0; z < 8; z++)
    for (int dict = 0; dict < 2; dict++) {
      canon_table *L = side(shapes[z][0], shapes[z][2], (int)shapes[z][3], dict);
      canon_table *R = side(shapes[z][1], shapes[z][2], (int)shapes[z][3], dict);
      for (int ks = 0; ks < 4; ks++)
        for (int ty = 0; ty < 6; ty++)
          for (int ne = 0; ne < 2; ne++)
            for (int p = 0; p < 3; p++)
              reordered |= check_split(L, R, TYPES[ty], keysets[ks], nks[ks], ne, pieces[p]);
      canon_table_free(L);
      canon_table_free(R);
    }
  /* The pieces really were joined one by one: some order changed. */
  cr_assert(reordered);
}

/* Many pieces (the most a split makes) over bigger sides with NULL keys
 * and duplicates, one int key (matched by hash alone) and one string key
 * with codes. */
Test(join_split, many_pieces) {
  tu_rnd_state = 12;
  canon_table *L = side(5000, 1500, 11, true), *R = side(4000, 1500, 13, true);
  int ik[] = {1}, sk[] = {3};
  for (int ty = 0; ty < 4; ty++)
    for (int ne = 0; ne < 2; ne++) {
      check_split(L, R, TYPES[ty], ik, 1, ne, 16);
      check_split(L, R, TYPES[ty], sk, 1, ne, 16);
    }
  canon_table_free(L);
  canon_table_free(R);
}

/* The default thresholds leave sides the engines partition alone: a join
 * of a few thousand build rows keeps the whole join's order. */
Test(join_split, small_sides_are_not_split) {
  tu_rnd_state = 13;
  canon_table *L = side(3000, 500, 9, false), *R = side(2000, 500, 9, false);
  int ik[] = {1};
  jrun j;
  jrun_init(&j, CANON_JOIN_INNER, ik, 1, false);
  char *whole = join_csv(L, R, &j, INT64_MAX, canon__join_split_piece_rows);
  char *dflt = join_csv(L, R, &j, canon__join_split_min_rows, canon__join_split_piece_rows);
  cr_assert_str_eq(dflt, whole);
  free(whole);
  free(dflt);
  canon_schema_free(j.s);
  canon_table_free(L);
  canon_table_free(R);
}

/* The pieces of a join partition that a hash exchange made: every row of
 * it has one value of hash % P, so splitting it again by hash % n (n a
 * multiple of P) would put every row in one piece; the join splits by the
 * hash's high half instead, and its pieces fill evenly. */
Test(join_split, pieces_of_an_exchange_partition_are_not_all_in_one) {
  tu_rnd_state = 11;
  canon_error err;
  canon_table *t = side(20000, 0, 0, false);
  int key[] = {1};
  canon_table *part[4] = {0};
  cr_assert_eq(canon__split_hash(t, key, 1, 4, part, &err), 0, "%s", err.message);
  canon_table *again[8] = {0};
  cr_assert_eq(canon__split_hash(part[0], key, 1, 8, again, &err), 0, "%s", err.message);
  int filled_low = 0;
  for (int k = 0; k < 8; k++) filled_low += again[k]->nrows > 0, canon_table_free(again[k]);
  cr_assert_eq(filled_low, 2, "the low bits' split of a partition fills n/P pieces");
  cr_assert_eq(canon__split_hash_high(part[0], key, 1, 8, again, &err), 0, "%s", err.message);
  int64_t rows = 0;
  for (int k = 0; k < 8; k++) {
    cr_assert_gt(again[k]->nrows, part[0]->nrows / 16, "piece %d has %lld of %lld rows", k,
                 (long long)again[k]->nrows, (long long)part[0]->nrows);
    rows += again[k]->nrows;
    canon_table_free(again[k]);
  }
  cr_assert_eq(rows, part[0]->nrows);
  for (int p = 0; p < 4; p++) canon_table_free(part[p]);
  canon_table_free(t);
}
