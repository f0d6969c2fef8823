"""push_to_hub and from_pretrained(repo id) against `automodel hub serve` on loopback."""
import os
import subprocess
import time

import numpy as np
import pytest

import automodel
from conftest import FIXTURES, ROOT, read_safetensors

TOKEN = "hf_python_alice_write_0123456789"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    cli = os.environ.get("AM_CLI") or os.path.join(ROOT, "build", "automodel")
    (tmp_path / "tokens").write_text(f"{TOKEN} alice write\n")
    os.chmod(tmp_path / "tokens", 0o600)
    port_file = tmp_path / "port"
    srv = subprocess.Popen([cli, "hub", "serve", str(tmp_path / "root"), "--port", "0", "--tokens",
                            str(tmp_path / "tokens"), "--port-file", str(port_file)], stderr=subprocess.DEVNULL)
    for _ in range(200):
        if port_file.exists() and port_file.read_text().strip():
            break
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port_file.read_text().strip()}"
    for v in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AM_HUB_RETRY_TIMEOUT", "2")
    yield url
    srv.terminate()
    srv.wait()


def test_push_and_load_back(hub, tmp_path):
    d = os.path.join(FIXTURES, "models", "bert_seqcls")
    exp = read_safetensors(os.path.join(d, "expected.safetensors"))
    inputs = {k[3:]: v for k, v in exp.items() if k.startswith("in.")}
    m = automodel.AutoModelForSequenceClassification.from_pretrained(d)
    commit = m.push_to_hub("alice/tiny-bert", commit_message="first", private=True, token=TOKEN,
                           safe_serialization=True)
    assert isinstance(commit, str) and len(commit) == 40
    with pytest.raises(OSError):
        automodel.AutoModelForSequenceClassification.from_pretrained("alice/tiny-bert")  # private, no token
    back = automodel.AutoModelForSequenceClassification.from_pretrained("alice/tiny-bert", token=TOKEN,
                                                                        cache_dir=str(tmp_path / "cache"))
    np.testing.assert_array_equal(back(**inputs).logits, m(**inputs).logits)
    cfg = automodel.AutoConfig.from_pretrained("alice/tiny-bert", token=TOKEN, revision=commit)
    assert cfg.model_type == "bert"
    with pytest.raises(automodel.EntryNotFoundError):
        automodel.AutoConfig.from_pretrained("alice/tiny-bert", token=TOKEN, subfolder="nothing-here")
    with pytest.raises(automodel.RevisionNotFoundError):
        automodel.AutoModel.from_pretrained("alice/tiny-bert", token=TOKEN, revision="no-such-branch")
    with pytest.raises(OSError):
        m.push_to_hub("alice/other", token="hf_wrong_token")
