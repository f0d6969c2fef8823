#!/usr/bin/python3
"""bench/bench_python.py — the Python binding's overhead per forward against the C API, on
models/sms-spam-bert with one fixed input (the tokenized 'WINNER! Claim your prize').

Alternating rounds (C, Python, C, Python, ...), each RUNS forward calls after a warm-up, one
thread for both (AM_NUM_THREADS=1): the C round is build/bench/bench_pyoverhead (am_model_forward
on prebuilt tensors); the Python round is model(input_ids=array) (numpy -> am_tensors, the call
with the GIL released, outputs copied back to numpy, ModelOutput), plus the bare ctypes call of
am_model_forward on prebuilt am_tensors (the floor of any ctypes binding). Per-call microseconds in
process CPU time (fair on a shared machine) and wall time; medians over rounds.

    AM_NUM_THREADS=1 /usr/bin/python3 bench/bench_python.py [ROUNDS] [RUNS]
"""
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("AM_NUM_THREADS", "1")
os.environ.setdefault("AUTOMODEL_LIBRARY", os.path.join(ROOT, "build", "libautomodel.so"))
sys.path.insert(0, os.path.join(ROOT, "python"))
import numpy as np  # noqa: E402

import automodel  # noqa: E402
from automodel._lib import lib  # noqa: E402
from automodel._tensors import CTensors  # noqa: E402

MODEL = os.path.join(ROOT, "models", "sms-spam-bert")
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 2000


def timed(fn, runs):
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.process_time() - c0) / runs * 1e6, (time.perf_counter() - w0) / runs * 1e6


def main():
    tok = automodel.AutoTokenizer.from_pretrained(MODEL)
    model = automodel.AutoModelForSequenceClassification.from_pretrained(MODEL)
    ids = tok("WINNER! Claim your prize", return_tensors="np")["input_ids"]
    pre = CTensors({"input_ids": ids})
    opts = lib.am_forward_options_default()

    def bare():
        lib.am_tensors_free(lib.am_model_forward(model._ptr, pre.ptr, ctypes.byref(opts)))

    def full():
        return model(input_ids=ids).logits

    for _ in range(20):
        full()
        bare()
    cbin = os.path.join(ROOT, "build", "bench", "bench_pyoverhead")
    rows = {"c": [], "py": [], "bare": []}
    for _ in range(ROUNDS):
        out = subprocess.run([cbin, MODEL, str(RUNS)] + [str(i) for i in ids[0]], capture_output=True, text=True,
                             check=True).stdout.split()
        rows["c"].append((float(out[0]), float(out[1])))
        rows["py"].append(timed(full, RUNS))
        rows["bare"].append(timed(bare, RUNS))
    med = {k: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v)) for k, v in rows.items()}
    isa = json.loads(lib.am_cpu_report_json().decode())
    print(f"input: {ids.shape[1]} tokens; rounds {ROUNDS} x {RUNS} calls; AM_NUM_THREADS={os.environ['AM_NUM_THREADS']}")
    print(f"isa: {isa.get('isa')}  (cpu_features {', '.join(isa.get('cpu_features', []))})")
    print("| per forward | CPU time (us) | wall (us) |")
    print("|---|---|---|")
    print(f"| C API (am_model_forward, prebuilt tensors) | {med['c'][0]:.1f} | {med['c'][1]:.1f} |")
    print(f"| Python bare ctypes call (prebuilt tensors) | {med['bare'][0]:.1f} | {med['bare'][1]:.1f} |")
    print(f"| Python model(input_ids=array).logits | {med['py'][0]:.1f} | {med['py'][1]:.1f} |")
    print(f"| overhead of model(...) over C | {med['py'][0] - med['c'][0]:.1f} | {med['py'][1] - med['c'][1]:.1f} |")
    print("all rounds (cpu_us, wall_us):", json.dumps({k: [[round(a, 1), round(b, 1)] for a, b in v] for k, v in rows.items()}))


if __name__ == "__main__":
    main()
