#!/bin/bash
# The out-of-tree engine template (examples/engine_skeleton) as a third
# party builds it: install this build into a temporary root, build the
# skeleton with make against the installed headers and canon.pc only, and
# certify it with the installed canon-conformance: every case at 1, 2, 3
# and 8 partitions with 0 failures, plus a differential run.
# usage: engine_skeleton_test.sh BUILD_DIR SOURCE_DIR
set -u
build=$1
src=$2
tmp=$(mktemp -d /tmp/canon-skeleton-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "engine_skeleton: $1"
  [ -n "${2:-}" ] && { echo "---- output ----"; echo "$2"; }
  exit 1
}
root=$tmp/root
out=$(meson install -C "$build" --no-rebuild --destdir "$root" 2>&1) || fail "meson install failed" "$out"

# Everything a third party needs is installed.
pc=$(find "$root" -name canon.pc | head -1)
[ -n "$pc" ] || fail "canon.pc is not installed"
for f in canon.h canon_backend.h canon_testing.h; do
  [ -n "$(find "$root" -path "*/include/$f")" ] || fail "$f is not installed"
done
for f in canon canon-conformance; do
  [ -n "$(find "$root" -path "*/bin/$f")" ] || fail "the $f tool is not installed"
done
for e in serial threads; do
  [ -n "$(find "$root" -name "canon_backend_$e.so")" ] || fail "the $e engine is not installed"
done
lib=$(dirname "$(find "$root" -name 'libcanon.so*' | head -1)")
[ -d "$lib" ] || fail "libcanon is not installed"
backends=$(dirname "$(find "$root" -name canon_backend_serial.so | head -1)")
conformance=$(find "$root" -path '*/bin/canon-conformance' | head -1)

# Build against the installed canon.pc only; the sysroot makes its
# /usr/local/... paths point into the temporary root.
export PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_LIBDIR=$PKG_CONFIG_PATH
export PKG_CONFIG_SYSROOT_DIR=$root
cflags=$(pkg-config --cflags canon) || fail "pkg-config does not find canon"
case "$cflags" in *"$root"*) ;; *) fail "pkg-config --cflags canon does not point into the install: $cflags" ;; esac
out=$(make -C "$src/examples/engine_skeleton" OUT="$tmp/sk" 2>&1) || fail "building the skeleton failed" "$out"
so=$tmp/sk/canon_backend_skeleton.so
[ -f "$so" ] || fail "no $so"

# Certify with the installed tools and engines (never the build tree's).
export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export CANON_BACKEND_PATH=$backends
unset CANON_ENGINE CANON_CONFIG
out=$("$conformance" --engine "$so" --cases "$src/conformance/cases" --partitions 1,2,3,8 2>&1)
status=$?
echo "$out" | tail -1
[ "$status" -eq 0 ] || fail "the skeleton does not conform (status $status)" "$out"
echo "$out" | grep -Eq '^[1-9][0-9]* passed, 0 failed, [0-9]+ skipped$' || fail "unexpected summary" "$out"
echo "$out" | head -1 | grep -q '(skeleton)' || fail "the engine did not report its name" "$out"
out=$("$conformance" --engine "$so" --random 100 --seed 3 --partitions 1,2,3,8 --save-dir "$tmp/failures" 2>&1)
[ $? -eq 0 ] || fail "the skeleton differs from serial on random plans" "$out"
echo "$out" | tail -1
