// tests/onnx/ort_s2s.cjs OUT_DIR CASE_DIR — an encoder-decoder exported in Optimum's layout
// (encoder_model.onnx + decoder_model.onnx [+ decoder_with_past_model.onnx]) run through ONNX Runtime
// (npm onnxruntime-node, on NODE_PATH) against the fixture case's transformers numbers:
//  1. the encoder on the case's inputs (a padded batch of 2): last_hidden_state against
//     out.encoder_last_hidden_state, then the decoder on in.decoder_input_ids over that state: logits
//     against out.logits, within the case's atol/rtol at the positions its compare_mask keeps;
//  2. with past: decoder_model.onnx on the first decoder token, then decoder_with_past_model.onnx one
//     token at a time with past_key_values.N.* = the previous present.N.*: each step's logits
//     against the same row of out.logits;
//  3. every greedy run of the case (gen1: one prompt of another length, gen: the padded batch of 2)
//     driven step by step as transformers' greedy search does (the decoder_start_token_id, the
//     logits processors the case's generation config turns on: forced BOS/EOS, suppress_tokens,
//     begin_suppress_tokens, forced_decoder_ids; pad after eos): the sequences exactly, and each
//     step's scores against <run>.scores where those are finite.
// Without decoder_with_past_model.onnx, steps 2-3 rerun decoder_model.onnx on the whole sequence.
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const readSt = require('./safetensors.cjs');
const i64 = (rows) => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);
const tensor = (v) => new ort.Tensor(v.dtype === 'I64' ? 'int64' : 'float32', v.data, v.shape);
let bad = 0;

function compare(label, got, ref, meta, mask, rowsOf) {
  // got/ref: flat arrays of the same length; mask: per-row keep flags (rowsOf(i) -> mask index), or null
  let worst = 0, over = 0;
  for (let i = 0; i < ref.length; i++) {
    if (mask && !mask[rowsOf(i)]) continue;
    if (!Number.isFinite(ref[i])) { // a token a logits processor took out must be out here too
      if (got[i] !== ref[i]) over++;
      continue;
    }
    const d = Math.abs(got[i] - ref[i]);
    worst = Math.max(worst, d);
    if (!(d <= meta.atol + meta.rtol * Math.abs(ref[i]))) over++;
  }
  console.log(`${over ? 'FAIL' : 'ok  '} ${label} max |diff| ${worst.toExponential(3)} (atol ${meta.atol}, rtol ${meta.rtol})`);
  if (over) bad++;
}

