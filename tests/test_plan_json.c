/* test_plan_json.c — plans as JSON (plan_json*.c, docs/plan-format.md):
 * byte-identical round trips for every op, expression form and literal edge
 * value; the reader's error messages and their paths; hostile documents;
 * the example plan under examples/plans. */
#include "testutil.h"

#include "kernels.h"

#include <math.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

/* A transform that copies its group through (schema k:string,n:int64). */
static int pj_copy(const canon_table *group, canon_builder *out, void *user, canon_error *err) {
  (void)user;
  (void)err;
  for (int64_t r = 0; r < canon_table_num_rows(group); r++)
    if (canon_builder_append_row(out, group, r)) return CANON_ERR_TYPE;
  return 0;
}

static canon_session *open_serial(void) {
  canon_error err = {0};
  cr_assert_eq(canon_register_transform("pj_copy", pj_copy, NULL, &err), 0, "%s", err.message);
  return tu_open("serial");
}

static char *to_json(const canon_df *df, const canon_sink *sink) {
  canon_error err = {0};
  char *json = canon_plan_to_json(df, sink, &err);
  cr_assert(json, "to_json: %s", err.message);
  return json;
}

/* Read json into a fresh session and write it again. */
static char *rewrite(const char *json) {
  canon_session *s = open_serial();
  canon_error err = {0};
  canon_df *root = NULL;
  canon_sink sink = {0};
  cr_assert_eq(canon_plan_from_json(s, json, "plan.json", &root, &sink, &err), 0, "%s\n%s",
               err.message, json);
  cr_assert(root);
  char *again = to_json(root, &sink);
  canon_session_close(s);
  return again;
}

/* Write df, read and write again: the two texts must be the same bytes. */
static char *round_trip(const canon_df *df, const canon_sink *sink) {
  char *json = to_json(df, sink);
  char *again = rewrite(json);
  cr_assert_str_eq(again, json);
  free(again);
  return json;
}

/* Loading json must fail with code, and the message must start with want. */
static void load_fails(const char *json, int code, const char *want) {
  canon_session *s = open_serial();
  canon_error err = {0};
  canon_df *root = (canon_df *)1;
  int rc = canon_plan_from_json(s, json, "plan.json", &root, NULL, &err);
  cr_assert_neq(rc, 0, "expected an error for:\n%s", json);
  cr_assert_eq(rc, err.code);
  cr_assert_null(root);
  cr_assert_eq(err.code, code, "code %s: %s", canon_errcode_name(err.code), err.message);
  cr_assert(strncmp(err.message, want, strlen(want)) == 0, "message: %s\nwanted:  %s...",
            err.message, want);
  canon_session_close(s);
}

/* A plan over one table source {"a": int64, "s": string} with `rest` (the
 * text after the source node: more nodes, then "root"). */
#define PJ_HEAD                                                                            \
  "{\"canon_plan\": 1, \"nodes\": [{\"id\": 1, \"op\": \"table\", \"schema\": "           \
  "[{\"name\": \"a\", \"type\": \"int64\"}, {\"name\": \"s\", \"type\": \"string\"}], "     \
  "\"rows\": [[\"1\", \"x\"], [null, null]]}"

static canon_table *tbl(const char *schema, const char *rows) {
  canon_error err = {0};
  canon_table *t = canon_table_from_csv_text(schema, rows, &err);
  cr_assert(t, "table: %s", err.message);
  return t;
}

static canon_df *ok(canon_df *df, const canon_error *err) {
  cr_assert(df, "builder: %s", err->message);
  return df;
}

/* ---- round trips --------------------------------------------------------- */

/* read_csv (inferred schema) -> filter -> assign -> select -> aggregate ->
 * sort -> limit -> transform, using every scalar and aggregate function. */
