"""AutoModel* classes and the loaded model (transformers' PreTrainedModel API over am_model)."""
import ctypes
import json
import os
import random
import shutil
import tempfile

import numpy as np

from ._lib import (ForwardOptions, GenerateOptions, Handle, LoadOptions, PushOptions, check, check_ptr, enc, lib,
                   raise_status, take_str)
from ._tensors import CTensors, from_c, tensors_to_dict
from . import _hub
from .configuration import PretrainedConfig

_SEED = [None]


def set_seed(seed):
    """transformers.set_seed: the seed of the next from_config random init and of sampling in generate."""
    _SEED[0] = int(seed)


def _dtype(v):
    if v is None:
        return 0
    if isinstance(v, type) and issubclass(v, np.generic):
        v = np.dtype(v).name
    if isinstance(v, np.dtype):
        v = v.name
    v = str(v)
    if v.startswith("torch."):
        v = v[6:]
    out = ctypes.c_int()
    check(lib.am_dtype_parse(v.encode(), ctypes.byref(out)))
    return out.value


def _attn(v):
    if v is None:
        return 0
    out = ctypes.c_int()
    check(lib.am_attn_impl_parse(str(v).encode(), ctypes.byref(out)))
    return out.value


def _device_map(v):
    if v is None:
        return None
    if isinstance(v, dict):
        devs = set(map(str, v.values()))
        if devs != {"cpu"}:
            raise ValueError(f"device_map={v!r}: automodel runs on the CPU only")
        return b"cpu"
    return str(v).encode()


def _json_or_none(v):
    if v is None:
        return None
    if hasattr(v, "to_dict"):
        v = v.to_dict()
    return json.dumps(v).encode()


def _str(v):
    return None if v is None else os.fspath(v).encode()


# transformers' from_pretrained keyword -> (am_load_options field, converter, transformers' default).
# THE one table of load options: a keyword whose field the C struct (LoadOptions, = include/automodel.h's
# am_load_options) does not have yet is refused with NotImplementedError naming it, unless its value
# is transformers' default. Wiring a new C option = its field in LoadOptions + its line here.
LOAD_OPTIONS = {
    "torch_dtype": ("dtype", _dtype, None),
    "attn_implementation": ("attn", _attn, None),
    "num_labels": ("num_labels", int, None),
    "ignore_mismatched_sizes": ("ignore_mismatched_sizes", bool, False),
    "use_safetensors": ("use_safetensors", lambda v: v is not False, None),
    "revision": ("revision", _str, "main"),
    "cache_dir": ("cache_dir", _str, None),
    "token": ("token", lambda v: _str(_hub.token_value(v)), None),
    "use_auth_token": ("token", lambda v: _str(_hub.token_value(v)), None),
    "local_files_only": ("local_files_only", bool, False),
    "force_download": ("force_download", bool, False),
    "subfolder": ("subfolder", _str, ""),
    "device_map": ("device_map", _device_map, None),
    "max_memory": ("max_memory", _json_or_none, None),
    "offload_folder": ("offload_folder", _str, None),
    "offload_state_dict": ("offload_state_dict", bool, False),
    "load_in_8bit": ("load_in_8bit", bool, False),
    "load_in_4bit": ("load_in_4bit", bool, False),
    "quantization_config": ("quantization_config", _json_or_none, None),
}
# accepted with no effect, because the C loader always behaves as the value asks
_NO_EFFECT = {"low_cpu_mem_usage": (True, False, None),  # weights are mapped, not read into memory
              "resume_download": (True, False, None),     # downloads always resume
              "trust_remote_code": (False, None),
              "from_tf": (False,), "from_flax": (False,), "_fast_init": (True,), "mirror": (None,),
              "proxies": (None,), "state_dict": (None,), "offload_buffers": (False,)}


