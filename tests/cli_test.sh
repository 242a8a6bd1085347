#!/usr/bin/env bash
# End-to-end tests of the canon tool and the examples, as a user runs them.
# Usage: cli_test.sh BUILD_DIR SOURCE_DIR
set -u
build=$1
src=$2
canon="$build/tools/canon"
export CANON_BACKEND_PATH="$build/backends"
unset CANON_ENGINE CANON_CONFIG
tmp=$(mktemp -d /tmp/canon-cli-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # check NAME CONDITION...
  local name=$1
  shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}

# Examples give identical output on every engine setting.
for ex in null_semantics groupby_median map_values porting_from_pandas; do
  "$build/examples/$ex" --engine serial >"$tmp/$ex.1" 2>&1
  for e in serial:partitions=2 serial:partitions=7 threads threads:workers=2,partitions=5 \
           processes:workers=2,partitions=3; do
    "$build/examples/$ex" --engine "$e" >"$tmp/$ex.n" 2>&1
    check "$ex same with $e" cmp -s "$tmp/$ex.1" "$tmp/$ex.n"
  done
  CANON_ENGINE=serial:partitions=3 "$build/examples/$ex" >"$tmp/$ex.env" 2>&1
  check "$ex same with CANON_ENGINE" cmp -s "$tmp/$ex.1" "$tmp/$ex.env"
done
check "null_semantics keeps the NULL group last" grep -qx ',2,1,7' "$tmp/null_semantics.1"

# canon run: the documented example plan, at several partition counts.
cd "$src"
"$canon" run examples/plans/sales.json --output - >"$tmp/run1.csv"
check "run exits 0" test $? -eq 0
for e in serial:partitions=2 serial:partitions=3 serial:partitions=8 threads threads:partitions=8 \
         processes processes:workers=3,partitions=8; do
  "$canon" run examples/plans/sales.json --engine $e --output - >"$tmp/runp.csv"
  check "run same with $e" cmp -s "$tmp/run1.csv" "$tmp/runp.csv"
done
check "run header" grep -q '^region,orders,units,revenue,avg_price$' "$tmp/run1.csv"
"$canon" run examples/plans/sales.json --output "$tmp/out.csv"
check "run --output writes the file" cmp -s "$tmp/run1.csv" "$tmp/out.csv"
check "no temp file left" test "$(ls -A "$tmp" | grep -c '^\.')" -eq 0

# canon explain and engines.
"$canon" explain examples/plans/sales.json --engine serial:partitions=4 >"$tmp/explain.txt"
check "explain shows exchanges" grep -q 'exchange hash' "$tmp/explain.txt"
"$canon" explain examples/plans/sales.json --dot >"$tmp/plan.dot"
check "explain --dot is graphviz" grep -q '^digraph logical' "$tmp/plan.dot"
"$canon" engines >"$tmp/engines.txt"
check "engines lists serial" grep -q '^serial .*abi 1\.[0-9]' "$tmp/engines.txt"
check "engines lists threads" grep -q '^threads .*abi 1\.[0-9].*parallel' "$tmp/engines.txt"
check "engines lists processes" grep -q '^processes .*abi 1\.[0-9].*isolation' "$tmp/engines.txt"

# Errors: non-zero exit and one line naming the place.
expect_error() { # expect_error NAME PATTERN COMMAND...
  local name=$1 pattern=$2
  shift 2
  "$@" >"$tmp/stdout" 2>"$tmp/stderr"
  local rc=$?
  check "$name fails" test $rc -ne 0
  check "$name message" grep -q -- "$pattern" "$tmp/stderr"
  check "$name one line" test "$(wc -l <"$tmp/stderr")" -eq 1
}
printf '{"canon_plan": 1,\n "nodes": [}\n' >"$tmp/bad.json"
expect_error "bad JSON" "bad.json:2:" "$canon" run "$tmp/bad.json"
sed -E 's/("col":[[:space:]]*)"units"/\1"unitz"/' examples/plans/sales.json >"$tmp/badcol.json"
expect_error "unknown column" "unknown column 'unitz'" "$canon" run "$tmp/badcol.json"
expect_error "unknown engine" "unknown engine 'warp'; available: processes, serial, threads" "$canon" run examples/plans/sales.json --engine warp
expect_error "missing plan" "nope.json" "$canon" run "$tmp/nope.json"
printf 'region,product,units,price\nnorth,a,1,2.0\nsouth,b,x,1.0\n' >"$tmp/bad.csv"
sed "s|examples/data/sales.csv|$tmp/bad.csv|" examples/plans/sales.json >"$tmp/badcsv.json"
expect_error "bad CSV value" "bad.csv:3:9" "$canon" run "$tmp/badcsv.json" --output "$tmp/never.csv"
check "failed run leaves no output" test ! -e "$tmp/never.csv"
expect_error "bad CSV value in a worker process" "bad.csv:3:9" "$canon" run "$tmp/badcsv.json" \
  --engine processes:workers=2,partitions=3 --output "$tmp/never.csv"
