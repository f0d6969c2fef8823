#!/usr/bin/env bash
# check_exports.sh LIB HEADER: the shared library's exported (dynamic, defined) symbols are exactly
# the functions include/automodel.h declares with AM_API; every function the header declares
# carries AM_API; and the SONAME is libautomodel.so.<major>.
set -euo pipefail
lib=$1 header=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# AM_API declarations: the identifier before the first '(' on the line that starts with AM_API.
grep -E '^AM_API ' "$header" | sed -E 's/^AM_API[^(]*[^A-Za-z0-9_]([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\(.*/\1/' | sort -u >"$tmp/header"
# top-level function declarations without AM_API (a declaration starts in column 0)
if grep -nE '^[A-Za-z_][A-Za-z0-9_ *]*[^A-Za-z0-9_]am_[A-Za-z0-9_]+[[:space:]]*\(' "$header" | grep -vE '^[0-9]+:(AM_API |typedef |#)'; then
    echo "FAILED: the declarations above lack AM_API" >&2
    exit 1
fi
nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' | sort -u >"$tmp/exported"

nh=$(wc -l <"$tmp/header") ne=$(wc -l <"$tmp/exported")
echo "header: $nh AM_API functions; $lib: $ne exported symbols"
[ "$nh" -gt 0 ] || { echo "FAILED: no AM_API declaration parsed from $header" >&2; exit 1; }
if ! diff -u "$tmp/header" "$tmp/exported" >"$tmp/diff"; then
    echo "FAILED: exported symbols differ from the header (- header only, + exported only):" >&2
    grep -E '^[-+][^-+]' "$tmp/diff" >&2
    exit 1
fi
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
case "$soname" in
libautomodel.so.[0-9]*) echo "SONAME $soname" ;;
*) echo "FAILED: SONAME is '$soname', not libautomodel.so.<major>" >&2; exit 1 ;;
esac
