"""pipeline() through am_pipeline_call: every run of tests/fixtures/pipelines_media (transformers'
results), the demo models' reference accuracies and outputs (models/*/reference.json), and the
text pipelines on the tiny fixture models."""
import glob
import json
import os

import numpy as np
import pytest

import automodel
from automodel import pipeline
from conftest import FIXTURES, MODELS

MEDIA_CASES = sorted(glob.glob(os.path.join(FIXTURES, "pipelines_media", "*", "case.json")))


def _same(got, want, path="result"):
    """Python's result vs ours: same structure, strings and ints exact, score within 1e-4."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{path}: keys {got} vs {want}"
        for k in want:
            if k == "mask":
                assert isinstance(got[k], str) and os.path.exists(got[k]), f"{path}.mask: {got[k]}"
                continue
            _same(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: {len(got)} items, want {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            _same(g, w, f"{path}[{i}]")
    elif isinstance(want, float):
        assert abs(got - want) <= 1e-4, f"{path}: {got} vs {want}"
    else:
        assert got == want, f"{path}: {got!r} vs {want!r}"


@pytest.mark.parametrize("case_file", MEDIA_CASES, ids=[os.path.basename(os.path.dirname(c)) for c in MEDIA_CASES])
def test_media_case(case_file, tmp_path):
    case = json.load(open(case_file))
    pipe = pipeline(case["task"], model=os.path.dirname(case_file), output_dir=str(tmp_path))
    for run in case["runs"]:
        ins = run["inputs"]
        ins = [os.path.join(FIXTURES, x) for x in ins] if isinstance(ins, list) else os.path.join(FIXTURES, ins)
        if "raises" in run:
            with pytest.raises(Exception):
                pipe(ins, **run["call_kwargs"])
            continue
        _same(pipe(ins, **run["call_kwargs"]), run["result"], f"{case['task']}/{run['name']}")


def _sms():
    d = os.path.join(MODELS, "sms-spam-bert")
    rows = [line.rstrip("\n").split("\t", 1) for line in open(os.path.join(d, "test.tsv"), encoding="utf-8")]
    return d, rows, json.load(open(os.path.join(d, "reference.json")))


def test_sms_spam_bert_accuracy():
    d, rows, ref = _sms()
    clf = pipeline("text-classification", model=d)
    res = clf([t for _, t in rows])
    pred = [r["label"] for r in res]
    wrong = [i + 1 for i, ((lab, _), p) in enumerate(zip(rows, pred)) if lab != p]
    assert wrong == ref["misclassified_lines"]
    assert sum(lab == p for (lab, _), p in zip(rows, pred)) / len(rows) == ref["test_accuracy"]
    assert clf.model.config.id2label == {0: "ham", 1: "spam"}
    one = clf("WINNER! Claim your prize")
    assert isinstance(one, list) and one[0]["label"] == "spam" and 0.99 < one[0]["score"] <= 1
    top = clf("WINNER! Claim your prize", top_k=None)
    assert [x["label"] for x in top] == ["spam", "ham"] and abs(sum(x["score"] for x in top) - 1) < 1e-6


def test_sms_spam_bert_logits_through_automodel():
    d, _, ref = _sms()
    tok = automodel.AutoTokenizer.from_pretrained(d)
    model = automodel.AutoModelForSequenceClassification.from_pretrained(d)
    by_len = {}
    for ex in ref["examples"] + ref["hand_written"]:
        enc = tok(ex["text"], truncation=True, max_length=64, return_tensors="np")
        assert enc["input_ids"][0].tolist() == ex["input_ids"]
        by_len.setdefault(len(ex["input_ids"]), []).append(ex)
    for n, exs in by_len.items():  # one forward per length: the reference ran them one by one, unpadded
        logits = model(input_ids=np.array([ex["input_ids"] for ex in exs])).logits
        for ex, lg in zip(exs, logits):
            np.testing.assert_allclose(lg, ex["logits"], atol=1e-4, rtol=1e-4)
            if "predicted" in ex:
                assert model.config.id2label[int(np.argmax(lg))] == ex["predicted"]


def test_digits_vit_accuracy():
    d = os.path.join(MODELS, "digits-vit")
    ref = json.load(open(os.path.join(d, "reference.json")))
    rows = [line.rstrip("\n").split("\t") for line in open(os.path.join(d, "test", "test.tsv"))]
    clf = pipeline("image-classification", model=d)
    res = clf([os.path.join(d, "test", f) for _, f in rows])
    wrong = sorted(f for (lab, f), r in zip(rows, res) if r[0]["label"] != lab)
    assert wrong == sorted(ref["misclassified_files"])
    assert len(rows) - len(wrong) == ref["correct"]
    by_file = {x["file"]: x for x in ref["named_top5"]}
    for (lab, f), r in zip(rows, res):
        if f in by_file:
            _same(r, by_file[f]["top5"])


def test_shakespeare_gpt2_greedy():
    d = os.path.join(MODELS, "shakespeare-gpt2")
    ref = json.load(open(os.path.join(d, "reference.json")))
    tok = automodel.AutoTokenizer.from_pretrained(d)
    model = automodel.AutoModelForCausalLM.from_pretrained(d)
    for p in ref["prompts"]:
        enc = tok(p["prompt"], return_tensors="np")
        assert enc["input_ids"][0].tolist() == p["prompt_ids"]
        out = model.generate(**enc, do_sample=False, num_beams=1, max_new_tokens=40, pad_token_id=0)
        new = out[0, len(p["prompt_ids"]):].tolist()
        k = p.get("stable_new_tokens", len(p["greedy_new_ids"]))
        assert new[:k] == p["greedy_new_ids"][:k]
        if k == len(p["greedy_new_ids"]):
            assert tok.decode(new, clean_up_tokenization_spaces=False) == p["greedy_text"]
    lp = ref["last_prompt_logits"]
    logits = model(input_ids=np.array([lp["prompt_ids"]])).logits[0, -1]
    for t in lp["top10"]:
        assert abs(logits[t["id"]] - t["logit"]) <= 1e-4 + 1e-4 * abs(t["logit"])


VOCAB99 = os.path.join(FIXTURES, "pipelines", "vocab99")


def _tiny(name):
    return os.path.join(FIXTURES, "models", name)


def test_text_pipelines_on_tiny_models():
    tok = automodel.AutoTokenizer.from_pretrained(VOCAB99)
    # fill-mask: the best token is the argmax of the model's logits at the mask
    fm = pipeline("fill-mask", model=_tiny("bert_mlm"), tokenizer=VOCAB99)
    text = "the cat [MASK] on the mat"
    res = fm(text, top_k=3)
    assert len(res) == 3 and set(res[0]) == {"score", "token", "token_str", "sequence"}
    m = automodel.AutoModelForMaskedLM.from_pretrained(_tiny("bert_mlm"))
    enc = tok(text, return_tensors="np")
    pos = enc["input_ids"][0].tolist().index(tok.convert_tokens_to_ids("[MASK]"))
    assert res[0]["token"] == int(np.argmax(m(**enc).logits[0, pos]))
    # question answering: the answer is the context's text at its offsets
    qa = pipeline("question-answering", model=_tiny("bert_qa"), tokenizer=VOCAB99)
    ctx = "the cat sat on the mat and the dog ran"
    a = qa(question="where is the cat", context=ctx)
    assert set(a) == {"score", "start", "end", "answer"} and ctx[a["start"]:a["end"]] == a["answer"]
    b = qa({"question": "where is the cat", "context": ctx})
    assert b == a
    # token classification: entities with character offsets into the text
    ner = pipeline("ner", model=_tiny("bert_tokcls"), tokenizer=VOCAB99, ignore_labels=[])
    ents = ner("the cat sat on the mat")
    assert ents and all(set(e) >= {"entity", "score", "index", "word", "start", "end"} for e in ents)
    grouped = ner("the cat sat on the mat", aggregation_strategy="simple")
    assert all("entity_group" in e for e in grouped)
    # text classification of the tiny model: softmax of the model's logits
    tc = pipeline("sentiment-analysis", model=_tiny("bert_seqcls"), tokenizer=VOCAB99)
    r = tc("the cat sat", top_k=None)
    enc = tok("the cat sat", return_tensors="np")
    lg = automodel.AutoModelForSequenceClassification.from_pretrained(_tiny("bert_seqcls"))(**enc).logits[0]
    p = np.exp(lg - lg.max())
    p /= p.sum()
    assert abs(max(x["score"] for x in r) - p.max()) < 1e-5


def test_pipeline_refusals():
    with pytest.raises(ValueError):
        pipeline("text-classification")
    with pytest.raises(ValueError):
        pipeline("no-such-task", model=_tiny("bert_seqcls"))
    with pytest.raises(TypeError, match="nope"):
        pipeline("text-classification", model=os.path.join(MODELS, "sms-spam-bert"), nope=1)
    clf = pipeline("text-classification", model=os.path.join(MODELS, "sms-spam-bert"))
    with pytest.raises(ValueError, match="aggregation_strategy"):
        clf("hi", aggregation_strategy="simple")
    with pytest.raises(ValueError):
        clf("")