Test(plan_json, round_trip_every_op_and_fn) {
  char *dir = tu_tmpdir(), path[600];
  snprintf(path, sizeof path, "%s/in.csv", dir);
  tu_write_file(path, "k,v,x\na,1,0.5\nb,2,1.5\n,3,\na,-4,2.5\n");
  canon_session *s = open_serial();
  canon_error err = {0};
  canon_df *src = ok(canon_read_csv(s, path, NULL, &err), &err);
  canon_expr *pred = canon_or(canon_and(canon_gt(canon_col("v"), canon_lit_int64(0)),
                                         canon_is_not_null(canon_col("k"))),
                               canon_not(canon_le(canon_col("x"), canon_lit_float64(1.0))));
  canon_df *f = ok(canon_filter(src, pred, &err), &err);
  canon_expr *co[2] = {canon_col("k"), canon_lit_string("none")};
  canon_expr *ae[] = {
    canon_add(canon_col("v"), canon_lit_int64(1)),
    canon_sub(canon_col("v"), canon_lit_int64(2)),
    canon_mul(canon_col("v"), canon_col("v")),
    canon_div(canon_col("x"), canon_lit_float64(3)),
    canon_try_div(canon_col("v"), canon_lit_int64(0)),
    canon_idiv(canon_col("v"), canon_lit_int64(2)),
    canon_mod(canon_col("v"), canon_lit_int64(3)),
    canon_neg(canon_col("x")),
    canon_eq(canon_col("k"), canon_lit_string("a")),
    canon_ne(canon_col("v"), canon_lit_int64(2)),
    canon_lt(canon_col("v"), canon_lit_int64(2)),
    canon_ge(canon_col("x"), canon_lit_float64(0.5)),
    canon_is_null(canon_col("x")),
    canon_coalesce(co, 2),
    canon_cast(canon_col("v"), CANON_FLOAT64),
    canon_try_cast(canon_col("k"), CANON_INT64),
  };
  const char *an[] = {"add", "sub", "mul", "div", "try_div", "idiv", "mod", "neg",
                      "eq", "ne", "lt", "ge", "is_null", "coalesce", "cast", "try_cast"};
  int na = (int)(sizeof ae / sizeof ae[0]);
  canon_df *a = ok(canon_assign(f, ae, an, na, &err), &err);
  canon_expr *se[] = {canon_col("k"), canon_col("add"), canon_col("cast"), canon_col("neg"),
                      canon_col("try_cast")};
  const char *sn[] = {NULL, "total", NULL, "neg", "tc"};
  canon_df *sel = ok(canon_select(a, se, sn, 5, &err), &err);
  const char *keys[] = {"k"};
  canon_expr *ag[] = {canon_count_star(),           canon_count(canon_col("tc")),
                      canon_sum(canon_col("total")), canon_mean(canon_col("cast")),
                      canon_min(canon_col("neg")),   canon_max(canon_col("total"))};
  const char *agn[] = {"n", "c", "sum", "mean", "min", "max"};
  canon_df *g = ok(canon_aggregate(sel, keys, 1, ag, agn, 6, &err), &err);
  g->drop_null_keys = true;
  canon_sort_key sk[] = {{"k", 0, 1}, {"n", 1, 0}, {"sum", 1, 1}, {"max", 0, 0}};
  canon_df *o = ok(canon_sort(g, sk, 4, &err), &err);
  canon_df *l = ok(canon_limit(o, 10, &err), &err);
  canon_expr *pe[] = {canon_col("k"), canon_col("n")};
  canon_df *p = ok(canon_select(l, pe, NULL, 2, &err), &err);
  const char *by[] = {"k"};
  canon_sort_key pre[] = {{"n", 1, 1}};
  canon_partition_spec spec = {by, 1, 0, pre, 1};
  canon_df *t = ok(canon_transform(p, "pj_copy", "k:string,n:int64", &spec, &err), &err);

  canon_sink sink = {"csv", "out.csv"};
  char *json = round_trip(t, &sink);
  /* Spot checks of the format: ids renumbered in order, the inferred
   * schema written out, 64-bit values as strings, Substrait directions. */
  cr_assert(strstr(json, "\"canon_plan\":\t1"), "%s", json);
  cr_assert(strstr(json, "\"root\":\t9"), "%s", json);
  cr_assert(strstr(json, "\"name\":\t\"x\",\n\t\t\t\t\t\"type\":\t\"float64\""), "%s", json);
  cr_assert(strstr(json, "\"n\":\t\"10\""), "%s", json);
  cr_assert(strstr(json, "\"SORT_DIRECTION_ASC_NULLS_FIRST\""), "%s", json);
  cr_assert(strstr(json, "\"SORT_DIRECTION_DESC_NULLS_LAST\""), "%s", json);
  cr_assert(strstr(json, "\"SORT_DIRECTION_DESC_NULLS_FIRST\""), "%s", json);
  cr_assert(strstr(json, "\"drop_null_keys\":\ttrue"), "%s", json);
  cr_assert(strstr(json, "\"to\":\t\"float64\""), "%s", json);
  cr_assert(strstr(json, "\"fn\":\t\"count_star\",\n"), "%s", json);
  const char *fns[] = {"add", "sub", "mul", "div", "try_div", "idiv", "mod", "neg", "eq", "ne",
                       "lt", "le", "gt", "ge", "and", "or", "not", "is_null", "is_not_null",
                       "coalesce", "cast", "try_cast", "count_star", "count", "sum", "mean",
                       "min", "max"};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    char want[64];
    snprintf(want, sizeof want, "\"fn\":\t\"%s\"", fns[i]);
    cr_assert(strstr(json, want), "no %s in\n%s", want, json);
  }

  /* The plan read back computes the same rows. */
  canon_session *s2 = open_serial();
  canon_df *root = NULL;
  canon_sink back = {0};
  cr_assert_eq(canon_plan_from_json(s2, json, "plan.json", &root, &back, &err), 0, "%s",
               err.message);
  cr_assert_str_eq(back.kind, "csv");
  cr_assert_str_eq(back.path, "out.csv");
  cr_assert_eq(canon_df_id(root), 9);
  cr_assert_eq(root->inputs[0]->inputs[0]->inputs[0]->inputs[0]->drop_null_keys, true);
  char *want = tu_collect_csv(t), *got = tu_collect_csv(root);
  cr_assert_str_eq(got, want);
  free(want);
  free(got);
  canon_session_close(s2);
  free(json);
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
}

