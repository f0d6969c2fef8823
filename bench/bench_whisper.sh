#!/bin/bash
# bench/bench_whisper.sh — Whisper-tiny-sized transcription of 30 s (random weights, greedy, NEW new
# tokens), automodel (bench_whisper) and a compact PyTorch Whisper (bench/whisper_torch.py) on the
# same checkpoint and features, in alternating rounds, one thread each, float32 and bfloat16.
#
#   bench/bench_whisper.sh BUILD_DIR [ROUNDS=3] [NEW=64] [MODEL_DIR=/tmp/am_bench_whisper]
#
# First checks that both give the same tokens and first-step logits (float32). Per run it prints the
# in-process times (load, encode+generate, total; process CPU time, AM_BENCH_CLOCK=cpu) and, from
# /usr/bin/time, the whole process (exec, Python's imports included): CPU seconds (user+sys) and wall.
set -euo pipefail
BUILD=${1:?usage: bench_whisper.sh BUILD_DIR [ROUNDS] [NEW] [MODEL_DIR]}
ROUNDS=${2:-3}
NEW=${3:-64}
DIR=${4:-/tmp/am_bench_whisper}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$BUILD/bench/bench_whisper
PY=/usr/bin/python3
export AM_NUM_THREADS=1 OMP_NUM_THREADS=1 AM_BENCH_CLOCK=cpu
[ -f "$DIR/model.safetensors" ] || { mkdir -p "$DIR" && "$BIN" make "$DIR"; }
"$BUILD/automodel" --version | sed -n '1,3p'

# correctness first: same greedy tokens, first logits within float32 noise
"$BIN" run "$DIR" "$NEW" "$DIR/ours.safetensors" >/dev/null
"$PY" "$HERE/whisper_torch.py" "$DIR" "$NEW" "$DIR/torch.npz" >/dev/null
"$PY" - "$DIR" <<'EOF'
import json, struct, sys
import numpy as np
d = sys.argv[1]
with open(d + "/ours.safetensors", "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(n)); data = f.read()
def get(k, dt):
    a, b = h[k]["data_offsets"]; return np.frombuffer(data[a:b], dtype=dt).reshape(h[k]["shape"])
t = np.load(d + "/torch.npz")
same = bool((get("sequences", np.int64) == t["sequences"]).all())
a, b = get("first_scores", np.float32)[0], t["first_logits"]
m = np.isfinite(a)  # eos is -inf on our side (min_new_tokens)
diff = float(np.abs(a[m] - b[m]).max())
print(f"check: same tokens {same}, first logits max |diff| {diff:.3g} (max |logit| {float(np.abs(b).max()):.3g})")
sys.exit(0 if same and diff < 1e-3 else 1)
EOF

run() { # label dtype command...
    local label=$1 dt=$2; shift 2
    local t
    t=$( { AM_BENCH_DTYPE=$dt /usr/bin/time -f "%U %S %e" "$@" >/tmp/am_bw_out.$$; } 2>&1 | tail -1)
    read -r load gen total rtf </tmp/am_bw_out.$$
    read -r u s e <<<"$t"
    printf "%-9s %-5s load %7.3f  gen %7.3f  total %7.3f  rtf %6.4f | process cpu %7.3f wall %7.3f\n" \
        "$label" "$dt" "$load" "$gen" "$total" "$rtf" "$(echo "$u + $s" | bc)" "$e"
    rm -f /tmp/am_bw_out.$$
}
for r in $(seq 1 "$ROUNDS"); do
    echo "round $r"
    for dt in f32 bf16; do
        run automodel $dt "$BIN" run "$DIR" "$NEW"
        run pytorch $dt "$PY" "$HERE/whisper_torch.py" "$DIR" "$NEW"
    done
done
