#!/bin/bash
# The conformance suite must catch a broken engine: run canon-conformance
# against the "reversed" test plugin (serial with its result partitions in
# reverse order) and require a failing exit status and a diff for a sort case.
# usage: conformance_broken.sh CANON_CONFORMANCE PLUGIN_SO
set -u
runner=$1
plugin=$2
out=$("$runner" --engine "$plugin" --partitions 1,2,3,8 2>&1)
status=$?
fail() {
  echo "conformance_broken: $1"
  echo "---- canon-conformance output ----"
  echo "$out"
  exit 1
}
[ "$status" -eq 1 ] || fail "expected exit status 1, got $status"
echo "$out" | grep -q '^FAIL sort/[a-z_]* \[partitions=[238]\]: result differs$' ||
  fail "no sort case failed with a result diff"
echo "$out" | grep -q '^    [-+] \[[0-9]*\] ' || fail "no diff lines (- / +) in the output"
echo "$out" | grep -Eq '^[0-9]+ passed, [1-9][0-9]* failed, [0-9]+ skipped$' ||
  fail "no summary line with failures"
# At one partition reversing changes nothing — except for union_all, whose
# stage holds the partitions of both inputs (two even at partitions=1).
if echo "$out" | grep '^FAIL .*\[partitions=1\]' | grep -vq 'union_all'; then
  fail "a case failed at partitions=1, where the engine behaves like serial"
fi
echo "ok: $(echo "$out" | tail -1)"
