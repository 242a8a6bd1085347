/* pipeline.c — the pipeline under test: filter, assign, aggregate, sort,
 * limit.  Plain canon API; nothing here knows about tests or engines. */
#include "pipeline.h"

canon_df *top_customers(canon_df *orders, int64_t n, canon_error *err) {
  canon_df *paid = canon_filter(orders, canon_eq(canon_col("status"), canon_lit_string("paid")), err);
  canon_expr *rev[] = {canon_mul(canon_col("qty"), canon_col("price"))};
  const char *rev_names[] = {"revenue"};
  canon_df *lines = canon_assign(paid, rev, rev_names, 1, err);
  const char *keys[] = {"customer"};
  canon_expr *aggs[] = {canon_count_star(), canon_sum(canon_col("revenue"))};
  const char *agg_names[] = {"orders", "revenue"};
  canon_df *per = canon_aggregate(lines, keys, 1, aggs, agg_names, 2, err);
  /* The customer breaks ties so the order is fully defined. */
  canon_sort_key by[] = {{"revenue", 1, 0}, {"customer", 0, 0}};
  canon_df *sorted = canon_sort(per, by, 2, err);
  return canon_limit(sorted, n, err);
}
