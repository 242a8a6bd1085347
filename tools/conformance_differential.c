/* conformance_differential.c — canon-conformance --random N --seed S:
 * run N random plans (conformance_random.c) on an engine at each partition
 * count and on the reference serial:partitions=1, compare the results the
 * way the semantics allow (exact, run by run of ties, or as multisets; two
 * failures by their error codes), and turn the first mismatch into a small
 * case file: drop input rows while the mismatch persists (halves, then
 * smaller chunks down to single rows), then plan steps, and save it in the
 * case format under --save-dir.  The saved case expects the reference's
 * result: check it against docs/semantics.md before adding it to the suite. */
#include "conformance.h"
#include "conformance_random.h"

#include "canon_backend.h"
#include "canon_testing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REFERENCE "serial:partitions=1"
#define MAX_TRIES 20000   /* runs the minimizer may spend */

/* One run: a table, or the error that stopped it. */
typedef struct outcome {
  canon_table *t;
  int code;
  char msg[1100];
} outcome;

typedef struct diffctx {
  canon_session *ref;       /* serial:partitions=1; also loads plans for analysis */
  canon_session *eng;       /* the engine at the failing count (minimizer) */
  int tries;
} diffctx;


static void run_plan(canon_session *s, const rnd_plan *p, outcome *o) {
  canon_error err;
  canon_error_clear(&err);
  memset(o, 0, sizeof *o);
  char *doc = rnd_plan_document(p, p->root, 0);
  canon_df *df = NULL;
  if (!doc) {
    o->code = CANON_ERR_NOMEM;
    snprintf(o->msg, sizeof o->msg, "out of memory");
    return;
  }
  if (canon_plan_from_json(s, doc, "random", &df, NULL, &err) == 0) o->t = canon_collect(df, &err);
  free(doc);
  if (!o->t) {
    o->code = err.code ? err.code : CANON_ERR_INTERNAL;
    snprintf(o->msg, sizeof o->msg, "%s", err.message);
  }
}

static void outcome_free(outcome *o) {
  canon_table_free(o->t);
  o->t = NULL;
}

/* 0 when `got` matches the reference `want` under the result's order
 * rule; else 1 with a malloc'd *reason and maybe *diff. */
static int differs(const outcome *want, const outcome *got, const rnd_info *info, char **reason,
                   char **diff) {
  char buf[1400];
  *reason = *diff = NULL;
  if (want->t && got->t) {
    const char *ties[RND_MAXCOLS];
    for (int i = 0; i < info->nties; i++) ties[i] = info->ties[i];
    canon_testing_order ord = info->order == RND_EXACT ? CANON_TESTING_EXACT
                              : info->order == RND_TIES ? CANON_TESTING_TIES
                                                        : CANON_TESTING_ANY;
    int rc = canon_testing_compare(want->t, got->t, ord, ties, info->nties, diff);
    if (rc == 0) return 0;
    snprintf(buf, sizeof buf, "%s (order: %s)", rc == 1 ? "result differs" : "cannot compare the results",
             ord == CANON_TESTING_EXACT ? "exact" : ord == CANON_TESTING_TIES ? "ties" : "any");
  } else if (!want->t && !got->t) {
    if (want->code == got->code) return 0;
    snprintf(buf, sizeof buf, "error %s, but the reference fails with %s: %s",
             canon_errcode_name(got->code), canon_errcode_name(want->code), want->msg);
  } else if (got->t) {
    snprintf(buf, sizeof buf, "a result of %lld rows, but the reference fails with %s: %s",
             (long long)canon_table_num_rows(got->t), canon_errcode_name(want->code), want->msg);
  } else {
    snprintf(buf, sizeof buf, "error %s: %s; the reference returns %lld rows",
             canon_errcode_name(got->code), got->msg, (long long)canon_table_num_rows(want->t));
  }
  *reason = strdup(buf);
  return 1;
}

/* Does p still show a mismatch between the reference and the engine? */
static int still_fails(diffctx *c, const rnd_plan *p) {
  rnd_info info;
  if (c->tries++ >= MAX_TRIES || rnd_plan_analyze(p, c->ref, &info)) return 0;
  outcome want, got;
  run_plan(c->ref, p, &want);
  run_plan(c->eng, p, &got);
  char *reason, *diff;
  int d = differs(&want, &got, &info, &reason, &diff);
  free(reason);
  free(diff);
  outcome_free(&want);
  outcome_free(&got);
  return d;
}

/* ---- minimizing ------------------------------------------------------------ */

