/* error.c — error codes, their names, and message helpers.
 *
 * Every error code has one stable short name (the table below); messages
 * are one line and carry the details (plan node, file:line:column, ...). */
#include "internal.h"

#include <stdio.h>

static const char *const err_names[CANON_ERR__COUNT] = {
  [CANON_OK] = "ok",
  [CANON_ERR_INVALID] = "invalid_argument",
  [CANON_ERR_NOMEM] = "out_of_memory",
  [CANON_ERR_IO] = "io_error",
  [CANON_ERR_PARSE] = "parse_error",
  [CANON_ERR_PLAN] = "plan_error",
  [CANON_ERR_TYPE] = "type_error",
  [CANON_ERR_NOT_FOUND] = "not_found",
  [CANON_ERR_OVERFLOW] = "integer_overflow",
  [CANON_ERR_DIV_ZERO] = "division_by_zero",
  [CANON_ERR_CAST] = "cast_error",
  [CANON_ERR_ENGINE] = "engine_error",
  [CANON_ERR_ABI] = "abi_mismatch",
  [CANON_ERR_TRANSFORM] = "transform_error",
  [CANON_ERR_CONFIG] = "config_error",
  [CANON_ERR_UNSUPPORTED] = "unsupported",
  [CANON_ERR_INTERNAL] = "internal_error",
};

const char *canon_errcode_name(int code) {
  if (code < 0 || code >= CANON_ERR__COUNT || !err_names[code]) return "unknown_error";
  return err_names[code];
}

void canon_error_clear(canon_error *err) {
  if (!err) return;
  err->code = CANON_OK;
  err->message[0] = '\0';
}

int canon__seterr(canon_error *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    /* Messages are one line: fold any newline a caller's text carried. */
    for (char *p = err->message; *p; p++)
      if (*p == '\n' || *p == '\r') *p = ' ';
  }
  return code;
}

void canon__errprefix(canon_error *err, const char *fmt, ...) {
  if (!err) return;
  char prefix[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  char old[sizeof err->message];
  memcpy(old, err->message, sizeof old);
  /* Truncation is acceptable: the message stays one bounded line. */
  size_t pl = strlen(prefix);
  if (pl > sizeof err->message - 3) pl = sizeof err->message - 3;
  memcpy(err->message, prefix, pl);
  memcpy(err->message + pl, ": ", 2);
  size_t room = sizeof err->message - pl - 3;
  size_t ol = strnlen(old, room);
  memcpy(err->message + pl + 2, old, ol);
  err->message[pl + 2 + ol] = '\0';
}
