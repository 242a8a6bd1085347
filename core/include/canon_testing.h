/* canon_testing.h — helpers for testing pipelines built with canon.
 *
 * Write the expected table by hand, run the pipeline, and compare:
 *
 *     canon_table *want = canon_testing_table("k:string,n:int64", "a,2\n,1\n", &err);
 *     canon_table *got = canon_collect(df, &err);
 *     char *diff = NULL;
 *     if (canon_testing_compare(want, got, CANON_TESTING_ANY, NULL, 0, &diff))
 *       fprintf(stderr, "%s", diff);
 *     free(diff);
 *
 * Values compare exactly: two cells are equal when both are NULL, or both
 * are non-NULL with the same canonical text (the text canon writes to CSV).
 * So floats compare bit for bit, except that every NaN equals every NaN,
 * and -0.0 differs from 0.0.  The conformance suite (canon-conformance)
 * uses the same comparison.
 */
#ifndef CANON_TESTING_H
#define CANON_TESTING_H

#include "canon.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the rows of two tables are matched (docs/semantics.md §2). */
typedef enum canon_testing_order {
  CANON_TESTING_ANY = 0,  /* as multisets: the order is undefined */
  CANON_TESTING_EXACT,    /* as sequences: the order is defined */
  /* As a sequence of runs of rows with equal tie-key values, each run
   * compared as a multiset: a sort over rows of undefined order leaves the
   * order of its ties undefined.  Runs are taken from `expected`; tie-key
   * values are equal under the sort's equality (-0.0 = 0.0, NaN = NaN,
   * NULL = NULL). */
  CANON_TESTING_TIES
} canon_testing_order;

/* Build a table from a schema line and header-less CSV rows; a thin
 * wrapper over canon_table_from_csv_text (an empty field is NULL, "" the
 * empty string). */
CANON_API canon_table *canon_testing_table(const char *schema, const char *rows,
                                           canon_error *err);

/* Compare `actual` with `expected`.  Returns 0 when they are equal, 1 when
 * they differ, and -1 when they cannot be compared (a NULL table, an
 * unknown tie key, out of memory).  When the result is
 * not 0 and `diff` is not NULL, *diff receives a malloc'd readable report:
 * the schema mismatch, or the rows missing from `actual` ("- ") and the
 * unexpected ones ("+ ") as CSV, with NULL shown as NULL and strings that
 * could be mistaken quoted ("" is the empty string).  On 0, *diff is NULL. */
CANON_API int canon_testing_compare(const canon_table *expected, const canon_table *actual,
                                    canon_testing_order order,
                                    const char *const *tie_keys, int ntie, char **diff);

#ifdef __cplusplus
}
#endif
#endif /* CANON_TESTING_H */
