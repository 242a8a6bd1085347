/* processes_testutil.h — helpers shared by the processes engine's tests
 * (test_processes.c, test_processes_shared.c): the "first attempt only"
 * marker file, dying by a signal past any sanitizer's handler, collecting
 * a job's rows as sorted CSV, and checks that no child process or
 * descriptor is left. */
#ifndef CANON_PROCESSES_TESTUTIL_H
#define CANON_PROCESSES_TESTUTIL_H

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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

/* The pids of this process's children (a session's workers) into
 * pids[0..max); how many there are. */
static inline int tu_children(pid_t *pids, int max) {
  DIR *proc = opendir("/proc");
  cr_assert(proc);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(proc))) {
    char path[300], buf[512];
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    /* pid (comm) state ppid ...: the command may hold spaces, so go from
     * its closing parenthesis. */
    const char *close_paren = strrchr(buf, ')');
    int ppid = -1;
    if (!close_paren || sscanf(close_paren + 1, " %*c %d", &ppid) != 1 || ppid != getpid()) continue;
    if (n < max) pids[n] = (pid_t)atoi(e->d_name);
    n++;
  }
  closedir(proc);
  return n;
}

/* Open descriptors of this process. */
static inline int count_fds(void) { return tu_dir_entries("/proc/self/fd"); }

#endif
