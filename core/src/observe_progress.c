/* observe_progress.c — the live progress line (docs/observability.md).
 *
 * Drawn by the process that runs the job (the driver), on the thread whose
 * task or split just ended, under the job's event lock: the engines' own
 * threads and worker processes never write to the terminal.  Redraws are
 * at most every 100 ms (the first event always draws), each one "\r",
 * the line, then "clear to end of line"; the job's end clears it. */
#include "observe.h"

#include <sys/ioctl.h>
#include <unistd.h>

#define REDRAW_NS 100000000LL

void canon__fmt_bytes(int64_t b, char *buf, size_t cap) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)b;
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, u++;
  if (u == 0)
    snprintf(buf, cap, "%lld B", (long long)b);
  else
    snprintf(buf, cap, "%.1f %s", v, unit[u]);
}

void canon__fmt_count(int64_t n, char *buf, size_t cap) {
  if (n < 10000)
    snprintf(buf, cap, "%lld", (long long)n);
  else if (n < 10000000)
    snprintf(buf, cap, "%.1fk", (double)n / 1e3);
  else if (n < 10000000000LL)
    snprintf(buf, cap, "%.1fM", (double)n / 1e6);
  else
    snprintf(buf, cap, "%.1fG", (double)n / 1e9);
}

static void fmt_seconds(double s, char *buf, size_t cap) {
  if (s < 60)
    snprintf(buf, cap, "%.1fs", s);
  else
    snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

void canon__progress_start(canon__obs_progress *pg, FILE *out) {
  memset(pg, 0, sizeof *pg);
  pg->out = out;
  pg->stage = -1;
  pg->width = 100;
  struct winsize ws;
  if (out == stderr && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
    pg->width = ws.ws_col;
}

static void draw(canon__obs_job *oj, int64_t now) {
  canon__obs_progress *pg = &oj->progress;
  const canon_job *job = oj->job;
  const canon__stage *st = &job->stages[pg->stage];
  char rin[32], rout[32], bytes[32], el[32], left[48] = "";
  canon__fmt_count(pg->rows_in, rin, sizeof rin);
  canon__fmt_count(pg->rows_out, rout, sizeof rout);
  canon__fmt_bytes(pg->bytes_out, bytes, sizeof bytes);
  fmt_seconds((double)(now - oj->start_ns) / 1e9, el, sizeof el);
  if (pg->tasks_done > 0 && pg->tasks_done < st->nparts) {
    /* The stage's time so far per finished task, for the tasks left. */
    double per = (double)(now - pg->stage_start_ns) / 1e9 / (double)pg->tasks_done;
    char t[32];
    fmt_seconds(per * (double)(st->nparts - pg->tasks_done), t, sizeof t);
    snprintf(left, sizeof left, "  ~%s left", t);
  }
  /* Before its first task ends, a stage is splitting its inputs. */
  char work[64];
  if (pg->tasks_done == 0 && pg->splits_done > 0) {
    int nsplits = 0;
    for (int i = 0; i < st->ninputs; i++) nsplits += job->stages[st->in[i].stage].nparts;
    snprintf(work, sizeof work, "splits %lld/%d", (long long)pg->splits_done, nsplits);
  } else {
    snprintf(work, sizeof work, "tasks %lld/%d", (long long)pg->tasks_done, st->nparts);
  }
  char tail[256];
  int tl = snprintf(tail, sizeof tail, "  %s  rows %s -> %s  %s  %s%s", work, rin, rout, bytes,
                    el, left);
  char head[32];
  int hl = snprintf(head, sizeof head, "canon: stage %d/%d ", pg->stage + 1, job->nstages);
  /* The stage name gets what the terminal width leaves. */
  int room = pg->width - 1 - hl - tl;
  if (room < 4) room = 4;
  fprintf(pg->out, "\r%s%.*s%s\033[K", head, room, st->name, tail);
  fflush(pg->out);
  pg->drawn = true;
  pg->last_draw_ns = now;
}

void canon__progress_event(canon__obs_job *oj, const canon__obs_event *e) {
  canon__obs_progress *pg = &oj->progress;
  if (!pg->out || e->stage < 0 || e->stage >= oj->job->nstages) return;
  if (e->stage != pg->stage) {
    /* Stages run one after another: a new stage's first event. */
    int64_t keep_draw = pg->last_draw_ns;
    bool drawn = pg->drawn;
    FILE *out = pg->out;
    int width = pg->width;
    memset(pg, 0, sizeof *pg);
    pg->out = out, pg->width = width, pg->drawn = drawn, pg->last_draw_ns = keep_draw;
    pg->stage = e->stage;
    pg->stage_start_ns = e->start_ns;
  }
  if (e->kind == CANON__EV_TASK) {
    pg->tasks_done++;
    pg->rows_in += e->rows_in;
    pg->rows_out += e->rows_out;
    pg->bytes_out += e->bytes_out;
  } else {
    pg->splits_done++;
  }
  int64_t now = canon__obs_now_ns();
  if (!pg->drawn || now - pg->last_draw_ns >= REDRAW_NS) draw(oj, now);
}

void canon__progress_finish(canon__obs_progress *pg) {
  if (pg->out && pg->drawn) {
    fputs("\r\033[K", pg->out);
    fflush(pg->out);
  }
  pg->drawn = false;
}
