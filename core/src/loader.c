/* loader.c — finding and loading engine plugins with dlopen.
 *
 * A plugin named N is the file canon_backend_N.so, looked for in each
 * directory of the search path, and in its subdirectory N/ (the build
 * tree's layout).  Search path: CANON_BACKEND_PATH (colon-separated), the
 * build tree, the install directory.  An explicit path bypasses it. */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <sys/stat.h>

#ifndef CANON_BUILD_BACKEND_DIR
#define CANON_BUILD_BACKEND_DIR ""
#endif
#ifndef CANON_INSTALL_BACKEND_DIR
#define CANON_INSTALL_BACKEND_DIR "/usr/local/lib/canon/backends"
#endif

#define PLUGIN_PREFIX "canon_backend_"

char *canon__engine_search_path(void) {
  const char *env = getenv("CANON_BACKEND_PATH");
  return canon__asprintf("%s%s%s:%s", env && *env ? env : "", env && *env ? ":" : "",
                         CANON_BUILD_BACKEND_DIR, CANON_INSTALL_BACKEND_DIR);
}

static bool is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The first existing plugin file for `name` along the search path. */
static char *find_plugin(const char *name) {
  char *path = canon__engine_search_path();
  if (!path) return NULL;
  char *found = NULL;
  for (char *save = NULL, *dir = strtok_r(path, ":", &save); dir && !found;
       dir = strtok_r(NULL, ":", &save)) {
    char *a = canon__asprintf("%s/" PLUGIN_PREFIX "%s.so", dir, name);
    char *b = canon__asprintf("%s/%s/" PLUGIN_PREFIX "%s.so", dir, name, name);
    if (a && is_file(a)) found = a, a = NULL;
    else if (b && is_file(b)) found = b, b = NULL;
    free(a);
    free(b);
  }
  free(path);
  return found;
}

/* Open `path` and check its entry and ABI before using anything else. */
static int load_file(const char *path, canon__plugin *out, canon_error *err) {
  memset(out, 0, sizeof *out);
  dlerror();
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    return canon__seterr(err, CANON_ERR_ENGINE, "cannot load engine plugin %s: %s", path,
                         why ? why : "unknown dlopen error");
  }
  dlerror();
  canon_backend_entry_fn entry;
  *(void **)&entry = dlsym(h, "canon_backend_entry");
  const char *why = dlerror();
  if (!entry || why) {
    int rc = canon__seterr(err, CANON_ERR_ENGINE,
                           "%s is not a canon engine: no canon_backend_entry symbol (%s)", path,
                           why ? why : "symbol is NULL");
    dlclose(h);
    return rc;
  }
  const canon_backend *b = entry();
  if (!b) {
    dlclose(h);
    return canon__seterr(err, CANON_ERR_ENGINE, "%s: canon_backend_entry returned NULL", path);
  }
  if (b->abi_major != CANON_BACKEND_ABI_MAJOR || b->abi_minor > CANON_BACKEND_ABI_MINOR) {
    int rc = canon__seterr(err, CANON_ERR_ABI,
                           "engine plugin %s has ABI %u.%u but this canon supports ABI %d.%d "
                           "(same major, minor <= %d); rebuild the plugin against this canon",
                           path, b->abi_major, b->abi_minor, CANON_BACKEND_ABI_MAJOR,
                           CANON_BACKEND_ABI_MINOR, CANON_BACKEND_ABI_MINOR);
    dlclose(h);
    return rc;
  }
  size_t need = offsetof(canon_backend, execute) + sizeof b->execute;
  if (b->struct_size < need || !b->name || !b->open || !b->close || !b->execute ||
      !b->default_partitions) {
    dlclose(h);
    return canon__seterr(err, CANON_ERR_ABI,
                         "engine plugin %s: incomplete backend struct (struct_size %u, need %zu)",
                         path, b->struct_size, need);
  }
  out->handle = h;
  out->backend = b;
  out->path = canon__strdup(path);
  if (!out->path) {
    canon__plugin_unload(out);
    return canon__nomem(err);
  }
  return 0;
}

typedef struct names_acc {
  char buf[512];
  size_t len;
} names_acc;

