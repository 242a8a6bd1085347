/* worker.c — a worker process of the processes engine.
 *
 * Forked from the driver when the session opens (or to replace a dead
 * worker), so the user's registered transforms are here by name.  It waits
 * for messages on its socket: shared tables (mapped once, kept until the
 * driver drops them), a job (decoded once and kept; its big tables are
 * references to the shared ones), then split and run tasks of that job, each answered with one reply holding the result
 * segment's descriptor or the task's canon_error.  It leaves with _exit
 * when the driver closes the socket or dies, never running the program's
 * atexit handlers or flushing stdio buffers it inherited. */
#include "processes.h"

#include <errno.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* A shared table the driver sent: mapped read-only once, kept until the
 * driver drops it (jobs that use it share its columns, which view the
 * mapping; the mapping goes with the last of them). */
typedef struct wtable {
  uint64_t id;
  canon_table *t;       /* NULL: mapping it failed, err says why */
  canon_error err;
} wtable;

/* An output segment this worker wrote and keeps, mapped read-write, to
 * write again once the driver says nobody reads it any more (PX_RELEASE):
 * a fresh segment costs a page fault, a zeroed page and later its freeing
 * for every 4 KiB it holds, a kept one only the copy.  Busy from the reply
 * that hands it out to its release; never written while busy. */
typedef struct oseg {
  uint64_t id;
  int fd;
  uint8_t *map;
  size_t size;
  bool busy;
  uint64_t freed;       /* release order: the oldest free ones go first */
} oseg;

/* A run task's output kept here (PX_F_HOLD) until the driver says where
 * in a concatenation to write it (PX_CATWRITE), or the next job. */
typedef struct held {
  uint64_t job_seq;
  int part;
  canon_table *t;
} held;

/* Bigger outputs go in segments rounded up to a whole number of these. */
#define PX_SEG_ROUND ((size_t)1 << 20)
/* Outputs of up to PX_SMALL_MAX bytes go in small segments of a power of
 * two from PX_SMALL_MIN to PX_SMALL_MAX bytes, each reused only for an
 * output of its own size class, with at most PX_SMALL_FREE of them kept
 * free.  A small output must never take a free big segment: the big rule
 * (the smallest free one that fits) would hand a 600 KB broadcast a
 * 100 MB segment the next big output then misses, and that output would
 * go to fresh shared memory (j2 on processes: 0.45 -> 0.6-0.8 s).  A fresh segment
 * per small output cost a processes task about half a millisecond in
 * segment creation, page faults and mapping on both sides.  Each kept
 * segment holds a descriptor, busy ones as long as their output is read:
 * past a quarter of the descriptor limit small outputs get fresh segments
 * again (seg_max), so many partitions cannot run a worker out of them. */
#define PX_SMALL_MIN ((size_t)64 << 10)
#define PX_SMALL_MAX ((size_t)1 << 20)
#define PX_SMALL_FREE 32

typedef struct wstate {
  const canon_host *h;
  int sock;
  px_status *status;
  canon_job *job;
  uint64_t job_seq;
  canon_error job_err;  /* why the current job could not be decoded */
  wtable *tables;
  int ntables, captables;
  oseg *segs;           /* kept output segments */
  int nsegs, capsegs;
  uint64_t next_seg, release_seq;
  size_t keep_max;      /* bytes of free segments kept (segment_cache) */
  int seg_max;          /* kept segments past which small outputs get fresh ones */
  int live_views;       /* views of task inputs not yet released */
  bool ranges;          /* send outputs that are row ranges of shared tables
                           as ranges (share_ranges, when the host can) */
  px_mapcache *maps;    /* other segments' mappings, kept across jobs */
  px_mapcache *wmaps;   /* the same, read-write: concatenations written here */
  held *held;           /* outputs of the current job kept for PX_CATWRITE */
  int nheld, capheld;
} wstate;

static wtable *find_table(wstate *w, uint64_t id) {
  for (int i = 0; i < w->ntables; i++)
    if (w->tables[i].id == id) return &w->tables[i];
  return NULL;
}

