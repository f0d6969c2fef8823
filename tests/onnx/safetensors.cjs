// tests/onnx/safetensors.cjs — read a safetensors file (F32 / I64 tensors, as the fixtures hold)
// into { name: { dtype, shape, data } } for the ONNX Runtime checks.
const fs = require('fs');
module.exports = function readSafetensors(p) {
  const b = fs.readFileSync(p);
  const n = Number(b.readBigUInt64LE(0));
  const h = JSON.parse(b.subarray(8, 8 + n).toString());
  const out = {};
  for (const [k, v] of Object.entries(h)) {
    if (k === '__metadata__') continue;
    const s = b.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]);
    const ab = new ArrayBuffer(s.length);
    new Uint8Array(ab).set(s);
    out[k] = { dtype: v.dtype, shape: v.shape, data: v.dtype === 'I64' ? new BigInt64Array(ab) : new Float32Array(ab) };
  }
  return out;
};
