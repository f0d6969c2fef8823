#!/bin/sh
# tests/hub/run_js_client.sh CLI BUILD_DIR SOURCE_DIR — install the pinned @huggingface/hub into
# BUILD_DIR/hub-js (never the source tree), start `automodel hub serve` on a free loopback port,
# run tests/hub/js_client.cjs against it, then read the JS upload back with automodel download.
# A failed npm install fails the test: this check must not skip silently.
set -eu
CLI=$1
BUILD=$2
SRC=$3
VERSION=2.17.5
JSDIR="$BUILD/hub-js"
if ! grep -q "\"version\": \"$VERSION\"" "$JSDIR/node_modules/@huggingface/hub/package.json" 2>/dev/null; then
    mkdir -p "$JSDIR"
    [ -f "$JSDIR/package.json" ] || echo '{"name":"automodel-hub-js-test","private":true}' > "$JSDIR/package.json"
    if ! npm install --prefix "$JSDIR" --no-audit --no-fund --save-exact "@huggingface/hub@$VERSION" >"$JSDIR/npm.log" 2>&1; then
        echo "FAILED: npm install @huggingface/hub@$VERSION into $JSDIR did not work:" >&2
        cat "$JSDIR/npm.log" >&2
        exit 1
    fi
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/am_hubjs_XXXXXX")
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
TOKEN=hf_jsuser_write_token_0123456789
printf '%s jsuser write\n' "$TOKEN" > "$WORK/tokens"
chmod 600 "$WORK/tokens"
"$CLI" hub serve "$WORK/root" --port 0 --tokens "$WORK/tokens" --port-file "$WORK/port" --multipart-chunk 32768 \
    2>"$WORK/serve.log" &
PID=$!
i=0
while [ ! -s "$WORK/port" ]; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then echo "FAILED: the hub server did not start" >&2; cat "$WORK/serve.log" >&2; exit 1; fi
    sleep 0.1
done
URL="http://127.0.0.1:$(cat "$WORK/port")"
HUB_URL=$URL HUB_TOKEN=$TOKEN HUB_JS_DIR=$JSDIR FIXTURE_DIR="$SRC/tests/fixtures/hub/bert_seqcls" \
    node "$SRC/tests/hub/js_client.cjs"
# what the JS client uploaded, read back by ours into a fresh cache
SNAP=$(env -u HF_TOKEN HF_HOME="$WORK/home" HF_ENDPOINT="$URL" "$CLI" download jsuser/js-model)
cmp "$SNAP/model.safetensors" "$SRC/tests/fixtures/hub/bert_seqcls/model.safetensors"
cmp "$SNAP/config.json" "$SRC/tests/fixtures/hub/bert_seqcls/config.json"
[ "$(cat "$SNAP/nested/notes.txt")" = "hello from js" ]
echo "js client + automodel download: ok"
