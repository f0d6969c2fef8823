"""bench/compare_torch.py - BERT-base in plain PyTorch (python3-torch; transformers is not needed)
on the weights automodel saved, for bench/compare.sh.

  compare_torch.py time DIR DTYPE BATCH TOKENS RUNS THREADS   median forward ms (float32|bfloat16)
  compare_torch.py export DIR OUT.onnx TOKENS                  ONNX export (dynamic batch)
  compare_torch.py inputs IN.safetensors BATCH TOKENS           the input_ids every engine uses
  compare_torch.py check DIR OUT.safetensors                    max |diff| of last_hidden_state vs automodel's

The module is transformers' BertModel in eval mode, written out: embeddings (word + position +
token type, LayerNorm eps 1e-12), 12 post-norm layers (self-attention, GELU(erf) MLP), pooler.
"""
import json
import math
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

DT = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    base = 8 + n
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        raw = b[base + s:base + e]
        if v["dtype"] == "BF16":
            a = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, DT[v["dtype"]])
        out[k[5:] if k.startswith("bert.") else k] = torch.from_numpy(a.reshape(v["shape"]).copy())
    return out


class Bert(torch.nn.Module):
    def __init__(self, w, cfg):
        super().__init__()
        self.w = torch.nn.ParameterDict({k.replace(".", "__"): torch.nn.Parameter(t, requires_grad=False) for k, t in w.items()})
        self.L, self.H, self.heads = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"]

    def p(self, name):
        return self.w[name.replace(".", "__")]

    def lin(self, x, name):
        return F.linear(x, self.p(name + ".weight"), self.p(name + ".bias"))

    def ln(self, x, name):
        return F.layer_norm(x, (self.H,), self.p(name + ".weight"), self.p(name + ".bias"), 1e-12)

    def forward(self, ids):
        B, T = ids.shape
        pos = torch.arange(T).unsqueeze(0)
        x = self.p("embeddings.word_embeddings.weight")[ids] + self.p("embeddings.position_embeddings.weight")[pos] + \
            self.p("embeddings.token_type_embeddings.weight")[torch.zeros_like(ids)]
        x = self.ln(x, "embeddings.LayerNorm")
        D = self.H // self.heads
        for i in range(self.L):
            pre = "encoder.layer.%d." % i
            q = self.lin(x, pre + "attention.self.query").view(B, T, self.heads, D).transpose(1, 2)
            k = self.lin(x, pre + "attention.self.key").view(B, T, self.heads, D).transpose(1, 2)
            v = self.lin(x, pre + "attention.self.value").view(B, T, self.heads, D).transpose(1, 2)
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D), dim=-1)
            c = (a @ v).transpose(1, 2).reshape(B, T, self.H)
            x = self.ln(self.lin(c, pre + "attention.output.dense") + x, pre + "attention.output.LayerNorm")
            h = F.gelu(self.lin(x, pre + "intermediate.dense"))
            x = self.ln(self.lin(h, pre + "output.dense") + x, pre + "output.LayerNorm")
        pooled = torch.tanh(self.lin(x[:, 0], "pooler.dense"))
        return x, pooled


def load(d):
    cfg = json.load(open(d + "/config.json"))
    return Bert(read_safetensors(d + "/model.safetensors"), cfg).eval()


def ids_of(B, T):
    return (torch.arange(B * T, dtype=torch.int64) * 7919 % 30522).view(B, T)


def main():
    cmd = sys.argv[1]
    if cmd == "time":
        d, dt, B, T, runs, th = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
        torch.set_num_threads(th)
        m = load(d)
        if dt == "bfloat16":
            m = m.to(torch.bfloat16)
        ids = ids_of(B, T)
        ts = []
        clock = time.process_time if os.environ.get("AM_BENCH_CLOCK") == "cpu" else time.perf_counter
        with torch.no_grad():
            for r in range(runs + 1):
                t0 = clock()
                m(ids)
                ts.append(clock() - t0)
        print("%.3f" % (statistics.median(ts[1:]) * 1e3))
    elif cmd == "export":
        m = load(sys.argv[2])
        T = int(sys.argv[4])
        with torch.no_grad():
            torch.onnx.export(m, (ids_of(1, T),), sys.argv[3], input_names=["input_ids"], output_names=["last_hidden_state", "pooler_output"],
                              dynamic_axes={"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}, "pooler_output": {0: "batch"}},
                              opset_version=14)
    elif cmd == "inputs":
        B, T = int(sys.argv[3]), int(sys.argv[4])
        raw = ids_of(B, T).numpy().tobytes()
        h = json.dumps({"input_ids": {"dtype": "I64", "shape": [B, T], "data_offsets": [0, len(raw)]}, "__metadata__": {"format": "pt"}}).encode()
        h += b" " * ((8 - len(h) % 8) % 8)
        with open(sys.argv[2], "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h + raw)
    elif cmd == "check":
        m = load(sys.argv[2])
        ours = read_safetensors(sys.argv[3])["last_hidden_state"].float()
        with torch.no_grad():
            x, _ = m(ids_of(ours.shape[0], ours.shape[1]))
        print("%.3g" % (x - ours).abs().max().item())


if __name__ == "__main__":
    main()