/* Drop rows of table t in chunks (half of the kept rows, then quarters,
 * ... single rows) wherever the mismatch persists without them. */
static void shrink_rows(diffctx *c, rnd_plan *p, rnd_table *t) {
  int kept = 0;
  for (int r = 0; r < t->nrows; r++) kept += t->keep[r];
  for (int chunk = kept / 2 > 0 ? kept / 2 : 1; chunk >= 1; chunk /= 2) {
    int pos = 0;  /* index among kept rows where the next chunk starts */
    for (;;) {
      int idx[4096], n = 0, seen = 0;
      for (int r = 0; r < t->nrows && n < chunk && n < 4096; r++) {
        if (!t->keep[r]) continue;
        if (seen++ >= pos) idx[n++] = r;
      }
      if (n == 0) break;
      for (int i = 0; i < n; i++) t->keep[idx[i]] = 0;
      if (!still_fails(c, p)) {
        for (int i = 0; i < n; i++) t->keep[idx[i]] = 1;
        pos += n;
      }
    }
    if (chunk == 1) break;
  }
}

/* Drop columns of table t that the mismatch does not need (a plan that
 * reads a dropped column no longer loads, so those stay). */
static void shrink_columns(diffctx *c, rnd_plan *p, rnd_table *t) {
  for (int col = t->ncols - 1; col >= 0 && t->ncols > 1; col--) {
    size_t rows = t->nrows > 0 ? (size_t)t->nrows : 1, w = (size_t)t->ncols;
    char **cells = calloc(rows * (w - 1), sizeof *cells);
    if (!cells) return;
    rnd_table old = *t;
    for (size_t r = 0; r < (size_t)t->nrows; r++)
      for (size_t k = 0, j = 0; k < w; k++)
        if ((int)k != col) cells[r * (w - 1) + j++] = t->cells[r * w + k];
    for (int k = col; k + 1 < t->ncols; k++) {
      memcpy(t->names[k], t->names[k + 1], RND_NAMELEN);
      t->types[k] = t->types[k + 1];
    }
    t->ncols--;
    t->cells = cells;
    if (still_fails(c, p)) {
      for (size_t r = 0; r < (size_t)old.nrows; r++) free(old.cells[r * w + (size_t)col]);
      free(old.cells);
    } else {
      free(cells);
      *t = old;
    }
  }
}

static int find_index(const cJSON *nodes, int id) {
  int i = 0;
  for (const cJSON *n = nodes->child; n; n = n->next, i++)
    if (cJSON_GetObjectItemCaseSensitive(n, "id")->valueint == id) return i;
  return -1;
}

/* Replace node i by its input number `which`: readers of the node read
 * that input instead.  Returns 0 when done (p->nodes replaced), -1 when
 * the node has no such input. */
static int splice_node(rnd_plan *p, int i, int which) {
  cJSON *node = cJSON_GetArrayItem(p->nodes, i);
  const cJSON *one = cJSON_GetObjectItemCaseSensitive(node, "input");
  const cJSON *two = cJSON_GetObjectItemCaseSensitive(node, "inputs");
  int repl = which == 0 && cJSON_IsNumber(one) ? one->valueint
             : cJSON_GetArraySize(two) > which ? cJSON_GetArrayItem(two, which)->valueint
                                                : 0;
  if (!repl) return -1;
  int id = cJSON_GetObjectItemCaseSensitive(node, "id")->valueint;
  cJSON_DeleteItemFromArray(p->nodes, i);
  for (cJSON *n = p->nodes->child; n; n = n->next) {
    cJSON *in = cJSON_GetObjectItemCaseSensitive(n, "input");
    if (cJSON_IsNumber(in) && in->valueint == id) cJSON_SetNumberValue(in, repl);
    cJSON *ins = cJSON_GetObjectItemCaseSensitive(n, "inputs");
    for (cJSON *e = cJSON_IsArray(ins) ? ins->child : NULL; e; e = e->next)
      if (e->valueint == id) cJSON_SetNumberValue(e, repl);
  }
  if (p->root == id) p->root = repl;
  /* Drop nodes the root no longer reads (a join's right side, ...). */
  for (int changed = 1; changed;) {
    changed = 0;
    for (cJSON *n = p->nodes->child; n && !changed; n = n->next) {
      int nid = cJSON_GetObjectItemCaseSensitive(n, "id")->valueint, used = nid == p->root;
      for (const cJSON *m = p->nodes->child; m && !used; m = m->next) {
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(m, "input");
        const cJSON *ins = cJSON_GetObjectItemCaseSensitive(m, "inputs");
        used = cJSON_IsNumber(in) && in->valueint == nid;
        for (const cJSON *e = cJSON_IsArray(ins) ? ins->child : NULL; e && !used; e = e->next)
          used = e->valueint == nid;
      }
      if (!used) {
        cJSON_DeleteItemFromArray(p->nodes, find_index(p->nodes, nid));
        changed = 1;
      }
    }
  }
  return 0;
}

