#!/usr/bin/python3
"""bench/llamacpp_summary.py WORKDIR — the Markdown summary of bench/bench_llamacpp.sh's
WORKDIR/results.jsonl: medians over every repetition of every round; 1 thread on process CPU time
and on wall time, 2 threads on wall time; the bandwidth bound (weight and KV-cache bytes read per decoded token /
the median read bandwidth measured in the same run at that thread count) and the share of it each
engine reaches; issue 15's target ratios, met or not."""
import json
import statistics
import sys

work = sys.argv[1]
rows = [json.loads(l) for l in open(f"{work}/results.jsonl") if l.strip()]
info = json.load(open(f"{work}/llamacpp_info.json"))
ver = open(f"{work}/automodel_version.txt").read().strip()
ver2 = open(f"{work}/automodel_version_avx2.txt").read().strip()

bw, bw_wall, bw_cpu = {}, {}, {}
for r in rows:
    if r["label"] == "bandwidth":
        for th, g in r["read_gbs"].items():
            bw_wall.setdefault(int(th), []).append(g)
        for th, g in r.get("read_gbs_cpu", {}).items():
            bw_cpu.setdefault(int(th), []).append(g)
# the bound's bandwidth: 1 thread in CPU time (as the 1-thread timings), more threads in wall time
bw = {th: (bw_cpu.get(th) if th == 1 and bw_cpu.get(th) else v) for th, v in bw_wall.items()}
runs, meta = {}, {}
for r in rows:
    if r["label"] == "bandwidth":
        continue
    key = (r["label"], r["isa_cap"], r["threads"])
    runs.setdefault(key, []).extend(r["runs"])
    meta[key] = r
threads = sorted({k[2] for k in runs})
med = lambda xs: statistics.median(xs) if xs else float("nan")


def fig(label, cap, th, what, clock):
    rs = runs.get((label, cap, th))
    return med([x[f"{what}_{clock}_ms"] for x in rs]) if rs else float("nan")


def weight_bytes(label):
    for k, r in meta.items():
        if k[0] == label:
            return r["bytes_per_token"]
    return float("nan")


# The KV cache a decode step reads back: keys and values of every layer over the positions so far.
# The measured steps make tokens 2..N, attending over prompt + 1 .. prompt + N - 1 positions: on
# average prompt + N/2. automodel keeps the cache in float32, llama.cpp in float16 (its default).
cfg = json.load(open(f"{work}/gpt2-124M/config.json"))
n_layer, n_embd = cfg.get("n_layer", 12), cfg.get("n_embd", 768)


def kv_bytes(label):
    r = next((r for k, r in meta.items() if k[0] == label), None)
    if r is None:
        return float("nan")
    return 2 * n_layer * n_embd * (r["prompt_len"] + r["new_tokens"] / 2) * (4 if label.startswith("automodel") else 2)


def bytes_of(label, cap="none", th=1):
    return weight_bytes(label) + kv_bytes(label)


rounds = max(r["round"] for r in rows)
reps = len(next(iter(runs.values()))) // rounds if runs else 0
print(f"Rounds: {rounds} (alternating automodel / llama.cpp), {reps} repetitions per run after a warm-up; "
      f"prompt {rows[1]['prompt_len']} ids, {rows[1]['new_tokens']} new tokens, greedy.\n")
print(f"automodel: `{ver.splitlines()[0]}`; {ver.splitlines()[1] if len(ver.splitlines()) > 1 else ''}\n")
print(f"automodel at AM_MAX_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2: {ver2.splitlines()[1] if len(ver2.splitlines()) > 1 else ver2}\n")
print(f"llama.cpp (node-llama-cpp, {info.get('buildType')} binary, llama.cpp release {info.get('llamaCppRelease', {}).get('release')}, gpu {info.get('gpu')}): "
      f"`{info.get('systemInfo', '').strip()}`\n")
for name, d in (("wall time", bw_wall), ("process CPU time per thread", bw_cpu)):
    print(f"Read bandwidth in {name} (bench_bandwidth, every round, start and end): " +
          ", ".join(f"{th} thread{'s' if th > 1 else ''}: median {med(v):.1f} GB/s (min {min(v):.1f}, max {max(v):.1f})" for th, v in sorted(d.items())) + "\n")

cols = [("automodel f32", "automodel f32"), ("llama.cpp f32", "llama.cpp f32"),
        ("automodel 8-bit", "automodel q8"), ("llama.cpp q8_0", "llama.cpp q8_0"), ("llama.cpp q8_0 +f32 head", "llama.cpp q8_0-embf32"),
        ("automodel nf4", "automodel nf4"), ("automodel fp4", "automodel fp4"),
        ("llama.cpp q4_0", "llama.cpp q4_0"), ("llama.cpp q4_0 +f32 head", "llama.cpp q4_0-embf32")]
