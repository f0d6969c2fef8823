#!/usr/bin/env bash
# bench/bench_onnx.sh — the ONNX export on a random BERT-base (bench_bert makes it): export time
# (wall and process CPU) and file size, then ONNX Runtime (npm onnxruntime-node, bench/compare_ort.js)
# on the exported graph next to automodel's own forward (bench_bert time), in alternating rounds:
# each round runs both once (RUNS timed forwards after a warm-up, their median); the table gives
# the median over rounds. AM_BENCH_CLOCK=cpu (the default here): process CPU time per forward, the
# fair single-thread figure on a shared machine. Prints the CPU report first.
# usage: bench/bench_onnx.sh [BUILD_DIR] [ROUNDS] [RUNS] [BATCH] [TOKENS] [THREADS]   (defaults: build 5 5 1 128 1)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}; ROUNDS=${2:-5}; RUNS=${3:-5}; B=${4:-1}; T=${5:-128}; TH=${6:-1}
export AM_BENCH_CLOCK=${AM_BENCH_CLOCK:-cpu}
WORK=${AM_BENCH_DIR:-/tmp/am_bench_onnx}
mkdir -p "$WORK"
echo "cpu: $("$BUILD"/automodel --version | sed -n 's/^cpu: //p')"
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
[ -f "$WORK/bert/config.json" ] || "$BUILD"/bench/bench_bert "$WORK/bert" 1 none >/dev/null
if ! node -e "require('onnxruntime-node')" 2>/dev/null && [ ! -d bench/ort/node_modules/onnxruntime-node ]; then
  mkdir -p bench/ort
  [ -f bench/ort/package.json ] || echo '{"name": "am-bench-ort", "private": true}' > bench/ort/package.json
  (cd bench/ort && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30.0 >/dev/null)
fi
echo
echo "| export of BERT-base (f32, opset 17) | wall s | CPU s |"
echo "|---|---|---|"
for r in 1 2 3; do
  rm -rf "$WORK/onnx"
  TIMEFORMAT="%R %U %S"
  t=$( { time "$BUILD"/automodel export onnx "$WORK/bert" "$WORK/onnx" --task base >/dev/null; } 2>&1 )
  read -r wall user sys <<<"$t"
  echo "| run $r | $wall | $(echo "$user + $sys" | bc) |"
done
echo
echo "files: $(cd "$WORK/onnx" && for f in *; do printf '%s %s bytes; ' "$f" "$(stat -c %s "$f")"; done)"
echo "checkpoint: model.safetensors $(stat -c %s "$WORK/bert/model.safetensors") bytes"
"$BUILD"/automodel export onnx "$WORK/bert" "$WORK/onnx_v" --task base --validate | tail -2
rm -rf "$WORK/onnx_v"
rm -f "$WORK"/ores_*
for r in $(seq "$ROUNDS"); do
  a=$(AM_NUM_THREADS=$TH "$BUILD"/bench/bench_bert time "$WORK/bert" float32 "$B" "$T" "$RUNS" "$TH")
  o=$(node bench/compare_ort.js "$WORK/onnx/model.onnx" "$B" "$T" "$RUNS" "$TH")
  echo "$a" >> "$WORK/ores_am"; echo "$o" >> "$WORK/ores_ort"
  echo "round $r: automodel $a ms, ORT on the export $o ms"
done
/usr/bin/python3 - "$WORK" "$B" "$T" "$TH" <<'PYEOF'
import statistics, sys
w, B, T, th = sys.argv[1:5]
a = statistics.median(float(x) for x in open(w + "/ores_am"))
o = statistics.median(float(x) for x in open(w + "/ores_ort"))
print("\nBERT-base %sx%s tokens, %s thread(s), median of rounds (process CPU ms per forward):\n" % (B, T, th))
print("| engine | ms |\n|---|---|\n| automodel forward (f32) | %.1f |\n| ONNX Runtime 1.30 on automodel's export (f32) | %.1f |\n| ratio automodel / ORT | %.2f |" % (a, o, a / o))
PYEOF
