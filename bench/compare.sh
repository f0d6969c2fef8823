#!/usr/bin/env bash
# bench/compare.sh — automodel, ONNX Runtime (npm onnxruntime-node) and PyTorch (Debian
# python3-torch) on one random BERT-base (bench_bert makes it; torch exports it to ONNX), in
# alternating rounds: each round runs every engine once (RUNS timed forwards after a warm-up, its
# median); the table gives the median over rounds and the ratios. Prints the CPU report first.
# AM_BENCH_CLOCK=cpu: every engine reports process CPU time per forward instead of wall time (at 1
# thread, the fair figure on a machine shared with other work).
# usage: [AM_COMPARE_ENGINES="am_f32 ort_f32 ..."] [AM_BENCH_CLOCK=cpu] bench/compare.sh [BUILD_DIR] [ROUNDS] [RUNS] [BATCH] [THREADS]   (defaults: build 3 5 1 2)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}; ROUNDS=${2:-3}; RUNS=${3:-5}; B=${4:-1}; TH=${5:-2}; T=128
WORK=${AM_BENCH_DIR:-/tmp/am_compare}
PY=/usr/bin/python3 # Debian's, where python3-torch lives
mkdir -p "$WORK"
echo "cpu: $("$BUILD"/automodel --version | sed -n 's/^cpu: //p')"
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD"/bench/bench_bert "$WORK/bert" 1 none >/dev/null # makes the model once
if [ ! -d bench/ort/node_modules/onnxruntime-node ]; then
  mkdir -p bench/ort
  [ -f bench/ort/package.json ] || echo '{"name": "am-bench-ort", "private": true}' > bench/ort/package.json
  (cd bench/ort && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node >/dev/null)
fi
[ -f "$WORK/bert.onnx" ] || $PY bench/compare_torch.py export "$WORK/bert" "$WORK/bert.onnx" $T 2>/dev/null
# the same function everywhere: automodel's output against the PyTorch module's
$PY bench/compare_torch.py inputs "$WORK/in.safetensors" 1 $T
"$BUILD"/automodel forward "$WORK/bert" --inputs "$WORK/in.safetensors" --output "$WORK/out.safetensors" --task base
echo "max |automodel - pytorch| last_hidden_state (f32): $($PY bench/compare_torch.py check "$WORK/bert" "$WORK/out.safetensors")"

# AM_COMPARE_ENGINES picks a subset (Debian's torch runs float32 on the reference BLAS: slow)
engines=${AM_COMPARE_ENGINES:-"am_f32 ort_f32 torch_f32 am_bf16 torch_bf16"}
run() {
  case $1 in
    am_f32) "$BUILD"/bench/bench_bert time "$WORK/bert" float32 $B $T $RUNS $TH ;;
    am_bf16) "$BUILD"/bench/bench_bert time "$WORK/bert" bfloat16 $B $T $RUNS $TH ;;
    ort_f32) node bench/compare_ort.js "$WORK/bert.onnx" $B $T $RUNS $TH ;;
    torch_f32) $PY bench/compare_torch.py time "$WORK/bert" float32 $B $T $RUNS $TH ;;
    torch_bf16) $PY bench/compare_torch.py time "$WORK/bert" bfloat16 $B $T $RUNS $TH ;;
  esac
}
rm -f "$WORK"/res_*
for r in $(seq "$ROUNDS"); do
  for e in $engines; do
    v=$(run $e)
    echo "$v" >> "$WORK/res_$e"
    echo "round $r $e ${v} ms"
  done
done
$PY - "$WORK" $B $T $TH $engines <<'PYEOF'
import statistics, sys
w, B, T, th, engines = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
med = {e: statistics.median(float(x) for x in open("%s/res_%s" % (w, e))) for e in engines}
print("\nBERT-base %sx%s tokens, %s threads, median of rounds (%s time):\n\n| engine | ms |\n|---|---|" % (B, T, th, "process CPU" if __import__("os").environ.get("AM_BENCH_CLOCK") == "cpu" else "wall"))
for e in engines:
    print("| %s | %.1f |" % (e, med[e]))
print("\n| ratio | value | target |\n|---|---|---|")
for a, b, name, target in (("am_f32", "ort_f32", "automodel f32 / ORT f32", "<= 0.85"), ("am_f32", "torch_f32", "automodel f32 / PyTorch f32", ""),
                           ("am_bf16", "torch_bf16", "automodel bf16 / PyTorch bf16", "<= 0.5"), ("am_bf16", "am_f32", "automodel bf16 / automodel f32", "<= 1")):
    if a in med and b in med:
        print("| %s | %.2f | %s |" % (name, med[a] / med[b], target))
PYEOF
