#!/usr/bin/python3
"""bench/gguf_convert.py — a GPT-2 checkpoint folder (config.json + model.safetensors, optional
tokenizer.json) to a GGUF v3 file that llama.cpp loads as its `gpt2` architecture, so that the
llama.cpp side of bench/bench_llamacpp.sh runs the very weights automodel runs.

usage: /usr/bin/python3 bench/gguf_convert.py MODEL_DIR OUT.gguf [--type f32|q8_0|q4_0]
                                              [--embd-type same|f32] [--print-bytes]

Written from the GGUF format description (ggml's docs/gguf.md) and the ggml block layouts; numpy
only. What goes where:
  - GPT-2's Conv1D weights are stored [in, out]; GGUF wants nn.Linear's [out, in] in row-major
    order with ne0 = in, so they are transposed. GGUF lists dims fastest first (ne0, ne1), i.e. the
    numpy shape reversed.
  - --type f32: every tensor float32. q8_0 / q4_0: the 2-D matmul weights (attn_qkv, attn_output,
    ffn_up, ffn_down) and token_embd (which GPT-2 ties to the output head: no `output` tensor is
    written, llama.cpp then reads token_embd for the head) in that type; norms, biases and
    position_embd (a row lookup, never streamed whole) float32. --embd-type f32 keeps token_embd
    float32 as automodel/transformers keep the tied lm_head with 8/4-bit (a like-for-like byte count).
    (llama.cpp's own quantize tool would put the tied head in Q6_K for q4_0; this script does not
    write k-quants.)
  - Q8_0 block (32 weights along a row): float16 d = absmax/127, then 32 int8 q = round(x/d).
    Q4_0 block (32 weights): float16 d = m/-8 with m the signed value of largest magnitude, then
    16 bytes: byte j holds element j in its low nibble and element j+16 in its high nibble, each
    q = min(15, trunc(x/d + 8.5)); the value is (q - 8) * d.
  - tokenizer.json (byte-level BPE) gives tokens, token types (3 = control for the special added
    tokens, 1 = normal) and merges. A folder without a tokenizer (a random bench model) gets the 256
    byte-level symbols plus placeholder tokens up to vocab_size and no merges: llama.cpp needs a
    vocabulary of the embedding's size; the bench feeds token ids, never text.
--print-bytes prints a JSON line: bytes of every tensor, and the bytes a decoded token streams
(all but position_embd, whose one row is looked up)."""
import json
import os
import struct
import sys

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGN = 32
# metadata value types
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY, T_UINT64, T_INT64, T_FLOAT64 = range(13)
# ggml tensor types
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0 = 0, 1, 2, 8
# general.file_type (llama_ftype): all f32, mostly q4_0, mostly q8_0
FTYPE = {"f32": 0, "q4_0": 2, "q8_0": 7}
QK = 32


class ConvertError(Exception):
    pass


# ---- safetensors (header: u64 length + JSON; data follows) ----