static void collect_name(const char *name, const char *path, const canon_backend *b,
                         const canon_error *e, void *user) {
  (void)path, (void)b, (void)e;
  names_acc *acc = user;
  int n = snprintf(acc->buf + acc->len, sizeof acc->buf - acc->len, "%s%s",
                   acc->len ? ", " : "", name);
  if (n > 0 && acc->len + (size_t)n < sizeof acc->buf) acc->len += (size_t)n;
}

int canon__plugin_load(const char *name, bool is_path, canon__plugin *out, canon_error *err) {
  if (is_path) return load_file(name, out, err);
  char *file = find_plugin(name);
  if (!file) {
    names_acc acc = {.len = 0};
    acc.buf[0] = '\0';
    canon__engines_list(collect_name, &acc);
    char *sp = canon__engine_search_path();
    int rc = canon__seterr(err, CANON_ERR_NOT_FOUND,
                           "unknown engine '%s'; available: %s (searched %s)", name,
                           acc.len ? acc.buf : "none", sp ? sp : "?");
    free(sp);
    return rc;
  }
  int rc = load_file(file, out, err);
  free(file);
  return rc;
}

void canon__plugin_unload(canon__plugin *p) {
  if (p->handle) dlclose(p->handle);
  free(p->path);
  memset(p, 0, sizeof *p);
}

/* Visit plugin files in one directory, skipping names already seen. */
static void scan_dir(const char *dir, char ***seen, int *nseen, canon__engine_visit_fn fn,
                     void *user) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  /* Collect and sort names so the listing is stable. */
  char **names = NULL;
  int n = 0;
  while ((de = readdir(d))) {
    const char *f = de->d_name;
    size_t len = strlen(f);
    char *cand = NULL;
    if (strncmp(f, PLUGIN_PREFIX, strlen(PLUGIN_PREFIX)) == 0 && len > strlen(PLUGIN_PREFIX) + 3 &&
        strcmp(f + len - 3, ".so") == 0) {
      cand = canon__strndup(f + strlen(PLUGIN_PREFIX), len - strlen(PLUGIN_PREFIX) - 3);
    } else if (f[0] != '.') {
      char *sub = canon__asprintf("%s/%s/" PLUGIN_PREFIX "%s.so", dir, f, f);
      if (sub && is_file(sub)) cand = canon__strdup(f);
      free(sub);
    }
    if (!cand) continue;
    char **nn = canon__reallocarray(names, (size_t)n + 1, sizeof *nn);
    if (!nn) {
      free(cand);
      break;
    }
    names = nn;
    names[n++] = cand;
  }
  closedir(d);
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      char *t = names[j];
      names[j] = names[j - 1];
      names[j - 1] = t;
    }
  for (int i = 0; i < n; i++) {
    bool dup = false;
    for (int k = 0; k < *nseen; k++)
      if (strcmp((*seen)[k], names[i]) == 0) dup = true;
    if (dup) {
      free(names[i]);
      continue;
    }
    char **ns = canon__reallocarray(*seen, (size_t)*nseen + 1, sizeof *ns);
    if (!ns) {
      free(names[i]);
      continue;
    }
    *seen = ns;
    (*seen)[(*nseen)++] = names[i];
    char *file = find_plugin(names[i]);
    canon__plugin p;
    canon_error e;
    canon_error_clear(&e);
    if (file && load_file(file, &p, &e) == 0) {
      fn(names[i], file, p.backend, NULL, user);
      canon__plugin_unload(&p);
    } else {
      fn(names[i], file ? file : "?", NULL, &e, user);
    }
    free(file);
  }
  free(names);
}

int canon__engines_list(canon__engine_visit_fn fn, void *user) {
  char *path = canon__engine_search_path();
  if (!path) return CANON_ERR_NOMEM;
  char **seen = NULL;
  int nseen = 0;
  for (char *save = NULL, *dir = strtok_r(path, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
    scan_dir(dir, &seen, &nseen, fn, user);
  for (int i = 0; i < nseen; i++) free(seen[i]);
  free(seen);
  free(path);
  return 0;
}

/* Exported for the canon tool: the engines on the search path. */
CANON_API int canon_engines_visit(canon__engine_visit_fn fn, void *user);
int canon_engines_visit(canon__engine_visit_fn fn, void *user) {
  return canon__engines_list(fn, user);
}
