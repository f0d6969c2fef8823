#!/usr/bin/env bash
# Peak RSS of loading + one forward with quantization at load (issue 15): a GPT-2 124M-shaped random
# model (bench_mkmodel; 498 MB of float32 weights, lm_head tied to wte and kept float32), saved as
# safetensors float32 and bfloat16, run through `automodel forward` (8 input tokens) float32, with
# --load-in-8bit and with --load-in-4bit (NF4), by two builds of the CLI in alternating rounds:
# BEFORE (quantized after the whole model was loaded) and AFTER (each weight quantized as it is read,
# its mapped pages released). Quantized runs pass --dtype float32 so that both builds keep the same
# dtype for the unquantized modules; the AFTER build's default (float16 for them, as transformers
# 4.32) is a last column. Peak RSS is wait4's ru_maxrss of the whole process (bench_runstat).
# usage: bench/run_quant_load.sh BEFORE_CLI AFTER_CLI [BUILD_DIR] [ROUNDS]
set -euo pipefail
BEFORE=${1:?usage: run_quant_load.sh BEFORE_CLI AFTER_CLI [BUILD_DIR] [ROUNDS]}
AFTER=${2:?usage: run_quant_load.sh BEFORE_CLI AFTER_CLI [BUILD_DIR] [ROUNDS]}
B=${3:-build}
ROUNDS=${4:-2}
W=$(mktemp -d /tmp/am_bench_qload.XXXXXX)
trap 'rm -rf "$W"' EXIT
echo '{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 768, "n_layer": 12, "n_head": 12,
       "vocab_size": 50257, "n_positions": 1024}' > "$W/config.json"
"$B/bench/bench_mkmodel" "$W/config.json" causal-lm "$W/f32"
"$AFTER" save "$W/f32" "$W/bf16" --dtype bfloat16
/usr/bin/python3 - "$W/in.safetensors" <<'PY'
import json, struct, sys
ids = [464, 2068, 7586, 21831, 18045, 625, 262, 16931]
h = json.dumps({"input_ids": {"dtype": "I64", "shape": [1, 8], "data_offsets": [0, 64]}}).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<8q", *ids))
PY
R="$B/bench/bench_runstat"
"$AFTER" --version | head -2
du -sh "$W/f32" "$W/bf16"
cat "$W"/f32/*.safetensors "$W"/bf16/*.safetensors > /dev/null   # every run starts from a warm page cache
printf '| round | checkpoint | load | before: peak RSS | after: peak RSS | after, default dtype |\n|---|---|---|---|---|---|\n'
for r in $(seq 1 "$ROUNDS"); do
  for ck in f32 bf16; do
    for q in none 8bit 4bit; do
      args=(--dtype float32); [ $q = 8bit ] && args+=(--load-in-8bit); [ $q = 4bit ] && args+=(--load-in-4bit --bnb-4bit-quant-type nf4)
      run() { "$R" 1 "$1" forward "$W/$ck" --inputs "$W/in.safetensors" --output "$W/out.safetensors" "${@:2}" | cut -f2; }
      if [ $((r % 2)) = 1 ]; then b=$(run "$BEFORE" "${args[@]}"); a=$(run "$AFTER" "${args[@]}")
      else a=$(run "$AFTER" "${args[@]}"); b=$(run "$BEFORE" "${args[@]}"); fi
      d="-"; [ $q != none ] && d=$(run "$AFTER" "${args[@]:2}")
      printf '| %s | %s | %s | %s | %s | %s |\n' "$r" "$ck" "$q" "$b" "$a" "$d"
    done
  done
done
