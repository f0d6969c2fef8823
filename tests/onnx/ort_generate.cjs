// tests/onnx/ort_generate.cjs OUT_DIR CASE_DIR [merged] — drive an exported --with-past decoder step by
// step through ONNX Runtime (npm onnxruntime-node, on NODE_PATH) as transformers' greedy search drives the
// model: decoder_model.onnx on the prompt, then decoder_with_past_model.onnx one token at a time with
// (merged: decoder_model_merged.onnx for every step, as Optimum's ORTModelForCausalLM drives it:
// use_cache_branch false with empty past tensors [B, kv heads, 0, head dim] on the prompt, then true),
// past_key_values.N.key/value = the previous present.N.key/value, position_ids from the attention
// mask (cumsum - 1, 1 where masked), finished rows continued with pad_token_id after eos. Every
// greedy run of the fixture case (gen1: one prompt, gen: a left-padded batch of 2) must produce the
// case's sequences exactly.
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const readSt = require('./safetensors.cjs');
const i64 = (rows) => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);

(async () => {
  const [dir, caseDir, mode] = process.argv.slice(2);
  const merged = mode === 'merged';
  const exp = JSON.parse(fs.readFileSync(path.join(caseDir, 'expected.json')));
  const t = readSt(path.join(caseDir, 'expected.safetensors'));
  const first = await ort.InferenceSession.create(path.join(dir, merged ? 'decoder_model_merged.onnx' : 'decoder_model.onnx'));
  const next = merged ? first : await ort.InferenceSession.create(path.join(dir, 'decoder_with_past_model.onnx'));
  const pastNames = first.inputNames.filter((n) => n.startsWith('past_key_values.'));
  if (merged && (!first.inputNames.includes('use_cache_branch') || !pastNames.length)) throw new Error(`merged decoder inputs ${first.inputNames}`);
  // the empty past of the first merged step: [B, kv heads, 0, head dim] from the case's config
  const cfgJ = JSON.parse(fs.readFileSync(path.join(caseDir, 'config.json')));
  const heads = cfgJ.n_head || cfgJ.num_attention_heads, kvh = cfgJ.num_key_value_heads || heads;
  const hd = (cfgJ.n_embd || cfgJ.hidden_size) / heads;
  let bad = 0, runs = 0;
  for (const g of exp.generation) {
    if (!['gen', 'gen1'].includes(g.name) || g.call.do_sample || g.call.num_beams !== 1) continue;
    runs++;
    const cfg = g.effective_generation_config;
    const idsT = t[g.name + '.input_ids'];
    const [B, T] = idsT.shape;
    const ids = [], mask = [];
    const mT = t[g.name + '.attention_mask'];
    for (let b = 0; b < B; b++) {
      ids.push(Array.from(idsT.data.slice(b * T, (b + 1) * T), Number));
      mask.push(mT ? Array.from(mT.data.slice(b * T, (b + 1) * T), Number) : new Array(T).fill(1));
    }
    const finished = new Array(B).fill(false);
    let past = null;
    for (let step = 0; step < g.call.max_new_tokens; step++) {
      const L = ids[0].length;
      const pos = mask.map((row) => { let c = 0; return row.map((m) => { c += m; return m ? c - 1 : 1; }); });
      const feeds = {};
      if (!past) {
        feeds.input_ids = i64(ids); feeds.attention_mask = i64(mask); feeds.position_ids = i64(pos);
        if (merged) {
          for (const n of pastNames) feeds[n] = new ort.Tensor('float32', new Float32Array(0), [B, kvh, 0, hd]);
          feeds.use_cache_branch = new ort.Tensor('bool', [false], [1]);
        }
      } else {
        feeds.input_ids = i64(ids.map((r) => [r[L - 1]]));
        feeds.attention_mask = i64(mask);
        feeds.position_ids = i64(pos.map((r) => [r[L - 1]]));
        Object.assign(feeds, past);
        if (merged) feeds.use_cache_branch = new ort.Tensor('bool', [true], [1]);
      }
      const r = await (past ? next : first).run(feeds);
      const lg = r.logits, V = lg.dims[2], Tq = lg.dims[1];
      past = {};
      for (const n of Object.keys(r)) if (n.startsWith('present.')) past['past_key_values.' + n.slice(8)] = r[n];
      for (let b = 0; b < B; b++) {
        let best = 0;
        const off = (b * Tq + Tq - 1) * V;
        for (let v = 1; v < V; v++) if (lg.data[off + v] > lg.data[off + best]) best = v;
        const tok = finished[b] ? cfg.pad_token_id : best;
        ids[b].push(tok);
        mask[b].push(1);
        if (cfg.eos_token_id !== null && tok === cfg.eos_token_id) finished[b] = true;
      }
      if (finished.every((f) => f)) break;
    }
    const want = g.sequences;
    const same = JSON.stringify(want) === JSON.stringify(ids);
    console.log(`${same ? 'ok  ' : 'FAIL'} ${merged ? 'merged ' : ''}${g.name}: ${JSON.stringify(ids)}${same ? '' : ' want ' + JSON.stringify(want)}`);
    if (!same) bad++;
  }
  if (!runs) { console.log('FAIL: the case has no greedy run'); bad++; }
  process.exit(bad ? 1 : 0);
})().catch((e) => { console.error('FAIL', e.message || e); process.exit(1); });
