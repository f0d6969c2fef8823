#!/bin/sh
# bench/bench_llamacpp.sh [ROUNDS] [WORKDIR] — issue 15's speed comparison: automodel's float32,
# 8-bit (LLM.int8) and 4-bit (NF4, FP4) GPT-2 124M against llama.cpp (npm node-llama-cpp 3.22.1, CPU
# build, gpu: false) f32 / q8_0 / q4_0 on the same weights converted to GGUF (bench/gguf_convert.py),
# at 1 and 2 threads, in alternating rounds (automodel, llama.cpp, automodel, ...), with the memory
# read bandwidth measured in every round. Never run by ctest.
#
# The model: a random GPT-2 124M (automodel init, seed 0; 768 wide, 12 layers, vocab 50257, 1024
# positions). Every run: a 128-id prompt (ids (i*7919+13) % vocab), 32 greedy new tokens (a fixed
# count: EOS is an ordinary token), one warm-up then REPS repetitions in one process; prefill =
# start -> first token, decode ms/token = (last token - first token) / 31. Wall and process CPU time
# (all threads: CLOCK_PROCESS_CPUTIME_ID, node's process.cpuUsage) are both recorded; the summary
# compares 1-thread runs on CPU time (AM_BENCH_CLOCK=cpu convention: the machine may be shared) and
# 2-thread runs on wall time. automodel also runs at AM_MAX_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2 in
# the same rounds (llama.cpp's prebuilt binary picks its own CPU variant and is not capped).
# llama.cpp variants: q8_0/q4_0 quantize token_embd (= the tied output head) too, as a GGUF
# converted with that type does; "+f32 head" keeps it float32 as automodel/transformers keep lm_head.
#
# env: BUILD (build), REPS (3), THREADS ("1 2"), NEW_TOKENS (32), PROMPT_LEN (128), AVX2 (1: also
# the capped-ISA automodel runs). Raw results: WORKDIR/results.jsonl; summary: stdout (Markdown).
set -eu
ROUNDS=${1:-3}
WORK=${2:-/tmp/am_bench_llamacpp}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build}
REPS=${REPS:-3}
THREADS=${THREADS:-"1 2"}
NEW=${NEW_TOKENS:-32}
PLEN=${PROMPT_LEN:-128}
AVX2=${AVX2:-1}
CLI="$BUILD/automodel"
AM="$BUILD/bench/bench_llamacpp_am"
BW="$BUILD/bench/bench_bandwidth"
NLC="$BUILD/llamacpp"
for f in "$CLI" "$AM" "$BW"; do [ -x "$f" ] || { echo "bench_llamacpp: $f missing: build first (cmake --build $BUILD)" >&2; exit 1; }; done
sh "$SRC/bench/install_llamacpp.sh" "$BUILD"
mkdir -p "$WORK"
M="$WORK/gpt2-124M"
if [ ! -f "$M/model.safetensors" ]; then
    printf '%s\n' '{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257, "n_positions": 1024}' > "$WORK/config.json"
    "$CLI" init "$WORK/config.json" "$M" --seed 0 >/dev/null
fi
for T in f32 q8_0 q4_0; do
    [ -f "$WORK/$T.gguf" ] || /usr/bin/python3 "$SRC/bench/gguf_convert.py" "$M" "$WORK/$T.gguf" --type "$T" --print-bytes > "$WORK/$T.json"
    if [ "$T" != f32 ] && [ ! -f "$WORK/$T-embf32.gguf" ]; then
        /usr/bin/python3 "$SRC/bench/gguf_convert.py" "$M" "$WORK/$T-embf32.gguf" --type "$T" --embd-type f32 --print-bytes > "$WORK/$T-embf32.json"
    fi
done
OUT="$WORK/results.jsonl"
: > "$OUT"
tag() { sed "s/^{/{\"round\": $1, \"isa_cap\": \"$2\", \"label\": \"$3\", /" >> "$OUT"; }
bw() { "$BW" $THREADS | tag "$1" none bandwidth; }
am() { # round isa_cap mode threads
    if [ "$2" = avx2 ]; then
        AM_MAX_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2 "$AM" "$M" "$3" "$4" "$PLEN" "$NEW" "$REPS" | tag "$1" avx2 "automodel $3"
    else
        "$AM" "$M" "$3" "$4" "$PLEN" "$NEW" "$REPS" | tag "$1" none "automodel $3"
    fi
}
lc() { # round gguf threads
    node "$SRC/bench/llamacpp_run.mjs" "$NLC" bench "$WORK/$2.gguf" "$3" "$PLEN" "$NEW" "$REPS" |
        sed "s/}\$/, \"bytes_per_token\": $(sed 's/.*"bytes_per_token": \([0-9]*\).*/\1/' "$WORK/$2.json")}/" | tag "$1" none "llama.cpp $2"
}
node "$SRC/bench/llamacpp_run.mjs" "$NLC" info > "$WORK/llamacpp_info.json"
"$CLI" --version > "$WORK/automodel_version.txt"
AM_MAX_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2 "$CLI" --version > "$WORK/automodel_version_avx2.txt"
for r in $(seq 1 "$ROUNDS"); do
    echo "round $r/$ROUNDS" >&2
    bw "$r"
    for th in $THREADS; do
        am "$r" none f32 "$th";  lc "$r" f32 "$th"
        am "$r" none q8 "$th";   lc "$r" q8_0 "$th"
        am "$r" none nf4 "$th";  lc "$r" q4_0 "$th"
        am "$r" none fp4 "$th";  lc "$r" q8_0-embf32 "$th"
        if [ "$AVX2" = 1 ]; then
            am "$r" avx2 q8 "$th";  lc "$r" q4_0-embf32 "$th"
            am "$r" avx2 nf4 "$th"
            am "$r" avx2 f32 "$th"
        fi
    done
    bw "$r"
done
/usr/bin/python3 "$SRC/bench/llamacpp_summary.py" "$WORK"
