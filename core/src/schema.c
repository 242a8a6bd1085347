/* schema.c — type names and schemas (ordered name:type lists). */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>

static const char *const type_names[CANON_TYPE__COUNT] = {
  [CANON_TYPE_INVALID] = "invalid", [CANON_BOOL] = "bool",
  [CANON_INT64] = "int64",          [CANON_FLOAT64] = "float64",
  [CANON_STRING] = "string",        [CANON_DATE] = "date",
  [CANON_TIMESTAMP] = "timestamp",
};

const char *canon_type_name(canon_type t) {
  if ((int)t < 0 || t >= CANON_TYPE__COUNT) return "invalid";
  return type_names[t];
}

canon_type canon_type_from_name(const char *name) {
  if (!name) return CANON_TYPE_INVALID;
  for (int t = 1; t < CANON_TYPE__COUNT; t++)
    if (strcmp(name, type_names[t]) == 0) return (canon_type)t;
  return CANON_TYPE_INVALID;
}

canon_schema *canon_schema_new(void) { return canon__calloc(1, sizeof(canon_schema)); }

void canon_schema_free(canon_schema *s) {
  if (!s) return;
  for (int i = 0; i < s->n; i++) free(s->names[i]);
  free(s->names);
  free(s->types);
  free(s);
}

int canon_schema_add(canon_schema *s, const char *name, canon_type t, canon_error *err) {
  if (!s || !name || !*name)
    return canon__seterr(err, CANON_ERR_INVALID, "schema field needs a non-empty name");
  if (t <= CANON_TYPE_INVALID || t >= CANON_TYPE__COUNT)
    return canon__seterr(err, CANON_ERR_TYPE, "field '%s' has an invalid type", name);
  if (canon_schema_find(s, name) >= 0)
    return canon__seterr(err, CANON_ERR_INVALID, "duplicate column name '%s'", name);
  if (s->n == s->cap) {
    int ncap = s->cap ? s->cap * 2 : 8;
    char **nn = canon__reallocarray(s->names, (size_t)ncap, sizeof *nn);
    if (!nn) return canon__nomem(err);
    s->names = nn;
    canon_type *nt = canon__reallocarray(s->types, (size_t)ncap, sizeof *nt);
    if (!nt) return canon__nomem(err);
    s->types = nt;
    s->cap = ncap;
  }
  s->names[s->n] = canon__strdup(name);
  if (!s->names[s->n]) return canon__nomem(err);
  s->types[s->n++] = t;
  return 0;
}

int canon_schema_num_fields(const canon_schema *s) { return s ? s->n : 0; }

const char *canon_schema_field_name(const canon_schema *s, int i) {
  return (s && i >= 0 && i < s->n) ? s->names[i] : NULL;
}

canon_type canon_schema_field_type(const canon_schema *s, int i) {
  return (s && i >= 0 && i < s->n) ? s->types[i] : CANON_TYPE_INVALID;
}

int canon_schema_find(const canon_schema *s, const char *name) {
  if (!s || !name) return -1;
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->names[i], name) == 0) return i;
  return -1;
}

canon_schema *canon__schema_copy(const canon_schema *s) {
  canon_schema *c = canon_schema_new();
  if (!c) return NULL;
  for (int i = 0; s && i < s->n; i++)
    if (canon_schema_add(c, s->names[i], s->types[i], NULL) != 0) {
      canon_schema_free(c);
      return NULL;
    }
  return c;
}

bool canon__schema_equal(const canon_schema *a, const canon_schema *b) {
  if (a->n != b->n) return false;
  for (int i = 0; i < a->n; i++)
    if (a->types[i] != b->types[i] || strcmp(a->names[i], b->names[i]) != 0) return false;
  return true;
}

canon_schema *canon_schema_parse(const char *text, canon_error *err) {
  if (!text) {
    canon__seterr(err, CANON_ERR_INVALID, "schema text is NULL");
    return NULL;
  }
  canon_schema *s = canon_schema_new();
  if (!s) {
    canon__nomem(err);
    return NULL;
  }
  const char *p = text;
  while (*p) {
    const char *item = p;
    const char *end = strchr(p, ',');
    if (!end) end = p + strlen(p);
    const char *colon = memchr(item, ':', (size_t)(end - item));
    /* Trim spaces around the name and the type. */
    const char *ns = item, *ne = colon ? colon : end;
    while (ns < ne && isspace((unsigned char)*ns)) ns++;
    while (ne > ns && isspace((unsigned char)ne[-1])) ne--;
    if (!colon || ns == ne) {
      canon__seterr(err, CANON_ERR_INVALID,
                    "schema '%s': item %d must be name:type", text, s->n + 1);
      goto fail;
    }
    const char *ts = colon + 1, *te = end;
    while (ts < te && isspace((unsigned char)*ts)) ts++;
    while (te > ts && isspace((unsigned char)te[-1])) te--;
    char name[256], tname[32];
    if ((size_t)(ne - ns) >= sizeof name || (size_t)(te - ts) >= sizeof tname) {
      canon__seterr(err, CANON_ERR_INVALID, "schema '%s': item %d is too long", text, s->n + 1);
      goto fail;
    }
    memcpy(name, ns, (size_t)(ne - ns));
    name[ne - ns] = '\0';
    memcpy(tname, ts, (size_t)(te - ts));
    tname[te - ts] = '\0';
    canon_type t = canon_type_from_name(tname);
    if (t == CANON_TYPE_INVALID) {
      canon__seterr(err, CANON_ERR_TYPE,
                    "schema '%s': unknown type '%s' for '%s' (types: bool, int64, "
                    "float64, string, date, timestamp)", text, tname, name);
      goto fail;
    }
    if (canon_schema_add(s, name, t, err) != 0) goto fail;
    p = *end ? end + 1 : end;
  }
  if (s->n == 0) {
    canon__seterr(err, CANON_ERR_INVALID, "schema is empty");
    goto fail;
  }
  return s;
fail:
  canon_schema_free(s);
  return NULL;
}

char *canon_schema_to_string(const canon_schema *s) {
  size_t len = 1;
  for (int i = 0; i < s->n; i++) len += strlen(s->names[i]) + 12;
  char *out = canon__malloc(len);
  if (!out) return NULL;
  size_t at = 0;
  out[0] = '\0';
  for (int i = 0; i < s->n; i++)
    at += (size_t)snprintf(out + at, len - at, "%s%s:%s", i ? "," : "", s->names[i],
                           canon_type_name(s->types[i]));
  return out;
}
