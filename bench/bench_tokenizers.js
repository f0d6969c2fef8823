// bench/bench_tokenizers.js — the same measurement as bench_tokenizers.c with the Hugging Face
// tokenizers library (npm `tokenizers`, the Rust crate's Node binding), single-threaded
// (TOKENIZERS_PARALLELISM=false, RAYON_NUM_THREADS=1 set by bench_tokenizers.sh).
// usage: node bench_tokenizers.js CORPUS.txt TOKENIZER_DIR...
const { Tokenizer } = require('tokenizers');
const fs = require('fs');
const now = () => Number(process.hrtime.bigint()) / 1e9;
(async () => {
  const text = fs.readFileSync(process.argv[2], 'utf8');
  const lines = text.split('\n');
  const docs = [];
  for (let i = 0; i < lines.length; i += 20) docs.push(lines.slice(i, i + 20).join('\n'));
  if (docs.length && docs[docs.length - 1] === '') docs.pop();
  const bytes = docs.reduce((s, d) => s + Buffer.byteLength(d, 'utf8'), 0);
  console.log(`corpus: ${process.argv[2]}, ${(bytes / 1e6).toFixed(2)} MB in ${docs.length} documents`);
  for (const dir of process.argv.slice(3)) {
    let best = 1e9, tok;
    for (let r = 0; r < 3; r++) {
      const t0 = now();
      tok = Tokenizer.fromFile(dir + '/tokenizer.json');
      best = Math.min(best, now() - t0);
    }
    let tokens = 0;
    const t0 = now();
    for (let i = 0; i < docs.length; i += 256) {
      const encs = await tok.encodeBatch(docs.slice(i, i + 256), { addSpecialTokens: true });
      for (const e of encs) tokens += e.getLength();
    }
    const dt = now() - t0;
    const name = dir.replace(/\/$/, '').split('/').pop();
    console.log(`Rust   ${name.padEnd(24)} load ${(best * 1e3).toFixed(1).padStart(8)} ms   encode ${(bytes / 1e6 / dt).toFixed(2).padStart(7)} MB/s ${(tokens / dt).toFixed(0).padStart(10)} tokens/s  (${tokens} tokens, ${dt.toFixed(2)} s)`);
  }
})();
