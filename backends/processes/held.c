/* held.c — the results of a job's last stage written by the workers that
 * hold them straight into one table's segment.
 *
 * A program that loads a file and persists it, or collects an answer,
 * wants one table.  Written the usual way, every row is copied twice: by
 * its worker into an output segment, then by the driver into the table
 * (px_concat_results, or the core's concatenation).  Instead the run tasks
 * keep their outputs (PX_F_HOLD) and reply with a sketch of each (its
 * rows; per column its NULLs, string bytes and dictionary: small); the
 * driver plans the concatenation from the sketches (host concat_plan:
 * merged dictionaries, where each part's rows go), takes a segment (a
 * freed table's, spares.h, or a new one), writes all of it but the rows,
 * and sends each worker the order of each part it holds (PX_CATWRITE);
 * the workers write their rows into the segment at the same time, each
 * row once.  The driver then decodes the
 * segment with the checks it gives anything a worker wrote, and adopts it
 * as a shared table of the session when it is big enough, as
 * px_concat_results does.
 *
 * A worker that died after its task took its held outputs with it: the
 * job is run again without holding (PX_AGAIN).  An output is held until
 * it is written or the next job starts. */
#include "processes.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool holder_alive(const px_state *st, const px_seg *s) {
  return s->held && s->fd >= 0 && s->slot >= 0 && s->slot < st->nworkers &&
         st->w[s->slot].pid > 0 && st->w[s->slot].gen == s->gen;
}

/* The sketch of segs[p] checked against its task's reply: its rows (u64
 * at byte 8) are the rows the task reported, so a sketch cannot make the
 * driver lay out more than is there. */
static bool sketch_rows_ok(const uint8_t *map, size_t size, const px_seg *s) {
  uint64_t rows;
  if (size < 16) return false;
  memcpy(&rows, map + 8, 8);
  return rows == (uint64_t)s->rows;
}

/* The plan from the results' sketches (mapped for the call only). */
static canon_concat_plan *plan_from_sketches(px_state *st, const canon_job *job, const px_seg *segs,
                                             int P, canon_error *err) {
  const canon_host *h = st->host;
  const uint8_t **maps = P > 0 ? calloc((size_t)P, sizeof *maps) : NULL;
  size_t *sizes = P > 0 ? calloc((size_t)P, sizeof *sizes) : NULL;
  canon_concat_plan *plan = NULL;
  int mapped = 0, bad = -1;
  if (!maps || !sizes) {
    px_err(err, CANON_ERR_NOMEM, "out of memory");
  } else {
    while (mapped < P && px_seg_map(segs[mapped].fd, &maps[mapped], &sizes[mapped]) == 0) mapped++;
    for (int p = 0; p < mapped && bad < 0; p++)
      if (!sketch_rows_ok(maps[p], sizes[p], &segs[p])) bad = p;
    if (mapped < P)
      px_err(err, CANON_ERR_ENGINE, "processes: cannot map the sketch of partition %d: %s", mapped,
             strerror(errno));
    else if (bad >= 0)
      px_err(err, CANON_ERR_INTERNAL, "processes: the sketch of partition %d is not its result's", bad);
    else if (!(plan = h->concat_plan(job, maps, sizes, P, err))) {
      char msg[sizeof err->message];
      snprintf(msg, sizeof msg, "%s", err->message);
      px_err(err, err->code == CANON_ERR_NOMEM ? CANON_ERR_NOMEM : CANON_ERR_INTERNAL,
             "processes: a worker's sketch of its result: %.900s", msg);
    }
  }
  for (int p = 0; p < mapped; p++) px_seg_unmap(maps[p], sizes[p]);
  free(maps);
  free(sizes);
  return plan;
}

/* Part p's order into a new segment. */
static int order_segment(const canon_host *h, const canon_concat_plan *plan, int p, int *fd,
                         canon_error *err) {
  size_t n = h->concat_order_size(plan, p);
  uint8_t *buf = malloc(n);
  if (!buf) return px_err(err, CANON_ERR_NOMEM, "out of memory");
  int rc = h->concat_order_into(plan, p, buf, n, err);
  if (rc == 0) rc = px_bytes_write(buf, n, fd, err);
  free(buf);
  return rc;
}

/* The writing of the parts: which were sent and are done, how many
 * orders each worker has not answered yet. */
typedef struct writes {
  px_state *st;
  const canon_concat_plan *plan;
  const px_seg *segs;
  int P, fd;
  bool *sent, *done;
  int *owed;       /* per worker slot */
  bool again;      /* a holder is gone */
  int failed;      /* first error (a worker refused its order, or no order) */
  canon_error *err;
} writes;

/* Orders a worker has at once: it answers each, and a worker blocked on
 * answers the driver does not read yet stops reading its orders. */
#define ORDERS_IN_FLIGHT 2