clocks = [(1, "cpu", "1 thread, process CPU time"), (1, "wall", "1 thread, wall time")] + [(t, "wall", f"{t} threads, wall time") for t in threads if t > 1]


def table(cap, title):
    for th, clock, name in clocks:
        if th not in threads:
            continue
        print(f"**{title}, {name}** (ms; lower is better)\n")
        print("| | " + " | ".join(c for c, _ in cols) + " |")
        print("|---|" + "---|" * len(cols))
        for what, wname in (("decode", "decode, ms per generated token"), ("prefill", "prefill of 128 tokens, ms")):
            vals = []
            for _, label in cols:
                c = cap if label.startswith("automodel") else "none"
                v = fig(label, c, th, what, clock)
                vals.append("–" if v != v else (f"{v:.2f}" if what == "decode" else f"{v:.1f}"))
            print(f"| {wname} | " + " | ".join(vals) + " |")
        print()


table("none", "Native ISA")
if any(k[1] == "avx2" for k in runs):
    table("avx2", "automodel capped at AVX2 (llama.cpp columns: the same native runs)")

print("**Bandwidth bound** (bytes read per decoded token ÷ read bandwidth at that thread count; the bytes are "
      "the weights plus the KV cache read back at the average position of the measured steps; "
      "1 thread: CPU-time bandwidth against the CPU-time decode; 2 threads: wall against wall)\n")
print("| engine | ISA cap | weights + KV cache = bytes/token | " + " | ".join(f"{t} thr bound ms | {t} thr decode ms | {t} thr % of bound" for t in threads) + " |")
print("|---|---|---|" + "---|---|---|" * len(threads))
for label, cap in sorted({(k[0], k[1]) for k in runs}):
    b = bytes_of(label)
    cells = []
    for t in threads:
        d = fig(label, cap, t, "decode", "cpu" if t == 1 else "wall")
        bound = b / (med(bw.get(t, [])) * 1e9) * 1e3
        cells += [f"{bound:.2f}", f"{d:.2f}", f"{100 * bound / d:.0f}%"]
    print(f"| {label} | {cap} | {weight_bytes(label) / 1e6:.0f} + {kv_bytes(label) / 1e6:.1f} = {b / 1e6:.0f} MB | " + " | ".join(cells) + " |")
print()

print("**Issue 15 targets** (ratio = llama.cpp ms / automodel ms, i.e. automodel's speed relative to llama.cpp's)\n")
print("| ISA cap | threads (clock) | target | automodel | llama.cpp | ratio | needed | met |")
print("|---|---|---|---|---|---|---|---|")
for cap in sorted({k[1] for k in runs}):
    for th, clock, name in clocks:
        if th not in threads or (th == 1 and clock == "wall"):
            continue
        tgt = [("8-bit decode ≥ 1.1× q8_0 tok/s", "automodel q8", "llama.cpp q8_0", "decode", 1.1),
               ("8-bit decode vs q8_0 +f32 head", "automodel q8", "llama.cpp q8_0-embf32", "decode", 1.1),
               ("4-bit (nf4) decode ≥ q4_0", "automodel nf4", "llama.cpp q4_0", "decode", 1.0),
               ("4-bit (fp4) decode ≥ q4_0", "automodel fp4", "llama.cpp q4_0", "decode", 1.0),
               ("4-bit (nf4) decode vs q4_0 +f32 head", "automodel nf4", "llama.cpp q4_0-embf32", "decode", 1.0),
               ("8-bit prefill ≥ q8_0", "automodel q8", "llama.cpp q8_0", "prefill", 1.0)]
        for name_t, a, l, what, need in tgt:
            av, lv = fig(a, cap, th, what, clock), fig(l, "none", th, what, clock)
            if av != av or lv != lv:
                continue
            ratio = lv / av
            print(f"| {cap} | {th} ({clock}) | {name_t} | {av:.2f} | {lv:.2f} | {ratio:.2f}× | {need:.2f}× | {'met' if ratio >= need else 'not met'} |")
        for a in ("automodel q8", "automodel nf4", "automodel fp4", "automodel f32"):
            d = fig(a, cap, th, "decode", clock)
            if d != d:
                continue
            bound = bytes_of(a) / (med(bw.get(th, [])) * 1e9) * 1e3
            print(f"| {cap} | {th} ({clock}) | {a[10:]} decode ≥ 85% of bound | {d:.2f} | – | {100 * bound / d:.0f}% | 85% | {'met' if bound / d >= 0.85 else 'not met'} |")
