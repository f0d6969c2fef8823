"""ctypes bindings of include/automodel.h (the public C API only), the library lookup, and the one
mapping of C status codes to Python exceptions. ctypes.CDLL releases the GIL around every call,
so model calls from several Python threads run in parallel (the C library makes that safe)."""
import ctypes
import ctypes.util
import os
import sys
from ctypes import (POINTER, c_bool, c_char_p, c_double, c_int, c_int32, c_int64, c_size_t, c_uint8, c_uint64,
                    c_void_p)

from . import errors

_HERE = os.path.dirname(os.path.abspath(__file__))


def _find_library():
    """AUTOMODEL_LIBRARY, then the package folder (pip install), then the system's loader path."""
    env = os.environ.get("AUTOMODEL_LIBRARY")
    if env:
        if not os.path.exists(env):
            raise OSError(f"AUTOMODEL_LIBRARY={env}: no such file")
        return env
    for name in ("libautomodel.so", "libautomodel.so.0"):
        p = os.path.join(_HERE, name)
        if os.path.exists(p):
            return p
    found = ctypes.util.find_library("automodel")
    if found:
        return found
    raise OSError("libautomodel.so not found: set AUTOMODEL_LIBRARY, install the package with pip (which builds it), "
                  "or install the C library (cmake --install)")


LIB_PATH = _find_library()
lib = ctypes.CDLL(LIB_PATH)


class LoadOptions(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("dtype", c_int), ("attn", c_int), ("num_labels", c_int),
                ("ignore_mismatched_sizes", c_bool), ("use_safetensors", c_bool), ("config", c_void_p),
                ("revision", c_char_p), ("cache_dir", c_char_p), ("token", c_char_p), ("local_files_only", c_bool),
                ("force_download", c_bool), ("subfolder", c_char_p), ("device_map", c_char_p),
                ("float32_matmul_precision", c_char_p),
                # device_map placement (appended in the C header's order)
                ("max_memory", c_char_p), ("offload_folder", c_char_p), ("low_cpu_mem_usage", c_bool),
                # bitsandbytes quantization at load
                ("load_in_8bit", c_bool), ("llm_int8_threshold", ctypes.c_float),
                ("llm_int8_skip_modules", POINTER(c_char_p)), ("n_llm_int8_skip_modules", c_size_t),
                ("load_in_4bit", c_bool), ("bnb_4bit_quant_type", c_char_p), ("bnb_4bit_compute_dtype", c_int),
                ("bnb_4bit_use_double_quant", c_bool), ("quantization_config", c_char_p)]


class ForwardOptions(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("output_hidden_states", c_bool), ("dropout_seed", c_uint64),
                ("output_attentions", c_bool)]


class SaveOptions(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("format", c_int), ("max_shard_size", c_char_p), ("dtype", c_int)]


class EncodeOptions(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("add_special_tokens", c_bool), ("truncation", c_int), ("max_length", c_size_t),
                ("stride", c_size_t), ("truncation_side", c_int), ("padding", c_int), ("pad_to_multiple_of", c_size_t),
                ("pad_length", c_size_t), ("padding_side", c_int), ("pad_token", c_char_p), ("pad_id", c_int32),
                ("pad_type_id", c_int32)]


class DecodeOptions(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("skip_special_tokens", c_bool), ("clean_up_tokenization_spaces", c_int)]


class PipelineOptions(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("load", POINTER(LoadOptions)), ("model_task", c_int), ("tokenizer", c_char_p),
                ("top_k", c_int), ("function", c_int), ("aggregation", c_int), ("ignore_labels", POINTER(c_char_p)),
                ("n_ignore_labels", c_size_t), ("max_answer_len", c_int), ("max_seq_len", c_int),
                ("doc_stride", c_int), ("handle_impossible_answer", c_bool), ("batch_size", c_size_t),
                ("output_dir", c_char_p)]


class PushOptions(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("commit_message", c_char_p), ("commit_description", c_char_p),
                ("private_repo", c_bool), ("token", c_char_p), ("revision", c_char_p), ("create_pr", c_bool),
                ("endpoint", c_char_p), ("parent_commit", c_char_p), ("repo_type", c_char_p)]


