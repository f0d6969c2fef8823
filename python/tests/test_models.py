"""Every public model fixture (tests/fixtures/models, the cases tests/models.cmake runs in C)
through the Python API: outputs within the case's tolerances, generation, stats, repr, config,
loading report, training flags, save round trip."""
import json
import os
import re

import numpy as np
import pytest

import automodel
from conftest import FIXTURES, ROOT, read_safetensors


def _cases():
    text = open(os.path.join(ROOT, "tests", "models.cmake")).read()
    m = re.search(r"set\(AM_MODEL_CASES([^)]*)\)", text)
    return m.group(1).split()


CASES = _cases()


def _load(case, **extra):
    d = os.path.join(FIXTURES, "models", case)
    ej = json.load(open(os.path.join(d, "expected.json")))
    cls = getattr(automodel, ej["auto_class"])
    kwargs = dict(ej["load"]["kwargs"])
    kwargs.update(extra)
    cwd = os.getcwd()
    os.chdir(os.path.join(FIXTURES, "models"))  # the fixture loaded the case by name: _name_or_path, log
    try:
        model, info = cls.from_pretrained(case, output_loading_info=True, **kwargs)
    finally:
        os.chdir(cwd)
    return d, ej, model, info, read_safetensors(os.path.join(d, "expected.safetensors"))


def _close(got, want, atol, rtol, what):
    assert got is not None, f"{what}: missing"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, want {want.shape}"
    bad = ~(np.abs(got.astype(np.float64) - want) <= atol + rtol * np.abs(want))
    assert not bad.any(), f"{what}: {bad.sum()} elements off, max diff {np.abs(got - want).max()}"


def _check_outputs(ej, exp, out, what):
    for name, spec in ej["outputs"].items():
        short = name[4:]
        if short == "hidden_states.last":
            got = out.hidden_states[-1]
        elif re.fullmatch(r"(\w+)\.(\d+)", short):
            base, i = short.rsplit(".", 1)
            got = out[base][int(i)]
        else:
            got = out[short]
        want = exp[name]
        if spec["role"] == "random_init":
            assert got.size == want.size
            continue
        _close(got, want, spec["atol"], spec["rtol"], f"{what} {short}")


