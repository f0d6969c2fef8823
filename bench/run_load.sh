#!/usr/bin/env bash
# Whole-process load time and peak RSS of `automodel info` for a BERT-base-sized random model in
# every layout (safetensors f32/bf16, .bin, sharded), next to the floor of reading the file from
# page cache (`cat FILE > /dev/null`) and the file size.
# usage: bench/run_load.sh [BUILD_DIR] [bert|llama1b]   (llama1b: a 1.1B Llama-shaped model, ~4.4 GB)
set -euo pipefail
shopt -s nullglob
B=${1:-build}
W=$(mktemp -d /tmp/am_bench_load.XXXXXX)
trap 'rm -rf "$W"' EXIT
MODEL=${2:-bert}
if [ "$MODEL" = llama1b ]; then
  echo '{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 2048, "num_hidden_layers": 16,
         "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 5632, "vocab_size": 32000}' > "$W/config.json"
  "$B/bench/bench_mkmodel" "$W/config.json" causal-lm "$W/st_f32"
else
  "$B/bench/bench_bert" "$W/st_f32" 1 >/dev/null           # builds + saves the random model
fi
"$B/automodel" save "$W/st_f32" "$W/st_bf16" --dtype bfloat16
"$B/automodel" save "$W/st_f32" "$W/bin_f32" --format bin
"$B/automodel" save "$W/st_f32" "$W/bin_bf16" --format bin --dtype bfloat16
"$B/automodel" save "$W/st_f32" "$W/st_shard" --max-shard-size 2GB
R="$B/bench/bench_runstat"
# a 1x8 input_ids file for "load to first forward"
python3 - "$W/in.safetensors" <<'PY'
import json, struct, sys
ids = [1, 2023, 2003, 1037, 3231, 1012, 102, 0]
h = json.dumps({"input_ids": {"dtype": "I64", "shape": [1, 8], "data_offsets": [0, 64]}}).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<8q", *ids))
PY
printf '| layout | files MB | cat ms | info: ms, peak RSS MiB | load + first forward: ms, peak RSS MiB |\n|---|---|---|---|---|\n'
for d in st_f32 st_bf16 bin_f32 bin_bf16 st_shard st_bf16:float32; do
  dt=auto
  case $d in *:*) dt=${d#*:}; d=${d%%:*};; esac
  files=("$W/$d"/*.safetensors "$W/$d"/*.bin)
  size=$(du -cm "${files[@]}" | tail -1 | cut -f1)
  cat "${files[@]}" > /dev/null
  catms=$("$R" 5 cat "${files[@]}" | cut -f1)
  info=$("$R" 5 "$B/automodel" info "$W/$d" --dtype $dt | tr '\t' ' ')
  fwd=$("$R" 5 "$B/automodel" forward "$W/$d" --dtype $dt --inputs "$W/in.safetensors" --output "$W/out.safetensors" | tr '\t' ' ')
  printf '| %s | %s | %s | %s | %s |\n' "$d --dtype $dt" "$size" "$catms" "$info" "$fwd"
done
