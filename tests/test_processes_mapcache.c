/* The processes engine's mapping cache (backends/processes/mapcache.c):
 * a kept segment read again is not mapped again, a grown one is, idle
 * mappings go after a job without use and within a byte bound, small and
 * fresh (unkept) segments are never kept mapped, mappings a table still
 * views outlive the cache's owner, idle ones are not inherited by a fork,
 * and threads share one cache. */
#include "mapcache.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)
/* Idle bytes a test's cache keeps (unless the test is about the bound). */
#define BOUND (64 * MIB)

/* A memfd of `size` bytes whose first byte is `first`; `kept`: marked as
 * a producer's kept segment (sealed against shrinking, as
 * px_seg_create_kept makes them). */
static int memfd_of(size_t size, uint8_t first, bool kept) {
  int fd = memfd_create("mapcache-test", MFD_CLOEXEC | (kept ? MFD_ALLOW_SEALING : 0));
  cr_assert_geq(fd, 0);
  cr_assert_eq(ftruncate(fd, (off_t)size), 0);
  cr_assert_eq(pwrite(fd, &first, 1, 0), 1);
  if (kept) cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
  return fd;
}

static int segment(size_t size, uint8_t first) { return memfd_of(size, first, true); }

static int mappings(px_mapcache *c) {
  int n;
  px_mapcache_count(c, &n, NULL);
  return n;
}

/* Whether [p, p + 1) is mapped in this process (from /proc/self/maps). */
static bool is_mapped(const void *p) {
  FILE *f = fopen("/proc/self/maps", "r");
  cr_assert_not_null(f);
  char line[512];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)p >= lo && (uintptr_t)p < hi)
      found = true;
  }
  fclose(f);
  return found;
}

Test(mapcache, a_segment_read_again_is_not_mapped_again) {
  px_mapcache *c = px_mapcache_new(BOUND);
  int fd = segment(4 * MIB, 7);
  const uint8_t *a, *b;
  size_t sa, sb;
  cr_assert_eq(px_mapcache_map(c, fd, &a, &sa), 0);
  cr_assert_eq(sa, 4 * MIB);
  cr_assert_eq(a[0], 7);
  px_mapcache_populate(c, a, sa, a + MIB, 2 * MIB);
  px_mapcache_put(c, a, sa);
  cr_assert_eq(mappings(c), 1);
  /* A new descriptor of the same segment (as the next job sends it). */
  int fd2 = dup(fd);
  close(fd);
  uint8_t v = 9;
  cr_assert_eq(pwrite(fd2, &v, 1, 0), 1);
  cr_assert_eq(px_mapcache_map(c, fd2, &b, &sb), 0);
  cr_assert_eq(b, a, "mapped again");
  cr_assert_eq(b[0], 9, "the mapping shows what the segment holds now");
  px_mapcache_populate(c, b, sb, b, sb);
  px_mapcache_put(c, b, sb);
  cr_assert_eq(mappings(c), 1);
  close(fd2);
  px_mapcache_close(c);
}

Test(mapcache, a_grown_segment_is_mapped_at_its_new_size) {
  px_mapcache *c = px_mapcache_new(BOUND);
  int fd = segment(2 * MIB, 1);
  const uint8_t *a, *b;
  size_t sa, sb;
  cr_assert_eq(px_mapcache_map(c, fd, &a, &sa), 0);
  px_mapcache_put(c, a, sa);
  cr_assert_eq(ftruncate(fd, (off_t)(3 * MIB)), 0);
  cr_assert_eq(px_mapcache_map(c, fd, &b, &sb), 0);
  cr_assert_eq(sb, 3 * MIB);
  cr_assert_eq(b[0], 1);
  cr_assert_eq(b[3 * MIB - 1], 0, "the whole new size is readable");
  cr_assert_eq(mappings(c), 1, "the old size's idle mapping is gone");
  px_mapcache_put(c, b, sb);
  close(fd);
  px_mapcache_close(c);
}

Test(mapcache, idle_mappings_go_after_a_job_without_use) {
  px_mapcache *c = px_mapcache_new(BOUND);
  int used = segment(MIB, 1), unused = segment(MIB, 2);
  const uint8_t *m;
  size_t s;
  cr_assert_eq(px_mapcache_map(c, used, &m, &s), 0);
  px_mapcache_put(c, m, s);
  cr_assert_eq(px_mapcache_map(c, unused, &m, &s), 0);
  px_mapcache_put(c, m, s);
  const uint8_t *gone = m;
  px_mapcache_tick(c); /* job 1 starts: both were used in job 0 */
  cr_assert_eq(mappings(c), 2);
  cr_assert_eq(px_mapcache_map(c, used, &m, &s), 0);
  px_mapcache_put(c, m, s);
  px_mapcache_tick(c); /* job 2: `unused` saw no use in job 1 */
  cr_assert_eq(mappings(c), 1);
  cr_assert(!is_mapped(gone), "the idle mapping was not unmapped");
  /* A held mapping stays however many jobs pass. */
  cr_assert_eq(px_mapcache_map(c, used, &m, &s), 0);
  for (int i = 0; i < 5; i++) px_mapcache_tick(c);
  cr_assert_eq(mappings(c), 1);
  cr_assert_eq(m[0], 1);
  px_mapcache_put(c, m, s);
  close(used);
  close(unused);
  px_mapcache_close(c);
}