/* Map shared table `id` from fd (unless it is mapped already). */
static void take_table(wstate *w, uint64_t id, int fd) {
  wtable *e = find_table(w, id);
  if (e && e->t) return;
  if (!e) {
    if (w->ntables == w->captables) {
      int nc = w->captables ? w->captables * 2 : 8;
      wtable *n = realloc(w->tables, (size_t)nc * sizeof *n);
      if (!n) return; /* lookup reports the table missing */
      w->tables = n;
      w->captables = nc;
    }
    e = &w->tables[w->ntables++];
    e->id = id;
  }
  e->t = NULL;
  memset(&e->err, 0, sizeof e->err);
  const uint8_t *map;
  size_t size;
  if (px_seg_map_all(fd, &map, &size) != 0) {
    int code = errno == ENOMEM ? CANON_ERR_NOMEM : CANON_ERR_ENGINE;
    px_err(&e->err, code, "processes: a worker cannot map shared table %llu: %s",
           (unsigned long long)id, strerror(errno));
    return;
  }
  canon_error de;
  memset(&de, 0, sizeof de);
  /* The segment holds the table (a reused one may be longer); the
   * mapping goes with its last buffer. */
  e->t = px_table_view(w->h, map, size, map, px_table_len(map, size), &de);
  if (!e->t)
    px_err(&e->err, de.code ? de.code : CANON_ERR_ENGINE, "processes: shared table %llu: %.900s",
           (unsigned long long)id, de.message);
}

static void take_tables(wstate *w, const px_msg *m, const int *fds, int nfds) {
  int n = (int)(m->events_len / 8);
  for (int i = 0; i < n && i < nfds && m->events_len <= sizeof m->events; i++) {
    uint64_t id;
    memcpy(&id, m->events + (size_t)i * 8, 8);
    take_table(w, id, fds[i]);
  }
}

static void drop_tables(wstate *w, const px_msg *m) {
  int n = m->events_len <= sizeof m->events ? (int)(m->events_len / 8) : 0;
  for (int i = 0; i < n; i++) {
    uint64_t id;
    memcpy(&id, m->events + (size_t)i * 8, 8);
    wtable *e = find_table(w, id);
    if (!e) continue;
    if (e->t) w->h->table_free(e->t); /* the current job may still share it */
    *e = w->tables[--w->ntables];
  }
}

/* job_decode_shared's lookup. */
static const canon_table *lookup_table(void *ctx, uint64_t id, canon_error *err) {
  wtable *e = find_table(ctx, id);
  if (e && e->t) return e->t;
  if (e)
    *err = e->err;
  else
    px_err(err, CANON_ERR_ENGINE, "processes: the worker was not sent shared table %llu",
           (unsigned long long)id);
  return NULL;
}

/* The transform observer: note what is about to run in the shared page. */
static void observe(void *ctx, const char *what) {
  px_status *st = ctx;
  snprintf(st->what, sizeof st->what, "%s", what);
}

