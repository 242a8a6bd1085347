/* explain.c — printing plans: the logical DAG as an indented tree or as
 * Graphviz, and the physical plan (stages and exchanges) for the session's
 * engine. */
#include "physical.h"
#include "rowops.h"
#include "joins.h"

#include <stdio.h>

/* One line describing node d (without its inputs). */
static void describe(const canon_df *d, FILE *out) {
  fprintf(out, "%s #%d", canon__df_kind_name(d), canon_df_id(d));
  switch (d->kind) {
  case CANON__N_READ_CSV: fprintf(out, " %s", d->path); break;
  case CANON__N_TABLE: fprintf(out, " (%lld rows)", (long long)d->table->nrows); break;
  case CANON__N_FILTER: {
    char *t = canon_expr_to_string(d->exprs[0]);
    fprintf(out, " %s", t ? t : "?");
    free(t);
    break;
  }
  case CANON__N_SELECT:
  case CANON__N_ASSIGN:
  case CANON__N_AGGREGATE:
    if (d->kind == CANON__N_AGGREGATE) {
      fprintf(out, " by [");
      for (int i = 0; i < d->nkeys; i++) fprintf(out, "%s%s", i ? ", " : "", d->keys[i]);
      fprintf(out, "]");
    }
    for (int i = 0; i < d->nexprs; i++) {
      char *t = canon_expr_to_string(d->exprs[i]);
      fprintf(out, "%s%s = %s", i ? ", " : " ", d->names[i], t ? t : "?");
      free(t);
    }
    break;
  case CANON__N_SORT:
    for (int i = 0; i < d->nsort; i++)
      fprintf(out, "%s%s %s NULLS %s", i ? ", " : " ", d->sort[i].column,
              d->sort[i].descending ? "DESC" : "ASC", d->sort[i].nulls_first ? "FIRST" : "LAST");
    break;
  case CANON__N_LIMIT: fprintf(out, " %lld", (long long)d->n); break;
  case CANON__N_TRANSFORM:
    fprintf(out, " '%s'", d->transform);
    if (d->nkeys) {
      fprintf(out, " by [");
      for (int i = 0; i < d->nkeys; i++) fprintf(out, "%s%s", i ? ", " : "", d->keys[i]);
      fprintf(out, "]");
    }
    if (d->n) fprintf(out, " num %lld", (long long)d->n);
    break;
  case CANON__N_DROPNA: case CANON__N_FILLNA: case CANON__N_TAKE: case CANON__N_SAMPLE:
  case CANON__N_RENAME: case CANON__N_DROP: case CANON__N_CAST: case CANON__N_REPARTITION:
  case CANON__N_PERSIST:
    canon__rowops_describe(d, out);
    break;
  case CANON__N_JOIN: case CANON__N_DISTINCT:
    canon__joins_describe(d, out);
    break;
  default: break;
  }
  char *sch = canon_schema_to_string(d->schema);
  fprintf(out, "  -> (%s)", sch ? sch : "?");
  free(sch);
}

static void print_tree(const canon_df *d, FILE *out, int depth) {
  fprintf(out, "%*s", depth * 2, "");
  describe(d, out);
  fputc('\n', out);
  for (int i = 0; i < d->ninputs; i++) print_tree(d->inputs[i], out, depth + 1);
}

static void print_dot(const canon_df *d, FILE *out) {
  /* Escape quotes in the label by printing it to a buffer first. */
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  if (m) {
    describe(d, m);
    fclose(m);
  }
  fprintf(out, "  n%d [label=\"", d->id);
  for (size_t i = 0; buf && i < len; i++) {
    if (buf[i] == '"' || buf[i] == '\\') fputc('\\', out);
    fputc(buf[i], out);
  }
  fprintf(out, "\"];\n");
  free(buf);
  for (int i = 0; i < d->ninputs; i++) {
    fprintf(out, "  n%d -> n%d;\n", d->inputs[i]->id, d->id);
    print_dot(d->inputs[i], out);
  }
}

int canon_explain(canon_df *df, FILE *out, int physical, int dot, canon_error *err) {
  if (!df) return canon__seterr(err, CANON_ERR_INVALID, "no dataframe (an earlier step failed)");
  if (dot) {
    fprintf(out, "digraph logical {\n  rankdir=BT;\n  node [shape=box];\n");
    print_dot(df, out);
    fprintf(out, "}\n");
  } else {
    fprintf(out, "logical plan:\n");
    print_tree(df, out, 1);
  }
  if (!physical) return 0;
  canon_session *s = df->session;
  int P = s->backend->default_partitions(s->backend_state);
  canon_job *job = canon__job_new(df, P, err);
  if (!job) return err ? err->code : CANON_ERR_NOMEM;
  if (!dot && job->root != df) {
    /* Projection pushdown (plan_prune.c) dropped columns nobody reads. */
    fprintf(out, "pruned plan:\n");
    print_tree(job->root, out, 1);
  }
  if (!dot) fprintf(out, "physical plan (engine %s, %d partitions):\n", s->engine_string, P);
  canon__job_print(job, out, dot != 0);
  canon__job_free(job);
  return 0;
}