Test(mapcache, small_segments_are_not_kept) {
  px_mapcache *c = px_mapcache_new(BOUND);
  int fd = segment(MIB - 4096, 3);
  const uint8_t *m;
  size_t s;
  cr_assert_eq(px_mapcache_map(c, fd, &m, &s), 0);
  cr_assert_eq(m[0], 3);
  px_mapcache_populate(c, m, s, m, s);
  px_mapcache_put(c, m, s);
  cr_assert_eq(mappings(c), 0);
  cr_assert(!is_mapped(m));
  close(fd);
  px_mapcache_close(c);
}

Test(mapcache, a_held_mapping_outlives_the_owner) {
  px_mapcache *c = px_mapcache_new(BOUND);
  int fd = segment(2 * MIB, 5), small = segment(4096, 6);
  const uint8_t *m, *sm, *idle;
  size_t s, ss, si;
  int other = segment(MIB, 4);
  cr_assert_eq(px_mapcache_map(c, other, &idle, &si), 0);
  px_mapcache_put(c, idle, si);
  cr_assert_eq(px_mapcache_map(c, fd, &m, &s), 0);
  cr_assert_eq(px_mapcache_map(c, small, &sm, &ss), 0);
  close(fd);
  close(small);
  close(other);
  px_mapcache_close(c); /* a session closing while the program holds results */
  cr_assert(!is_mapped(idle), "idle mappings go at close");
  cr_assert_eq(m[0], 5);
  cr_assert_eq(sm[0], 6);
  px_mapcache_put(c, sm, ss);
  px_mapcache_put(c, m, s); /* the last one frees the cache (ASan: no leak) */
  cr_assert(!is_mapped(m));
}

Test(mapcache, idle_mappings_are_not_inherited_by_a_fork) {
  px_mapcache *c = px_mapcache_new(BOUND);
  int fd = segment(MIB, 8), held_fd = segment(MIB, 9);
  const uint8_t *idle, *held;
  size_t si, sh;
  cr_assert_eq(px_mapcache_map(c, fd, &idle, &si), 0);
  px_mapcache_put(c, idle, si);
  cr_assert_eq(px_mapcache_map(c, held_fd, &held, &sh), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) _exit(is_mapped(idle) ? 1 : !is_mapped(held) ? 2 : held[0] != 9 ? 3 : 0);
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status));
  cr_assert_eq(WEXITSTATUS(status), 0, "child: 1 idle inherited, 2 held not inherited, 3 bad data");
  /* Taken again, it is inherited again. */
  const uint8_t *again;
  size_t sa;
  cr_assert_eq(px_mapcache_map(c, fd, &again, &sa), 0);
  cr_assert_eq(again, idle);
  pid = fork();
  if (pid == 0) _exit(is_mapped(again) && again[0] == 8 ? 0 : 1);
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert_eq(WEXITSTATUS(status), 0);
  px_mapcache_put(c, again, sa);
  px_mapcache_put(c, held, sh);
  close(fd);
  close(held_fd);
  px_mapcache_close(c);
}

Test(mapcache, no_cache_maps_and_unmaps) {
  int fd = segment(2 * MIB, 4);
  const uint8_t *m;
  size_t s;
  cr_assert_eq(px_mapcache_map(NULL, fd, &m, &s), 0);
  cr_assert_eq(m[0], 4);
  px_mapcache_populate(NULL, m, s, m, s);
  px_mapcache_put(NULL, m, s);
  cr_assert(!is_mapped(m));
  close(fd);
}

/* A segment its producer does not keep (fresh, sent once) is never kept
 * mapped: its memory would stay alive for nothing. */
Test(mapcache, fresh_segments_are_not_kept) {
  px_mapcache *c = px_mapcache_new(BOUND);
  int fd = memfd_of(4 * MIB, 3, false);
  const uint8_t *m;
  size_t s;
  cr_assert_eq(px_mapcache_map(c, fd, &m, &s), 0);
  cr_assert_eq(m[0], 3);
  px_mapcache_put(c, m, s);
  cr_assert_eq(mappings(c), 0);
  cr_assert(!is_mapped(m));
  close(fd);
  px_mapcache_close(c);
}

/* Idle mappings are kept up to the bound, the least recently used going
 * first; held ones do not count. */
