#!/bin/sh
# tests/onnx/run_generate.sh CLI BUILD_DIR SOURCE_DIR CASE [steps] — a decoder exported --with-past at
# opsets 17 and 14 (decoder_model.onnx + decoder_with_past_model.onnx + decoder_model_merged.onnx):
# the checker's full check on the three files, --validate of the first against automodel's forward,
# and ort_generate.cjs driving the pair, then the merged file (use_cache_branch false on the prompt
# with empty past, true after), step by step through ONNX Runtime: each must give the case's greedy
# sequences exactly. With DRIVER steps (cases without a greedy run: BERT / RoBERTa causal LM),
# ort_steps.cjs instead: the logits of every cached step against transformers' full forward.
set -eu
CLI=$1
BUILD=$2
SRC=$3
CASE=$4
DRIVER=${5:-generate}
. "$SRC/tests/onnx/common.sh"
for OPSET in 17 14; do
    OUT="$WORK/$CASE-$OPSET"
    "$CLI" export onnx "$SRC/tests/fixtures/models/$CASE" "$OUT" --with-past --opset "$OPSET" --validate
    for F in decoder_model decoder_with_past_model decoder_model_merged; do /usr/bin/python3 "$SRC/tests/onnx/check_model.py" "$OUT/$F.onnx" float32; done
    test -f "$OUT/generation_config.json"
    if [ "$DRIVER" = steps ]; then
        node "$SRC/tests/onnx/ort_steps.cjs" "$OUT" "$SRC/tests/fixtures/models/$CASE"
    else
        node "$SRC/tests/onnx/ort_generate.cjs" "$OUT" "$SRC/tests/fixtures/models/$CASE"
        node "$SRC/tests/onnx/ort_generate.cjs" "$OUT" "$SRC/tests/fixtures/models/$CASE" merged
    fi
done
echo "ok $CASE"