@pytest.mark.parametrize("case", CASES)
def test_case(case, tmp_path):
    d, ej, model, info, exp = _load(case)
    assert repr(model) + "\n" == open(os.path.join(d, "repr.txt")).read()
    assert repr(model.config) + "\n" == open(os.path.join(d, "config_repr.txt")).read()
    inputs = {k[3:]: v for k, v in exp.items() if k.startswith("in.")}
    out = model(**inputs, output_hidden_states=True)
    assert isinstance(out, automodel.ModelOutput)
    for n in ej["outputs"]:
        if "." not in n[4:]:
            assert out[n[4:]] is getattr(out, n[4:])  # key and attribute access
    _check_outputs(ej, exp, out, case)
    # stats
    st = ej["stats"]
    assert model.num_parameters() == st["num_parameters"]
    assert model.num_parameters(only_trainable=True) == st["num_parameters_only_trainable"]
    assert model.num_parameters(exclude_embeddings=True) == st["num_parameters_exclude_embeddings"]
    assert model.get_memory_footprint() == st["memory_footprint"]
    assert model.get_memory_footprint(return_buffers=False) == st["memory_footprint_no_buffers"]
    assert model.dtype == st["dtype"]
    # training flags
    assert model.training is False
    assert model.train() is model and model.training is True
    model.eval()
    assert model.training is False
    # state dict names / shapes in order
    sd = model.state_dict()
    assert [k for k in sd] == [e["name"] if isinstance(e, dict) else e[0] for e in ej["loaded_state_dict"]]
    # loading report
    li = ej["loading_info"]
    assert info["missing_keys"] == sorted(li["missing_keys"])
    assert info["unexpected_keys"] == sorted(li["unexpected_keys"])
    assert [(k, list(a), list(b)) for k, a, b in info["mismatched_keys"]] == [(k, list(a), list(b)) for k, a, b in li["mismatched_keys"]]
    # config access
    cfg = model.config
    assert cfg.model_type == ej["model_type"]
    lc = ej["loaded_config"]
    if "num_labels" in lc:
        assert cfg.num_labels == lc["num_labels"]
    if lc.get("id2label"):
        assert cfg.id2label == {int(k): v for k, v in lc["id2label"].items()}
    dd = cfg.to_dict()
    assert dd["model_type"] == ej["model_type"] and "architectures" in dd
    for k, v in ej["config_json"].items():
        if k not in ("transformers_version", "_name_or_path", "torch_dtype", "architectures", "id2label",
                     "label2id", "num_labels"):
            assert dd[k] == v, k
    # generation
    for run in ej["generation"]:
        gin = {kw: exp[t] for t, kw in run["inputs"].items()}
        res = model.generate(**gin, **run["call"], output_scores=True, return_dict_in_generate=True)
        name = run["name"]
        np.testing.assert_array_equal(res.sequences, exp[f"{name}.sequences"], err_msg=f"{case} {name}")
        if f"{name}.scores" in exp:
            want = exp[f"{name}.scores"]
            got = np.stack(res.scores)
            fin = np.isfinite(want)
            assert (got[~fin] == want[~fin]).all()
            _close(got[fin], want[fin], 1e-4, 1e-4, f"{case} {name} scores")
        if f"{name}.sequences_scores" in exp:
            _close(res.sequences_scores, exp[f"{name}.sequences_scores"], 1e-4, 1e-4, f"{case} {name} sequences_scores")
        seq = model.generate(**gin, **run["call"])
        np.testing.assert_array_equal(seq, exp[f"{name}.sequences"])
    # save round trip: the reloaded model gives the same outputs
    rt = ej.get("save_roundtrip") or {}
    model.save_pretrained(tmp_path, **rt.get("save_kwargs", {}))
    if rt.get("files"):
        assert sorted(os.listdir(tmp_path)) == sorted(f["name"] for f in rt["files"])
        want_cfg = rt["config_json"]
        got_cfg = json.load(open(tmp_path / "config.json"))
        assert {k: v for k, v in got_cfg.items() if k != "_name_or_path"} == \
            {k: v for k, v in want_cfg.items() if k != "_name_or_path"}
    again = getattr(automodel, ej["auto_class"]).from_pretrained(str(tmp_path))
    out2 = again(**inputs, output_hidden_states=True)
    for k in out:
        if isinstance(out[k], np.ndarray) and out[k].dtype.kind == "f":
            np.testing.assert_array_equal(out2[k], out[k])


def test_bf16_load_and_to_dtype():
    d = os.path.join(FIXTURES, "models", "bert_seqcls")
    m = automodel.AutoModelForSequenceClassification.from_pretrained(d, torch_dtype="bfloat16")
    assert m.dtype == "bfloat16"
    exp = read_safetensors(os.path.join(d, "expected.safetensors"))
    out = m(**{k[3:]: v for k, v in exp.items() if k.startswith("in.")})
    assert out.logits.dtype == np.float32 and out.logits.shape == exp["out.logits"].shape
    m.to("float32")
    assert m.dtype == "float32"


def test_return_dict_false_and_tuple_index():
    d = os.path.join(FIXTURES, "models", "bert_seqcls")
    m = automodel.AutoModelForSequenceClassification.from_pretrained(d)
    exp = read_safetensors(os.path.join(d, "expected.safetensors"))
    inputs = {k[3:]: v for k, v in exp.items() if k.startswith("in.")}
    out = m(**inputs)
    t = m(**inputs, return_dict=False)
    assert isinstance(t, tuple)
    np.testing.assert_array_equal(t[0], out["logits"])
    np.testing.assert_array_equal(out[0], out.logits)