Test(mapcache, idle_mappings_are_bounded) {
  px_mapcache *c = px_mapcache_new(5 * MIB);
  int a = segment(2 * MIB, 1), b = segment(2 * MIB, 2), d = segment(2 * MIB, 3);
  const uint8_t *ma, *mb, *md;
  size_t sa, sb, sd;
  cr_assert_eq(px_mapcache_map(c, a, &ma, &sa), 0);
  cr_assert_eq(px_mapcache_map(c, b, &mb, &sb), 0);
  cr_assert_eq(px_mapcache_map(c, d, &md, &sd), 0);
  px_mapcache_put(c, ma, sa); /* a: least recent */
  px_mapcache_put(c, mb, sb);
  cr_assert_eq(mappings(c), 3, "4 MiB idle and 2 held: within the bound");
  px_mapcache_put(c, md, sd); /* 6 MiB idle: a goes */
  cr_assert_eq(mappings(c), 2);
  cr_assert(!is_mapped(ma));
  cr_assert(is_mapped(mb) && is_mapped(md));
  /* A segment bigger than the bound is not kept at all. */
  int big = segment(8 * MIB, 4);
  const uint8_t *mg;
  size_t sg;
  cr_assert_eq(px_mapcache_map(c, big, &mg, &sg), 0);
  px_mapcache_put(c, mg, sg);
  cr_assert(!is_mapped(mg));
  cr_assert_eq(mappings(c), 2);
  close(a);
  close(b);
  close(d);
  close(big);
  px_mapcache_close(c);
}

/* The producer grows a segment while a reader still holds the old size:
 * both mappings are right, and the old one goes once idle and unused. */
Test(mapcache, a_segment_grown_while_held) {
  px_mapcache *c = px_mapcache_new(BOUND);
  int fd = segment(2 * MIB, 6);
  const uint8_t *old, *grown;
  size_t so, sg;
  cr_assert_eq(px_mapcache_map(c, fd, &old, &so), 0);
  cr_assert_eq(ftruncate(fd, (off_t)(4 * MIB)), 0);
  uint8_t v = 7;
  cr_assert_eq(pwrite(fd, &v, 1, 3 * MIB), 1);
  cr_assert_eq(px_mapcache_map(c, fd, &grown, &sg), 0);
  cr_assert_neq(grown, old);
  cr_assert_eq(sg, 4 * MIB);
  cr_assert_eq(grown[3 * MIB], 7);
  cr_assert_eq(old[0], 6);
  cr_assert_eq(mappings(c), 2);
  px_mapcache_put(c, old, so);
  px_mapcache_put(c, grown, sg);
  px_mapcache_tick(c);
  const uint8_t *again;
  size_t sa;
  cr_assert_eq(px_mapcache_map(c, fd, &again, &sa), 0);
  cr_assert_eq(again, grown);
  px_mapcache_put(c, again, sa);
  px_mapcache_tick(c); /* the old size saw no use in the last job */
  cr_assert_eq(mappings(c), 1);
  cr_assert(!is_mapped(old));
  close(fd);
  px_mapcache_close(c);
}

/* Several threads mapping, populating and putting the same segments read
 * the right bytes (run under the sanitizers too). */
typedef struct hammer {
  px_mapcache *c;
  int fds[3];
  int bad;
} hammer;

static void *hammer_worker(void *arg) {
  hammer *h = arg;
  for (int i = 0; i < 300; i++) {
    int k = i % 3;
    const uint8_t *m;
    size_t s;
    if (px_mapcache_map(h->c, h->fds[k], &m, &s) != 0) {
      __atomic_add_fetch(&h->bad, 1, __ATOMIC_RELAXED);
      continue;
    }
    size_t at = ((size_t)i * 7919) % (s - MIB);
    px_mapcache_populate(h->c, m, s, m + at, MIB);
    if (m[0] != 10 + k || m[s - 1] != 20 + k) __atomic_add_fetch(&h->bad, 1, __ATOMIC_RELAXED);
    px_mapcache_put(h->c, m, s);
    if (i % 50 == 0) px_mapcache_tick(h->c);
  }
  return NULL;
}

Test(mapcache, threads_share_one_cache) {
  hammer h = {.c = px_mapcache_new(BOUND)};
  for (int k = 0; k < 3; k++) {
    h.fds[k] = segment((size_t)(3 + k) * MIB, (uint8_t)(10 + k));
    uint8_t last = (uint8_t)(20 + k);
    cr_assert_eq(pwrite(h.fds[k], &last, 1, (off_t)((size_t)(3 + k) * MIB - 1)), 1);
  }
  pthread_t t[4];
  for (int i = 0; i < 4; i++) cr_assert_eq(pthread_create(&t[i], NULL, hammer_worker, &h), 0);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  cr_assert_eq(h.bad, 0);
  cr_assert_leq(mappings(h.c), 6);
  for (int k = 0; k < 3; k++) close(h.fds[k]);
  px_mapcache_close(h.c);
}