class DownloadOptions(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("revision", c_char_p), ("cache_dir", c_char_p), ("token", c_char_p),
                ("endpoint", c_char_p), ("repo_type", c_char_p), ("local_files_only", c_bool),
                ("force_download", c_bool), ("include", POINTER(c_char_p))]


TOKEN_CB = ctypes.CFUNCTYPE(c_int, c_void_p, c_size_t, POINTER(c_int64), c_size_t)
DECODE_CB = ctypes.CFUNCTYPE(c_char_p, c_void_p, POINTER(c_int64), c_size_t)


class GenerateOptions(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("max_new_tokens", c_int64), ("max_length", c_int64),
                ("min_new_tokens", c_int64), ("min_length", c_int64), ("do_sample", c_int), ("num_beams", c_int64),
                ("num_return_sequences", c_int64), ("length_penalty", c_double), ("early_stopping", c_int),
                ("temperature", c_double), ("top_k", c_int64), ("top_p", c_double), ("typical_p", c_double),
                ("repetition_penalty", c_double), ("no_repeat_ngram_size", c_int64), ("pad_token_id", c_int64),
                ("bos_token_id", c_int64), ("forced_bos_token_id", c_int64), ("forced_eos_token_id", c_int64),
                ("eos_token_ids", POINTER(c_int64)), ("n_eos", c_size_t), ("bad_words_flat", POINTER(c_int64)),
                ("bad_words_lens", POINTER(c_size_t)), ("n_bad_words", c_size_t),
                ("suppress_tokens", POINTER(c_int64)), ("n_suppress_tokens", c_size_t),
                ("begin_suppress_tokens", POINTER(c_int64)), ("n_begin_suppress_tokens", c_size_t),
                ("forced_decoder_ids", POINTER(c_int64)), ("n_forced_decoder_ids", c_size_t), ("seed", c_uint64),
                ("output_scores", c_bool), ("max_time", c_double), ("stop_strings", POINTER(c_char_p)),
                ("n_stop_strings", c_size_t), ("decode", DECODE_CB), ("decode_user", c_void_p),
                ("on_token", TOKEN_CB), ("on_token_user", c_void_p), ("decoder_start_token_id", c_int64),
                # Whisper (appended in the C header's order)
                ("return_timestamps", c_int), ("is_multilingual", c_int), ("language", c_char_p),
                ("task", c_char_p)]


def _sig(name, res, *args):
    if name.endswith("_options_default"):
        _check_mirror(name, res)
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = list(args)
    return f


class _Wide(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("rest", ctypes.c_char * 4096)]


def _check_mirror(fn_name, cls):
    """The library returns its options structs by value: the Python mirror must be exactly as large,
    or the call writes past a smaller buffer. Checked once at import, with a buffer far larger."""
    f = getattr(lib, fn_name)
    f.argtypes = []
    if ctypes.sizeof(cls) <= 16:
        # x86-64 SysV returns structs of 16 bytes or less in registers: nothing to overrun
        f.restype = cls
    else:
        f.restype = _Wide  # returned through a caller buffer: make it far larger than any version's
    c_size = f().size
    if c_size != ctypes.sizeof(cls):
        raise ImportError(f"{LIB_PATH}: {fn_name} returns {c_size} bytes but this automodel package "
                          f"mirrors {ctypes.sizeof(cls)}: the library and the Python package are different versions")


