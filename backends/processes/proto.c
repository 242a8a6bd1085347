/* proto.c — messages, descriptor passing and shared memory segments of the
 * processes engine (see proto.h). */
#include "proto.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SPLIT_MAGIC 0x50534E43u /* "CNSP" */

int px_verr(canon_error *err, int code, const char *fmt, va_list ap) {
  if (err) {
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
  }
  return code;
}

int px_err(canon_error *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  px_verr(err, code, fmt, ap);
  va_end(ap);
  return code;
}

bool px_range_ok(const px_msg *m, int64_t rows) {
  if (!(m->flags & PX_F_RANGE) || m->range_id == 0 || rows < 0) return false;
  if (m->range_first < 0 || m->range_rows < 0 || m->range_first > rows) return false;
  if (m->range_rows > rows - m->range_first) return false;
  return m->type != PX_REPLY || m->range_rows == m->nrows;
}

/* ---- messages ---------------------------------------------------------------- */

/* One datagram: `len` bytes of m plus up to PX_FDS_PER_MSG descriptors. */
static int send_one(int sock, const void *data, size_t len, const int *fds, int nfds) {
  struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * PX_FDS_PER_MSG)];
    struct cmsghdr align;
  } ctl;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    memset(&ctl, 0, sizeof ctl);
    mh.msg_control = ctl.buf;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
  }
  for (;;) {
    /* MSG_NOSIGNAL: a dead peer is an error to handle, not SIGPIPE. */
    ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (n >= 0) return 0;
    if (errno != EINTR) return -1;
  }
}

int px_send(int sock, px_msg *m, const int *fds, int nfds) {
  m->nfds = (uint32_t)nfds;
  int first = nfds < PX_FDS_PER_MSG ? nfds : PX_FDS_PER_MSG;
  if (send_one(sock, m, sizeof *m, fds, first)) return -1;
  for (int at = first; at < nfds; at += PX_FDS_PER_MSG) {
    int n = nfds - at < PX_FDS_PER_MSG ? nfds - at : PX_FDS_PER_MSG;
    uint32_t more = PX_MORE_FDS;
    if (send_one(sock, &more, sizeof more, fds + at, n)) return -1;
  }
  return 0;
}

/* One datagram into data (at most cap bytes); descriptors appended to
 * fds[*got..].  Returns bytes, 0 at end of stream, -1 on error. */
static ssize_t recv_one(int sock, void *data, size_t cap, int *fds, int *got, int want) {
  struct iovec iov = {.iov_base = data, .iov_len = cap};
  union {
    char buf[CMSG_SPACE(sizeof(int) * PX_FDS_PER_MSG)];
    struct cmsghdr align;
  } ctl;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                      .msg_controllen = sizeof ctl.buf};
  ssize_t n;
  do n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return n;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + (size_t)i * sizeof(int), sizeof fd);
      if (*got < want)
        fds[(*got)++] = fd;
      else
        close(fd); /* more than announced: not ours to keep */
    }
  }
  if (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
    errno = EMSGSIZE; /* descriptors or data lost (e.g. out of fds) */
    return -1;
  }
  return n;
}

int px_recv(int sock, px_msg *m, int **fds) {
  *fds = NULL;
  int *got_fds = NULL, got = 0;
  memset(m, 0, sizeof *m);
  /* The descriptor count is only known after the first datagram: take up
   * to a message's worth into a scratch array first. */
  int first[PX_FDS_PER_MSG];
  ssize_t n = recv_one(sock, m, sizeof *m, first, &got, PX_FDS_PER_MSG);
  if (n <= 0) return (int)n;
  int want = (size_t)n == sizeof *m ? (int)m->nfds : 0;
  if ((size_t)n != sizeof *m || want < got || want > (1 << 20)) {
    for (int i = 0; i < got; i++) close(first[i]);
    errno = EPROTO;
    return -1;
  }
  if (want) {
    got_fds = malloc((size_t)want * sizeof *got_fds);
    if (!got_fds) {
      for (int i = 0; i < got; i++) close(first[i]);
      errno = ENOMEM;
      return -1;
    }
    memcpy(got_fds, first, (size_t)got * sizeof *got_fds);
  }
  while (got < want) {
    uint32_t more = 0;
    n = recv_one(sock, &more, sizeof more, got_fds, &got, want);
    if (n <= 0 || more != PX_MORE_FDS) {
      for (int i = 0; i < got; i++) close(got_fds[i]);
      free(got_fds);
      if (n > 0) errno = EPROTO;
      return n == 0 ? 0 : -1;
    }
  }
  *fds = got_fds;
  return 1;
}

