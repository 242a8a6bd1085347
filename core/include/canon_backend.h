/* canon_backend.h — the engine plugin ABI.
 *
 * An engine is a shared object exporting one symbol:
 *
 *     const canon_backend *canon_backend_entry(void);
 *
 * The returned struct starts with version fields, capability bits and the
 * name; function slots follow and are only ever appended (a newer minor
 * version adds slots at the end, and struct_size tells the core which slots
 * exist).  The core refuses a plugin whose abi_major differs from its own
 * or whose abi_minor is newer than the core's, before calling any slot.
 *
 * An engine owns scheduling and data movement only.  Everything that
 * touches rows — running the kernels of a task, splitting a task's output
 * into exchange buckets, concatenating buckets — is done by calling back
 * into the core through the canon_host table handed to `open`, so every
 * engine computes with the same kernels and gets the same answer.
 *
 * A job is a physical plan: stages numbered 0..n-1 in dependency order
 * (every input of stage s is a stage < s); the last stage is the root.
 * Stage s has P(s) partitions; task (s, p) takes, for each input i of s,
 * the concatenation — in source-partition order — of bucket p of every
 * output partition of input stage i, and produces one output batch.  A leaf
 * stage (no inputs) reads its source slice p.  The result of the job is the
 * root stage's outputs in partition order.  Engines must keep that order:
 * it is what makes ordered results independent of the partition count.
 */
#ifndef CANON_BACKEND_H
#define CANON_BACKEND_H

#include "canon.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CANON_BACKEND_ABI_MAJOR 1
#define CANON_BACKEND_ABI_MINOR 6

/* Capability bits an engine declares (conformance cases can require them). */
#define CANON_CAP_PARTITIONS   (1u << 0)  /* honours a partitions=N option */
#define CANON_CAP_PARALLEL     (1u << 1)  /* runs tasks concurrently */
#define CANON_CAP_ISOLATION    (1u << 2)  /* user code runs in other processes */
#define CANON_CAP_DISTRIBUTED  (1u << 3)  /* spans several machines */
#define CANON_CAP_TRANSFORM    (1u << 4)  /* runs user transforms */

typedef struct canon_job canon_job;  /* opaque: a physical plan being run */
/* opaque: a concatenation planned from its parts' sketches (ABI 1.6) */
typedef struct canon__rcat canon_concat_plan;

/* One engine option from the engine string "name:key=value,...". */
typedef struct canon_option {
  const char *key;
  const char *value;
} canon_option;

/* Exchange kinds, as reported by host->stage_input_exchange. */
typedef enum canon_exchange_kind {
  CANON_EXCHANGE_HASH = 1,    /* rows hashed by keys into P(s) buckets */
  CANON_EXCHANGE_RANGE,       /* rows split by sort-key ranges */
  CANON_EXCHANGE_GATHER,      /* everything into one bucket, order kept */
  CANON_EXCHANGE_REBALANCE,   /* even split by global row position */
  CANON_EXCHANGE_BROADCAST,   /* every bucket gets every row */
  CANON_EXCHANGE_FORWARD      /* producer partition k goes whole to one bucket
                                 (offset + k), order kept: union_all.  Like
                                 every kind, split only via exchange_split */
} canon_exchange_kind;

/* The core's services, handed to the engine.  Versioned like the backend:
 * slots are only appended. */
