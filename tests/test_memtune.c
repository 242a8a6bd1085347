/* test_memtune.c — glibc malloc settings while sessions are open
 * (core/src/memtune.c).
 *
 * A block of 8 MiB is mapped on its own under glibc's defaults (the
 * restored fixed 128 KiB threshold), and comes from the heap while a
 * session is open: mallinfo2's count of mapped blocks tells which.  Each
 * Criterion test is its own process, so settings do not leak between
 * tests.  Sanitizers bring their own malloc: the tests are skipped there. */
#include "testutil.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SKIP_UNDER_SANITIZERS() cr_skip_test("sanitizers replace malloc")
#else
#define SKIP_UNDER_SANITIZERS() ((void)0)
#endif

static void *volatile sink;

/* Whether a fresh 8 MiB block is mapped on its own. */
static bool big_block_is_mapped(void) {
  size_t before = mallinfo2().hblks;
  char *p = malloc((size_t)8 << 20);
  cr_assert(p);
  p[0] = 1;
  sink = p;
  bool mapped = mallinfo2().hblks > before;
  free(p);
  return mapped;
}

/* A plan whose run makes (and closes) the library's own pruned-plan
 * session: an unread column after a scan of an in-memory table. */
static void run_pruned_plan(canon_session *s) {
  canon_error err;
  canon_error_clear(&err);
  canon_schema *sc = canon_schema_parse("a:int64,b:int64", &err);
  cr_assert(sc, "%s", err.message);
  canon_builder *b = canon_builder_new(sc, &err);
  cr_assert(b, "%s", err.message);
  for (int i = 0; i < 10; i++) {
    canon_builder_append_int64(b, 0, i);
    canon_builder_append_int64(b, 1, -i);
  }
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_expr *a = canon_col("a");
  canon_df *df = canon_select(canon_from_table(s, t, &err), &a, NULL, 1, &err);
  canon_table *out = canon_collect(df, &err);
  cr_assert(out, "%s", err.message);
  cr_assert_eq(canon_table_num_rows(out), 10);
  canon_table_free(out);
  canon_table_free(t);
  canon_builder_free(b);
  canon_schema_free(sc);
}

Test(memtune, big_blocks_come_from_the_heap_while_a_session_is_open) {
  SKIP_UNDER_SANITIZERS();
  unsetenv("CANON_MALLOC_TUNE");
  canon_session *s = tu_open("serial");
  cr_assert_not(big_block_is_mapped());
  canon_session_close(s);
  /* glibc's default threshold is back: the block is mapped again. */
  cr_assert(big_block_is_mapped());
}

Test(memtune, sessions_inside_the_library_do_not_undo_the_settings) {
  SKIP_UNDER_SANITIZERS();
  unsetenv("CANON_MALLOC_TUNE");
  canon_session *s = tu_open("serial");
  run_pruned_plan(s);
  cr_assert_not(big_block_is_mapped(), "a pruned plan's own session restored the defaults");
  canon_session_close(s);
  cr_assert(big_block_is_mapped());
}

Test(memtune, the_last_of_several_sessions_restores_the_defaults) {
  SKIP_UNDER_SANITIZERS();
  unsetenv("CANON_MALLOC_TUNE");
  canon_session *a = tu_open("serial");
  canon_session *b = tu_open("threads");
  canon_session_close(a);
  cr_assert_not(big_block_is_mapped());
  canon_session_close(b);
  cr_assert(big_block_is_mapped());
}

