/* shared.c — the session's shared tables (see px_shared in processes.h):
 * in-memory and persisted tables put in shared memory once per session,
 * for every job that carries them, and the results of one-stage jobs
 * adopted as such once the driver has concatenated them into a segment
 * of its own. */
#include "processes.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- shared tables ------------------------------------------------------------ */

/* Tell every live worker to forget ids[0..n). */
static void send_drop(px_state *st, const uint64_t *ids, int n) {
  for (int at = 0; at < n; at += PX_IDS_PER_MSG) {
    int k = n - at < PX_IDS_PER_MSG ? n - at : PX_IDS_PER_MSG;
    px_msg m;
    memset(&m, 0, sizeof m);
    m.type = PX_DROP;
    m.events_len = (uint32_t)k * 8;
    memcpy(m.events, ids + at, (size_t)k * 8);
    for (int i = 0; i < st->nworkers; i++)
      if (st->w[i].pid > 0) px_send(st->w[i].sock, &m, NULL, 0); /* a failure is a death */
  }
}

/* Drop the shared tables whose data nothing but the cache holds any more
 * (the program freed the table), here and in the workers. */
void px_collect_shared(px_state *st) {
  const canon_host *h = st->host;
  uint64_t *gone = NULL;
  int ngone = 0, keep = 0;
  for (int i = 0; i < st->nshared; i++) {
    px_shared *e = &st->shared[i];
    if (!h->table_data_orphaned(e->key)) {
      st->shared[keep++] = *e;
      continue;
    }
    uint64_t *g = realloc(gone, (size_t)(ngone + 1) * sizeof *g);
    if (g) {
      gone = g;
      gone[ngone++] = e->id;
    } /* else the workers keep a stale mapping until they are replaced */
    h->table_free(e->key);
    px_close_held(st, e->fd);
  }
  st->nshared = keep;
  if (ngone) send_drop(st, gone, ngone);
  free(gone);
}

const canon_table *px_shared_find(const px_state *st, uint64_t id) {
  for (int i = 0; id && i < st->nshared; i++)
    if (st->shared[i].id == id) return st->shared[i].key;
  return NULL;
}

void px_drop_all_shared(px_state *st) {
  for (int i = 0; i < st->nshared; i++) {
    st->host->table_free(st->shared[i].key);
    px_close_held(st, st->shared[i].fd);
  }
  free(st->shared);
  st->shared = NULL;
  st->nshared = st->capshared = 0;
  free(st->job_tables);
  st->job_tables = NULL;
  st->njob_tables = st->capjob_tables = 0;
}

static bool evict_one(px_state *st);

/* Down to PX_SHARED_MAX - 1 shared tables, dropping the least recently
 * used ones the job being encoded does not use (when all are, keep them). */
static void make_room(px_state *st) {
  while (st->nshared >= PX_SHARED_MAX && evict_one(st)) {
  }
}

static bool evict_one(px_state *st) {
  int lru = -1;
  for (int i = 0; i < st->nshared; i++)
    if (st->shared[i].last_job <= st->job_seq &&
        (lru < 0 || st->shared[i].last_job < st->shared[lru].last_job))
      lru = i;
  if (lru < 0) return false;
  px_shared e = st->shared[lru];
  /* Keep the current job's indices valid: move the last entry into the
   * hole and renumber it. */
  int last = --st->nshared;
  st->shared[lru] = st->shared[last];
  for (int i = 0; i < st->njob_tables; i++)
    if (st->job_tables[i] == last) st->job_tables[i] = lru;
  send_drop(st, &e.id, 1);
  st->host->table_free(e.key);
  px_close_held(st, e.fd);
  return true;
}

/* Note shared[k] as used by the current job (once). */
static int use_shared(px_state *st, int k) {
  for (int i = 0; i < st->njob_tables; i++)
    if (st->job_tables[i] == k) return 0;
  if (st->njob_tables == st->capjob_tables) {
    int nc = st->capjob_tables ? st->capjob_tables * 2 : 8;
    int *n = realloc(st->job_tables, (size_t)nc * sizeof *n);
    if (!n) return -1;
    st->job_tables = n;
    st->capjob_tables = nc;
  }
  st->job_tables[st->njob_tables++] = k;
  return 0;
}

/* job_encode_shared's question for each table of the job: big tables are
 * put in shared memory (once per session) and referenced by id. */