typedef struct canon_host {
  uint32_t abi_major;
  uint32_t abi_minor;
  uint32_t struct_size;

  /* Job shape. */
  int (*num_stages)(const canon_job *job);
  int (*stage_num_partitions)(const canon_job *job, int stage);
  int (*stage_num_inputs)(const canon_job *job, int stage);
  int (*stage_input)(const canon_job *job, int stage, int input);
  int (*stage_input_exchange)(const canon_job *job, int stage, int input);
  /* A short description such as "aggregate#4 final", for logs and errors. */
  const char *(*stage_name)(const canon_job *job, int stage);

  /* Before splitting the outputs of input stage i for stage s, the engine
   * calls exchange_prepare once with every output partition of that input
   * (in partition order); the core computes what the split needs (range
   * boundaries from samples, row offsets for rebalancing). */
  int (*exchange_prepare)(canon_job *job, int stage, int input,
                          canon_table *const *child_outputs, int n,
                          canon_error *err);
  /* Split output partition `child_part` of input i of stage s into P(s)
   * buckets (buckets[k] receives a new table, possibly empty). */
  int (*exchange_split)(const canon_job *job, int stage, int input,
                        int child_part, const canon_table *child_output,
                        canon_table **buckets, canon_error *err);
  /* Concatenate tables of one schema in order into a new table. */
  canon_table *(*concat)(canon_table *const *parts, int n, canon_error *err);

  /* Run task (s, p).  inputs[i] is the task's input for input i (ignored
   * for leaf stages).  *out receives the task's output. */
  int (*run_task)(const canon_job *job, int stage, int part,
                  canon_table *const *inputs, canon_table **out,
                  canon_error *err);

  void (*table_free)(canon_table *t);
  int64_t (*table_num_rows)(const canon_table *t);
  /* Bytes held by the table's buffers (for statistics). */
  int64_t (*table_bytes)(const canon_table *t);

  /* ---- Moving work between processes.  Appended after the first
   * release: check struct_size covers a slot before using it.
   * Encodings are position-independent little-endian byte strings (fit
   * for shared memory, sockets or MPI); decoding validates everything and
   * reports malformed input as CANON_ERR_PARSE.  Buffers the core allocates
   * (job_encode, exchange_state_encode) are released with free(). */
  size_t (*table_encoded_size)(const canon_table *t);
  int (*table_encode_into)(const canon_table *t, uint8_t *buf, size_t cap, canon_error *err);
  canon_table *(*table_decode)(const uint8_t *buf, size_t len, canon_error *err);
  /* A job: its plan (in-memory tables and computed persists as binary
   * tables), partition count and the CSV byte ranges already cut, so the
   * receiver never rescans files.  Decoding rebuilds the identical stages
   * in a detached session; job_free releases a decoded job only. */
  int (*job_encode)(const canon_job *job, uint8_t **buf, size_t *len, canon_error *err);
  canon_job *(*job_decode)(const uint8_t *buf, size_t len, canon_error *err);
  void (*job_free)(canon_job *job);
  /* What exchange_prepare computed for input i of stage s (RANGE bounds,
   * REBALANCE offsets), to install in another process's copy of the job
   * before it splits that input or runs the stage's tasks. */
  int (*exchange_state_encode)(const canon_job *job, int stage, int input, uint8_t **buf,
                               size_t *len, canon_error *err);
  int (*exchange_state_decode)(canon_job *job, int stage, int input, const uint8_t *buf,
                               size_t len, canon_error *err);
  /* exchange_prepare over encoded producer outputs (outs[k] of lens[k]
   * bytes); decodes only what the exchange needs (REBALANCE: row counts). */
  int (*exchange_prepare_encoded)(canon_job *job, int stage, int input,
                                  const uint8_t *const *outs, const size_t *lens, int n,
                                  canon_error *err);
  /* In a process that runs tasks: fn(ctx, what) is called before each
   * call of a user transform with e.g. "transform 'f' (transform node 5)
   * on group (k=1)", so an engine can name the group if the process dies
   * there.  Process-wide; NULL removes it. */
  void (*set_task_observer)(void (*fn)(void *ctx, const char *what), void *ctx);

  /* ---- Observing (docs/observability.md).  Appended: check struct_size.
   * The core records an event around every run_task and exchange_split
   * (and user-transform call batch) in the process that makes the call.
   * An engine whose tasks run in other processes moves those events to the
   * driver: after a task, the task's process takes the events its copy of
   * the job recorded (whole fixed-size records, at most cap bytes; what
   * does not fit stays for the next take) and the driver adds them to its
   * job, which feeds the progress line, the trace and the statistics. */
  size_t (*task_events_take)(canon_job *job, uint8_t *buf, size_t cap);
  int (*task_events_add)(canon_job *job, const uint8_t *buf, size_t len, canon_error *err);

  /* ---- Tables shipped once, used by many jobs (ABI 1.1).  Appended:
   * check struct_size.  An engine that keeps a table where its task
   * processes see it (a shared memory segment, a rank's cache) can send
   * jobs that reference it by an id of its own instead of carrying its
   * bytes; inline tables stay the default.
   *
   * job_encode_shared is job_encode calling share(ctx, t, &id, err) for
   * each table the job carries: returning 0 with *id set (not 0, not
   * UINT64_MAX) puts a reference in the encoding, 0 with *id == 0 keeps
   * the table inline, anything else fails the encoding with that code.
   * job_decode_shared is job_decode calling lookup(ctx, id, err) for each
   * reference: the table behind the id (borrowed: the job shares its
   * buffers, no copy), or NULL with err set to fail the decoding. */
  int (*job_encode_shared)(const canon_job *job,
                           int (*share)(void *ctx, const canon_table *t, uint64_t *id,
                                        canon_error *err),
                           void *ctx, uint8_t **buf, size_t *len, canon_error *err);
  canon_job *(*job_decode_shared)(const uint8_t *buf, size_t len,
                                  const canon_table *(*lookup)(void *ctx, uint64_t id,
                                                               canon_error *err),
                                  void *ctx, canon_error *err);
  /* table_decode without copying: the columns view buf, which must stay
   * readable until release(ctx) runs — once, when the table and every
   * table sharing its buffers are freed, or before a failed decode returns
   * NULL.  For a table mapped read-only from shared memory. */
  canon_table *(*table_decode_shared)(const uint8_t *buf, size_t len, void (*release)(void *ctx),
                                      void *ctx, canon_error *err);
  /* For an engine's cache of shipped tables, keyed by the data: a new
   * table holding t's buffers (no copy); whether a and b hold the same
   * data (same buffers, schema and rows); whether t's data is held by t
   * alone (some column of t is in no other table), so nobody can ask for
   * it again and a cache keeping t may drop it. */
  canon_table *(*table_share)(const canon_table *t, canon_error *err);
  int (*table_same_data)(const canon_table *a, const canon_table *b);
  int (*table_data_orphaned)(const canon_table *t);

  /* ---- Row ranges of shipped tables (ABI 1.2).  Appended: check
   * struct_size.  A task's output is often a row range of a table its
   * process already holds by reference (a scan of a persisted table): an
   * engine can then send (the table's id, first row, row count) instead of
   * the rows, and the reader rebuild the range from its own copy.
   *
   * table_range_of: 1 with *first set when t holds exactly rows
   * [*first, *first + rows(t)) of base, in base's own memory (each column
   * a view of base's column: the same bytes, the same NULLs, the same
   * dictionary codes) under base's schema — so the range of base is the
   * same data as t; else 0 (it never fails, and never copies).
   * table_slice: rows [first, first + count) of t as a new table sharing
   * t's buffers (no copy); a range outside t (or negative) fails with
   * CANON_ERR_INVALID and returns NULL, so a range read from another
   * process can be checked by calling it. */
  int (*table_range_of)(const canon_table *t, const canon_table *base, int64_t *first);
  canon_table *(*table_slice)(const canon_table *t, int64_t first, int64_t count,
                              canon_error *err);

  /* ---- Encodings of the program's own (ABI 1.3).  Appended: check
   * struct_size.  table_decode_shared for an encoding that
   * table_encode_into wrote in another process running this same program
   * (a worker of the engine, or its driver): every size, offset, bitmap
   * and dictionary code bound is checked as before — a corrupt encoding
   * is CANON_ERR_PARSE, never a read outside buf or a dictionary — but
   * the dictionary codes are not compared with their rows' strings (nor
   * the dictionary's values with each other), which is the encoder's
   * promise.  Use table_decode_shared for bytes from anywhere else. */
  canon_table *(*table_decode_own)(const uint8_t *buf, size_t len, void (*release)(void *ctx),
                                   void *ctx, canon_error *err);
  /* concat written straight into an encoding: the bytes table_encode_into
   * gives for concat(parts) (n >= 1, one schema) go into the len bytes
   * alloc(ctx, len) returns (NULL: out of memory), and the table returned
   * holds those rows by viewing them (its columns read the encoding; its
   * dictionaries are the concatenation's).  release(ctx) runs once alloc
   * has returned memory: when the table and every table sharing its
   * buffers are freed, or before NULL returns.  An engine that writes
   * into shared memory gets the program's table and the copy its
   * processes can map (table_decode_own) in one copy of the rows.  The
   * memory alloc returns must be 8-byte aligned (int64 values and
   * offsets are read in place); a page from mmap is. */
  canon_table *(*table_concat_encoded)(canon_table *const *parts, int n,
                                       uint8_t *(*alloc)(void *ctx, size_t len),
                                       void (*release)(void *ctx), void *ctx, canon_error *err);
  /* 1 when the program makes one table of the job's results anyway
   * (collect, persist), so an engine may return one it made itself (with
   * table_concat_encoded, say); 0 when they are used part by part
   * (write_csv), where such a table would only be an extra copy. */
  int (*job_result_one_table)(const canon_job *job);
  /* ---- ABI 1.4.  Appended: check struct_size covers the slot. ---- */
  /* exchange_split written straight into its encoding, each row copied
   * once (exchange_split and then table_encode_into of every bucket write
   * it twice).  The split encoding, `len` bytes in the memory
   * alloc(ctx, len) returns (8-byte aligned; NULL: out of memory):
   *   u32 magic 0x50534E43 ("CNSP"), u32 P (the stage's partitions),
   *   P x (u64 offset, u64 length) of bucket k's encoding, then the
   *   encodings, each at an 8-byte aligned offset, in bucket order;
   * bucket k's encoding is exactly table_encode_into's bytes for the
   * bucket exchange_split gives.  0 with *len set, or an error. */
  int (*exchange_split_encode)(const canon_job *job, int stage, int input, int child_part,
                               const canon_table *t, uint8_t *(*alloc)(void *ctx, size_t len),
                               void *ctx, size_t *len, canon_error *err);
  /* ---- ABI 1.5.  Appended: check struct_size covers the slot. ---- */
  /* Column references: table_range_of for single columns.  A task's
   * output often holds columns of a table its process holds by reference
   * unchanged (a select or assign over a persisted table; a left join
   * that keeps its left side's rows in order) next to new ones.
   * table_encode_ref_into writes table_encode_into's encoding, except that
   * each column of t that holds rows [first, first + rows(t)) of a column
   * of base, in base's own memory (as table_range_of: the same bytes,
   * NULLs and dictionary codes), goes as a reference (base_id, that
   * column, first: 24 bytes) instead of its rows, unless its rows take no
   * more bytes than that; with base NULL or no such column it is exactly
   * table_encode_into's bytes.
   * table_encoded_size_ref is its size (never more than
   * table_encoded_size).  table_decode_ref is table_decode_own resolving
   * each reference with lookup(lctx, id, err), as job_decode_shared's:
   * the column must exist there with the column's type and hold the rows,
   * and the decoded column views it (no copy).  Any other decoding, or
   * one without a lookup, takes a reference for CANON_ERR_PARSE. */
  size_t (*table_encoded_size_ref)(const canon_table *t, const canon_table *base);
  int (*table_encode_ref_into)(const canon_table *t, const canon_table *base, uint64_t base_id,
                               uint8_t *buf, size_t cap, canon_error *err);
  canon_table *(*table_decode_ref)(const uint8_t *buf, size_t len, void (*release)(void *ctx),
                                   void *ctx,
                                   const canon_table *(*lookup)(void *lctx, uint64_t id,
                                                                canon_error *err),
                                   void *lctx, canon_error *err);
  /* ---- ABI 1.6.  Appended: check struct_size covers the slot. ---- */
  /* A concatenation planned in one process and written by the processes
   * holding its parts, each row written once (table_concat_encoded needs
   * every part in the planner's memory).  In the process holding part p
   * of a job's results: table_sketch_size / table_sketch_into write its
   * sketch (its rows, per column its NULLs, string bytes and dictionary).
   * In the planner: concat_plan reads the sketches of parts 0..n-1 of the
   * job's results, in order (they may go once it returns; a bad one is
   * CANON_ERR_PARSE); concat_plan_len is the encoding's length,
   * concat_plan_put_head writes all of it but the rows into buf (cap >=
   * that length; 8-byte aligned memory every part's process can write,
   * a shared segment), concat_order_size / concat_order_into part p's
   * order.  Then, in part p's process, concat_write_part(t, p, ...) writes
   * the part's rows where its order says into the encoding (dst, dlen
   * bytes, mapped there), after checking the order against p, the part
   * and dlen (CANON_ERR_INVALID, nothing written); the parts may be written at the
   * same time.  Once every part is written, the encoding holds exactly
   * table_encode_into's bytes for concat(parts): decode it (table_decode_own
   * checks what another process of the program wrote). */
  size_t (*table_sketch_size)(const canon_table *t);
  int (*table_sketch_into)(const canon_table *t, uint8_t *buf, size_t cap, canon_error *err);
  canon_concat_plan *(*concat_plan)(const canon_job *job, const uint8_t *const *sketches,
                                    const size_t *lens, int n, canon_error *err);
  size_t (*concat_plan_len)(const canon_concat_plan *c);
  int (*concat_plan_put_head)(const canon_concat_plan *c, uint8_t *buf, size_t cap,
                              canon_error *err);
  size_t (*concat_order_size)(const canon_concat_plan *c, int part);
  int (*concat_order_into)(const canon_concat_plan *c, int part, uint8_t *buf, size_t cap,
                           canon_error *err);
  void (*concat_plan_free)(canon_concat_plan *c);
  int (*concat_write_part)(const canon_table *t, int part, const uint8_t *order, size_t olen,
                           uint8_t *dst, size_t dlen, canon_error *err);
} canon_host;

typedef struct canon_backend {
  uint32_t abi_major;      /* CANON_BACKEND_ABI_MAJOR */
  uint32_t abi_minor;      /* CANON_BACKEND_ABI_MINOR */
  uint32_t struct_size;    /* sizeof(canon_backend) as the plugin knew it */
  uint32_t capabilities;   /* CANON_CAP_* bits */
  const char *name;        /* "serial" */
  const char *description; /* one line for `canon engines` */

  /* Open an engine instance with the options of the engine string.
   * Unknown options are an error (CANON_ERR_CONFIG) naming the option. */
  int (*open)(const canon_host *host, const canon_option *options,
              int num_options, void **state, canon_error *err);
  void (*close)(void *state);
  /* The number of partitions the core should plan for. */
  int (*default_partitions)(void *state);
  /* Run a job; on success *results receives a malloc'd array of *num_results
   * tables: the root stage's outputs in partition order (owned by caller). */
  int (*execute)(void *state, canon_job *job, canon_table ***results,
                 int *num_results, canon_error *err);
} canon_backend;

typedef const canon_backend *(*canon_backend_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif /* CANON_BACKEND_H */
