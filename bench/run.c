/* bench/run — the db-benchmark style suite on canon's engines.
 *
 *   run [--engines serial,threads,processes] [--n 1e7] [--k 100] [--na 0]
 *       [--sort 0] [--data DIR] [--questions q1,q2,..,sort,j1,..]
 *       [--runs 2] [--cap 60] [--join-strategy auto|hash|broadcast]
 *       [--csv out.csv] [--seed S]
 *
 * Generates the data when missing (bench/gen does the same on its own),
 * then for each engine runs the group-by session and the join session,
 * each in its own child process (so peak memory is per engine and per
 * session): load the CSVs once (read_csv with the declared schema, then
 * persist), time every question twice including materializing the answer,
 * checksum the answer.  Prints the table, a MISMATCH line for any answer
 * that differs between engines, and the comparison with the targets of
 * bench/README.md.  Benchmark only: nothing here passes or fails. */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int usage(void) {
  fprintf(stderr,
          "usage: run [--engines serial,threads,processes] [--n 1e7] [--k 100] [--na 0]\n"
          "           [--sort 0|1] [--data DIR] [--questions q1,..,q10,sort,j1,..,j5]\n"
          "           [--runs 1|2] [--cap SECONDS] [--join-strategy auto|hash|broadcast]\n"
          "           [--csv FILE] [--seed S]\n");
  return 2;
}

/* Mark the questions named in a comma list ("groupby" and "join" name
 * their whole sets). */
static int select_questions(bench_options *o, const char *list) {
  memset(o->questions, 0, sizeof o->questions);
  char *copy = strdup(list);
  if (!copy) return -1;
  int rc = 0;
  for (char *save = NULL, *q = strtok_r(copy, ",", &save); q; q = strtok_r(NULL, ",", &save)) {
    int hit = 0;
    for (int i = 0; i < bench_num_questions; i++) {
      const bench_question *b = &bench_questions[i];
      if (strcmp(q, b->name) == 0 || strcmp(q, "all") == 0 ||
          (strcmp(q, "groupby") == 0 && b->name[0] == 'q') ||
          (strcmp(q, "join") == 0 && b->session == BENCH_JOIN)) {
        o->questions[i] = 1;
        hit = 1;
      }
    }
    if (!hit) {
      fprintf(stderr, "run: unknown question '%s'\n", q);
      rc = -1;
    }
  }
  free(copy);
  return rc;
}

static int wants(const bench_options *o, bench_session_kind k) {
  for (int i = 0; i < bench_num_questions; i++)
    if (o->questions[i] && bench_questions[i].session == k) return 1;
  return 0;
}

static int exists(const char *dir, const char *name) {
  char path[4096];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return stat(path, &st) == 0;
}

/* Generate missing tables in a child, so the runner's own memory (and the
 * peak memory its session children start from) stays small. */