Test(memtune, can_be_turned_off) {
  SKIP_UNDER_SANITIZERS();
  const char *off[] = {"0", "off", "No", "FALSE"};
  for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
    setenv("CANON_MALLOC_TUNE", off[i], 1);
    /* Start from glibc's fixed default threshold, as after a session. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    canon_session *s = tu_open("serial");
    cr_assert(big_block_is_mapped(), "CANON_MALLOC_TUNE=%s still tuned malloc", off[i]);
    canon_session_close(s);
  }
}

/* An engine string that parses but that the serial engine refuses. */
static void open_a_session_that_fails(void) {
  canon_error err;
  canon_error_clear(&err);
  canon_config *c = canon_config_new();
  cr_assert_eq(canon_config_set_engine(c, "serial:partitions=0", &err), 0, "%s", err.message);
  cr_assert_null(canon_session_open(c, &err));
  canon_config_free(c);
}

Test(memtune, a_failed_open_leaves_the_defaults) {
  SKIP_UNDER_SANITIZERS();
  unsetenv("CANON_MALLOC_TUNE");
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  open_a_session_that_fails();
  cr_assert(big_block_is_mapped());
}

/* A program's own settings: a failed open does not touch them, and a
 * program that set malloc's thresholds in its environment keeps them
 * through a session (here 64 MiB: an 8 MiB block stays in the heap). */
Test(memtune, a_failed_open_keeps_the_programs_settings) {
  SKIP_UNDER_SANITIZERS();
  unsetenv("CANON_MALLOC_TUNE");
  cr_assert_eq(mallopt(M_MMAP_THRESHOLD, 64 << 20), 1);
  open_a_session_that_fails();
  cr_assert_not(big_block_is_mapped(), "a failed open reset the program's threshold");
}

Test(memtune, settings_from_the_environment_are_left_alone) {
  SKIP_UNDER_SANITIZERS();
  unsetenv("CANON_MALLOC_TUNE");
  setenv("MALLOC_MMAP_THRESHOLD_", "67108864", 1);
  cr_assert_eq(mallopt(M_MMAP_THRESHOLD, 64 << 20), 1); /* as glibc read it at start */
  canon_session *s = tu_open("serial");
  canon_session_close(s);
  cr_assert_not(big_block_is_mapped(), "closing the session reset the program's threshold");
}

/* Resident and peak resident memory of this process, in bytes. */
static int64_t resident_bytes(void) {
  long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  cr_assert(f);
  cr_assert_eq(fscanf(f, "%ld %ld", &pages, &rss), 2);
  fclose(f);
  return (int64_t)rss * sysconf(_SC_PAGESIZE);
}

static int64_t peak_resident_bytes(void) {
  struct rusage ru;
  cr_assert_eq(getrusage(RUSAGE_SELF, &ru), 0);
  return (int64_t)ru.ru_maxrss * 1024;
}

/* Persisting a big result on a thread pool concatenates the parts its
 * threads made.  Each part's column is freed once copied; kept for reuse
 * in the threads' malloc arenas, the parts stayed resident next to the
 * whole table, and the peak grew by twice the table (every load ended
 * like that: 1.8 GB for a 0.9 GB table). */
Test(memtune, a_persisted_table_does_not_keep_its_parts_resident) {
  SKIP_UNDER_SANITIZERS();
  unsetenv("CANON_MALLOC_TUNE");
  canon_session *s = tu_open("threads:workers=2,partitions=4");
  canon_error err;
  canon_error_clear(&err);
  enum { ROWS = 4 << 20, COLS = 8 };
  char spec[128] = "";
  for (int c = 0; c < COLS; c++)
    snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%sc%d:int64", c ? "," : "", c);
  canon_schema *sc = canon_schema_parse(spec, &err);
  cr_assert(sc, "%s", err.message);
  canon_builder *b = canon_builder_new(sc, &err);
  cr_assert(b, "%s", err.message);
  for (int64_t r = 0; r < ROWS; r++)
    for (int c = 0; c < COLS; c++) canon_builder_append_int64(b, c, r * COLS + c);
  canon_table *t = canon_builder_finish(b, &err);
  cr_assert(t, "%s", err.message);
  canon_builder_free(b);
  /* Every other row (c0 = 8 r): the threads gather new columns. */
  canon_df *df = canon_filter(canon_from_table(s, t, &err),
                              canon_eq(canon_mod(canon_col("c0"), canon_lit_int64(16)), canon_lit_int64(0)),
                              &err);
  canon_df *kept = canon_persist(df, &err);
  cr_assert(kept, "%s", err.message);
  int64_t table = (int64_t)ROWS / 2 * COLS * 8;
  int64_t before = resident_bytes();
  cr_assert_leq(peak_resident_bytes(), before + table / 4, "the build left a higher peak behind");
  /* Computes the persisted table, then reads 2 rows of it. */
  canon_table *out = canon_collect(canon_limit(kept, 2, &err), &err);
  cr_assert(out, "%s", err.message);
  cr_assert_eq(canon_table_num_rows(out), 2);
  cr_assert_eq(canon_table_get_int64(out, 1, 1), 16 + 1);
  int64_t grew = peak_resident_bytes() - before;
  cr_assert_lt(grew, table * 3 / 2, "the peak grew by %lld MB for a %lld MB table",
               (long long)(grew >> 20), (long long)(table >> 20));
  canon_table_free(out);
  canon_table_free(t);
  canon_schema_free(sc);
  canon_session_close(s);
}
