/* conformance.h — pieces of canon-conformance (the conformance suite's
 * runner): case files (conformance_case.c) and the fixed library of named
 * transforms the cases may call (conformance_transforms.c).  The runner
 * uses only canon's public API. */
#ifndef CANON_CONFORMANCE_H
#define CANON_CONFORMANCE_H

#include "canon.h"
#include "canon_testing.h"

#include <stddef.h>

/* One case, loaded from conformance/cases/<area>/<name>.json. */
typedef struct conf_case {
  char *name;            /* "<area>/<name>" */
  char *path;            /* the file */
  char **tags;
  int ntags;
  unsigned requires;     /* CANON_CAP_* bits */
  char *plan_json;       /* the plan with inputs substituted, ready to load */
  int expect_error;      /* 1: expected.error */
  char *error_name;      /* canon_errcode_name of the expected error */
  char *message_contains;
  char *schema;          /* expected schema text */
  char *rows_csv;        /* expected rows as header-less CSV */
  canon_testing_order order;
  char **ties;
  int nties;
} conf_case;

/* Load and check the case file `path` named `name`.  Inputs given as CSV
 * text are written to files under `tmpdir`.  Returns 0, or non-zero with a
 * one-line message in msg ("<path>: $.expected.order: ..."). */
int conf_case_load(const char *path, const char *name, const char *tmpdir, conf_case *c,
                   char *msg, size_t cap);
void conf_case_free(conf_case *c);

/* The capability bit for a requirement name ("transform"), 0 if unknown. */
unsigned conf_capability_bit(const char *name);
/* The name of a single capability bit. */
const char *conf_capability_name(unsigned bit);

/* The engine string for a partition count: "E:partitions=N", or
 * "E,partitions=N" when E already has options (canon_conformance.c). */
void engine_for(const char *engine, int parts, char *out, size_t cap);
/* Open a session on an engine string (canon_conformance.c). */
canon_session *open_engine(const char *engine, canon_error *err);

/* Register the suite's transforms (identity, count_rows, ...). */
int conf_register_transforms(canon_error *err);

#endif /* CANON_CONFORMANCE_H */
