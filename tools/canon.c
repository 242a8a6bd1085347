/* canon — the command-line tool.
 *
 *   canon run PLAN.json [--engine E] [--output FILE] [--trace FILE] [--progress=off|on] [--stats]
 *   canon explain PLAN.json [--engine E] [--dot | --analyze]
 *   canon engines
 *
 * Every error is one line on stderr naming the plan node, file:line:column
 * or engine, and a non-zero exit status (1 for a failed job, 2 for usage). */
#include "canon.h"
#include "canon_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Internal to libcanon but exported for this tool: engine discovery. */
typedef void (*engine_visit_fn)(const char *name, const char *path, const canon_backend *b,
                                const canon_error *err, void *user);
int canon_engines_visit(engine_visit_fn fn, void *user);

static void usage(FILE *f) {
  fprintf(f,
          "usage:\n"
          "  canon run PLAN.json [--engine E] [--output FILE]   run a plan; CSV to stdout\n"
          "                                                     unless the plan or --output\n"
          "                                                     names a file\n"
          "      --trace FILE        write a Chrome trace of the run (Perfetto, chrome://tracing)\n"
          "      --progress=off|on   live progress line on a terminal's stderr (default on)\n"
          "      --stats             print per-stage run statistics on stderr\n"
          "  canon explain PLAN.json [--engine E] [--dot]       print logical + physical plan\n"
          "      --analyze           run the plan; annotate the physical plan with statistics\n"
          "  canon engines                                      list the engines found\n"
          "engine strings: name[:key=value,...] (serial, serial:partitions=4) or a plugin path;\n"
          "also from CANON_ENGINE or the JSON file named by CANON_CONFIG.\n");
}

static int fail(const canon_error *err) {
  fprintf(stderr, "canon: error: %s [%s]\n", err->message, canon_errcode_name(err->code));
  return 1;
}

/* Read a whole file (plans are small; cap at 256 MiB). */
static char *read_file(const char *path, canon_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    err->code = CANON_ERR_IO;
    snprintf(err->message, sizeof err->message, "%s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t n = fread(buf + len, 1, cap - len - 1, f);
    len += n;
    if (n == 0) break;
    if (len + 1 == cap) {
      if (cap >= (size_t)256 << 20) {
        free(buf);
        buf = NULL;
        err->code = CANON_ERR_IO;
        snprintf(err->message, sizeof err->message, "%s: plan larger than 256 MiB", path);
        fclose(f);
        return NULL;
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    free(buf);
    err->code = bad ? CANON_ERR_IO : CANON_ERR_NOMEM;
    snprintf(err->message, sizeof err->message, "%s: %s", path, bad ? "read error" : "out of memory");
    return NULL;
  }
  buf[len] = '\0';
  return buf;
}

typedef struct opts {
  const char *plan;
  const char *output;
  int dot;
  const char *trace;
  int progress;  /* -1: not given */
  int stats, analyze;
} opts;

static int parse_opts(int argc, char **argv, opts *o) {
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--output") == 0 || strcmp(argv[i], "-o") == 0) {
      if (++i >= argc) return -1;
      o->output = argv[i];
    } else if (strncmp(argv[i], "--output=", 9) == 0) {
      o->output = argv[i] + 9;
    } else if (strcmp(argv[i], "--dot") == 0) {
      o->dot = 1;
    } else if (strcmp(argv[i], "--trace") == 0) {
      if (++i >= argc) return -1;
      o->trace = argv[i];
    } else if (strncmp(argv[i], "--trace=", 8) == 0) {
      o->trace = argv[i] + 8;
    } else if (strcmp(argv[i], "--progress=off") == 0 || strcmp(argv[i], "--progress=on") == 0) {
      o->progress = argv[i][11] == 'n';
    } else if (strcmp(argv[i], "--stats") == 0) {
      o->stats = 1;
    } else if (strcmp(argv[i], "--analyze") == 0) {
      o->analyze = 1;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "canon: unknown option '%s'\n", argv[i]);
      return -1;
    } else if (!o->plan) {
      o->plan = argv[i];
    } else {
      fprintf(stderr, "canon: unexpected argument '%s'\n", argv[i]);
      return -1;
    }
  }
  return o->plan ? 0 : -1;
}

