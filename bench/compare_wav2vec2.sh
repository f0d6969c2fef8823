#!/usr/bin/env bash
# bench/compare_wav2vec2.sh — Wav2Vec2-base-sized audio classification of 10 s clips (random
# weights; bench_wav2vec2 make): automodel against PyTorch (Debian python3-torch, the plain-torch
# module of compare_wav2vec2.py on the same safetensors) in alternating rounds. Each round runs
# one whole process per engine (load the checkpoint, read the clips, one forward at BATCH) under
# /usr/bin/time: wall seconds, process CPU seconds (user + sys: the fair figure on a shared
# machine) and peak RSS; plus the forward time each process reports. The logits are checked equal
# first. Prints the CPU report first.
# usage: bench/compare_wav2vec2.sh [BUILD_DIR] [ROUNDS] [BATCH] [THREADS] [DTYPE]   (defaults: build 3 1 1 float32)
# DTYPE bfloat16 compares the bf16 paths (Debian's torch runs float32 matmuls on the reference BLAS,
# which is no fair float32 figure; its bf16 matmuls and its convolutions run on oneDNN).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}; ROUNDS=${2:-3}; B=${3:-1}; TH=${4:-1}; DT=${5:-float32}
WORK=${AM_BENCH_DIR:-/tmp/am_compare_wav2vec2}
PY=/usr/bin/python3 # Debian's, where python3-torch lives
mkdir -p "$WORK"
echo "cpu: $("$BUILD"/automodel --version | sed -n 's/^cpu: //p')"
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD"/bench/bench_wav2vec2 make "$WORK"
if [ "${AM_BENCH_SKIP_CHECK:-0}" != 1 ]; then
  "$BUILD"/bench/bench_wav2vec2 run "$WORK" 2 "$TH" float32 "$WORK/out.safetensors" > /dev/null
  echo "max |automodel - pytorch| logits (float32, batch 2): $($PY bench/compare_wav2vec2.py check "$WORK" "$WORK/out.safetensors")"
fi
rm -f "$WORK"/res_*
for r in $(seq "$ROUNDS"); do
  /usr/bin/time -o "$WORK/t_am" -f "%e %U %S %M" "$BUILD"/bench/bench_wav2vec2 run "$WORK" "$B" "$TH" "$DT" > "$WORK/f_am"
  /usr/bin/time -o "$WORK/t_pt" -f "%e %U %S %M" $PY bench/compare_wav2vec2.py run "$WORK" "$B" "$TH" "$DT" > "$WORK/f_pt"
  echo "$(cat "$WORK/t_am") $(cat "$WORK/f_am")" >> "$WORK/res_am"
  echo "$(cat "$WORK/t_pt") $(cat "$WORK/f_pt")" >> "$WORK/res_pt"
  echo "round $r: automodel $(tail -1 "$WORK/res_am"), pytorch $(tail -1 "$WORK/res_pt")   (wall user sys maxrss_kB forward_ms)"
done
$PY - "$WORK" "$B" "$TH" "$DT" <<'PYEOF'
import os, statistics, sys
w, B, th, dt = sys.argv[1:5]
clock = "process CPU" if os.environ.get("AM_BENCH_CLOCK") == "cpu" else "wall"
def rows(name):
    return [[float(v) for v in l.split()] for l in open("%s/res_%s" % (w, name))]
print("\nWav2Vec2-base-sized classification, %s x 10 s clip(s), %s, %s thread(s), medians of %d rounds (forward: %s time):\n"
      % (B, dt, th, len(rows("am")), clock))
print("| engine | process wall s | process CPU s | peak RSS MB | forward ms | clips/s (CPU) |\n|---|---|---|---|---|---|")
res = {}
for name, label in (("am", "automodel"), ("pt", "PyTorch")):
    r = rows(name)
    wall = statistics.median(x[0] for x in r); cpu = statistics.median(x[1] + x[2] for x in r)
    rss = max(x[3] for x in r) / 1024; fwd = statistics.median(x[4] for x in r)
    res[name] = (wall, cpu, rss, fwd)
    print("| %s | %.2f | %.2f | %.0f | %.0f | %.3f |" % (label, wall, cpu, rss, fwd, int(B) / cpu))
a, p = res["am"], res["pt"]
print("\nautomodel / PyTorch: process CPU %.2f, peak RSS %.2f, forward %.2f" % (a[1] / p[1], a[2] / p[2], a[3] / p[3]))
PYEOF
