/* test_join_shared.c — when a join's output has every left row once and
 * in order (a left join on unique build keys, an inner or semi join every
 * left row of which matched, an anti join none of which did), canon__join
 * shares the left columns instead of gathering them.  Checked against a
 * nested loop, row by row in the kernel's order (left rows in order, each
 * one's matches in right row order), with NULL keys (matching only under
 * nulls_equal), duplicate build keys, misses and empty sides; and the
 * columns are shared exactly when the pairs are every left row in order. */
#include "testutil.h"

#include "kernels.h"

/* "id:int64,k:int64,s:string": id = row number, keys from v[] (INT64_MIN:
 * NULL), s the key as a string longer than 7 bytes. */
static canon_table *keyed(const int64_t *v, int n) {
  canon_error err;
  canon_schema *s = canon_schema_parse("id:int64,k:int64,s:string", &err);
  cr_assert(s, "%s", err.message);
  canon_builder *b = canon_builder_new(s, &err);
  cr_assert(b);
  for (int r = 0; r < n; r++) {
    cr_assert_eq(canon_builder_append_int64(b, 0, r), 0);
    if (v[r] == INT64_MIN) {
      cr_assert_eq(canon_builder_append_null(b, 1), 0);
      cr_assert_eq(canon_builder_append_null(b, 2), 0);
      continue;
    }
    char buf[40];
    int len = snprintf(buf, sizeof buf, "key-%020lld", (long long)v[r]);
    cr_assert_eq(canon_builder_append_int64(b, 1, v[r]), 0);
    cr_assert_eq(canon_builder_append_string(b, 2, buf, (size_t)len), 0);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  canon_schema_free(s);
  return t;
}

#define NUL INT64_MIN

/* Join L and R on column key (1: int, 2: string) and check the output
 * against a nested loop; whether the left columns were shared must be
 * `want_shared`. */
static void check(const canon_table *L, const canon_table *R, int type, int key,
                  bool nulls_equal, bool want_shared) {
  canon_error err;
  bool right_cols = type != CANON_JOIN_SEMI && type != CANON_JOIN_ANTI;
  canon_schema *s = canon_schema_parse(right_cols ? "id:int64,k:int64,s:string,id_r:int64"
                                                  : "id:int64,k:int64,s:string",
                                       &err);
  cr_assert(s, "%s", err.message);
  int keys[] = {key}, out_left[] = {0, 1, 2, -1}, out_right[] = {-1, -1, -1, 0};
  canon__join_spec sp = {.type = type, .nkeys = 1, .lkeys = keys, .rkeys = keys,
                         .nulls_equal = nulls_equal, .out = s, .out_left = out_left,
                         .out_right = out_right};
  canon_table *out = canon__join(L, R, &sp, &err);
  cr_assert(out, "%s", err.message);

  int64_t np = 0, cap = L->nrows * (R->nrows + 1) + 1;
  int64_t *pl = malloc((size_t)cap * sizeof *pl), *pr = malloc((size_t)cap * sizeof *pr);
  const canon__column *lk = L->cols[key], *rk = R->cols[key];
  for (int64_t i = 0; i < L->nrows; i++) {
    bool found = false;
    for (int64_t j = 0; j < R->nrows; j++) {
      bool vi = canon__valid(lk, i), vj = canon__valid(rk, j);
      if ((!vi || !vj) && !nulls_equal) continue;
      if (!canon__key_equal(lk, i, rk, j)) continue;
      found = true;
      if (!right_cols) break;
      pl[np] = i, pr[np] = j, np++;
    }
    if ((type == CANON_JOIN_SEMI && found) ||
        (!found && (type == CANON_JOIN_ANTI || type == CANON_JOIN_LEFT)))
      pl[np] = i, pr[np] = -1, np++;
  }
  cr_assert_eq(out->nrows, np, "type %d: %lld rows, want %lld", type, (long long)out->nrows,
               (long long)np);
  for (int64_t k = 0; k < np; k++) {
    for (int c = 0; c < 3; c++)
      cr_assert(canon__key_equal(out->cols[c], k, L->cols[c], pl[k]), "type %d row %lld col %d",
                type, (long long)k, c);
    if (right_cols) {
      const canon__column *ir = out->cols[3];
      cr_assert_eq(canon__valid(ir, k), pr[k] >= 0, "type %d row %lld", type, (long long)k);
      if (pr[k] >= 0) cr_assert_eq(canon__i64(ir)[k], pr[k], "type %d row %lld", type, (long long)k);
    }
  }
  for (int c = 0; c < 3; c++)
    cr_assert_eq(out->cols[c] == L->cols[c], want_shared,
                 "type %d key %d nulls_equal %d: left column %d %s", type, key, nulls_equal, c,
                 want_shared ? "gathered" : "shared");
  free(pl);
  free(pr);
  canon_table_free(out);
  canon_schema_free(s);
}

Test(join_shared, left_join_on_unique_build_keys) {
  const int64_t lv[] = {5, -3, NUL, 7, 5, 1000000007, -3, NUL, 42};
  const int64_t rv[] = {-3, 42, 5, NUL, 99, INT64_MAX};
  canon_table *L = keyed(lv, 9), *R = keyed(rv, 6);
  for (int key = 1; key <= 2; key++)
    for (int ne = 0; ne < 2; ne++) check(L, R, CANON_JOIN_LEFT, key, ne, true);
  canon_table_free(L);
  canon_table_free(R);
}

Test(join_shared, duplicate_build_keys_are_gathered) {
  const int64_t lv[] = {5, -3, NUL, 7, 5};
  const int64_t rv[] = {-3, 5, 5, NUL, NUL};
  canon_table *L = keyed(lv, 5), *R = keyed(rv, 5);
  for (int key = 1; key <= 2; key++)
    for (int ne = 0; ne < 2; ne++) {
      check(L, R, CANON_JOIN_LEFT, key, ne, false);
      check(L, R, CANON_JOIN_INNER, key, ne, false);
    }
  canon_table_free(L);
  canon_table_free(R);
}

Test(join_shared, inner_and_semi_joins_where_every_left_row_matches) {
  const int64_t lv[] = {5, -3, 7, 5, -3, INT64_MAX};
  const int64_t rv[] = {INT64_MAX, 7, -3, 5, 11};
  const int64_t missing[] = {5, -3, 8, NUL};
  canon_table *L = keyed(lv, 6), *R = keyed(rv, 5), *M = keyed(missing, 4);
  for (int key = 1; key <= 2; key++) {
    check(L, R, CANON_JOIN_INNER, key, false, true);
    check(L, R, CANON_JOIN_SEMI, key, false, true);
    check(L, R, CANON_JOIN_ANTI, key, false, false);
    /* A left row without a match: the inner join's rows skip it. */
    check(M, R, CANON_JOIN_INNER, key, false, false);
    check(M, R, CANON_JOIN_SEMI, key, false, false);
    check(M, R, CANON_JOIN_LEFT, key, false, true);
    /* Every left row but the NULL one matches itself. */
    check(M, M, CANON_JOIN_ANTI, key, false, false);
  }
  const int64_t none[] = {1, 2, NUL};
  canon_table *N = keyed(none, 3);
  check(N, R, CANON_JOIN_ANTI, 1, false, true);
  check(N, R, CANON_JOIN_ANTI, 2, true, true);
  canon_table_free(N);
  canon_table_free(L);
  canon_table_free(R);
  canon_table_free(M);
}

Test(join_shared, empty_sides) {
  const int64_t v[] = {1, NUL};
  canon_table *E = keyed(v, 0), *T = keyed(v, 2);
  for (int ne = 0; ne < 2; ne++) {
    check(E, T, CANON_JOIN_LEFT, 1, ne, true);
    check(E, T, CANON_JOIN_INNER, 1, ne, true);
    check(T, E, CANON_JOIN_LEFT, 1, ne, true);
    check(T, E, CANON_JOIN_INNER, 1, ne, false);
  }
  canon_table_free(E);
  canon_table_free(T);
}