/* An in-memory table travels with the plan, NULLs and awkward text included. */
Test(plan_json, round_trip_table_source) {
  canon_session *s = open_serial();
  canon_error err = {0};
  canon_table *t = tbl("b:bool,i:int64,f:float64,s:string,d:date,t:timestamp",
                       "true,-9223372036854775808,-0.0,\"say \"\"hi\"\"\",1970-01-01,"
                       "2024-01-31T10:00:00.123456Z\n"
                       ",,,,,\n"
                       "false,9223372036854775807,NaN,\"\",0001-01-01,1969-12-31T23:59:59Z\n"
                       "true,0,5e-324,\"é✓😀 \\ \t/\",9999-12-31,2024-02-29T00:00:00Z\n");
  canon_df *src = ok(canon_from_table(s, t, &err), &err);
  canon_df *l = ok(canon_limit(src, INT64_MAX, &err), &err);
  char *json = round_trip(l, NULL);
  cr_assert(strstr(json, "\"-9223372036854775808\""), "%s", json);
  cr_assert(strstr(json, "[null, null, null, null, null, null]"), "%s", json);
  cr_assert(strstr(json, "\"n\":\t\"9223372036854775807\""), "%s", json);
  cr_assert_null(strstr(json, "\"sink\""));

  canon_session *s2 = open_serial();
  canon_df *root = NULL;
  cr_assert_eq(canon_plan_from_json(s2, json, NULL, &root, NULL, &err), 0, "%s", err.message);
  char *a = tu_csv(t), *b = tu_csv(root->inputs[0]->table);
  cr_assert_str_eq(b, a);
  /* Bit for bit: -0.0 stays negative, 5e-324 stays the smallest subnormal. */
  const canon_table *back = root->inputs[0]->table;
  cr_assert(signbit(canon_table_get_float64(back, 2, 0)));
  cr_assert_eq(canon_table_get_float64(back, 2, 3), 5e-324);
  free(a);
  free(b);
  free(json);
  canon_session_close(s2);
  canon_table_free(t);
  canon_session_close(s);
}

/* Every literal comes back as exactly the value that went out. */
Test(plan_json, literal_edge_values) {
  canon_session *s = open_serial();
  canon_error err = {0};
  canon_table *t = tbl("a:int64", "1\n");
  canon_df *src = ok(canon_from_table(s, t, &err), &err);
  static const char weird[] = "q\"uo\\te\n\ttab é✓😀 \x01 end";
  canon_expr *e[] = {
    canon_lit_int64(INT64_MIN), canon_lit_int64(INT64_MAX), canon_lit_float64(-0.0),
    canon_lit_float64(NAN), canon_lit_float64(INFINITY), canon_lit_float64(-INFINITY),
    canon_lit_float64(5e-324), canon_lit_float64(0.1), canon_lit_float64(1.7976931348623157e308),
    canon_lit_float64(123456789.0), canon_lit_string(weird), canon_lit_string(""),
    canon_lit_bool(1), canon_lit_bool(0), canon_lit_date(-719162), canon_lit_date(2932896),
    canon_lit_timestamp(INT64_C(1706695200123456)), canon_lit_timestamp(-1),
    canon_lit_null(CANON_BOOL), canon_lit_null(CANON_INT64), canon_lit_null(CANON_FLOAT64),
    canon_lit_null(CANON_STRING), canon_lit_null(CANON_DATE), canon_lit_null(CANON_TIMESTAMP),
  };
  enum { N = sizeof e / sizeof e[0] };
  const char *names[N];
  char buf[N][8];
  for (int i = 0; i < N; i++) {
    snprintf(buf[i], sizeof buf[i], "c%d", i);
    names[i] = buf[i];
  }
  canon_df *sel = ok(canon_select(src, e, names, N, &err), &err);
  char *json = round_trip(sel, NULL);
  cr_assert(strstr(json, "\"lit\":\t\"-9223372036854775808\""), "%s", json);
  cr_assert(strstr(json, "\"lit\":\t\"9223372036854775807\""), "%s", json);
  cr_assert(strstr(json, "\"lit\":\tnull,\n\t\t\t\t\t\t\"type\":\t\"timestamp\""), "%s", json);

  canon_session *s2 = open_serial();
  canon_df *root = NULL;
  cr_assert_eq(canon_plan_from_json(s2, json, NULL, &root, NULL, &err), 0, "%s", err.message);
  cr_assert_eq(root->nexprs, N);
  for (int i = 0; i < N; i++) {
    const canon__value *a = &sel->exprs[i]->lit, *b = &root->exprs[i]->lit;
    cr_assert_eq(root->exprs[i]->kind, CANON__E_LIT);
    cr_assert_eq(a->type, b->type, "literal %d", i);
    cr_assert_eq(a->is_null, b->is_null, "literal %d", i);
    if (a->is_null) continue;
    switch (a->type) {
    case CANON_BOOL: cr_assert_eq(a->v.b, b->v.b); break;
    case CANON_INT64:
    case CANON_TIMESTAMP: cr_assert_eq(a->v.i, b->v.i, "literal %d", i); break;
    case CANON_DATE: cr_assert_eq(a->v.d, b->v.d, "literal %d", i); break;
    case CANON_FLOAT64:
      cr_assert(memcmp(&a->v.f, &b->v.f, sizeof(double)) == 0 ||
                    (isnan(a->v.f) && isnan(b->v.f)),
                "literal %d: %.17g vs %.17g", i, a->v.f, b->v.f);
      cr_assert_eq(signbit(a->v.f), signbit(b->v.f));
      break;
    default:
      cr_assert_eq(a->slen, b->slen, "literal %d", i);
      cr_assert_eq(memcmp(a->s, b->s, a->slen), 0, "literal %d", i);
    }
  }
  free(json);
  canon_session_close(s2);
  canon_table_free(t);
  canon_session_close(s);
}