/* ---- segments ---------------------------------------------------------------- */

/* An anonymous shared memory file: memfd, or where that is missing a POSIX
 * shm object created exclusively with mode 0600 and unlinked at once (the
 * name never outlives this call; readers get the descriptor). */
static int anon_shm(const char *name, bool kept) {
  int fd = memfd_create(name, MFD_CLOEXEC | (kept ? MFD_ALLOW_SEALING : 0));
  /* The mark of a segment its producer keeps and writes again: it may
   * grow but never shrinks (readers keep their mappings of such segments
   * only, see mapcache.h).  Without the mark it is just not cached. */
  if (fd >= 0 && kept) (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
  if (fd >= 0 || errno != ENOSYS) return fd;
  for (int attempt = 0; attempt < 64; attempt++) {
    char name[64];
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(name, sizeof name, "/canon-%ld-%ld-%d", (long)getpid(), (long)ts.tv_nsec, attempt);
    fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      shm_unlink(name);
      return fd;
    }
    if (errno != EEXIST) return -1;
  }
  return -1;
}

void px_run_threads(void *(*fn)(void *), void *arg, int threads) {
  pthread_t tid[8];
  int started = 0;
  /* A thread that cannot start leaves its share to the others. */
  for (int t = 1; t < threads && t < 8; t++)
    if (pthread_create(&tid[started], NULL, fn, arg) == 0) started++;
  fn(arg);
  for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
}

double px_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int px_poll_ms(double deadline) {
  if (deadline <= 0) return -1;
  double left = deadline - px_now_s();
  return left <= 0 ? 0 : left > 2e6 ? 2000000000 : (int)(left * 1000) + 1;
}

int px_driver_threads(void) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus;
}

#ifdef MADV_POPULATE_WRITE
/* Fault in [map, map + size) for writing on up to `threads` threads, a
 * 64 MiB chunk at a time (a big fresh segment: allocating and zeroing its
 * pages is the kernel's work, and one thread does it at a few GB/s). */
typedef struct populate_job {
  uint8_t *map;
  size_t size;
  size_t next; /* the next chunk (atomic) */
} populate_job;

#define POPULATE_CHUNK ((size_t)64 << 20)

static void *populate_worker(void *arg) {
  populate_job *j = arg;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  for (size_t k; (k = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) * POPULATE_CHUNK < j->size;) {
    size_t at = k * POPULATE_CHUNK, len = j->size - at < POPULATE_CHUNK ? j->size - at : POPULATE_CHUNK;
    /* A kernel without it (before 5.14): a write per page does the same,
     * fault by fault. */
    if (madvise(j->map + at, len, MADV_POPULATE_WRITE) != 0)
      for (size_t b = 0; b < len; b += page) ((volatile uint8_t *)j->map)[at + b] = 0;
  }
  return NULL;
}

static void populate_wide(uint8_t *map, size_t size, int threads) {
  populate_job j = {map, size, 0};
  px_run_threads(populate_worker, &j, threads);
}
#endif

/* A new segment of `size` bytes; with map, mapped read-write there and
 * populated (map NULL: neither). */
static int seg_create(const char *name, size_t size, uint8_t **map, int threads, bool kept) {
  int fd = anon_shm(name, kept);
  if (fd < 0) return -1;
  if (ftruncate(fd, (off_t)size) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  if (!map) return fd;
  /* Populated at once: the whole segment is about to be written, and one
   * call that allocates and maps every page costs far less than a fault
   * per page (shared memory faults are the dearest kind). */
#ifdef MADV_POPULATE_WRITE
  bool wide = threads > 1 && size >= 2 * POPULATE_CHUNK;
#else
  bool wide = false; /* one MAP_POPULATE call beats faults on several threads */
#endif
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | (wide ? 0 : MAP_POPULATE), fd, 0);
  if (p == MAP_FAILED) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
#ifdef MADV_POPULATE_WRITE
  if (wide) populate_wide(p, size, threads);
#endif
  *map = p;
  return fd;
}

