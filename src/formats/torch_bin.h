/* formats/torch_bin.h — PyTorch's torch.save zip format (pytorch_model.bin): load a state dict
 * into named tensors without running any code, and save one that torch.load(weights_only=True)
 * accepts. */
#ifndef AM_FORMATS_TORCH_BIN_H
#define AM_FORMATS_TORCH_BIN_H
#include "automodel.h"

/* Reads the state dict saved at `path` into a new list (owned; am_tensors_free), in the
 * pickle's order. Storages stored uncompressed and aligned for their dtype are mapped, not
 * copied; tensors that share one storage in the file share one am__storage (tied weights).
 * Non-contiguous views are materialised as contiguous copies. Non-tensor values of the dict are
 * skipped with a warning. Errors (AM_ERR_FORMAT, AM_ERR_NOT_FOUND, AM_ERR_IO, AM_ERR_UNSUPPORTED)
 * name the file and the problem. */
am_status am__torch_bin_load(const char *path, am_tensors **out);

/* Writes `ts` as torch.save(dict, path) does (zip with <stem>/data.pkl in protocol 2,
 * <stem>/byteorder, <stem>/data/<key> stored and 64-byte aligned, <stem>/version "3\n"), where
 * <stem> is the file name without its extension. Tensors sharing an am__storage (same dtype) are
 * written as one storage referenced by each. Written to PATH.tmp.<pid> and renamed into place. */
am_status am__torch_bin_save(const am_tensors *ts, const char *path);

/* Test hook: the same, with ZIP64 records forced even for small archives. */
am_status am__torch_bin_save_ex(const am_tensors *ts, const char *path, bool force_zip64);
#endif
