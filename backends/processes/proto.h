/* proto.h — what the processes engine's driver and workers exchange:
 * messages over a unix socket pair (SOCK_SEQPACKET, so each message keeps
 * its boundaries), file descriptors passed with SCM_RIGHTS, and shared
 * memory segments (memfd) holding encoded jobs, exchange states and
 * tables.  A segment is written by its producer and mapped read-only by
 * its readers; a producer that keeps a segment writes it again only after
 * the driver released it (PX_RELEASE: nobody maps it any more).  Only
 * descriptors travel through the socket. */
#ifndef CANON_PROCESSES_PROTO_H
#define CANON_PROCESSES_PROTO_H

#include "canon_backend.h"
#include "mapcache.h"

#include <stdarg.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Message types. */
enum {
  PX_JOB = 1,  /* driver -> worker: fd 0 holds the encoded job */
  PX_SPLIT,    /* split producer output `part` of input `input` of `stage` */
  PX_RUN,      /* run task (stage, part) */
  PX_REPLY,    /* worker -> driver: err.code 0 and one fd (the result), or an error */
  PX_MORE_FDS, /* continuation: more descriptors of the previous message */
  PX_TABLES,   /* driver -> worker: shared tables; fd k holds the encoded
                  table whose id is the k-th u64 of `events` */
  PX_DROP,     /* driver -> worker: forget the shared tables whose ids are
                  the u64s of `events` */
  PX_RELEASE,  /* driver -> worker: the output segments of yours whose ids
                  are the u64s of `events` are read no more (reuse them) */
  PX_CATWRITE, /* driver -> worker: write your held output `part` of job
                  job_seq into the concatenation in fd 0 (read-write) as
                  the order in fd 1 says; the reply has no descriptor */
  PX_UNHOLD    /* driver -> worker: let go of every output you hold */
};

/* RELEASE flag: drop the segments instead of reusing them. */
#define PX_F_DROP 1u
/* REPLY flags. */
#define PX_F_VIEWS_HELD 1u /* a view of a task input outlived its task:
                              input segments must never be rewritten */
/* REPLY: the result is rows [range_first, range_first + nrows) of shared
 * table range_id (no segment); SPLIT: so is the producer output to split
 * (no descriptor for it). */
#define PX_F_RANGE 2u
/* REPLY: the result's encoding holds column references to shared tables
 * (table_encode_ref_into): only a decoding with a lookup reads it. */
#define PX_F_REFS 4u
/* RUN: keep the output and reply with its sketch (table_sketch_into) in
 * the segment; REPLY: so it was (the worker holds the output until a
 * PX_CATWRITE writes it, or the next job). */
#define PX_F_HOLD 8u

/* Table ids a PX_TABLES or PX_DROP message carries. */
#define PX_IDS_PER_MSG (PX_EVENT_BYTES / 8)

/* Descriptors per message (the kernel takes at most 253). */
#define PX_FDS_PER_MSG 240
/* Task event bytes a reply carries: a task's record, its transform
 * batches and a split's record fit (a record is 112 bytes). */
#define PX_EVENT_BYTES 448
/* Whether the host has the shared-table slots (ABI 1.1). */
#define PX_HOST_HAS_SHARING(h) \
  ((h)->struct_size >= offsetof(canon_host, table_data_orphaned) + sizeof (h)->table_data_orphaned)
/* Whether the host has the row-range slots (ABI 1.2). */
#define PX_HOST_HAS_RANGES(h) \
  ((h)->struct_size >= offsetof(canon_host, table_slice) + sizeof (h)->table_slice)
/* Whether the host has table_decode_own (ABI 1.3). */
#define PX_HOST_HAS_OWN(h) \
  ((h)->struct_size >= offsetof(canon_host, table_decode_own) + sizeof (h)->table_decode_own)
/* Whether the host has job_result_one_table (ABI 1.3). */
#define PX_HOST_HAS_ONE_TABLE(h) \
  ((h)->struct_size >= offsetof(canon_host, job_result_one_table) + sizeof (h)->job_result_one_table)
