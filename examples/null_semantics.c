/* null_semantics — what canon does with NULLs, the same on every engine.
 *
 * 1. A group-by over a key with NULLs keeps the NULL group (pandas drops it
 *    by default; Spark and DuckDB keep it).
 * 2. A two-key sort with mixed directions puts NULLs last in both
 *    directions unless asked otherwise (engines disagree on the default:
 *    PostgreSQL puts NULLs first when descending, pandas always last, ...).
 *
 *   ./build/examples/null_semantics [--engine serial:partitions=7]
 */
#include "canon.h"

#include <stdio.h>

static int die(const canon_error *err) {
  fprintf(stderr, "null_semantics: %s\n", err->message);
  return 1;
}

static int show(const char *title, canon_df *df, canon_error *err) {
  canon_table *t = canon_collect(df, err);
  if (!t) return 1;
  printf("# %s\n", title);
  canon_table_write_csv_file(t, stdout, err);
  canon_table_free(t);
  return 0;
}

int main(int argc, char **argv) {
  canon_error err;
  canon_error_clear(&err);
  canon_config *cfg = canon_config_new();
  if (canon_config_parse_args(cfg, &argc, argv, &err)) return die(&err);
  canon_session *s = canon_session_open(cfg, &err);
  canon_config_free(cfg);
  if (!s) return die(&err);

  canon_table *input = canon_table_from_csv_text(
      "team:string,player:string,score:int64",
      "red,ann,10\n,bob,7\nblue,cat,\nred,dan,10\nblue,eve,3\n,fay,\nred,gus,4\nblue,hal,3\n",
      &err);
  if (!input) return die(&err);
  canon_df *df = canon_from_table(s, input, &err);
  canon_table_free(input);

  /* 1: NULL team is a group; count(score) skips NULL scores. */
  const char *keys[] = {"team"};
  canon_expr *aggs[] = {canon_count_star(), canon_count(canon_col("score")),
                        canon_sum(canon_col("score"))};
  const char *names[] = {"players", "scored", "total"};
  canon_df *by_team = canon_aggregate(df, keys, 1, aggs, names, 3, &err);
  canon_sort_key team_order[] = {{.column = "team"}};
  if (show("group by team (NULL team kept, sorted NULLS LAST)",
           canon_sort(by_team, team_order, 1, &err), &err))
    return die(&err);

  /* 2: team ascending, score descending, NULLs last in both; stable. */
  canon_sort_key order[] = {{.column = "team"}, {.column = "score", .descending = 1}};
  if (show("sort by team ASC, score DESC (NULLS LAST both)", canon_sort(df, order, 2, &err), &err))
    return die(&err);

  /* The same with NULLS FIRST asked for explicitly on score. */
  canon_sort_key order2[] = {{.column = "team"},
                             {.column = "score", .descending = 1, .nulls_first = 1}};
  if (show("sort by team ASC, score DESC NULLS FIRST", canon_sort(df, order2, 2, &err), &err))
    return die(&err);
  canon_session_close(s);
  return 0;
}
