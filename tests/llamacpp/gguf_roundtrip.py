#!/usr/bin/python3
"""tests/llamacpp/gguf_roundtrip.py MODEL_DIR FILE.gguf — reads a GGUF written by
bench/gguf_convert.py with a reader of its own (header, metadata, tensor infos, 32-byte aligned
data; Q8_0 / Q4_0 blocks dequantized as ggml defines them) and checks every tensor against the
checkpoint's float32 weight: f32 exact; Q8_0 within half a step (d/2, d = the block's float16 scale);
Q4_0 within one step |d| (the block's largest positive value may be clipped from code 16 to 15);
both plus the float16 rounding of d (relative 2^-11, times the code: bounded by |x|·2^-10). Exits 1 naming the first tensor that is off."""
import json, struct, sys
import numpy as np

def read_st(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__" or v["dtype"] != "F32":
            continue
        b, e = v["data_offsets"]
        out[k.replace("transformer.", "", 1)] = np.frombuffer(raw[8 + n + b:8 + n + e], dtype="<f4").reshape(v["shape"])
    return out

def read_gguf(path):
    raw = open(path, "rb").read()
    assert raw[:4] == b"GGUF", "bad magic"
    ver, nt, nkv = struct.unpack("<IQQ", raw[4:24])
    assert ver == 3, f"version {ver}"
    pos = 24
    def rd(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, raw, pos); pos += struct.calcsize("<" + fmt); return v[0]
    def rstr():
        nonlocal pos
        n = rd("Q"); s = raw[pos:pos + n].decode(); pos += n; return s
    scal = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "B", 10: "Q", 11: "q", 12: "d"}
    def rval(t):
        if t == 8: return rstr()
        if t == 9:
            et, n = rd("I"), rd("Q"); return [rval(et) for _ in range(n)]
        return rd(scal[t])
    meta = {}
    for _ in range(nkv):
        k = rstr(); meta[k] = rval(rd("I"))
    infos = []
    for _ in range(nt):
        name = rstr(); nd = rd("I"); dims = [rd("Q") for _ in range(nd)]; infos.append((name, dims, rd("I"), rd("Q")))
    align = meta.get("general.alignment", 32)
    base = pos + (-pos) % align
    tensors = {}
    for name, dims, t, off in infos:
        assert off % align == 0, f"{name}: offset {off} not aligned"
        n = int(np.prod(dims)); shape = list(reversed(dims)); p = base + off
        if t == 0:
            tensors[name] = (np.frombuffer(raw, "<f4", n, p).reshape(shape), None)
        elif t == 8:
            blk = np.frombuffer(raw, np.dtype([("d", "<f2"), ("qs", "i1", 32)]), n // 32, p)
            d = blk["d"].astype(np.float32)
            tensors[name] = ((blk["qs"].astype(np.float32) * d[:, None]).reshape(shape), np.repeat(np.abs(d) / 2, 32).reshape(shape))
        elif t == 2:
            blk = np.frombuffer(raw, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), n // 32, p)
            d = blk["d"].astype(np.float32)
            q = np.concatenate([blk["qs"] & 15, blk["qs"] >> 4], axis=1).astype(np.float32) - 8
            tensors[name] = ((q * d[:, None]).reshape(shape), np.repeat(np.abs(d), 32).reshape(shape))
        else:
            raise AssertionError(f"{name}: unexpected type {t}")
    return meta, tensors

def main(model_dir, path):
    w = read_st(model_dir + "/model.safetensors")
    meta, t = read_gguf(path)
    assert meta["general.architecture"] == "gpt2"
    L = meta["gpt2.block_count"]
    m = {"token_embd.weight": w["wte.weight"], "position_embd.weight": w["wpe.weight"],
         "output_norm.weight": w["ln_f.weight"], "output_norm.bias": w["ln_f.bias"]}
    for i in range(L):
        h, b = f"h.{i}.", f"blk.{i}."
        for g, s in (("attn_norm", "ln_1"), ("ffn_norm", "ln_2")):
            m[b + g + ".weight"], m[b + g + ".bias"] = w[h + s + ".weight"], w[h + s + ".bias"]
        for g, s in (("attn_qkv", "attn.c_attn"), ("attn_output", "attn.c_proj"), ("ffn_up", "mlp.c_fc"), ("ffn_down", "mlp.c_proj")):
            m[b + g + ".weight"], m[b + g + ".bias"] = w[h + s + ".weight"].T, w[h + s + ".bias"]
    if set(m) != set(t):
        print(f"{path}: tensors {sorted(set(m) ^ set(t))} missing or extra"); return 1
    for name, ref in m.items():
        got, tol = t[name]
        if got.shape != ref.shape:
            print(f"{path}: {name}: shape {got.shape} != {ref.shape}"); return 1
        if tol is None:
            if not np.array_equal(got, ref):
                print(f"{path}: {name}: float32 copy differs"); return 1
        else:
            err = np.abs(got - ref) - tol - np.abs(ref) * 2.0**-10  # + the float16 rounding of d (relative 2^-11, times the code)
            if (err > 0).any():
                i = np.unravel_index(np.argmax(err), err.shape)
                print(f"{path}: {name}{list(i)}: {got[i]} vs {ref[i]} (allowed {tol[i]})"); return 1
    print(f"ok {path}: {len(m)} tensors")
    return 0

sys.exit(main(sys.argv[1], sys.argv[2]))