/* Whether the host has exchange_split_encode (ABI 1.4). */
#define PX_HOST_HAS_SPLIT_ENCODE(h) \
  ((h)->struct_size >= offsetof(canon_host, exchange_split_encode) + sizeof (h)->exchange_split_encode)
/* Whether the host has table_concat_encoded (ABI 1.3). */
#define PX_HOST_HAS_CONCAT(h) \
  ((h)->struct_size >= offsetof(canon_host, table_concat_encoded) + sizeof (h)->table_concat_encoded)
/* Whether the host has the column reference slots (ABI 1.5). */
#define PX_HOST_HAS_REFS(h) \
  ((h)->struct_size >= offsetof(canon_host, table_decode_ref) + sizeof (h)->table_decode_ref)
/* Whether the host has the slots of a concatenation written by the
 * processes holding its parts (ABI 1.6). */
#define PX_HOST_HAS_RCAT(h) \
  ((h)->struct_size >= offsetof(canon_host, concat_write_part) + sizeof (h)->concat_write_part)
/* Whether the host has the event slots (appended to canon_host). */
#define PX_HOST_HAS_EVENTS(h) \
  ((h)->struct_size >= offsetof(canon_host, task_events_add) + sizeof (h)->task_events_add)

typedef struct px_msg {
  uint32_t type;
  uint32_t nfds;      /* descriptors of the message, over it and its continuations */
  uint64_t job_seq;   /* which job the message belongs to */
  int32_t stage, input, part;
  int32_t nstate;     /* SPLIT, RUN: the first nstate fds are the stage's exchange
                         states, one per input */
  int32_t count[2];   /* RUN: then count[i] split segments for input i */
  int64_t nrows;      /* REPLY: rows of the result */
  uint64_t seg_id;    /* REPLY: the result segment's id in the worker's
                         cache of output segments (0: not cached, the
                         worker keeps no hold of it) */
  uint32_t flags;     /* REPLY, RELEASE, SPLIT: PX_F_* */
  uint64_t range_id;  /* PX_F_RANGE: the shared table (never 0) */
  int64_t range_first, range_rows; /* PX_F_RANGE: its rows (REPLY: range_rows = nrows) */
  canon_error err;    /* REPLY: the task's error (code 0: none) */
  /* REPLY: what the core recorded in the worker while it ran the task
   * (host->task_events_take: whole records, opaque here); the driver hands
   * them to host->task_events_add for progress, trace and statistics.
   * Records that do not fit ride with the worker's next reply. */
  uint32_t events_len;
  uint8_t events[PX_EVENT_BYTES];
} px_msg;

/* Send m with fds (m->nfds is set here); 0, or -1 with errno. */
int px_send(int sock, px_msg *m, const int *fds, int nfds);
/* Receive one message and its descriptors into *fds (malloc'd, NULL when
 * none; the caller closes and frees them).  1: a message, 0: the peer
 * closed, -1: error (errno). */
int px_recv(int sock, px_msg *m, int **fds);

/* Run fn(arg) on up to `threads` threads (at most 8, the caller's among
 * them), each taking items in turn from a counter in arg; a thread that
 * cannot be started leaves its share to the others. */
void px_run_threads(void *(*fn)(void *), void *arg, int threads);
/* Seconds on the monotonic clock; poll's timeout (ms) until the time
 * `deadline` on it (0: none, -1), capped so that it fits an int. */
double px_now_s(void);
int px_poll_ms(double deadline);
/* Threads for the driver's own big work, done while the workers wait
 * (decoding results, making a shared table): one per core, at most 8. */
int px_driver_threads(void);

/* A new shared memory segment of `size` bytes mapped read-write at *map;
 * returns its fd or -1 (errno).  Nothing named is left behind. */
int px_seg_create(size_t size, uint8_t **map);
/* The same for a segment its producer keeps and writes again: marked so
 * (sealed against shrinking), which is what readers cache (mapcache.h). */
int px_seg_create_kept(size_t size, uint8_t **map);
/* The same for a segment that will hold a shared table of the session. */
int px_table_seg_create(size_t size, uint8_t **map);
/* The same for a concatenation its workers write (held.c): not mapped
 * here (the processes writing it fault in their pages, several of them
 * at once), and marked as kept (spares.h: it is written again). */
