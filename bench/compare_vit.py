"""bench/compare_vit.py - ViT-base image classification in plain PyTorch (python3-torch; no
transformers needed) on the weights automodel saved, for bench/compare_vit.sh.

  compare_vit.py time DIR BATCH RUNS THREADS [DTYPE]   median forward ms (float32|bfloat16;
                                                        AM_BENCH_CLOCK=cpu: CPU time)
  compare_vit.py check DIR OUT.safetensors      max |diff| of the logits vs automodel's (batch 1)

The module is transformers' ViTForImageClassification in eval mode, written out: Conv2d patch
embedding, CLS token, position embeddings, 12 pre-norm layers (LayerNorm eps 1e-12, self-attention,
GELU(erf) MLP), final LayerNorm, classifier on the CLS token. The pixel values are the fixed
pattern bench_vit.c uses.
"""
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from compare_torch import read_safetensors  # noqa: E402


class ViT(torch.nn.Module):
    def __init__(self, w, cfg, dtype=torch.float32):
        super().__init__()
        self.w = {(k[4:] if k.startswith("vit.") else k): t.to(dtype) for k, t in w.items()}
        self.L, self.H, self.heads = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"]
        self.P = cfg["patch_size"]

    def p(self, name):
        return self.w[name]

    def lin(self, x, name):
        return F.linear(x, self.p(name + ".weight"), self.p(name + ".bias"))

    def ln(self, x, name):
        return F.layer_norm(x, (self.H,), self.p(name + ".weight"), self.p(name + ".bias"), 1e-12)

    def forward(self, px):
        B = px.shape[0]
        x = F.conv2d(px, self.p("embeddings.patch_embeddings.projection.weight"), self.p("embeddings.patch_embeddings.projection.bias"),
                     stride=self.P)
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([self.p("embeddings.cls_token").expand(B, -1, -1), x], dim=1) + self.p("embeddings.position_embeddings")
        T, D = x.shape[1], self.H // self.heads
        for i in range(self.L):
            pre = "encoder.layer.%d." % i
            h = self.ln(x, pre + "layernorm_before")
            q = self.lin(h, pre + "attention.attention.query").view(B, T, self.heads, D).transpose(1, 2)
            k = self.lin(h, pre + "attention.attention.key").view(B, T, self.heads, D).transpose(1, 2)
            v = self.lin(h, pre + "attention.attention.value").view(B, T, self.heads, D).transpose(1, 2)
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D), dim=-1)
            c = (a @ v).transpose(1, 2).reshape(B, T, self.H)
            x = self.lin(c, pre + "attention.output.dense") + x
            h = F.gelu(self.lin(self.ln(x, pre + "layernorm_after"), pre + "intermediate.dense"))
            x = self.lin(h, pre + "output.dense") + x
        x = self.ln(x, "layernorm")
        return self.lin(x[:, 0], "classifier")


def load(d, dtype=torch.float32):
    return ViT(read_safetensors(d + "/model.safetensors"), json.load(open(d + "/config.json")), dtype).eval()


def pixels(B):
    n = B * 3 * 224 * 224
    return ((torch.arange(n, dtype=torch.int64) * 7919 % 2001).to(torch.float32) / 1000.0 - 1.0).view(B, 3, 224, 224)


def main():
    cmd = sys.argv[1]
    if cmd == "time":
        d, B, runs, th = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        dt = torch.bfloat16 if len(sys.argv) > 6 and sys.argv[6] == "bfloat16" else torch.float32
        torch.set_num_threads(th)
        m, px = load(d, dt), pixels(B).to(dt)
        clock = time.process_time if os.environ.get("AM_BENCH_CLOCK") == "cpu" else time.perf_counter
        ts = []
        with torch.no_grad():
            for r in range(runs + 1):
                t0 = clock()
                m(px)
                ts.append(clock() - t0)
        print("%.3f" % (statistics.median(ts[1:]) * 1e3))
    elif cmd == "check":
        m = load(sys.argv[2])
        with torch.no_grad():
            ref = m(pixels(1))
        got = read_safetensors(sys.argv[3])["logits"]
        print("%.3g" % (got - ref).abs().max().item())


if __name__ == "__main__":
    main()
