/* conformance_random_gen.h — the random plan generator's private state,
 * shared by conformance_random.c (plans) and conformance_random_tables.c
 * (values and tables). */
#ifndef CANON_CONFORMANCE_RANDOM_GEN_H
#define CANON_CONFORMANCE_RANDOM_GEN_H

#include "conformance_random.h"

#include <stddef.h>

#define NPOOL(a) ((int)(sizeof a / sizeof a[0]))

/* A number in [0, n). */
static inline int below(rnd_rng *r, int n) { return n > 0 ? (int)(rnd_next(r) % (uint64_t)n) : 0; }
/* True with probability pct/100. */
static inline int chance(rnd_rng *r, int pct) { return below(r, 100) < pct; }

/* Which strict error a plan may raise: one kind per plan, because where
 * several errors occur, which one is reported is unspecified (§4). */
enum { MODE_OVERFLOW, MODE_DIVZERO, MODE_CAST, MODE__COUNT };

typedef struct gen {
  rnd_rng rng;
  rnd_plan *p;
  canon_session *s;
  unsigned caps;
  int mode;
  int next_id;
  int nnodes;
  int ids[64];
  rnd_info infos[64];
  int oom;
} gen;

extern const canon_type rnd_all_types[6];

/* A random value of type t as text (in buf or a constant; never NULL). */
const char *rnd_value_text(rnd_rng *r, canon_type t, char *buf, size_t cap);
/* A random table named `name` with columns prefix0, prefix1, ...; `types`
 * (ncols of them) fixes the column types when not NULL. */
void rnd_make_table(gen *g, rnd_table *t, const char *name, char prefix, int ncols,
                    const canon_type *types);
/* strdup that marks g out of memory on failure. */
char *rnd_dup_text(gen *g, const char *s);

#endif /* CANON_CONFORMANCE_RANDOM_GEN_H */
