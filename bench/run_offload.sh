#!/usr/bin/env bash
# Disk offload of a Llama-shaped ~1.1B model in float32 (hidden 2048, 22 layers, GQA 32/4 heads,
# intermediate 5632, vocab 32000: 4.4 GB of weights, written to /tmp, not the repo): whole-process
# time and peak RSS (wait4's ru_maxrss) of `automodel forward` and `automodel generate` (8 prompt
# tokens + 8 greedy tokens), unrestricted and with `--device-map auto --max-memory cpu=1GiB
# --offload-folder D`, in alternating rounds; the outputs of both runs compared byte for byte.
# usage: bench/run_offload.sh [BUILD_DIR] [ROUNDS]   (needs ~4.5 GB free in /tmp and ~5 GB of RAM
# to write the model)
set -euo pipefail
B=${1:-build}
ROUNDS=${2:-2}
W=$(mktemp -d /tmp/am_bench_offload.XXXXXX)
trap 'rm -rf "$W"' EXIT
echo '{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 2048, "num_hidden_layers": 22,
       "num_attention_heads": 32, "num_key_value_heads": 4, "intermediate_size": 5632, "vocab_size": 32000,
       "max_position_embeddings": 2048}' > "$W/config.json"
"$B/bench/bench_mkmodel" "$W/config.json" causal-lm "$W/model"
/usr/bin/python3 - "$W/in.safetensors" <<'PY'
import json, struct, sys
ids = [1, 450, 4996, 17354, 1701, 432, 29889, 13]
h = json.dumps({"input_ids": {"dtype": "I64", "shape": [1, 8], "data_offsets": [0, 64]}}).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<8q", *ids))
PY
R="$B/bench/bench_runstat"
OFF=(--device-map auto --max-memory cpu=1GiB --offload-folder "$W/offload")
"$B/automodel" --version | head -3
du -sh "$W/model"
"$B/automodel" info "$W/model" "${OFF[@]}" --json | /usr/bin/python3 -c 'import json,sys; print("hf_device_map:", json.load(sys.stdin)["hf_device_map"])'
cat "$W/model"/*.safetensors > /dev/null   # both runs start from a warm page cache
printf '| round | command | run | wall time | peak RSS |\n|---|---|---|---|---|\n'
for r in $(seq 1 "$ROUNDS"); do
  for cmd in forward generate; do
    extra=(); [ $cmd = generate ] && extra=(--max-new-tokens 8)
    for run in unrestricted offload; do
      args=(); [ $run = offload ] && args=("${OFF[@]}")
      out=$("$R" 1 "$B/automodel" $cmd "$W/model" --inputs "$W/in.safetensors" --output "$W/$cmd.$run.safetensors" "${extra[@]}" "${args[@]}")
      printf '| %s | %s | %s | %s | %s |\n' "$r" "$cmd" "$run" "$(echo "$out" | cut -f1)" "$(echo "$out" | cut -f2)"
    done
    cmp "$W/$cmd.unrestricted.safetensors" "$W/$cmd.offload.safetensors" && echo "  $cmd outputs identical (cmp)"
  done
done