/* Remove plan steps (a node, or a two-input node in favour of one input)
 * while the mismatch persists; returns 1 if any went. */
static int shrink_steps(diffctx *c, rnd_plan *p) {
  int any = 0;
  for (int progress = 1; progress;) {
    progress = 0;
    for (int i = cJSON_GetArraySize(p->nodes) - 1; i >= 0 && !progress; i--) {
      for (int which = 0; which < 2 && !progress; which++) {
        cJSON *saved = cJSON_Duplicate(p->nodes, 1);
        int saved_root = p->root;
        if (!saved) return any;
        if (splice_node(p, i, which) == 0 && still_fails(c, p)) {
          cJSON_Delete(saved);
          progress = any = 1;
        } else {
          cJSON_Delete(p->nodes);
          p->nodes = saved;
          p->root = saved_root;
        }
      }
    }
  }
  return any;
}

static void minimize(diffctx *c, rnd_plan *p) {
  for (int round = 0; round < 3; round++) {
    for (int t = 0; t < p->ntabs; t++) shrink_rows(c, p, &p->tabs[t]);
    if (!shrink_steps(c, p)) break;
  }
  for (int t = 0; t < p->ntabs; t++) shrink_columns(c, p, &p->tabs[t]);
}

/* ---- saving ------------------------------------------------------------------ */

static int mkdirs(const char *dir) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *q = buf + 1; *q; q++) {
    if (*q != '/') continue;
    *q = '\0';
    if (mkdir(buf, 0777) && errno != EEXIST) return -1;
    *q = '/';
  }
  return mkdir(buf, 0777) && errno != EEXIST ? -1 : 0;
}

static cJSON *table_rows(const canon_table *t) {
  cJSON *rows = cJSON_CreateArray();
  char small[256];
  for (int64_t r = 0; rows && r < canon_table_num_rows(t); r++) {
    cJSON *row = cJSON_CreateArray();
    if (!row || !cJSON_AddItemToArray(rows, row)) return rows;
    for (int c = 0; c < canon_table_num_columns(t); c++) {
      if (canon_table_is_null(t, c, r)) {
        cJSON_AddItemToArray(row, cJSON_CreateNull());
        continue;
      }
      size_t need = canon_table_format_value(t, c, r, small, sizeof small);
      char *buf = need < sizeof small ? small : malloc(need + 1);
      if (!buf) continue;
      if (buf != small) canon_table_format_value(t, c, r, buf, need + 1);
      cJSON_AddItemToArray(row, cJSON_CreateString(buf));
      if (buf != small) free(buf);
    }
  }
  return rows;
}

