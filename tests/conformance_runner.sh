#!/bin/bash
# canon-conformance's own behaviour on small hand-made case directories:
# strict case files (unknown keys named with file and path), SKIP lines for
# missing capabilities, --case / --tag / --list, error expectations, the
# summary line and the exit status.
# usage: conformance_runner.sh CANON_CONFORMANCE
set -u
runner=$1
dir=$(mktemp -d /tmp/canon-conf-runner-XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/a"
failures=0
check() {  # check NAME COMMAND-OUTPUT PATTERN
  if ! grep -Eq -- "$3" <<<"$2"; then
    echo "FAILED: $1: no line matching /$3/ in:"
    echo "$2"
    failures=$((failures + 1))
  fi
}
good='"inputs": {"t": {"schema": "k:string,v:int64", "rows": [["a", "1"], [null, "2"], ["a", "3"]]}},
  "plan": {"nodes": [{"id": 1, "op": "input", "name": "t"},
    {"id": 2, "op": "aggregate", "input": 1, "keys": ["k"],
     "aggregates": [{"name": "s", "expr": {"fn": "sum", "args": [{"col": "v"}]}}]}], "root": 2}'
cat >"$dir/a/pass.json" <<JSON
{"description": "sums per key", "tags": ["x"], $good,
 "expected": {"schema": "k:string,s:int64", "rows": [[null, "2"], ["a", "4"]], "order": "any"}}
JSON
cat >"$dir/a/wrong.json" <<JSON
{"description": "a wrong expectation", "tags": ["y"], $good,
 "expected": {"schema": "k:string,s:int64", "rows": [[null, "2"], ["a", "5"]], "order": "any"}}
JSON
cat >"$dir/a/badkey.json" <<JSON
{"description": "typo in a key", $good,
 "expected": {"schema": "k:string,s:int64", "rows": [], "ordr": "any"}}
JSON
cat >"$dir/a/skip.json" <<JSON
{"description": "needs isolation", "requires": ["isolation"], $good,
 "expected": {"schema": "k:string,s:int64", "rows": [], "order": "any"}}
JSON
cat >"$dir/a/err.json" <<JSON
{"description": "expects an error",
 "inputs": {"t": {"schema": "v:int64", "rows": [["1"]]}},
 "plan": {"nodes": [{"id": 1, "op": "input", "name": "t"},
   {"id": 2, "op": "select", "input": 1, "columns": [{"name": "q",
     "expr": {"fn": "div", "args": [{"col": "v"}, {"lit": "0", "type": "int64"}]}}]}], "root": 2},
 "expected": {"error": "division_by_zero"}}
JSON

out=$("$runner" --engine serial --partitions 1,2 --cases "$dir" 2>&1); status=$?
[ "$status" -eq 1 ] || { echo "FAILED: exit status $status, expected 1"; failures=$((failures + 1)); }
check "bad key" "$out" "^FAIL a/badkey: bad case file: $dir/a/badkey.json: \\\$\\.expected: unknown key \"ordr\""
check "skip" "$out" '^SKIP a/skip: needs capability isolation$'
check "diff" "$out" '^FAIL a/wrong \[partitions=1\]: result differs$'
check "diff lines" "$out" '^    - \[[0-9]\] a,5$'
check "diff lines" "$out" '^    \+ \[[0-9]\] a,4$'
check "summary" "$out" '^2 passed, 2 failed, 1 skipped$'

out=$("$runner" --engine serial --cases "$dir" --case 'a/p*' --case a/err 2>&1); status=$?
[ "$status" -eq 0 ] || { echo "FAILED: --case selection exit $status: $out"; failures=$((failures + 1)); }
check "case filter" "$out" '^2 passed, 0 failed, 0 skipped$'

out=$("$runner" --cases "$dir" --list --tag x 2>&1)
check "list" "$out" '^a/pass  \[x\]$'
if grep -q 'a/wrong' <<<"$out"; then echo "FAILED: --tag x listed a/wrong"; failures=$((failures + 1)); fi

out=$("$runner" --engine serial --partitions 0 --cases "$dir" 2>&1); status=$?
[ "$status" -eq 2 ] || { echo "FAILED: bad --partitions gave exit $status"; failures=$((failures + 1)); }

[ "$failures" -eq 0 ] && echo "ok" || exit 1
