#!/bin/sh
# tests/onnx/run_media.sh CLI BUILD_DIR SOURCE_DIR CASE — a pipelines_media fixture case (YOLOS,
# SegFormer, Wav2Vec2) exported to ONNX at opsets 17 and 14, and for each: the ONNX checker's full
# check, ONNX Runtime on every model call the case stored (ort_media.cjs: the pipeline's own image
# sizes / sample counts, and the model-level batch of 2 where the case has one) against
# transformers' outputs, and --validate: ORT against automodel's forward on a batch of 2 at another
# image size (5/4 x 3/4 of the config's) or 3000 samples with a zero-padded row. Then float16
# weights (--dtype float16) through --validate.
set -eu
CLI=$1
BUILD=$2
SRC=$3
CASE=$4
. "$SRC/tests/onnx/common.sh"
for OPSET in 17 14; do
    OUT="$WORK/$CASE-$OPSET"
    "$CLI" export onnx "$SRC/tests/fixtures/pipelines_media/$CASE" "$OUT" --opset "$OPSET" --validate
    /usr/bin/python3 "$SRC/tests/onnx/check_model.py" "$OUT/model.onnx" float32
    node "$SRC/tests/onnx/ort_media.cjs" "$OUT/model.onnx" "$SRC/tests/fixtures/pipelines_media/$CASE"
    test -f "$OUT/config.json" && test -f "$OUT/preprocessor_config.json"
done
"$CLI" export onnx "$SRC/tests/fixtures/pipelines_media/$CASE" "$WORK/$CASE-f16" --dtype float16 --validate
/usr/bin/python3 "$SRC/tests/onnx/check_model.py" "$WORK/$CASE-f16/model.onnx" float16
echo "ok $CASE"
