/* conformance_case.c — reading one conformance case file (format in
 * conformance/README.md).
 *
 * Case files are checked as strictly as plan JSON: unknown and duplicate
 * keys, wrong JSON types and ragged rows are errors naming the file and the
 * place ($.expected.rows[2]).  The case's plan is rewritten into a plan
 * document canon reads: every {"op": "input", "name": "t"} node becomes a
 * "table" node holding the input's rows (or a "read_csv" node over a file
 * written from the input's CSV text), and "canon_plan": 1 is added.  The
 * plan's own nodes are checked by canon_plan_from_json when the case runs,
 * so an op this build does not know makes the case fail, loudly. */
#include "conformance.h"

#include "canon_backend.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctx {
  const char *file;
  char *msg;
  size_t cap;
} ctx;

/* Fill the message "<file>: <where>: <what>"; returns -1. */
static int fail(ctx *x, const char *where, const char *fmt, ...) {
  char what[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(x->msg, x->cap, "%s: %s: %s", x->file, where, what);
  return -1;
}

static const char *json_kind(const cJSON *v) {
  if (cJSON_IsString(v)) return "a string";
  if (cJSON_IsNumber(v)) return "a number";
  if (cJSON_IsArray(v)) return "an array";
  if (cJSON_IsObject(v)) return "an object";
  if (cJSON_IsBool(v)) return "a boolean";
  if (cJSON_IsNull(v)) return "null";
  return "an invalid value";
}

/* Every key of obj must be in `allowed` (NULL-terminated) and appear once. */
static int check_keys(ctx *x, const cJSON *obj, const char *where, const char *const *allowed) {
  for (const cJSON *k = obj->child; k; k = k->next) {
    int known = 0;
    for (int i = 0; allowed[i] && !known; i++) known = strcmp(k->string, allowed[i]) == 0;
    if (!known) {
      char list[256] = "";
      for (int i = 0; allowed[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, allowed[i], sizeof list - strlen(list) - 1);
      }
      return fail(x, where, "unknown key \"%s\" (expected: %s)", k->string, list);
    }
    for (const cJSON *o = obj->child; o != k; o = o->next)
      if (strcmp(o->string, k->string) == 0)
        return fail(x, where, "duplicate key \"%s\"", k->string);
  }
  return 0;
}

/* The member `key` of obj; with `required`, its absence is an error. */
static const cJSON *member(ctx *x, const cJSON *obj, const char *where, const char *key,
                           int required, int *rc) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v && required) *rc = fail(x, where, "missing required key \"%s\"", key);
  return v;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* An array of strings into a malloc'd char*[] (*n entries). */
static int string_list(ctx *x, const cJSON *arr, const char *where, char ***out, int *n) {
  if (!cJSON_IsArray(arr)) return fail(x, where, "must be an array of strings, got %s", json_kind(arr));
  int k = cJSON_GetArraySize(arr);
  char **v = calloc((size_t)(k ? k : 1), sizeof *v);
  if (!v) return fail(x, where, "out of memory");
  *out = v;
  *n = 0;
  for (const cJSON *e = arr->child; e; e = e->next) {
    if (!cJSON_IsString(e)) return fail(x, where, "element %d must be a string, got %s", *n, json_kind(e));
    if (!(v[*n] = dup_str(e->valuestring))) return fail(x, where, "out of memory");
    (*n)++;
  }
  return 0;
}

/* Schema text "k:string,v:int64" into a plan-format schema array. */
static cJSON *schema_array(ctx *x, const char *text, const char *where, int *nfields) {
  canon_error err;
  canon_error_clear(&err);
  canon_schema *s = canon_schema_parse(text, &err);
  if (!s) {
    fail(x, where, "%s", err.message);
    return NULL;
  }
  cJSON *arr = cJSON_CreateArray();
  *nfields = canon_schema_num_fields(s);
  for (int i = 0; arr && i < *nfields; i++) {
    cJSON *f = cJSON_CreateObject();
    if (!f || !cJSON_AddItemToArray(arr, f) ||
        !cJSON_AddStringToObject(f, "name", canon_schema_field_name(s, i)) ||
        !cJSON_AddStringToObject(f, "type", canon_type_name(canon_schema_field_type(s, i)))) {
      cJSON_Delete(arr);
      arr = NULL;
    }
  }
  canon_schema_free(s);
  if (!arr) fail(x, where, "out of memory");
  return arr;
}

