/* spares.h — the driver's concatenation segments kept for the next one.
 *
 * The workers write a one-table result straight into a segment of the
 * driver's (held.c).  A fresh segment costs the kernel's allocating and
 * zeroing of every page the workers write, and the unmapping and freeing
 * of them all when the program frees the table: at 10 million joined
 * rows (840 MB) that is 0.4 s a query, where the threads engine's answer
 * reuses the memory malloc kept from the previous one.  So once the
 * program has let go of such a table, its segment waits here and the
 * next concatenation is written into it; the driver's and the workers'
 * mappings of it are kept too (mapcache.h), so a reused segment costs
 * neither faults nor mappings.
 *
 * A segment is lent only when nobody can read it any more: it comes back
 * when the last view of its table is released (px_spares_give).  A worker
 * maps it as a shared table only for a job that reads the table, and a
 * table a job reads is held by its dataframe (from_table, persist) until
 * the session closes; the driver may drop it from the shared tables
 * before (PX_DROP), but its segment comes back only with the session's
 * last view of it.  Once a worker has kept a view of a task input
 * (no_reuse), held.c lends none.
 * Spares are bounded in bytes (at most SPARES_MAX of them); one that no
 * concatenation took while a whole job went by is closed.
 *
 * Thread-safe: a table's last view may be released on any thread, even
 * after the session closed (the pool then goes with its last segment). */
#ifndef CANON_PROCESSES_SPARES_H
#define CANON_PROCESSES_SPARES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct px_spares px_spares;

/* A pool keeping up to max_bytes of spare segments, which it lets go with
 * close_fd (the driver's forgets the descriptor it held, see px_hold)
 * (NULL: out of memory, then nothing is kept). */
px_spares *px_spares_new(size_t max_bytes, void (*close_fd)(int fd));
/* A spare segment of at least len bytes, sealed against shrinking (the
 * mark mapcache.h keeps mappings for): the smallest one no bigger than
 * twice len (plus a MiB), else the biggest smaller one holding at least
 * half of len grown to len (rounded up to a MiB); or -1: none (or s
 * NULL), make one.  Either way the caller owes a pool s one
 * px_spares_give. */
int px_spares_take(px_spares *s, size_t len);
/* Give back segment fd (-1: none), which the pool takes over: kept when
 * it is worth keeping and there is room, else closed. */
void px_spares_give(px_spares *s, int fd);
/* A job starts: spares no concatenation took since the previous job
 * started are closed. */
void px_spares_tick(px_spares *s);
/* The session closes: spares are closed, those still lent when given. */
void px_spares_close(px_spares *s);
/* Spares kept and their bytes (tests). */
void px_spares_count(px_spares *s, int *n, size_t *bytes);

#endif
