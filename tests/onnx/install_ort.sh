#!/bin/sh
# tests/onnx/install_ort.sh BUILD_DIR — the pinned onnxruntime-node into BUILD_DIR/onnx-js (never
# the source tree). --ignore-scripts: its install script would fetch GPU binaries; the CPU runtime
# ships inside the package. A failed install fails the test: these checks must not skip silently.
set -eu
BUILD=$1
VERSION=1.30.0
DIR="$BUILD/onnx-js"
if grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/onnxruntime-node/package.json" 2>/dev/null; then exit 0; fi
mkdir -p "$DIR"
[ -f "$DIR/package.json" ] || echo '{"name":"automodel-onnx-test","private":true}' > "$DIR/package.json"
if ! npm install --prefix "$DIR" --ignore-scripts --no-audit --no-fund --save-exact "onnxruntime-node@$VERSION" >"$DIR/npm.log" 2>&1; then
    echo "FAILED: npm install onnxruntime-node@$VERSION into $DIR did not work:" >&2
    cat "$DIR/npm.log" >&2
    exit 1
fi