/* Check rows: an array of arrays of `ncols` cells, each a string or null. */
static int check_rows(ctx *x, const cJSON *rows, const char *where, int ncols) {
  char at[128];
  if (!cJSON_IsArray(rows)) return fail(x, where, "must be an array of rows, got %s", json_kind(rows));
  int r = 0;
  for (const cJSON *row = rows->child; row; row = row->next, r++) {
    snprintf(at, sizeof at, "%s[%d]", where, r);
    if (!cJSON_IsArray(row)) return fail(x, at, "a row must be an array, got %s", json_kind(row));
    if (cJSON_GetArraySize(row) != ncols)
      return fail(x, at, "a row must have %d cells (one per schema field), got %d", ncols,
                  cJSON_GetArraySize(row));
    int c = 0;
    for (const cJSON *cell = row->child; cell; cell = cell->next, c++)
      if (!cJSON_IsString(cell) && !cJSON_IsNull(cell)) {
        snprintf(at, sizeof at, "%s[%d][%d]", where, r, c);
        return fail(x, at, "a cell must be a string (the value's canonical text) or null, got %s",
                    json_kind(cell));
      }
  }
  return 0;
}

/* Rows as header-less CSV for canon_testing_table: every value quoted (so
 * "" stays the empty string), NULL an empty unquoted field. */
static char *rows_to_csv(const cJSON *rows) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  for (const cJSON *row = rows->child; row; row = row->next) {
    for (const cJSON *cell = row->child; cell; cell = cell->next) {
      if (cell != row->child) fputc(',', f);
      if (cJSON_IsNull(cell)) continue;
      fputc('"', f);
      for (const char *p = cell->valuestring; *p; p++) {
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
      }
      fputc('"', f);
    }
    fputc('\n', f);
  }
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* ---- inputs -------------------------------------------------------------- */

