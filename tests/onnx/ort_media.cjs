// tests/onnx/ort_media.cjs MODEL.onnx CASE_DIR — run an exported vision / audio graph through ONNX
// Runtime (npm onnxruntime-node, on NODE_PATH) on every model call a pipelines_media fixture case
// stored (expected.safetensors "<run>.<call>.<input>" with the transformers outputs
// "<run>.<call>.<output>", compared within 1e-4 + 1e-4 |want| as the C tests compare them), and
// on the case's model-level batch (model.in.* -> model.out.*, within case.json's
// model_level atol/rtol). The calls come at the sizes the pipeline made (other image sizes,
// other numbers of samples), so a pass also shows the graph's axes really are dynamic (a case
// with one size only leaves that to run_media.sh's --validate at another size). An
// attention_mask the graph takes but a call did not store is all ones (the feature extractor's
// mask of an unpadded row). Every graph output must be checked at least once.
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const readSt = require('./safetensors.cjs');

(async () => {
  const [model, caseDir] = process.argv.slice(2);
  const cj = JSON.parse(fs.readFileSync(path.join(caseDir, 'case.json')));
  const t = readSt(path.join(caseDir, 'expected.safetensors'));
  const s = await ort.InferenceSession.create(model);
  const main = s.inputNames.find((n) => n !== 'attention_mask');
  const groups = Object.keys(t).filter((k) => k.endsWith('.' + main)).map((k) => k.slice(0, -main.length - 1));
  const level = cj.model_level ? cj.model_level.outputs : {};
  let bad = 0, runs = 0;
  const checked = new Set(), sizes = new Set();
  for (const gname of groups) {
    const pre = gname === 'model.in' ? 'model.out' : gname;
    const feeds = {};
    for (const n of s.inputNames) {
      const v = t[gname + '.' + n];
      if (v) feeds[n] = new ort.Tensor(v.dtype === 'I64' ? 'int64' : 'float32', v.data, v.shape);
      else if (n === 'attention_mask') {
        const x = t[gname + '.' + main];
        feeds[n] = new ort.Tensor('int64', new BigInt64Array(x.data.length).fill(1n), x.shape);
      } else throw new Error(`${gname}: no value for graph input ${n}`);
    }
    const outs = s.outputNames.filter((n) => t[pre + '.' + n]);
    if (!outs.length) continue;
    const r = await s.run(feeds);
    runs++;
    sizes.add(feeds[main].dims.slice(1).join('x'));
    for (const n of outs) {
      const ref = t[pre + '.' + n], got = r[n];
      const tol = level[pre + '.' + n] || { atol: 1e-4, rtol: 1e-4 };
      if (got.dims.join('x') !== ref.shape.join('x')) { console.log(`FAIL ${pre}.${n}: shape ${got.dims} vs ${ref.shape}`); bad++; continue; }
      let worst = 0, over = 0;
      for (let i = 0; i < ref.data.length; i++) {
        const d = Math.abs(got.data[i] - ref.data[i]);
        worst = Math.max(worst, d);
        if (!(d <= tol.atol + tol.rtol * Math.abs(ref.data[i]))) over++;
      }
      checked.add(n);
      console.log(`${over ? 'FAIL' : 'ok  '} ${pre}.${n} [${ref.shape}] from ${main} [${feeds[main].dims}] max |diff| ${worst.toExponential(3)} (atol ${tol.atol}, rtol ${tol.rtol})`);
      if (over) bad++;
    }
  }
  for (const n of s.outputNames) if (!checked.has(n)) { console.log(`FAIL ${n}: no model call of the case has a reference for it`); bad++; }
  if (!runs) { console.log('FAIL: the case stores no model call for this graph'); bad++; }
  console.log(`${runs} model calls, input sizes ${[...sizes].join(', ')}`);
  process.exit(bad ? 1 : 0);
})().catch((e) => { console.error('FAIL', e.message || e); process.exit(1); });