def load_options(kwargs):
    """am_load_options from transformers' keywords (consumed from kwargs)."""
    o = lib.am_load_options_default()
    fields = {f for f, _ in LoadOptions._fields_}
    keep = []
    for key in list(kwargs):
        if key in LOAD_OPTIONS:
            field, conv, default = LOAD_OPTIONS[key]
            v = kwargs.pop(key)
            if field not in fields:
                if v is None or v is False or v == default:
                    continue
                raise NotImplementedError(f"{key}={v!r} is not supported by this build of automodel "
                                          f"(its C library has no `{field}` load option)")
            cv = conv(v)
            if cv is None and field in ("dtype", "attn", "num_labels"):
                continue
            keep.append(cv)
            setattr(o, field, cv)
        elif key in _NO_EFFECT:
            v = kwargs.pop(key)
            if v not in _NO_EFFECT[key]:
                raise NotImplementedError(f"{key}={v!r} is not supported by automodel")
    return o, keep


class ModelOutput(dict):
    """transformers' ModelOutput: ordered fields with attribute, key and index access (None
    fields left out). Layer-wise outputs (hidden_states, attentions, ...) are tuples of arrays."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            if key.startswith("__"):
                raise AttributeError(key) from None
            return None

    def __getitem__(self, k):
        if isinstance(k, (int, slice)):
            return self.to_tuple()[k]
        return super().__getitem__(k)

    def to_tuple(self):
        return tuple(self.values())


def _group_outputs(d):
    out = ModelOutput()
    groups = {}
    for name, arr in d.items():
        base, _, idx = name.rpartition(".")
        if base and idx.isdigit():
            if base not in groups:
                groups[base] = {}
                out[base] = None
            groups[base][int(idx)] = arr
        else:
            out[name] = arr
    for base, items in groups.items():
        out[base] = tuple(items[i] for i in sorted(items))
    return out


def _ids(v):
    if v is None:
        return None
    a = np.asarray(v, dtype=np.int64).reshape(-1)
    return (ctypes.c_int64 * max(len(a), 1))(*a.tolist()), len(a)


# generate() keyword -> am_generate_options field (scalars)
_GEN_INT = ("max_new_tokens", "max_length", "min_new_tokens", "min_length", "num_beams", "num_return_sequences",
            "top_k", "no_repeat_ngram_size", "pad_token_id", "bos_token_id", "forced_bos_token_id",
            "forced_eos_token_id", "decoder_start_token_id")
_GEN_FLOAT = ("length_penalty", "temperature", "top_p", "typical_p", "repetition_penalty", "max_time")


class PreTrainedModel(Handle):
    """A loaded model. forward / generate may run from several threads at once (the C library
    keeps per-call state per call); train / eval / to / del need no concurrent call."""

    def __init__(self, _ptr, name_or_path=""):
        self._ptr = _ptr
        self.name_or_path = name_or_path
        self.loading_info = None

    def __del__(self):
        self._release(lib.am_model_free)

    # ---- description
    def __repr__(self):
        return take_str(lib.am_model_repr(self._ptr))

    @property
    def config(self):
        return PretrainedConfig(lib.am_model_config(self._ptr), _owned=False, _owner=self)

    @property
    def dtype(self):
        return lib.am_dtype_name(lib.am_model_dtype(self._ptr)).decode()

    @property
    def device(self):
        return "cpu"

    @property
    def training(self):
        return bool(lib.am_model_is_training(self._ptr))

    def train(self, mode=True):
        lib.am_model_train(self._ptr, bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def to(self, *args, **kwargs):
        """model.to(dtype) / .to("cpu")."""
        for a in list(args) + list(kwargs.values()):
            if str(a) == "cpu":
                continue
            check(lib.am_model_to_dtype(self._ptr, _dtype(a)))
        return self

    def half(self):
        return self.to("float16")

    def float(self):
        return self.to("float32")

    def bfloat16(self):
        return self.to("bfloat16")

    def num_parameters(self, only_trainable=False, exclude_embeddings=False):
        return int(lib.am_model_num_parameters(self._ptr, bool(only_trainable), bool(exclude_embeddings)))

    def get_memory_footprint(self, return_buffers=True):
        return int(lib.am_model_memory_footprint(self._ptr, bool(return_buffers)))

    def can_generate(self):
        return bool(lib.am_model_can_generate(self._ptr))

    @property
    def is_loaded_in_8bit(self):
        return lib.am_model_quantization_bits(self._ptr) == 8

    @property
    def is_loaded_in_4bit(self):
        return lib.am_model_quantization_bits(self._ptr) == 4

    @property
    def hf_device_map(self):
        """transformers' hf_device_map when loaded with a device_map (else AttributeError, as there)."""
        text = take_str(lib.am_model_hf_device_map(self._ptr))
        if text is None:
            raise AttributeError("hf_device_map")
        return json.loads(text)

    @property
    def attn_implementation(self):
        return lib.am_attn_impl_name(lib.am_model_attn_implementation(self._ptr)).decode()

    def state_dict(self):
        """name -> numpy copy of the tensor (tied aliases included, as torch's state_dict())."""
        out = {}
        for i in range(lib.am_model_state_dict_count(self._ptr)):
            out[lib.am_model_state_dict_name(self._ptr, i).decode()] = from_c(lib.am_model_state_dict_tensor(self._ptr, i))
        return out

    # ---- running
    def __call__(self, *args, output_hidden_states=None, output_attentions=None, return_dict=None, **inputs):
        if args:
            raise TypeError("pass the model inputs by name: model(**inputs) or model(input_ids=...)")
        o = lib.am_forward_options_default()
        o.output_hidden_states = bool(output_hidden_states if output_hidden_states is not None
                                      else self._config_flag(b"output_hidden_states", False))
        o.output_attentions = bool(output_attentions if output_attentions is not None
                                   else self._config_flag(b"output_attentions", False))
        ins = CTensors({k: v for k, v in inputs.items() if v is not None})
        res = tensors_to_dict(check_ptr(lib.am_model_forward(self._ptr, ins.ptr, ctypes.byref(o))))
        out = _group_outputs(res)
        if return_dict is False or (return_dict is None and not self._config_flag(b"return_dict", True)):
            return out.to_tuple()
        return out

    def _config_flag(self, key, default):
        v = ctypes.c_bool()
        if lib.am_config_get_bool(lib.am_model_config(self._ptr), key, ctypes.byref(v)):
            return default
        return v.value

    forward = __call__

    def generate(self, inputs=None, generation_config=None, streamer=None, **kwargs):
        """model.generate(**inputs, **generation_kwargs): the sequences as an int64 array [rows, length]
        (a ModelOutput with sequences / scores / sequences_scores when return_dict_in_generate)."""
        if streamer is not None:
            raise NotImplementedError("streamer= is not supported")
        gen = {}
        if generation_config is not None:
            gen.update(generation_config if isinstance(generation_config, dict) else generation_config.to_dict())
        tensors = {}
        if inputs is not None:
            tensors["input_ids"] = inputs
        for k in list(kwargs):
            if k in ("input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask", "pixel_values",
                     "input_features", "token_type_ids", "position_ids"):
                v = kwargs.pop(k)
                if v is not None:
                    tensors[k] = v
        gen.update(kwargs)
        o = lib.am_generate_options_default()
        keep = []
        return_dict = bool(gen.pop("return_dict_in_generate", False))
        seed = gen.pop("seed", _SEED[0])
        if seed is not None:
            o.seed = int(seed)
        elif gen.get("do_sample"):
            o.seed = random.getrandbits(63)
        for k in list(gen):
            v = gen.pop(k)
            if k in _GEN_INT:
                if v is not None:
                    setattr(o, k, int(v))
            elif k in _GEN_FLOAT:
                if v is not None:
                    setattr(o, k, float(v))
            elif k == "do_sample":
                o.do_sample = -1 if v is None else int(bool(v))
            elif k == "early_stopping":
                o.early_stopping = -1 if v is None else 2 if v == "never" else int(bool(v))
            elif k == "output_scores":
                o.output_scores = bool(v)
            elif k == "eos_token_id":
                if v is not None:
                    arr, n = _ids(v)
                    keep.append(arr)
                    o.eos_token_ids, o.n_eos = ctypes.cast(arr, ctypes.POINTER(ctypes.c_int64)), n
            elif k in ("suppress_tokens", "begin_suppress_tokens"):
                if v is not None:
                    arr, n = _ids(v)
                    keep.append(arr)
                    setattr(o, k, ctypes.cast(arr, ctypes.POINTER(ctypes.c_int64)))
                    setattr(o, "n_" + k, n)
            elif k == "forced_decoder_ids":
                if v is not None:
                    arr, n = _ids(v)
                    keep.append(arr)
                    o.forced_decoder_ids, o.n_forced_decoder_ids = ctypes.cast(arr, ctypes.POINTER(ctypes.c_int64)), n // 2
            elif k == "bad_words_ids":
                if v is not None:
                    flat = [int(t) for seq in v for t in seq]
                    lens = (ctypes.c_size_t * max(len(v), 1))(*[len(s) for s in v])
                    arr = (ctypes.c_int64 * max(len(flat), 1))(*flat)
                    keep += [arr, lens]
                    o.bad_words_flat = ctypes.cast(arr, ctypes.POINTER(ctypes.c_int64))
                    o.bad_words_lens = ctypes.cast(lens, ctypes.POINTER(ctypes.c_size_t))
                    o.n_bad_words = len(v)
            elif k in ("use_cache", "output_attentions", "output_hidden_states") and v in (None, False, True) and \
                    (k == "use_cache" or not v):
                continue  # the KV cache is always used; no per-step attentions / hidden states are returned
            elif k in ("_from_model_config", "transformers_version") or (generation_config is not None and v is None):
                continue
            else:
                raise ValueError(f"The following `model_kwargs` are not used by the model: ['{k}'] (note: typos in the "
                                 "generate arguments will also show up in this list)")
        ins = CTensors(tensors)
        res = tensors_to_dict(check_ptr(lib.am_model_generate(self._ptr, ins.ptr, ctypes.byref(o))))
        if not return_dict:
            return res["sequences"]
        out = ModelOutput(sequences=res["sequences"])
        if "scores" in res:
            out["scores"] = tuple(res["scores"])
        if "sequences_scores" in res:
            out["sequences_scores"] = res["sequences_scores"]
        return out

    # ---- saving
    def save_pretrained(self, save_directory, is_main_process=True, state_dict=None, save_function=None,
                        push_to_hub=False, max_shard_size="10GB", safe_serialization=False, variant=None,
                        **kwargs):
        if state_dict is not None or save_function is not None or variant is not None:
            raise NotImplementedError("save_pretrained: state_dict=, save_function= and variant= are not supported")
        if kwargs:
            raise TypeError(f"save_pretrained() got unexpected keyword arguments: {', '.join(kwargs)}")
        if os.path.isfile(save_directory):
            raise AssertionError(f"Provided path ({save_directory}) should be a directory, not a file")
        if not is_main_process:
            return
        os.makedirs(save_directory, exist_ok=True)
        o = lib.am_save_options_default()
        o.format = 0 if safe_serialization else 1
        shard = str(max_shard_size).encode() if not isinstance(max_shard_size, int) else f"{max_shard_size}B".encode()
        o.max_shard_size = shard
        check(lib.am_model_save_pretrained(self._ptr, os.fsencode(save_directory), ctypes.byref(o)))
        if push_to_hub:
            raise NotImplementedError("save_pretrained(push_to_hub=True): call push_to_hub(repo_id) instead")

    def push_to_hub(self, repo_id, use_temp_dir=None, commit_message=None, private=None, token=None,
                    max_shard_size="10GB", create_pr=False, safe_serialization=False, revision=None,
                    commit_description=None, **kwargs):
        if kwargs:
            raise TypeError(f"push_to_hub() got unexpected keyword arguments: {', '.join(kwargs)}")
        o = lib.am_push_options_default()
        keep = [enc(commit_message or "Upload model"), enc(commit_description), enc(_hub.token_value(token)),
                enc(revision)]
        o.commit_message, o.commit_description, o.token, o.revision = keep
        o.private_repo = bool(private)
        o.create_pr = bool(create_pr)
        tmp = tempfile.mkdtemp(prefix="automodel_push_")
        try:
            self.save_pretrained(tmp, max_shard_size=max_shard_size, safe_serialization=safe_serialization)
            out = ctypes.c_void_p()
            check(lib.am_hub_upload_folder_commit(os.fsencode(tmp), repo_id.encode(), ctypes.byref(o), ctypes.byref(out)))
            return take_str(out.value)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _loading_info(ptr):
    i = lib.am_model_loading_info(ptr).contents

    def strs(arr, n):
        return [arr[k].decode() for k in range(n)]

    def shape(s):
        return tuple(json.loads(s))

    mm = [(k, shape(a), shape(b)) for k, a, b in zip(strs(i.mismatched_keys, i.n_mismatched),
                                                    strs(i.mismatched_ckpt_shapes, i.n_mismatched),
                                                    strs(i.mismatched_model_shapes, i.n_mismatched))]
    return {"missing_keys": strs(i.missing_keys, i.n_missing), "unexpected_keys": strs(i.unexpected_keys, i.n_unexpected),
            "mismatched_keys": mm, "error_msgs": [],
            "log": [(i.log_levels[k], i.log_messages[k].decode()) for k in range(i.n_log)]}


