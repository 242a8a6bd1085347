/* table_view.h — row ranges of a table that share its buffers. */
#ifndef CANON_TABLE_VIEW_H
#define CANON_TABLE_VIEW_H

#include "internal.h"

/* Rows [start, start+n) of t without copying values, from any start (a
 * slice shares buffers only from a multiple of 8 rows): fixed-width values
 * and string bytes alias t's buffers; string offsets are copied, rebased to
 * 0; a validity bitmap is aliased from a multiple of 8, else copied
 * shifted, and dropped when the rows hold no NULL. */
canon_table *canon__table_view_rows(const canon_table *t, int64_t start, int64_t n,
                                    canon_error *err);

#endif