/* The case document for p with the reference outcome as its expectation. */
static cJSON *case_doc(const rnd_plan *p, const rnd_info *info, const outcome *want,
                       const char *engine, int parts, uint64_t seed, int index) {
  cJSON *doc = cJSON_CreateObject(), *inputs = cJSON_CreateObject(), *plan = cJSON_CreateObject();
  cJSON *ex = cJSON_CreateObject();
  char desc[1024];
  if (!doc || !inputs || !plan || !ex) {
    cJSON_Delete(doc);
    cJSON_Delete(inputs);
    cJSON_Delete(plan);
    cJSON_Delete(ex);
    return NULL;
  }
  snprintf(desc, sizeof desc,
           "differential mismatch (canon-conformance --random, seed %llu, plan %d, minimized): %s at "
           "partitions=%d differs from %s, whose result is expected here; check it against "
           "docs/semantics.md before adding it to the suite",
           (unsigned long long)seed, index, engine, parts, REFERENCE);
  cJSON_AddStringToObject(doc, "description", desc);
  cJSON_AddItemToObject(doc, "tags", cJSON_CreateStringArray((const char *const[]){"random", "differential"}, 2));
  if (rnd_plan_uses_transform(p))
    cJSON_AddItemToObject(doc, "requires", cJSON_CreateStringArray((const char *const[]){"transform"}, 1));
  for (int t = 0; t < p->ntabs; t++) {
    const rnd_table *tab = &p->tabs[t];
    int used = 0;
    for (const cJSON *n = p->nodes->child; n && !used; n = n->next) {
      const cJSON *name = cJSON_GetObjectItemCaseSensitive(n, "name");
      used = strcmp(cJSON_GetObjectItemCaseSensitive(n, "op")->valuestring, "input") == 0 &&
             cJSON_IsString(name) && strcmp(name->valuestring, tab->name) == 0;
    }
    if (!used) continue;
    cJSON *in = cJSON_CreateObject(), *rows = cJSON_CreateArray();
    char schema[RND_MAXCOLS * (RND_NAMELEN + 12)] = "";
    for (int col = 0; col < tab->ncols; col++)
      snprintf(schema + strlen(schema), sizeof schema - strlen(schema), "%s%s:%s", col ? "," : "",
               tab->names[col], canon_type_name(tab->types[col]));
    for (int r = 0; rows && r < tab->nrows; r++) {
      if (!tab->keep[r]) continue;
      cJSON *row = cJSON_CreateArray();
      for (int col = 0; row && col < tab->ncols; col++) {
        const char *cell = tab->cells[(size_t)r * (size_t)tab->ncols + (size_t)col];
        cJSON_AddItemToArray(row, cell ? cJSON_CreateString(cell) : cJSON_CreateNull());
      }
      cJSON_AddItemToArray(rows, row);
    }
    if (in) {
      cJSON_AddStringToObject(in, "schema", schema);
      cJSON_AddItemToObject(in, "rows", rows);
      cJSON_AddItemToObject(inputs, tab->name, in);
    } else {
      cJSON_Delete(rows);
    }
  }
  cJSON_AddItemToObject(doc, "inputs", inputs);
  cJSON_AddItemToObject(plan, "nodes", cJSON_Duplicate(p->nodes, 1));
  cJSON_AddNumberToObject(plan, "root", p->root);
  cJSON_AddItemToObject(doc, "plan", plan);
  if (want->t) {
    char *schema = canon_schema_to_string(canon_table_schema(want->t));
    cJSON_AddStringToObject(ex, "schema", schema ? schema : "");
    free(schema);
    cJSON_AddItemToObject(ex, "rows", table_rows(want->t));
    if (info->order == RND_TIES) {
      cJSON *o = cJSON_CreateObject();
      const char *ties[RND_MAXCOLS];
      for (int i = 0; i < info->nties; i++) ties[i] = info->ties[i];
      if (o) cJSON_AddItemToObject(o, "ties", cJSON_CreateStringArray(ties, info->nties));
      cJSON_AddItemToObject(ex, "order", o);
    } else {
      cJSON_AddStringToObject(ex, "order", info->order == RND_EXACT ? "exact" : "any");
    }
  } else {
    cJSON_AddStringToObject(ex, "error", canon_errcode_name(want->code));
  }
  cJSON_AddItemToObject(doc, "expected", ex);
  return doc;
}

/* Minimize p against the engine session `eng` and save it; prints the path. */
static void save_failure(canon_session *ref, canon_session *eng, rnd_plan *p, const char *engine,
                         int parts, uint64_t seed, int index, const char *save_dir) {
  diffctx c = {ref, eng, 0};
  minimize(&c, p);
  rnd_info info;
  outcome want;
  if (rnd_plan_analyze(p, ref, &info)) {
    printf("    (could not analyze the minimized plan; nothing saved)\n");
    return;
  }
  run_plan(ref, p, &want);
  cJSON *doc = case_doc(p, &info, &want, engine, parts, seed, index);
  outcome_free(&want);
  char path[4200];
  snprintf(path, sizeof path, "%s/random-%llu-%d.json", save_dir, (unsigned long long)seed, index);
  char *text = doc ? cJSON_Print(doc) : NULL;
  cJSON_Delete(doc);
  FILE *f = NULL;
  if (text && mkdirs(save_dir) == 0 && (f = fopen(path, "w"))) {
    fprintf(f, "%s\n", text);
    if (fclose(f) == 0)
      printf("    minimized in %d runs; saved %s\n", c.tries, path);
    else
      printf("    cannot write %s\n", path);
  } else {
    printf("    cannot save the case under %s: %s\n", save_dir, text ? strerror(errno) : "out of memory");
  }
  free(text);
}

/* ---- the run ----------------------------------------------------------------- */

static void print_indented(const char *text) {
  for (const char *q = text; q && *q;) {
    const char *nl = strchr(q, '\n');
    int n = nl ? (int)(nl - q) : (int)strlen(q);
    printf("    %.*s\n", n, q);
    q += n + (nl ? 1 : 0);
  }
}

