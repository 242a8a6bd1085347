/* test_processes_segments.c — the processes engine's workers keep the
 * shared memory segments of small outputs for reuse, as they keep big ones:
 * a job of small outputs leaves its segments with the workers instead of
 * creating and dropping one per task, their number stays bounded however
 * many partitions a job has, and answers are unchanged.  Big outputs do
 * not take small segments' places (nor small ones big ones'), and a big
 * answer is not written into their segments at all. */
#include "processes_testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

/* An output segment a worker holds: its inode and size. */
typedef struct seg_key {
  unsigned long long ino, size;
} seg_key;

static int cmp_seg_key(const void *x, const void *y) {
  const seg_key *a = x, *b = y;
  if (a->ino != b->ino) return a->ino < b->ino ? -1 : 1;
  return (a->size > b->size) - (a->size < b->size);
}

/* The output segments held (as descriptors) by the children of this
 * process — the session's workers — sorted; their number in *n. */
static seg_key *worker_segment_keys(size_t *n) {
  pid_t pids[64];
  int np = tu_children(pids, 64);
  cr_assert_leq(np, 64);
  seg_key *keys = NULL;
  size_t cap = 0;
  *n = 0;
  for (int i = 0; i < np; i++) {
    char path[300];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pids[i]);
    DIR *fds = opendir(path);
    if (!fds) continue;
    struct dirent *fe;
    while ((fe = readdir(fds))) {
      char link[600], target[300];
      snprintf(link, sizeof link, "%s/%s", path, fe->d_name);
      ssize_t tl = readlink(link, target, sizeof target - 1);
      if (tl <= 0) continue;
      target[tl] = '\0';
      struct stat sb;
      if (!strstr(target, "canon-segment") || stat(link, &sb) != 0) continue;
      if (*n == cap) {
        cap = cap ? cap * 2 : 64;
        keys = realloc(keys, cap * sizeof *keys);
        cr_assert(keys);
      }
      keys[(*n)++] = (seg_key){(unsigned long long)sb.st_ino, (unsigned long long)sb.st_size};
    }
    closedir(fds);
  }
  if (*n) qsort(keys, *n, sizeof *keys, cmp_seg_key);
  return keys;
}

/* How many output segments the workers hold. */
static int worker_segments(void) {
  size_t n;
  free(worker_segment_keys(&n));
  return (int)n;
}

/* The workers' output segments as text ("ino:size ino:size ..."). */
static char *worker_segment_list(void) {
  size_t n;
  seg_key *keys = worker_segment_keys(&n);
  size_t tcap = n * 48 + 1, at = 0;
  char *text = malloc(tcap);
  cr_assert(text);
  text[0] = '\0';
  for (size_t i = 0; i < n; i++)
    at += (size_t)snprintf(text + at, tcap - at, "%llu:%llu ", keys[i].ino, keys[i].size);
  free(keys);
  return text;
}

/* k = i % groups, v = i: the sum of v by k, made of small outputs at
 * every stage. */
static canon_table *numbers(int rows, int groups) {
  size_t cap = (size_t)rows * 24 + 1, at = 0;
  char *text = malloc(cap);
  cr_assert(text);
  for (int i = 0; i < rows; i++) at += (size_t)snprintf(text + at, cap - at, "%d,%d\n", i % groups, i);
  text[at] = '\0';
  canon_error err;
  canon_table *t = canon_table_from_csv_text("k:int64,v:int64", text, &err);
  cr_assert(t, "%s", err.message);
  free(text);
  return t;
}

static char *sum_by_k(canon_session *s, const canon_table *t) {
  canon_error err;
  const char *keys[] = {"k"};
  canon_expr *aggs[] = {canon_sum(canon_col("v"))};
  const char *names[] = {"v"};
  canon_df *df = canon_aggregate(canon_from_table(s, t, &err), keys, 1, aggs, names, 1, &err);
  char *csv = try_collect(df, &err);
  cr_assert(csv, "%s", err.message);
  return csv;
}

Test(processes_segments, small_outputs_reuse_their_segments) {
  canon_table *t = numbers(3000, 40);
  canon_session *s = tu_open("serial");
  char *want = sum_by_k(s, t);
  canon_session_close(s);
  int fds = count_fds();
  s = tu_open("processes:workers=2,partitions=4");
  int most = 0;
  for (int round = 0; round < 20; round++) {
    char *got = sum_by_k(s, t);
    cr_assert_str_eq(got, want, "round %d", round);
    free(got);
    int held = worker_segments();
    /* Fresh segments were closed by their workers after each reply: none
     * would be left. */
    cr_assert_gt(held, 0, "round %d: the workers kept no segment", round);
    most = held > most ? held : most;
  }
  /* Twelve small outputs a job (four partial outputs, four splits, four
   * answers) on two workers: reused job after job, not piling up. */
  cr_assert_leq(most, 2 * 12, "the workers held %d segments", most);
  canon_session_close(s);
  cr_assert_eq(count_fds(), fds, "descriptors leaked");
  assert_no_children();
  free(want);
  canon_table_free(t);
}

