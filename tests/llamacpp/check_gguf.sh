#!/bin/sh
# tests/llamacpp/check_gguf.sh CLI BUILD_DIR SOURCE_DIR — bench/gguf_convert.py is right, so that
# bench/bench_llamacpp.sh compares automodel and llama.cpp on the same weights:
#  1. models/shakespeare-gpt2 converted to f32, q8_0 and q4_0 GGUF; gguf_roundtrip.py reads each back
#     with a reader of its own and checks every tensor against the checkpoint (f32 exact, quantized
#     within the block's step);
#  2. llama.cpp (node-llama-cpp, CPU, installed by test llamacpp_install) tokenizes a text with the
#     converted vocabulary and merges into automodel's ids;
#  3. llama.cpp's greedy continuation of "ROMEO:" (16 tokens) from the f32 GGUF equals automodel's
#     (`automodel generate --no-do-sample`) token for token;
#  4. the q8_0 and q4_0 files run and their first greedy token is the f32 one (a wrong block layout
#     gives noise; the later tokens may legitimately drift with 8/4-bit weights).
set -eu
CLI=$1
BUILD=$2
SRC=$3
NLC="$BUILD/llamacpp"
if ! command -v node >/dev/null; then echo "FAILED: node is needed for the llama.cpp check of bench/gguf_convert.py" >&2; exit 1; fi
if [ ! -d "$NLC/node_modules/node-llama-cpp" ]; then echo "FAILED: node-llama-cpp is not installed in $NLC (test llamacpp_install: bench/install_llamacpp.sh)" >&2; exit 1; fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/am_gguf_XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
M="$SRC/models/shakespeare-gpt2"
RUN="node $SRC/bench/llamacpp_run.mjs $NLC"
for T in f32 q8_0 q4_0; do
    /usr/bin/python3 "$SRC/bench/gguf_convert.py" "$M" "$WORK/$T.gguf" --type "$T"
    /usr/bin/python3 "$SRC/tests/llamacpp/gguf_roundtrip.py" "$M" "$WORK/$T.gguf"
done
ids() { node -e "const r=require('$SRC/tests/onnx/safetensors.cjs'); console.log(JSON.stringify(Array.from(r('$1')['$2'].data, Number)))"; }
TEXT='ROMEO: But soft, what light through yonder window breaks?
It is the east, and Juliet is the sun.'
"$CLI" tokenize "$M" "$TEXT" --output "$WORK/text.safetensors" >/dev/null
WANT=$(ids "$WORK/text.safetensors" input_ids)
GOT=$($RUN tokenize "$WORK/f32.gguf" "$TEXT" | sed 's/^{"ids":\(.*\)}$/\1/')
if [ "$WANT" != "$GOT" ]; then echo "FAILED: tokenization: automodel $WANT, llama.cpp $GOT" >&2; exit 1; fi
"$CLI" tokenize "$M" "ROMEO:" --output "$WORK/in.safetensors" >/dev/null
"$CLI" generate "$M" --inputs "$WORK/in.safetensors" --output "$WORK/out.safetensors" --no-do-sample --max-new-tokens 16 --min-new-tokens 16 2>/dev/null
PROMPT=$(ids "$WORK/in.safetensors" input_ids | tr -d '[]')
SEQ=$(ids "$WORK/out.safetensors" sequences | tr -d '[]')
NP=$(echo "$PROMPT" | tr ',' '\n' | wc -l)
WANT=$(echo "$SEQ" | tr ',' '\n' | tail -n +$((NP + 1)) | paste -sd, -)
GOT=$($RUN gen "$WORK/f32.gguf" "$PROMPT" 16 1 | sed 's/^{"ids":\[\(.*\)\]}$/\1/')
if [ "$WANT" != "$GOT" ]; then echo "FAILED: greedy continuation of ids $PROMPT: automodel $WANT, llama.cpp f32 GGUF $GOT" >&2; exit 1; fi
echo "ok f32: llama.cpp's greedy tokens equal automodel's: $GOT"
FIRST=${GOT%%,*}
for T in q8_0 q4_0; do
    Q=$($RUN gen "$WORK/$T.gguf" "$PROMPT" 16 1 | sed 's/^{"ids":\[\(.*\)\]}$/\1/')
    if [ "${Q%%,*}" != "$FIRST" ]; then echo "FAILED: $T GGUF: first greedy token ${Q%%,*}, f32 gives $FIRST ($Q)" >&2; exit 1; fi
    echo "ok $T: $Q"
done
