#!/bin/sh
# bench/install_llamacpp.sh BUILD_DIR — npm node-llama-cpp 3.22.1 (llama.cpp for node) into
# BUILD_DIR/llamacpp (never the source tree), from the npm registry only:
#   --ignore-scripts   its postinstall would look for / build llama.cpp from GitHub sources;
#   --omit=optional    its optional dependencies are every platform's prebuilt binaries, CUDA and
#                      Vulkan included (about 700 MB); only the CPU one for linux-x64 is installed,
#                      named explicitly (@node-llama-cpp/linux-x64, same version).
# bench/llamacpp_run.mjs then calls getLlama({gpu: false, build: "never", skipDownload: true}):
# the prebuilt CPU binary or an error, never a download or a GPU probe.
# A failed install fails (the correctness test and the bench must not skip silently).
set -eu
BUILD=$1
VERSION=3.22.1
DIR="$BUILD/llamacpp"
case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) BIN=linux-x64 ;;
    Linux-aarch64) BIN=linux-arm64 ;;
    *) echo "FAILED: no node-llama-cpp CPU binary package for $(uname -s)-$(uname -m) in this script" >&2; exit 1 ;;
esac
if grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/node-llama-cpp/package.json" 2>/dev/null &&
   grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/@node-llama-cpp/$BIN/package.json" 2>/dev/null; then exit 0; fi
mkdir -p "$DIR"
[ -f "$DIR/package.json" ] || echo '{"name":"automodel-llamacpp-bench","private":true}' > "$DIR/package.json"
if ! npm install --prefix "$DIR" --ignore-scripts --omit=optional --no-audit --no-fund --save-exact \
        "node-llama-cpp@$VERSION" "@node-llama-cpp/$BIN@$VERSION" >"$DIR/npm.log" 2>&1; then
    echo "FAILED: npm install node-llama-cpp@$VERSION into $DIR did not work:" >&2
    cat "$DIR/npm.log" >&2
    exit 1
fi