ST_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ConvertError(f"{path}: too short for a safetensors file")
    (hlen,) = struct.unpack("<Q", raw[:8])
    if hlen > len(raw) - 8:
        raise ConvertError(f"{path}: header length {hlen} runs past the end of the file")
    try:
        header = json.loads(raw[8 : 8 + hlen])
    except ValueError as e:
        raise ConvertError(f"{path}: header is not JSON ({e})")
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = info.get("dtype")
        if dt == "BF16":
            b, e = info["data_offsets"]
            u = np.frombuffer(raw, dtype=np.uint16, count=(e - b) // 2, offset=base + b).astype(np.uint32) << 16
            arr = u.view(np.float32)
        elif dt in ST_DTYPES:
            b, e = info["data_offsets"]
            itemsize = np.dtype(ST_DTYPES[dt]).itemsize
            if e < b or base + e > len(raw) or (e - b) % itemsize:
                raise ConvertError(f"{path}: tensor {name}: data_offsets {b}..{e} out of the file")
            arr = np.frombuffer(raw, dtype=ST_DTYPES[dt], count=(e - b) // itemsize, offset=base + b)
        else:
            continue  # integer buffers (attn.bias masks of old checkpoints) are not weights
        shape = tuple(info["shape"])
        if int(np.prod(shape, dtype=np.int64)) != arr.size:
            raise ConvertError(f"{path}: tensor {name}: shape {list(shape)} does not match its {arr.size} elements")
        out[name] = arr.reshape(shape).astype(np.float32)
    return out


# ---- quantization ----


def f16_bits(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16).view(np.uint16)


def round_half_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def quant_q8_0(w):
    """w: float32 [rows, cols], cols % 32 == 0 -> bytes of rows*cols/32 blocks of 34 bytes."""
    blocks = w.reshape(-1, QK).astype(np.float32)
    amax = np.abs(blocks).max(axis=1)
    d = amax / 127.0
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    q = round_half_away(blocks * inv[:, None]).astype(np.int8)
    rec = np.zeros(blocks.shape[0], dtype=[("d", "<u2"), ("qs", "i1", (QK,))])
    rec["d"] = f16_bits(d)
    rec["qs"] = q
    return rec.tobytes()


def quant_q4_0(w):
    """w: float32 [rows, cols], cols % 32 == 0 -> bytes of rows*cols/32 blocks of 18 bytes."""
    blocks = w.reshape(-1, QK).astype(np.float32)
    idx = np.abs(blocks).argmax(axis=1)
    m = blocks[np.arange(blocks.shape[0]), idx]
    d = m / -8.0
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    q = np.minimum(15, np.trunc(blocks * inv[:, None] + 8.5)).astype(np.uint8)
    packed = (q[:, : QK // 2] | (q[:, QK // 2 :] << 4)).astype(np.uint8)
    rec = np.zeros(blocks.shape[0], dtype=[("d", "<u2"), ("qs", "u1", (QK // 2,))])
    rec["d"] = f16_bits(d)
    rec["qs"] = packed
    return rec.tobytes()


# ---- GGUF writer ----


class Writer:
    def __init__(self):
        self.kv = []  # bytes of each key/value
        self.tensors = []  # (name, dims fastest first, ggml type, bytes)

    @staticmethod
    def _str(s):
        b = s.encode("utf-8")
        return struct.pack("<Q", len(b)) + b

    def _add(self, key, vtype, payload):
        self.kv.append(self._str(key) + struct.pack("<I", vtype) + payload)

    def add_string(self, key, v):
        self._add(key, T_STRING, self._str(v))

    def add_u32(self, key, v):
        self._add(key, T_UINT32, struct.pack("<I", v))

    def add_f32(self, key, v):
        self._add(key, T_FLOAT32, struct.pack("<f", v))

    def add_bool(self, key, v):
        self._add(key, T_BOOL, struct.pack("<B", 1 if v else 0))

    def add_str_array(self, key, items):
        self._add(key, T_ARRAY, struct.pack("<IQ", T_STRING, len(items)) + b"".join(self._str(s) for s in items))

    def add_i32_array(self, key, items):
        self._add(key, T_ARRAY, struct.pack("<IQ", T_INT32, len(items)) + np.asarray(items, dtype="<i4").tobytes())

    def add_tensor(self, name, arr, gtype):
        """arr: numpy float32 in [..., ne1, ne0] order (row-major, last axis fastest)."""
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        dims = list(reversed(arr.shape))
        if gtype == GGML_F32:
            data = arr.astype("<f4").tobytes()
        elif gtype == GGML_Q8_0:
            data = quant_q8_0(arr)
        elif gtype == GGML_Q4_0:
            data = quant_q4_0(arr)
        else:
            raise ConvertError(f"unsupported ggml type {gtype}")
        self.tensors.append((name, dims, gtype, data))

    def write(self, path):
        head = GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv)) + b"".join(self.kv)
        infos, offset = [], 0
        for name, dims, gtype, data in self.tensors:
            infos.append(self._str(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", gtype, offset))
            offset += len(data)
            offset += (-offset) % ALIGN
        head += b"".join(infos)
        tmp = path + ".tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(head)
                f.write(b"\0" * ((-len(head)) % ALIGN))
                for _, _, _, data in self.tensors:
                    f.write(data)
                    f.write(b"\0" * ((-len(data)) % ALIGN))
            os.replace(tmp, path)  # no partial file on failure
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise


# ---- GPT-2 ----


def byte_level_symbols():
    """GPT-2's byte-to-unicode map: printable latin-1 bytes map to themselves, the rest to 256+n."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    out, n = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + n)
            n += 1
    return [out[b] for b in range(256)]


def load_vocab(model_dir, vocab_size, cfg):
    tok_path = os.path.join(model_dir, "tokenizer.json")
    bos = cfg.get("bos_token_id", 50256)
    eos = cfg.get("eos_token_id", 50256)
    if not os.path.exists(tok_path):
        tokens = byte_level_symbols() + [f"<|bench_{i}|>" for i in range(256, vocab_size)]
        types = [1] * vocab_size
        if 0 <= eos < vocab_size:
            types[eos] = 3
        return tokens[:vocab_size], types[:vocab_size], [], min(bos, vocab_size - 1), min(eos, vocab_size - 1)
    with open(tok_path, encoding="utf-8") as f:
        tj = json.load(f)
    model = tj.get("model") or {}
    if model.get("type") != "BPE":
        raise ConvertError(f"{tok_path}: model type {model.get('type')!r}: only byte-level BPE (GPT-2) is converted")
    vocab = dict(model.get("vocab") or {})
    special = set()
    for t in tj.get("added_tokens") or []:
        vocab[t["content"]] = t["id"]
        if t.get("special"):
            special.add(t["id"])
    n = max(vocab_size, max(vocab.values()) + 1)
    if n != vocab_size:
        raise ConvertError(f"{tok_path}: token id {n - 1} beyond the model's vocab_size {vocab_size}")
    tokens = [None] * n
    for s, i in vocab.items():
        tokens[i] = s
    types = []
    for i in range(n):
        if tokens[i] is None:  # ids the tokenizer never produces (padded embedding rows)
            tokens[i] = f"[PAD{i}]"
            types.append(5)  # unused
        else:
            types.append(3 if i in special else 1)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
    return tokens, types, merges, bos, eos


def convert(model_dir, out_path, qtype="f32", embd_type="same"):
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "gpt2":
        raise ConvertError(f"{model_dir}/config.json: model_type {cfg.get('model_type')!r}: only gpt2 is converted")
    act = cfg.get("activation_function", "gelu_new")
    if act not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ConvertError(f"{model_dir}/config.json: activation_function {act!r}: llama.cpp's gpt2 graph uses the tanh GELU only")
    if cfg.get("scale_attn_by_inverse_layer_idx") or cfg.get("reorder_and_upcast_attn") or cfg.get("scale_attn_weights") is False:
        raise ConvertError(f"{model_dir}/config.json: attention variants (scale_attn_by_inverse_layer_idx, reorder_and_upcast_attn, "
                           "scale_attn_weights false) have no llama.cpp equivalent")
    st = os.path.join(model_dir, "model.safetensors")
    if not os.path.exists(st):
        raise ConvertError(f"{model_dir}: no model.safetensors (sharded or .bin checkpoints are not converted)")
    w = read_safetensors(st)
    w = {k[len("transformer.") :] if k.startswith("transformer.") else k: v for k, v in w.items()}
    E, L, H = cfg["n_embd"], cfg["n_layer"], cfg["n_head"]
    F = cfg.get("n_inner") or 4 * E
    V = cfg["vocab_size"]
    P = cfg["n_positions"]
    if qtype not in FTYPE:
        raise ConvertError(f"--type {qtype}: one of f32, q8_0, q4_0")
    wtype = {"f32": GGML_F32, "q8_0": GGML_Q8_0, "q4_0": GGML_Q4_0}[qtype]
    if wtype != GGML_F32 and (E % QK or F % QK):
        raise ConvertError(f"{model_dir}: n_embd {E} and n_inner {F} must be multiples of {QK} for {qtype}")

    def get(name, shape):
        if name not in w:
            raise ConvertError(f"{st}: missing tensor {name}")
        if tuple(w[name].shape) != tuple(shape):
            raise ConvertError(f"{st}: tensor {name} has shape {list(w[name].shape)}, expected {list(shape)}")
        return w[name]

    if "lm_head.weight" in w and not np.array_equal(w["lm_head.weight"], get("wte.weight", (V, E))):
        raise ConvertError(f"{st}: lm_head.weight differs from wte.weight: untied heads are not converted")

    g = Writer()
    g.add_string("general.architecture", "gpt2")
    g.add_string("general.name", os.path.basename(os.path.normpath(model_dir)))
    g.add_u32("general.file_type", FTYPE[qtype])
    g.add_u32("general.quantization_version", 2)
    g.add_u32("gpt2.context_length", P)
    g.add_u32("gpt2.embedding_length", E)
    g.add_u32("gpt2.feed_forward_length", F)
    g.add_u32("gpt2.block_count", L)
    g.add_u32("gpt2.attention.head_count", H)
    g.add_f32("gpt2.attention.layer_norm_epsilon", float(cfg.get("layer_norm_epsilon", 1e-5)))
    tokens, types, merges, bos, eos = load_vocab(model_dir, V, cfg)
    g.add_string("tokenizer.ggml.model", "gpt2")
    g.add_string("tokenizer.ggml.pre", "gpt-2")
    g.add_str_array("tokenizer.ggml.tokens", tokens)
    g.add_i32_array("tokenizer.ggml.token_type", types)
    g.add_str_array("tokenizer.ggml.merges", merges)
    g.add_u32("tokenizer.ggml.bos_token_id", bos)
    g.add_u32("tokenizer.ggml.eos_token_id", eos)
    g.add_bool("tokenizer.ggml.add_bos_token", False)

    etype = GGML_F32 if embd_type == "f32" else wtype
    g.add_tensor("token_embd.weight", get("wte.weight", (V, E)), etype)
    g.add_tensor("position_embd.weight", get("wpe.weight", (P, E)), GGML_F32)
    for i in range(L):
        p = f"h.{i}."
        b = f"blk.{i}."
        g.add_tensor(b + "attn_norm.weight", get(p + "ln_1.weight", (E,)), GGML_F32)
        g.add_tensor(b + "attn_norm.bias", get(p + "ln_1.bias", (E,)), GGML_F32)
        g.add_tensor(b + "attn_qkv.weight", get(p + "attn.c_attn.weight", (E, 3 * E)).T, wtype)
        g.add_tensor(b + "attn_qkv.bias", get(p + "attn.c_attn.bias", (3 * E,)), GGML_F32)
        g.add_tensor(b + "attn_output.weight", get(p + "attn.c_proj.weight", (E, E)).T, wtype)
        g.add_tensor(b + "attn_output.bias", get(p + "attn.c_proj.bias", (E,)), GGML_F32)
        g.add_tensor(b + "ffn_norm.weight", get(p + "ln_2.weight", (E,)), GGML_F32)
        g.add_tensor(b + "ffn_norm.bias", get(p + "ln_2.bias", (E,)), GGML_F32)
        g.add_tensor(b + "ffn_up.weight", get(p + "mlp.c_fc.weight", (E, F)).T, wtype)
        g.add_tensor(b + "ffn_up.bias", get(p + "mlp.c_fc.bias", (F,)), GGML_F32)
        g.add_tensor(b + "ffn_down.weight", get(p + "mlp.c_proj.weight", (F, E)).T, wtype)
        g.add_tensor(b + "ffn_down.bias", get(p + "mlp.c_proj.bias", (E,)), GGML_F32)
    g.add_tensor("output_norm.weight", get("ln_f.weight", (E,)), GGML_F32)
    g.add_tensor("output_norm.bias", get("ln_f.bias", (E,)), GGML_F32)
    g.write(out_path)
    sizes = {name: len(data) for name, _, _, data in g.tensors}
    return {"file": out_path, "type": qtype, "embd_type": "f32" if etype == GGML_F32 else qtype, "tensor_bytes": sum(sizes.values()),
            "bytes_per_token": sum(v for k, v in sizes.items() if k != "position_embd.weight")}


def main(argv):
    args, opts = [], {"--type": "f32", "--embd-type": "same"}
    print_bytes = False
    it = iter(argv[1:])
    for a in it:
        if a in opts:
            opts[a] = next(it, None)
            if opts[a] is None:
                raise ConvertError(f"{a} needs a value")
        elif a == "--print-bytes":
            print_bytes = True
        elif a.startswith("-"):
            raise ConvertError(f"unknown option {a} (--type f32|q8_0|q4_0, --embd-type same|f32, --print-bytes)")
        else:
            args.append(a)
    if len(args) != 2:
        raise ConvertError("usage: gguf_convert.py MODEL_DIR OUT.gguf [--type f32|q8_0|q4_0] [--embd-type same|f32] [--print-bytes]")
    if opts["--embd-type"] not in ("same", "f32"):
        raise ConvertError(f"--embd-type {opts['--embd-type']}: same or f32")
    info = convert(args[0], args[1], opts["--type"], opts["--embd-type"])
    if print_bytes:
        print(json.dumps(info))


if __name__ == "__main__":
    try:
        main(sys.argv)
    except (ConvertError, OSError, KeyError, ValueError) as e:
        print(f"gguf_convert: {e}", file=sys.stderr)
        sys.exit(1)