/* Every row of t with k >= 0: a job of one stage, each partition's rows
 * its output. */
static char *all_rows(canon_session *s, const canon_table *t) {
  canon_error err;
  canon_df *df = canon_filter(canon_from_table(s, t, &err),
                              canon_ge(canon_col("k"), canon_lit_int64(0)), &err);
  char *csv = try_collect(df, &err);
  cr_assert(csv, "%s", err.message);
  return csv;
}

/* Run a two-stage job, then a one-stage job, on s, and count the output
 * segments the workers hold after them.  Deterministic: each worker reads
 * its messages in order, and the second job's first task reaches each
 * worker after every release the driver sent for the first job (the
 * producer outputs and splits during it, its answers before the next job),
 * so when the second job is done every worker has let go of what it was
 * told to; what it still holds is the second job's answers (busy until
 * the next job) and what it keeps free. */
static int held_after_two_jobs(canon_session *s, const canon_table *t, const char *want) {
  char *got = sum_by_k(s, t);
  cr_assert_str_eq(got, want);
  free(got);
  canon_table *small = numbers(400, 7);
  canon_session *ref = tu_open("serial");
  char *want_rows = all_rows(ref, small);
  canon_session_close(ref);
  got = all_rows(s, small);
  cr_assert_str_eq(got, want_rows);
  free(got);
  free(want_rows);
  canon_table_free(small);
  return worker_segments();
}

/* A job of many partitions has many small outputs busy at once; once
 * nobody reads them the workers keep only a bounded number free. */
Test(processes_segments, free_small_segments_are_bounded) {
  canon_table *t = numbers(20000, 500);
  canon_session *s = tu_open("serial");
  char *want = sum_by_k(s, t);
  canon_session_close(s);
  s = tu_open("processes:workers=2,partitions=120");
  int held = held_after_two_jobs(s, t, want);
  /* The second job's 120 answers, and at most 32 free small segments per
   * worker (PX_SMALL_FREE) of the 360 outputs the first job released. */
  cr_assert_leq(held, 120 + 2 * 32, "the workers held %d segments", held);
  canon_session_close(s);
  assert_no_children();
  free(want);
  canon_table_free(t);
}

/* Each kept segment holds a descriptor in its worker: past a quarter of
 * the descriptor limit small outputs get fresh segments again, so a job
 * of many partitions does not run the workers out of descriptors (with a
 * limit of 256 and 120 partitions it did: "Too many open files").  Here
 * the limit is 64: a worker keeps at most 16 segments, where without the
 * bound it keeps up to 32 free ones after the first job. */
Test(processes_segments, kept_segments_stay_within_the_descriptor_limit) {
  canon_table *t = numbers(20000, 500);
  canon_session *s = tu_open("serial");
  char *want = sum_by_k(s, t);
  canon_session_close(s);
  struct rlimit lim;
  cr_assert_eq(getrlimit(RLIMIT_NOFILE, &lim), 0);
  lim.rlim_cur = 64; /* the workers inherit it */
  cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
  s = tu_open("processes:workers=2,partitions=24");
  int held = held_after_two_jobs(s, t, want);
  cr_assert_leq(held, 2 * (64 / 4), "the workers held %d segments", held);
  canon_session_close(s);
  assert_no_children();
  free(want);
  canon_table_free(t);
}

/* A broadcast join of left (k = i % 1000, v = i) with the first `right`
 * keys (w = "w" and seven digits): ~400 000 rows out whatever `right` is,
 * since every left key is below 1000. */
static canon_table *join_rows(canon_session *s, const canon_table *left, int right) {
  size_t cap = (size_t)right * 24 + 1, at = 0;
  char *text = malloc(cap);
  cr_assert(text);
  for (int i = 0; i < right; i++) at += (size_t)snprintf(text + at, cap - at, "%d,w%07d\n", i, i);
  canon_error err;
  canon_table *r = canon_table_from_csv_text("k:int64,w:string", text, &err);
  cr_assert(r, "%s", err.message);
  free(text);
  const char *keys[] = {"k"};
  canon_join_options o = {.right_suffix = "_r", .strategy = CANON_JOIN_BROADCAST};
  canon_df *df = canon_join(canon_from_table(s, left, &err), canon_from_table(s, r, &err),
                            CANON_JOIN_INNER, keys, NULL, 1, &o, &err);
  canon_table *got = canon_collect(df, &err);
  cr_assert(got, "%s", err.message);
  canon_table_free(r);
  return got;
}

/* Segments over 1 MiB the workers hold (in "ino:size" pairs). */
static int big_segments(const char *list) {
  int n = 0;
  for (const char *p = list; (p = strchr(p, ':')) != NULL; p++) n += strtoull(p + 1, NULL, 10) > ((size_t)1 << 20);
  return n;
}

