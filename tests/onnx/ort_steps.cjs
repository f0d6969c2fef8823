// tests/onnx/ort_steps.cjs OUT_DIR CASE_DIR — a --with-past export of a causal LM whose fixture has
// no greedy run (BertLMHeadModel, RobertaForCausalLM) driven token by token through ONNX Runtime
// (npm onnxruntime-node, on NODE_PATH) over the case's own input batch: the first 3 tokens without
// past, then one token per call with past_key_values.N.* = the previous present.N.*, the
// attention_mask over past + new tokens (and token_type_ids of the new tokens where the graph takes
// them). The logits of every step must equal transformers' full forward of the case (out.logits)
// at the same positions within the case's atol/rtol, at the positions its compare_mask keeps: once
// through decoder_model.onnx + decoder_with_past_model.onnx, once through decoder_model_merged.onnx
// (use_cache_branch false with empty past tensors on the first call, true after).
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const readSt = require('./safetensors.cjs');

// columns [a, b) of a [B, T] int64 tensor
const cols = (x, a, b) => {
  const [B, T] = x.shape, out = new BigInt64Array(B * (b - a));
  for (let r = 0; r < B; r++) for (let c = a; c < b; c++) out[r * (b - a) + c - a] = x.data[r * T + c];
  return new ort.Tensor('int64', out, [B, b - a]);
};

(async () => {
  const [dir, caseDir] = process.argv.slice(2);
  const exp = JSON.parse(fs.readFileSync(path.join(caseDir, 'expected.json')));
  const t = readSt(path.join(caseDir, 'expected.safetensors'));
  const meta = exp.outputs['out.logits'], ref = t['out.logits'], mask = t[meta.compare_mask];
  const ids = t['in.input_ids'], am = t['in.attention_mask'], tt = t['in.token_type_ids'];
  const [B, T] = ids.shape, V = ref.shape[2], K = 3;
  let bad = 0;
  for (const merged of [false, true]) {
    const first = await ort.InferenceSession.create(path.join(dir, merged ? 'decoder_model_merged.onnx' : 'decoder_model.onnx'));
    const next = merged ? first : await ort.InferenceSession.create(path.join(dir, 'decoder_with_past_model.onnx'));
    if (first.inputNames.includes('position_ids')) throw new Error('a causal BERT / RoBERTa graph takes no position_ids');
    let past = null, worst = 0, over = 0, seen = 0;
    for (let a = 0, b = K; a < T; a = b, b = a + 1) {
      const feeds = { input_ids: cols(ids, a, b), attention_mask: cols(am, 0, b) };
      if (first.inputNames.includes('token_type_ids')) feeds.token_type_ids = cols(tt, a, b);
      if (past) Object.assign(feeds, past);
      else if (merged) { // empty past [B, heads, 0, head dim] from the case's config
        const cfg = JSON.parse(fs.readFileSync(path.join(caseDir, 'config.json')));
        const D = cfg.hidden_size / cfg.num_attention_heads;
        for (const n of first.inputNames.filter((x) => x.startsWith('past_key_values.')))
          feeds[n] = new ort.Tensor('float32', new Float32Array(0), [B, cfg.num_attention_heads, 0, D]);
      }
      if (merged) feeds.use_cache_branch = new ort.Tensor('bool', [past !== null], [1]);
      const r = await (past ? next : first).run(feeds);
      past = {};
      for (const n of Object.keys(r)) if (n.startsWith('present.')) past['past_key_values.' + n.slice(8)] = r[n];
      const lg = r.logits;
      for (let row = 0; row < B; row++)
        for (let c = a; c < b; c++) {
          if (mask.data[row * T + c] === 0n) continue;
          seen++;
          for (let v = 0; v < V; v++) {
            const want = ref.data[(row * T + c) * V + v], got = lg.data[(row * (b - a) + c - a) * V + v];
            const d = Math.abs(got - want);
            worst = Math.max(worst, d);
            if (!(d <= meta.atol + meta.rtol * Math.abs(want))) over++;
          }
        }
    }
    console.log(`${over || !seen ? 'FAIL' : 'ok  '} ${merged ? 'merged' : 'pair'}: ${seen} positions, max |diff| ${worst.toExponential(3)} vs out.logits (atol ${meta.atol}, rtol ${meta.rtol})`);
    if (over || !seen) bad++;
  }
  process.exit(bad ? 1 : 0);
})().catch((e) => { console.error('FAIL', e.message || e); process.exit(1); });