P = c_void_p
_sig("am_version", c_char_p)
_sig("am_cpu_report_json", c_char_p)
_sig("am_last_error", c_char_p)
_sig("am_free", None, P)
_sig("am_log_set_level", None, c_int)
_sig("am_set_num_threads", None, c_int)
_sig("am_get_num_threads", c_int)
# tensors
_sig("am_tensor_from_data", P, c_int, c_int, POINTER(c_int64), P)
_sig("am_tensor_to", P, P, c_int)
_sig("am_tensor_free", None, P)
_sig("am_tensor_dtype", c_int, P)
_sig("am_tensor_ndim", c_int, P)
_sig("am_tensor_shape", POINTER(c_int64), P)
_sig("am_tensor_nbytes", c_size_t, P)
_sig("am_tensor_cdata", P, P)
_sig("am_tensors_new", P)
_sig("am_tensors_free", None, P)
_sig("am_tensors_set", c_int, P, c_char_p, P)
_sig("am_tensors_get", P, P, c_char_p)
_sig("am_tensors_count", c_size_t, P)
_sig("am_tensors_name", c_char_p, P, c_size_t)
_sig("am_tensors_at", P, P, c_size_t)
_sig("am_tensors_load_safetensors", P, c_char_p)
# config
_sig("am_config_from_pretrained", P, c_char_p)
_sig("am_config_from_json", P, c_char_p, c_char_p)
_sig("am_config_copy", P, P)
_sig("am_config_free", None, P)
_sig("am_config_model_type", c_char_p, P)
_sig("am_config_has", c_bool, P, c_char_p)
_sig("am_config_get_bool", c_int, P, c_char_p, POINTER(c_bool))
_sig("am_config_set_json", c_int, P, c_char_p, c_char_p)
_sig("am_config_get_json", P, P, c_char_p)
_sig("am_config_set_num_labels", c_int, P, c_int)
_sig("am_config_repr", P, P)
_sig("am_config_to_json_string", P, P)
_sig("am_config_to_dict_json", P, P)
# models
_sig("am_task_parse", c_int, c_char_p, POINTER(c_int))
_sig("am_task_name", c_char_p, c_int)
_sig("am_dtype_parse", c_int, c_char_p, POINTER(c_int))
_sig("am_dtype_name", c_char_p, c_int)
_sig("am_attn_impl_parse", c_int, c_char_p, POINTER(c_int))
_sig("am_attn_impl_name", c_char_p, c_int)
_sig("am_load_options_default", LoadOptions)
_sig("am_model_from_pretrained", P, c_int, c_char_p, POINTER(LoadOptions))
_sig("am_model_from_config", P, c_int, P, c_uint64)
_sig("am_model_free", None, P)
_sig("am_model_class_name", c_char_p, P)
_sig("am_model_task", c_int, P)
_sig("am_model_config", P, P)
_sig("am_model_dtype", c_int, P)
_sig("am_model_attn_implementation", c_int, P)
_sig("am_model_num_parameters", c_int64, P, c_bool, c_bool)
_sig("am_model_memory_footprint", c_int64, P, c_bool)
_sig("am_model_quantization_bits", c_int, P)
_sig("am_model_hf_device_map", P, P)
_sig("am_model_train", None, P, c_bool)
_sig("am_model_is_training", c_bool, P)
_sig("am_model_to_dtype", c_int, P, c_int)
_sig("am_model_repr", P, P)
_sig("am_model_state_dict_count", c_size_t, P)
_sig("am_model_state_dict_name", c_char_p, P, c_size_t)
_sig("am_model_state_dict_tensor", P, P, c_size_t)
_sig("am_forward_options_default", ForwardOptions)
_sig("am_model_forward", P, P, P, POINTER(ForwardOptions))
_sig("am_save_options_default", SaveOptions)
_sig("am_model_save_pretrained", c_int, P, c_char_p, POINTER(SaveOptions))
_sig("am_generate_options_default", GenerateOptions)
_sig("am_model_generate", P, P, P, POINTER(GenerateOptions))
_sig("am_model_can_generate", c_bool, P)
# tokenizers
_sig("am_tokenizer_from_pretrained", P, c_char_p)
_sig("am_tokenizer_free", None, P)
_sig("am_encode_options_default", EncodeOptions)
_sig("am_tokenizer_encode_batch_n", c_int, P, c_size_t, POINTER(c_char_p), POINTER(c_size_t), POINTER(c_char_p),
     POINTER(c_size_t), POINTER(EncodeOptions), POINTER(P))
