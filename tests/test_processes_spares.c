/* The processes driver's kept answer segments (backends/processes/spares.c):
 * a freed answer's segment is lent to the next answer that fits it (at
 * most twice that answer, or grown when it holds at least half), small
 * ones are not kept, the pool stays within its bytes and count, a spare
 * no answer took during a whole job goes, and segments given back after
 * the session closed are closed, the pool freed with the last. */
#include "spares.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)

/* Descriptors the pool let go (closed here). */
static int closed;

static void close_counted(int fd) {
  closed++;
  close(fd);
}

/* A segment of `size` bytes, sealed as the driver's are. */
static int segment(size_t size) {
  int fd = memfd_create("spares-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  cr_assert_geq(fd, 0);
  cr_assert_eq(ftruncate(fd, (off_t)size), 0);
  cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
  return fd;
}

static ino_t inode(int fd) {
  struct stat sb;
  cr_assert_eq(fstat(fd, &sb), 0);
  return sb.st_ino;
}

static size_t size_of(int fd) {
  struct stat sb;
  cr_assert_eq(fstat(fd, &sb), 0);
  return (size_t)sb.st_size;
}

static int kept(px_spares *s) {
  int n;
  px_spares_count(s, &n, NULL);
  return n;
}

Test(spares, a_freed_segment_is_lent_to_the_next_answer_that_fits) {
  closed = 0;
  px_spares *s = px_spares_new(1024 * MIB, close_counted);
  cr_assert(s);
  cr_assert_eq(px_spares_take(s, 3 * MIB), -1, "a spare out of nothing");
  int fd = segment(4 * MIB);
  ino_t ino = inode(fd);
  px_spares_give(s, fd); /* the first take's debt */
  cr_assert_eq(kept(s), 1);
  /* Too big for an answer of 1 MiB (more than twice it plus a MiB). */
  cr_assert_eq(px_spares_take(s, 1 * MIB), -1);
  px_spares_give(s, -1);
  int got = px_spares_take(s, 3 * MIB);
  cr_assert_geq(got, 0);
  cr_assert_eq(inode(got), ino);
  cr_assert_eq(kept(s), 0);
  /* Grown when it holds half of the answer or more, to whole MiB. */
  px_spares_give(s, got);
  got = px_spares_take(s, 7 * MIB + 5);
  cr_assert_geq(got, 0);
  cr_assert_eq(inode(got), ino);
  cr_assert_eq(size_of(got), 8 * MIB);
  /* Not when it holds less: it stays for answers of its size. */
  px_spares_give(s, got);
  cr_assert_eq(px_spares_take(s, 20 * MIB), -1);
  px_spares_give(s, -1);
  cr_assert_eq(kept(s), 1);
  cr_assert_eq(closed, 0);
  px_spares_close(s);
  cr_assert_eq(closed, 1);
}

Test(spares, small_segments_are_not_kept_and_the_pool_is_bounded) {
  closed = 0;
  px_spares *s = px_spares_new(10 * MIB, close_counted);
  cr_assert(s);
  /* Under a MiB: closed. */
  cr_assert_eq(px_spares_take(s, MIB / 2), -1);
  px_spares_give(s, segment(MIB / 2));
  cr_assert_eq(kept(s), 0);
  cr_assert_eq(closed, 1);
  /* Within 10 MiB: of three of 4 MiB, the first given goes. */
  int fds[3];
  ino_t ino[3];
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(px_spares_take(s, 4 * MIB), -1);
    fds[i] = segment(4 * MIB);
    ino[i] = inode(fds[i]);
  }
  for (int i = 0; i < 3; i++) px_spares_give(s, fds[i]);
  size_t bytes;
  int n;
  px_spares_count(s, &n, &bytes);
  cr_assert_eq(n, 2);
  cr_assert_eq(bytes, 8 * MIB);
  cr_assert_eq(closed, 2);
  for (int k = 0; k < 2; k++) {
    int got = px_spares_take(s, 4 * MIB);
    cr_assert(got >= 0 && inode(got) != ino[0] && (inode(got) == ino[1] || inode(got) == ino[2]));
    px_spares_give(s, got);
  }
  /* At most four, however many bytes. */
  px_spares *many = px_spares_new(1024 * MIB, close_counted);
  for (int i = 0; i < 5; i++) cr_assert_eq(px_spares_take(many, MIB), -1);
  for (int i = 0; i < 5; i++) px_spares_give(many, segment(MIB));
  cr_assert_eq(kept(many), 4);
  px_spares_close(many);
  px_spares_close(s);
  cr_assert_eq(closed, 2 + 1 + 4 + 2);
}

/* A spare no answer took while a whole job went by is closed; one taken
 * and given back during the job stays. */
Test(spares, a_spare_unused_for_a_whole_job_goes) {
  closed = 0;
  px_spares *s = px_spares_new(1024 * MIB, close_counted);
  cr_assert_eq(px_spares_take(s, 2 * MIB), -1);
  px_spares_give(s, segment(2 * MIB));
  px_spares_tick(s); /* a job starts */
  int got = px_spares_take(s, 2 * MIB);
  cr_assert_geq(got, 0);
  px_spares_give(s, got);
  px_spares_tick(s); /* the next: the spare was used during the last */
  cr_assert_eq(kept(s), 1);
  px_spares_tick(s); /* and the one after: a whole job went by */
  cr_assert_eq(kept(s), 0);
  cr_assert_eq(closed, 1);
  px_spares_close(s);
}

/* A segment given back after the session closed is closed, and the pool
 * goes with the last one (under ASan: nothing leaks). */
Test(spares, segments_given_back_after_close_are_closed) {
  closed = 0;
  px_spares *s = px_spares_new(1024 * MIB, close_counted);
  cr_assert_eq(px_spares_take(s, 2 * MIB), -1);
  cr_assert_eq(px_spares_take(s, 2 * MIB), -1);
  px_spares_give(s, segment(2 * MIB));
  px_spares_close(s); /* one spare closed, one answer still out */
  cr_assert_eq(closed, 1);
  px_spares_give(s, segment(2 * MIB));
  cr_assert_eq(closed, 2);
}
