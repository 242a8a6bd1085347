/* processes_testutil.h — helpers shared by the processes engine's tests
 * (test_processes.c, test_processes_shared.c): the "first attempt only"
 * marker file, dying by a signal past any sanitizer's handler, collecting
 * a job's rows as sorted CSV, and checks that no child process or
 * descriptor is left. */
#ifndef CANON_PROCESSES_TESTUTIL_H
#define CANON_PROCESSES_TESTUTIL_H

#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* The marker file of the "first attempt only" transforms (per test
 * process: Criterion runs each test in its own). */
static char marker[512];

/* First attempt at this group only: create the marker and report true. */
static inline bool first_time(void) {
  int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return false;
  close(fd);
  return true;
}

static inline void die_by(int sig) {
  signal(sig, SIG_DFL); /* past any handler a sanitizer installed */
  raise(sig);
}

/* The sorted CSV of df, or NULL with err filled. */
static inline char *try_collect(canon_df *df, canon_error *err) {
  canon_table *t = canon_collect(df, err);
  if (!t) return NULL;
  char *csv = tu_csv(t);
  canon_table_free(t);
  char *sorted = tu_sorted_lines(csv);
  free(csv);
  return sorted;
}

/* No child process is left (all reaped). */
static inline void assert_no_children(void) {
  errno = 0;
  cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a child process is left");
  cr_assert_eq(errno, ECHILD);
}

/* Open descriptors of this process. */
static inline int count_fds(void) { return tu_dir_entries("/proc/self/fd"); }

#endif