int px_seg_create(size_t size, uint8_t **map) {
  return seg_create("canon-segment", size, map, 1, false);
}

int px_seg_create_kept(size_t size, uint8_t **map) {
  return seg_create("canon-segment", size, map, 1, true);
}

/* A shared table's segment is made by the driver while the workers wait
 * (before a job, or after its last stage): every core is free. */
int px_table_seg_create(size_t size, uint8_t **map) {
  return seg_create("canon-table", size, map, px_driver_threads(), false);
}

int px_concat_seg_create(size_t size) { return seg_create("canon-table", size, NULL, 1, true); }

static int seg_map(int fd, int prot, int flags, uint8_t **map, size_t *size) {
  struct stat sb;
  if (fstat(fd, &sb) != 0) return -1;
  if (sb.st_size <= 0) {
    errno = EINVAL;
    return -1;
  }
  void *p = mmap(NULL, (size_t)sb.st_size, prot, MAP_SHARED | flags, fd, 0);
  if (p == MAP_FAILED) return -1;
  *map = p;
  *size = (size_t)sb.st_size;
  return 0;
}

int px_seg_map(int fd, const uint8_t **map, size_t *size) {
  return seg_map(fd, PROT_READ, 0, (uint8_t **)map, size);
}

int px_seg_map_all(int fd, const uint8_t **map, size_t *size) {
  return seg_map(fd, PROT_READ, MAP_POPULATE, (uint8_t **)map, size);
}

int px_seg_map_rw(int fd, uint8_t **map, size_t *size) {
  return seg_map(fd, PROT_READ | PROT_WRITE, 0, map, size);
}

void px_seg_unmap(const void *map, size_t size) {
  if (map) munmap((void *)map, size);
}

static int seg_error(canon_error *err, const char *what) {
  return px_err(err, errno == ENOMEM || errno == ENOSPC ? CANON_ERR_NOMEM : CANON_ERR_ENGINE,
                "processes: cannot %s a shared memory segment: %s", what, strerror(errno));
}

int px_bytes_write(const void *buf, size_t len, int *fd, canon_error *err) {
  uint8_t *map;
  if ((*fd = px_seg_create(len, &map)) < 0) return seg_error(err, "create");
  memcpy(map, buf, len);
  px_seg_unmap(map, len);
  return 0;
}

static int table_write(const char *name, int threads, const canon_host *h, const canon_table *t,
                       int *fd, canon_error *err) {
  size_t n = h->table_encoded_size(t);
  uint8_t *map;
  if ((*fd = seg_create(name, n, &map, threads, false)) < 0) return seg_error(err, "create");
  int rc = h->table_encode_into(t, map, n, err);
  px_seg_unmap(map, n);
  if (rc) {
    close(*fd);
    *fd = -1;
  }
  return rc;
}

int px_table_write(const canon_host *h, const canon_table *t, int *fd, canon_error *err) {
  return table_write("canon-segment", 1, h, t, fd, err);
}

int px_shared_table_write(const canon_host *h, const canon_table *t, int *fd, canon_error *err) {
  return table_write("canon-table", px_driver_threads(), h, t, fd, err);
}

/* A mapping a view table keeps: let go (unmapped, or back to its cache)
 * with the table's last buffer, then after(actx) runs. */
typedef struct view_map {
  px_mapcache *cache;
  const uint8_t *map;
  size_t size;
  void (*after)(void *ctx);
  void *actx;
} view_map;

static void view_release(void *ctx) {
  view_map *v = ctx;
  px_mapcache_put(v->cache, v->map, v->size);
  if (v->after) v->after(v->actx);
  free(v);
}