static void close_fds(int *fds, int n) {
  for (int i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
}

/* Let go of held outputs: all of them (part < 0), or the one of part. */
static void drop_held(wstate *w, int part) {
  int k = 0;
  for (int i = 0; i < w->nheld; i++) {
    if (part < 0 || w->held[i].part == part) w->h->table_free(w->held[i].t);
    else w->held[k++] = w->held[i];
  }
  w->nheld = k;
}

static void take_job(wstate *w, const px_msg *m, int *fds, int nfds) {
  drop_held(w, -1); /* a job nobody will ask to write any more */
  px_mapcache_tick(w->maps);
  px_mapcache_tick(w->wmaps);
  if (w->job) w->h->job_free(w->job);
  w->job = NULL;
  w->job_seq = m->job_seq;
  memset(&w->job_err, 0, sizeof w->job_err);
  const uint8_t *map;
  size_t size;
  if (nfds != 1 || px_seg_map(fds[0], &map, &size) != 0) {
    px_err(&w->job_err, CANON_ERR_ENGINE, "processes: worker could not map the job");
    return;
  }
  canon_error e;
  memset(&e, 0, sizeof e);
  w->job = PX_HOST_HAS_SHARING(w->h) ? w->h->job_decode_shared(map, size, lookup_table, w, &e)
                                      : w->h->job_decode(map, size, &e);
  px_seg_unmap(map, size);
  if (!w->job) {
    /* Typically a transform registered after the session opened. */
    char msg[sizeof e.message];
    snprintf(msg, sizeof msg, "%s", e.message);
    px_err(&w->job_err, e.code ? e.code : CANON_ERR_ENGINE,
           "processes: a worker cannot rebuild the job: %.900s", msg);
  }
}

/* Install the exchange states of the task's stage (fds[0..n)). */
static int apply_states(wstate *w, int stage, const int *fds, int n, canon_error *err) {
  for (int i = 0; i < n; i++) {
    const uint8_t *map;
    size_t size;
    if (px_seg_map(fds[i], &map, &size) != 0)
      return px_err(err, CANON_ERR_ENGINE, "processes: worker could not map an exchange state");
    int rc = w->h->exchange_state_decode(w->job, stage, i, map, size, err);
    px_seg_unmap(map, size);
    if (rc) return rc;
  }
  return 0;
}

/* ---- output segments ------------------------------------------------------ */

static size_t free_bytes(const wstate *w) {
  size_t n = 0;
  for (int i = 0; i < w->nsegs; i++)
    if (!w->segs[i].busy) n += w->segs[i].size;
  return n;
}

static void drop_seg(wstate *w, int i) {
  munmap(w->segs[i].map, w->segs[i].size);
  close(w->segs[i].fd);
  w->segs[i] = w->segs[--w->nsegs];
}

/* The size class of a small output (see PX_SMALL_MIN). */
static size_t small_class(size_t need) {
  size_t s = PX_SMALL_MIN;
  while (s < need) s <<= 1;
  return s;
}

static bool is_small(const oseg *e) { return e->size <= PX_SMALL_MAX; }

/* The longest free segment (small ones only, when `small`), or -1. */
static int oldest_free(const wstate *w, bool small) {
  int old = -1;
  for (int i = 0; i < w->nsegs; i++)
    if (!w->segs[i].busy && (!small || is_small(&w->segs[i])) &&
        (old < 0 || w->segs[i].freed < w->segs[old].freed))
      old = i;
  return old;
}

/* Down to keep_max bytes of free segments and PX_SMALL_FREE free small
 * ones, the longest free first. */
static void trim_segs(wstate *w) {
  for (;;) {
    int small = 0;
    for (int i = 0; i < w->nsegs; i++) small += !w->segs[i].busy && is_small(&w->segs[i]);
    int old = small > PX_SMALL_FREE ? oldest_free(w, true)
              : free_bytes(w) > w->keep_max ? oldest_free(w, false)
                                             : -1;
    if (old < 0) return;
    drop_seg(w, old);
  }
}

static void release_segs(wstate *w, const px_msg *m) {
  int n = m->events_len <= sizeof m->events ? (int)(m->events_len / 8) : 0;
  for (int k = 0; k < n; k++) {
    uint64_t id;
    memcpy(&id, m->events + (size_t)k * 8, 8);
    for (int i = 0; i < w->nsegs; i++)
      if (w->segs[i].id == id) {
        if (m->flags & PX_F_DROP) {
          drop_seg(w, i);
        } else {
          w->segs[i].busy = false;
          w->segs[i].freed = ++w->release_seq;
        }
        break;
      }
  }
  trim_segs(w);
}

/* An output segment being written (see out_segment). */
typedef struct outseg {
  int fd;
  uint8_t *map;
  size_t size;
  uint64_t id;
} outseg;

/* No free segment is big enough: grow the biggest free one to `size`
 * (its pages stay, only the rest is new).  0 with *o set, or -1. */
static int grow_free(wstate *w, size_t size, outseg *o) {
  int big = -1;
  for (int i = 0; i < w->nsegs; i++)
    if (!w->segs[i].busy && (big < 0 || w->segs[i].size > w->segs[big].size)) big = i;
  /* Only when it holds at least half of the output: growing a small one
   * saves little and takes it from the outputs of its own size, whose
   * next job would then grow another one (the pool would never settle). */
  if (big < 0 || w->segs[big].size < size / 2) return -1;
  oseg *e = &w->segs[big];
  if (ftruncate(e->fd, (off_t)size) != 0) return -1;
  void *p = mremap(e->map, e->size, size, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) {
    /* Still mapped at its old size; the file is bigger, which is harmless
     * (readers go by the encoding's length). */
    return -1;
  }
#ifdef MADV_POPULATE_WRITE
  /* The new part at once, as a fresh segment is (a fault per page
   * otherwise); where the kernel cannot, the pages come on first write. */
  madvise((uint8_t *)p + e->size, size - e->size, MADV_POPULATE_WRITE);
#endif
  e->map = p;
  e->size = size;
  e->busy = true;
  *o = (outseg){e->fd, e->map, e->size, e->id};
  return 0;
}

/* An output segment of at least `need` bytes mapped read-write.  A small
 * output: a free small segment of its class, else a new one.  A bigger
 * one: a free kept one (the smallest that fits), else the biggest free one
 * grown, else a new one.  Without a segment cache (keep_max 0), and for a
 * small output once the worker keeps seg_max segments, a new one, not
 * kept: id 0 (unmapped and closed after the reply). */

static int out_segment(wstate *w, size_t need, outseg *o, canon_error *err) {
  memset(o, 0, sizeof *o);
  o->fd = -1;
  bool small = need <= PX_SMALL_MAX;
  bool keep = w->keep_max > 0 && (!small || w->nsegs < w->seg_max);
  /* Kept segments are rounded up (to whole MiB, or a small one's class), so a
   * slightly bigger output later still fits. */
  size_t size = !keep ? need
                : small ? small_class(need)
                        : (need + PX_SEG_ROUND - 1) & ~(PX_SEG_ROUND - 1);
  if (keep) {
    int best = -1;
    for (int i = 0; i < w->nsegs; i++)
      if (!w->segs[i].busy && (small ? w->segs[i].size == size : w->segs[i].size >= need) &&
          (best < 0 || w->segs[i].size < w->segs[best].size))
        best = i;
    if (best >= 0) {
      oseg *e = &w->segs[best];
      *o = (outseg){e->fd, e->map, e->size, e->id};
      e->busy = true;
      return 0;
    }
  }
  if (keep && !small && grow_free(w, size, o) == 0) return 0;
  if (keep && w->nsegs == w->capsegs) {
    int nc = w->capsegs ? w->capsegs * 2 : 16;
    oseg *n = realloc(w->segs, (size_t)nc * sizeof *n);
    if (n) {
      w->segs = n;
      w->capsegs = nc;
    } else {
      keep = false;
    }
  }
  if ((o->fd = keep ? px_seg_create_kept(size, &o->map) : px_seg_create(size, &o->map)) < 0)
    return px_err(err, errno == ENOMEM || errno == ENOSPC ? CANON_ERR_NOMEM : CANON_ERR_ENGINE,
                  "processes: cannot create a shared memory segment: %s", strerror(errno));
  o->size = size;
  if (keep) {
    o->id = ++w->next_seg;
    w->segs[w->nsegs++] = (oseg){o->id, o->fd, o->map, size, true, 0};
  }
  return 0;
}

/* After the task: a kept segment stays (busy when handed out, free again
 * when the task failed); a fresh one is let go. */
static void out_done(wstate *w, outseg *o, bool handed_out) {
  if (o->fd < 0) return;
  if (o->id) {
    if (!handed_out) {
      for (int i = 0; i < w->nsegs; i++)
        if (w->segs[i].id == o->id) {
          w->segs[i].busy = false;
          w->segs[i].freed = ++w->release_seq;
        }
      trim_segs(w);
    }
    return;
  }
  px_seg_unmap(o->map, o->size);
  close(o->fd);
}

/* Views of task inputs are counted: one that outlived its task would see
 * its segment rewritten, so the driver is then told to stop reuse. */
static void view_gone(void *ctx) { ((wstate *)ctx)->live_views--; }

static canon_table *input_view(wstate *w, const uint8_t *map, size_t size, const uint8_t *at,
                               size_t len, canon_error *err) {
  w->live_views++;
  return px_table_view_in(w->h, w->maps, map, size, at, len, view_gone, w, NULL, err);
}

/* The rows a PX_F_RANGE message names, from this worker's copy of the
 * shared table: a view (no copy).  A range the table does not have, or a
 * table the worker was not sent, is an error, never a read outside it. */
static canon_table *range_view(wstate *w, const px_msg *m, canon_error *err) {
  if (!PX_HOST_HAS_RANGES(w->h)) {
    px_err(err, CANON_ERR_ENGINE, "processes: a row range was sent, but this core cannot slice");
    return NULL;
  }
  const canon_table *base = lookup_table(w, m->range_id, err);
  if (!base) return NULL;
  canon_error e;
  memset(&e, 0, sizeof e);
  canon_table *t = w->h->table_slice(base, m->range_first, m->range_rows, &e);
  if (!t)
    px_err(err, e.code ? e.code : CANON_ERR_ENGINE, "processes: shared table %llu: %.900s",
           (unsigned long long)m->range_id, e.message);
  return t;
}

/* Whether `out` is a row range of a shared table this worker holds: then
 * the reply names it (PX_F_RANGE) and nothing is written. */
static bool reply_range(wstate *w, const canon_table *out, px_msg *reply) {
  if (!w->ranges || !PX_HOST_HAS_RANGES(w->h)) return false;
  for (int i = 0; i < w->ntables; i++) {
    int64_t first;
    if (w->tables[i].t && w->h->table_range_of(out, w->tables[i].t, &first)) {
      reply->flags |= PX_F_RANGE;
      reply->range_id = w->tables[i].id;
      reply->range_first = first;
      reply->range_rows = w->h->table_num_rows(out);
      return true;
    }
  }
  return false;
}

/* The output segment of a split written by the host (exchange_split_encode);
 * why it could not be had, when it could not (the host only knows NULL). */
typedef struct split_seg {
  wstate *w;
  outseg *o;
  canon_error err;
} split_seg;

static uint8_t *split_alloc(void *ctx, size_t len) {
  split_seg *s = ctx;
  return out_segment(s->w, len, s->o, &s->err) == 0 ? s->o->map : NULL;
}

static int do_split(wstate *w, const px_msg *m, const int *fds, outseg *o, canon_error *err) {
  const canon_host *h = w->h;
  int P = h->stage_num_partitions(w->job, m->stage);
  canon_table *t;
  if (m->flags & PX_F_RANGE) {
    t = range_view(w, m, err);
  } else {
    w->live_views++;
    px_lookup lk = {lookup_table, w};
    t = px_table_map_in(h, w->maps, fds[m->nstate], view_gone, w, &lk, err);
  }
  if (!t) return err->code ? err->code : CANON_ERR_ENGINE;
  if (PX_HOST_HAS_SPLIT_ENCODE(h)) {
    /* Each row straight into its place in an output segment. */
    split_seg s = {w, o, {0}};
    size_t len;
    int rc = h->exchange_split_encode(w->job, m->stage, m->input, m->part, t, split_alloc, &s, &len, err);
    h->table_free(t);
    if (rc && s.err.code) *err = s.err; /* the segment's own error, errno text and all */
    return rc ? err->code : 0;
  }
  canon_table **b = calloc((size_t)P, sizeof *b);
  int rc = b ? h->exchange_split(w->job, m->stage, m->input, m->part, t, b, err)
             : px_err(err, CANON_ERR_NOMEM, "out of memory");
  h->table_free(t);
  if (rc == 0) {
    size_t need = px_split_size(h, b, P);
    if ((rc = out_segment(w, need, o, err)) == 0) rc = px_split_encode(h, b, P, o->map, need, err);
  }
  for (int p = 0; b && p < P; p++)
    if (b[p]) h->table_free(b[p]);
  free(b);
  return rc;
}

/* Input i of run task p: bucket p of each producer's split segment,
 * concatenated in producer order. */
static canon_table *gather(wstate *w, const px_msg *m, const int *fds, int n, canon_error *err) {
  const canon_host *h = w->h;
  int P = h->stage_num_partitions(w->job, m->stage);
  canon_table **parts = calloc((size_t)(n ? n : 1), sizeof *parts);
  canon_table *out = NULL;
  if (!parts) {
    px_err(err, CANON_ERR_NOMEM, "out of memory");
    return NULL;
  }
  int k;
  for (k = 0; k < n; k++) {
    const uint8_t *map, *b;
    size_t size, len;
    if (px_mapcache_map(w->maps, fds[k], &map, &size) != 0) {
      px_err(err, CANON_ERR_ENGINE, "processes: worker could not map a bucket");
      break;
    }
    /* A view: concat copies the rows once (or, with one producer, the
     * task reads the mapping itself). */
    if (px_split_bucket(map, size, P, m->part, &b, &len, err) == 0) {
      px_mapcache_populate(w->maps, map, size, b, len);
      parts[k] = input_view(w, map, size, b, len, err);
    } else {
      px_mapcache_put(w->maps, map, size);
    }
    if (!parts[k]) break;
  }
  if (k == n) out = h->concat(parts, n, err);
  for (int j = 0; j < n; j++)
    if (parts[j]) h->table_free(parts[j]);
  free(parts);
  return out;
}

/* A run task's output into its segment.  The columns that are rows of a
 * shared table this worker holds (a select or assign over a persisted
 * table, a left join's left side) go as references to it — to the table
 * that leaves the fewest bytes — and the reader takes them from its own
 * copy; the others go as rows. */
static int encode_output(wstate *w, const canon_table *out, outseg *o, px_msg *reply,
                         canon_error *err) {
  const canon_host *h = w->h;
  size_t need = h->table_encoded_size(out);
  const canon_table *base = NULL;
  uint64_t id = 0;
  for (int i = 0; w->ranges && PX_HOST_HAS_REFS(h) && i < w->ntables; i++) {
    if (!w->tables[i].t) continue;
    size_t n = h->table_encoded_size_ref(out, w->tables[i].t);
    if (n < need) {
      need = n;
      base = w->tables[i].t;
      id = w->tables[i].id;
    }
  }
  int rc = out_segment(w, need, o, err);
  if (rc) return rc;
  if (!base) return h->table_encode_into(out, o->map, need, err);
  reply->flags |= PX_F_REFS;
  return h->table_encode_ref_into(out, base, id, o->map, need, err);
}

/* Keep a run task's output for a concatenation its driver plans, and
 * reply with its sketch in an output segment. */
static int hold_output(wstate *w, const px_msg *m, canon_table *out, outseg *o, px_msg *reply,
                       canon_error *err) {
  const canon_host *h = w->h;
  if (w->nheld == w->capheld) {
    int nc = w->capheld ? w->capheld * 2 : 8;
    held *n = realloc(w->held, (size_t)nc * sizeof *n);
    if (!n) return px_err(err, CANON_ERR_NOMEM, "out of memory");
    w->held = n;
    w->capheld = nc;
  }
  size_t need = h->table_sketch_size(out);
  int rc = out_segment(w, need, o, err);
  if (rc == 0) rc = h->table_sketch_into(out, o->map, need, err);
  if (rc) return rc;
  drop_held(w, m->part); /* (a task sent again replaces its output) */
  w->held[w->nheld++] = (held){m->job_seq, m->part, out};
  reply->flags |= PX_F_HOLD;
  return 0;
}

/* A copy of t that views nothing (t is freed), or NULL with err set. */
static canon_table *own_copy(const canon_host *h, canon_table *t, canon_error *err) {
  size_t n = h->table_encoded_size(t);
  uint8_t *buf = malloc(n ? n : 1);
  canon_table *c = NULL;
  if (!buf)
    px_err(err, CANON_ERR_NOMEM, "out of memory");
  else if (h->table_encode_into(t, buf, n, err) == 0)
    c = h->table_decode(buf, n, err);
  free(buf);
  h->table_free(t);
  return c;
}

static int do_run(wstate *w, const px_msg *m, const int *fds, outseg *o, px_msg *reply,
                  canon_error *err) {
  const canon_host *h = w->h;
  canon_table *in[2] = {NULL, NULL}, *out = NULL;
  int rc = 0, at = m->nstate, views_before = w->live_views;
  bool hold = (m->flags & PX_F_HOLD) && PX_HOST_HAS_RCAT(h);
  for (int i = 0; i < m->nstate && i < 2 && rc == 0; i++) {
    if (!(in[i] = gather(w, m, fds + at, m->count[i], err))) rc = err->code ? err->code : CANON_ERR_ENGINE;
    at += m->count[i];
  }
  if (rc == 0) rc = h->run_task(w->job, m->stage, m->part, in, &out, err);
  if (rc == 0) reply->nrows = h->table_num_rows(out);
  for (int i = 0; i < 2; i++)
    if (in[i]) h->table_free(in[i]), in[i] = NULL;
  /* An output to hold that still views an input segment (its input
   * passed on as it came: a repartition of one producer's rows) is copied
   * first.  Held, it would be a view kept past its task, which turns
   * segment reuse off for the rest of the session (views_before: only a
   * view a transform kept still counts after this). */
  if (rc == 0 && hold && w->live_views > views_before && !(out = own_copy(h, out, err)))
    rc = err->code ? err->code : CANON_ERR_NOMEM;
  if (rc == 0 && hold) {
    if ((rc = hold_output(w, m, out, o, reply, err)) == 0) out = NULL; /* held */
  } else if (rc == 0 && !reply_range(w, out, reply)) {
    rc = encode_output(w, out, o, reply, err);
  }
  if (out) h->table_free(out);
  return rc;
}

/* Check a task message against what was received. */
static bool well_formed(const wstate *w, const px_msg *m, int nfds) {
  if (m->stage < 0 || m->stage >= w->h->num_stages(w->job)) return false;
  int nin = w->h->stage_num_inputs(w->job, m->stage);
  if (m->nstate != nin) return false;
  if (m->type == PX_SPLIT)
    return m->input >= 0 && m->input < nin && nfds == nin + ((m->flags & PX_F_RANGE) ? 0 : 1);
  int want = nin;
  for (int i = 0; i < nin; i++) {
    if (m->count[i] < 0 || m->count[i] > (1 << 20)) return false;
    want += m->count[i];
  }
  return nfds == want && m->part >= 0 && m->part < w->h->stage_num_partitions(w->job, m->stage);
}

static void serve_task(wstate *w, const px_msg *m, int *fds, int nfds) {
  px_msg reply;
  memset(&reply, 0, sizeof reply);
  reply.type = PX_REPLY;
  reply.job_seq = m->job_seq;
  int rc;
  outseg o = {.fd = -1};
  if (!w->job || w->job_seq != m->job_seq)
    rc = w->job_err.code ? (reply.err = w->job_err, w->job_err.code)
                         : px_err(&reply.err, CANON_ERR_ENGINE, "processes: task of an unknown job");
  else if (!well_formed(w, m, nfds))
    rc = px_err(&reply.err, CANON_ERR_ENGINE, "processes: malformed task message");
  else if ((rc = apply_states(w, m->stage, fds, m->nstate, &reply.err)) == 0)
    rc = m->type == PX_SPLIT ? do_split(w, m, fds, &o, &reply.err)
                             : do_run(w, m, fds, &o, &reply, &reply.err);
  if (rc && !reply.err.code) reply.err.code = rc;
  if (rc) reply.flags &= ~(PX_F_RANGE | PX_F_REFS | PX_F_HOLD);
  if (rc) {
    out_done(w, &o, false);
    o.fd = -1;
    o.id = 0;
  }
  reply.seg_id = o.id;
  if (w->live_views) reply.flags |= PX_F_VIEWS_HELD;
  if (w->job && w->job_seq == m->job_seq && PX_HOST_HAS_EVENTS(w->h))
    reply.events_len = (uint32_t)w->h->task_events_take(w->job, reply.events, sizeof reply.events);
  close_fds(fds, nfds);
  w->status->what[0] = '\0';
  /* Output a transform printed reaches its stream now, not at an exit
   * that never flushes. */
  fflush(NULL);
  if (px_send(w->sock, &reply, o.fd >= 0 ? &o.fd : NULL, o.fd >= 0 ? 1 : 0) != 0) _exit(0);
  out_done(w, &o, true);
}

/* PX_CATWRITE: write the held output of `part` into the concatenation
 * (fds[0], mapped read-write) where the order (fds[1]) says, and let it
 * go once written; reply with the outcome. */
static void write_held(wstate *w, const px_msg *m, int *fds, int nfds) {
  const canon_host *h = w->h;
  px_msg reply;
  memset(&reply, 0, sizeof reply);
  reply.type = PX_REPLY;
  reply.job_seq = m->job_seq;
  reply.part = m->part;
  canon_table *t = NULL;
  for (int i = 0; i < w->nheld && m->job_seq == w->job_seq; i++)
    if (w->held[i].part == m->part) t = w->held[i].t;
  snprintf(w->status->what, sizeof w->status->what, "writing partition %d into a concatenation", m->part);
  const uint8_t *order = NULL, *dst = NULL;
  size_t olen = 0, dlen = 0;
  if (!t || nfds != 2 || !PX_HOST_HAS_RCAT(h)) {
    px_err(&reply.err, CANON_ERR_INTERNAL, "processes: no output of partition %d is held here", m->part);
  } else if ((w->wmaps ? px_mapcache_map(w->wmaps, fds[0], &dst, &dlen)
                       : px_seg_map_rw(fds[0], (uint8_t **)&dst, &dlen)) != 0) {
    dst = NULL;
    px_err(&reply.err, CANON_ERR_ENGINE, "processes: cannot map a concatenation: %s", strerror(errno));
  } else if (px_seg_map(fds[1], &order, &olen) != 0) {
    px_err(&reply.err, CANON_ERR_ENGINE, "processes: cannot map a concatenation: %s", strerror(errno));
  } else {
    /* The driver's segments are kept and written again (spares.h): so is
     * this mapping of them (read-write, from its own cache). */
    h->concat_write_part(t, m->part, order, olen, (uint8_t *)dst, dlen, &reply.err);
  }
  px_mapcache_put(w->wmaps, dst, dlen);
  px_seg_unmap(order, olen);
  if (t && !reply.err.code) drop_held(w, m->part); /* written: let go (else PX_UNHOLD or the next job) */
  close_fds(fds, nfds);
  w->status->what[0] = '\0';
  if (px_send(w->sock, &reply, NULL, 0) != 0) _exit(0);
}

/* A worker's memory is its own: keep what tasks free for the next task.
 * By default glibc gives every block of more than a few MB its own
 * mapping and returns it to the kernel when freed, so every task of a big
 * stage pays a page fault (and the zeroing of a fresh page) for each page
 * it writes, and an unmapping for each page it frees.  Served from the
 * heap and kept there, the pages of one task are reused by the next.
 * These are the settings the core makes for a session's process
 * (core/src/memtune.c); a worker is canon's own process, so it keeps them
 * even when CANON_MALLOC_TUNE=0 left the program's malloc alone. */
static void tune_memory(void) {
#ifdef __GLIBC__
  /* Some older glibc versions refuse more than 32 MiB. */
  if (mallopt(M_MMAP_THRESHOLD, 1 << 30) != 1) mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

void px_worker_main(const canon_host *h, int sock, px_status *status, size_t keep_max,
                    size_t maps_max, bool share_ranges) {
  wstate w = {.h = h, .sock = sock, .status = status, .keep_max = keep_max, .ranges = share_ranges};
  struct rlimit nofile;
  w.seg_max = getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == RLIM_INFINITY ||
                      nofile.rlim_cur / 4 > 65536
                  ? 65536
                  : (int)(nofile.rlim_cur / 4);
  tune_memory();
  /* Without one (out of memory), segments are mapped for each use.  Its
   * idle mappings are bounded by what all workers keep. */
  w.maps = px_mapcache_new(maps_max);
  w.wmaps = px_mapcache_new_rw(maps_max);
  h->set_task_observer(observe, status);
  for (;;) {
    px_msg m;
    int *fds = NULL;
    int got = px_recv(sock, &m, &fds);
    if (got == 0) _exit(0); /* the driver closed the session or died */
    if (got < 0) {
      /* E.g. out of descriptors for the ones a message carried: say so
       * where the driver looks when a worker dies. */
      snprintf(status->what, sizeof status->what,
               "nothing: a message from the driver could not be received (%s)", strerror(errno));
      _exit(1);
    }
    int nfds = (int)m.nfds;
    if (m.type == PX_JOB) {
      take_job(&w, &m, fds, nfds);
      close_fds(fds, nfds);
    } else if (m.type == PX_TABLES) {
      take_tables(&w, &m, fds, nfds);
      close_fds(fds, nfds);
    } else if (m.type == PX_DROP) {
      drop_tables(&w, &m);
      close_fds(fds, nfds);
    } else if (m.type == PX_RELEASE) {
      release_segs(&w, &m);
      close_fds(fds, nfds);
    } else if (m.type == PX_SPLIT || m.type == PX_RUN) {
      serve_task(&w, &m, fds, nfds);
    } else if (m.type == PX_CATWRITE) {
      write_held(&w, &m, fds, nfds);
    } else if (m.type == PX_UNHOLD) {
      drop_held(&w, -1);
      close_fds(fds, nfds);
    } else {
      close_fds(fds, nfds);
    }
    free(fds);
  }
}