/* Build the node that replaces {"op":"input","name":N} for input `in`. */
static cJSON *input_node(ctx *x, const cJSON *in, const char *name, const cJSON *id,
                         const char *tmpdir) {
  static int file_seq;
  char where[160];
  int rc = 0;
  snprintf(where, sizeof where, "$.inputs.%s", name);
  if (!cJSON_IsObject(in)) {
    fail(x, where, "an input must be an object, got %s", json_kind(in));
    return NULL;
  }
  static const char *const keys[] = {"schema", "rows", "csv", NULL};
  if (check_keys(x, in, where, keys)) return NULL;
  const cJSON *schema = member(x, in, where, "schema", 0, &rc);
  const cJSON *rows = member(x, in, where, "rows", 0, &rc);
  const cJSON *csv = member(x, in, where, "csv", 0, &rc);
  if (!!rows == !!csv) {
    fail(x, where, "an input has exactly one of \"rows\" and \"csv\"");
    return NULL;
  }
  if (schema && !cJSON_IsString(schema)) {
    fail(x, where, "\"schema\" must be a string such as \"k:string,v:int64\", got %s", json_kind(schema));
    return NULL;
  }
  if (rows && !schema) {
    fail(x, where, "an input with \"rows\" needs a \"schema\"");
    return NULL;
  }
  int nf = 0;
  cJSON *arr = NULL;
  cJSON *node = cJSON_CreateObject();
  if (!node || !cJSON_AddItemToObject(node, "id", cJSON_Duplicate(id, 1))) goto oom;
  if (schema) {
    char at[192];
    snprintf(at, sizeof at, "%s.schema", where);
    if (!(arr = schema_array(x, schema->valuestring, at, &nf))) goto bad;
  }
  if (rows) {
    char at[192];
    snprintf(at, sizeof at, "%s.rows", where);
    if (check_rows(x, rows, at, nf)) goto bad;
    if (!cJSON_AddStringToObject(node, "op", "table") || !cJSON_AddItemToObject(node, "schema", arr))
      goto oom;
    arr = NULL;
    if (!cJSON_AddItemToObject(node, "rows", cJSON_Duplicate(rows, 1))) goto oom;
    return node;
  }
  if (!cJSON_IsString(csv)) {
    fail(x, where, "\"csv\" must be a string (the file's text, header first), got %s", json_kind(csv));
    goto bad;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/input-%d.csv", tmpdir, ++file_seq);
  FILE *f = fopen(path, "wb");
  size_t n = strlen(csv->valuestring);
  int ok = f && fwrite(csv->valuestring, 1, n, f) == n;
  if (f && fclose(f) != 0) ok = 0;
  if (!ok) {
    fail(x, where, "cannot write %s", path);
    goto bad;
  }
  if (!cJSON_AddStringToObject(node, "op", "read_csv") || !cJSON_AddStringToObject(node, "path", path))
    goto oom;
  if (arr && !cJSON_AddItemToObject(node, "schema", arr)) goto oom;
  return node;
oom:
  fail(x, where, "out of memory");
bad:
  cJSON_Delete(arr);
  cJSON_Delete(node);
  return NULL;
}

/* The plan document canon reads, as text. */
static char *build_plan(ctx *x, const cJSON *plan, const cJSON *inputs, const char *tmpdir) {
  int rc = 0;
  if (!cJSON_IsObject(plan)) {
    fail(x, "$.plan", "must be an object, got %s", json_kind(plan));
    return NULL;
  }
  static const char *const keys[] = {"nodes", "root", NULL};
  if (check_keys(x, plan, "$.plan", keys)) return NULL;
  const cJSON *nodes = member(x, plan, "$.plan", "nodes", 1, &rc);
  const cJSON *root = member(x, plan, "$.plan", "root", 1, &rc);
  if (rc) return NULL;
  if (!cJSON_IsArray(nodes)) {
    fail(x, "$.plan.nodes", "must be an array, got %s", json_kind(nodes));
    return NULL;
  }
  if (inputs && !cJSON_IsObject(inputs)) {
    fail(x, "$.inputs", "must be an object (input name -> table), got %s", json_kind(inputs));
    return NULL;
  }
  static const char *const in_keys[] = {"id", "op", "name", NULL};
  cJSON *doc = cJSON_CreateObject();
  cJSON *out = cJSON_CreateArray();
  char *text = NULL;
  if (!doc || !out || !cJSON_AddNumberToObject(doc, "canon_plan", 1) ||
      !cJSON_AddItemToObject(doc, "nodes", out)) {
    cJSON_Delete(out);
    fail(x, "$.plan", "out of memory");
    goto done;
  }
  int i = 0;
  for (const cJSON *n = nodes->child; n; n = n->next, i++) {
    char where[64];
    snprintf(where, sizeof where, "$.plan.nodes[%d]", i);
    const cJSON *op = cJSON_IsObject(n) ? cJSON_GetObjectItemCaseSensitive(n, "op") : NULL;
    cJSON *copy;
    if (cJSON_IsString(op) && strcmp(op->valuestring, "input") == 0) {
      if (check_keys(x, n, where, in_keys)) goto done;
      const cJSON *id = member(x, n, where, "id", 1, &rc);
      const cJSON *name = member(x, n, where, "name", 1, &rc);
      if (rc) goto done;
      if (!cJSON_IsString(name)) {
        fail(x, where, "\"name\" must be a string naming an input, got %s", json_kind(name));
        goto done;
      }
      const cJSON *in = inputs ? cJSON_GetObjectItemCaseSensitive(inputs, name->valuestring) : NULL;
      if (!in) {
        fail(x, where, "no input named \"%s\" in $.inputs", name->valuestring);
        goto done;
      }
      if (!(copy = input_node(x, in, name->valuestring, id, tmpdir))) goto done;
    } else if (!(copy = cJSON_Duplicate(n, 1))) {
      fail(x, where, "out of memory");
      goto done;
    }
    if (!cJSON_AddItemToArray(out, copy)) {
      cJSON_Delete(copy);
      fail(x, where, "out of memory");
      goto done;
    }
  }
  /* An input no node reads is almost certainly a typo in the case. */
  for (const cJSON *in = inputs ? inputs->child : NULL; in; in = in->next) {
    int used = 0;
    for (const cJSON *n = nodes->child; n && !used; n = n->next) {
      const cJSON *op = cJSON_GetObjectItemCaseSensitive(n, "op");
      const cJSON *name = cJSON_GetObjectItemCaseSensitive(n, "name");
      used = cJSON_IsString(op) && strcmp(op->valuestring, "input") == 0 && cJSON_IsString(name) &&
             strcmp(name->valuestring, in->string) == 0;
    }
    if (!used) {
      char where[160];
      snprintf(where, sizeof where, "$.inputs.%s", in->string);
      fail(x, where, "no \"input\" node reads this input");
      goto done;
    }
  }
  if (!cJSON_AddItemToObject(doc, "root", cJSON_Duplicate(root, 1)) ||
      !(text = cJSON_PrintUnformatted(doc)))
    fail(x, "$.plan", "out of memory");
done:
  cJSON_Delete(doc);
  return text;
}

/* ---- expected ------------------------------------------------------------- */

static int load_expected(ctx *x, const cJSON *ex, conf_case *c) {
  int rc = 0;
  if (!cJSON_IsObject(ex)) return fail(x, "$.expected", "must be an object, got %s", json_kind(ex));
  if (cJSON_GetObjectItemCaseSensitive(ex, "error")) {
    static const char *const keys[] = {"error", "message_contains", NULL};
    if (check_keys(x, ex, "$.expected", keys)) return -1;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(ex, "error");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(ex, "message_contains");
    if (!cJSON_IsString(e)) return fail(x, "$.expected.error", "must be a string, got %s", json_kind(e));
    int known = 0;
    for (int k = 1; k < CANON_ERR__COUNT && !known; k++)
      known = strcmp(canon_errcode_name(k), e->valuestring) == 0;
    if (!known)
      return fail(x, "$.expected.error", "unknown error code name \"%s\" (see canon_errcode_name)",
                  e->valuestring);
    if (m && !cJSON_IsString(m))
      return fail(x, "$.expected.message_contains", "must be a string, got %s", json_kind(m));
    c->expect_error = 1;
    if (!(c->error_name = dup_str(e->valuestring))) return fail(x, "$.expected", "out of memory");
    if (m && !(c->message_contains = dup_str(m->valuestring)))
      return fail(x, "$.expected", "out of memory");
    return 0;
  }
  static const char *const keys[] = {"schema", "rows", "order", NULL};
  if (check_keys(x, ex, "$.expected", keys)) return -1;
  const cJSON *schema = member(x, ex, "$.expected", "schema", 1, &rc);
  const cJSON *rows = member(x, ex, "$.expected", "rows", 1, &rc);
  const cJSON *order = member(x, ex, "$.expected", "order", 1, &rc);
  if (rc) return rc;
  if (!cJSON_IsString(schema))
    return fail(x, "$.expected.schema", "must be a string such as \"k:string,n:int64\", got %s",
                json_kind(schema));
  int nf = 0;
  cJSON *arr = schema_array(x, schema->valuestring, "$.expected.schema", &nf);
  if (!arr) return -1;
  cJSON_Delete(arr);
  if (check_rows(x, rows, "$.expected.rows", nf)) return -1;
  if (cJSON_IsString(order) && strcmp(order->valuestring, "any") == 0) {
    c->order = CANON_TESTING_ANY;
  } else if (cJSON_IsString(order) && strcmp(order->valuestring, "exact") == 0) {
    c->order = CANON_TESTING_EXACT;
  } else if (cJSON_IsObject(order)) {
    static const char *const okeys[] = {"ties", NULL};
    if (check_keys(x, order, "$.expected.order", okeys)) return -1;
    const cJSON *t = member(x, order, "$.expected.order", "ties", 1, &rc);
    if (rc || string_list(x, t, "$.expected.order.ties", &c->ties, &c->nties)) return -1;
    if (c->nties == 0) return fail(x, "$.expected.order.ties", "needs at least one column");
    c->order = CANON_TESTING_TIES;
  } else {
    return fail(x, "$.expected.order", "must be \"any\", \"exact\" or {\"ties\": [columns]}");
  }
  if (!(c->schema = dup_str(schema->valuestring)) || !(c->rows_csv = rows_to_csv(rows)))
    return fail(x, "$.expected", "out of memory");
  return 0;
}

/* ---- the case --------------------------------------------------------------- */

static const struct {
  const char *name;
  unsigned bit;
} caps[] = {
  {"partitions", CANON_CAP_PARTITIONS}, {"parallel", CANON_CAP_PARALLEL},
  {"isolation", CANON_CAP_ISOLATION},   {"distributed", CANON_CAP_DISTRIBUTED},
  {"transform", CANON_CAP_TRANSFORM},
};

unsigned conf_capability_bit(const char *name) {
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
    if (strcmp(caps[i].name, name) == 0) return caps[i].bit;
  return 0;
}

const char *conf_capability_name(unsigned bit) {
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
    if (caps[i].bit == bit) return caps[i].name;
  return "?";
}

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      char *nb = realloc(buf, cap);
      if (!nb) break;
      buf = nb;
    }
    size_t got = fread(buf + len, 1, cap - len - 1, f);
    len += got;
    if (got == 0) {
      if (ferror(f)) break;
      fclose(f);
      buf[len] = '\0';
      return buf;
    }
  }
  fclose(f);
  free(buf);
  return NULL;
}

