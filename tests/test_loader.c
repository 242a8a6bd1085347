/* Tests of plugin loading: unknown names, ABI mismatch, non-plugins. */
#include "testutil.h"

#include "config.h"

#ifndef CANON_TEST_BUILD_DIR
#define CANON_TEST_BUILD_DIR "."
#endif

static canon_session *open_engine(const char *engine, canon_error *err) {
  canon_config *c = canon_config_new();
  canon_config_set_engine(c, engine, err);
  canon_session *s = canon_session_open(c, err);
  canon_config_free(c);
  return s;
}

Test(loader, serial_loads_and_reports_name) {
  canon_session *s = tu_open("serial:partitions=3");
  cr_assert_str_eq(canon_session_engine_name(s), "serial");
  cr_assert_str_eq(canon_session_engine_string(s), "serial:partitions=3");
  canon_session_close(s);
}

Test(loader, unknown_engine_lists_available) {
  canon_error err;
  cr_assert_null(open_engine("warp", &err));
  cr_assert_eq(err.code, CANON_ERR_NOT_FOUND);
  cr_assert(strstr(err.message, "unknown engine 'warp'"), "%s", err.message);
  cr_assert(strstr(err.message, "available: ") && strstr(err.message, "serial"), "%s", err.message);
}

Test(loader, abi_mismatch_refused_with_both_versions) {
  canon_error err;
  cr_assert_null(open_engine(CANON_TEST_BUILD_DIR "/plugins/canon_backend_badabi.so", &err));
  cr_assert_eq(err.code, CANON_ERR_ABI, "%s", err.message);
  char want[64], got[64];
  snprintf(got, sizeof got, "ABI %d.7", CANON_BACKEND_ABI_MAJOR + 1);
  snprintf(want, sizeof want, "ABI %d.%d", CANON_BACKEND_ABI_MAJOR, CANON_BACKEND_ABI_MINOR);
  cr_assert(strstr(err.message, got) && strstr(err.message, want), "%s", err.message);
}

Test(loader, not_a_plugin_and_missing_file) {
  canon_error err;
  cr_assert_null(open_engine(CANON_TEST_BUILD_DIR "/plugins/canon_backend_noentry.so", &err));
  cr_assert_eq(err.code, CANON_ERR_ENGINE);
  cr_assert(strstr(err.message, "canon_backend_entry"), "%s", err.message);
  cr_assert_null(open_engine("/nonexistent/canon_backend_x.so", &err));
  cr_assert_eq(err.code, CANON_ERR_ENGINE);
  /* The dlerror() text is carried. */
  cr_assert(strstr(err.message, "No such file"), "%s", err.message);
}

Test(loader, bad_engine_options) {
  canon_error err;
  cr_assert_null(open_engine("serial:partitions=0", &err));
  cr_assert(strstr(err.message, "partitions must be"), "%s", err.message);
  cr_assert_null(open_engine("serial:workers=2", &err));
  cr_assert(strstr(err.message, "unknown option 'workers'"), "%s", err.message);
}

static int n_found;
static void count_engine(const char *name, const char *path, const canon_backend *b,
                         const canon_error *e, void *user) {
  (void)path, (void)e, (void)user;
  if (strcmp(name, "serial") == 0) cr_assert(b && b->abi_major == CANON_BACKEND_ABI_MAJOR);
  n_found++;
}

Test(loader, engines_list_finds_serial) {
  n_found = 0;
  canon__engines_list(count_engine, NULL);
  cr_assert_geq(n_found, 1);
}
