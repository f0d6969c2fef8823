#!/bin/sh
# bench/bench_tokenizers.sh — tokenizer load time and single-threaded encode throughput, ours
# (bench_tokenizers.c) against the Hugging Face tokenizers library (npm `tokenizers`), on one
# corpus of >= 10 MB of mixed text. Needs a Release build (BUILD, default build/) and
# `npm install tokenizers@0.23.2` in SCRATCH (default /work/scratch-tok).
# usage: bench/bench_tokenizers.sh [BUILD] [SCRATCH]
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
SCRATCH=${2:-/work/scratch-tok}
DATA=${AM_DATA:-/work/shared/data}
FIX=$ROOT/tests/fixtures/tokenizers
CORPUS=${TMPDIR:-/tmp}/am_tokenizers_corpus.txt
# mixed text: Shakespeare x8, SMS messages x3, the multilingual/edge texts of the fixture cases x40
: > "$CORPUS"
for i in 1 2 3 4 5 6 7 8; do cat "$DATA/tinyshakespeare/input.txt" >> "$CORPUS"; done
for i in 1 2 3; do cut -f2- "$DATA/sms-spam-collection/SMSSpamCollection" >> "$CORPUS"; done
NODE_PATH="$SCRATCH/node_modules" node -e '
const fs=require("fs"); const out=[];
for (const l of fs.readFileSync(process.argv[1],"utf8").split("\n")) { if(!l) continue; const c=JSON.parse(l);
  if (c.kind==="single" && !c.id.includes("__")) out.push(c.text.replace(/\0/g,"").replace(/\n/g," ")); }
let s=""; for (let i=0;i<40;i++) s+=out.join("\n")+"\n"; fs.appendFileSync(process.argv[2], s);
' "$FIX/gpt2/cases.jsonl" "$CORPUS"
TOKS="$FIX/gpt2 $FIX/bert-base-uncased $FIX/llama-3.1-8b-instruct"
"$BUILD/bench/bench_tokenizers" "$CORPUS" $TOKS | tee /tmp/am_bench_c.txt
TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 NODE_PATH="$SCRATCH/node_modules" node "$ROOT/bench/bench_tokenizers.js" "$CORPUS" $TOKS | tee /tmp/am_bench_rust.txt
# load time of every fixture tokenizer.json
ALL=$(ls -d "$FIX"/*/ | grep -v legacy | sed "s|/$||")
NODE_PATH="$SCRATCH/node_modules" node -e '
const {Tokenizer}=require("tokenizers"); const now=()=>Number(process.hrtime.bigint())/1e9;
for (const d of process.argv.slice(1)) { let b=1e9; for (let r=0;r<3;r++){const t0=now(); Tokenizer.fromFile(d+"/tokenizer.json"); b=Math.min(b,now()-t0);}
  console.log("Rust load", d.replace(/\/$/,"").split("/").pop(), (b*1e3).toFixed(1), "ms"); }' $ALL | tee /tmp/am_bench_rust_load.txt
for d in $ALL; do "$BUILD/bench/bench_tokenizers" /dev/null "$d" 2>/dev/null | grep '^C' | awk '{print "C load", $2, $4, "ms"}'; done | tee /tmp/am_bench_c_load.txt
echo "ratios (Rust time / our time; > 1 means we are faster):"
paste /tmp/am_bench_c.txt /tmp/am_bench_rust.txt | awk '/^C /{split($0,a,"\t"); split(a[1],c," "); split(a[2],r," "); printf "  %-24s load %.2fx  encode %.2fx\n", c[2], r[4]/c[4], c[7]/r[7]}'
paste /tmp/am_bench_c_load.txt /tmp/am_bench_rust_load.txt | awk '{printf "  load %-24s %.2fx\n", $3, $9/$4}'
