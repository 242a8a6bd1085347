/* groupby_median — group by a string column and aggregate a float column.
 *
 * Reads examples/data/measurements.csv, groups by city (the NULL city is a
 * group of its own) and computes the median and the mean reading per city,
 * sorted by city with the NULL group last.  The median interpolates between
 * the two middle readings of an even-sized group (SEMANTICS §5).
 *
 *   ./build/examples/groupby_median [--engine serial:partitions=7]
 */
#include "canon.h"

#include <stdio.h>
#include <stdlib.h>

#ifndef EXAMPLES_DATA
#define EXAMPLES_DATA "examples/data"
#endif

static int die(const canon_error *err) {
  fprintf(stderr, "groupby_median: %s\n", err->message);
  return 1;
}

int main(int argc, char **argv) {
  canon_error err;
  canon_error_clear(&err);
  canon_config *cfg = canon_config_new();
  if (canon_config_parse_args(cfg, &argc, argv, &err)) return die(&err);
  canon_session *s = canon_session_open(cfg, &err);
  canon_config_free(cfg);
  if (!s) return die(&err);

  canon_csv_options csv = {.schema = "city:string,sensor:string,reading:float64"};
  canon_df *df = canon_read_csv(s, argc > 1 ? argv[1] : EXAMPLES_DATA "/measurements.csv", &csv, &err);

  const char *keys[] = {"city"};
  canon_expr *aggs[] = {canon_median(canon_col("reading")), canon_mean(canon_col("reading")),
                        canon_count(canon_col("reading")), canon_count_star()};
  const char *names[] = {"median_reading", "mean_reading", "readings", "rows"};
  df = canon_aggregate(df, keys, 1, aggs, names, 4, &err);

  canon_sort_key order[] = {{.column = "city"}};  /* ascending, NULLS LAST */
  df = canon_sort(df, order, 1, &err);

  canon_table *t = canon_collect(df, &err);
  if (!t) {
    canon_session_close(s);
    return die(&err);
  }
  canon_table_write_csv_file(t, stdout, &err);
  canon_table_free(t);
  canon_session_close(s);
  return 0;
}