static int ensure_data(const bench_options *o) {
  char name[256];
  int need_g = 0, need_j = 0;
  bench_g1_name(&o->gen, name, sizeof name);
  if (wants(o, BENCH_GROUPBY) && !exists(o->data_dir, name)) need_g = 1;
  for (int w = 0; w < 4; w++) {
    bench_j1_name(&o->gen, w, name, sizeof name);
    if (wants(o, BENCH_JOIN) && !exists(o->data_dir, name)) need_j = 1;
  }
  if (!need_g && !need_j) return 0;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    double t0 = bench_now();
    printf("# generating %s%s%s in %s ...\n", need_g ? "the group-by table" : "",
           need_g && need_j ? " and " : "", need_j ? "the join tables" : "", o->data_dir);
    fflush(stdout);
    int rc = (need_g && bench_gen_groupby(o->data_dir, &o->gen)) ||
             (need_j && bench_gen_join(o->data_dir, &o->gen));
    printf("# generated in %.1f s\n", bench_now() - t0);
    fflush(stdout);
    _exit(rc ? 1 : 0);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

typedef struct results {
  bench_result *r;
  int n, cap;
} results;

static int push(results *rs, const bench_result *r) {
  if (rs->n == rs->cap) {
    int cap = rs->cap ? rs->cap * 2 : 64;
    bench_result *p = realloc(rs->r, (size_t)cap * sizeof *p);
    if (!p) return -1;
    rs->r = p;
    rs->cap = cap;
  }
  rs->r[rs->n++] = *r;
  return 0;
}

/* Run one session of one engine in a child and collect its records. */
static void run_child(const bench_options *o, const char *engine, bench_session_kind kind,
                      results *rs) {
  int fd[2];
  if (pipe(fd)) {
    perror("run: pipe");
    return;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    perror("run: fork");
    close(fd[0]);
    close(fd[1]);
    return;
  }
  if (pid == 0) {
    close(fd[0]);
    FILE *out = fdopen(fd[1], "w");
    int rc = out ? bench_session_run(o, engine, kind, out) : 1;
    if (out) fclose(out);
    fflush(stdout);
    _exit(rc);
  }
  close(fd[1]);
  FILE *in = fdopen(fd[0], "r");
  char *line = NULL;
  size_t cap = 0;
  int ended = 0;
  while (in && getline(&line, &cap, in) > 0) {
    bench_result r;
    if (strncmp(line, "END", 3) == 0) {
      ended = 1;
      break;
    }
    if (strncmp(line, "SKIP\t", 5) == 0) {
      line[strcspn(line, "\n")] = 0;
      printf("# SKIP engine '%s' (%s session): cannot open it: %s\n", engine,
             kind == BENCH_GROUPBY ? "group-by" : "join", line + 5);
      bench_result_parse("R\tskip\tx\t-1\t-1\t0\t0\t0\t0\t0\t0\t", &r);
      snprintf(r.question, sizeof r.question, "%s", kind == BENCH_GROUPBY ? "load" : "load_j");
      snprintf(r.engine, sizeof r.engine, "%s", engine);
      snprintf(r.note, sizeof r.note, "SKIPPED: engine cannot be opened: %.100s", line + 5);
      push(rs, &r);
      ended = 1;
      break;
    }
    if (bench_result_parse(line, &r) == 0) push(rs, &r);
  }
  free(line);
  if (in) fclose(in);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (!ended || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    printf("# ENGINE '%s' %s session ended abnormally (%s %d); its remaining questions are "
           "missing\n", engine, kind == BENCH_GROUPBY ? "group-by" : "join",
           WIFSIGNALED(st) ? "signal" : "exit status",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  }
}

int main(int argc, char **argv) {
  bench_options o = {
      .gen = {.n = 10000000, .k = 100, .seed = BENCH_DEFAULT_SEED},
      .data_dir = "bench/data",
      .engines = "serial,threads,processes",
      .runs = 2,
      .cap_seconds = 60,
      .strategy = CANON_JOIN_AUTO,
  };
  select_questions(&o, "all");
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) return usage();
    const char *a = argv[i], *v = argv[i + 1];
    if (strcmp(a, "--engines") == 0) o.engines = v;
    else if (strcmp(a, "--n") == 0) o.gen.n = bench_parse_count(v);
    else if (strcmp(a, "--k") == 0) o.gen.k = bench_parse_count(v);
    else if (strcmp(a, "--na") == 0) o.gen.na = atoi(v);
    else if (strcmp(a, "--sort") == 0) o.gen.sorted = atoi(v) != 0;
    else if (strcmp(a, "--seed") == 0) o.gen.seed = strtoull(v, NULL, 0);
    else if (strcmp(a, "--data") == 0) o.data_dir = v;
    else if (strcmp(a, "--csv") == 0) o.csv_path = v;
    else if (strcmp(a, "--runs") == 0) o.runs = atoi(v);
    else if (strcmp(a, "--cap") == 0) o.cap_seconds = atof(v);
    else if (strcmp(a, "--questions") == 0) {
      if (select_questions(&o, v)) return usage();
    } else if (strcmp(a, "--join-strategy") == 0) {
      if (strcmp(v, "auto") == 0) o.strategy = CANON_JOIN_AUTO;
      else if (strcmp(v, "hash") == 0) o.strategy = CANON_JOIN_HASH;
      else if (strcmp(v, "broadcast") == 0) o.strategy = CANON_JOIN_BROADCAST;
      else return usage();
    } else {
      return usage();
    }
  }
  if (o.gen.n < 1 || o.gen.k < 1 || o.runs < 1 || o.runs > 2 || !(o.cap_seconds > 0))
    return usage();
  char nbuf[32];
  bench_fmt_count(o.gen.n, nbuf, sizeof nbuf);
  printf("# canon benchmark: N=%s K=%lld NA=%d SORT=%d, engines %s, %d run(s), load average "
         "%.2f\n", nbuf, (long long)o.gen.k, o.gen.na, o.gen.sorted, o.engines, o.runs,
         bench_loadavg());
  if (ensure_data(&o)) {
    fprintf(stderr, "run: could not generate the data in %s\n", o.data_dir);
    return 1;
  }
  results rs = {0};
  char *list = strdup(o.engines);
  if (!list) return 1;
  for (char *save = NULL, *e = strtok_r(list, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
    for (int k = BENCH_GROUPBY; k <= BENCH_JOIN; k++) {
      if (!wants(&o, (bench_session_kind)k)) continue;
      printf("# engine %s, %s session\n", e, k == BENCH_GROUPBY ? "group-by" : "join");
      size_t before = (size_t)rs.n;
      run_child(&o, e, (bench_session_kind)k, &rs);
      /* An engine that cannot be opened is skipped for its other session too. */
      if ((size_t)rs.n == before + 1 && strncmp(rs.r[before].note, "SKIPPED", 7) == 0) break;
    }
  }
  free(list);
  int mismatches = bench_report(&o, rs.r, rs.n, stdout);
  if (o.csv_path && bench_write_csv(o.csv_path, rs.r, rs.n) == 0)
    printf("# table written to %s\n", o.csv_path);
  free(rs.r);
  return mismatches ? 3 : 0;
}
