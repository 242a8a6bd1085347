/* map_values — replace codes by names with a user transform.
 *
 * The "A -> Apple, B -> Banana" case: each order's product code is mapped
 * to a name by a C function registered by name, so the same program runs
 * on every engine (the name, not the function pointer, travels with the
 * plan).  Unknown codes map to NULL; NULL codes stay NULL.
 *
 *   ./build/examples/map_values [--engine serial:partitions=3]
 */
#include "canon.h"

#include <stdio.h>
#include <string.h>

#ifndef EXAMPLES_DATA
#define EXAMPLES_DATA "examples/data"
#endif

static const struct {
  const char *code, *name;
} fruit[] = {{"A", "Apple"}, {"B", "Banana"}, {"C", "Cherry"}};

/* Output: order_id, product (the name), qty. */
static int map_codes(const canon_table *in, canon_builder *out, void *user, canon_error *err) {
  (void)user;
  int id = canon_table_find_column(in, "order_id");
  int code = canon_table_find_column(in, "code");
  int qty = canon_table_find_column(in, "qty");
  for (int64_t r = 0; r < canon_table_num_rows(in); r++) {
    const char *name = NULL;
    if (!canon_table_is_null(in, code, r)) {
      size_t len;
      const char *c = canon_table_get_string(in, code, r, &len);
      for (size_t k = 0; k < sizeof fruit / sizeof fruit[0]; k++)
        if (strlen(fruit[k].code) == len && memcmp(fruit[k].code, c, len) == 0) name = fruit[k].name;
    }
    int rc = canon_builder_append_from(out, 0, in, id, r);
    rc = rc ? rc : (name ? canon_builder_append_string(out, 1, name, strlen(name))
                         : canon_builder_append_null(out, 1));
    rc = rc ? rc : canon_builder_append_from(out, 2, in, qty, r);
    if (rc) {
      snprintf(err->message, sizeof err->message, "append failed (%s)", canon_errcode_name(rc));
      return rc;
    }
  }
  return 0;
}

static int die(const canon_error *err) {
  fprintf(stderr, "map_values: %s\n", err->message);
  return 1;
}

int main(int argc, char **argv) {
  canon_error err;
  canon_error_clear(&err);
  /* Register before opening the session: worker processes resolve it there. */
  if (canon_register_transform("map_codes", map_codes, NULL, &err)) return die(&err);
  canon_config *cfg = canon_config_new();
  if (canon_config_parse_args(cfg, &argc, argv, &err)) return die(&err);
  canon_session *s = canon_session_open(cfg, &err);
  canon_config_free(cfg);
  if (!s) return die(&err);

  canon_csv_options csv = {.schema = "order_id:int64,customer:string,code:string,qty:int64"};
  canon_df *df = canon_read_csv(s, argc > 1 ? argv[1] : EXAMPLES_DATA "/orders.csv", &csv, &err);
  df = canon_transform(df, "map_codes", "order_id:int64,product:string,qty:int64", NULL, &err);
  canon_sort_key order[] = {{.column = "order_id"}};
  df = canon_sort(df, order, 1, &err);

  canon_table *t = canon_collect(df, &err);
  if (!t) {
    canon_session_close(s);
    return die(&err);
  }
  canon_table_write_csv_file(t, stdout, &err);
  canon_table_free(t);
  canon_session_close(s);
  return 0;
}
