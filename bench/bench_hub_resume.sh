#!/bin/sh
# bench/bench_hub_resume.sh [CLI] [SIZE_MB] [KILLS] — what a killed `automodel download` costs
# (issue 18, defect 4), on loopback against `automodel hub serve`:
# one SIZE_MB (default 200) LFS file is downloaded KILLS (default 3) times and SIGKILLed when its
# partial reaches 1/(KILLS+1), 2/(KILLS+1), ... of the file, then once to the end. Reported: the
# partial files in the cache after the kills, the bytes each run fetched (from its "resuming ...
# from byte N" log line), the bytes fetched twice, and the final run's time. The kill lands a few
# MB after its mark (the poll is a shell loop), so the marks are approximate.
set -eu
CLI=${1:-build/automodel}
MB=${2:-200}
KILLS=${3:-3}
case "$CLI" in /*) ;; *) CLI="$PWD/$CLI" ;; esac
WORK=$(mktemp -d "${TMPDIR:-/tmp}/am_hubresume_XXXXXX")
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
now() { date +%s.%N; }
TOKEN=hf_bench_token_0123456789
printf '%s bench write\n' "$TOKEN" > "$WORK/tokens"; chmod 600 "$WORK/tokens"
"$CLI" hub serve "$WORK/root" --port 0 --tokens "$WORK/tokens" --port-file "$WORK/port" 2>"$WORK/serve.log" &
PID=$!
while [ ! -s "$WORK/port" ]; do sleep 0.1; done
URL="http://127.0.0.1:$(cat "$WORK/port")"
mkdir -p "$WORK/model"
SIZE=$((MB * 1024 * 1024))
head -c $SIZE /dev/urandom > "$WORK/model/model.safetensors"
SHA=$(sha256sum "$WORK/model/model.safetensors" | cut -d' ' -f1)
HF_ENDPOINT=$URL HF_TOKEN=$TOKEN "$CLI" push "$WORK/model" bench/big --commit-message bench >/dev/null
BLOBS="$WORK/hf/hub/models--bench--big/blobs"
dl() { # exec: the background job is the CLI itself, so kill -9 reaches it
    exec env -u HF_TOKEN HF_HOME="$WORK/hf" HF_ENDPOINT=$URL HF_HUB_DISABLE_PROGRESS_BARS=1 AM_LOG_LEVEL=info \
        "$CLI" download bench/big model.safetensors
}
# the newest partial's size (any name: earlier versions used a random one per run)
part_size() { n=$(ls -t "$BLOBS"/*.incomplete 2>/dev/null | head -1); [ -n "$n" ] && stat -c %s "$n" 2>/dev/null || echo 0; }
resumed_from() { sed -n 's/.*resuming .* from byte \([0-9]*\) of.*/\1/p' "$1" | tail -1; }
fetched=0
i=1
while [ $i -le $KILLS ]; do
    mark=$((SIZE / (KILLS + 1) * i))
    dl >/dev/null 2>"$WORK/run$i.log" &
    DL=$!
    while [ "$(part_size)" -lt $mark ] && kill -0 $DL 2>/dev/null; do :; done
    kill -9 $DL 2>/dev/null || true
    wait $DL 2>/dev/null || true
    got=$(part_size)
    from=$(resumed_from "$WORK/run$i.log"); from=${from:-0}
    fetched=$((fetched + got - from))
    echo "run $i: resumed from byte $from, killed at byte $got (mark $mark): fetched $((got - from)) bytes"
    i=$((i + 1))
done
echo "cache after $KILLS kills: $(find "$BLOBS" -name '*.incomplete' | wc -l) partial file(s), $(du -cb "$BLOBS" | tail -1 | cut -f1) bytes in blobs/"
t0=$(now)
( dl ) >/dev/null 2>"$WORK/final.log"
t1=$(now)
from=$(resumed_from "$WORK/final.log"); from=${from:-0}
fetched=$((fetched + SIZE - from))
echo "final run: resumed from byte $from, fetched $((SIZE - from)) bytes in $(echo "$t1 - $t0" | bc -l | cut -c1-5) s"
cmp "$WORK/model/model.safetensors" "$WORK/hf/hub/models--bench--big/snapshots/"*/model.safetensors
echo "file $SIZE bytes: fetched $fetched bytes over $((KILLS + 1)) runs, $((fetched - SIZE)) bytes fetched twice;" \
     "left in blobs/: $(ls "$BLOBS" | wc -l) file(s), $(find "$BLOBS" -name '*.incomplete' | wc -l) partial(s)"
