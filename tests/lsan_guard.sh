#!/usr/bin/env bash
# lsan_guard.sh — run a test and fail it when LeakSanitizer reported a
# leak.  Criterion gives its verdict before the test process exits, and
# LeakSanitizer reports at exit, so a leaking test still "passes"; ./dev
# runs the ASan build's tests through this wrapper (meson test --wrapper).
log=$(mktemp)
"$@" 2>"$log"
rc=$?
cat "$log" >&2
if grep -q "ERROR: LeakSanitizer" "$log"; then
  echo "lsan_guard: memory leaked (the LeakSanitizer report is above)" >&2
  rc=1
fi
rm -f "$log"
exit $rc