int conf_case_load(const char *path, const char *name, const char *tmpdir, conf_case *c,
                   char *msg, size_t cap) {
  ctx x = {path, msg, cap};
  int rc = 0;
  memset(c, 0, sizeof *c);
  if (!(c->name = dup_str(name)) || !(c->path = dup_str(path))) return fail(&x, "$", "out of memory");
  char *text = read_text(path);
  if (!text) return fail(&x, "$", "cannot read the file");
  cJSON *doc = cJSON_ParseWithOpts(text, NULL, 1);
  if (!doc) {
    const char *at = cJSON_GetErrorPtr();
    int line = 1;
    for (const char *p = text; at && p < at && *p; p++) line += *p == '\n';
    free(text);
    return fail(&x, "$", "invalid JSON near line %d", line);
  }
  free(text);
  static const char *const keys[] = {"description", "tags", "requires", "inputs",
                                     "plan", "expected", NULL};
  if (!cJSON_IsObject(doc)) {
    rc = fail(&x, "$", "a case must be a JSON object, got %s", json_kind(doc));
    goto out;
  }
  if ((rc = check_keys(&x, doc, "$", keys))) goto out;
  const cJSON *desc = member(&x, doc, "$", "description", 1, &rc);
  const cJSON *tags = member(&x, doc, "$", "tags", 0, &rc);
  const cJSON *req = member(&x, doc, "$", "requires", 0, &rc);
  const cJSON *inputs = member(&x, doc, "$", "inputs", 0, &rc);
  const cJSON *plan = member(&x, doc, "$", "plan", 1, &rc);
  const cJSON *ex = member(&x, doc, "$", "expected", 1, &rc);
  if (rc) goto out;
  if (!cJSON_IsString(desc) || !*desc->valuestring) {
    rc = fail(&x, "$.description", "must be a non-empty string");
    goto out;
  }
  if (tags && (rc = string_list(&x, tags, "$.tags", &c->tags, &c->ntags))) goto out;
  if (req) {
    char **names = NULL;
    int n = 0;
    rc = string_list(&x, req, "$.requires", &names, &n);
    for (int i = 0; i < n; i++) {
      unsigned bit = conf_capability_bit(names[i]);
      if (!bit && rc == 0)
        rc = fail(&x, "$.requires", "unknown capability \"%s\" (expected partitions, parallel, "
                  "isolation, distributed or transform)", names[i]);
      c->requires |= bit;
      free(names[i]);
    }
    free(names);
    if (rc) goto out;
  }
  if (!(c->plan_json = build_plan(&x, plan, inputs, tmpdir))) {
    rc = -1;
    goto out;
  }
  rc = load_expected(&x, ex, c);
out:
  cJSON_Delete(doc);
  return rc;
}

void conf_case_free(conf_case *c) {
  free(c->name);
  free(c->path);
  for (int i = 0; i < c->ntags; i++) free(c->tags[i]);
  free(c->tags);
  free(c->plan_json);
  free(c->error_name);
  free(c->message_contains);
  free(c->schema);
  free(c->rows_csv);
  for (int i = 0; i < c->nties; i++) free(c->ties[i]);
  free(c->ties);
  memset(c, 0, sizeof *c);
}
