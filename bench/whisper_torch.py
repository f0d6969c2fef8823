#!/usr/bin/python3
"""bench/whisper_torch.py — a compact PyTorch Whisper (the architecture of transformers 4.32's
WhisperForConditionalGeneration: conv1/conv2 + GELU, stored encoder positions, pre-norm layers, final
layer_norm, k_proj without bias, q scaled by head_dim**-0.5, learned decoder positions, proj_out tied
to embed_tokens), reading the checkpoint that bench_whisper wrote, for the side-by-side timing.
There is no transformers package here: this is written from the architecture, not copied.

    whisper_torch.py DIR NEW [OUT.npz]   load + greedy NEW tokens (eos masked, as min_new_tokens);
                                         prints "load_s gen_s total_s rtf"; OUT: sequences + first logits
AM_BENCH_DTYPE=bf16: weights and features in bfloat16. Times: process CPU time when AM_BENCH_CLOCK=cpu, else wall time (after the imports, like the C side
after exec). One thread unless AM_NUM_THREADS says otherwise."""
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def now():
    return time.process_time() if os.environ.get("AM_BENCH_CLOCK") == "cpu" else time.monotonic()


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", v["dtype"]
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data, dtype=np.float32, count=(b - a) // 4, offset=a).reshape(v["shape"]).copy())
    return out


class Whisper:
    def __init__(self, d, cfg):
        self.d, self.cfg = d, cfg
        self.D = cfg["d_model"]

    def w(self, k):
        return self.d[k]

    def lin(self, x, p, bias=True):
        return F.linear(x, self.d[p + ".weight"], self.d.get(p + ".bias") if bias else None)

    def ln(self, x, p):
        return F.layer_norm(x, (self.D,), self.d[p + ".weight"], self.d[p + ".bias"], 1e-5)

    def heads(self, x, H):
        B, T, D = x.shape
        return x.view(B, T, H, D // H).transpose(1, 2)

    def attend(self, q, k, v, causal_from=None):
        s = q @ k.transpose(-1, -2)
        if causal_from is not None:
            Tq, Tk = s.shape[-2], s.shape[-1]
            mask = torch.ones(Tq, Tk, dtype=torch.bool).tril(Tk - Tq)
            s = s.masked_fill(~mask, float("-inf"))
        return torch.softmax(s, dim=-1) @ v

    def merge(self, x):
        B, H, T, Dh = x.shape
        return x.transpose(1, 2).reshape(B, T, H * Dh)

    def encode(self, feats):
        H = self.cfg["encoder_attention_heads"]
        x = F.gelu(F.conv1d(feats, self.w("model.encoder.conv1.weight"), self.w("model.encoder.conv1.bias"), padding=1))
        x = F.gelu(F.conv1d(x, self.w("model.encoder.conv2.weight"), self.w("model.encoder.conv2.bias"), stride=2, padding=1))
        x = x.permute(0, 2, 1) + self.w("model.encoder.embed_positions.weight")
        sc = (self.D // H) ** -0.5
        for i in range(self.cfg["encoder_layers"]):
            p = f"model.encoder.layers.{i}."
            h = self.ln(x, p + "self_attn_layer_norm")
            q = self.heads(self.lin(h, p + "self_attn.q_proj") * sc, H)
            k = self.heads(self.lin(h, p + "self_attn.k_proj", False), H)
            v = self.heads(self.lin(h, p + "self_attn.v_proj"), H)
            x = x + self.lin(self.merge(self.attend(q, k, v)), p + "self_attn.out_proj")
            h = self.ln(x, p + "final_layer_norm")
            x = x + self.lin(F.gelu(self.lin(h, p + "fc1")), p + "fc2")
        return self.ln(x, "model.encoder.layer_norm")

    def cross_kv(self, enc):
        H = self.cfg["decoder_attention_heads"]
        kv = []
        for i in range(self.cfg["decoder_layers"]):
            p = f"model.decoder.layers.{i}.encoder_attn."
            kv.append((self.heads(self.lin(enc, p + "k_proj", False), H), self.heads(self.lin(enc, p + "v_proj"), H)))
        return kv

    def step(self, ids, cache, cross, past):
        H = self.cfg["decoder_attention_heads"]
        sc = (self.D // H) ** -0.5
        T = ids.shape[1]
        x = F.embedding(ids, self.w("model.decoder.embed_tokens.weight")) + self.w("model.decoder.embed_positions.weight")[past : past + T]
        for i in range(self.cfg["decoder_layers"]):
            p = f"model.decoder.layers.{i}."
            h = self.ln(x, p + "self_attn_layer_norm")
            q = self.heads(self.lin(h, p + "self_attn.q_proj") * sc, H)
            k = self.heads(self.lin(h, p + "self_attn.k_proj", False), H)
            v = self.heads(self.lin(h, p + "self_attn.v_proj"), H)
            if cache[i] is not None:
                k = torch.cat([cache[i][0], k], dim=2)
                v = torch.cat([cache[i][1], v], dim=2)
            cache[i] = (k, v)
            x = x + self.lin(self.merge(self.attend(q, k, v, causal_from=past)), p + "self_attn.out_proj")
            h = self.ln(x, p + "encoder_attn_layer_norm")
            q = self.heads(self.lin(h, p + "encoder_attn.q_proj") * sc, H)
            x = x + self.lin(self.merge(self.attend(q, *cross[i])), p + "encoder_attn.out_proj")
            h = self.ln(x, p + "final_layer_norm")
            x = x + self.lin(F.gelu(self.lin(h, p + "fc1")), p + "fc2")
        x = self.ln(x, "model.decoder.layer_norm")
        return F.linear(x[:, -1], self.w("model.decoder.embed_tokens.weight"))  # proj_out, tied


def main():
    d, n = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(int(os.environ.get("AM_NUM_THREADS", "1")))
    t0 = now()
    cfg = json.load(open(os.path.join(d, "config.json")))
    weights = load_safetensors(os.path.join(d, "model.safetensors"))
    feats = load_safetensors(os.path.join(d, "features.safetensors"))["input_features"]
    if os.environ.get("AM_BENCH_DTYPE") == "bf16":  # model.to(torch.bfloat16): oneDNN's bf16 kernels
        weights = {k: v.to(torch.bfloat16) for k, v in weights.items()}
        feats = feats.to(torch.bfloat16)
    model = Whisper(weights, cfg)
    t1 = now()
    eos = cfg["eos_token_id"]
    with torch.no_grad():
        enc = model.encode(feats)
        cross = model.cross_kv(enc)
        cache = [None] * cfg["decoder_layers"]
        seq = [cfg["decoder_start_token_id"]]
        ids = torch.tensor([seq])
        first = None
        for i in range(n):
            logits = model.step(ids, cache, cross, len(seq) - ids.shape[1])
            if first is None:
                first = logits[0].clone()
            logits[:, eos] = float("-inf")  # min_new_tokens = n
            nxt = int(logits[0].argmax())
            seq.append(nxt)
            ids = torch.tensor([[nxt]])
    t2 = now()
    print(f"{t1 - t0:.4f} {t2 - t1:.4f} {t2 - t0:.4f} {(t2 - t0) / 30.0:.4f}")
    if len(sys.argv) > 3:
        np.savez(sys.argv[3], sequences=np.array([seq], dtype=np.int64), first_logits=first.float().numpy())


if __name__ == "__main__":
    main()
