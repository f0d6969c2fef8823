# tests/onnx/common.sh — sourced by the ONNX Runtime test scripts after CLI, BUILD and SRC are set:
# NODE_PATH at the build tree's onnxruntime-node (install_ort.sh), a clear failure when node, the
# package or Debian's python3-onnx is missing, and a work folder removed on exit ($WORK).
export NODE_PATH="$BUILD/onnx-js/node_modules"
if ! command -v node >/dev/null; then echo "FAILED: node is needed for the ONNX Runtime checks" >&2; exit 1; fi
if [ ! -d "$NODE_PATH/onnxruntime-node" ]; then echo "FAILED: onnxruntime-node is not installed in $NODE_PATH (test onnx_ort_install)" >&2; exit 1; fi
if ! /usr/bin/python3 -c 'import onnx' 2>/dev/null; then echo "FAILED: /usr/bin/python3 with python3-onnx is needed (scripts/install-deps.sh)" >&2; exit 1; fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/am_onnx_XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