def test_from_config_and_set_seed():
    cfg = automodel.AutoConfig.from_pretrained(os.path.join(FIXTURES, "models", "bert_seqcls"))
    automodel.set_seed(3)
    a = automodel.AutoModelForSequenceClassification.from_config(cfg)
    automodel.set_seed(3)
    b = automodel.AutoModelForSequenceClassification.from_config(cfg)
    assert a.training is True  # from_config leaves the model in training mode, as transformers
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb) and all(np.array_equal(sa[k], sb[k]) for k in sa)


def test_config_flags_drive_forward():
    d = os.path.join(FIXTURES, "models", "bert_seqcls")
    m = automodel.AutoModelForSequenceClassification.from_pretrained(d)
    exp = read_safetensors(os.path.join(d, "expected.safetensors"))
    inputs = {k[3:]: v for k, v in exp.items() if k.startswith("in.")}
    assert m(**inputs).hidden_states is None
    m.config.output_hidden_states = True
    assert len(m(**inputs).hidden_states) == m.config.num_hidden_layers + 1
    m.config.return_dict = False
    assert isinstance(m(**inputs), tuple)


@pytest.mark.parametrize("case", [c for c in CASES if json.load(open(os.path.join(FIXTURES, "models", c,
                                                                                      "expected.json"))).get("alt_loads")])
def test_alt_loads(case):
    """expected.json alt_loads: other from_pretrained keywords on the same folder (torch_dtype='auto',
    use_safetensors=False), their stats and outputs."""
    d = os.path.join(FIXTURES, "models", case)
    ej = json.load(open(os.path.join(d, "expected.json")))
    exp = read_safetensors(os.path.join(d, "expected.safetensors"))
    inputs = {k[3:]: v for k, v in exp.items() if k.startswith("in.")}
    for alt in ej["alt_loads"]:
        m = getattr(automodel, ej["auto_class"]).from_pretrained(d, **alt["kwargs"])
        st = alt["stats"]
        assert m.num_parameters() == st["num_parameters"]
        assert m.get_memory_footprint() == st["memory_footprint"]
        assert m.dtype == st["dtype"]
        if alt.get("output_tensors"):
            out = m(**inputs)
            for full in alt["output_tensors"]:
                name = full.split(".", 1)[1]
                spec = ej["outputs"].get(full, {})
                atol, rtol = spec.get("atol", 1e-4), spec.get("rtol", 1e-4)
                if m.dtype == "bfloat16":  # fixtures README: auto.logits computed in bf16, atol 0.15 rtol 0.05
                    atol, rtol = 0.15, 0.05
                _close(out[name], exp[full], atol, rtol, f"{case} {full}")


@pytest.mark.parametrize("attn", ["eager", "flash_attention_2"])
@pytest.mark.parametrize("case", ["bert_seqcls", "gpt2_lm", "t5_cg"])
def test_attn_implementations(case, attn):
    """The same fixture outputs under each attn_implementation; eager with output_attentions gives
    one [batch, heads, q, k] probability tensor per layer, rows summing to 1."""
    d = os.path.join(FIXTURES, "models", case)
    ej = json.load(open(os.path.join(d, "expected.json")))
    exp = read_safetensors(os.path.join(d, "expected.safetensors"))
    m = getattr(automodel, ej["auto_class"]).from_pretrained(d, attn_implementation=attn)
    assert m.attn_implementation == attn
    inputs = {k[3:]: v for k, v in exp.items() if k.startswith("in.")}
    out = m(**inputs, output_hidden_states=True, output_attentions=(attn == "eager"))
    _check_outputs(ej, exp, out, f"{case}/{attn}")
    if attn == "eager":
        att = out.attentions if out.attentions is not None else out.encoder_attentions
        assert att is not None and len(att) >= 1 and att[0].ndim == 4
        np.testing.assert_allclose(att[0].sum(-1)[..., :1], 1.0, atol=1e-5)
