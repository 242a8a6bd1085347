/* mapcache.c — read-only mappings of segments kept across jobs (see
 * mapcache.h). */
#include "mapcache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Segments below this are not cached: mapping a small one again is cheap,
 * and the cache stays short (workers keep small segments too, see
 * PX_SMALL_MIN in worker.c). */
#define MC_MIN ((size_t)1 << 20)
/* Population is remembered per chunk of this many bytes. */
#define MC_CHUNK_SHIFT 20

typedef struct mc_entry {
  dev_t dev;
  ino_t ino;
  const uint8_t *map;
  size_t size;
  int refs;
  uint64_t touched;   /* clock of the last map or put (least recent goes first) */
  uint64_t *in;       /* bit k: chunk k populated */
} mc_entry;

struct px_mapcache {
  pthread_mutex_t lock;
  mc_entry *e;
  int n, cap;
  uint64_t clock;     /* counts maps and puts */
  uint64_t job_start, prev_job_start; /* the clock at the last two ticks */
  size_t idle_max;    /* bytes of idle mappings kept at most */
  int out;            /* mappings handed out and not yet put */
  int prot;           /* PROT_READ, or also PROT_WRITE (px_mapcache_new_rw) */
  bool closed;
};

px_mapcache *px_mapcache_new(size_t idle_max) {
  px_mapcache *c = calloc(1, sizeof *c);
  if (c) {
    pthread_mutex_init(&c->lock, NULL);
    c->idle_max = idle_max;
    c->prot = PROT_READ;
  }
  return c;
}

px_mapcache *px_mapcache_new_rw(size_t idle_max) {
  px_mapcache *c = px_mapcache_new(idle_max);
  if (c) c->prot = PROT_READ | PROT_WRITE;
  return c;
}

/* Whether fd is a segment its producer keeps (px_seg_create_kept marks
 * them): the only ones worth a kept mapping.  A fresh segment is never
 * sent again, and a kept mapping would keep its memory alive. */
static bool kept_segment(int fd) {
#ifdef F_GET_SEALS
  int seals = fcntl(fd, F_GET_SEALS);
  return seals >= 0 && (seals & F_SEAL_SHRINK);
#else
  (void)fd;
  return false;
#endif
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

/* Idle mappings down to idle_max bytes, the least recently used first. */
static void trim_idle(px_mapcache *c) {
  for (;;) {
    size_t idle = 0;
    int old = -1;
    for (int i = 0; i < c->n; i++) {
      if (c->e[i].refs) continue;
      idle += c->e[i].size;
      if (old < 0 || c->e[i].touched < c->e[old].touched) old = i;
    }
    if (idle <= c->idle_max || old < 0) return;
    drop_entry(c, old);
  }
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
  c->e[c->n++] = (mc_entry){sb->st_dev, sb->st_ino, map, size, 1, ++c->clock, in};
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
  bool cache = c && len >= MC_MIN && c->idle_max >= len && kept_segment(fd);
  if (cache) {
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->n; i++) {
      mc_entry *e = &c->e[i];
      if (e->dev != sb.st_dev || e->ino != sb.st_ino) continue;
      if (e->size == len) {
        if (e->refs++ == 0) set_fork(e, true);
        e->touched = ++c->clock;
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
  void *p = mmap(NULL, len, c ? c->prot : PROT_READ, MAP_SHARED, fd, 0);
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
  /* Whole chunks (what is marked is in), the last one cut at the end of
   * the segment. */
  if (whole) {
    runs[0][0] = first;
    runs[0][1] = last + 1;
    nruns = 1;
  }
  for (int r = 0; r < nruns; r++) {
    size_t lo = runs[r][0] << MC_CHUNK_SHIFT, hi = runs[r][1] << MC_CHUNK_SHIFT;
    populate(map + lo, map + (hi < size ? hi : size));
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
      c->e[i].touched = ++c->clock;
      if (--c->e[i].refs == 0) {
        if (c->closed) {
          drop_entry(c, i);
        } else {
          set_fork(&c->e[i], false);
          trim_idle(c);
        }
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
  c->prev_job_start = c->job_start;
  c->job_start = c->clock;
  /* Idle and not touched since the previous job started: a whole job
   * went by without it. */
  for (int i = 0; i < c->n; i++)
    if (c->e[i].refs == 0 && c->e[i].touched <= c->prev_job_start) drop_entry(c, i--);
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