static int cmd_plan(int argc, char **argv, canon_config *cfg, int explain) {
  opts o = {0};
  o.progress = -1;
  if (parse_opts(argc, argv, &o) != 0 || (o.analyze && o.dot) || (o.trace && !*o.trace)) {
    usage(stderr);
    return 2;
  }
  /* Progress is on by default here (only ever drawn on a terminal);
   * CANON_PROGRESS decides when the flag is absent and it is set. */
  const char *env = getenv("CANON_PROGRESS");
  if (o.progress >= 0)
    canon_config_set_progress(cfg, o.progress);
  else if (!env || !*env)
    canon_config_set_progress(cfg, 1);
  if (o.trace && canon_config_set_trace(cfg, o.trace) != 0) {
    fprintf(stderr, "canon: error: out of memory\n");
    return 1;
  }
  canon_error err;
  canon_error_clear(&err);
  char *text = read_file(o.plan, &err);
  if (!text) return fail(&err);
  canon_session *s = canon_session_open(cfg, &err);
  if (!s) {
    free(text);
    return fail(&err);
  }
  canon_df *root = NULL;
  canon_sink sink = {0};
  int rc = canon_plan_from_json(s, text, o.plan, &root, &sink, &err);
  free(text);
  if (rc == 0) {
    if (explain && o.analyze) {
      rc = canon_explain(root, stdout, 0, 0, &err);
      if (rc == 0) rc = canon_explain_analyze(root, stdout, &err);
    } else if (explain) {
      rc = canon_explain(root, stdout, 1, o.dot, &err);
    } else {
      const char *out = o.output ? o.output : (sink.kind ? sink.path : NULL);
      if (out && strcmp(out, "-") != 0) {
        rc = canon_write_csv(root, out, &err);
      } else {
        canon_table *t = canon_collect(root, &err);
        rc = t ? canon_table_write_csv_file(t, stdout, &err) : err.code;
        canon_table_free(t);
        if (rc == 0 && fflush(stdout) != 0) {
          err.code = rc = CANON_ERR_IO;
          snprintf(err.message, sizeof err.message, "writing to stdout: %s", strerror(errno));
        }
      }
    }
  }
  /* Statistics of the run (also of a failed one, when it got that far). */
  if (o.stats && !explain) canon_session_print_stats(s, stderr);
  canon_session_close(s);
  return rc ? fail(&err) : 0;
}

static void print_engine(const char *name, const char *path, const canon_backend *b,
                         const canon_error *err, void *user) {
  int *count = user;
  (*count)++;
  if (!b) {
    printf("%-12s  (cannot load: %s)\n", name, err ? err->message : "?");
    return;
  }
  char caps[128] = "";
  static const struct { unsigned bit; const char *name; } names[] = {
    {CANON_CAP_PARTITIONS, "partitions"}, {CANON_CAP_PARALLEL, "parallel"},
    {CANON_CAP_ISOLATION, "isolation"},   {CANON_CAP_DISTRIBUTED, "distributed"},
    {CANON_CAP_TRANSFORM, "transform"},
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (b->capabilities & names[i].bit) {
      if (caps[0]) strcat(caps, ",");
      strcat(caps, names[i].name);
    }
  printf("%-12s  abi %u.%u  caps %-30s  %s\n  %14s%s\n", b->name, b->abi_major, b->abi_minor,
         caps[0] ? caps : "-", b->description ? b->description : "", "", path);
}

int main(int argc, char **argv) {
  canon_config *cfg = canon_config_new();
  canon_error err;
  canon_error_clear(&err);
  if (!cfg || canon_config_parse_args(cfg, &argc, argv, &err) != 0) {
    canon_config_free(cfg);
    fprintf(stderr, "canon: error: %s\n", err.message);
    return 2;
  }
  int rc;
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    rc = argc < 2 ? 2 : 0;
  } else if (strcmp(argv[1], "run") == 0) {
    rc = cmd_plan(argc, argv, cfg, 0);
  } else if (strcmp(argv[1], "explain") == 0) {
    rc = cmd_plan(argc, argv, cfg, 1);
  } else if (strcmp(argv[1], "engines") == 0) {
    int count = 0;
    canon_engines_visit(print_engine, &count);
    if (!count) {
      fprintf(stderr, "canon: no engines found (set CANON_BACKEND_PATH)\n");
      rc = 1;
    } else {
      rc = 0;
    }
  } else {
    fprintf(stderr, "canon: unknown command '%s'\n", argv[1]);
    usage(stderr);
    rc = 2;
  }
  canon_config_free(cfg);
  return rc;
}