/* read_csv with a declared schema and another delimiter. */
Test(plan_json, read_csv_declared_schema_and_delimiter) {
  char *dir = tu_tmpdir(), path[600], doc[2048];
  snprintf(path, sizeof path, "%s/in.tsv", dir);
  tu_write_file(path, "a;b\n1;x\n2;\n");
  snprintf(doc, sizeof doc,
           "{\"canon_plan\": 1, \"nodes\": [{\"op\": \"read_csv\", \"id\": 5, \"path\": \"%s\", "
           "\"delimiter\": \";\", \"schema\": [{\"type\": \"float64\", \"name\": \"a\"}, "
           "{\"name\": \"b\", \"type\": \"string\"}]}], \"root\": 5}",
           path);
  canon_session *s = open_serial();
  canon_error err = {0};
  canon_df *root;
  cr_assert_eq(canon_plan_from_json(s, doc, "p.json", &root, NULL, &err), 0, "%s", err.message);
  cr_assert_eq(root->delimiter, ';');
  cr_assert_eq(root->schema_inferred, false);
  cr_assert_eq(canon_df_id(root), 5);
  char *got = tu_collect_csv(root);
  cr_assert_str_eq(got, "a,b\n1.0,x\n2.0,\n");
  free(got);
  free(round_trip(root, NULL));
  canon_session_close(s);
  tu_rmdir(dir);
  free(dir);
}

/* The optional keys may be left out; ids need not be 1..n. */
Test(plan_json, optional_keys_have_defaults) {
  const char *doc = PJ_HEAD ", {\"id\": 40, \"op\": \"sort\", \"input\": 1, \"keys\": "
                    "[{\"column\": \"s\"}]}, {\"id\": 7, \"op\": \"aggregate\", \"input\": 40, "
                    "\"keys\": [\"s\"], \"aggregates\": [{\"name\": \"n\", \"expr\": {\"fn\": "
                    "\"count_star\"}}]}, {\"id\": 8, \"op\": \"transform\", \"input\": 7, "
                    "\"name\": \"pj_copy\", \"schema\": [{\"name\": \"s\", \"type\": "
                    "\"string\"}, {\"name\": \"n\", \"type\": \"int64\"}]}], \"root\": 8}";
  canon_session *s = open_serial();
  canon_error err = {0};
  canon_df *root;
  canon_sink sink = {"x", "y"};
  cr_assert_eq(canon_plan_from_json(s, doc, NULL, &root, &sink, &err), 0, "%s", err.message);
  cr_assert_null(sink.kind);
  cr_assert_null(sink.path);
  const canon_df *sort = root->inputs[0]->inputs[0];
  cr_assert_eq(sort->sort[0].descending, 0);
  cr_assert_eq(sort->sort[0].nulls_first, 0);
  cr_assert_eq(root->inputs[0]->drop_null_keys, false);
  cr_assert_eq(root->nkeys, 0);
  cr_assert_eq(root->n, 0);
  char *json = to_json(root, NULL);
  cr_assert(strstr(json, "\"partition\":\t{\n\t\t\t\t\"by\":\t[],\n\t\t\t\t\"num\":\t\"0\","),
            "%s", json);
  free(json);
  canon_session_close(s);
}