_sig("am_encoding_free", None, P)
_sig("am_encoding_len", c_size_t, P)
_sig("am_encoding_ids", POINTER(c_int32), P)
_sig("am_encoding_type_ids", POINTER(c_int32), P)
_sig("am_encoding_attention_mask", POINTER(c_uint8), P)
_sig("am_encoding_special_tokens_mask", POINTER(c_uint8), P)
_sig("am_encoding_word_ids", POINTER(c_int32), P)
_sig("am_encoding_token_n", c_char_p, P, c_size_t, POINTER(c_size_t))
_sig("am_encoding_offsets", None, P, c_size_t, POINTER(c_size_t), POINTER(c_size_t))
_sig("am_encodings_to_tensors", P, P, POINTER(P), c_size_t)
_sig("am_decode_options_default", DecodeOptions)
_sig("am_tokenizer_decode_n", P, P, POINTER(c_int32), c_size_t, POINTER(DecodeOptions), POINTER(c_size_t))
_sig("am_tokenizer_token_to_id", c_int32, P, c_char_p)
_sig("am_tokenizer_id_to_token", c_char_p, P, c_int32)
_sig("am_tokenizer_vocab_size", c_size_t, P)
_sig("am_tokenizer_pad_token", c_char_p, P)
_sig("am_tokenizer_bos_token", c_char_p, P)
_sig("am_tokenizer_eos_token", c_char_p, P)
_sig("am_tokenizer_model_max_length", c_int64, P)
# pipelines
_sig("am_pipeline_options_default", PipelineOptions)
_sig("am_pipeline_task_parse", c_int, c_char_p, POINTER(c_int))
_sig("am_pipeline_new", P, c_int, c_char_p, POINTER(PipelineOptions))
_sig("am_pipeline_free", None, P)
_sig("am_pipeline_call_kwargs", POINTER(c_char_p), P)
_sig("am_pipeline_call", c_int, P, c_size_t, POINTER(c_char_p), c_char_p, POINTER(P))
_sig("am_pipeline_result_free", None, P)
_sig("am_pipeline_result_json", P, P)
_sig("am_pipeline_results_json", P, POINTER(P), c_size_t)
_sig("am_pipeline_model", P, P)
_sig("am_pipeline_tokenizer", P, P)
# hub
_sig("am_push_options_default", PushOptions)
_sig("am_model_push_to_hub", c_int, P, c_char_p, POINTER(PushOptions))
_sig("am_download_options_default", DownloadOptions)
_sig("am_hub_download_file", c_int, c_char_p, c_char_p, POINTER(DownloadOptions), POINTER(P))

STATUS = ["ok", "invalid argument", "i/o error", "not found", "bad file format", "unsupported", "out of memory",
          "shape mismatch", "network error", "authentication required", "internal error"]


def enc(s):
    return None if s is None else os.fsencode(s) if isinstance(s, os.PathLike) else s.encode("utf-8")


def take_str(p):
    """An owned C string (am_free) as str."""
    if not p:
        return None
    try:
        return ctypes.string_at(p).decode("utf-8")
    finally:
        lib.am_free(p)


def last_error():
    m = lib.am_last_error()
    return m.decode("utf-8", "replace") if m else "unknown error"


def raise_status(status, message=None):
    raise errors.from_status(int(status), message if message is not None else last_error())


def check(status):
    if status:
        raise_status(status)


def check_ptr(p):
    if not p:
        raise errors.from_status(None, last_error())
    return p



class LoadingInfo(ctypes.Structure):
    _fields_ = [("n_missing", c_size_t), ("n_unexpected", c_size_t), ("n_mismatched", c_size_t),
                ("missing_keys", POINTER(c_char_p)), ("unexpected_keys", POINTER(c_char_p)),
                ("mismatched_keys", POINTER(c_char_p)), ("mismatched_ckpt_shapes", POINTER(c_char_p)),
                ("mismatched_model_shapes", POINTER(c_char_p)), ("n_log", c_size_t), ("log_levels", POINTER(c_int)),
                ("log_messages", POINTER(c_char_p))]


_sig("am_model_loading_info", POINTER(LoadingInfo), P)
_sig("am_hub_upload_folder_commit", c_int, c_char_p, c_char_p, POINTER(PushOptions), POINTER(P))


class Handle:
    """An owned C object: `_ptr` raises ValueError once the object was closed (freed), instead of
    handing NULL to the library."""

    @property
    def _ptr(self):
        p = self.__dict__.get("_p")
        if p is None:
            raise ValueError(f"this {type(self).__name__} is closed")
        return p

    @_ptr.setter
    def _ptr(self, v):
        self.__dict__["_p"] = v

    def _release(self, free):
        p = self.__dict__.get("_p")
        if p is not None:
            self.__dict__["_p"] = None
            free(p)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.__del__()
