"""numpy arrays <-> am_tensor / am_tensors (copies both ways: a returned array owns its memory)."""
import ctypes

import numpy as np

from ._lib import check, check_ptr, lib

# am_dtype codes (include/automodel.h) <-> numpy
AM_F32, AM_F16, AM_BF16, AM_F64, AM_I64, AM_I32, AM_I16, AM_I8, AM_U8, AM_BOOL = range(10)
_TO_NP = {AM_F32: np.float32, AM_F16: np.float16, AM_F64: np.float64, AM_I64: np.int64, AM_I32: np.int32,
          AM_I16: np.int16, AM_I8: np.int8, AM_U8: np.uint8, AM_BOOL: np.bool_}
_FROM_NP = {np.dtype(v): k for k, v in _TO_NP.items()}


def to_c(arr):
    """A new am_tensor (owned by the caller) holding a copy of `arr`."""
    a = np.asarray(arr)
    if a.dtype.kind in "iu" and a.dtype not in _FROM_NP:
        a = a.astype(np.int64)
    if a.dtype not in _FROM_NP:
        raise ValueError(f"unsupported array dtype {a.dtype} (expected float32/16/64, int64/32/16/8, uint8 or bool)")
    a = np.ascontiguousarray(a)
    shape = (ctypes.c_int64 * max(a.ndim, 1))(*a.shape)
    return check_ptr(lib.am_tensor_from_data(_FROM_NP[a.dtype], a.ndim, shape, a.ctypes.data_as(ctypes.c_void_p)))


def from_c(t):
    """A numpy copy of a borrowed am_tensor (bfloat16 is read as float32: numpy has no bfloat16)."""
    dt = lib.am_tensor_dtype(t)
    conv = None
    if dt == AM_BF16:
        conv = check_ptr(lib.am_tensor_to(t, AM_F32))
        t, dt = conv, AM_F32
    try:
        nd = lib.am_tensor_ndim(t)
        shp = lib.am_tensor_shape(t)
        shape = tuple(shp[i] for i in range(nd))
        n = lib.am_tensor_nbytes(t)
        out = np.empty(shape, dtype=_TO_NP[dt])
        if n:
            ctypes.memmove(out.ctypes.data, lib.am_tensor_cdata(t), n)
        return out
    finally:
        if conv:
            lib.am_tensor_free(conv)


class CTensors:
    """An owned am_tensors built from a dict of arrays; frees itself."""

    def __init__(self, arrays=None):
        self.ptr = check_ptr(lib.am_tensors_new())
        for k, v in (arrays or {}).items():
            self.set(k, v)

    def set(self, name, arr):
        t = to_c(arr)
        try:
            check(lib.am_tensors_set(self.ptr, name.encode(), t))
        finally:
            lib.am_tensor_free(t)  # the list holds its own reference

    def __del__(self):
        if getattr(self, "ptr", None):
            lib.am_tensors_free(self.ptr)
            self.ptr = None


def tensors_to_dict(ptr, free=True):
    """An am_tensors (owned when free) as an ordered dict name -> numpy array."""
    try:
        out = {}
        for i in range(lib.am_tensors_count(ptr)):
            out[lib.am_tensors_name(ptr, i).decode()] = from_c(lib.am_tensors_at(ptr, i))
        return out
    finally:
        if free:
            lib.am_tensors_free(ptr)


def load_safetensors(path):
    """Every tensor of a safetensors file as numpy arrays (safetensors.numpy.load_file)."""
    import os
    return tensors_to_dict(check_ptr(lib.am_tensors_load_safetensors(os.fsencode(path))))
