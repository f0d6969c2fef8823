#!/bin/sh
# tests/onnx/run_case.sh CLI BUILD_DIR SOURCE_DIR CASE — export one fixture case to ONNX at opsets
# 17 and 14, and for each: the ONNX checker's full check (Debian python3-onnx), ONNX Runtime
# (npm onnxruntime-node, installed into BUILD_DIR/onnx-js by install_ort.sh) on the case's own
# inputs against transformers' outputs within the case's atol/rtol (a padded batch of 2), and
# --validate: ORT against automodel's forward at another sequence length (5, not the case's 7),
# which only passes when the batch and sequence axes really are dynamic.
set -eu
CLI=$1
BUILD=$2
SRC=$3
CASE=$4
. "$SRC/tests/onnx/common.sh"
for OPSET in 17 14; do
    OUT="$WORK/$CASE-$OPSET"
    "$CLI" export onnx "$SRC/tests/fixtures/models/$CASE" "$OUT" --opset "$OPSET" --validate
    /usr/bin/python3 "$SRC/tests/onnx/check_model.py" "$OUT/model.onnx" float32
    node "$SRC/tests/onnx/ort_fixture.cjs" "$OUT/model.onnx" "$SRC/tests/fixtures/models/$CASE"
    test -f "$OUT/config.json"
done
echo "ok $CASE"
