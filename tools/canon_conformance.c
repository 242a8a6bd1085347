/* canon-conformance — run the conformance suite against an engine.
 *
 *   canon-conformance --engine E [--partitions 1,2,3,8] [--tag T] [--case NAME]
 *                     [--list] [--cases DIR] [--verbose]
 *
 * Every case (conformance/cases/<area>/<name>.json, format in
 * conformance/README.md) runs at every partition count when the engine has
 * the partitions capability (engine string E plus partitions=N), else once.
 * A case passes when it passes everywhere.  Output: one "FAIL" line per
 * failing run with the diff indented below it, one "SKIP" line per case the
 * engine cannot run (a missing capability: never dropped silently), then
 * "N passed, N failed, N skipped".  Exit status 1 on any failure, 2 on a
 * usage or setup error.
 *
 * Only canon's public API is used: the suite tests engines and canon as a
 * user sees them. */
#include "canon.h"
#include "canon_backend.h"
#include "canon_testing.h"
#include "conformance.h"
#include "conformance_random.h"

#include <dirent.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CONFORMANCE_CASES_DIR
#define CONFORMANCE_CASES_DIR "conformance/cases"
#endif

#define MAX_PARTS 32

typedef struct opts {
  const char *cases_dir;
  int parts[MAX_PARTS];
  int nparts;
  const char **tags;
  int ntags;
  const char **names;
  int nnames;
  int list;
  int verbose;
  int random;            /* --random N: differential mode (conformance_differential.c) */
  unsigned long long seed;
  const char *save_dir;
} opts;

/* One case file found under the cases directory. */
typedef struct found {
  char *path;
  char *name;
} found;

typedef struct found_list {
  found *v;
  int n, cap;
} found_list;

static void usage(FILE *f) {
  fprintf(f,
          "usage: canon-conformance --engine E [--partitions 1,2,3,8] [--tag T] [--case NAME]\n"
          "                         [--list] [--cases DIR] [--verbose]\n"
          "       canon-conformance --engine E --random N [--seed S] [--partitions L] [--save-dir DIR]\n"
          "  --engine E        the engine string (else CANON_ENGINE / CANON_CONFIG / default)\n"
          "  --partitions L    partition counts to run at (default 1,2,3,8)\n"
          "  --tag T           only cases tagged T (repeatable)\n"
          "  --case NAME       only this case, e.g. aggregate/null_keys; globs allowed (repeatable)\n"
          "  --list            list the selected cases and exit\n"
          "  --cases DIR       the cases directory (default %s)\n"
          "  --verbose         also print a PASS line per case\n"
          "  --random N        differential mode: N random plans on E and on serial:partitions=1\n"
          "  --seed S          the random plans' seed (default 1)\n"
          "  --save-dir DIR    where the first mismatch is saved, minimized (default conformance-failures)\n",
          CONFORMANCE_CASES_DIR);
}

static int parse_parts(const char *s, opts *o) {
  o->nparts = 0;
  const char *p = s;
  while (*p) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v < 1 || v > 4096 || o->nparts == MAX_PARTS || (*end && *end != ',')) return -1;
    o->parts[o->nparts++] = (int)v;
    p = *end ? end + 1 : end;
  }
  return o->nparts ? 0 : -1;
}

static int parse_args(int argc, char **argv, opts *o) {
  static const char *tags[256], *names[256];
  o->tags = tags;
  o->names = names;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--list") == 0) {
      o->list = 1;
    } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
      o->verbose = 1;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if (v && strcmp(a, "--partitions") == 0) {
      if (parse_parts(v, o)) {
        fprintf(stderr, "canon-conformance: --partitions wants a list such as 1,2,3,8 (each 1..4096)\n");
        return -1;
      }
      i++;
    } else if (v && strcmp(a, "--tag") == 0 && o->ntags < 256) {
      o->tags[o->ntags++] = v;
      i++;
    } else if (v && strcmp(a, "--case") == 0 && o->nnames < 256) {
      o->names[o->nnames++] = v;
      i++;
    } else if (v && (strcmp(a, "--random") == 0 || strcmp(a, "--seed") == 0)) {
      char *end;
      unsigned long long n = strtoull(v, &end, 10);
      if (*end || end == v || v[0] == '-' || (a[2] == 'r' && (n < 1 || n > 1000000))) {
        fprintf(stderr, "canon-conformance: %s wants a number%s, not '%s'\n", a,
                a[2] == 'r' ? " from 1 to 1000000" : "", v);
        return -1;
      }
      if (a[2] == 'r') o->random = (int)n;
      else o->seed = n;
      i++;
    } else if (v && strcmp(a, "--save-dir") == 0) {
      o->save_dir = v;
      i++;
    } else if (v && strcmp(a, "--cases") == 0) {
      o->cases_dir = v;
      i++;
    } else {
      fprintf(stderr, "canon-conformance: unexpected argument '%s'\n", a);
      usage(stderr);
      return -1;
    }
  }
  return 0;
}

