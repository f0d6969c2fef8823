"""Errors raised as transformers raises them, with the C library's message; refused options."""
import os

import pytest

import automodel
from conftest import FIXTURES

BERT = os.path.join(FIXTURES, "models", "bert_seqcls")


def test_missing_folder_is_oserror(tmp_path):
    with pytest.raises(OSError, match="config.json"):
        automodel.AutoModel.from_pretrained(str(tmp_path))


def test_bad_repo_id_is_oserror():
    with pytest.raises(OSError):
        automodel.AutoModel.from_pretrained("not a/valid//id", local_files_only=True)


def test_offline_missing_is_oserror(tmp_path):
    with pytest.raises(OSError):
        automodel.AutoModel.from_pretrained("someone/not-cached", local_files_only=True, cache_dir=str(tmp_path))


def test_unknown_kwarg_is_typeerror():
    with pytest.raises(TypeError, match="not_a_kwarg"):
        automodel.AutoModelForSequenceClassification.from_pretrained(BERT, not_a_kwarg=1)


def test_config_attribute_kwarg_updates_config():
    m = automodel.AutoModelForSequenceClassification.from_pretrained(BERT, hidden_dropout_prob=0.3)
    assert m.config.hidden_dropout_prob == 0.3


def test_bad_dtype_and_attn_are_valueerror():
    with pytest.raises(ValueError):
        automodel.AutoModel.from_pretrained(BERT, torch_dtype="float7")
    with pytest.raises(ValueError, match="attn_implementation"):
        automodel.AutoModel.from_pretrained(BERT, attn_implementation="magic")


def test_options_without_c_field_are_refused():
    fields = {f for f, _ in automodel._lib.LoadOptions._fields_}
    for key, (field, _, default) in automodel.LOAD_OPTIONS.items():
        if field in fields:
            continue
        value = {"max_memory": {"cpu": "1GB"}, "quantization_config": {"load_in_8bit": True},
                 "offload_folder": "/tmp/x"}.get(key, True)
        with pytest.raises(NotImplementedError, match=key):
            automodel.AutoModel.from_pretrained(BERT, **{key: value})
        automodel.AutoModel.from_pretrained(BERT, **{key: default})  # transformers' default is accepted


def test_device_map_cpu_only():
    automodel.AutoModel.from_pretrained(BERT, device_map="cpu")
    with pytest.raises(ValueError):
        automodel.AutoModel.from_pretrained(BERT, device_map="cuda:0")


def test_num_labels_and_mismatch():
    with pytest.raises(RuntimeError, match="size mismatch"):
        automodel.AutoModelForSequenceClassification.from_pretrained(BERT, num_labels=7)
    m = automodel.AutoModelForSequenceClassification.from_pretrained(BERT, num_labels=7, ignore_mismatched_sizes=True)
    assert m.config.num_labels == 7


def test_forward_unknown_input_is_valueerror():
    m = automodel.AutoModel.from_pretrained(BERT)
    with pytest.raises(ValueError):
        m(input_ids=[[1, 2, 3]], wrong_input=[[1]])


def test_generate_unknown_kwarg():
    m = automodel.AutoModelForCausalLM.from_pretrained(os.path.join(FIXTURES, "models", "gpt2_lm"))
    with pytest.raises(ValueError, match="not_an_arg"):
        m.generate(input_ids=[[1, 2]], not_an_arg=3)


def test_hub_errors_are_oserror_subclasses():
    for cls in (automodel.RepositoryNotFoundError, automodel.EntryNotFoundError, automodel.RevisionNotFoundError,
                automodel.GatedRepoError):
        assert issubclass(cls, OSError)
    e = automodel.errors.from_status(3, "x does not appear to have a file named y.")
    assert isinstance(e, automodel.EntryNotFoundError)


def test_autoconfig():
    cfg = automodel.AutoConfig.from_pretrained(BERT)
    assert cfg.model_type == "bert" and cfg.hidden_size == 32
    cfg2, unused = automodel.AutoConfig.from_pretrained(BERT, hidden_act="relu", foo=1, return_unused_kwargs=True)
    assert cfg2.hidden_act == "relu" and unused == {"foo": 1}
    with pytest.raises(AttributeError):
        cfg.no_such_attribute
    m = automodel.AutoModelForSequenceClassification.from_pretrained(BERT, config=cfg2)
    assert m.config.hidden_act == "relu"
    assert "BertConfig" in repr(cfg) and cfg.to_dict()["hidden_size"] == 32
    assert cfg.to_dict()["output_hidden_states"] is False  # a generic default is in to_dict


def test_context_managers_free_the_c_objects():
    with automodel.AutoModel.from_pretrained(BERT) as m:
        assert m.num_parameters() > 0
    with pytest.raises(ValueError, match="closed"):
        m.num_parameters()
    with automodel.AutoTokenizer.from_pretrained(os.path.join(FIXTURES, "pipelines", "vocab99")) as t:
        assert t("the cat")["input_ids"]
    with pytest.raises(ValueError, match="closed"):
        t("the cat")


def test_quantization_and_offload_reach_the_library(tmp_path):
    """load_in_8bit / load_in_4bit / quantization_config / device_map / max_memory / offload_folder go
    to the C loader's fields: quantized modules print as bitsandbytes' classes, offloading plans an
    hf_device_map, and the outputs stay close to (quantized) or equal to (offloaded) float32."""
    import numpy as np
    ids = np.array([[2, 7, 8, 9, 3]], dtype=np.int64)
    ref = automodel.AutoModelForSequenceClassification.from_pretrained(BERT)
    want = ref(input_ids=ids).logits
    q8 = automodel.AutoModelForSequenceClassification.from_pretrained(BERT, load_in_8bit=True)
    assert "Linear8bitLt" in repr(q8) and q8.is_loaded_in_8bit and not ref.is_loaded_in_8bit
    # torch_dtype=None with load_in_8bit: float16 for the rest, as transformers 4.32; explicit float32 kept
    assert q8.dtype == "float16" and ref.dtype == "float32"
    assert automodel.AutoModelForSequenceClassification.from_pretrained(BERT, load_in_8bit=True, torch_dtype="float32").dtype == "float32"
    assert any(k.endswith(".SCB") for k in q8.state_dict())
    assert np.abs(q8(input_ids=ids).logits - want).max() < 0.05
    q4 = automodel.AutoModelForSequenceClassification.from_pretrained(
        BERT, quantization_config={"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"})
    assert "Linear4bit" in repr(q4) and q4.is_loaded_in_4bit
    off = automodel.AutoModelForSequenceClassification.from_pretrained(
        BERT, device_map="auto", max_memory={"cpu": "1KB"}, offload_folder=str(tmp_path))
    assert "disk" in off.hf_device_map.values()
    assert np.array_equal(off(input_ids=ids).logits, want)
    with pytest.raises(ValueError, match="GPU"):
        automodel.AutoModel.from_pretrained(BERT, device_map="cuda:0")
