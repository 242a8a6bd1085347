/* session.c — sessions (one loaded engine + the plan nodes made in it) and
 * the process-wide registry of user transforms. */
#include "config.h"
#include "observe.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

extern const canon_host canon__host;

/* ---- transform registry ---------------------------------------------- */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static canon__transform_entry *reg;
static int nreg, capreg;

int canon_register_transform(const char *name, canon_transform_fn fn, void *user_data,
                             canon_error *err) {
  if (!name || !*name || !fn)
    return canon__seterr(err, CANON_ERR_INVALID, "a transform needs a name and a function");
  int rc = 0;
  pthread_mutex_lock(&reg_lock);
  for (int i = 0; i < nreg; i++)
    if (strcmp(reg[i].name, name) == 0) {
      reg[i].fn = fn;
      reg[i].user_data = user_data;
      goto out;
    }
  if (nreg == capreg) {
    int nc = capreg ? capreg * 2 : 16;
    canon__transform_entry *n = canon__reallocarray(reg, (size_t)nc, sizeof *n);
    if (!n) {
      rc = canon__nomem(err);
      goto out;
    }
    reg = n;
    capreg = nc;
  }
  reg[nreg].name = canon__strdup(name);
  if (!reg[nreg].name) {
    rc = canon__nomem(err);
    goto out;
  }
  reg[nreg].fn = fn;
  reg[nreg].user_data = user_data;
  nreg++;
out:
  pthread_mutex_unlock(&reg_lock);
  return rc;
}

const canon__transform_entry *canon__transform_find(const char *name) {
  const canon__transform_entry *found = NULL;
  pthread_mutex_lock(&reg_lock);
  for (int i = 0; i < nreg; i++)
    if (strcmp(reg[i].name, name) == 0) found = &reg[i];
  pthread_mutex_unlock(&reg_lock);
  return found;
}

/* Registered names joined by ", " into buf (for "unknown transform"). */
void canon__transform_names(char *buf, size_t cap) {
  size_t at = 0;
  buf[0] = '\0';
  pthread_mutex_lock(&reg_lock);
  for (int i = 0; i < nreg && at < cap; i++) {
    int n = snprintf(buf + at, cap - at, "%s%s", i ? ", " : "", reg[i].name);
    if (n < 0) break;
    at += (size_t)n;
  }
  pthread_mutex_unlock(&reg_lock);
  if (!nreg) snprintf(buf, cap, "none");
}

/* ---- sessions ------------------------------------------------------------ */

canon_session *canon_session_open(const canon_config *c, canon_error *err) {
  const char *source = NULL;
  char *engine = canon_config_resolve_engine(c, &source, err);
  if (!engine) return NULL;
  canon_session *s = canon__calloc(1, sizeof *s);
  canon__engine_spec spec;
  canon__plugin plugin;
  memset(&spec, 0, sizeof spec);
  memset(&plugin, 0, sizeof plugin);
  if (!s) {
    canon__nomem(err);
    goto fail;
  }
  s->engine_string = engine;
  engine = NULL;
  s->next_id = 1;
  if (!(s->obs = canon__obs_session_new(c, err))) goto fail;
  if (canon__engine_spec_parse(s->engine_string, &spec, err) != 0) goto fail_prefix;
  if (canon__plugin_load(spec.name, spec.is_path, &plugin, err) != 0) goto fail_prefix;
  int rc = plugin.backend->open(&canon__host, spec.opts, spec.nopts, &s->backend_state, err);
  if (rc != 0) {
    if (err && err->code == CANON_OK) canon__seterr(err, CANON_ERR_ENGINE, "open failed");
    goto fail_prefix;
  }
  s->backend = plugin.backend;
  s->dl_handle = plugin.handle;
  /* The session's malloc settings (memtune.c), once it is open: a failed
   * open leaves malloc alone.  They are process-wide, so the engine's
   * threads follow them; processes workers set their own. */
  canon__memtune_session_opened();
  free(plugin.path);
  canon__engine_spec_reset(&spec);
  return s;
fail_prefix:
  canon__errprefix(err, "engine '%s' (from %s)", s->engine_string, source ? source : "?");
fail:
  canon__plugin_unload(&plugin);
  canon__engine_spec_reset(&spec);
  free(engine);
  if (s) {
    canon__obs_session_free(s->obs);
    free(s->engine_string);
    free(s);
  }
  return NULL;
}