/* Send part p's order to its holder. */
static void send_order(writes *wr, int p) {
  px_state *st = wr->st;
  const px_seg *s = &wr->segs[p];
  int ofd = -1, rc = order_segment(st->host, wr->plan, p, &ofd, wr->err);
  if (rc) {
    if (!wr->failed) wr->failed = rc;
    return;
  }
  px_msg m;
  memset(&m, 0, sizeof m);
  m.type = PX_CATWRITE;
  m.job_seq = st->job_seq;
  m.part = p;
  int fds[2] = {wr->fd, ofd};
  wr->sent[p] = true;
  if (px_send(st->w[s->slot].sock, &m, fds, 2) == 0)
    wr->owed[s->slot]++;
  else
    wr->again = true; /* its death shows up below, or at the next job */
  close(ofd);
}

/* Give every worker orders up to ORDERS_IN_FLIGHT, in part order. */
static void feed(writes *wr) {
  for (int p = 0; p < wr->P && !wr->again && !wr->failed; p++)
    if (!wr->sent[p] && wr->owed[wr->segs[p].slot] < ORDERS_IN_FLIGHT) send_order(wr, p);
}

/* Worker wi is gone (or was killed for the timeout): replace it. */
static void holder_died(px_state *st, int wi, writes *wr) {
  int status;
  canon_error e;
  px_reap(st, wi, false, &status);
  px_spawn(st, wi, &e); /* without a replacement the pool shrinks */
  wr->owed[wi] = 0;
  wr->again = true;
}

/* A reply from worker wi. */
static void on_written(writes *wr, int wi) {
  px_state *st = wr->st;
  px_msg m;
  int *fds = NULL;
  if (px_recv(st->w[wi].sock, &m, &fds) != 1) {
    holder_died(st, wi, wr);
    free(fds);
    return;
  }
  wr->owed[wi]--;
  if (m.type != PX_REPLY || m.job_seq != st->job_seq || m.part < 0 || m.part >= wr->P ||
      !wr->sent[m.part] || wr->done[m.part]) {
    if (!wr->failed)
      wr->failed = px_err(wr->err, CANON_ERR_INTERNAL, "processes: unexpected message from a worker");
  } else if (m.err.code) {
    if (!wr->failed) {
      wr->failed = m.err.code;
      *wr->err = m.err;
    }
  } else {
    wr->done[m.part] = true;
  }
  for (int i = 0; i < (int)m.nfds; i++) close(fds[i]);
  free(fds);
}

/* Send every order and wait until every live worker has answered for
 * every order it got: a reply left unread would be taken for the next
 * job's.  After a death or a failure no more orders go out. */
static void write_parts(writes *wr) {
  px_state *st = wr->st;
  struct pollfd *pfd = calloc((size_t)st->nworkers, sizeof *pfd);
  int *who = calloc((size_t)st->nworkers, sizeof *who);
  if (!pfd || !who) {
    wr->failed = px_err(wr->err, CANON_ERR_NOMEM, "out of memory");
  } else {
    feed(wr);
  }
  double deadline = st->task_timeout > 0 ? px_now_s() + st->task_timeout : 0;
  for (;;) {
    int np = 0;
    for (int wi = 0; pfd && who && wi < st->nworkers; wi++)
      if (wr->owed[wi] > 0) {
        pfd[np] = (struct pollfd){.fd = st->w[wi].sock, .events = POLLIN};
        who[np++] = wi;
      }
    if (np == 0) break;
    int got = poll(pfd, (nfds_t)np, px_poll_ms(deadline));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      /* Past task_timeout (or poll failing): the writers still at it are
       * killed, and the job runs again. */
      for (int k = 0; k < np; k++) {
        kill(st->w[who[k]].pid, SIGKILL);
        holder_died(st, who[k], wr);
      }
      continue;
    }
    for (int k = 0; k < np; k++)
      if (pfd[k].revents) on_written(wr, who[k]);
    feed(wr);
  }
  free(pfd);
  free(who);
}

/* A concatenation's segment lent by the spares: back to them (or closed)
 * once the table's last view is let go. */
typedef struct lent {
  px_spares *pool;
  int fd;
} lent;

/* Segment fd back to the spares (pool NULL: closed). */
static void give_back(px_spares *pool, int fd) {
  if (pool)
    px_spares_give(pool, fd);
  else
    px_close_held(NULL, fd);
}

static void lent_back(void *ctx) {
  lent *l = ctx;
  give_back(l->pool, l->fd);
  free(l);
}

/* A segment for the concatenation's len bytes, held (px_hold): a spare,
 * else a new one sealed like a spare, not populated (each worker faults in
 * the pages it writes, at the same time as the others: the kernel's
 * allocating and zeroing of fresh shared pages is most of the cost of
 * writing them).  -1 with err set. */
