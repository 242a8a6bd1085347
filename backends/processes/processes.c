/* processes.c — the processes engine: tasks run in a pool of worker
 * processes forked when the session opens, so a crashing transform takes
 * down a worker, not the program.
 *
 * Options: workers=N (default: one per core), partitions=N (default: four
 * per worker, as the threads engine: uneven hash buckets then cannot leave
 * a worker idle for most of a stage), retries=K (default 2: a task whose worker dies is
 * run again up to K more times, on a fresh worker), task_timeout=SECONDS
 * (a task running longer has its worker killed, which counts as a
 * failure), share_min=BYTES (default 65536: an in-memory or persisted
 * table encoding to at least this many bytes is put in shared memory once
 * per session and jobs reference it, instead of carrying a copy each),
 * segment_cache=BYTES (default: a quarter of the machine's memory, or of
 * its control group's limit, over the workers, at least 1 GiB each: free output segments
 * a worker keeps to write its next outputs into, instead of fresh
 * shared memory; 0: none; byte counts take a K, M, G or T suffix),
 * share_ranges=0|1 (default 1: a task output
 * that is a row range of a shared table — a scan of a persisted table —
 * goes to its readers as (table id, first row, rows), and each reader
 * takes the rows from its own mapping of the table instead of from a copy
 * the task would write; so do the columns of an output that are rows of a
 * shared table's columns — an assign or select over a persisted table, a
 * left join's left side — as column references in its encoding; 0:
 * outputs are always written out), concat_in_workers=0|1 (default 1: the
 * outputs of the last stage of a job the program makes one table of — a
 * load it persists or collects, a join's or a sort's answer — stay in the
 * workers, which write them straight into that table's segment, planned
 * by the driver from their sketches; the driver keeps a freed table's
 * segment for the next one (spares.c); 0: the workers write them into
 * segments of their own, which the driver or the core then copies into
 * one).
 * This file holds the options and the pool: forking, replacing
 * and reaping workers.  driver.c runs jobs; worker.c is the workers' loop;
 * proto.c moves messages and shared memory. */
#include "processes.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* ---- descriptors held by the driver --------------------------------------- */

/* Every descriptor the driver side holds, over all sessions of the
 * process: a worker must close them all, or it would keep another
 * worker's socket open (that worker would never see its driver leave, and
 * closing its session would wait forever) or keep segments alive. */
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static int *held;
static int nheld, capheld;

/* Add fd to the list; held_lock is held by the caller. */
static int hold_locked(int fd) {
  if (nheld == capheld) {
    int nc = capheld ? capheld * 2 : 64;
    int *n = realloc(held, (size_t)nc * sizeof *n);
    if (!n) return -1;
    held = n;
    capheld = nc;
  }
  held[nheld++] = fd;
  return 0;
}

int px_hold(px_state *st, int fd) {
  (void)st;
  pthread_mutex_lock(&held_lock);
  int rc = hold_locked(fd);
  pthread_mutex_unlock(&held_lock);
  return rc;
}

static void forget(int fd) {
  pthread_mutex_lock(&held_lock);
  for (int i = nheld - 1; i >= 0; i--)
    if (held[i] == fd) {
      held[i] = held[--nheld];
      break;
    }
  if (nheld == 0) {
    /* The plugin may be unloaded when its last session closes. */
    free(held);
    held = NULL;
    capheld = 0;
  }
  pthread_mutex_unlock(&held_lock);
}

void px_close_held(px_state *st, int fd) {
  (void)st;
  if (fd < 0) return;
  forget(fd);
  close(fd);
}

/* The spares' close function (they hold no session). */
static void close_held_fd(int fd) { px_close_held(NULL, fd); }

/* ---- the pool --------------------------------------------------------------- */

/* In a new worker: die with the driver, drop the driver's other
 * descriptors (a worker holding another worker's socket would keep that
 * one from seeing the driver leave), and serve. */
static void child_start(px_state *st, int i, int sock, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1); /* the driver died before the line above */
  /* held_lock is held by the forking thread: the list is consistent. */
  for (int k = 0; k < nheld; k++) close(held[k]);
  /* The program's own handlers (cleanup on SIGTERM, ...) are the driver's
   * business; a worker just dies.  Ignored signals stay ignored. */
  const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) {
    struct sigaction sa;
    if (sigaction(sigs[k], NULL, &sa) == 0 && sa.sa_handler != SIG_IGN &&
        sa.sa_handler != SIG_DFL)
      signal(sigs[k], SIG_DFL);
  }
  px_worker_main(st->host, sock, st->w[i].status, st->seg_cache, px_maps_max(st), st->share_ranges);
}

