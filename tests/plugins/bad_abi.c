/* A deliberately wrong engine plugin: it claims a future ABI major version.
 * The loader must refuse it before calling any of its slots. */
#include "canon_backend.h"

#include <stdlib.h>

static int never_open(const canon_host *h, const canon_option *o, int n, void **s, canon_error *e) {
  (void)h, (void)o, (void)n, (void)s, (void)e;
  abort(); /* reaching this means the loader used a mismatched plugin */
}

static const canon_backend bad = {
  .abi_major = CANON_BACKEND_ABI_MAJOR + 1,
  .abi_minor = 7,
  .struct_size = sizeof(canon_backend),
  .name = "badabi",
  .description = "test plugin with a wrong ABI version",
  .open = never_open,
};

__attribute__((visibility("default"))) const canon_backend *canon_backend_entry(void) { return &bad; }
