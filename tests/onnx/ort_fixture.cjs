// tests/onnx/ort_fixture.cjs MODEL.onnx CASE_DIR — run an exported graph through ONNX Runtime
// (npm onnxruntime-node, on NODE_PATH) on the fixture case's own inputs (expected.safetensors in.*)
// and check every graph output against the transformers output of the same name (out.*), within
// the case's atol/rtol, at the positions its compare_mask keeps. Every primary output of the case
// must be a graph output (but pooler_output, which Optimum's feature-extraction signature leaves
// out) and every graph output must have a reference: nothing goes unchecked. A position_ids input
// the case does not hold (Optimum 1.13's causal LM model.onnx) gets 0..T-1 per row, what
// transformers' forward used without it.
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const readSt = require('./safetensors.cjs');

(async () => {
  const [model, caseDir] = process.argv.slice(2);
  const exp = JSON.parse(fs.readFileSync(path.join(caseDir, 'expected.json')));
  const t = readSt(path.join(caseDir, 'expected.safetensors'));
  const s = await ort.InferenceSession.create(model);
  const feeds = {};
  for (const n of s.inputNames) {
    let v = t['in.' + n];
    if (!v && n === 'position_ids') {
      const [B, T] = t['in.input_ids'].shape;
      v = { dtype: 'I64', shape: [B, T], data: BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % T)) };
    }
    if (!v) throw new Error(`graph input ${n} has no fixture value in.${n}`);
    feeds[n] = new ort.Tensor(v.dtype === 'I64' ? 'int64' : 'float32', v.data, v.shape);
  }
  for (const k of Object.keys(exp.inputs))
    if (!s.inputNames.includes(k.slice(3))) throw new Error(`fixture input ${k} is not a graph input (${s.inputNames})`);
  const r = await s.run(feeds);
  let bad = 0;
  for (const [k, o] of Object.entries(exp.outputs))
    if (o.role === 'primary' && k !== 'out.pooler_output' && !s.outputNames.includes(k.slice(4))) { console.log(`FAIL ${k}: not a graph output`); bad++; }
  for (const n of s.outputNames) {
    const meta = exp.outputs['out.' + n], ref = t['out.' + n];
    if (!meta || !ref) { console.log(`FAIL ${n}: no transformers reference`); bad++; continue; }
    const got = r[n];
    if (got.dims.join('x') !== ref.shape.join('x')) { console.log(`FAIL ${n}: shape ${got.dims} vs ${ref.shape}`); bad++; continue; }
    const mask = meta.compare_mask ? t[meta.compare_mask] : null;
    const inner = mask ? ref.data.length / mask.data.length : 1;
    let worst = 0, over = 0;
    for (let i = 0; i < ref.data.length; i++) {
      if (mask && mask.data[Math.floor(i / inner)] === 0n) continue;
      const d = Math.abs(got.data[i] - ref.data[i]);
      worst = Math.max(worst, d);
      if (!(d <= meta.atol + meta.rtol * Math.abs(ref.data[i]))) over++;
    }
    console.log(`${over ? 'FAIL' : 'ok  '} ${n} [${ref.shape}] max |diff| ${worst.toExponential(3)} (atol ${meta.atol}, rtol ${meta.rtol}${mask ? ', masked by ' + meta.compare_mask : ''})`);
    if (over) bad++;
  }
  process.exit(bad ? 1 : 0);
})().catch((e) => { console.error('FAIL', e.message || e); process.exit(1); });