/* ---- errors -------------------------------------------------------------- */

Test(plan_json, error_unknown_key_names_the_path) {
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"select\", \"input\": 1, \"columns\": [{\"name\": "
                     "\"b\", \"expr\": {\"fn\": \"add\", \"args\": [{\"col\": \"a\"}, "
                     "{\"colum\": \"a\"}]}}]}], \"root\": 2}",
             CANON_ERR_PLAN,
             "plan.json: $.nodes[1].columns[0].expr.args[1]: unknown key \"colum\"");
  load_fails(PJ_HEAD "], \"root\": 1, \"extra\": true}", CANON_ERR_PLAN,
             "plan.json: $: unknown key \"extra\"");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"limit\", \"input\": 1, \"n\": \"1\", \"columns\": "
                     "[]}], \"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1]: unknown key \"columns\"");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"filter\", \"input\": 1, \"predicate\": {\"col\": "
                     "\"a\", \"type\": \"int64\"}}], \"root\": 2}",
             CANON_ERR_PLAN,
             "plan.json: $.nodes[1].predicate: key \"type\" does not belong to a \"col\" "
             "expression");
}

Test(plan_json, error_duplicate_key) {
  load_fails("{\"canon_plan\": 1, \"nodes\": [{\"id\": 1, \"id\": 2, \"op\": \"table\", "
             "\"schema\": [], \"rows\": []}], \"root\": 1}",
             CANON_ERR_PLAN, "plan.json: $.nodes[0]: duplicate key \"id\"");
  load_fails(PJ_HEAD "], \"root\": 1, \"root\": 1}", CANON_ERR_PLAN,
             "plan.json: $: duplicate key \"root\"");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"filter\", \"input\": 1, \"predicate\": {\"fn\": "
                     "\"is_null\", \"args\": [{\"col\": \"a\", \"col\": \"s\"}]}}], \"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].predicate.args[0]: duplicate key \"col\"");
}

Test(plan_json, error_missing_keys) {
  load_fails(PJ_HEAD ", {\"id\": 2, \"input\": 1}], \"root\": 2}", CANON_ERR_PLAN,
             "plan.json: $.nodes[1]: missing required key \"op\"");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"filter\", \"predicate\": {\"col\": \"a\"}}], "
                     "\"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1]: missing required key \"input\"");
  load_fails(PJ_HEAD "]}", CANON_ERR_PLAN, "plan.json: $: missing required key \"root\"");
  load_fails("{\"nodes\": []}", CANON_ERR_PLAN,
             "plan.json: $: missing required key \"canon_plan\"");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"select\", \"input\": 1, \"columns\": [{\"expr\": "
                     "{\"col\": \"a\"}}]}], \"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].columns[0]: missing required key \"name\"");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"filter\", \"input\": 1, \"predicate\": {\"lit\": "
                     "\"1\"}}], \"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].predicate: missing required key \"type\"");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"filter\", \"input\": 1, \"predicate\": {}}], "
                     "\"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].predicate: an expression has exactly one of");
}

Test(plan_json, error_wrong_types) {
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"limit\", \"input\": \"1\", \"n\": \"3\"}], "
                     "\"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].input: must be an integer, got a string");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"limit\", \"input\": 1, \"n\": 3}], \"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].n: must be a string holding an integer");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"limit\", \"input\": 1, \"n\": \"-1\"}], "
                     "\"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].n: must be from 0 to");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"limit\", \"input\": 1, \"n\": \"1e3\"}], "
                     "\"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].n: must be a string holding an integer, got "
                             "\"1e3\"");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"filter\", \"input\": 1, \"predicate\": {\"lit\": "
                     "1, \"type\": \"int64\"}}], \"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].predicate.lit: must be a string holding the "
                             "value (or null), got a number");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"filter\", \"input\": 1, \"predicate\": {\"lit\": "
                     "\"12x\", \"type\": \"int64\"}}], \"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].predicate.lit: '12x' is not a valid int64");
  load_fails(PJ_HEAD ", {\"id\": 1.5, \"op\": \"limit\", \"input\": 1, \"n\": \"1\"}], "
                     "\"root\": 1}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].id: must be an integer from 1 to 2147483647");
  load_fails("[]", CANON_ERR_PLAN, "plan.json: $: a plan must be a JSON object, got an array");
  load_fails(PJ_HEAD ", 7], \"root\": 1}", CANON_ERR_PLAN,
             "plan.json: $.nodes[1]: a node must be an object, got a number");
  load_fails("{\"canon_plan\": 1, \"nodes\": [{\"id\": 1, \"op\": \"table\", \"schema\": "
             "[{\"name\": \"a\", \"type\": \"int32\"}], \"rows\": []}], \"root\": 1}",
             CANON_ERR_PLAN, "plan.json: $.nodes[0].schema[0].type: unknown type \"int32\"");
  load_fails("{\"canon_plan\": 1, \"nodes\": [{\"id\": 1, \"op\": \"table\", \"schema\": "
             "[{\"name\": \"a\", \"type\": \"int64\"}], \"rows\": [[\"1\"], [\"2\", \"3\"]]}], "
             "\"root\": 1}",
             CANON_ERR_PLAN, "plan.json: $.nodes[0].rows[1]: a row must have 1 cells");
  load_fails("{\"canon_plan\": 1, \"nodes\": [{\"id\": 1, \"op\": \"table\", \"schema\": "
             "[{\"name\": \"a\", \"type\": \"date\"}], \"rows\": [[\"2024-02-30\"]]}], "
             "\"root\": 1}",
             CANON_ERR_PLAN, "plan.json: $.nodes[0].rows[0][0]: '2024-02-30' is not a valid date");
}

