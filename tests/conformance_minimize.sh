#!/bin/bash
# Differential mode must turn a mismatch into a small case file: run
# canon-conformance --random against the "reversed" test plugin (serial with
# its result partitions in reverse order), require a saved case, and check
# that the case loads, fails on that engine and passes on serial.  Also: the
# same seed gives the same plans (the output of two runs is identical).
# usage: conformance_minimize.sh CANON_CONFORMANCE PLUGIN_SO
set -u
runner=$1
plugin=$2
dir=$(mktemp -d /tmp/canon-conf-minimize-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() {
  echo "conformance_minimize: $1"
  [ -n "${2:-}" ] && { echo "---- output ----"; echo "$2"; }
  exit 1
}
out=$("$runner" --engine "$plugin" --random 60 --seed 1 --partitions 1,2,3,8 \
      --save-dir "$dir/saved" 2>&1)
status=$?
[ "$status" -eq 1 ] || fail "expected exit status 1 against the broken engine, got $status" "$out"
echo "$out" | grep -Eq '^FAIL random/1-[0-9]+ \[partitions=[238]\]: ' || fail "no FAIL line" "$out"
echo "$out" | grep -Eq '^[0-9]+ passed, [1-9][0-9]* failed, 0 skipped$' || fail "no summary line" "$out"
saved=$(echo "$out" | sed -n 's/^    minimized in [0-9]* runs; saved //p')
[ -n "$saved" ] && [ -f "$saved" ] || fail "no case file saved" "$out"
case "$saved" in "$dir/saved/random-1-"*.json) ;; *) fail "saved outside --save-dir: $saved" ;; esac
[ "$(ls "$dir/saved" | wc -l)" -eq 1 ] || fail "expected exactly one saved case" "$(ls "$dir/saved")"

# Minimized: reversing partitions needs only two rows to show.
rows=$(grep -c '^\s*\[' "$saved" || true)
[ "$rows" -le 12 ] || fail "the saved case is not minimized ($rows row lines)" "$(cat "$saved")"

# The case loads, fails on the broken engine and passes on serial.
res=$("$runner" --engine "$plugin" --cases "$dir/saved" --partitions 1,2,3,8 2>&1)
[ $? -eq 1 ] || fail "the saved case does not fail on the broken engine" "$res"
echo "$res" | grep -q '^FAIL random-1-[0-9]* \[partitions=[238]\]: result differs$' ||
  fail "the saved case fails, but not with a result diff" "$res"
res=$("$runner" --engine serial --cases "$dir/saved" --partitions 1,2,3,8 2>&1)
[ $? -eq 0 ] || fail "the saved case does not pass on serial" "$res"
echo "$res" | grep -qx '1 passed, 0 failed, 0 skipped' || fail "unexpected summary on serial" "$res"

# Reproducible: the same seed gives the same plans, results and output.
a=$("$runner" --engine serial --random 40 --seed 7 --partitions 2,3 --verbose 2>&1)
b=$("$runner" --engine serial --random 40 --seed 7 --partitions 2,3 --verbose 2>&1)
[ "$a" = "$b" ] || fail "two runs with seed 7 differ" "$(diff <(echo "$a") <(echo "$b"))"
c=$("$runner" --engine serial --random 40 --seed 8 --partitions 2,3 --verbose 2>&1)
[ "$a" != "$c" ] || fail "seeds 7 and 8 gave the same plans" "$a"
echo "ok: saved and minimized $(basename "$saved"); $(echo "$out" | tail -1)"