int px_concat_seg_create(size_t size);
/* Map a segment read-only; 0 or -1 (errno).  px_seg_map_all also faults
 * every page in now (for segments read whole, many times). */
int px_seg_map(int fd, const uint8_t **map, size_t *size);
int px_seg_map_all(int fd, const uint8_t **map, size_t *size);
/* Map a segment read-write (a concatenation its processes write). */
int px_seg_map_rw(int fd, uint8_t **map, size_t *size);
void px_seg_unmap(const void *map, size_t size);

/* Bytes of the table encoding a mapped segment holds: segments reused
 * from a worker's cache are larger than what they hold, and the encoding
 * says its length (checked against the segment's size; decoding checks
 * the rest). */
size_t px_table_len(const uint8_t *map, size_t size);

/* A split segment: the P buckets of one producer output.  Layout: u32
 * magic, u32 P, P x (u64 offset, u64 length), then the encoded buckets at
 * 8-byte aligned offsets.  Its size, then the buckets into map (at least
 * that size). */
size_t px_split_size(const canon_host *h, canon_table *const *buckets, int P);
int px_split_encode(const canon_host *h, canon_table *const *buckets, int P, uint8_t *map,
                    size_t size, canon_error *err);
/* Bucket p of a mapped split segment, checked against its size. */
int px_split_bucket(const uint8_t *map, size_t size, int P, int p, const uint8_t **bucket,
                    size_t *len, canon_error *err);
/* A table into a new segment (fd in *fd). */
int px_table_write(const canon_host *h, const canon_table *t, int *fd, canon_error *err);
/* The same, for a table shared by the jobs of a session (the segment is
 * named canon-table, so its descriptors can be told apart). */
int px_shared_table_write(const canon_host *h, const canon_table *t, int *fd, canon_error *err);
/* The tables column references of an encoding may name (table_decode_ref's
 * lookup: the session's shared tables, as this process holds them); a
 * px_lookup NULL in a call below makes a reference malformed input. */
typedef struct px_lookup {
  const canon_table *(*fn)(void *ctx, uint64_t id, canon_error *err);
  void *ctx;
} px_lookup;

/* The table at `at` (len bytes) inside a read-only mapping (map, size)
 * that the call takes over: the table's columns view the mapping, which
 * is unmapped when the table and all tables sharing its buffers are freed
 * (or at once, when decoding fails or the host cannot view).  Nothing is
 * copied. */
canon_table *px_table_view(const canon_host *h, const uint8_t *map, size_t size, const uint8_t *at,
                           size_t len, canon_error *err);
/* px_table_view over a mapping from px_mapcache_map(cache, ...) (cache
 * NULL: a plain mapping), which goes back to the cache instead of being
 * unmapped; after(ctx) runs once the mapping is let go. */
canon_table *px_table_view_in(const canon_host *h, px_mapcache *cache, const uint8_t *map,
                              size_t size, const uint8_t *at, size_t len,
                              void (*after)(void *ctx), void *ctx, const px_lookup *lk,
                              canon_error *err);
/* The table a segment holds, as a view of its mapping (see px_table_view). */
canon_table *px_table_map(const canon_host *h, int fd, canon_error *err);
/* The same through a mapping cache (NULL: none), calling after(ctx) once
 * the mapping is let go (also when the call fails), resolving column
 * references with lk. */
canon_table *px_table_map_in(const canon_host *h, px_mapcache *cache, int fd,
                             void (*after)(void *ctx), void *ctx, const px_lookup *lk,
                             canon_error *err);
/* Bytes into a new segment. */
int px_bytes_write(const void *buf, size_t len, int *fd, canon_error *err);

/* Whether the PX_F_RANGE part of m names rows a table of `rows` rows has
 * (first and count not negative, first + count within it; a reply's count
 * is its nrows). */
bool px_range_ok(const px_msg *m, int64_t rows);

/* Fill err: code and a printf-style message; returns code. */
int px_err(canon_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int px_verr(canon_error *err, int code, const char *fmt, va_list ap);

#endif
