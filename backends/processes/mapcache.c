/* mapcache.c — read-only mappings of segments kept across jobs (see
 * mapcache.h). */
#include "mapcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Segments below this are not cached (workers keep none that small). */
#define MC_MIN ((size_t)1 << 20)
/* Population is remembered per chunk of this many bytes. */
#define MC_CHUNK_SHIFT 20

typedef struct mc_entry {
  dev_t dev;
  ino_t ino;
  const uint8_t *map;
  size_t size;
  int refs;
  uint64_t last_use;  /* epoch of the last map or put */
  uint64_t *in;       /* bit k: chunk k populated */
} mc_entry;

struct px_mapcache {
  pthread_mutex_t lock;
  mc_entry *e;
  int n, cap;
  uint64_t epoch;
  int out;            /* mappings handed out and not yet put */
  bool closed;
};

px_mapcache *px_mapcache_new(void) {
  px_mapcache *c = calloc(1, sizeof *c);
  if (c) pthread_mutex_init(&c->lock, NULL);
  return c;
}

static void drop_entry(px_mapcache *c, int i) {
  munmap((void *)c->e[i].map, c->e[i].size);
  free(c->e[i].in);
  c->e[i] = c->e[--c->n];
}

/* An idle mapping is not inherited by processes forked meanwhile (a
 * replacement worker would otherwise keep the segment alive for its
 * whole life); one a table views is, as every other memory of the
 * program is. */
static void set_fork(mc_entry *e, bool inherit) {
#if defined(MADV_DONTFORK) && defined(MADV_DOFORK)
  madvise((void *)e->map, e->size, inherit ? MADV_DOFORK : MADV_DONTFORK);
#else
  (void)e, (void)inherit;
#endif
}

static void free_cache(px_mapcache *c) {
  pthread_mutex_destroy(&c->lock);
  free(c->e);
  free(c);
}

/* A new entry for a mapping made under no lock; false when there is no
 * room (the mapping then stays uncached). */
static bool add_entry(px_mapcache *c, const struct stat *sb, const uint8_t *map, size_t size) {
  size_t words = ((size >> MC_CHUNK_SHIFT) + 1 + 63) / 64;
  uint64_t *in = calloc(words, sizeof *in);
  if (!in) return false;
  if (c->n == c->cap) {
    int nc = c->cap ? c->cap * 2 : 16;
    mc_entry *ne = realloc(c->e, (size_t)nc * sizeof *ne);
    if (!ne) {
      free(in);
      return false;
    }
    c->e = ne;
    c->cap = nc;
  }
  c->e[c->n++] = (mc_entry){sb->st_dev, sb->st_ino, map, size, 1, c->epoch, in};
  return true;
}

int px_mapcache_map(px_mapcache *c, int fd, const uint8_t **map, size_t *size) {
  struct stat sb;
  if (fstat(fd, &sb) != 0) return -1;
  if (sb.st_size <= 0) {
    errno = EINVAL;
    return -1;
  }
  size_t len = (size_t)sb.st_size;
  bool cache = c && len >= MC_MIN;
  if (cache) {
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->n; i++) {
      mc_entry *e = &c->e[i];
      if (e->dev != sb.st_dev || e->ino != sb.st_ino) continue;
      if (e->size == len) {
        if (e->refs++ == 0) set_fork(e, true);
        e->last_use = c->epoch;
        c->out++;
        *map = e->map;
        *size = len;
        pthread_mutex_unlock(&c->lock);
        return 0;
      }
      /* The producer grew it: an idle mapping of the old size is of no
       * more use (a held one goes when put and idle long enough). */
      if (e->refs == 0) drop_entry(c, i--);
    }
    pthread_mutex_unlock(&c->lock);
  }
  void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return -1;
  *map = p;
  *size = len;
  if (!c) return 0;
  pthread_mutex_lock(&c->lock);
  c->out++;
  if (cache) (void)add_entry(c, &sb, p, len);
  pthread_mutex_unlock(&c->lock);
  return 0;
}