Test(plan_json, error_version) {
  load_fails("{\"canon_plan\": 2, \"nodes\": [], \"whatever\": 1}", CANON_ERR_PLAN,
             "plan.json: $.canon_plan: unsupported plan format version 2 (this build reads "
             "version 1)");
  load_fails("{\"canon_plan\": \"1\", \"nodes\": []}", CANON_ERR_PLAN,
             "plan.json: $.canon_plan: must be the number 1, got a string");
}

Test(plan_json, error_unknown_op_fn_type_direction) {
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"pivot\", \"input\": 1}], \"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].op: unknown op \"pivot\"");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"select\", \"input\": 1, \"columns\": [{\"name\": "
                     "\"p\", \"expr\": {\"fn\": \"power\", \"args\": [{\"col\": \"a\"}]}}]}], "
                     "\"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].columns[0].expr.fn: unknown fn \"power\"");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"select\", \"input\": 1, \"columns\": [{\"name\": "
                     "\"p\", \"expr\": {\"fn\": \"cast\", \"to\": \"decimal\", \"args\": "
                     "[{\"col\": \"a\"}]}}]}], \"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].columns[0].expr.to: unknown type \"decimal\"");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"select\", \"input\": 1, \"columns\": [{\"name\": "
                     "\"p\", \"expr\": {\"fn\": \"add\", \"to\": \"int64\", \"args\": "
                     "[{\"col\": \"a\"}, {\"col\": \"a\"}]}}]}], \"root\": 2}",
             CANON_ERR_PLAN,
             "plan.json: $.nodes[1].columns[0].expr: key \"to\" belongs only to cast and try_cast");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"select\", \"input\": 1, \"columns\": [{\"name\": "
                     "\"p\", \"expr\": {\"fn\": \"add\", \"args\": [{\"col\": \"a\"}]}}]}], "
                     "\"root\": 2}",
             CANON_ERR_PLAN,
             "plan.json: $.nodes[1].columns[0].expr: fn \"add\" takes 2 arguments, got 1");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"sort\", \"input\": 1, \"keys\": [{\"column\": "
                     "\"a\", \"direction\": \"SORT_DIRECTION_CLUSTERED\"}]}], \"root\": 2}",
             CANON_ERR_PLAN,
             "plan.json: $.nodes[1].keys[0].direction: unknown sort direction "
             "\"SORT_DIRECTION_CLUSTERED\"");
  load_fails(PJ_HEAD "], \"root\": 1, \"sink\": {\"kind\": \"parquet\", \"path\": \"x\"}}",
             CANON_ERR_PLAN, "plan.json: $.sink.kind: unsupported sink kind \"parquet\"");
}

Test(plan_json, error_node_ids) {
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"limit\", \"input\": 3, \"n\": \"1\"}, {\"id\": 3, "
                     "\"op\": \"limit\", \"input\": 1, \"n\": \"1\"}], \"root\": 2}",
             CANON_ERR_PLAN,
             "plan.json: $.nodes[1].input: node id 3 is defined later, at $.nodes[2]");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"limit\", \"input\": 9, \"n\": \"1\"}], "
                     "\"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].input: no node has id 9");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"limit\", \"input\": 2, \"n\": \"1\"}], "
                     "\"root\": 2}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].input: a node cannot be its own input");
  load_fails(PJ_HEAD ", {\"id\": 1, \"op\": \"limit\", \"input\": 1, \"n\": \"1\"}], "
                     "\"root\": 1}",
             CANON_ERR_PLAN, "plan.json: $.nodes[1].id: duplicate node id 1 (also at $.nodes[0])");
  load_fails(PJ_HEAD "], \"root\": 4}", CANON_ERR_PLAN, "plan.json: $.root: no node has id 4");
  load_fails("{\"canon_plan\": 1, \"nodes\": [], \"root\": 1}", CANON_ERR_PLAN,
             "plan.json: $.nodes: a plan needs at least one node");
}

