/* codec_concat.h — the plan of a concatenation written straight into an
 * encoding: where each part's rows of each column go, and the
 * concatenation's dictionaries.  Shared by the concatenation written in
 * one process (codec_concat.c) and the one planned in one process and
 * written by the processes holding the parts (concat_remote.c). */
#ifndef CANON_CODEC_CONCAT_H
#define CANON_CODEC_CONCAT_H

#include "codec_layout.h"

/* What the plan needs of part p's column i. */
typedef struct canon__cat_in {
  int64_t rows;
  int64_t nulls;            /* with a bitmap (0: none) */
  int64_t bytes;            /* strings: the part's string bytes */
  const canon__dict *dict;  /* its dictionary, or NULL */
} canon__cat_in;

/* One column of the concatenation. */
typedef struct canon__cat_col {
  codec_sizes sz;
  codec_at at;                /* its sections in the encoding */
  int64_t *row_at, *byte_at;  /* per part: first row and (strings) first byte; n + 1 */
  canon__column merged;       /* strings: the concatenation's dictionary, and its
                                 codes when they are not shipped */
  uint32_t **maps;            /* per part: its codes to the merged ones (NULL: same) */
  int nparts;
  bool ships;                 /* its codes are in the encoding */
} canon__cat_col;

/* Plan the concatenation of n parts of schema s (total rows) whose
 * columns are in[i * n + p]: every column's sections and the encoding's
 * length; 0 or CANON_ERR_NOMEM (cols, nc of them zeroed by the caller,
 * are freed by canon__cat_cols_free in every case). */
int canon__cat_plan(const canon_schema *s, int n, int64_t total, const canon__cat_in *in,
                    canon__cat_col *cols, size_t *len, uint32_t *ncoded);
void canon__cat_cols_free(canon__cat_col *cols, int nc);
/* Write the encoding's header and every column's frame (bitmaps cleared,
 * padding, first offsets, shipped dictionaries): all but the rows. */
int canon__cat_put_head(uint8_t *buf, const canon_schema *s, int64_t total, size_t len,
                        uint32_t ncoded, const canon__cat_col *cols);

#endif