/* Idle mappings a process of the session keeps (mapcache.h): what all
 * the workers may keep of free segments — the segments such mappings
 * show are mostly alive in their workers anyway. */
size_t px_maps_max(const px_state *st) {
  size_t n = (size_t)(st->nworkers > 0 ? st->nworkers : 1);
  return st->seg_cache > SIZE_MAX / n ? SIZE_MAX : st->seg_cache * n;
}

int px_spawn(px_state *st, int i, canon_error *err) {
  px_worker *w = &st->w[i];
  memset(w->status, 0, sizeof *w->status);
  /* Buffered output must not be inherited: the worker would hold a copy. */
  fflush(NULL);
  pid_t parent = getpid();
  /* Under held_lock from the socket pair to closing the worker's end, so a
   * worker another thread forks meanwhile never inherits either end. */
  pthread_mutex_lock(&held_lock);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    int e = errno;
    pthread_mutex_unlock(&held_lock);
    return px_err(err, CANON_ERR_ENGINE, "processes: cannot create a socket pair: %s",
                  strerror(e));
  }
  if (hold_locked(sv[0]) != 0) {
    pthread_mutex_unlock(&held_lock);
    close(sv[0]);
    close(sv[1]);
    return px_err(err, CANON_ERR_NOMEM, "out of memory");
  }
  pid_t pid = fork();
  if (pid == 0) child_start(st, i, sv[1], parent); /* closes sv[0] with the held list */
  int e = errno;
  close(sv[1]);
  pthread_mutex_unlock(&held_lock);
  if (pid < 0) {
    px_close_held(st, sv[0]);
    return px_err(err, CANON_ERR_ENGINE, "processes: cannot fork a worker: %s", strerror(e));
  }
  w->pid = pid;
  w->gen++;
  w->sock = sv[0];
  w->task = -1;
  w->timed_out = false;
  if (st->job_fd >= 0) {
    /* A replacement during a job gets the job's shared tables and the job
     * first.  If a send fails the worker is gone already; the driver
     * notices on its socket. */
    px_msg m;
    memset(&m, 0, sizeof m);
    m.type = PX_JOB;
    m.job_seq = st->job_seq;
    if (px_send_tables(st, w->sock) == 0) px_send(w->sock, &m, &st->job_fd, 1);
  }
  return 0;
}

void px_reap(px_state *st, int i, bool kill_it, int *status) {
  px_worker *w = &st->w[i];
  *status = -1;
  px_close_held(st, w->sock);
  w->sock = -1;
  if (w->pid > 0) {
    if (kill_it) kill(w->pid, SIGKILL);
    int ws;
    pid_t r;
    do r = waitpid(w->pid, &ws, 0);
    while (r < 0 && errno == EINTR);
    if (r == w->pid) *status = ws;
  }
  w->pid = 0;
  w->task = -1;
  w->timed_out = false;
}

/* ---- options, open, close ------------------------------------------------------ */

static int parse_int(const char *key, const char *v, int lo, int hi, int *out, canon_error *err) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || *end || end == v || n < lo || n > hi)
    return px_err(err, CANON_ERR_CONFIG, "processes: %s must be an integer from %d to %d, not '%s'",
                  key, lo, hi, v);
  *out = (int)n;
  return 0;
}

/* A byte count: digits with an optional binary suffix K, M, G or T
 * ("512M", "4G"), at most 2^48 bytes. */
static int parse_bytes(const char *key, const char *v, size_t *out, canon_error *err) {
  char *end;
  errno = 0;
  unsigned long long n = v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
  int shift = 0;
  bool ok = v[0] >= '0' && v[0] <= '9' && !errno;
  if (ok && *end) {
    const char *units = "KMGT";
    const char *u = strchr(units, *end);
    if (u && *u && end[1] == '\0')
      shift = 10 * (int)(u - units + 1);
    else
      ok = false;
  }
  if (!ok || n > (1ULL << 48) >> shift)
    return px_err(err, CANON_ERR_CONFIG,
                  "processes: %s must be a number of bytes (digits, optionally followed by K, M, "
                  "G or T) of at most 2^48, not '%s'",
                  key, v);
  *out = (size_t)(n << shift);
  return 0;
}

