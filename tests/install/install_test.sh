#!/usr/bin/env bash
# install_test.sh BUILD_DIR SOURCE_DIR CC: `cmake --install` into a temporary prefix, then build
# examples/classify.c as a user would, twice (pkg-config, and find_package(automodel) in a CMake
# project), check that each binary loads libautomodel.so from that prefix, and run it on the
# sms-spam-bert demo model.
set -euo pipefail
build=$1 src=$2 cc=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix model=$src/models/sms-spam-bert
unset LD_LIBRARY_PATH
fail() { echo "FAILED: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log" >&2; fail "cmake --install"; }
for f in include/automodel.h lib/libautomodel.so lib/libautomodel.a lib/pkgconfig/automodel.pc \
    lib/cmake/automodel/automodelConfig.cmake lib/cmake/automodel/automodelConfigVersion.cmake bin/automodel; do
    [ -e "$prefix/$f" ] || fail "$f was not installed"
done
"$prefix/bin/automodel" --version | grep -q '^automodel ' || fail "the installed CLI does not run"

# uses_prefix BIN: the dynamic loader resolves libautomodel.so.N to the installed copy
uses_prefix() {
    local line
    line=$(ldd "$1" | grep 'libautomodel\.so') || fail "$1 does not link libautomodel.so"
    echo "$1: $line"
    case "$line" in
    *"=> $prefix/lib/libautomodel.so."*) ;;
    *) fail "$1 loads libautomodel from elsewhere: $line" ;;
    esac
}
spam="Congratulations! You have been selected to receive a FREE £500 gift voucher. Text WIN to 80086 now to claim your prize."
ham="Ok lor, I'm at home now. Call me when you reach."
# run BIN TEXT REGEX
run() {
    local out
    out=$("$1" "$model" "$2") || fail "$1 exited with $?"
    echo "$out"
    echo "$out" | grep -Eq "$3" || fail "$1: expected /$3/"
}

# 1. pkg-config
flags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs automodel) || fail "pkg-config automodel"
echo "pkg-config --cflags --libs automodel: $flags"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Werror "$src/examples/classify.c" $flags -lm -Wl,-rpath,"$prefix/lib" -o "$tmp/classify_pc"
uses_prefix "$tmp/classify_pc"
run "$tmp/classify_pc" "$spam" '^spam \(probability 0\.99'

# 2. find_package(automodel)
cmake -S "$src/tests/install/consumer" -B "$tmp/consumer" -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCLASSIFY_SOURCE="$src/examples/classify.c" >"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log" >&2; fail "configure"; }
cmake --build "$tmp/consumer" >>"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log" >&2; fail "build"; }
uses_prefix "$tmp/consumer/classify"
run "$tmp/consumer/classify" "$ham" '^ham \(probability 0\.99[0-9]+; logits 3\.527[0-9] -3\.380[0-9]\)'
echo "install, pkg-config and find_package: OK"
