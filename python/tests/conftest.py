"""The package under test is python/automodel of this checkout; the library is AUTOMODEL_LIBRARY
(ctest sets it to the build tree's libautomodel.so), else build/ of the checkout."""
import json
import os
import struct
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
if not os.environ.get("AUTOMODEL_TEST_INSTALLED"):
    sys.path.insert(0, os.path.dirname(HERE))
if "AUTOMODEL_LIBRARY" not in os.environ and os.path.exists(os.path.join(ROOT, "build", "libautomodel.so")):
    os.environ["AUTOMODEL_LIBRARY"] = os.path.join(ROOT, "build", "libautomodel.so")
os.environ.setdefault("AM_LOG_LEVEL", "error")
FIXTURES = os.environ.get("AM_FIXTURES") or os.path.join(ROOT, "tests", "fixtures")
MODELS = os.path.join(ROOT, "models")


def read_safetensors(path):
    """A plain numpy reader (independent of the library under test) for the expected values."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dt = {"F32": np.float32, "I64": np.int64, "F16": np.float16, "F64": np.float64, "I32": np.int32, "BOOL": np.bool_}
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype=dt[v["dtype"]]).reshape(v["shape"]).copy()
    return out


@pytest.fixture(scope="session")
def fixtures():
    return FIXTURES


@pytest.fixture(scope="session")
def root():
    return ROOT
