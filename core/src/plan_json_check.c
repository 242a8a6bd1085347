/* plan_json_check.c — checked access to a plan JSON document.
 *
 * The pieces plan_json_read.c assembles nodes from.  Everything here is
 * strict: unknown keys, duplicate keys, missing keys and wrong JSON types are
 * errors, each naming its place in the document as a path
 * ("$.nodes[2].columns[0].expr.args[1]"), and values are parsed by the same
 * code that reads CSV cells, so every literal arrives exactly.
 *
 * Sections: paths and messages; generic key and type checks; expressions;
 * schemas, sort keys and table rows.
 */
#include "plan_json.h"

#include "kernels.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>

/* ---- paths and messages ----------------------------------------------- */

/* Append text to the path; returns the previous length to restore.  Paths
 * are bounded by cJSON's nesting limit, so they stay small. */
size_t canon__pj_push(canon__pj_reader *r, const char *fmt, ...) {
  size_t old = r->plen;
  char piece[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(piece, sizeof piece, fmt, ap);
  va_end(ap);
  size_t len = n < 0 ? 0 : (size_t)n < sizeof piece ? (size_t)n : sizeof piece - 1;
  if (r->plen + len + 1 > r->pcap) {
    size_t ncap = (r->plen + len + 1) * 2;
    char *np = canon__realloc(r->path, ncap);
    if (!np) return old; /* the path in a message is then shorter, nothing worse */
    r->path = np;
    r->pcap = ncap;
  }
  memcpy(r->path + r->plen, piece, len);
  r->plen += len;
  r->path[r->plen] = '\0';
  return old;
}

void canon__pj_pop(canon__pj_reader *r, size_t len) {
  r->plen = len;
  if (r->path) r->path[len] = '\0';
}

const char *canon__pj_path(const canon__pj_reader *r) { return r->path ? r->path : "$"; }

/* Set err to "<origin>: <path>: <message>" and return code. */
int canon__pj_fail(canon__pj_reader *r, int code, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return canon__seterr(r->err, code, "%s: %s: %s", r->origin, canon__pj_path(r), msg);
}

/* Like canon__pj_fail(), one level deeper: at <path>.<key>. */
int canon__pj_fail_at(canon__pj_reader *r, const char *key, int code, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t mark = canon__pj_push(r, ".%s", key);
  int rc = canon__pj_fail(r, code, "%s", msg);
  canon__pj_pop(r, mark);
  return rc;
}

/* Document text for a message: in double quotes, control characters
 * escaped, cut after 48 bytes. */
const char *canon__pj_quote(const char *s, char *buf, size_t cap) {
  size_t o = 0;
  buf[o++] = '"';
  for (size_t i = 0; s && s[i] && o + 8 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (i >= 48 && (c & 0xC0) != 0x80) { /* cut between characters */
      o += (size_t)snprintf(buf + o, cap - o, "...");
      break;
    }
    if (c < 0x20 || c == 0x7f)
      o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    else if (c == '"' || c == '\\')
      o += (size_t)snprintf(buf + o, cap - o, "\\%c", c);
    else
      buf[o++] = (char)c;
  }
  buf[o++] = '"';
  buf[o] = '\0';
  return buf;
}

const char *canon__pj_jtype(const cJSON *j) {
  if (cJSON_IsNull(j)) return "null";
  if (cJSON_IsBool(j)) return "a boolean";
  if (cJSON_IsNumber(j)) return "a number";
  if (cJSON_IsString(j)) return "a string";
  if (cJSON_IsArray(j)) return "an array";
  if (cJSON_IsObject(j)) return "an object";
  return "invalid";
}

/* ---- generic key and type checks --------------------------------------- */

/* Every key of obj must be one of allowed[] and appear once.  cJSON keeps
 * duplicate keys as separate children, so they are found by walking them;
 * a bit per allowed key keeps this linear however large the object. */
int canon__pj_keys(canon__pj_reader *r, const cJSON *obj, const char *const *allowed, int n) {
  uint32_t seen = 0;
  char q[128];
  for (const cJSON *c = obj->child; c; c = c->next) {
    int k = 0;
    while (k < n && (!c->string || strcmp(c->string, allowed[k]) != 0)) k++;
    if (k == n) {
      char list[256];
      size_t o = 0;
      for (int i = 0; i < n && o < sizeof list; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", allowed[i]);
      return canon__pj_fail(r, CANON_ERR_PLAN, "unknown key %s (expected: %s)",
                            canon__pj_quote(c->string, q, sizeof q), list);
    }
    if (seen & (UINT32_C(1) << k))
      return canon__pj_fail(r, CANON_ERR_PLAN, "duplicate key %s",
                            canon__pj_quote(c->string, q, sizeof q));
    seen |= UINT32_C(1) << k;
  }
  return 0;
}

/* Child key of obj (keys already checked unique), or NULL; a missing
 * required key is reported. */
const cJSON *canon__pj_member(canon__pj_reader *r, const cJSON *obj, const char *key,
                              bool required, int *rc) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
  *rc = 0;
  if (!j && required)
    *rc = canon__pj_fail(r, CANON_ERR_PLAN, "missing required key \"%s\"", key);
  return j;
}

/* A member that must hold one JSON type (by cJSON's type test). */
const cJSON *canon__pj_member_of(canon__pj_reader *r, const cJSON *obj, const char *key,
                                 bool required, cJSON_bool (*is)(const cJSON *),
                                 const char *want, int *rc) {
  const cJSON *j = canon__pj_member(r, obj, key, required, rc);
  if (j && !is(j)) {
    *rc = canon__pj_fail_at(r, key, CANON_ERR_PLAN, "must be %s, got %s", want,
                            canon__pj_jtype(j));
    return NULL;
  }
  return j;
}

int canon__pj_string(canon__pj_reader *r, const cJSON *obj, const char *key, bool required,
                     const char **out) {
  int rc;
  const cJSON *j = canon__pj_member_of(r, obj, key, required, cJSON_IsString, "a string", &rc);
  *out = j ? j->valuestring : NULL;
  return rc;
}

/* An integer given as a JSON number (ids, the version) within [lo, hi]. */
int canon__pj_int(canon__pj_reader *r, const cJSON *obj, const char *key, int lo, int hi,
                  int *out) {
  int rc;
  const cJSON *j = canon__pj_member_of(r, obj, key, true, cJSON_IsNumber, "an integer", &rc);
  if (!j) return rc;
  double d = j->valuedouble;
  if (!(d >= lo && d <= hi) || d != floor(d))
    return canon__pj_fail_at(r, key, CANON_ERR_PLAN,
                             "must be an integer from %d to %d, got %.17g", lo, hi, d);
  *out = (int)d;
  return 0;
}

/* A 64-bit integer written as a string ("10"); JSON numbers are refused
 * because cJSON keeps them as doubles, exact only up to 2^53. */
int canon__pj_i64(canon__pj_reader *r, const cJSON *obj, const char *key, int64_t lo,
                  int64_t hi, int64_t *out) {
  int rc;
  const cJSON *j = canon__pj_member(r, obj, key, false, &rc);
  if (!j) return 0;
  if (!cJSON_IsString(j))
    return canon__pj_fail_at(r, key, CANON_ERR_PLAN,
                             "must be a string holding an integer (64-bit integers travel as "
                             "strings), got %s",
                             canon__pj_jtype(j));
  canon__value v = {0};
  char q[128];
  if (canon__parse_value(CANON_INT64, j->valuestring, strlen(j->valuestring), false, &v,
                         NULL) != 0)
    return canon__pj_fail_at(r, key, CANON_ERR_PLAN,
                             "must be a string holding an integer, got %s",
                             canon__pj_quote(j->valuestring, q, sizeof q));
  if (v.v.i < lo || v.v.i > hi)
    return canon__pj_fail_at(r, key, CANON_ERR_PLAN,
                             "must be from %" PRId64 " to %" PRId64 ", got %" PRId64, lo, hi,
                             v.v.i);
  *out = v.v.i;
  return 0;
}

/* An array of strings, each checked non-NULL; *out points into the
 * document (malloc'd array, valid while the document lives). */
int canon__pj_names(canon__pj_reader *r, const cJSON *obj, const char *key, bool required,
                    const char ***out, int *n) {
  int rc;
  const cJSON *a = canon__pj_member_of(r, obj, key, required, cJSON_IsArray, "an array", &rc);
  *out = NULL;
  *n = 0;
  if (!a) return rc;
  int count = cJSON_GetArraySize(a);
  const char **names = canon__calloc((size_t)count, sizeof *names);
  if (!names) return canon__nomem(r->err);
  int i = 0;
  for (const cJSON *c = a->child; c; c = c->next, i++) {
    if (!cJSON_IsString(c)) {
      size_t mark = canon__pj_push(r, ".%s[%d]", key, i);
      rc = canon__pj_fail(r, CANON_ERR_PLAN, "must be a string (a column name), got %s",
                          canon__pj_jtype(c));
      canon__pj_pop(r, mark);
      free(names);
      return rc;
    }
    names[i] = c->valuestring;
  }
  *out = names;
  *n = count;
  return 0;
}

/* ---- expressions ------------------------------------------------------- */

static const char *const expr_keys[] = {"col", "lit", "type", "fn", "args", "to"};

/* Arity of each function: [min, max]; max -1 = any number. */
static void fn_arity(canon__fn f, int *lo, int *hi) {
  *lo = *hi = 1;
  switch (f) {
  case CANON__F_ADD:
  case CANON__F_SUB:
  case CANON__F_MUL:
  case CANON__F_DIV:
  case CANON__F_TRY_DIV:
  case CANON__F_IDIV:
  case CANON__F_MOD:
  case CANON__F_EQ:
  case CANON__F_NE:
  case CANON__F_LT:
  case CANON__F_LE:
  case CANON__F_GT:
  case CANON__F_GE:
  case CANON__F_AND:
  case CANON__F_OR: *lo = *hi = 2; break;
  case CANON__F_COALESCE: *hi = -1; break;
  case CANON__A_COUNT_STAR: *lo = *hi = 0; break;
  default:
    if (canon__fn_is_ext(f)) canon__fn_ext_arity(f, lo, hi);
    if (canon__fn_is_agg_ext(f)) canon__agg_ext_arity(f, lo, hi);
    break;
  }
}

/* Make the call from its arguments (ownership of args[] moves in). */
static canon_expr *make_call(canon__fn f, canon_expr **a, int n, canon_type to) {
  switch (f) {
  case CANON__F_ADD: return canon_add(a[0], a[1]);
  case CANON__F_SUB: return canon_sub(a[0], a[1]);
  case CANON__F_MUL: return canon_mul(a[0], a[1]);
  case CANON__F_DIV: return canon_div(a[0], a[1]);
  case CANON__F_TRY_DIV: return canon_try_div(a[0], a[1]);
  case CANON__F_IDIV: return canon_idiv(a[0], a[1]);
  case CANON__F_MOD: return canon_mod(a[0], a[1]);
  case CANON__F_NEG: return canon_neg(a[0]);
  case CANON__F_EQ: return canon_eq(a[0], a[1]);
  case CANON__F_NE: return canon_ne(a[0], a[1]);
  case CANON__F_LT: return canon_lt(a[0], a[1]);
  case CANON__F_LE: return canon_le(a[0], a[1]);
  case CANON__F_GT: return canon_gt(a[0], a[1]);
  case CANON__F_GE: return canon_ge(a[0], a[1]);
  case CANON__F_AND: return canon_and(a[0], a[1]);
  case CANON__F_OR: return canon_or(a[0], a[1]);
  case CANON__F_NOT: return canon_not(a[0]);
  case CANON__F_IS_NULL: return canon_is_null(a[0]);
  case CANON__F_IS_NOT_NULL: return canon_is_not_null(a[0]);
  case CANON__F_COALESCE: return canon_coalesce(a, n);
  case CANON__F_CAST: return canon_cast(a[0], to);
  case CANON__F_TRY_CAST: return canon_try_cast(a[0], to);
  case CANON__A_COUNT_STAR: return canon_count_star();
  case CANON__A_COUNT: return canon_count(a[0]);
  case CANON__A_SUM: return canon_sum(a[0]);
  case CANON__A_MEAN: return canon_mean(a[0]);
  case CANON__A_MIN: return canon_min(a[0]);
  case CANON__A_MAX: return canon_max(a[0]);
  default:
    /* Arity checked above; argument rules are checked at binding. */
    if (canon__fn_is_ext(f)) return canon__fn_ext_call(f, a, n);
    if (canon__fn_is_agg_ext(f)) return canon__agg_ext_call(f, a, n);
    break;
  }
  for (int i = 0; i < n; i++) canon_expr_free(a[i]);
  return NULL;
}

static int read_expr(canon__pj_reader *r, const cJSON *j, canon_expr **out);

/* A type name at obj.key (required). */
static int get_type(canon__pj_reader *r, const cJSON *obj, const char *key, canon_type *out) {
  const char *name;
  int rc = canon__pj_string(r, obj, key, true, &name);
  if (rc) return rc;
  *out = canon_type_from_name(name);
  char q[128];
  if (*out == CANON_TYPE_INVALID)
    return canon__pj_fail_at(r, key, CANON_ERR_PLAN,
                             "unknown type %s (expected bool, int64, float64, string, date or "
                             "timestamp)",
                             canon__pj_quote(name, q, sizeof q));
  return 0;
}

/* {"lit": "text" | null, "type": T}: the text is parsed as CSV reads a
 * cell, so every value (INT64_MIN, -0.0, NaN, ...) arrives exactly. */
static int read_lit(canon__pj_reader *r, const cJSON *j, canon_expr **out) {
  canon_type t;
  int rc = get_type(r, j, "type", &t);
  if (rc) return rc;
  const cJSON *lit = cJSON_GetObjectItemCaseSensitive(j, "lit");
  if (cJSON_IsNull(lit)) {
    *out = canon_lit_null(t);
    return *out ? 0 : canon__nomem(r->err);
  }
  if (!cJSON_IsString(lit))
    return canon__pj_fail_at(r, "lit", CANON_ERR_PLAN,
                             "must be a string holding the value (or null), got %s",
                             canon__pj_jtype(lit));
  canon__value v = {0};
  canon_error perr = {0};
  if (canon__parse_value(t, lit->valuestring, strlen(lit->valuestring), false, &v, &perr))
    return canon__pj_fail_at(r, "lit", CANON_ERR_PLAN, "%s", perr.message);
  switch (t) {
  case CANON_BOOL: *out = canon_lit_bool(v.v.b); break;
  case CANON_INT64: *out = canon_lit_int64(v.v.i); break;
  case CANON_FLOAT64: *out = canon_lit_float64(v.v.f); break;
  case CANON_STRING: *out = canon_lit_stringn(v.s ? v.s : "", v.s ? v.slen : 0); break;
  case CANON_DATE: *out = canon_lit_date(v.v.d); break;
  case CANON_TIMESTAMP: *out = canon_lit_timestamp(v.v.i); break;
  default: *out = NULL; break;
  }
  canon__value_reset(&v);
  return *out ? 0 : canon__nomem(r->err);
}

/* {"fn": name, "to": T (casts), "args": [EXPR, ...]} */
static int read_call(canon__pj_reader *r, const cJSON *j, canon_expr **out) {
  const char *name;
  char q[128];
  int rc = canon__pj_string(r, j, "fn", true, &name);
  if (rc) return rc;
  canon__fn f = canon__fn_from_name(name);
  if (!f)
    return canon__pj_fail_at(r, "fn", CANON_ERR_PLAN, "unknown fn %s",
                             canon__pj_quote(name, q, sizeof q));
  bool is_cast = f == CANON__F_CAST || f == CANON__F_TRY_CAST;
  canon_type to = CANON_TYPE_INVALID;
  if (is_cast && (rc = get_type(r, j, "to", &to))) return rc;
  if (!is_cast && cJSON_GetObjectItemCaseSensitive(j, "to"))
    return canon__pj_fail(r, CANON_ERR_PLAN, "key \"to\" belongs only to cast and try_cast");
  const cJSON *args = canon__pj_member_of(r, j, "args", false, cJSON_IsArray, "an array", &rc);
  if (rc) return rc;
  int n = args ? cJSON_GetArraySize(args) : 0, lo, hi;
  fn_arity(f, &lo, &hi);
  if (hi > lo && (n < lo || n > hi))  /* a range, e.g. substring */
    return canon__pj_fail(r, CANON_ERR_PLAN, "fn \"%s\" takes %d to %d arguments, got %d", name,
                          lo, hi, n);
  if (n < lo || (hi >= 0 && n > hi))
    return canon__pj_fail(r, CANON_ERR_PLAN, "fn \"%s\" takes %s%d argument%s, got %d", name,
                          hi < 0 ? "at least " : "", lo, lo == 1 && hi >= 0 ? "" : "s", n);
  canon_expr **a = canon__calloc((size_t)n, sizeof *a);
  if (!a) return canon__nomem(r->err);
  int i = 0;
  for (const cJSON *c = args ? args->child : NULL; c && rc == 0; c = c->next, i++) {
    size_t mark = canon__pj_push(r, ".args[%d]", i);
    rc = read_expr(r, c, &a[i]);
    canon__pj_pop(r, mark);
  }
  if (rc == 0) {
    *out = make_call(f, a, n, to);
    if (!*out) rc = canon__nomem(r->err);
  } else {
    for (int k = 0; k < n; k++) canon_expr_free(a[k]);
  }
  free(a);
  return rc;
}

/* One expression at the current path; *out is set on success.  Recursion
 * depth is bounded by cJSON's nesting limit on the document. */
static int read_expr(canon__pj_reader *r, const cJSON *j, canon_expr **out) {
  *out = NULL;
  if (!cJSON_IsObject(j))
    return canon__pj_fail(r, CANON_ERR_PLAN, "an expression must be an object, got %s",
                          canon__pj_jtype(j));
  int rc = canon__pj_keys(r, j, expr_keys, 6);
  if (rc) return rc;
  const cJSON *col = cJSON_GetObjectItemCaseSensitive(j, "col");
  bool has_lit = cJSON_GetObjectItemCaseSensitive(j, "lit") != NULL;
  bool has_fn = cJSON_GetObjectItemCaseSensitive(j, "fn") != NULL;
  int forms = (col != NULL) + has_lit + has_fn;
  if (forms != 1)
    return canon__pj_fail(r, CANON_ERR_PLAN,
                          "an expression has exactly one of \"col\", \"lit\" or "
                          "\"fn\" (found %d)",
                          forms);
  const char *form = col ? "col" : has_lit ? "lit" : "fn";
  /* Keys of the other forms are refused by name, so a typo'd plan says
   * exactly what is wrong. */
  const char *const stray[] = {"type", "args", "to"};
  for (int k = 0; k < 3; k++) {
    bool ok = (k == 0 && has_lit) || (k > 0 && has_fn);
    if (!ok && cJSON_GetObjectItemCaseSensitive(j, stray[k]))
      return canon__pj_fail(r, CANON_ERR_PLAN,
                            "key \"%s\" does not belong to a \"%s\" expression", stray[k],
                            form);
  }
  if (col) {
    if (!cJSON_IsString(col))
      return canon__pj_fail_at(r, "col", CANON_ERR_PLAN,
                               "must be a string (a column name), got %s",
                               canon__pj_jtype(col));
    *out = canon_col(col->valuestring);
    return *out ? 0 : canon__nomem(r->err);
  }
  return has_lit ? read_lit(r, j, out) : read_call(r, j, out);
}

/* An expression stored under obj.key (required). */
int canon__pj_expr(canon__pj_reader *r, const cJSON *obj, const char *key, canon_expr **out) {
  int rc;
  *out = NULL;
  const cJSON *j = canon__pj_member(r, obj, key, true, &rc);
  if (!j) return rc;
  size_t mark = canon__pj_push(r, ".%s", key);
  rc = read_expr(r, j, out);
  canon__pj_pop(r, mark);
  return rc;
}

/* ---- schemas, sort keys and table rows --------------------------------- */

static const char *const field_keys[] = {"name", "type"};
static const char *const sort_key_keys[] = {"column", "direction"};

/* obj.key as a schema: [{"name": .., "type": ..}, ...]. */
int canon__pj_schema(canon__pj_reader *r, const cJSON *obj, bool required,
                     canon_schema **out) {
  int rc;
  *out = NULL;
  const cJSON *a =
      canon__pj_member_of(r, obj, "schema", required, cJSON_IsArray, "an array", &rc);
  if (!a) return rc;
  canon_schema *s = canon_schema_new();
  if (!s) return canon__nomem(r->err);
  int i = 0;
  for (const cJSON *f = a->child; f && rc == 0; f = f->next, i++) {
    size_t mark = canon__pj_push(r, ".schema[%d]", i);
    const char *name;
    canon_type t;
    if (!cJSON_IsObject(f))
      rc = canon__pj_fail(r, CANON_ERR_PLAN, "a field must be an object, got %s",
                          canon__pj_jtype(f));
    if (rc == 0) rc = canon__pj_keys(r, f, field_keys, 2);
    if (rc == 0) rc = canon__pj_string(r, f, "name", true, &name);
    if (rc == 0) rc = get_type(r, f, "type", &t);
    if (rc == 0 && canon_schema_add(s, name, t, r->err) != 0) {
      rc = r->err->code;
      size_t m2 = canon__pj_push(r, ".name");
      canon__errprefix(r->err, "%s: %s", r->origin, canon__pj_path(r));
      canon__pj_pop(r, m2);
    }
    canon__pj_pop(r, mark);
  }
  if (rc)
    canon_schema_free(s);
  else
    *out = s;
  return rc;
}

/* The schema as "name:type,..." text for the builders that take one.  That
 * text cannot hold every name, so names it would change are refused here,
 * where the message can point at them. */
int canon__pj_schema_text(canon__pj_reader *r, const canon_schema *s, const char *op,
                          char **out) {
  for (int i = 0; i < s->n; i++) {
    const char *nm = s->names[i];
    size_t len = strlen(nm);
    if (strpbrk(nm, ",:") || isspace((unsigned char)nm[0]) ||
        isspace((unsigned char)nm[len - 1])) {
      char q[128];
      size_t mark = canon__pj_push(r, ".schema[%d].name", i);
      int rc =
          canon__pj_fail(r, CANON_ERR_UNSUPPORTED,
                         "column name %s cannot be declared for %s (a name with ',' or ':' or "
                         "surrounding spaces does not fit a schema text)",
                         canon__pj_quote(nm, q, sizeof q), op);
      canon__pj_pop(r, mark);
      return rc;
    }
  }
  *out = canon_schema_to_string(s);
  return *out ? 0 : canon__nomem(r->err);
}

/* obj.key as sort keys: [{"column": .., "direction": ..}, ...]; column
 * strings point into the document. */
int canon__pj_sort_keys(canon__pj_reader *r, const cJSON *obj, const char *key, bool required,
                        canon_sort_key **out, int *n) {
  int rc;
  *out = NULL;
  *n = 0;
  const cJSON *a = canon__pj_member_of(r, obj, key, required, cJSON_IsArray, "an array", &rc);
  if (!a) return rc;
  int count = cJSON_GetArraySize(a), i = 0;
  canon_sort_key *keys = canon__calloc((size_t)count, sizeof *keys);
  if (!keys) return canon__nomem(r->err);
  for (const cJSON *k = a->child; k && rc == 0; k = k->next, i++) {
    size_t mark = canon__pj_push(r, ".%s[%d]", key, i);
    const char *dir = NULL;
    if (!cJSON_IsObject(k))
      rc = canon__pj_fail(r, CANON_ERR_PLAN, "a sort key must be an object, got %s",
                          canon__pj_jtype(k));
    if (rc == 0) rc = canon__pj_keys(r, k, sort_key_keys, 2);
    if (rc == 0) rc = canon__pj_string(r, k, "column", true, &keys[i].column);
    if (rc == 0) rc = canon__pj_string(r, k, "direction", false, &dir);
    if (rc == 0 && dir) {
      int d = 0;
      while (d < 4 && strcmp(dir, canon__pj_directions[d]) != 0) d++;
      char q[128];
      if (d == 4)
        rc = canon__pj_fail_at(
            r, "direction", CANON_ERR_PLAN,
            "unknown sort direction %s (expected SORT_DIRECTION_ASC_NULLS_LAST, "
            "SORT_DIRECTION_ASC_NULLS_FIRST, SORT_DIRECTION_DESC_NULLS_LAST or "
            "SORT_DIRECTION_DESC_NULLS_FIRST)",
            canon__pj_quote(dir, q, sizeof q));
      keys[i].descending = d >= 2;
      keys[i].nulls_first = d & 1;
    }
    canon__pj_pop(r, mark);
  }
  if (rc)
    free(keys);
  else {
    *out = keys;
    *n = count;
  }
  return rc;
}

/* Append one cell given as canonical text (or JSON null) to column c. */
static int read_cell(canon__pj_reader *r, canon_builder *b, int c, canon_type t,
                     const cJSON *cell) {
  if (cJSON_IsNull(cell)) return canon_builder_append_null(b, c) ? canon__nomem(r->err) : 0;
  if (!cJSON_IsString(cell))
    return canon__pj_fail(r, CANON_ERR_PLAN, "a cell must be a string or null, got %s",
                          canon__pj_jtype(cell));
  canon__value v = {0};
  canon_error perr = {0};
  if (canon__parse_value(t, cell->valuestring, strlen(cell->valuestring), false, &v, &perr))
    return canon__pj_fail(r, CANON_ERR_PLAN, "%s", perr.message);
  int rc;
  switch (t) {
  case CANON_BOOL: rc = canon_builder_append_bool(b, c, v.v.b); break;
  case CANON_INT64: rc = canon_builder_append_int64(b, c, v.v.i); break;
  case CANON_FLOAT64: rc = canon_builder_append_float64(b, c, v.v.f); break;
  case CANON_STRING: rc = canon_builder_append_string(b, c, v.s ? v.s : "", v.slen); break;
  case CANON_DATE: rc = canon_builder_append_date(b, c, v.v.d); break;
  default: rc = canon_builder_append_timestamp(b, c, v.v.i); break;
  }
  canon__value_reset(&v);
  return rc ? canon__nomem(r->err) : 0;
}

/* "rows" of a table node into a table of schema s. */
int canon__pj_rows(canon__pj_reader *r, const cJSON *j, const canon_schema *s,
                   canon_table **out) {
  int rc;
  *out = NULL;
  const cJSON *rows = canon__pj_member_of(r, j, "rows", true, cJSON_IsArray, "an array", &rc);
  if (!rows) return rc;
  canon_builder *b = canon_builder_new(s, r->err);
  if (!b) return r->err->code;
  int i = 0;
  for (const cJSON *row = rows->child; row && rc == 0; row = row->next, i++) {
    size_t mark = canon__pj_push(r, ".rows[%d]", i);
    if (!cJSON_IsArray(row))
      rc = canon__pj_fail(r, CANON_ERR_PLAN, "a row must be an array, got %s",
                          canon__pj_jtype(row));
    else if (cJSON_GetArraySize(row) != s->n)
      rc = canon__pj_fail(r, CANON_ERR_PLAN,
                          "a row must have %d cells (one per schema field), got %d", s->n,
                          cJSON_GetArraySize(row));
    int c = 0;
    for (const cJSON *cell = row->child; cell && rc == 0; cell = cell->next, c++) {
      size_t m2 = canon__pj_push(r, "[%d]", c);
      rc = read_cell(r, b, c, s->types[c], cell);
      canon__pj_pop(r, m2);
    }
    canon__pj_pop(r, mark);
  }
  if (rc == 0) {
    /* A fresh table: its string keys may as well carry dictionary codes. */
    *out = canon__table_dict_encode(canon_builder_finish(b, r->err), r->err);
    if (!*out) rc = r->err->code;
  }
  canon_builder_free(b);
  return rc;
}