static int concat_segment(px_state *st, px_spares *pool, size_t len, canon_error *err) {
  int fd = px_spares_take(pool, len);
  if (fd >= 0) return fd;
  if ((fd = px_concat_seg_create(len)) >= 0) {
    if (px_hold(st, fd) == 0) return fd;
    close(fd);
    errno = ENOMEM;
  }
  px_err(err, errno == ENOMEM || errno == ENOSPC ? CANON_ERR_NOMEM : CANON_ERR_ENGINE,
         "processes: cannot create a shared memory segment of %zu bytes: %s", len, strerror(errno));
  return -1;
}

/* The driver's part of the writing: everything but the rows (header,
 * frames, cleared bitmaps and padding, merged dictionaries), through a
 * mapping of its own for the call (only the pages it writes come in). */
static int put_head(px_state *st, const canon_concat_plan *plan, int fd, size_t len, canon_error *err) {
  uint8_t *map;
  size_t size;
  if (px_seg_map_rw(fd, &map, &size) != 0)
    return px_err(err, CANON_ERR_ENGINE, "processes: cannot map a concatenation: %s", strerror(errno));
  int rc = st->host->concat_plan_put_head(plan, map, size < len ? size : len, err);
  px_seg_unmap(map, size);
  return rc;
}

int px_concat_held(px_state *st, const canon_job *job, const px_seg *segs, int P, canon_table **one,
                   canon_error *err) {
  const canon_host *h = st->host;
  *one = NULL;
  if (P < 1) return PX_AGAIN;
  for (int p = 0; p < P; p++)
    if (!holder_alive(st, &segs[p])) return PX_AGAIN;
  canon_concat_plan *plan = plan_from_sketches(st, job, segs, P, err);
  if (!plan) return err->code ? err->code : CANON_ERR_ENGINE;
  size_t len = h->concat_plan_len(plan);
  /* Once a worker kept a view of a task input, no segment is written
   * twice: the table's segment is closed with it, not lent again. */
  px_spares *pool = st->no_reuse ? NULL : st->spares;
  int fd = concat_segment(st, pool, len, err), rc = fd < 0 ? err->code : 0;
  if (rc == 0) rc = put_head(st, plan, fd, len, err);
  writes wr = {.st = st, .plan = plan, .segs = segs, .P = P, .fd = fd, .err = err,
               .sent = calloc((size_t)P, sizeof(bool)), .done = calloc((size_t)P, sizeof(bool)),
               .owed = calloc((size_t)st->nworkers, sizeof(int))};
  if (rc == 0 && (!wr.sent || !wr.done || !wr.owed)) rc = px_err(err, CANON_ERR_NOMEM, "out of memory");
  /* The workers write their parts at the same time. */
  if (rc == 0) write_parts(&wr);
  h->concat_plan_free(plan);
  if (rc == 0 && wr.again) rc = PX_AGAIN;
  if (rc == 0 && wr.failed) rc = wr.failed;
  for (int p = 0; rc == 0 && p < P; p++)
    if (!wr.done[p]) rc = px_err(err, CANON_ERR_INTERNAL, "processes: partition %d was never written", p);
  free(wr.sent);
  free(wr.done);
  free(wr.owed);
  lent *l = rc == 0 ? malloc(sizeof *l) : NULL;
  if (rc == 0 && !l) rc = px_err(err, CANON_ERR_NOMEM, "out of memory");
  if (rc) {
    give_back(pool, fd);
    return rc;
  }
  /* Read back with the checks anything a worker wrote gets; its columns
   * view the driver's mapping of the segment (nothing is copied), kept
   * with the segment for its next use.  The segment goes back to the
   * spares when the table's last view is let go. */
  *l = (lent){pool, fd};
  px_mapcache *mc = px_driver_maps(st);
  const uint8_t *map;
  size_t size;
  if (px_mapcache_map(mc, fd, &map, &size) != 0) {
    px_err(err, CANON_ERR_ENGINE, "processes: cannot map a concatenation: %s", strerror(errno));
    lent_back(l);
    return err->code;
  }
  int afd = px_worth_sharing(st, len) ? dup(fd) : -1;
  /* Not populated: the decoding's checks fault in what they read, the
   * program what it reads (kept in the mapping for the segment's next
   * use). */
  if (!(*one = px_table_view_in(h, mc, map, size, map, len < size ? len : size, lent_back, l, NULL, err))) {
    if (afd >= 0) close(afd);
    return err->code ? err->code : CANON_ERR_ENGINE;
  }
  /* A small one is not worth a place among the session's shared tables
   * (its mapping lives with the table). */
  if (afd >= 0 && px_hold(st, afd) != 0)
    close(afd); /* the table is fine; it is just not shared */
  else if (afd >= 0)
    px_shared_adopt(st, *one, afd);
  return 0;
}

void px_unhold_all(px_state *st) {
  for (int wi = 0; wi < st->nworkers; wi++) {
    if (st->w[wi].pid <= 0) continue;
    px_msg m;
    memset(&m, 0, sizeof m);
    m.type = PX_UNHOLD;
    m.job_seq = st->job_seq;
    px_send(st->w[wi].sock, &m, NULL, 0); /* a failure shows up as a death */
  }
}