/* ---- finding cases ------------------------------------------------------ */

static int add_found(found_list *l, const char *path, const char *name) {
  if (l->n == l->cap) {
    int nc = l->cap ? l->cap * 2 : 64;
    found *nv = realloc(l->v, (size_t)nc * sizeof *nv);
    if (!nv) return -1;
    l->v = nv;
    l->cap = nc;
  }
  l->v[l->n].path = strdup(path);
  l->v[l->n].name = strdup(name);
  if (!l->v[l->n].path || !l->v[l->n].name) {
    free(l->v[l->n].path);
    free(l->v[l->n].name);
    return -1;
  }
  l->n++;
  return 0;
}

/* Every *.json below dir; `rel` is the name prefix ("" at the top). */
static int walk(const char *dir, const char *rel, found_list *l) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "canon-conformance: cannot open the cases directory %s\n", dir);
    return -1;
  }
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[4096], name[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    snprintf(name, sizeof name, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
    struct stat st;
    if (stat(path, &st) != 0) continue;
    size_t n = strlen(name);
    if (S_ISDIR(st.st_mode)) {
      rc = walk(path, name, l);
    } else if (n > 5 && strcmp(name + n - 5, ".json") == 0) {
      name[n - 5] = '\0';
      if (add_found(l, path, name)) rc = -1;
    }
  }
  closedir(d);
  return rc;
}

static int found_cmp(const void *a, const void *b) {
  return strcmp(((const found *)a)->name, ((const found *)b)->name);
}

/* The name filter: exact names or globs given by --case. */
static int name_selected(const opts *o, const char *name) {
  if (!o->nnames) return 1;
  for (int i = 0; i < o->nnames; i++)
    if (strcmp(o->names[i], name) == 0 || fnmatch(o->names[i], name, 0) == 0) return 1;
  return 0;
}

static int tags_selected(const opts *o, const conf_case *c) {
  if (!o->ntags) return 1;
  for (int i = 0; i < o->ntags; i++)
    for (int k = 0; k < c->ntags; k++)
      if (strcmp(o->tags[i], c->tags[k]) == 0) return 1;
  return 0;
}

/* ---- running ------------------------------------------------------------- */

canon_session *open_engine(const char *engine, canon_error *err) {
  canon_config *cfg = canon_config_new();
  if (!cfg) {
    err->code = CANON_ERR_NOMEM;
    snprintf(err->message, sizeof err->message, "out of memory");
    return NULL;
  }
  canon_session *s = NULL;
  if (canon_config_set_engine(cfg, engine, err) == 0) s = canon_session_open(cfg, err);
  canon_config_free(cfg);
  return s;
}

/* A table's rows as indented CSV (for "expected an error, got rows"). */
static char *show_table(const canon_table *t) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  canon_error err;
  canon_table_write_csv_file(t, f, &err);
  fclose(f);
  return buf;
}

/* Run one case in session s.  Returns 0 on pass; else 1 with *reason and
 * *diff (malloc'd; diff may stay NULL). */
