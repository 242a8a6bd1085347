/* mapcache.h — a process's read-only mappings of other processes'
 * segments, kept from one job to the next.
 *
 * Workers write their outputs into the segments they keep (see
 * worker.c), so the same few segments come back job after job, each time
 * as a new descriptor.  Mapping one afresh costs a page-table entry per
 * 4 KiB page (MADV_POPULATE_READ) and unmapping it tears them down again:
 * a tenth of a second per gigabyte, paid by the driver for every big
 * result and by every worker for every big split.  The cache recognises a
 * segment by its inode and keeps its mapping, and remembers which parts
 * are already populated, so a segment read again costs nothing.
 *
 * The data is never stale: the mapping is shared, so it always shows what
 * the segment holds now (the reuse protocol decides when a segment may be
 * written, not this cache).  Only segments of 1 MiB or more that their
 * producer keeps are cached: a worker marks those (px_seg_create_kept
 * seals them against shrinking); a fresh segment is never sent again.
 * What a kept mapping costs is the segment's memory when its producer has
 * let it go (trimmed from its cache, dropped once reuse stopped, or its
 * worker dead): so an idle mapping is unmapped once a whole job has
 * passed without using it, and idle mappings are kept up to a byte
 * bound, the least recently used going first.
 *
 * Thread-safe: the driver maps a job's results on several threads, and a
 * result's views release their mapping from any thread, even after the
 * session closed. */
#ifndef CANON_PROCESSES_MAPCACHE_H
#define CANON_PROCESSES_MAPCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct px_mapcache px_mapcache;

/* A new cache keeping at most idle_max bytes of idle mappings, or NULL
 * (out of memory: callers then map directly). */
px_mapcache *px_mapcache_new(size_t idle_max);
/* The same for read-write mappings (segments this process writes into
 * that others keep: a concatenation's, spares.h). */
px_mapcache *px_mapcache_new_rw(size_t idle_max);
/* Map segment fd read-only (read-write in a cache from
 * px_mapcache_new_rw) (the whole segment); a kept segment already
 * mapped (same inode and size) is not mapped again.  0 with *map and *size set
 * and the mapping held, or -1 (errno).  c NULL: a plain mapping. */
int px_mapcache_map(px_mapcache *c, int fd, const uint8_t **map, size_t *size);
/* Fault in [at, at + len) of a mapping from px_mapcache_map, unless the
 * cache knows it is in already (it remembers whole MiB chunks: the
 * chunks the range touches are faulted in whole). */
void px_mapcache_populate(px_mapcache *c, const uint8_t *map, size_t size, const uint8_t *at,
                          size_t len);
/* Done with a mapping from px_mapcache_map (unmapped when not cached). */
void px_mapcache_put(px_mapcache *c, const uint8_t *map, size_t size);
/* A job starts: unmap the idle mappings no use touched during the
 * previous job or this one so far. */
void px_mapcache_tick(px_mapcache *c);
/* The owner is done (session close): idle mappings go now, held ones
 * when put; the cache is freed with the last.  (A worker never closes
 * its cache: it leaves with _exit.) */
void px_mapcache_close(px_mapcache *c);
/* Mappings the cache holds and their bytes (tests, statistics). */
void px_mapcache_count(px_mapcache *c, int *mappings, size_t *bytes);

#endif