class _AutoModelBase:
    _task = "base"

    def __init__(self, *args, **kwargs):
        raise EnvironmentError(f"{type(self).__name__} is designed to be instantiated using the "
                               f"`{type(self).__name__}.from_pretrained(pretrained_model_name_or_path)` or "
                               f"`{type(self).__name__}.from_config(config)` methods.")

    @classmethod
    def _task_id(cls):
        t = ctypes.c_int()
        check(lib.am_task_parse(cls._task.encode(), ctypes.byref(t)))
        return t.value

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, config=None, output_loading_info=False,
                        **kwargs):
        if model_args:
            raise TypeError(f"{cls.__name__}.from_pretrained: positional model arguments are not supported")
        path = os.fspath(pretrained_model_name_or_path)
        opts, keep = load_options(kwargs)
        cfg = None
        if config is not None:
            if not isinstance(config, PretrainedConfig):
                raise TypeError(f"config= must be a PretrainedConfig (from AutoConfig), not {type(config).__name__}")
            cfg = config.copy()
        if kwargs:
            # transformers: keywords that are config attributes update the config; others reach the
            # model's __init__, which refuses them
            if cfg is None:
                from .configuration import AutoConfig
                cfg = AutoConfig.from_pretrained(path, **_hub_kwargs_of(opts))
            for k in list(kwargs):
                if k in cfg or k in ("id2label", "label2id"):
                    setattr(cfg, k, kwargs.pop(k))
            if kwargs:
                raise TypeError(f"__init__() got an unexpected keyword argument '{next(iter(kwargs))}'")
        if cfg is not None:
            opts.config = cfg._ptr
        m = lib.am_model_from_pretrained(cls._task_id(), os.fsencode(path), ctypes.byref(opts))
        if not m:
            raise_status_none()
        model = PreTrainedModel(m, path)
        if output_loading_info:
            return model, _loading_info(m)
        return model

    @classmethod
    def from_config(cls, config, **kwargs):
        if kwargs:
            cfg = config.copy()
            for k, v in kwargs.items():
                setattr(cfg, k, v)
            config = cfg
        seed = _SEED[0] if _SEED[0] is not None else random.getrandbits(63)
        return PreTrainedModel(check_ptr(lib.am_model_from_config(cls._task_id(), config._ptr, seed)))