static int parse_options(px_state *st, const canon_option *opts, int nopts, canon_error *err) {
  for (int i = 0; i < nopts; i++) {
    const char *k = opts[i].key, *v = opts[i].value;
    int rc;
    if (strcmp(k, "workers") == 0) {
      rc = parse_int(k, v, 1, 1024, &st->nworkers, err);
    } else if (strcmp(k, "partitions") == 0) {
      rc = parse_int(k, v, 1, 4096, &st->partitions, err);
    } else if (strcmp(k, "share_min") == 0) {
      rc = parse_bytes(k, v, &st->share_min, err);
    } else if (strcmp(k, "segment_cache") == 0) {
      rc = parse_bytes(k, v, &st->seg_cache, err);
      st->seg_cache_set = rc == 0;
    } else if (strcmp(k, "share_ranges") == 0) {
      int n = 0;
      rc = parse_int(k, v, 0, 1, &n, err);
      if (rc == 0) st->share_ranges = n != 0;
    } else if (strcmp(k, "concat_in_workers") == 0) {
      int n = 0;
      rc = parse_int(k, v, 0, 1, &n, err);
      if (rc == 0) st->concat_in_workers = n != 0;
    } else if (strcmp(k, "retries") == 0) {
      rc = parse_int(k, v, 0, 100, &st->retries, err);
    } else if (strcmp(k, "task_timeout") == 0) {
      char *end;
      errno = 0;
      double t = strtod(v, &end);
      rc = errno || *end || end == v || !(t > 0 && t <= 1e7)
               ? px_err(err, CANON_ERR_CONFIG,
                        "processes: task_timeout must be a number of seconds > 0, not '%s'", v)
               : 0;
      st->task_timeout = t;
    } else {
      rc = px_err(err, CANON_ERR_CONFIG,
                  "processes: unknown option '%s' (known: workers, partitions, retries, "
                  "task_timeout, share_min, segment_cache, share_ranges, concat_in_workers)",
                  k);
    }
    if (rc) return rc;
  }
  return 0;
}

static void px_close(void *state) {
  px_state *st = state;
  if (!st) return;
  /* Closing a socket tells its worker to leave; close all, then wait for
   * all, so they exit in parallel. */
  for (int i = 0; i < st->nworkers; i++) px_close_held(st, st->w[i].sock), st->w[i].sock = -1;
  /* Idle workers leave at once.  If one does not (a process the program
   * forked still holds a copy of its socket), it is killed after a while:
   * closing a session must not hang. */
  for (int tries = 0; tries < 5000; tries++) {
    int left = 0;
    for (int i = 0; i < st->nworkers; i++) {
      int status;
      if (st->w[i].pid > 0 && waitpid(st->w[i].pid, &status, WNOHANG) == 0)
        left++;
      else
        st->w[i].pid = 0; /* reaped (or not ours to wait for) */
    }
    if (!left) break;
    usleep(1000);
  }
  for (int i = 0; i < st->nworkers; i++) {
    int status;
    px_reap(st, i, true, &status);
  }
  px_drop_all_shared(st);
  if (st->rec) px_recycler_unref(st->rec, true);
  /* Results the program still holds keep their mappings until freed. */
  px_mapcache_close(st->maps);
  px_spares_close(st->spares);
  if (st->pages) munmap(st->pages, st->pages_size);
  pthread_mutex_destroy(&st->lock);
  free(st->w);
  free(st);
}

/* Keep this plugin loaded for the rest of the process.  Tables returned
 * by a job view shared memory through a release function of this file,
 * and the program may free them after closing the session that made
 * them — when the core has unloaded the plugin with the session. */
