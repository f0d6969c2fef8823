#!/bin/sh
# bench/bench_hub.sh [CLI] [SIZE_MB] — hub throughput on loopback:
#  1. download of one SIZE_MB (default 1024) LFS file by `automodel download` into a fresh cache,
#     against plain `curl -o` of the same resolve URL (best of 3 each);
#  2. the server's requests/s for a small-file resolve (config.json, 756 B) with wrk, 64 connections.
# Also reports the push (upload) time of the big file. Needs curl and wrk (Debian: apt-get install wrk).
set -eu
CLI=${1:-build/automodel}
MB=${2:-1024}
case "$CLI" in /*) ;; *) CLI="$PWD/$CLI" ;; esac
WORK=$(mktemp -d "${TMPDIR:-/tmp}/am_hubbench_XXXXXX")
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
now() { date +%s.%N; }
TOKEN=hf_bench_token_0123456789
printf '%s bench write\n' "$TOKEN" > "$WORK/tokens"; chmod 600 "$WORK/tokens"
"$CLI" hub serve "$WORK/root" --port 0 --tokens "$WORK/tokens" --port-file "$WORK/port" 2>"$WORK/serve.log" &
PID=$!
while [ ! -s "$WORK/port" ]; do sleep 0.1; done
URL="http://127.0.0.1:$(cat "$WORK/port")"
mkdir -p "$WORK/model"
head -c $((MB * 1024 * 1024)) /dev/urandom > "$WORK/model/model.safetensors"
cp "$(dirname "$0")/../tests/fixtures/hub/bert_seqcls/config.json" "$WORK/model/config.json"
t0=$(now)
HF_ENDPOINT=$URL HF_TOKEN=$TOKEN "$CLI" push "$WORK/model" bench/big --commit-message bench >/dev/null
t1=$(now)
echo "push of ${MB} MiB (hash + LFS PUT + commit): $(echo "$t1 - $t0" | bc -l | cut -c1-6) s"
rm -f "$WORK/model/model.safetensors"
best_am=999999; best_curl=999999
for i in 1 2 3; do
    rm -rf "$WORK/hf"; sync
    t0=$(now)
    env -u HF_TOKEN HF_HOME="$WORK/hf" HF_ENDPOINT=$URL HF_HUB_DISABLE_PROGRESS_BARS=1 \
        "$CLI" download bench/big model.safetensors >/dev/null
    t1=$(now)
    d=$(echo "$t1 - $t0" | bc -l); best_am=$(echo "if ($d < $best_am) $d else $best_am" | bc -l)
    rm -f "$WORK/curl.out"; sync
    t0=$(now)
    curl -s -f -o "$WORK/curl.out" "$URL/bench/big/resolve/main/model.safetensors"
    t1=$(now)
    d=$(echo "$t1 - $t0" | bc -l); best_curl=$(echo "if ($d < $best_curl) $d else $best_curl" | bc -l)
done
cmp "$WORK/curl.out" "$WORK/hf/hub/models--bench--big/snapshots/"*/model.safetensors
echo "download ${MB} MiB: automodel $(echo "$best_am" | cut -c1-6) s ($(echo "$MB / $best_am" | bc -l | cut -c1-7) MiB/s), curl $(echo "$best_curl" | cut -c1-6) s ($(echo "$MB / $best_curl" | bc -l | cut -c1-7) MiB/s), ratio $(echo "$best_am / $best_curl" | bc -l | cut -c1-5)"
echo "wrk: GET small-file resolve, 64 connections, 2 threads, 10 s"
wrk -t2 -c64 -d10s "$URL/bench/big/resolve/main/config.json" | grep -E "Requests/sec|Latency|requests in|Non-2xx"