static void node_free(canon_df *n) {
  canon_schema_free(n->schema);
  free(n->path);
  canon_schema_free(n->csv_schema);
  canon_table_free(n->table);
  for (int i = 0; i < n->nexprs; i++) {
    canon_expr_free(n->exprs ? n->exprs[i] : NULL);
    canon_expr_free(n->bound ? n->bound[i] : NULL);
    if (n->names) free(n->names[i]);
  }
  free(n->exprs);
  free(n->bound);
  canon__aggregate_free(n);
  free(n->names);
  for (int i = 0; i < n->nkeys; i++) free(n->keys[i]);
  free(n->keys);
  for (int i = 0; i < n->nsort; i++) free((char *)n->sort[i].column);
  free(n->sort);
  free(n->transform);
  for (int i = 0; n->rkeys && i < n->nkeys; i++) free(n->rkeys[i]);
  free(n->rkeys);
  free(n->left_suffix);
  free(n->right_suffix);
  free(n);
}

void canon_session_close(canon_session *s) {
  if (!s) return;
  /* Only sessions canon_session_open opened have an engine and count in
   * memtune.c; those the library makes for itself (a pruned plan's) do not. */
  bool opened = s->backend != NULL;
  if (opened) s->backend->close(s->backend_state);
  for (int i = 0; i < s->nnodes; i++) node_free(s->nodes[i]);
  free(s->nodes);
  for (int i = 0; i < s->nstrings; i++) free(s->strings[i]);
  free(s->strings);
  if (s->dl_handle) dlclose(s->dl_handle);
  canon__obs_session_free(s->obs);
  free(s->engine_string);
  free(s);
  if (opened) canon__memtune_session_closed();
}

const char *canon_session_engine_name(const canon_session *s) {
  return s && s->backend ? s->backend->name : NULL;
}

const char *canon_session_engine_string(const canon_session *s) {
  return s ? s->engine_string : NULL;
}

unsigned canon_session_capabilities(const canon_session *s) {
  return s && s->backend ? s->backend->capabilities : 0u;
}

const char *canon__session_keep_string(canon_session *s, char *str) {
  if (!str) return NULL;
  if (s->nstrings == s->capstrings) {
    int nc = s->capstrings ? s->capstrings * 2 : 8;
    char **n = canon__reallocarray(s->strings, (size_t)nc, sizeof *n);
    if (!n) {
      free(str);
      return NULL;
    }
    s->strings = n;
    s->capstrings = nc;
  }
  s->strings[s->nstrings++] = str;
  return str;
}

canon_df *canon__node_new(canon_session *s, canon__node_kind kind, canon_error *err) {
  if (!s) {
    canon__seterr(err, CANON_ERR_INVALID, "session is NULL");
    return NULL;
  }
  if (s->nnodes == s->capnodes) {
    int nc = s->capnodes ? s->capnodes * 2 : 32;
    canon_df **n = canon__reallocarray(s->nodes, (size_t)nc, sizeof *n);
    if (!n) {
      canon__nomem(err);
      return NULL;
    }
    s->nodes = n;
    s->capnodes = nc;
  }
  canon_df *d = canon__calloc(1, sizeof *d);
  if (!d) {
    canon__nomem(err);
    return NULL;
  }
  d->id = s->next_id++;
  d->kind = kind;
  d->session = s;
  s->nodes[s->nnodes++] = d;
  return d;
}
