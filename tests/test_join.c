/* test_join.c — joins (SEMANTICS §6): every join type with NULL, NaN,
 * -0.0 and duplicate keys, empty sides, output names (merged keys,
 * clashes, suffixes), errors, self-joins, the broadcast and hash
 * strategies, and plan JSON.  Every plan runs on every engine at
 * partitions 1, 2, 3 and 8; expectations are written by hand from §6. */
#include "joins_testutil.h"

/* ---- the basic case: int keys with NULLs and duplicates ------------------- */

static const char *L_ROWS = "1,a\n2,b\n2,c\n,n1\n3,d\n";
static const char *R_ROWS = "2,x\n2,y\n,n2\n4,z\n1,w\n";

typedef struct jcase {
  canon_join_type how;
  int nulls_equal;
  canon_join_strategy strategy;
  int left_shape; /* 0 table, 1 after a sort, 2 after another join, 3 after a filter */
} jcase;

/* l with its rows unchanged but planned through a different stage shape,
 * so a broadcast join meets every kind of left stage. */
static canon_df *shape_left(canon_session *s, canon_df *l, int shape) {
  canon_error err;
  canon_df *out = l;
  if (shape == 1) {
    canon_sort_key k = {.column = "lv"};
    out = canon_sort(l, &k, 1, &err);
  } else if (shape == 2) {
    /* A semi join with every lv present keeps l as it is. */
    canon_df *all = jt_src(s, "lv:string", "a\nb\nc\nn1\nd\n");
    const char *keys[] = {"lv"};
    canon_join_options o = {.strategy = CANON_JOIN_HASH};
    out = canon_join(l, all, CANON_JOIN_SEMI, keys, NULL, 1, &o, &err);
  } else if (shape == 3) {
    out = canon_filter(l, canon_is_not_null(canon_col("lv")), &err);
  }
  cr_assert(out, "%s", err.message);
  return out;
}

static canon_df *plan_basic(canon_session *s, const void *arg) {
  const jcase *c = arg;
  canon_df *l = shape_left(s, jt_src(s, "k:int64,lv:string", L_ROWS), c->left_shape);
  canon_df *r = jt_src(s, "k:int64,rv:string", R_ROWS);
  const char *keys[] = {"k"};
  canon_join_options o = {.nulls_equal = c->nulls_equal, .strategy = c->strategy};
  canon_error err;
  canon_df *j = canon_join(l, r, c->how, keys, NULL, 1, &o, &err);
  cr_assert(j, "%s", err.message);
  return j;
}

#define INNER_ROWS "1,a,w\n2,b,x\n2,b,y\n2,c,x\n2,c,y\n"

static const struct {
  canon_join_type how;
  int nulls_equal;
  const char *want;
} BASIC[] = {
  {CANON_JOIN_INNER, 0, "k,lv,rv\n" INNER_ROWS},
  {CANON_JOIN_LEFT, 0, "k,lv,rv\n" INNER_ROWS "3,d,\n,n1,\n"},
  {CANON_JOIN_RIGHT, 0, "k,lv,rv\n" INNER_ROWS ",,n2\n4,,z\n"},
  {CANON_JOIN_FULL, 0, "k,lv,rv\n" INNER_ROWS "3,d,\n,n1,\n,,n2\n4,,z\n"},
  {CANON_JOIN_SEMI, 0, "k,lv\n1,a\n2,b\n2,c\n"},
  /* NOT EXISTS: the NULL-key row has no match, so it stays. */
  {CANON_JOIN_ANTI, 0, "k,lv\n,n1\n3,d\n"},
  {CANON_JOIN_INNER, 1, "k,lv,rv\n" INNER_ROWS ",n1,n2\n"},
  {CANON_JOIN_LEFT, 1, "k,lv,rv\n" INNER_ROWS ",n1,n2\n3,d,\n"},
  {CANON_JOIN_RIGHT, 1, "k,lv,rv\n" INNER_ROWS ",n1,n2\n4,,z\n"},
  {CANON_JOIN_FULL, 1, "k,lv,rv\n" INNER_ROWS ",n1,n2\n3,d,\n4,,z\n"},
  {CANON_JOIN_SEMI, 1, "k,lv\n1,a\n2,b\n2,c\n,n1\n"},
  {CANON_JOIN_ANTI, 1, "k,lv\n3,d\n"},
};
#define NBASIC ((int)(sizeof BASIC / sizeof BASIC[0]))