Test(plan_json, error_json_syntax_line_col) {
  load_fails("{\n  \"canon_plan\": 1,\n  \"nodes\": [,]\n}", CANON_ERR_PLAN,
             "plan.json:3:13: invalid JSON near ',]'");
  load_fails("{\"a\": 1} x", CANON_ERR_PLAN, "plan.json:1:10: invalid JSON near 'x'");
  load_fails("", CANON_ERR_PLAN, "plan.json:1:1: invalid JSON: unexpected end of input");
  load_fails("{\"a\":", CANON_ERR_PLAN, "plan.json:1:6: invalid JSON: unexpected end of input");
  /* Columns count characters, not bytes. */
  load_fails("{\"é✓\": tru}", CANON_ERR_PLAN, "plan.json:1:8: invalid JSON near 'tru}'");
  load_fails("{\"canon_plan\": 1,\n \"nodes\": [\"a\\u0000b\"]}", CANON_ERR_PLAN,
             "plan.json:2:14: a string holds \\u0000 (plans cannot carry NUL bytes) near");
}

/* A builder's complaint carries the path, the op and the JSON id. */
Test(plan_json, error_from_builder_names_the_node) {
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"limit\", \"input\": 1, \"n\": \"5\"}, {\"id\": 4, "
                     "\"op\": \"filter\", \"input\": 2, \"predicate\": {\"fn\": \"gt\", \"args\": "
                     "[{\"col\": \"x\"}, {\"lit\": \"1\", \"type\": \"int64\"}]}}], \"root\": 4}",
             CANON_ERR_NOT_FOUND,
             "plan.json: $.nodes[2].predicate (filter, id 4): unknown column 'x'");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"assign\", \"input\": 1, \"columns\": [{\"name\": "
                     "\"b\", \"expr\": {\"col\": \"a\"}}, {\"name\": \"c\", \"expr\": {\"fn\": "
                     "\"neg\", \"args\": [{\"col\": \"zz\"}]}}]}], \"root\": 2}",
             CANON_ERR_NOT_FOUND,
             "plan.json: $.nodes[1].columns[1].expr (assign, id 2): unknown column 'zz'");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"sort\", \"input\": 1, \"keys\": [{\"column\": "
                     "\"q\"}]}], \"root\": 2}",
             CANON_ERR_NOT_FOUND, "plan.json: $.nodes[1] (sort, id 2): unknown sort column 'q'");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"transform\", \"input\": 1, \"name\": \"nope\", "
                     "\"schema\": [{\"name\": \"a\", \"type\": \"int64\"}]}], \"root\": 2}",
             CANON_ERR_NOT_FOUND,
             "plan.json: $.nodes[1] (transform, id 2): unknown transform 'nope'");
  load_fails("{\"canon_plan\": 1, \"nodes\": [{\"id\": 3, \"op\": \"read_csv\", \"path\": "
             "\"/nonexistent/x.csv\"}], \"root\": 3}",
             CANON_ERR_IO, "plan.json: $.nodes[0] (read_csv, id 3): /nonexistent/x.csv");
  load_fails(PJ_HEAD ", {\"id\": 2, \"op\": \"transform\", \"input\": 1, \"name\": \"pj_copy\", "
                     "\"schema\": [{\"name\": \"a,b\", \"type\": \"int64\"}]}], \"root\": 2}",
             CANON_ERR_UNSUPPORTED, "plan.json: $.nodes[1].schema[0].name: column name \"a,b\"");
}

/* Hostile input ends in an error, never a crash. */
Test(plan_json, hostile_documents) {
  /* Nesting beyond cJSON's limit. */
  size_t depth = 100000;
  char *deep = malloc(2 * depth + 64);
  strcpy(deep, "{\"canon_plan\": 1, \"nodes\": ");
  size_t o = strlen(deep);
  for (size_t i = 0; i < depth; i++) deep[o++] = '[';
  for (size_t i = 0; i < depth; i++) deep[o++] = ']';
  strcpy(deep + o, "}");
  load_fails(deep, CANON_ERR_PLAN, "plan.json:1:");
  free(deep);
  /* An expression nested as deep as the document may be is refused by the
   * builders' rules or read fine, but does not crash. */
  size_t n = 480;
  char *e = malloc(n * 64 + 1024);
  strcpy(e, PJ_HEAD ", {\"id\": 2, \"op\": \"filter\", \"input\": 1, \"predicate\": ");
  for (size_t i = 0; i < n; i++) strcat(e, "{\"fn\": \"not\", \"args\": [");
  strcat(e, "{\"lit\": \"true\", \"type\": \"bool\"}");
  for (size_t i = 0; i < n; i++) strcat(e, "]}");
  strcat(e, "}], \"root\": 2}");
  canon_session *s = open_serial();
  canon_error err = {0};
  canon_df *root;
  cr_assert_eq(canon_plan_from_json(s, e, NULL, &root, NULL, &err), 0, "%s", err.message);
  free(round_trip(root, NULL));
  canon_session_close(s);
  free(e);
  /* Huge numbers where ids belong. */
  load_fails(PJ_HEAD "], \"root\": 1e300}", CANON_ERR_PLAN,
             "plan.json: $.root: must be an integer from 1 to 2147483647");
  load_fails(PJ_HEAD "], \"root\": -1}", CANON_ERR_PLAN, "plan.json: $.root: must be an integer");
}

