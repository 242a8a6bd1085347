/* memtune.c — the C library's malloc settings while sessions are open.
 *
 * With glibc's defaults every freed block of a few megabytes and up goes
 * back to the kernel at once (blocks that big are mapped one by one, and a
 * heap's free top is trimmed), so the next stage's columns fault in fresh
 * zeroed pages: on the benchmark machine that was a fifth to a quarter of a
 * group-by, sort or join's CPU time.  While at least one session is open,
 * canon raises glibc's mmap and trim thresholds, so big blocks come from
 * the heap and freed memory stays there for the next stage to reuse (fewer
 * than half the page faults; ~12-15% less CPU over the benchmark).  The
 * price is memory held between stages: freed blocks are kept, so the
 * process's footprint is the most it used, not what it uses now.  Closing
 * the last session puts glibc's documented default thresholds back (fixed,
 * 128 KiB) and gives the free heap memory back with malloc_trim.
 * CANON_MALLOC_TUNE=0 (or off, no, false) leaves malloc alone, and so
 * does a program that set glibc's thresholds in its environment
 * (MALLOC_MMAP_THRESHOLD_ and friends, GLIBC_TUNABLES); one that calls
 * mallopt itself cannot be seen, and should set CANON_MALLOC_TUNE=0.
 *
 * One exception to keeping: a concatenation that consumes its parts
 * (persist, collect) frees each part's column as soon as it is copied, and
 * gives that memory back at once (canon__memtune_release), or the parts,
 * made on the engine's threads and kept in their malloc arenas, would stay
 * resident next to the whole result: twice the table at the end of every
 * load.
 *
 * The settings are process-wide, so this counts open sessions; processes
 * workers, forked from a session, inherit them. */
#include "internal.h"

#include <limits.h>
#include <pthread.h>
#include <strings.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static pthread_mutex_t tune_lock = PTHREAD_MUTEX_INITIALIZER;
static int open_sessions;
static bool tuned;

/* A program that set glibc's malloc parameters in its environment chose
 * them: canon leaves them (and restores nothing). */
static bool program_set_malloc(void) {
  static const char *vars[] = {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                               "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    if (getenv(vars[i])) return true;
  const char *t = getenv("GLIBC_TUNABLES");
  return t && (strstr(t, "glibc.malloc.mmap_threshold") || strstr(t, "glibc.malloc.trim_threshold"));
}

static bool tuning_wanted(void) {
  const char *v = getenv("CANON_MALLOC_TUNE");
  if (v && (strcmp(v, "0") == 0 || strcasecmp(v, "off") == 0 || strcasecmp(v, "no") == 0 ||
            strcasecmp(v, "false") == 0))
    return false;
  return !program_set_malloc();
}

void canon__memtune_session_opened(void) {
  pthread_mutex_lock(&tune_lock);
  if (open_sessions++ == 0 && tuning_wanted()) {
#if defined(__GLIBC__)
    /* Blocks below 1 GiB from the heap (some older glibc versions refuse
     * more than 32 MiB, half their heap size); never trim a free heap top. */
    bool mmap_set = mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1 || mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
    tuned = mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1 || mmap_set;
#endif
  }
  pthread_mutex_unlock(&tune_lock);
}

void canon__memtune_session_closed(void) {
  pthread_mutex_lock(&tune_lock);
  if (open_sessions > 0 && --open_sessions == 0 && tuned) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    malloc_trim(0);
#endif
    tuned = false;
  }
  pthread_mutex_unlock(&tune_lock);
}

/* Give the memory freed so far back to the kernel, when canon's settings
 * are the ones keeping it (malloc_trim also returns free pages inside a
 * heap, not only at its top, in every arena). */
void canon__memtune_release(void) {
  pthread_mutex_lock(&tune_lock);
  bool release = tuned;
  pthread_mutex_unlock(&tune_lock);
#if defined(__GLIBC__)
  if (release) malloc_trim(0);
#else
  (void)release;
#endif
}