Test(join, null_and_duplicate_keys_every_type_and_strategy) {
  const canon_join_strategy strategies[] = {CANON_JOIN_AUTO, CANON_JOIN_BROADCAST, CANON_JOIN_HASH};
  for (int i = 0; i < NBASIC; i++)
    for (int st = 0; st < 3; st++) {
      jcase c = {BASIC[i].how, BASIC[i].nulls_equal, strategies[st], 0};
      jt_expect(plan_basic, &c, BASIC[i].want);
    }
}

Test(join, broadcast_meets_every_left_stage_shape) {
  for (int i = 0; i < NBASIC; i++)
    for (int shape = 1; shape <= 3; shape++) {
      jcase c = {BASIC[i].how, BASIC[i].nulls_equal, CANON_JOIN_BROADCAST, shape};
      jt_expect(plan_basic, &c, BASIC[i].want);
    }
}

/* The strategy shows in the physical plan: broadcast where asked (and for
 * a small in-memory right side by default), never for right and full. */
Test(join, strategy_choice_in_the_physical_plan) {
  canon_session *s = tu_open("serial:partitions=3");
  canon_df *l = jt_src(s, "k:int64,lv:string", L_ROWS);
  canon_df *r = jt_src(s, "k:int64,rv:string", R_ROWS);
  const char *keys[] = {"k"};
  canon_error err;
  struct {
    canon_join_type how;
    canon_join_strategy st;
    int64_t max;
    bool broadcast;
  } cases[] = {
    {CANON_JOIN_INNER, CANON_JOIN_AUTO, 0, true},
    {CANON_JOIN_INNER, CANON_JOIN_AUTO, -1, false},
    {CANON_JOIN_INNER, CANON_JOIN_AUTO, 4, false}, /* 5 rows > 4 */
    {CANON_JOIN_INNER, CANON_JOIN_AUTO, 5, true},
    {CANON_JOIN_ANTI, CANON_JOIN_BROADCAST, -1, true},
    {CANON_JOIN_LEFT, CANON_JOIN_HASH, 0, false},
    {CANON_JOIN_RIGHT, CANON_JOIN_BROADCAST, 0, false},
    {CANON_JOIN_FULL, CANON_JOIN_AUTO, 0, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    canon_join_options o = {.strategy = cases[i].st, .broadcast_max_rows = cases[i].max};
    canon_df *j = canon_join(l, r, cases[i].how, keys, NULL, 1, &o, &err);
    cr_assert(j, "%s", err.message);
    char *plan = jt_explain(j);
    cr_assert_eq(strstr(plan, "exchange broadcast") != NULL, cases[i].broadcast, "case %zu:\n%s",
                 i, plan);
    cr_assert_eq(strstr(plan, "exchange hash") != NULL, !cases[i].broadcast, "case %zu:\n%s", i,
                 plan);
    free(plan);
  }
  canon_session_close(s);
}

/* A persisted right side counts as in memory once it has been computed:
 * small enough, it is broadcast (before that, and when too big, hashed),
 * and the answer is the same either way. */
static char *jt_sorted_answer(canon_df *d) {
  char *csv = tu_collect_csv(d);
  char *sorted = tu_sorted_lines(csv);
  free(csv);
  return sorted;
}

Test(join, computed_persist_right_side_is_broadcast) {
  canon_session *s = tu_open("serial:partitions=3");
  canon_df *l = jt_src(s, "k:int64,lv:string", L_ROWS);
  canon_error err;
  const char *keys[] = {"k"};
  canon_df *rsrc = jt_src(s, "k:int64,rv:string", R_ROWS);
  canon_df *r =
      canon_persist(canon_filter(rsrc, canon_ne(canon_col("rv"), canon_lit_string("z")), &err), &err);
  cr_assert(r, "%s", err.message);
  canon_join_options o4 = {.strategy = CANON_JOIN_AUTO, .broadcast_max_rows = 4};
  canon_join_options o3 = {.strategy = CANON_JOIN_AUTO, .broadcast_max_rows = 3};
  canon_join_options oh = {.strategy = CANON_JOIN_HASH};
  /* Not computed yet: hashed. */
  canon_df *j = canon_join(l, r, CANON_JOIN_INNER, keys, NULL, 1, &o4, &err);
  cr_assert(j, "%s", err.message);
  char *plan = jt_explain(j);
  cr_assert(strstr(plan, "exchange hash") && !strstr(plan, "exchange broadcast"), "%s", plan);
  free(plan);
  char *first = jt_sorted_answer(j);
  /* Computed (4 rows): broadcast under a limit of 4, hashed under 3. */
  j = canon_join(l, r, CANON_JOIN_INNER, keys, NULL, 1, &o4, &err);
  plan = jt_explain(j);
  cr_assert(strstr(plan, "exchange broadcast") && !strstr(plan, "exchange hash"), "%s", plan);
  free(plan);
  char *bc = jt_sorted_answer(j);
  canon_df *j3 = canon_join(l, r, CANON_JOIN_INNER, keys, NULL, 1, &o3, &err);
  plan = jt_explain(j3);
  cr_assert(strstr(plan, "exchange hash") && !strstr(plan, "exchange broadcast"), "%s", plan);
  free(plan);
  char *hashed =
      jt_sorted_answer(canon_join(l, r, CANON_JOIN_INNER, keys, NULL, 1, &oh, &err));
  cr_assert_str_eq(first, "k,lv,rv\n1,a,w\n2,b,x\n2,b,y\n2,c,x\n2,c,y\n", "%s", first);
  cr_assert_str_eq(bc, first);
  cr_assert_str_eq(hashed, first);
  free(first), free(bc), free(hashed);
  canon_session_close(s);
}

/* ---- NaN and -0.0 keys ----------------------------------------------------- */

static canon_df *plan_float(canon_session *s, const void *arg) {
  const jcase *c = arg;
  canon_df *l = jt_src(s, "k:float64,lv:string", "NaN,a\n-0.0,b\n1.5,c\n,d\n0.0,e\n");
  canon_df *r = jt_src(s, "k:float64,rv:string", "NaN,x\n0.0,y\n-1.5,z\n,w\n-0.0,v\n");
  const char *keys[] = {"k"};
  canon_join_options o = {.strategy = c->strategy};
  canon_error err;
  canon_df *j = canon_join(l, r, c->how, keys, NULL, 1, &o, &err);
  cr_assert(j, "%s", err.message);
  return j;
}

Test(join, nan_matches_nan_and_negative_zero_matches_zero) {
  /* Merged keys show the left value as it is (-0.0 stays -0.0); an
   * unmatched right row shows its own. */
  const char *inner = "NaN,a,x\n-0.0,b,y\n-0.0,b,v\n0.0,e,y\n0.0,e,v\n";
  char full[512], right[512], inner_want[256];
  snprintf(inner_want, sizeof inner_want, "k,lv,rv\n%s", inner);
  snprintf(full, sizeof full, "k,lv,rv\n%s1.5,c,\n,d,\n-1.5,,z\n,,w\n", inner);
  snprintf(right, sizeof right, "k,lv,rv\n%s-1.5,,z\n,,w\n", inner);
  for (int st = CANON_JOIN_AUTO; st <= CANON_JOIN_HASH; st++) {
    jcase ci = {CANON_JOIN_INNER, 0, (canon_join_strategy)st, 0};
    jt_expect(plan_float, &ci, inner_want);
    jcase cf = {CANON_JOIN_FULL, 0, (canon_join_strategy)st, 0};
    jt_expect(plan_float, &cf, full);
    jcase cr = {CANON_JOIN_RIGHT, 0, (canon_join_strategy)st, 0};
    jt_expect(plan_float, &cr, right);
    jcase ca = {CANON_JOIN_ANTI, 0, (canon_join_strategy)st, 0};
    jt_expect(plan_float, &ca, "k,lv\n1.5,c\n,d\n");
  }
}

/* ---- many duplicates: every pair, same multiset for both strategies ------- */

static char *rows_mod(int n, int mod, const char *tag) {
  char *buf = malloc((size_t)n * 32 + 1);
  size_t at = 0;
  for (int i = 0; i < n; i++) at += (size_t)sprintf(buf + at, "%d,%s%d\n", i % mod, tag, i);
  buf[at] = '\0';
  return buf;
}

static canon_df *plan_many(canon_session *s, const void *arg) {
  const jcase *c = arg;
  char *lr = rows_mod(200, 10, "l"), *rr = rows_mod(50, 5, "r");
  canon_df *l = jt_src(s, "k:int64,lv:string", lr);
  canon_df *r = jt_src(s, "k:int64,rv:string", rr);
  free(lr), free(rr);
  const char *keys[] = {"k"};
  canon_join_options o = {.strategy = c->strategy};
  canon_error err;
  canon_df *j = canon_join(l, r, c->how, keys, NULL, 1, &o, &err);
  cr_assert(j, "%s", err.message);
  return j;
}

Test(join, duplicate_keys_give_every_pair_on_both_strategies) {
  const canon_join_type types[] = {CANON_JOIN_INNER, CANON_JOIN_LEFT, CANON_JOIN_SEMI,
                                   CANON_JOIN_ANTI};
  /* Keys 0..4: 20 left rows x 10 right rows each; keys 5..9: unmatched. */
  const int want_rows[] = {1000, 1100, 100, 100};
  for (int t = 0; t < 4; t++) {
    jcase b = {types[t], 0, CANON_JOIN_BROADCAST, 0}, h = {types[t], 0, CANON_JOIN_HASH, 0};
    char *x = jt_run(plan_many, &b, true), *y = jt_run(plan_many, &h, true);
    cr_assert_str_eq(x, y, "broadcast and hash differ for type %d", types[t]);
    cr_assert_eq(jt_count(x, "\n"), want_rows[t] + 1, "type %d", types[t]);
    free(x), free(y);
  }
}

/* ---- empty sides ----------------------------------------------------------- */

typedef struct ecase {
  canon_join_type how;
  bool left_empty, right_empty;
  canon_join_strategy strategy;
} ecase;

static canon_df *plan_empty(canon_session *s, const void *arg) {
  const ecase *c = arg;
  canon_df *l = jt_src(s, "k:int64,lv:string", c->left_empty ? "" : "1,a\n,b\n");
  canon_df *r = jt_src(s, "k:int64,rv:string", c->right_empty ? "" : "1,x\n2,y\n");
  const char *keys[] = {"k"};
  canon_join_options o = {.strategy = c->strategy};
  canon_error err;
  canon_df *j = canon_join(l, r, c->how, keys, NULL, 1, &o, &err);
  cr_assert(j, "%s", err.message);
  return j;
}

Test(join, empty_sides) {
  static const struct {
    ecase c;
    const char *want;
  } cases[] = {
    {{CANON_JOIN_INNER, true, false, CANON_JOIN_HASH}, "k,lv,rv\n"},
    {{CANON_JOIN_INNER, false, true, CANON_JOIN_BROADCAST}, "k,lv,rv\n"},
    {{CANON_JOIN_LEFT, false, true, CANON_JOIN_BROADCAST}, "k,lv,rv\n1,a,\n,b,\n"},
    {{CANON_JOIN_LEFT, false, true, CANON_JOIN_HASH}, "k,lv,rv\n1,a,\n,b,\n"},
    {{CANON_JOIN_RIGHT, true, false, CANON_JOIN_HASH}, "k,lv,rv\n1,,x\n2,,y\n"},
    {{CANON_JOIN_FULL, true, false, CANON_JOIN_HASH}, "k,lv,rv\n1,,x\n2,,y\n"},
    {{CANON_JOIN_FULL, false, true, CANON_JOIN_HASH}, "k,lv,rv\n1,a,\n,b,\n"},
    {{CANON_JOIN_FULL, true, true, CANON_JOIN_HASH}, "k,lv,rv\n"},
    {{CANON_JOIN_SEMI, false, true, CANON_JOIN_BROADCAST}, "k,lv\n"},
    {{CANON_JOIN_ANTI, false, true, CANON_JOIN_BROADCAST}, "k,lv\n1,a\n,b\n"},
    {{CANON_JOIN_ANTI, true, false, CANON_JOIN_HASH}, "k,lv\n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    jt_expect(plan_empty, &cases[i].c, cases[i].want);
}

/* ---- cross join ------------------------------------------------------------ */

static canon_df *plan_cross(canon_session *s, const void *arg) {
  (void)arg;
  canon_df *l = jt_src(s, "a:int64", "1\n2\n\n");
  canon_df *r = jt_src(s, "b:string,a:int64", "x,10\ny,20\n");
  canon_join_options o = {.right_suffix = "_r"};
  canon_error err;
  canon_df *j = canon_join(l, r, CANON_JOIN_CROSS, NULL, NULL, 0, &o, &err);
  cr_assert(j, "%s", err.message);
  return j;
}

Test(join, cross_join_pairs_everything) {
  /* No keys, so nothing merges: the clashing 'a' takes the suffix on the
   * right only (no left suffix given). */
  jt_expect(plan_cross, NULL,
            "a,b,a_r\n1,x,10\n1,y,20\n2,x,10\n2,y,20\n,x,10\n,y,20\n");
}

/* ---- output names ---------------------------------------------------------- */

static canon_df *join_names(canon_session *s, const char *ls, const char *lrows, const char *rs,
                            const char *rrows, canon_join_type how, const char *lk,
                            const char *rk, const canon_join_options *o, canon_error *err) {
  canon_df *l = jt_src(s, ls, lrows), *r = jt_src(s, rs, rrows);
  const char *lkeys[] = {lk}, *rkeys[] = {rk};
  return canon_join(l, r, how, lkeys, rk ? rkeys : NULL, 1, o, err);
}

static char *header(canon_df *df) {
  char *s = canon_schema_to_string(canon_df_schema(df));
  cr_assert(s);
  return s;
}

Test(join, clashing_names_need_suffixes) {
  canon_session *s = tu_open("serial:partitions=2");
  canon_error err;
  canon_df *j = join_names(s, "k:int64,v:string", "1,a\n", "k:int64,v:string", "1,b\n",
                           CANON_JOIN_INNER, "k", NULL, NULL, &err);
  cr_assert_null(j);
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert(strstr(err.message, "column 'v' is on both sides"), "%s", err.message);
  cr_assert(strstr(err.message, "join node"), "%s", err.message);

  canon_join_options o = {.left_suffix = "_l", .right_suffix = "_r"};
  j = join_names(s, "k:int64,v:string", "1,a\n", "k:int64,v:string", "1,b\n", CANON_JOIN_INNER,
                 "k", NULL, &o, &err);
  cr_assert(j, "%s", err.message);
  char *h = header(j);
  cr_assert_str_eq(h, "k:int64,v_l:string,v_r:string");
  free(h);
  char *csv = tu_collect_csv(j);
  cr_assert_str_eq(csv, "k,v_l,v_r\n1,a,b\n");
  free(csv);

  /* Only a right suffix: the left name stays. */
  canon_join_options ro = {.right_suffix = "_r"};
  j = join_names(s, "k:int64,v:string", "1,a\n", "k:int64,v:string", "1,b\n", CANON_JOIN_LEFT,
                 "k", NULL, &ro, &err);
  cr_assert(j, "%s", err.message);
  h = header(j);
  cr_assert_str_eq(h, "k:int64,v:string,v_r:string");
  free(h);

  /* Semi and anti output only left columns: nothing can clash. */
  j = join_names(s, "k:int64,v:string", "1,a\n", "k:int64,v:string", "1,b\n", CANON_JOIN_ANTI,
                 "k", NULL, NULL, &err);
  cr_assert(j, "%s", err.message);
  h = header(j);
  cr_assert_str_eq(h, "k:int64,v:string");
  free(h);

  /* A suffix that makes a new clash is an error too. */
  j = join_names(s, "k:int64,v:string,v_r:int64", "1,a,2\n", "k:int64,v:string", "1,b\n",
                 CANON_JOIN_INNER, "k", NULL, &ro, &err);
  cr_assert_null(j);
  cr_assert(strstr(err.message, "duplicate column name 'v_r'"), "%s", err.message);
  canon_session_close(s);
}

static canon_df *plan_renamed_keys(canon_session *s, const void *arg) {
  const canon_join_type *how = arg;
  canon_error err;
  canon_df *j = join_names(s, "a:int64,v:string", "1,x\n2,y\n", "b:int64,w:string",
                           "1,p\n3,q\n", *how, "a", "b", NULL, &err);
  cr_assert(j, "%s", err.message);
  return j;
}

Test(join, keys_named_differently_both_appear) {
  canon_join_type how = CANON_JOIN_FULL;
  jt_expect(plan_renamed_keys, &how, "a,v,b,w\n1,x,1,p\n2,y,,\n,,3,q\n");
  how = CANON_JOIN_INNER;
  jt_expect(plan_renamed_keys, &how, "a,v,b,w\n1,x,1,p\n");
}

Test(join, a_right_key_named_like_a_left_column_clashes) {
  canon_session *s = tu_open("serial");
  canon_error err;
  /* Right key 'b' pairs with left 'a', so it does not merge; the left
   * column 'b' and it clash. */
  canon_df *j = join_names(s, "a:int64,b:string", "1,x\n", "b:int64,c:string", "1,y\n",
                           CANON_JOIN_INNER, "a", "b", NULL, &err);
  cr_assert_null(j);
  cr_assert(strstr(err.message, "column 'b' is on both sides"), "%s", err.message);
  canon_session_close(s);
}

/* ---- errors ------------------------------------------------------------------ */

Test(join, key_type_mismatch_names_both_columns) {
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_df *j = join_names(s, "k:int64,v:string", "1,a\n", "id:string,w:string", "1,b\n",
                           CANON_JOIN_INNER, "k", "id", NULL, &err);
  cr_assert_null(j);
  cr_assert_eq(err.code, CANON_ERR_TYPE);
  cr_assert(strstr(err.message, "left 'k' is int64, right 'id' is string"), "%s", err.message);
  canon_session_close(s);
}

Test(join, bad_keys_and_arguments) {
  canon_session *s = tu_open("serial");
  canon_error err;
  canon_df *l = jt_src(s, "k:int64", "1\n"), *r = jt_src(s, "k:int64,w:string", "1,b\n");
  const char *nope[] = {"nope"}, *k[] = {"k"};
  cr_assert_null(canon_join(l, r, CANON_JOIN_INNER, nope, NULL, 1, NULL, &err));
  cr_assert_eq(err.code, CANON_ERR_NOT_FOUND);
  cr_assert(strstr(err.message, "unknown left join key 'nope'"), "%s", err.message);
  cr_assert_null(canon_join(l, r, CANON_JOIN_INNER, k, nope, 1, NULL, &err));
  cr_assert(strstr(err.message, "unknown right join key 'nope'"), "%s", err.message);
  cr_assert_null(canon_join(l, r, CANON_JOIN_INNER, NULL, NULL, 0, NULL, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  cr_assert_null(canon_join(l, r, CANON_JOIN_CROSS, k, NULL, 1, NULL, &err));
  cr_assert(strstr(err.message, "cross join takes no keys"), "%s", err.message);
  cr_assert_null(canon_join(l, r, (canon_join_type)99, k, NULL, 1, NULL, &err));
  cr_assert_null(canon_join(NULL, r, CANON_JOIN_INNER, k, NULL, 1, NULL, &err));
  cr_assert(strstr(err.message, "left input is NULL"), "%s", err.message);
  canon_session *other = tu_open("serial");
  canon_df *o = jt_src(other, "k:int64", "1\n");
  cr_assert_null(canon_join(l, o, CANON_JOIN_INNER, k, NULL, 1, NULL, &err));
  cr_assert(strstr(err.message, "different sessions"), "%s", err.message);
  canon_session_close(other);
  canon_session_close(s);
}

/* ---- self-join --------------------------------------------------------------- */

typedef struct scase {
  canon_join_strategy strategy;
  canon_join_type how;
} scase;

static canon_df *plan_self(canon_session *s, const void *arg) {
  const scase *c = arg;
  canon_df *t = jt_src(s, "k:int64,v:string", "1,a\n1,b\n2,c\n,d\n");
  const char *keys[] = {"k"};
  canon_join_options o = {.left_suffix = "_1", .right_suffix = "_2", .strategy = c->strategy};
  canon_error err;
  canon_df *j = canon_join(t, t, c->how, keys, NULL, 1, &o, &err);
  cr_assert(j, "%s", err.message);
  return j;
}

Test(join, self_join) {
  const char *want = "k,v_1,v_2\n1,a,a\n1,a,b\n1,b,a\n1,b,b\n2,c,c\n";
  for (int st = CANON_JOIN_AUTO; st <= CANON_JOIN_HASH; st++) {
    scase c = {(canon_join_strategy)st, CANON_JOIN_INNER};
    jt_expect(plan_self, &c, want);
  }
  scase f = {CANON_JOIN_HASH, CANON_JOIN_FULL};
  jt_expect(plan_self, &f,
            "k,v_1,v_2\n1,a,a\n1,a,b\n1,b,a\n1,b,b\n2,c,c\n,d,\n,,d\n");
  /* The plan JSON holds the shared source once. */
  canon_session *s = tu_open("serial:partitions=3");
  scase c = {CANON_JOIN_AUTO, CANON_JOIN_INNER};
  char *json = jt_round_trip(plan_self(s, &c), true);
  cr_assert_eq(jt_count(json, "\"table\""), 1, "%s", json);
  cr_assert(strstr(json, "\"inputs\":\t[1, 1]"), "%s", json);
  free(json);
  canon_session_close(s);
}

/* ---- a join feeding an order-sensitive step ------------------------------------ */

static canon_df *plan_join_then_sort(canon_session *s, const void *arg) {
  (void)arg;
  jcase c = {CANON_JOIN_FULL, 0, CANON_JOIN_HASH, 2};
  canon_sort_key keys[] = {{.column = "k"}, {.column = "lv"}, {.column = "rv"}};
  canon_error err;
  canon_df *sorted = canon_sort(plan_basic(s, &c), keys, 3, &err);
  cr_assert(sorted, "%s", err.message);
  return sorted;
}

Test(join, sorted_join_output_is_the_same_sequence_everywhere) {
  char *got = jt_run(plan_join_then_sort, NULL, false);
  cr_assert_str_eq(got, "k,lv,rv\n1,a,w\n2,b,x\n2,b,y\n2,c,x\n2,c,y\n3,d,\n4,,z\n,n1,\n,,n2\n");
  free(got);
}

/* ---- plan JSON ------------------------------------------------------------------- */

Test(join, plan_json_round_trip_every_type_and_option) {
  canon_session *s = tu_open("serial:partitions=2");
  for (int i = 0; i < NBASIC; i++) {
    jcase c = {BASIC[i].how, BASIC[i].nulls_equal, CANON_JOIN_HASH, 1};
    free(jt_round_trip(plan_basic(s, &c), true));
  }
  /* Options that change nothing in the basic case still travel. */
  canon_df *l = jt_src(s, "k:int64,v:string", "1,a\n"), *r = jt_src(s, "id:int64,v:string", "1,b\n");
  const char *lk[] = {"k"}, *rk[] = {"id"};
  canon_join_options o = {.nulls_equal = 1, .left_suffix = "", .right_suffix = "_r",
                          .strategy = CANON_JOIN_BROADCAST, .broadcast_max_rows = 7};
  canon_error err;
  canon_df *j = canon_join(l, r, CANON_JOIN_LEFT, lk, rk, 1, &o, &err);
  cr_assert(j, "%s", err.message);
  char *json = jt_round_trip(j, true);
  cr_assert(strstr(json, "\"type\":\t\"JOIN_TYPE_LEFT\""), "%s", json);
  cr_assert(strstr(json, "\"left\":\t\"k\""), "%s", json);
  cr_assert(strstr(json, "\"right\":\t\"id\""), "%s", json);
  cr_assert(strstr(json, "\"strategy\":\t\"broadcast\""), "%s", json);
  cr_assert(strstr(json, "\"broadcast_max_rows\":\t\"7\""), "%s", json);
  free(json);
  free(jt_round_trip(plan_cross(s, NULL), true));
  canon_session_close(s);
}

Test(join, plan_json_errors) {
  canon_session *s = tu_open("serial");
  canon_df *root;
  canon_error err;
  const char *head = "{\"canon_plan\": 1, \"nodes\": ["
                     "{\"id\": 1, \"op\": \"table\", \"schema\": [{\"name\": \"k\", \"type\": "
                     "\"int64\"}], \"rows\": [[\"1\"]]},";
  char doc[1024];
  snprintf(doc, sizeof doc,
           "%s {\"id\": 2, \"op\": \"join\", \"inputs\": [1, 3], \"type\": "
           "\"JOIN_TYPE_INNER\", \"keys\": []}], \"root\": 2}",
           head);
  cr_assert_neq(canon_plan_from_json(s, doc, "p.json", &root, NULL, &err), 0);
  cr_assert(strstr(err.message, "$.nodes[1].inputs[1]: no node has id 3"), "%s", err.message);
  snprintf(doc, sizeof doc,
           "%s {\"id\": 2, \"op\": \"join\", \"inputs\": [1, 1], \"type\": "
           "\"JOIN_TYPE_SIDEWAYS\", \"keys\": []}], \"root\": 2}",
           head);
  cr_assert_neq(canon_plan_from_json(s, doc, "p.json", &root, NULL, &err), 0);
  cr_assert(strstr(err.message, "unknown join type \"JOIN_TYPE_SIDEWAYS\""), "%s", err.message);
  snprintf(doc, sizeof doc,
           "%s {\"id\": 2, \"op\": \"join\", \"inputs\": [1], \"type\": "
           "\"JOIN_TYPE_INNER\", \"keys\": []}], \"root\": 2}",
           head);
  cr_assert_neq(canon_plan_from_json(s, doc, "p.json", &root, NULL, &err), 0);
  cr_assert(strstr(err.message, "must hold two node ids"), "%s", err.message);
  /* A builder error gets the node's place. */
  snprintf(doc, sizeof doc,
           "%s {\"id\": 2, \"op\": \"join\", \"inputs\": [1, 1], \"type\": "
           "\"JOIN_TYPE_INNER\", \"keys\": [{\"left\": \"k\", \"right\": \"q\"}]}], \"root\": 2}",
           head);
  cr_assert_neq(canon_plan_from_json(s, doc, "p.json", &root, NULL, &err), 0);
  cr_assert(strstr(err.message, "unknown right join key 'q'"), "%s", err.message);
  cr_assert(strstr(err.message, "$.nodes[1]"), "%s", err.message);
  canon_session_close(s);
}
