#!/bin/sh
# tests/onnx/run_media_variants.sh CLI BUILD_DIR SOURCE_DIR — the vision / audio graph variants no
# fixture case holds, checked by --validate (ONNX Runtime against automodel's forward, itself
# checked against transformers by the model tests) and the ONNX checker: YolosModel and
# SegformerModel (base, Optimum's feature-extraction), Wav2Vec2Model, and Wav2Vec2 with the
# layer-norm feature encoder, the stable-layer-norm encoder and the weighted layer sum (config
# overrides: the weights those add are the model's own initialisation, the same on both sides).
set -eu
CLI=$1
BUILD=$2
SRC=$3
. "$SRC/tests/onnx/common.sh"
F="$SRC/tests/fixtures"
n=0
check() {
    n=$((n + 1))
    "$CLI" export onnx "$@" "$WORK/v$n" --validate
    /usr/bin/python3 "$SRC/tests/onnx/check_model.py" "$WORK/v$n/model.onnx" float32
}
check "$F/models/yolos_det" --task feature-extraction
check "$F/models/segformer_seg" --task base --opset 14
check "$F/models/wav2vec2_audiocls" --task base
check "$F/models/wav2vec2_audiocls" --task base --opset 14 --set feat_extract_norm=layer --set do_stable_layer_norm=true
check "$F/models/wav2vec2_audiocls" --set use_weighted_layer_sum=true --set feat_extract_norm=layer
check "$F/pipelines_media/asr_ctc_wav2vec2" --task automatic-speech-recognition --set do_stable_layer_norm=true --set num_conv_pos_embeddings=5 --ignore-mismatched-sizes
echo ok