/* The writer refuses what the reader could not read back. */
Test(plan_json, writer_limits) {
  canon_session *s = open_serial();
  canon_error err = {0};
  canon_table *t = tbl("a:bool", "true\n");
  canon_df *src = ok(canon_from_table(s, t, &err), &err);
  canon_expr *e = canon_col("a");
  for (int i = 0; i < 600; i++) e = canon_not(e);
  canon_df *f = ok(canon_filter(src, e, &err), &err);
  cr_assert_null(canon_plan_to_json(f, NULL, &err));
  cr_assert_eq(err.code, CANON_ERR_UNSUPPORTED);
  cr_assert(strstr(err.message, "nested too deeply"), "%s", err.message);

  canon_expr *nul = canon_lit_stringn("a\0b", 3);
  canon_df *sel = ok(canon_select(src, &nul, (const char *[]){"x"}, 1, &err), &err);
  cr_assert_null(canon_plan_to_json(sel, NULL, &err));
  cr_assert(strstr(err.message, "NUL byte"), "%s", err.message);

  canon_sink bad = {"parquet", "x"};
  cr_assert_null(canon_plan_to_json(src, &bad, &err));
  cr_assert(strstr(err.message, "unsupported sink kind"), "%s", err.message);
  cr_assert_null(canon_plan_to_json(NULL, NULL, &err));
  cr_assert_eq(err.code, CANON_ERR_INVALID);
  canon_table_free(t);
  canon_session_close(s);
}

/* Without an origin the document is called "<plan>"; err may be NULL. */
Test(plan_json, error_without_origin) {
  canon_session *s = open_serial();
  canon_error err = {0};
  canon_df *root;
  cr_assert_eq(canon_plan_from_json(s, "{}", NULL, &root, NULL, &err), CANON_ERR_PLAN);
  cr_assert_str_eq(err.message, "<plan>: $: missing required key \"canon_plan\" (the plan "
                                "format version, 1)");
  cr_assert_eq(canon_plan_from_json(s, "{", NULL, &root, NULL, NULL), CANON_ERR_PLAN);
  cr_assert_eq(canon_plan_from_json(s, NULL, NULL, &root, NULL, &err), CANON_ERR_INVALID);
  canon_session_close(s);
}

/* ---- the example plan ---------------------------------------------------- */

/* examples/plans/sales.json is exactly what the writer produces for it, and
 * runs (paths in it are relative to the repository root). */
Test(plan_json, example_plan) {
  /* CANON_TEST_DATA is <repo>/tests/data (which need not exist). */
  const char *data = getenv("CANON_TEST_DATA");
  cr_assert(data);
  char root_dir[4096];
  snprintf(root_dir, sizeof root_dir, "%s", data);
  for (int up = 0; up < 2; up++) {
    char *slash = strrchr(root_dir, '/');
    cr_assert(slash);
    *slash = '\0';
  }
  cr_assert_eq(chdir(root_dir), 0, "%s", root_dir);
  const char *file = "examples/plans/sales.json";
  FILE *fp = fopen(file, "rb");
  cr_assert(fp, "%s", file);
  char *text = calloc(1, 1 << 16);
  size_t len = fread(text, 1, (1 << 16) - 1, fp);
  fclose(fp);
  cr_assert_gt(len, 0);

  char *again = rewrite(text);
  size_t alen = strlen(again);
  cr_assert(len == alen + 1 && text[alen] == '\n' && memcmp(text, again, alen) == 0,
            "examples/plans/sales.json is not in the writer's form; the writer gives:\n%s",
            again);
  free(again);

  canon_session *s = open_serial();
  canon_error err = {0};
  canon_df *root;
  canon_sink sink;
  cr_assert_eq(canon_plan_from_json(s, text, file, &root, &sink, &err), 0, "%s", err.message);
  cr_assert_str_eq(sink.kind, "csv");
  char *got = tu_collect_csv(root);
  cr_assert_str_eq(got, "region,orders,units,revenue,avg_price\n"
                        "north,5,28,201.25,11.05\n"
                        "south,4,31,167.25,7.0625\n"
                        "east,4,28,109.0,9.125\n"
                        ",3,6,60.75,11.416666666666666\n"
                        "west,2,9,41.5,7.25\n");
  free(got);
  free(text);
  canon_session_close(s);
}