static void populate(const uint8_t *lo, const uint8_t *hi) {
#ifdef MADV_POPULATE_READ
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t a = (uintptr_t)lo & ~(page - 1);
  /* A kernel without it: the pages come as they are read. */
  if ((uintptr_t)hi > a) madvise((void *)a, (uintptr_t)hi - a, MADV_POPULATE_READ);
#else
  (void)lo, (void)hi;
#endif
}

void px_mapcache_populate(px_mapcache *c, const uint8_t *map, size_t size, const uint8_t *at,
                          size_t len) {
  if (!map || at < map || at > map + size) return;
  if (len > (size_t)(map + size - at)) len = (size_t)(map + size - at);
  if (!len) return;
  size_t first = (size_t)(at - map) >> MC_CHUNK_SHIFT;
  size_t last = ((size_t)(at - map) + len - 1) >> MC_CHUNK_SHIFT;
  mc_entry *e = NULL;
  if (c) {
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->n && !e; i++)
      if (c->e[i].map == map && c->e[i].refs > 0) e = &c->e[i];
  }
  if (!e) {
    if (c) pthread_mutex_unlock(&c->lock);
    populate(at, at + len);
    return;
  }
  /* Runs of chunks not yet in, marked now and faulted in outside the
   * lock (a concurrent reader of the same chunk just faults its pages). */
  size_t runs[16][2];
  int nruns = 0;
  bool whole = false;
  for (size_t k = first; k <= last; k++) {
    if (e->in[k / 64] >> (k % 64) & 1) continue;
    e->in[k / 64] |= (uint64_t)1 << (k % 64);
    if (nruns && runs[nruns - 1][1] == k) {
      runs[nruns - 1][1] = k + 1;
    } else if (nruns < 16) {
      runs[nruns][0] = k;
      runs[nruns][1] = k + 1;
      nruns++;
    } else {
      whole = true;
    }
  }
  pthread_mutex_unlock(&c->lock);
  if (whole) {
    populate(at, at + len);
    return;
  }
  for (int r = 0; r < nruns; r++) {
    const uint8_t *lo = map + (runs[r][0] << MC_CHUNK_SHIFT);
    const uint8_t *hi = map + (runs[r][1] << MC_CHUNK_SHIFT);
    if (lo < at) lo = at;
    if (hi > at + len) hi = at + len;
    populate(lo, hi);
  }
}

void px_mapcache_put(px_mapcache *c, const uint8_t *map, size_t size) {
  if (!map) return;
  if (!c) {
    munmap((void *)map, size);
    return;
  }
  pthread_mutex_lock(&c->lock);
  bool cached = false;
  for (int i = 0; i < c->n; i++)
    if (c->e[i].map == map && c->e[i].refs > 0) {
      cached = true;
      c->e[i].last_use = c->epoch;
      if (--c->e[i].refs == 0) {
        if (c->closed)
          drop_entry(c, i);
        else
          set_fork(&c->e[i], false);
      }
      break;
    }
  if (!cached) munmap((void *)map, size);
  bool last = --c->out == 0 && c->closed;
  pthread_mutex_unlock(&c->lock);
  if (last) free_cache(c);
}

void px_mapcache_tick(px_mapcache *c) {
  if (!c) return;
  pthread_mutex_lock(&c->lock);
  c->epoch++;
  for (int i = 0; i < c->n; i++)
    if (c->e[i].refs == 0 && c->e[i].last_use + 1 < c->epoch) drop_entry(c, i--);
  pthread_mutex_unlock(&c->lock);
}

void px_mapcache_close(px_mapcache *c) {
  if (!c) return;
  pthread_mutex_lock(&c->lock);
  c->closed = true;
  for (int i = 0; i < c->n; i++)
    if (c->e[i].refs == 0) drop_entry(c, i--);
  bool last = c->out == 0;
  pthread_mutex_unlock(&c->lock);
  if (last) free_cache(c);
}

void px_mapcache_count(px_mapcache *c, int *mappings, size_t *bytes) {
  int n = 0;
  size_t b = 0;
  if (c) {
    pthread_mutex_lock(&c->lock);
    n = c->n;
    for (int i = 0; i < c->n; i++) b += c->e[i].size;
    pthread_mutex_unlock(&c->lock);
  }
  if (mappings) *mappings = n;
  if (bytes) *bytes = b;
}
