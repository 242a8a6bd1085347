/* config.h — engine strings and the loader (config.c, loader.c). */
#ifndef CANON_CONFIG_H
#define CANON_CONFIG_H

#include "internal.h"

/* A parsed engine string "name[:key=value,...]" (or "path.so[:...]"). */
typedef struct canon__engine_spec {
  char *name;              /* engine name or plugin path */
  bool is_path;            /* contains '/' or ends in ".so" */
  int nopts;
  canon_option *opts;      /* key/value strings owned */
} canon__engine_spec;

int canon__engine_spec_parse(const char *text, canon__engine_spec *out, canon_error *err);
void canon__engine_spec_reset(canon__engine_spec *spec);

/* A loaded plugin. */
typedef struct canon__plugin {
  void *handle;
  const canon_backend *backend;
  char *path;
} canon__plugin;

/* Load the engine `name` (or the plugin at a path) along the search path:
 * explicit path, CANON_BACKEND_PATH (colon-separated), build tree, install
 * dir.  Errors carry dlerror() text, both ABI versions, or the list of
 * available engines. */
int canon__plugin_load(const char *name, bool is_path, canon__plugin *out, canon_error *err);
void canon__plugin_unload(canon__plugin *p);

/* Every engine found on the search path (first occurrence of each name):
 * callback per plugin file, loaded or not (load error in err). */
typedef void (*canon__engine_visit_fn)(const char *name, const char *path,
                                       const canon_backend *b, const canon_error *err,
                                       void *user);
int canon__engines_list(canon__engine_visit_fn fn, void *user);

/* The directories searched, in order, as one malloc'd ':'-joined string. */
char *canon__engine_search_path(void);

#endif
