/* config.c — session configuration and the engine-choice chain.
 *
 * The engine comes from, first to last: the program's explicit setting, a
 * --engine flag, CANON_ENGINE, the "engine" of the JSON file named by
 * CANON_CONFIG, then the default (threads, or serial while no threads
 * plugin can be found). */
#include "config.h"
#include "observe.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>

struct canon_config {
  char *explicit_engine;
  char *flag_engine;
  int progress;            /* -1 unset (CANON_PROGRESS decides), 0 off, 1 on */
  bool trace_set;          /* false: CANON_TRACE decides */
  char *trace;             /* NULL: no trace */
};

canon_config *canon_config_new(void) {
  canon_config *c = canon__calloc(1, sizeof(canon_config));
  if (c) c->progress = -1;
  return c;
}

void canon_config_free(canon_config *c) {
  if (!c) return;
  free(c->explicit_engine);
  free(c->flag_engine);
  free(c->trace);
  free(c);
}

/* Progress and trace settings (read by observe.c at session open). */
int canon_config_set_progress(canon_config *c, int on) {
  if (!c) return CANON_ERR_INVALID;
  c->progress = on != 0;
  return 0;
}

int canon_config_set_trace(canon_config *c, const char *path) {
  if (!c || (path && !*path)) return CANON_ERR_INVALID;
  char *copy = path ? canon__strdup(path) : NULL;
  if (path && !copy) return CANON_ERR_NOMEM;
  free(c->trace);
  c->trace = copy;
  c->trace_set = true;
  return 0;
}

int canon__config_progress(const canon_config *c) { return c ? c->progress : -1; }
bool canon__config_trace(const canon_config *c, const char **path) {
  *path = c ? c->trace : NULL;
  return c && c->trace_set;
}

static int set_engine_field(char **field, const char *engine, canon_error *err) {
  canon__engine_spec spec;
  int rc = canon__engine_spec_parse(engine, &spec, err);
  if (rc) return rc;
  canon__engine_spec_reset(&spec);
  char *copy = canon__strdup(engine);
  if (!copy) return canon__nomem(err);
  free(*field);
  *field = copy;
  return 0;
}

int canon_config_set_engine(canon_config *c, const char *engine, canon_error *err) {
  if (!c || !engine) return canon__seterr(err, CANON_ERR_INVALID, "config and engine needed");
  return set_engine_field(&c->explicit_engine, engine, err);
}

int canon_config_parse_args(canon_config *c, int *argc, char **argv, canon_error *err) {
  if (!c || !argc || !argv) return canon__seterr(err, CANON_ERR_INVALID, "bad arguments");
  int out = 1;
  for (int i = 1; i < *argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    if (strcmp(a, "--") == 0) {
      /* Everything after "--" belongs to the program. */
      while (i < *argc) argv[out++] = argv[i++];
      break;
    }
    if (strcmp(a, "--engine") == 0) {
      if (i + 1 >= *argc)
        return canon__seterr(err, CANON_ERR_CONFIG, "--engine needs a value (e.g. --engine serial)");
      val = argv[++i];
    } else if (strncmp(a, "--engine=", 9) == 0) {
      val = a + 9;
    }
    if (val) {
      int rc = set_engine_field(&c->flag_engine, val, err);
      if (rc) {
        canon__errprefix(err, "--engine");
        return rc;
      }
      continue;
    }
    argv[out++] = argv[i];
  }
  *argc = out;
  argv[out] = NULL;
  return 0;
}

/* The "engine" of the JSON config file at path. */
static char *engine_from_file(const char *path, canon_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    canon__seterr(err, CANON_ERR_CONFIG, "CANON_CONFIG=%s: %s", path, strerror(errno));
    return NULL;
  }
  char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  bool too_big = !feof(f);
  fclose(f);
  if (too_big) {
    canon__seterr(err, CANON_ERR_CONFIG, "CANON_CONFIG=%s: file larger than 64 KiB", path);
    return NULL;
  }
  buf[n] = '\0';
  const char *end = NULL;
  /* The length includes the terminating NUL, which cJSON requires to see. */
  cJSON *doc = cJSON_ParseWithLengthOpts(buf, n + 1, &end, true);
  if (!doc || !cJSON_IsObject(doc)) {
    int line = 1, col = 1;
    for (const char *p = buf; end && p < end && *p; p++) {
      if (*p == '\n') line++, col = 1;
      else col++;
    }
    canon__seterr(err, CANON_ERR_CONFIG, "%s:%d:%d: config must be a JSON object", path, line,
                  col);
    cJSON_Delete(doc);
    return NULL;
  }
  char *engine = NULL;
  for (cJSON *it = doc->child; it; it = it->next) {
    if (strcmp(it->string, "engine") == 0) {
      if (!cJSON_IsString(it)) {
        canon__seterr(err, CANON_ERR_CONFIG, "%s: $.engine must be a string", path);
        goto fail;
      }
      if (engine) {
        canon__seterr(err, CANON_ERR_CONFIG, "%s: $.engine given twice", path);
        goto fail;
      }
      engine = canon__strdup(it->valuestring);
    } else {
      canon__seterr(err, CANON_ERR_CONFIG, "%s: $: unknown key \"%s\" (known: engine)", path,
                    it->string);
      goto fail;
    }
  }
  cJSON_Delete(doc);
  if (!engine) canon__seterr(err, CANON_ERR_CONFIG, "%s: no \"engine\" key", path);
  return engine;