/* A small output must not take a free big segment (under the rule for big
 * outputs, the smallest free one that fits): a big output would then miss
 * the segment it could have written into and grow or create another.  A
 * join whose right side is small (its outputs written out) leaves each
 * worker a big output segment;
 * the same join with a right side whose broadcast split is between half a
 * MiB and a MiB (a small output) then writes its big outputs into those
 * same segments. */
Test(processes_segments, a_small_output_does_not_take_a_big_segment) {
  canon_table *left = numbers(400000, 1000);
  /* The join's outputs written out (by default the workers keep them and
   * write them straight into the answer: the next test). */
  canon_session *s = tu_open("processes:workers=2,partitions=2,concat_in_workers=0");
  canon_table *small = numbers(10, 3);
  canon_table *a = join_rows(s, left, 1000);
  canon_table_free(a);
  free(all_rows(s, small)); /* each worker has read the join's releases */
  char *before = worker_segment_list();
  canon_table *b = join_rows(s, left, 30000);
  free(all_rows(s, small));
  char *after = worker_segment_list();
  cr_assert_eq(canon_table_num_rows(b), 400000);
  cr_assert_eq(big_segments(after), big_segments(before), "big segments before: %s; after: %s", before,
               after);
  canon_table_free(b);
  free(before);
  free(after);
  canon_session_close(s);
  assert_no_children();
  canon_table_free(small);
  canon_table_free(left);
}

/* The answer of a job of several stages (here a broadcast join) is
 * written by the workers straight into the driver's segment for it
 * (held.c): none of its rows goes through an output segment of theirs
 * first, which the plain way (concat_in_workers=0) leaves them. */
Test(processes_segments, a_big_answer_is_written_once) {
  canon_table *left = numbers(400000, 1000);
  canon_table *small = numbers(10, 3);
  const char *engines[] = {"processes:workers=2,partitions=2", "processes:workers=2,partitions=2,concat_in_workers=0"};
  for (int e = 0; e < 2; e++) {
    canon_session *s = tu_open(engines[e]);
    canon_table *a = join_rows(s, left, 1000);
    cr_assert_eq(canon_table_num_rows(a), 400000);
    canon_table_free(a);
    free(all_rows(s, small)); /* each worker has read the join's releases */
    char *list = worker_segment_list();
    if (e == 0)
      cr_assert_eq(big_segments(list), 0, "the workers wrote the answer out first: %s", list);
    else
      cr_assert_geq(big_segments(list), 2, "the plain way wrote no big output: %s", list);
    free(list);
    canon_session_close(s);
  }
  assert_no_children();
  canon_table_free(small);
  canon_table_free(left);
}

/* k = i % groups, v = i, and w = v + 1 computed by the workers (a new
 * column: their outputs hold it, 8 bytes a row; k and v are references
 * to the shared table). */
static void plus_one(canon_session *s, const canon_table *t) {
  canon_error err;
  canon_expr *x[] = {canon_add(canon_col("v"), canon_lit_int64(1))};
  const char *names[] = {"w"};
  canon_table *got = canon_collect(canon_assign(canon_from_table(s, t, &err), x, names, 1, &err), &err);
  cr_assert(got, "%s", err.message);
  cr_assert_eq(canon_table_num_rows(got), canon_table_num_rows(t));
  canon_table_free(got);
}

/* Output segments over 1 MiB and under 4 MiB the workers hold. */
static int mid_segments(const char *list) {
  int n = 0;
  for (const char *p = list; (p = strchr(p, ':')) != NULL; p++) {
    unsigned long long z = strtoull(p + 1, NULL, 10);
    n += z > ((size_t)1 << 20) && z < ((size_t)4 << 20);
  }
  return n;
}

/* A big output grows a free segment only when it holds at least half of
 * it: outputs of 1.6 MB (2 MiB segments) and then of 9.6 MB leave the
 * workers segments of both sizes, where growing the small ones would
 * leave none of 2 MiB for the next job of small outputs, which would
 * grow another (the pool never settling: q10 on 10 million rows paid
 * 0.4-1 s of fresh pages each run). */
Test(processes_segments, a_big_output_does_not_grow_a_much_smaller_segment) {
  canon_table *mid = numbers(400000, 7), *big = numbers(2400000, 7), *small = numbers(10, 3);
  canon_session *s = tu_open("processes:workers=2,partitions=2,concat_in_workers=0");
  plus_one(s, mid);
  free(all_rows(s, small));
  char *before = worker_segment_list();
  cr_assert_geq(mid_segments(before), 2, "no output segment of 2 MiB: %s", before);
  plus_one(s, big);
  free(all_rows(s, small));
  char *after = worker_segment_list();
  cr_assert_geq(mid_segments(after), 2, "the 2 MiB segments were grown: before %s; after %s", before,
                after);
  free(before);
  free(after);
  canon_session_close(s);
  assert_no_children();
  canon_table_free(small);
  canon_table_free(big);
  canon_table_free(mid);
}
