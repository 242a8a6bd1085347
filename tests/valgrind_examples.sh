#!/usr/bin/env bash
# The examples on the threads and serial engines under valgrind: no leak, no
# invalid access.  Skipped (exit 77) where valgrind is not installed.
set -u
build=$1
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 77; }
export CANON_BACKEND_PATH="$build/backends"
fails=0
for ex in null_semantics groupby_median map_values porting_from_pandas; do
  for e in threads:workers=2,partitions=3 serial:partitions=2; do
    if valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 -q \
        "$build/examples/$ex" --engine "$e" >/dev/null 2>"$build/valgrind-$ex.log"; then
      echo "ok   $ex on $e"
    else
      echo "FAIL $ex on $e"; cat "$build/valgrind-$ex.log"; fails=$((fails + 1))
    fi
  done
done
echo "$fails failed"
exit $((fails > 0))
