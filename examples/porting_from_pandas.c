/* porting_from_pandas — three everyday pandas steps, and what canon does.
 *
 * Each step notes where pandas, Spark and Dask disagree, and what canon
 * returns (the same on every canon engine and partition count).
 *
 *   ./build/examples/porting_from_pandas [--engine threads]
 */
#include "canon.h"

#include <stdio.h>

static int die(const canon_error *err) {
  fprintf(stderr, "porting_from_pandas: %s\n", err->message);
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

  canon_table *sales = canon_table_from_csv_text(
      "store:string,product:string,code:string,price:float64",
      "north,apple,A,1.5\n"
      ",pear,B,2.0\n"
      "south,apple,A,\n"
      "north,kiwi,K,3.0\n"
      ",apple,A,1.0\n"
      "south,pear,B,2.5\n"
      "north,pear,,2.0\n",
      &err);
  canon_table *names = canon_table_from_csv_text("code:string,name:string",
                                                 "A,Apple\nB,Banana\n", &err);
  if (!sales || !names) return die(&err);
  canon_df *df = canon_from_table(s, sales, &err);
  canon_df *lookup = canon_from_table(s, names, &err);
  canon_table_free(sales);
  canon_table_free(names);

  /* 1. df.groupby("store")["price"].mean()
   *    pandas (and Dask) drop the rows whose store is NaN unless you pass
   *    dropna=False; Spark keeps a null group.  canon keeps the NULL group,
   *    and mean skips NULL prices: the south group is 2.5, not NaN. */
  const char *keys[] = {"store"};
  canon_expr *aggs[] = {canon_mean(canon_col("price")), canon_count_star()};
  const char *agg_names[] = {"mean_price", "rows"};
  canon_sort_key by_store[] = {{.column = "store"}};
  if (show("mean price per store (NULL store kept)",
           canon_sort(canon_aggregate(df, keys, 1, aggs, agg_names, 2, &err), by_store, 1, &err),
           &err))
    return die(&err);

  /* 2. df.sort_values(["store", "price"], ascending=[True, False],
   *                   na_position="first")
   *    pandas puts NaN last by default and na_position applies to every
   *    key; Spark puts nulls first for ascending and last for descending
   *    keys by default.  canon defaults to NULLS LAST for both directions
   *    and takes the placement per key; here both keys ask for NULLS FIRST,
   *    as na_position="first" does.  The sort is stable: equal keys keep
   *    their input order (pandas' default quicksort does not promise it). */
  canon_sort_key order[] = {{.column = "store", .nulls_first = 1},
                            {.column = "price", .descending = 1, .nulls_first = 1}};
  if (show("sorted by store ASC, price DESC, NULLs first", canon_sort(df, order, 2, &err), &err))
    return die(&err);

  /* 3. df["name"] = df["code"].map({"A": "Apple", "B": "Banana"})
   *    pandas maps unknown codes (K) and missing codes to NaN.  In canon the
   *    dictionary is a small table and the mapping a left join: unknown
   *    codes and NULL codes get a NULL name (NULL keys never match, as in
   *    SQL).  Spark's join gives the same; a pandas merge on NaN keys would
   *    match them to each other. */
  const char *code[] = {"code"};
  canon_df *mapped = canon_join(df, lookup, CANON_JOIN_LEFT, code, NULL, 1, NULL, &err);
  canon_expr *cols[] = {canon_col("store"), canon_col("product"), canon_col("code"), canon_col("name")};
  canon_sort_key by_product[] = {{.column = "product"}, {.column = "store"}};
  if (show("code mapped to a name (left join with a lookup table)",
           canon_sort(canon_select(mapped, cols, NULL, 4, &err), by_product, 2, &err), &err))
    return die(&err);
  canon_session_close(s);
  return 0;
}