int px_share_table(void *ctx, const canon_table *t, uint64_t *id, canon_error *err) {
  px_state *st = ctx;
  const canon_host *h = st->host;
  *id = 0;
  size_t bytes = h->table_encoded_size(t);
  if (bytes < st->share_min || bytes == 0) return 0;
  int k;
  for (k = 0; k < st->nshared; k++)
    if (h->table_same_data(st->shared[k].key, t)) break;
  if (k == st->nshared) {
    make_room(st);
    if (st->nshared == st->capshared) {
      int nc = st->capshared ? st->capshared * 2 : 8;
      px_shared *n = realloc(st->shared, (size_t)nc * sizeof *n);
      if (!n) return px_err(err, CANON_ERR_NOMEM, "out of memory");
      st->shared = n;
      st->capshared = nc;
    }
    px_shared e = {.id = ++st->next_shared_id, .fd = -1, .last_job = st->job_seq + 1};
    if (!(e.key = h->table_share(t, err))) return err && err->code ? err->code : CANON_ERR_NOMEM;
    canon_error e2;
    memset(&e2, 0, sizeof e2);
    int rc = px_shared_table_write(h, t, &e.fd, &e2);
    if (rc == 0 && px_hold(st, e.fd) != 0) {
      close(e.fd);
      rc = px_err(&e2, CANON_ERR_NOMEM, "out of memory");
    }
    if (rc) {
      h->table_free(e.key);
      return px_err(err, rc, "processes: cannot put a table of %zu bytes in shared memory: %.800s",
                    bytes, e2.message);
    }
    k = st->nshared; /* make_room moved the end */
    st->shared[st->nshared++] = e;
  }
  if (use_shared(st, k) != 0) return px_err(err, CANON_ERR_NOMEM, "out of memory");
  st->shared[k].last_job = st->job_seq + 1; /* the job being encoded */
  *id = st->shared[k].id;
  return 0;
}

int px_send_tables(px_state *st, int sock) {
  for (int at = 0; at < st->njob_tables; at += PX_IDS_PER_MSG) {
    int n = st->njob_tables - at < PX_IDS_PER_MSG ? st->njob_tables - at : PX_IDS_PER_MSG;
    int fds[PX_IDS_PER_MSG];
    px_msg m;
    memset(&m, 0, sizeof m);
    m.type = PX_TABLES;
    m.job_seq = st->job_seq;
    m.events_len = (uint32_t)n * 8;
    for (int i = 0; i < n; i++) {
      const px_shared *e = &st->shared[st->job_tables[at + i]];
      memcpy(m.events + (size_t)i * 8, &e->id, 8);
      fds[i] = e->fd;
    }
    if (px_send(sock, &m, fds, n) != 0) return -1;
  }
  return 0;
}


void px_shared_adopt(px_state *st, const canon_table *t, int fd) {
  const canon_host *h = st->host;
  canon_error err;
  memset(&err, 0, sizeof err);
  /* Never evict a table for a result nobody may share. */
  if (st->nshared >= PX_SHARED_MAX) {
    px_close_held(st, fd);
    return;
  }
  if (st->nshared == st->capshared) {
    int nc = st->capshared ? st->capshared * 2 : 8;
    px_shared *n = realloc(st->shared, (size_t)nc * sizeof *n);
    if (!n) {
      px_close_held(st, fd);
      return;
    }
    st->shared = n;
    st->capshared = nc;
  }
  px_shared e = {.id = ++st->next_shared_id, .fd = fd, .last_job = st->job_seq};
  if (!(e.key = h->table_share(t, &err))) {
    px_close_held(st, fd);
    return;
  }
  st->shared[st->nshared++] = e;
}

/* The results of a job of one stage (a scan: a CSV read, or a table
 * filtered or narrowed — what a program loads and then persists or
 * passes to later jobs) as one table written into a segment of the
 * driver (host->table_concat_encoded): the program gets one table (no
 * copy by the core), and the segment becomes a shared table of the
 * session, so a persisted result is not encoded again for the first job
 * that reads it.  Not for the results of jobs with exchanges (joins,
 * aggregates, sorts: mostly answers the program keeps for itself), where
 * fresh shared memory costs more than the heap the core concatenates
 * into (j1 at 10 million rows: +14% CPU).  NULL (results untouched,
 * nothing to report) when they are small (below share_min, they would
 * travel inside a job anyway; below 1 MiB a segment costs more than it
 * saves: PX_ADOPT_MIN) or the copy fails. */

typedef struct cat_seg {
  int *fd;
  uint8_t *map;
  size_t size;
} cat_seg;

static uint8_t *cat_alloc(void *ctx, size_t len) {
  cat_seg *c = ctx;
  uint8_t *map;
  if ((*c->fd = px_table_seg_create(len, &map)) < 0) return NULL;
  c->map = map;
  c->size = len;
  return map;
}

static void cat_release(void *ctx) {
  cat_seg *c = ctx;
  px_seg_unmap(c->map, c->size);
  free(c);
}

canon_table *px_concat_results(px_state *st, canon_table *const *res, int P) {
  const canon_host *h = st->host;
  if (P < 2 || !PX_HOST_HAS_CONCAT(h)) return NULL;
  size_t bytes = 0;
  for (int p = 0; p < P; p++) bytes += h->table_encoded_size(res[p]);
  if (!px_worth_sharing(st, bytes)) return NULL;
  int fd = -1;
  cat_seg *c = malloc(sizeof *c);
  if (!c) return NULL;
  *c = (cat_seg){&fd, NULL, 0};
  canon_error e;
  memset(&e, 0, sizeof e);
  canon_table *one = h->table_concat_encoded(res, P, cat_alloc, cat_release, c, &e);
  if (fd < 0) free(c); /* never allocated: release does not run */
  if (!one) {
    if (fd >= 0) close(fd);
    return NULL;
  }
  if (px_hold(st, fd) != 0)
    close(fd); /* the table is fine; it is just not shared yet */
  else
    px_shared_adopt(st, one, fd);
  return one;
}