check "failed processes run leaves no output" test ! -e "$tmp/never.csv"

# Seeing a job run (docs/observability.md): progress is on by default but
# never written to a stderr that is not a terminal; trace, statistics,
# explain --analyze.
"$canon" run examples/plans/sales.json --output "$tmp/obs.csv" 2>"$tmp/obs.err"
check "run: nothing on a stderr that is not a terminal" test ! -s "$tmp/obs.err"
for e in serial:partitions=3 threads:workers=2 processes:workers=2; do
  rm -f "$tmp/trace.json"
  "$canon" run examples/plans/sales.json --engine $e --output - --trace "$tmp/trace.json" \
    >/dev/null 2>"$tmp/obs.err"
  check "trace with $e: stderr empty" test ! -s "$tmp/obs.err"
  check "trace with $e: trace events" grep -q '^{"traceEvents":\[' "$tmp/trace.json"
  check "trace with $e: task events" grep -q '"cat":"task","ph":"X"' "$tmp/trace.json"
  check "trace with $e: named tracks" grep -q '"name":"thread_name","ph":"M"' "$tmp/trace.json"
  if command -v python3 >/dev/null; then
    check "trace with $e: valid JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' \
      "$tmp/trace.json"
  fi
done
check "trace: no temporary file left" test "$(ls "$tmp" | grep -c 'trace.json.tmp')" -eq 0
CANON_TRACE="$tmp/env-trace.json" "$canon" run examples/plans/sales.json --output - >/dev/null
check "CANON_TRACE writes the trace" grep -q '"traceEvents"' "$tmp/env-trace.json"
"$canon" run examples/plans/sales.json --engine threads:workers=2 --stats --output - \
  >/dev/null 2>"$tmp/stats.txt"
check "--stats table header" grep -Eq '^stage +parts +tasks +rows_in +rows_out' "$tmp/stats.txt"
check "--stats job line" grep -q '^job: ok on threads:workers=2, 4 stages, 5 result rows' "$tmp/stats.txt"
"$canon" explain examples/plans/sales.json --analyze --engine serial:partitions=2 >"$tmp/analyze.txt"
check "explain --analyze" grep -q '^physical plan (engine serial:partitions=2), analyzed:' "$tmp/analyze.txt"
check "explain --analyze stage figures" grep -Eq '^ *stage 0: 2 partitions +\[tasks 2, rows 0 -> ' "$tmp/analyze.txt"
"$canon" run examples/plans/sales.json --progress=sometimes >/dev/null 2>&1
check "bad --progress is a usage error" test $? -eq 2
# On a terminal (a pty from script(1), where available) the line is drawn
# and cleared; --progress=off silences it.
if script -qc true /dev/null >/dev/null 2>&1; then
  script -qc "$canon run examples/plans/sales.json --output $tmp/pty.csv" /dev/null >"$tmp/pty.out"
  check "progress on a terminal" grep -q 'canon: stage 1/' "$tmp/pty.out"
  script -qc "$canon run examples/plans/sales.json --progress=off --output $tmp/pty.csv" \
    /dev/null >"$tmp/pty.out"
  check "--progress=off on a terminal" test "$(grep -c 'canon: stage' "$tmp/pty.out")" -eq 0
fi

echo "$fails failed"
exit $((fails > 0))