canon_table *px_table_view_in(const canon_host *h, px_mapcache *cache, const uint8_t *map,
                              size_t size, const uint8_t *at, size_t len,
                              void (*after)(void *ctx), void *ctx, const px_lookup *lk,
                              canon_error *err) {
  view_map *v = malloc(sizeof *v);
  if (!v) {
    px_mapcache_put(cache, map, size);
    if (after) after(ctx);
    px_err(err, CANON_ERR_NOMEM, "out of memory");
    return NULL;
  }
  v->cache = cache;
  v->map = map;
  v->size = size;
  v->after = after;
  v->actx = ctx;
  if (!PX_HOST_HAS_SHARING(h)) {
    canon_table *t = h->table_decode(at, len, err);
    view_release(v);
    return t;
  }
  /* Every segment a session maps was written by table_encode_into in
   * this program (the driver or one of its forked workers), so its
   * dictionary codes are only checked to be in range. */
  if (lk && PX_HOST_HAS_REFS(h))
    return h->table_decode_ref(at, len, view_release, v, lk->fn, lk->ctx, err);
  if (PX_HOST_HAS_OWN(h)) return h->table_decode_own(at, len, view_release, v, err);
  return h->table_decode_shared(at, len, view_release, v, err);
}

canon_table *px_table_view(const canon_host *h, const uint8_t *map, size_t size, const uint8_t *at,
                           size_t len, canon_error *err) {
  return px_table_view_in(h, NULL, map, size, at, len, NULL, NULL, NULL, err);
}

size_t px_table_len(const uint8_t *map, size_t size) {
  /* The encoding's header: ..., u64 total length at byte 24. */
  uint64_t n;
  if (size < 32) return size;
  memcpy(&n, map + 24, 8);
  return n >= 32 && n <= size ? (size_t)n : size;
}

canon_table *px_table_map_in(const canon_host *h, px_mapcache *cache, int fd,
                             void (*after)(void *ctx), void *ctx, const px_lookup *lk,
                             canon_error *err) {
  const uint8_t *map;
  size_t size;
  if (px_mapcache_map(cache, fd, &map, &size) != 0) {
    seg_error(err, "map");
    if (after) after(ctx);
    return NULL;
  }
  size_t len = px_table_len(map, size);
  /* Decoding reads the whole encoding: its pages at once, not a fault
   * each few (a kept segment's unused rest stays unmapped). */
  px_mapcache_populate(cache, map, size, map, len);
  return px_table_view_in(h, cache, map, size, map, len, after, ctx, lk, err);
}

canon_table *px_table_map(const canon_host *h, int fd, canon_error *err) {
  return px_table_map_in(h, NULL, fd, NULL, NULL, NULL, err);
}

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

size_t px_split_size(const canon_host *h, canon_table *const *buckets, int P) {
  size_t total = pad8(8 + (size_t)P * 16);
  for (int p = 0; p < P; p++) total += pad8(h->table_encoded_size(buckets[p]));
  return total;
}

int px_split_encode(const canon_host *h, canon_table *const *buckets, int P, uint8_t *map,
                    size_t size, canon_error *err) {
  size_t at = pad8(8 + (size_t)P * 16);
  if (size < at) return px_err(err, CANON_ERR_INTERNAL, "processes: split segment too small");
  uint32_t magic = SPLIT_MAGIC, np = (uint32_t)P;
  memcpy(map, &magic, 4);
  memcpy(map + 4, &np, 4);
  for (int p = 0; p < P; p++) {
    size_t len = h->table_encoded_size(buckets[p]);
    if (len > size - at) return px_err(err, CANON_ERR_INTERNAL, "processes: split segment too small");
    uint64_t off = at, l = len;
    memcpy(map + 8 + (size_t)p * 16, &off, 8);
    memcpy(map + 16 + (size_t)p * 16, &l, 8);
    int rc = h->table_encode_into(buckets[p], map + at, len, err);
    if (rc) return rc;
    at += pad8(len);
  }
  return 0;
}

int px_split_bucket(const uint8_t *map, size_t size, int P, int p, const uint8_t **bucket,
                    size_t *len, canon_error *err) {
  uint32_t magic, np;
  uint64_t off, l;
  if (size < 8 + (size_t)P * 16) goto bad;
  memcpy(&magic, map, 4);
  memcpy(&np, map + 4, 4);
  if (magic != SPLIT_MAGIC || np != (uint32_t)P || p < 0 || p >= P) goto bad;
  memcpy(&off, map + 8 + (size_t)p * 16, 8);
  memcpy(&l, map + 16 + (size_t)p * 16, 8);
  if (off > size || l > size - off) goto bad;
  *bucket = map + off;
  *len = (size_t)l;
  return 0;
bad:
  return px_err(err, CANON_ERR_INTERNAL, "processes: malformed split segment");
}