static int run_case(canon_session *s, const conf_case *c, char **reason, char **diff) {
  canon_error err;
  canon_error_clear(&err);
  char origin[1200], buf[2048];
  snprintf(origin, sizeof origin, "%s $.plan", c->path);
  canon_df *root = NULL;
  canon_table *got = NULL;
  int loaded = canon_plan_from_json(s, c->plan_json, origin, &root, NULL, &err) == 0;
  if (loaded) got = canon_collect(root, &err);
  if (c->expect_error) {
    if (got) {
      snprintf(buf, sizeof buf, "expected error %s, got a result of %lld rows", c->error_name,
               (long long)canon_table_num_rows(got));
      *diff = show_table(got);
      canon_table_free(got);
      *reason = strdup(buf);
      return 1;
    }
    const char *name = canon_errcode_name(err.code);
    if (strcmp(name, c->error_name) != 0) {
      snprintf(buf, sizeof buf, "expected error %s, got %s: %s", c->error_name, name, err.message);
      *reason = strdup(buf);
      return 1;
    }
    if (c->message_contains && !strstr(err.message, c->message_contains)) {
      snprintf(buf, sizeof buf, "error %s as expected, but its message lacks \"%s\": %s", name,
               c->message_contains, err.message);
      *reason = strdup(buf);
      return 1;
    }
    return 0;
  }
  if (!got) {
    snprintf(buf, sizeof buf, "%s: %s: %s", loaded ? "the job failed" : "the plan does not load",
             canon_errcode_name(err.code), err.message);
    *reason = strdup(buf);
    return 1;
  }
  canon_table *want = canon_testing_table(c->schema, c->rows_csv, &err);
  if (!want) {
    snprintf(buf, sizeof buf, "bad expected rows in the case: %s", err.message);
    *reason = strdup(buf);
    canon_table_free(got);
    return 1;
  }
  int rc = canon_testing_compare(want, got, c->order, (const char *const *)c->ties, c->nties, diff);
  canon_table_free(want);
  canon_table_free(got);
  if (rc == 0) return 0;
  *reason = strdup(rc == 1 ? "result differs" : "cannot compare the result");
  return 1;
}

static void print_indented(const char *text) {
  if (!text) return;
  const char *p = text;
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    printf("    %.*s\n", (int)n, p);
    p += n + (nl ? 1 : 0);
  }
}

/* The engine string for a partition count: "E:partitions=N" or
 * "E,partitions=N" when E already has options. */
void engine_for(const char *engine, int parts, char *out, size_t cap) {
  const char *colon = strchr(engine, ':');
  size_t n = strlen(engine);
  snprintf(out, cap, "%s%spartitions=%d", engine,
           !colon ? ":" : (colon[1] == '\0' || engine[n - 1] == ',') ? "" : ",", parts);
}

/* Per-case outcome across partition counts. */
typedef struct outcome {
  int loaded;     /* the case file loaded */
  int skipped;
  int failed;
  char *last_reason;   /* to fold identical failures at later counts */
  char *last_diff;
  int last_parts;
} outcome;

