/* spares.c — concatenation segments kept for the next one (see spares.h). */
#include "spares.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Segments below this are not kept: a small one costs little to make. */
#define SPARE_MIN ((size_t)1 << 20)
/* Spares kept at most (a program with many big tables alive lends many;
 * only a few come back between two jobs). */
#define SPARES_MAX 4

typedef struct spare {
  int fd;
  size_t size;
  uint64_t given; /* the clock when it came back */
} spare;

struct px_spares {
  pthread_mutex_t lock;
  spare e[SPARES_MAX];
  int n;
  size_t max_bytes;
  uint64_t clock, job_start, prev_job_start;
  int out;        /* takes not yet given back */
  bool closed;
  void (*close_fd)(int fd);
};

px_spares *px_spares_new(size_t max_bytes, void (*close_fd)(int fd)) {
  px_spares *s = calloc(1, sizeof *s);
  if (s) {
    pthread_mutex_init(&s->lock, NULL);
    s->max_bytes = max_bytes;
    s->close_fd = close_fd;
  }
  return s;
}

static size_t seg_size(int fd) {
  struct stat sb;
  return fstat(fd, &sb) == 0 && sb.st_size > 0 ? (size_t)sb.st_size : 0;
}

static void drop(px_spares *s, int i) {
  s->close_fd(s->e[i].fd);
  s->e[i] = s->e[--s->n];
}

static void free_pool(px_spares *s) {
  pthread_mutex_destroy(&s->lock);
  free(s);
}

int px_spares_take(px_spares *s, size_t len) {
  if (!s) return -1;
  pthread_mutex_lock(&s->lock);
  s->out++;
  int best = -1, grow = -1;
  for (int i = 0; i < s->n; i++) {
    size_t z = s->e[i].size;
    if (z >= len && z / 2 <= len + SPARE_MIN / 2 && (best < 0 || z < s->e[best].size)) best = i;
    /* Grown only when it holds half or more: a small spare is kept for
     * small answers, as a worker keeps small output segments. */
    if (z < len && z >= len / 2 && (grow < 0 || z > s->e[grow].size)) grow = i;
  }
  int fd = -1;
  if (best >= 0) {
    fd = s->e[best].fd;
    s->e[best] = s->e[--s->n];
  } else if (grow >= 0) {
    size_t want = (len + SPARE_MIN - 1) & ~(SPARE_MIN - 1);
    fd = s->e[grow].fd;
    s->e[grow] = s->e[--s->n];
    /* Grown, its pages so far stay (a fresh segment has to fault in
     * every one); without room for it, a fresh one. */
    if (ftruncate(fd, (off_t)want) != 0) {
      s->close_fd(fd);
      fd = -1;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return fd;
}

void px_spares_give(px_spares *s, int fd) {
  pthread_mutex_lock(&s->lock);
  size_t size = fd >= 0 ? seg_size(fd) : 0;
  if (fd >= 0) {
    if (s->closed || size < SPARE_MIN || size > s->max_bytes) {
      s->close_fd(fd);
    } else {
      /* Room for it: the spares that came back first go first. */
      for (;;) {
        size_t bytes = size;
        int old = -1;
        for (int i = 0; i < s->n; i++) {
          bytes += s->e[i].size;
          if (old < 0 || s->e[i].given < s->e[old].given) old = i;
        }
        if (old < 0 || (s->n < SPARES_MAX && bytes <= s->max_bytes)) break;
        drop(s, old);
      }
      s->e[s->n++] = (spare){fd, size, ++s->clock};
    }
  }
  bool last = --s->out == 0 && s->closed;
  pthread_mutex_unlock(&s->lock);
  if (last) free_pool(s);
}

void px_spares_tick(px_spares *s) {
  if (!s) return;
  pthread_mutex_lock(&s->lock);
  s->prev_job_start = s->job_start;
  s->job_start = ++s->clock;
  /* Back before the previous job started and not taken since: a whole
   * job went by without it. */
  for (int i = 0; i < s->n; i++)
    if (s->e[i].given <= s->prev_job_start) drop(s, i--);
  pthread_mutex_unlock(&s->lock);
}

void px_spares_close(px_spares *s) {
  if (!s) return;
  pthread_mutex_lock(&s->lock);
  s->closed = true;
  while (s->n) drop(s, s->n - 1);
  bool last = s->out == 0;
  pthread_mutex_unlock(&s->lock);
  if (last) free_pool(s);
}

void px_spares_count(px_spares *s, int *n, size_t *bytes) {
  int k = 0;
  size_t b = 0;
  if (s) {
    pthread_mutex_lock(&s->lock);
    k = s->n;
    for (int i = 0; i < s->n; i++) b += s->e[i].size;
    pthread_mutex_unlock(&s->lock);
  }
  if (n) *n = k;
  if (bytes) *bytes = b;
}