/* --verbose: "PASS random/1-7: input(40 rows) filter sort limit -> 5 rows, order exact". */
static void print_pass(const char *name, const rnd_plan *p, const rnd_info *info, const outcome *want) {
  printf("PASS %s:", name);
  for (const cJSON *n = p->nodes->child; n; n = n->next) {
    const char *op = cJSON_GetObjectItemCaseSensitive(n, "op")->valuestring;
    const cJSON *tn = cJSON_GetObjectItemCaseSensitive(n, "name");
    printf(" %s", op);
    for (int t = 0; t < p->ntabs && strcmp(op, "input") == 0; t++)
      if (cJSON_IsString(tn) && strcmp(tn->valuestring, p->tabs[t].name) == 0)
        printf("(%d rows)", p->tabs[t].nrows);
  }
  if (want->t)
    printf(" -> %lld rows, order %s\n", (long long)canon_table_num_rows(want->t),
           info->order == RND_EXACT ? "exact" : info->order == RND_TIES ? "ties" : "any");
  else
    printf(" -> error %s\n", canon_errcode_name(want->code));
}

int conf_random_run(const char *engine, const int *parts, int nparts, int count, uint64_t seed,
                    const char *save_dir, int verbose) {
  canon_error err;
  canon_error_clear(&err);
  canon_session *ref = open_engine(REFERENCE, &err);
  if (!ref) {
    fprintf(stderr, "canon-conformance: cannot open the reference engine %s: %s\n", REFERENCE, err.message);
    return 2;
  }
  canon_session *probe = open_engine(engine, &err);
  if (!probe) {
    fprintf(stderr, "canon-conformance: cannot open engine '%s': %s\n", engine, err.message);
    canon_session_close(ref);
    return 2;
  }
  unsigned caps = canon_session_capabilities(probe);
  int by_parts = (caps & CANON_CAP_PARTITIONS) != 0, rounds = by_parts ? nparts : 1;
  printf("engine %s (%s): %d random plans, seed %llu, against %s%s\n", engine,
         canon_session_engine_name(probe), count, (unsigned long long)seed, REFERENCE,
         by_parts ? "" : "; no partitions capability, running each plan once");
  canon_session *eng[64] = {NULL};
  char estr[64][1024];
  int status = 2;
  for (int k = 0; k < rounds; k++) {
    if (by_parts)
      engine_for(engine, parts[k], estr[k], sizeof estr[k]);
    else
      snprintf(estr[k], sizeof estr[k], "%s", engine);
    if (!(eng[k] = by_parts ? open_engine(estr[k], &err) : probe)) {
      fprintf(stderr, "canon-conformance: cannot open engine '%s': %s\n", estr[k], err.message);
      goto done;
    }
  }
  int passed = 0, failed = 0, skipped = 0, saved = 0;
  for (int i = 0; i < count; i++) {
    rnd_plan p;
    rnd_info info;
    char name[64];
    snprintf(name, sizeof name, "random/%llu-%d", (unsigned long long)seed, i);
    if (rnd_plan_generate(&p, seed, i, caps, ref) || rnd_plan_analyze(&p, ref, &info)) {
      printf("SKIP %s: could not generate a plan\n", name);
      rnd_plan_free(&p);
      skipped++;
      continue;
    }
    outcome want;
    run_plan(ref, &p, &want);
    int bad = 0;
    for (int k = 0; k < rounds && !bad; k++) {
      outcome got;
      char *reason, *diff;
      run_plan(eng[k], &p, &got);
      if ((bad = differs(&want, &got, &info, &reason, &diff))) {
        printf("FAIL %s", name);
        if (by_parts) printf(" [partitions=%d]", parts[k]);
        printf(": %s\n", reason ? reason : "out of memory");
        print_indented(diff);
        if (!saved++)
          save_failure(ref, eng[k], &p, engine, by_parts ? parts[k] : 0, seed, i, save_dir);
      }
      free(reason);
      free(diff);
      outcome_free(&got);
    }
    if (bad) {
      failed++;
    } else {
      passed++;
      if (verbose) print_pass(name, &p, &info, &want);
    }
    outcome_free(&want);
    rnd_plan_free(&p);
    fflush(stdout);
  }
  printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  status = failed ? 1 : 0;
done:
  for (int k = 0; k < rounds; k++)
    if (eng[k] && eng[k] != probe) canon_session_close(eng[k]);
  canon_session_close(probe);
  canon_session_close(ref);
  return status;
}