fail:
  free(engine);
  cJSON_Delete(doc);
  return NULL;
}

char *canon_config_resolve_engine(const canon_config *c, const char **source, canon_error *err) {
  const char *src = NULL;
  char *engine = NULL;
  const char *env;
  if (c && c->explicit_engine) {
    src = "config";
    engine = canon__strdup(c->explicit_engine);
  } else if (c && c->flag_engine) {
    src = "--engine";
    engine = canon__strdup(c->flag_engine);
  } else if ((env = getenv("CANON_ENGINE")) && *env) {
    src = "CANON_ENGINE";
    engine = canon__strdup(env);
  } else if ((env = getenv("CANON_CONFIG")) && *env) {
    src = "CANON_CONFIG";
    engine = engine_from_file(env, err);
    if (!engine) return NULL;
  } else {
    src = "default";
    /* threads is the default; until its plugin is found, serial. */
    canon__plugin p;
    if (canon__plugin_load("threads", false, &p, NULL) == 0) {
      canon__plugin_unload(&p);
      engine = canon__strdup("threads");
    } else {
      engine = canon__strdup("serial");
    }
  }
  if (!engine) {
    canon__nomem(err);
    return NULL;
  }
  if (source) *source = src;
  return engine;
}

/* ---- engine strings ------------------------------------------------------ */

void canon__engine_spec_reset(canon__engine_spec *spec) {
  free(spec->name);
  for (int i = 0; i < spec->nopts; i++) {
    free((char *)spec->opts[i].key);
    free((char *)spec->opts[i].value);
  }
  free(spec->opts);
  memset(spec, 0, sizeof *spec);
}

int canon__engine_spec_parse(const char *text, canon__engine_spec *out, canon_error *err) {
  memset(out, 0, sizeof *out);
  if (!text || !*text)
    return canon__seterr(err, CANON_ERR_CONFIG, "empty engine string");
  const char *colon = strchr(text, ':');
  size_t nlen = colon ? (size_t)(colon - text) : strlen(text);
  if (nlen == 0)
    return canon__seterr(err, CANON_ERR_CONFIG, "engine string '%s' has no name", text);
  out->name = canon__strndup(text, nlen);
  if (!out->name) return canon__nomem(err);
  out->is_path = memchr(text, '/', nlen) != NULL ||
                 (nlen > 3 && memcmp(text + nlen - 3, ".so", 3) == 0);
  if (!out->is_path)
    for (size_t i = 0; i < nlen; i++) {
      char ch = text[i];
      if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '_' || ch == '-')) {
        canon__engine_spec_reset(out);
        return canon__seterr(err, CANON_ERR_CONFIG,
                             "engine string '%s': bad engine name (letters, digits, _ and - only)",
                             text);
      }
    }
  const char *p = colon ? colon + 1 : NULL;
  while (p && *p) {
    const char *end = strchr(p, ',');
    if (!end) end = p + strlen(p);
    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (!eq || eq == p) {
      int rc = canon__seterr(err, CANON_ERR_CONFIG,
                             "engine string '%s': option '%.*s' must be key=value", text,
                             (int)(end - p), p);
      canon__engine_spec_reset(out);
      return rc;
    }
    canon_option *no = canon__reallocarray(out->opts, (size_t)out->nopts + 1, sizeof *no);
    if (!no) {
      canon__engine_spec_reset(out);
      return canon__nomem(err);
    }
    out->opts = no;
    char *k = canon__strndup(p, (size_t)(eq - p));
    char *v = canon__strndup(eq + 1, (size_t)(end - eq - 1));
    out->opts[out->nopts].key = k;
    out->opts[out->nopts].value = v;
    out->nopts++;
    if (!k || !v) {
      canon__engine_spec_reset(out);
      return canon__nomem(err);
    }
    for (int i = 0; i < out->nopts - 1; i++)
      if (strcmp(out->opts[i].key, k) == 0) {
        int rc = canon__seterr(err, CANON_ERR_CONFIG, "engine string '%s': option '%s' given twice",
                               text, k);
        canon__engine_spec_reset(out);
        return rc;
      }
    p = *end ? end + 1 : end;
  }
  return 0;
}
