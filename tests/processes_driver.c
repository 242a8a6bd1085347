/* processes_driver — a program test_processes.c runs as a child and
 * interrupts: it opens the processes engine and runs a transform that, in
 * a worker, creates DIR/started and then blocks, so the test knows
 * (without timing) that a job is in flight when it sends the signal.
 * Usage: processes_driver DIR   (DIR/data.csv: "k:int64" rows) */
#include "canon.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char marker[4096];

static int block(const canon_table *g, canon_builder *out, void *user, canon_error *err) {
  (void)g, (void)out, (void)user, (void)err;
  int fd = open(marker, O_WRONLY | O_CREAT, 0600);
  if (fd >= 0) close(fd);
  for (;;) pause();
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: processes_driver DIR\n");
    return 2;
  }
  snprintf(marker, sizeof marker, "%s/started", argv[1]);
  char data[4096];
  snprintf(data, sizeof data, "%s/data.csv", argv[1]);
  canon_error err;
  canon_register_transform("block", block, NULL, &err);
  canon_config *c = canon_config_new();
  if (canon_config_set_engine(c, "processes:workers=2,partitions=2", &err) != 0) return 1;
  canon_session *s = canon_session_open(c, &err);
  canon_config_free(c);
  if (!s) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  canon_csv_options o = {.schema = "k:int64"};
  const char *by[] = {"k"};
  canon_partition_spec spec = {.by = by, .num_by = 1};
  canon_df *df = canon_transform(canon_read_csv(s, data, &o, &err), "block", "k:int64", &spec, &err);
  canon_table *t = canon_collect(df, &err);
  /* Not reached: the test kills this process while the job runs. */
  canon_table_free(t);
  canon_session_close(s);
  return 0;
}