static void pin_plugin(void) {
  Dl_info info;
  /* RTLD_NOLOAD: the loaded copy, made never to be unloaded; the handle
   * (one more reference) is deliberately never closed. */
  if (dladdr((void *)pin_plugin, &info) && info.dli_fname)
    (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

/* The memory limit of this process's control group (v2 memory.max, else
 * v1 memory.limit_in_bytes), or 0 when there is none or it cannot be
 * read. */
static size_t cgroup_memory_limit(void) {
  const char *files[] = {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    FILE *f = fopen(files[i], "r");
    if (!f) continue;
    char buf[64] = "";
    bool got = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    if (!got) continue;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    /* "max" (v2) or a huge number (v1): no limit. */
    if (end == buf || errno || v == 0 || v >= (1ULL << 60)) return 0;
    return (size_t)v;
  }
  return 0;
}

/* Free output segments a worker keeps by default: a quarter of the
 * machine's memory (or its control group's limit) shared among the
 * workers, at least 1 GiB each.  One
 * job's splits and outputs are all busy at once until the driver has read
 * them; a cache smaller than that drops segments at the end of every job
 * and the next job pays for fresh shared pages again (j5 at 1e7: 2.5 s
 * with 1 GiB, 1.6 s with 2 GiB per worker). */
static size_t default_seg_cache(int nworkers) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  size_t min = (size_t)1 << 30;
  if (pages <= 0 || page <= 0 || nworkers < 1) return min;
  size_t mem = (size_t)pages * (size_t)page, limit = cgroup_memory_limit();
  /* In a container, its limit (shared memory is charged to it), not the
   * machine's. */
  if (limit && limit < mem) mem = limit;
  size_t share = mem / 4 / (size_t)nworkers;
  return share > min ? share : min;
}

static int px_open(const canon_host *host, const canon_option *opts, int nopts, void **state,
                   canon_error *err) {
  if (host->struct_size < offsetof(canon_host, set_task_observer) + sizeof host->set_task_observer)
    return px_err(err, CANON_ERR_ABI,
                  "processes: this canon core lacks the serialization slots the engine needs");
  pin_plugin();
  px_state *st = calloc(1, sizeof *st);
  if (!st) return px_err(err, CANON_ERR_NOMEM, "out of memory");
  st->host = host;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  st->nworkers = cores > 0 ? (int)cores : 1;
  st->retries = 2;
  st->job_fd = -1;
  st->share_min = 65536;
  st->share_ranges = true;
  st->concat_in_workers = true;
  pthread_mutex_init(&st->lock, NULL);
  int rc = parse_options(st, opts, nopts, err);
  if (rc) {
    pthread_mutex_destroy(&st->lock);
    free(st);
    return rc;
  }
  if (!st->partitions) st->partitions = 4 * st->nworkers;
  if (!st->seg_cache_set) st->seg_cache = default_seg_cache(st->nworkers);
  st->w = calloc((size_t)st->nworkers, sizeof *st->w);
  st->rec = calloc(1, sizeof *st->rec);
  /* Without one (out of memory), segments are mapped for each use. */
  st->maps = px_mapcache_new(px_maps_max(st));
  /* Without one, every concatenation gets a fresh segment. */
  st->spares = px_spares_new(st->seg_cache, close_held_fd);
  if (st->rec) {
    pthread_mutex_init(&st->rec->lock, NULL);
    st->rec->refs = 1;
  }
  st->pages_size = (size_t)st->nworkers * sizeof(px_status);
  void *pages = mmap(NULL, st->pages_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (!st->w || !st->rec || pages == MAP_FAILED) {
    st->pages = NULL;
    px_close(st);
    return px_err(err, CANON_ERR_NOMEM, "out of memory");
  }
  st->pages = pages;
  for (int i = 0; i < st->nworkers; i++) {
    st->w[i].sock = -1;
    st->w[i].task = -1;
    st->w[i].status = &st->pages[i];
  }
  for (int i = 0; i < st->nworkers; i++)
    if ((rc = px_spawn(st, i, err)) != 0) {
      px_close(st);
      return rc;
    }
  *state = st;
  return 0;
}

static int px_default_partitions(void *state) { return ((px_state *)state)->partitions; }

static const canon_backend processes_backend = {
  .abi_major = CANON_BACKEND_ABI_MAJOR,
  .abi_minor = CANON_BACKEND_ABI_MINOR,
  .struct_size = sizeof(canon_backend),
  .capabilities = CANON_CAP_PARTITIONS | CANON_CAP_PARALLEL | CANON_CAP_ISOLATION |
                  CANON_CAP_TRANSFORM,
  .name = "processes",
  .description = "tasks in a pool of worker processes; a crashed worker is replaced and its "
                 "task retried (workers=N, partitions=N, retries=K, task_timeout=S, "
                 "share_min=BYTES, segment_cache=BYTES, share_ranges=0|1, concat_in_workers=0|1)",
  .open = px_open,
  .close = px_close,
  .default_partitions = px_default_partitions,
  .execute = px_execute,
};

EXPORT const canon_backend *canon_backend_entry(void) { return &processes_backend; }
