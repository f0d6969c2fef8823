"""bench/compare_wav2vec2.py - Wav2Vec2ForSequenceClassification in plain PyTorch (python3-torch; no
transformers needed) on the weights automodel saved, for bench/compare_wav2vec2.sh.

  compare_wav2vec2.py run DIR BATCH THREADS DTYPE   one whole classification (load, the first BATCH
                                                    clips of DIR/input.safetensors, forward); prints
                                                    the forward ms (AM_BENCH_CLOCK=cpu: CPU time)
  compare_wav2vec2.py check DIR OUT.safetensors     max |diff| of the logits vs automodel's (batch 2)

The module is transformers 4.32's Wav2Vec2ForSequenceClassification in eval mode, written out:
conv feature encoder (GroupNorm on the first layer, or LayerNorm per layer; GELU), feature
projection (LayerNorm, Linear), positional conv (weight norm over dim 2, groups, padding K//2,
the last frame dropped for an even K, GELU), post-norm or stable-layer-norm encoder, projector,
mean over frames, classifier. No attention mask (every clip has the same length).
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from compare_torch import read_safetensors  # noqa: E402


class Wav2Vec2(torch.nn.Module):
    def __init__(self, w, cfg, dtype=torch.float32):
        super().__init__()
        self.w = {(k[9:] if k.startswith("wav2vec2.") else k): t.to(dtype) for k, t in w.items()}
        self.c = cfg
        self.H, self.heads, self.eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]

    def p(self, name):
        return self.w[name]

    def lin(self, x, name):
        return F.linear(x, self.p(name + ".weight"), self.p(name + ".bias"))

    def ln(self, x, name, eps=None):
        return F.layer_norm(x, (x.shape[-1],), self.p(name + ".weight"), self.p(name + ".bias"), self.eps if eps is None else eps)

    def forward(self, x):
        c = self.c
        h = x[:, None]
        for i, (k, s) in enumerate(zip(c["conv_kernel"], c["conv_stride"])):
            pre = "feature_extractor.conv_layers.%d." % i
            h = F.conv1d(h, self.p(pre + "conv.weight"), self.w.get(pre + "conv.bias"), stride=s)
            if c["feat_extract_norm"] == "layer":
                h = self.ln(h.transpose(1, 2), pre + "layer_norm", 1e-5).transpose(1, 2)
            elif i == 0:
                h = F.group_norm(h, h.shape[1], self.p(pre + "layer_norm.weight"), self.p(pre + "layer_norm.bias"), 1e-5)
            h = F.gelu(h)
        h = self.ln(h.transpose(1, 2), "feature_projection.layer_norm")
        h = self.lin(h, "feature_projection.projection")
        K = c["num_conv_pos_embeddings"]
        pw = torch._weight_norm(self.p("encoder.pos_conv_embed.conv.weight_v"), self.p("encoder.pos_conv_embed.conv.weight_g"), 2)
        pos = F.conv1d(h.transpose(1, 2), pw, self.p("encoder.pos_conv_embed.conv.bias"), padding=K // 2, groups=c["num_conv_pos_embedding_groups"])
        if K % 2 == 0:
            pos = pos[:, :, :-1]
        h = h + F.gelu(pos).transpose(1, 2)
        stable = c["do_stable_layer_norm"]
        if not stable:
            h = self.ln(h, "encoder.layer_norm")
        B, T = h.shape[0], h.shape[1]
        D = self.H // self.heads
        for i in range(c["num_hidden_layers"]):
            pre = "encoder.layers.%d." % i
            a = self.ln(h, pre + "layer_norm") if stable else h
            q = (self.lin(a, pre + "attention.q_proj") * D ** -0.5).view(B, T, self.heads, D).transpose(1, 2)
            k = self.lin(a, pre + "attention.k_proj").view(B, T, self.heads, D).transpose(1, 2)
            v = self.lin(a, pre + "attention.v_proj").view(B, T, self.heads, D).transpose(1, 2)
            o = (torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v).transpose(1, 2).reshape(B, T, self.H)
            h = h + self.lin(o, pre + "attention.out_proj")
            if not stable:
                h = self.ln(h, pre + "layer_norm")
            f = self.ln(h, pre + "final_layer_norm") if stable else h
            f = self.lin(F.gelu(self.lin(f, pre + "feed_forward.intermediate_dense")), pre + "feed_forward.output_dense")
            h = h + f
            if not stable:
                h = self.ln(h, pre + "final_layer_norm")
        if stable:
            h = self.ln(h, "encoder.layer_norm")
        return self.lin(self.lin(h, "projector").mean(dim=1), "classifier")


def load(d, dtype=torch.float32):
    return Wav2Vec2(read_safetensors(d + "/model.safetensors"), json.load(open(d + "/config.json")), dtype).eval()


def main():
    cmd = sys.argv[1]
    if cmd == "run":
        d, B, th = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        dt = torch.bfloat16 if sys.argv[5] == "bfloat16" else torch.float32
        torch.set_num_threads(th)
        x = read_safetensors(d + "/input.safetensors")["input_values"][:B].to(dt)
        m = load(d, dt)
        clock = time.process_time if os.environ.get("AM_BENCH_CLOCK") == "cpu" else time.perf_counter
        with torch.no_grad():
            t0 = clock()
            m(x)
            t1 = clock()
        print("%.1f" % ((t1 - t0) * 1e3))
    elif cmd == "check":
        m = load(sys.argv[2])
        x = read_safetensors(sys.argv[2] + "/input.safetensors")["input_values"][:2]
        with torch.no_grad():
            ref = m(x)
        got = read_safetensors(sys.argv[3])["logits"]
        print("%.3g (max |logit| %.3g)" % ((got - ref).abs().max().item(), ref.abs().max().item()))


if __name__ == "__main__":
    main()
