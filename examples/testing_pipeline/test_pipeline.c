/* test_pipeline.c — unit tests for top_customers() with canon_testing.h.
 *
 * Each test builds a small input by hand, runs the pipeline on the serial
 * engine at 1 and at 4 partitions (the answer must not change), and
 * compares with an expected table written by hand. */
#include <criterion/criterion.h>

#include "canon_testing.h"
#include "pipeline.h"

#include <stdlib.h>

static const char *const ORDERS = "customer:string,status:string,qty:int64,price:float64";
static const char *const RESULT = "customer:string,orders:int64,revenue:float64";

/* Run top_customers(n) over `rows` on `engine` and compare with `want`. */
static void check(const char *engine, const char *rows, int64_t n, const char *want_rows,
                  canon_testing_order order) {
  canon_error err;
  canon_error_clear(&err);
  canon_config *cfg = canon_config_new();
  cr_assert_eq(canon_config_set_engine(cfg, engine, &err), 0, "%s", err.message);
  canon_session *s = canon_session_open(cfg, &err);
  canon_config_free(cfg);
  cr_assert(s, "%s: %s", engine, err.message);

  canon_table *in = canon_testing_table(ORDERS, rows, &err);
  cr_assert(in, "%s", err.message);
  canon_df *df = top_customers(canon_from_table(s, in, &err), n, &err);
  cr_assert(df, "%s", err.message);
  canon_table *got = canon_collect(df, &err);
  cr_assert(got, "%s", err.message);
  canon_table *want = canon_testing_table(RESULT, want_rows, &err);
  cr_assert(want, "%s", err.message);

  char *diff = NULL;
  int rc = canon_testing_compare(want, got, order, NULL, 0, &diff);
  cr_expect_eq(rc, 0, "%s: top_customers differs:\n%s", engine, diff ? diff : "");
  free(diff);
  canon_table_free(want);
  canon_table_free(got);
  canon_table_free(in);
  canon_session_close(s);
}

static void check_everywhere(const char *rows, int64_t n, const char *want_rows) {
  check("serial:partitions=1", rows, n, want_rows, CANON_TESTING_EXACT);
  check("serial:partitions=4", rows, n, want_rows, CANON_TESTING_EXACT);
}

Test(top_customers, ranks_paid_revenue) {
  check_everywhere("ann,paid,2,10.0\n"
                   "bob,paid,1,5.5\n"
                   "ann,refunded,9,10.0\n"
                   "cid,paid,3,1.0\n"
                   "bob,paid,4,2.0\n",
                   10,
                   "ann,1,20.0\n"
                   "bob,2,13.5\n"
                   "cid,1,3.0\n");
}

Test(top_customers, keeps_the_first_n) {
  check_everywhere("a,paid,1,1.0\nb,paid,1,2.0\nc,paid,1,3.0\nd,paid,1,4.0\n", 2,
                   "d,1,4.0\nc,1,3.0\n");
}

Test(top_customers, equal_revenue_is_ordered_by_customer) {
  check_everywhere("zed,paid,1,5.0\namy,paid,5,1.0\nkim,paid,2,2.5\n", 10,
                   "amy,1,5.0\nkim,1,5.0\nzed,1,5.0\n");
}

Test(top_customers, unknown_customer_is_a_group_sorted_last_among_ties) {
  /* A NULL customer is kept as its own group (canon keeps NULL keys), and
   * sorts after named customers with the same revenue (NULLS LAST). */
  check_everywhere(",paid,1,2.0\nann,paid,1,3.0\n,paid,1,1.0\nbob,paid,1,3.0\n", 10,
                   "ann,1,3.0\nbob,1,3.0\n,2,3.0\n");
}

Test(top_customers, revenue_is_summed_exactly) {
  /* 1e16 + 1 - 1e16 + 1 is 2 when summed exactly, on every partitioning. */
  check_everywhere("x,paid,1,1e16\nx,paid,1,1.0\nx,paid,-1,1e16\nx,paid,1,1.0\n", 10, "x,4,2.0\n");
}

Test(top_customers, no_paid_orders_gives_no_rows) {
  check_everywhere("ann,refunded,1,1.0\n", 10, "");
}
