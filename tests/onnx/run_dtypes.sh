#!/bin/sh
# tests/onnx/run_dtypes.sh CLI BUILD_DIR SOURCE_DIR — weights exported in float16 (an f32 model
# converted: --dtype float16) and bfloat16 (opset 17, external data): the checker's full check,
# every weight initializer in that dtype, and --validate through ONNX Runtime against automodel's
# forward of the same converted model.
set -eu
CLI=$1
BUILD=$2
SRC=$3
. "$SRC/tests/onnx/common.sh"
for CASE in bert_model distilbert_seqcls roberta_mlm gpt2_lm llama_seqcls; do
    "$CLI" export onnx "$SRC/tests/fixtures/models/$CASE" "$WORK/$CASE-f16" --dtype float16 --opset 15 --validate
    /usr/bin/python3 "$SRC/tests/onnx/check_model.py" "$WORK/$CASE-f16/model.onnx" float16
    "$CLI" export onnx "$SRC/tests/fixtures/models/$CASE" "$WORK/$CASE-bf16" --dtype bfloat16 --external-data always --validate
    test -f "$WORK/$CASE-bf16/model.onnx_data"
    /usr/bin/python3 "$SRC/tests/onnx/check_model.py" "$WORK/$CASE-bf16/model.onnx" bfloat16
done
echo ok