(async () => {
  const [dir, caseDir] = process.argv.slice(2);
  const exp = JSON.parse(fs.readFileSync(path.join(caseDir, 'expected.json')));
  const t = readSt(path.join(caseDir, 'expected.safetensors'));
  const encoder = await ort.InferenceSession.create(path.join(dir, 'encoder_model.onnx'));
  const decoder = await ort.InferenceSession.create(path.join(dir, 'decoder_model.onnx'));
  const pastFile = path.join(dir, 'decoder_with_past_model.onnx');
  const withPast = fs.existsSync(pastFile) ? await ort.InferenceSession.create(pastFile) : null;
  const encIn = encoder.inputNames.filter((n) => n !== 'attention_mask')[0]; // input_ids (or the features of another encoder)

  const encode = async (feeds) => (await encoder.run(feeds)).last_hidden_state;
  // the decoder over `rows` (ids so far) after `past` (null: none): logits of the last position and the new past
  const step = async (rows, encState, encMask, past) => {
    const feeds = {};
    if (decoder.inputNames.includes('encoder_attention_mask')) feeds.encoder_attention_mask = encMask;
    let r;
    if (past) {
      feeds.input_ids = i64(rows.map((x) => [x[x.length - 1]]));
      Object.assign(feeds, past);
      r = await withPast.run(feeds);
    } else {
      feeds.input_ids = i64(rows);
      feeds.encoder_hidden_states = encState;
      r = await decoder.run(feeds);
    }
    const next = {};
    for (const n of Object.keys(r)) if (n.startsWith('present.')) next['past_key_values.' + n.slice(8)] = r[n];
    if (past) for (const n of Object.keys(past)) if (n.includes('.encoder.')) next[n] = past[n]; // the cross keys/values stay
    return { logits: r.logits, past: withPast ? next : null };
  };

  // 1. the forward on the case's inputs
  const B = t['in.' + encIn].shape[0];
  const encFeeds = {};
  for (const n of encoder.inputNames) {
    if (!t['in.' + n]) throw new Error(`encoder input ${n} has no fixture value in.${n}`);
    encFeeds[n] = tensor(t['in.' + n]);
  }
  const state = await encode(encFeeds);
  const attn = t['in.attention_mask'];
  const encMask = attn ? tensor(attn) : i64(Array.from({ length: B }, () => new Array(state.dims[1]).fill(1)));
  const refEnc = t['out.encoder_last_hidden_state'], metaEnc = exp.outputs['out.encoder_last_hidden_state'];
  const H = state.dims[2], S = state.dims[1];
  if (state.dims.join('x') !== refEnc.shape.join('x')) { console.log(`FAIL last_hidden_state: shape ${state.dims} vs ${refEnc.shape}`); bad++; }
  else compare(`encoder last_hidden_state [${state.dims}]`, state.data, refEnc.data, metaEnc, metaEnc.compare_mask ? Array.from(t[metaEnc.compare_mask].data, Number) : null, (i) => Math.floor(i / H));
  const dT = t['in.decoder_input_ids'], refL = t['out.logits'], metaL = exp.outputs['out.logits'];
  const V = refL.shape[2], T = dT.shape[1];
  const dRows = [];
  for (let b = 0; b < B; b++) dRows.push(Array.from(dT.data.slice(b * T, (b + 1) * T), Number));
  const lMask = metaL.compare_mask ? Array.from(t[metaL.compare_mask].data, Number) : null;
  const full = await decoder.run(Object.assign({ input_ids: i64(dRows), encoder_hidden_states: state },
    decoder.inputNames.includes('encoder_attention_mask') ? { encoder_attention_mask: encMask } : {}));
  compare(`decoder logits [${full.logits.dims}]`, full.logits.data, refL.data, metaL, lMask, (i) => Math.floor(i / V));

  // 2. the same logits one token at a time over the cache
  if (withPast) {
    let past = null;
    const got = new Float32Array(B * T * V);
    for (let k = 0; k < T; k++) {
      const r = await step(dRows.map((x) => x.slice(0, k + 1)), state, encMask, past);
      past = r.past;
      const Tq = r.logits.dims[1];
      for (let b = 0; b < B; b++) got.set(r.logits.data.subarray((b * Tq + Tq - 1) * V, (b * Tq + Tq) * V), (b * T + k) * V);
    }
    compare(`decoder_with_past logits, ${T} steps`, got, refL.data, metaL, lMask, (i) => Math.floor(i / V));
  }

  // 3. greedy generation
  let runs = 0;
  for (const g of exp.generation) {
    if (!['gen', 'gen1'].includes(g.name) || g.call.do_sample || g.call.num_beams !== 1) continue;
    runs++;
    const cfg = g.effective_generation_config;
    const feeds = {};
    for (const n of encoder.inputNames) {
      const v = t[g.name + '.' + n];
      if (v) feeds[n] = tensor(v);
    }
    const gin = t[g.name + '.' + encIn];
    const gB = gin.shape[0];
    if (!feeds.attention_mask && encoder.inputNames.includes('attention_mask'))
      feeds.attention_mask = i64(Array.from({ length: gB }, () => new Array(gin.shape[1]).fill(1)));
    const st = await encode(feeds);
    const em = feeds.attention_mask || i64(Array.from({ length: gB }, () => new Array(st.dims[1]).fill(1)));
    const rows = Array.from({ length: gB }, () => [cfg.decoder_start_token_id]);
    const maxLen = 1 + g.call.max_new_tokens;
    const forced = new Map((cfg.forced_decoder_ids || []).map(([i, tok]) => [i, tok]));
    // SuppressTokensAtBeginLogitsProcessor's begin_index as 4.32's get_logits_processor computes it
    let beginIndex = 1 + (cfg.forced_bos_token_id === null ? 0 : 1);
    if (cfg.forced_decoder_ids && cfg.forced_decoder_ids.length) beginIndex += cfg.forced_decoder_ids[cfg.forced_decoder_ids.length - 1][0];
    const finished = new Array(gB).fill(false);
    const scoresRef = t[g.name + '.scores'];
    const got = [], want = [];
    let past = null;
    for (let s = 0; s < g.call.max_new_tokens; s++) {
      const r = await step(rows, st, em, past);
      past = r.past;
      const Tq = r.logits.dims[1], Vg = r.logits.dims[2], cur = rows[0].length;
      for (let b = 0; b < gB; b++) {
        const sc = Array.from(r.logits.data.subarray((b * Tq + Tq - 1) * Vg, (b * Tq + Tq) * Vg));
        // the logits processors transformers 4.32 builds from this generation config, in its order
        const only = (tok) => { for (let v = 0; v < Vg; v++) sc[v] = v === tok ? 0 : -Infinity; };
        if (cfg.forced_bos_token_id !== null && cur === 1) only(cfg.forced_bos_token_id);
        if (cfg.forced_eos_token_id !== null && cur === maxLen - 1) only(cfg.forced_eos_token_id);
        for (const v of cfg.suppress_tokens || []) sc[v] = -Infinity;
        if (cur === beginIndex) for (const v of cfg.begin_suppress_tokens || []) sc[v] = -Infinity;
        if (forced.has(cur)) { const tok = forced.get(cur); for (let v = 0; v < Vg; v++) sc[v] = v === tok ? 0 : -Infinity; }
        let best = 0;
        for (let v = 1; v < Vg; v++) if (sc[v] > sc[best]) best = v;
        if (scoresRef) {
          got.push(...sc);
          want.push(...scoresRef.data.subarray((s * gB + b) * Vg, (s * gB + b + 1) * Vg));
        }
        const tok = finished[b] ? cfg.pad_token_id : best;
        rows[b].push(tok);
        if (cfg.eos_token_id !== null && tok === cfg.eos_token_id) finished[b] = true;
      }
      if (finished.every((f) => f)) break;
    }
    const same = JSON.stringify(g.sequences) === JSON.stringify(rows);
    console.log(`${same ? 'ok  ' : 'FAIL'} ${g.name} greedy (${withPast ? 'with past' : 'no past'}): ${JSON.stringify(rows)}${same ? '' : ' want ' + JSON.stringify(g.sequences)}`);
    if (!same) bad++;
    // scores of finished rows are not compared (transformers keeps computing them; so does this loop)
    if (scoresRef && same) compare(`${g.name} scores, ${got.length / V} rows`, got, want, metaL, null, () => 0);
  }
  if (!runs && exp.generation.length) { console.log('FAIL: the case has no greedy run'); bad++; }
  process.exit(bad ? 1 : 0);
})().catch((e) => { console.error('FAIL', e.message || e); process.exit(1); });
