"""One model shared by several Python threads: every result identical to the single-threaded one
(ctypes releases the GIL around each C call, and the C library keeps per-call state per call)."""
import os
import threading

import numpy as np

import automodel
from conftest import FIXTURES, MODELS, read_safetensors


def _run_threads(fn, n=4, iters=3):
    results, errors = {}, []

    def work(k):
        try:
            results[k] = [fn() for _ in range(iters)]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    return [r for k in sorted(results) for r in results[k]]


def test_forward_and_generate_shared_model():
    d = os.path.join(FIXTURES, "models", "gpt2_lm")
    exp = read_safetensors(os.path.join(d, "expected.safetensors"))
    model = automodel.AutoModelForCausalLM.from_pretrained(d)
    inputs = {k[3:]: v for k, v in exp.items() if k.startswith("in.")}
    ref_logits = model(**inputs).logits
    gin = {"input_ids": exp["gen.input_ids"], "attention_mask": exp["gen.attention_mask"]}
    ref_seq = model.generate(**gin, max_new_tokens=12, do_sample=False)
    ref_beam = model.generate(**gin, max_new_tokens=8, num_beams=3)
    ref_sample = model.generate(**gin, max_new_tokens=8, do_sample=True, seed=7)

    def one():
        return (model(**inputs).logits, model.generate(**gin, max_new_tokens=12, do_sample=False),
                model.generate(**gin, max_new_tokens=8, num_beams=3),
                model.generate(**gin, max_new_tokens=8, do_sample=True, seed=7))

    for logits, seq, beam, sample in _run_threads(one):
        np.testing.assert_array_equal(logits, ref_logits)
        np.testing.assert_array_equal(seq, ref_seq)
        np.testing.assert_array_equal(beam, ref_beam)
        np.testing.assert_array_equal(sample, ref_sample)


def test_tokenizer_and_classifier_threads():
    d = os.path.join(MODELS, "sms-spam-bert")
    tok = automodel.AutoTokenizer.from_pretrained(d)
    model = automodel.AutoModelForSequenceClassification.from_pretrained(d)
    texts = [line.split("\t", 1)[1].rstrip("\n") for line in open(os.path.join(d, "test.tsv"), encoding="utf-8")][:40]

    def one():
        enc = tok(texts, padding=True, truncation=True, max_length=64, return_tensors="np")
        return model(**enc).logits

    ref = one()
    for r in _run_threads(one):
        np.testing.assert_array_equal(r, ref)
