/* gather_blocked.h — gathering many columns by one large random index
 * (gather_blocked.c), for take (table.c). */
#ifndef CANON_GATHER_BLOCKED_H
#define CANON_GATHER_BLOCKED_H

#include "internal.h"

typedef struct canon__gplan canon__gplan;

/* Takes of at least this many rows from at least this many are blocked
 * (when their index looks random); tests lower it. */
extern int64_t canon__gplan_min_rows;

/* Whether gathering rows idx[0..n) (each in [0, src_rows)) of a column
 * would gain from a plan: both sizes large and the index random (not
 * ascending, not a merge of a few runs). */
bool canon__gplan_wanted(const int64_t *idx, int64_t n, int64_t src_rows);
/* The plan of that gather (built once, shared by every column); NULL when
 * out of memory (the caller gathers directly). */
canon__gplan *canon__gplan_new(const int64_t *idx, int64_t n, int64_t src_rows);
/* dst[k] = src[idx[k]] for k < n, values of `width` bytes (1, 4 or 8). */
void canon__gplan_gather(const canon__gplan *p, const void *src, void *dst, size_t width);
void canon__gplan_free(canon__gplan *p);

#endif
