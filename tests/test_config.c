/* Tests of engine strings and the engine-choice chain (config.c). */
#include "testutil.h"

#include "config.h"

static void clear_env(void) {
  unsetenv("CANON_ENGINE");
  unsetenv("CANON_CONFIG");
}

Test(config, engine_string_parse) {
  canon__engine_spec sp;
  canon_error err;
  cr_assert_eq(canon__engine_spec_parse("serial:partitions=4,x=y", &sp, &err), 0, "%s", err.message);
  cr_assert_str_eq(sp.name, "serial");
  cr_assert_not(sp.is_path);
  cr_assert_eq(sp.nopts, 2);
  cr_assert_str_eq(sp.opts[0].key, "partitions");
  cr_assert_str_eq(sp.opts[0].value, "4");
  canon__engine_spec_reset(&sp);
  cr_assert_eq(canon__engine_spec_parse("/opt/x/canon_backend_y.so:a=1", &sp, &err), 0);
  cr_assert(sp.is_path);
  cr_assert_str_eq(sp.name, "/opt/x/canon_backend_y.so");
  canon__engine_spec_reset(&sp);
  cr_assert_neq(canon__engine_spec_parse("serial:partitions", &sp, &err), 0);
  cr_assert(strstr(err.message, "key=value"), "%s", err.message);
  cr_assert_neq(canon__engine_spec_parse("ser ial", &sp, &err), 0);
  cr_assert_neq(canon__engine_spec_parse("", &sp, &err), 0);
  cr_assert_neq(canon__engine_spec_parse("serial:a=1,a=2", &sp, &err), 0);
  cr_assert(strstr(err.message, "twice"), "%s", err.message);
}

Test(config, chain_order) {
  clear_env();
  canon_error err;
  const char *src;
  canon_config *c = canon_config_new();
  char *e = canon_config_resolve_engine(c, &src, &err);
  /* The default is threads, falling back to serial where no threads plugin
   * can be found. */
  canon__plugin p;
  bool have_threads = canon__plugin_load("threads", false, &p, NULL) == 0;
  if (have_threads) canon__plugin_unload(&p);
  cr_assert_str_eq(e, have_threads ? "threads" : "serial");
  cr_assert_str_eq(src, "default");
  free(e);
  /* Without any plugin directory that has threads, serial is the default. */
  const char *old = getenv("CANON_BACKEND_PATH");
  char *saved = old ? strdup(old) : NULL;
  setenv("CANON_BACKEND_PATH", "/nonexistent", 1);
  e = canon_config_resolve_engine(c, &src, &err);
  if (saved) setenv("CANON_BACKEND_PATH", saved, 1);
  free(saved);
  cr_assert(e);
  free(e);

  char *dir = tu_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/canon.json", dir);
  tu_write_file(path, "{\"engine\": \"serial:partitions=5\"}");
  setenv("CANON_CONFIG", path, 1);
  e = canon_config_resolve_engine(c, &src, &err);
  cr_assert_str_eq(e, "serial:partitions=5");
  cr_assert_str_eq(src, "CANON_CONFIG");
  free(e);

  setenv("CANON_ENGINE", "serial:partitions=3", 1);
  e = canon_config_resolve_engine(c, &src, &err);
  cr_assert_str_eq(e, "serial:partitions=3");
  cr_assert_str_eq(src, "CANON_ENGINE");
  free(e);

  char a0[] = "prog", a1[] = "--engine", a2[] = "serial:partitions=2", a3[] = "input.csv";
  char *argv[] = {a0, a1, a2, a3, NULL};
  int argc = 4;
  cr_assert_eq(canon_config_parse_args(c, &argc, argv, &err), 0, "%s", err.message);
  cr_assert_eq(argc, 2);
  cr_assert_str_eq(argv[1], "input.csv");
  e = canon_config_resolve_engine(c, &src, &err);
  cr_assert_str_eq(e, "serial:partitions=2");
  cr_assert_str_eq(src, "--engine");
  free(e);

  cr_assert_eq(canon_config_set_engine(c, "serial:partitions=9", &err), 0);
  e = canon_config_resolve_engine(c, &src, &err);
  cr_assert_str_eq(e, "serial:partitions=9");
  cr_assert_str_eq(src, "config");
  free(e);
  canon_config_free(c);
  clear_env();
  tu_rmdir(dir);
  free(dir);
}

Test(config, flag_forms_and_errors) {
  clear_env();
  canon_error err;
  canon_config *c = canon_config_new();
  char a0[] = "p", a1[] = "--engine=serial", a2[] = "--", a3[] = "--engine";
  char *argv[] = {a0, a1, a2, a3, NULL};
  int argc = 4;
  cr_assert_eq(canon_config_parse_args(c, &argc, argv, &err), 0);
  /* After "--" arguments belong to the program. */
  cr_assert_eq(argc, 3);
  cr_assert_str_eq(argv[2], "--engine");
  char b0[] = "p", b1[] = "--engine";
  char *argv2[] = {b0, b1, NULL};
  argc = 2;
  cr_assert_neq(canon_config_parse_args(c, &argc, argv2, &err), 0);
  cr_assert(strstr(err.message, "needs a value"), "%s", err.message);
  canon_config_free(c);
}

Test(config, bad_config_file) {
  clear_env();
  char *dir = tu_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/c.json", dir);
  tu_write_file(path, "{\"engine\": \"serial\", \"engin\": 1}");
  setenv("CANON_CONFIG", path, 1);
  canon_error err;
  cr_assert_null(canon_config_resolve_engine(NULL, NULL, &err));
  cr_assert(strstr(err.message, "unknown key \"engin\""), "%s", err.message);
  tu_write_file(path, "{\"engine\": \n  serial}");
  cr_assert_null(canon_config_resolve_engine(NULL, NULL, &err));
  cr_assert(strstr(err.message, ":2:"), "line number expected: %s", err.message);
  cr_assert_null(canon_session_open(NULL, &err));
  clear_env();
  tu_rmdir(dir);
  free(dir);
}
