// bench/compare_ort.js - ONNX Runtime (npm onnxruntime-node, installed by bench/compare.sh into
// bench/ort/) on the exported BERT: median forward ms after one warm-up run.
// usage: node compare_ort.js MODEL.onnx BATCH TOKENS RUNS THREADS
const path = require('path');
let ort; // bench/ort (compare.sh installs it there), else onnxruntime-node on NODE_PATH
try { ort = require(path.join(__dirname, 'ort', 'node_modules', 'onnxruntime-node')); } catch (e) { ort = require('onnxruntime-node'); }

async function main() {
  const [model, B, T, runs, threads] = [process.argv[2], +process.argv[3], +process.argv[4], +process.argv[5], +process.argv[6]];
  const s = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const ids = new BigInt64Array(B * T);
  for (let i = 0; i < B * T; i++) ids[i] = BigInt((i * 7919) % 30522);
  const feeds = { input_ids: new ort.Tensor('int64', ids, [B, T]) };
  // graphs that take them (automodel's export, as Optimum's): an all-ones mask and segment 0
  if (s.inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(B * T).fill(1n), [B, T]);
  if (s.inputNames.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(B * T), [B, T]);
  // AM_BENCH_CLOCK=cpu: process CPU time (user + system) instead of wall time
  const cpu = process.env.AM_BENCH_CLOCK === 'cpu';
  const ts = [];
  for (let r = 0; r < runs + 1; r++) {
    if (cpu) {
      const c0 = process.cpuUsage();
      await s.run(feeds);
      const c = process.cpuUsage(c0);
      ts.push((c.user + c.system) / 1e3);
    } else {
      const t0 = process.hrtime.bigint();
      await s.run(feeds);
      ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  const v = ts.slice(1).sort((a, b) => a - b);
  console.log(v[Math.floor(v.length / 2)].toFixed(3));
}
main().catch((e) => { console.error(e); process.exit(1); });