int main(int argc, char **argv) {
  opts o = {.cases_dir = CONFORMANCE_CASES_DIR, .parts = {1, 2, 3, 8}, .nparts = 4, .seed = 1,
            .save_dir = "conformance-failures"};
  canon_error err;
  canon_error_clear(&err);
  canon_config *cfg = canon_config_new();
  if (!cfg || canon_config_parse_args(cfg, &argc, argv, &err) != 0 ||
      parse_args(argc, argv, &o) != 0) {
    if (err.code) fprintf(stderr, "canon-conformance: %s\n", err.message);
    canon_config_free(cfg);
    return 2;
  }
  const char *source = NULL;
  char *engine = o.list ? NULL : canon_config_resolve_engine(cfg, &source, &err);
  canon_config_free(cfg);
  if (!o.list && !engine) {
    fprintf(stderr, "canon-conformance: %s\n", err.message);
    return 2;
  }

  if (o.random && !o.list) {
    int rc = conf_register_transforms(&err) ? 2
             : conf_random_run(engine, o.parts, o.nparts, o.random, o.seed, o.save_dir, o.verbose);
    if (rc == 2 && err.code) fprintf(stderr, "canon-conformance: %s\n", err.message);
    free(engine);
    return rc;
  }

  char tmpdir[] = "/tmp/canon-conformance-XXXXXX";
  if (!mkdtemp(tmpdir)) {
    fprintf(stderr, "canon-conformance: cannot create a temporary directory\n");
    return 2;
  }
  found_list fl = {0};
  int status = 2;
  conf_case *cases = NULL;
  outcome *out = NULL;
  if (walk(o.cases_dir, "", &fl)) goto done;
  qsort(fl.v, (size_t)fl.n, sizeof *fl.v, found_cmp);
  cases = calloc((size_t)(fl.n ? fl.n : 1), sizeof *cases);
  out = calloc((size_t)(fl.n ? fl.n : 1), sizeof *out);
  if (!cases || !out) goto done;

  /* Load every selected case; a case that does not load fails once. */
  int nsel = 0;
  for (int i = 0; i < fl.n; i++) {
    if (!name_selected(&o, fl.v[i].name)) continue;
    char msg[1200];
    if (conf_case_load(fl.v[i].path, fl.v[i].name, tmpdir, &cases[i], msg, sizeof msg) == 0) {
      if (!tags_selected(&o, &cases[i])) {
        conf_case_free(&cases[i]);
        continue;
      }
      out[i].loaded = 1;
    } else {
      printf("FAIL %s: bad case file: %s\n", fl.v[i].name, msg);
      out[i].failed = 1;
    }
    nsel++;
    if (o.list && out[i].loaded) {
      printf("%s", cases[i].name);
      for (int k = 0; k < cases[i].ntags; k++) printf("%s%s", k ? "," : "  [", cases[i].tags[k]);
      printf("%s\n", cases[i].ntags ? "]" : "");
    }
  }
  if (o.list) {
    status = 0;
    goto done;
  }
  if (nsel == 0) {
    fprintf(stderr, "canon-conformance: no case matches the selection in %s\n", o.cases_dir);
    goto done;
  }
  if (conf_register_transforms(&err)) {
    fprintf(stderr, "canon-conformance: %s\n", err.message);
    goto done;
  }
  /* Probe the engine's capabilities with a session on the plain string. */
  canon_session *probe = open_engine(engine, &err);
  if (!probe) {
    fprintf(stderr, "canon-conformance: cannot open engine '%s': %s\n", engine, err.message);
    goto done;
  }
  unsigned caps = canon_session_capabilities(probe);
  int by_parts = (caps & CANON_CAP_PARTITIONS) != 0;
  printf("engine %s (%s)%s\n", engine, canon_session_engine_name(probe),
         by_parts ? "" : ": no partitions capability, running each case once");
  for (int i = 0; i < fl.n; i++) {
    if (!out[i].loaded) continue;
    unsigned missing = cases[i].requires & ~caps;
    if (missing) {
      out[i].skipped = 1;
      for (unsigned bit = 1; bit; bit <<= 1)
        if (missing & bit) {
          printf("SKIP %s: needs capability %s\n", cases[i].name, conf_capability_name(bit));
          break;
        }
    }
  }
  int rounds = by_parts ? o.nparts : 1;
  for (int p = 0; p < rounds; p++) {
    canon_session *s = probe;
    char estr[1024] = "";
    if (by_parts) {
      if (p == 0) canon_session_close(probe);
      engine_for(engine, o.parts[p], estr, sizeof estr);
      if (!(s = open_engine(estr, &err))) {
        fprintf(stderr, "canon-conformance: cannot open engine '%s': %s\n", estr, err.message);
        goto done;
      }
    }
    for (int i = 0; i < fl.n; i++) {
      if (!out[i].loaded || out[i].skipped) continue;
      char *reason = NULL, *diff = NULL;
      if (run_case(s, &cases[i], &reason, &diff) == 0) continue;
      char where[64] = "";
      if (by_parts) snprintf(where, sizeof where, " [partitions=%d]", o.parts[p]);
      int same = out[i].last_reason && reason && strcmp(out[i].last_reason, reason) == 0 &&
                 ((!diff && !out[i].last_diff) ||
                  (diff && out[i].last_diff && strcmp(diff, out[i].last_diff) == 0));
      if (same) {
        printf("FAIL %s%s: the same as at partitions=%d\n", cases[i].name, where, out[i].last_parts);
      } else {
        printf("FAIL %s%s: %s\n", cases[i].name, where, reason ? reason : "out of memory");
        print_indented(diff);
        free(out[i].last_reason);
        free(out[i].last_diff);
        out[i].last_reason = reason;
        out[i].last_diff = diff;
        out[i].last_parts = by_parts ? o.parts[p] : 0;
        reason = diff = NULL;
      }
      free(reason);
      free(diff);
      out[i].failed = 1;
    }
    fflush(stdout);
    canon_session_close(s);
  }
  int passed = 0, failed = 0, skipped = 0;
  for (int i = 0; i < fl.n; i++) {
    if (!out[i].loaded && !out[i].failed) continue;
    if (out[i].failed)
      failed++;
    else if (out[i].skipped)
      skipped++;
    else {
      passed++;
      if (o.verbose) printf("PASS %s\n", cases[i].name);
    }
  }
  printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  status = failed ? 1 : 0;
done:
  for (int i = 0; i < fl.n; i++) {
    if (cases) conf_case_free(&cases[i]);
    if (out) {
      free(out[i].last_reason);
      free(out[i].last_diff);
    }
    free(fl.v[i].path);
    free(fl.v[i].name);
  }
  free(fl.v);
  free(cases);
  free(out);
  free(engine);
  /* Remove the CSV files written for inputs, then the directory. */
  DIR *d = opendir(tmpdir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
      unlink(path);
    }
    closedir(d);
  }
  rmdir(tmpdir);
  return status;
}