def _hub_kwargs_of(opts):
    d = {}
    for f in ("revision", "cache_dir", "token", "subfolder"):
        v = getattr(opts, f)
        if v:
            d[f] = v.decode()
    if opts.local_files_only:
        d["local_files_only"] = True
    return d


def raise_status_none():
    from ._lib import last_error
    from .errors import from_status
    raise from_status(None, last_error())


def _auto(name, task):
    return type(name, (_AutoModelBase,), {"_task": task, "__doc__": f"transformers.{name} ({task} head)"})


# Auto class -> the C registry's task (src/auto/registry.c)
AUTO_CLASSES = {
    "AutoModel": "base",
    "AutoModelForSequenceClassification": "sequence-classification",
    "AutoModelForTokenClassification": "token-classification",
    "AutoModelForQuestionAnswering": "question-answering",
    "AutoModelForCausalLM": "causal-lm",
    "AutoModelForMaskedLM": "masked-lm",
    "AutoModelForSeq2SeqLM": "seq2seq-lm",
    "AutoModelForImageClassification": "image-classification",
    "AutoModelForObjectDetection": "object-detection",
    "AutoModelForImageSegmentation": "image-segmentation",
    "AutoModelForSemanticSegmentation": "semantic-segmentation",
    "AutoModelForAudioClassification": "audio-classification",
    "AutoModelForSpeechSeq2Seq": "speech-seq2seq",
    "AutoModelForVision2Seq": "vision2seq",
}
globals().update({n: _auto(n, t) for n, t in AUTO_CLASSES.items()})
