#!/bin/sh
# tests/onnx/run_s2s.sh CLI BUILD_DIR SOURCE_DIR CASE — an encoder-decoder generation head exported in
# Optimum's layout at opsets 17 and 14, without and with --with-past (encoder_model.onnx +
# decoder_model.onnx [+ decoder_with_past_model.onnx]): the checker's full check on every file,
# --validate (ORT against automodel's forward at encoder length 5, decoder length 4), and
# ort_s2s.cjs: the case's transformers outputs on its padded batch of 2, the same logits step by
# step over the cache, and its greedy sequences (one prompt of another length, the padded batch)
# driven through ORT exactly (Whisper's: with its suppress / begin-suppress / forced-ids processors).
set -eu
CLI=$1
BUILD=$2
SRC=$3
CASE=$4
. "$SRC/tests/onnx/common.sh"
for OPSET in 17 14; do
    for PAST in "" --with-past; do
        OUT="$WORK/$CASE-$OPSET$PAST"
        "$CLI" export onnx "$SRC/tests/fixtures/models/$CASE" "$OUT" --opset "$OPSET" $PAST --validate
        FILES="encoder_model decoder_model"
        if [ -n "$PAST" ]; then FILES="$FILES decoder_with_past_model"; else test ! -e "$OUT/decoder_with_past_model.onnx"; fi
        for F in $FILES; do /usr/bin/python3 "$SRC/tests/onnx/check_model.py" "$OUT/$F.onnx" float32; done
        test -f "$OUT/config.json" && test -f "$OUT/generation_config.json" && test ! -e "$OUT/model.onnx"
        node "$SRC/tests/onnx/ort_s2s.cjs" "$OUT" "$SRC/tests/fixtures/models/$CASE"
    done
done
# the text models' base class (T5Model, BartModel: input_ids, attention_mask, decoder_input_ids ->
# last_hidden_state, encoder_last_hidden_state) from the same weights, against automodel's forward
case $CASE in
whisper* | vision_encoder_decoder) ;;
*)
    "$CLI" export onnx "$SRC/tests/fixtures/models/$CASE" "$WORK/$CASE-base" --task base --validate
    /usr/bin/python3 "$SRC/tests/onnx/check_model.py" "$WORK/$CASE-base/model.onnx" float32
    ;;
esac
echo "ok $CASE"
