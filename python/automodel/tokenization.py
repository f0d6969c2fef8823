"""AutoTokenizer over am_tokenizer (transformers' PreTrainedTokenizerFast behaviour)."""
import ctypes
import os

import numpy as np

from ._lib import EncodeOptions, Handle, check, check_ptr, lib, take_str
from . import _hub

_TRUNC = {False: 0, None: 0, "do_not_truncate": 0, True: 1, "longest_first": 1, "only_first": 2, "only_second": 3}
_PAD = {False: 0, None: 0, "do_not_pad": 0, True: 1, "longest": 1, "max_length": 2}
_SIDE = {"right": 1, "left": 2}
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json",
                    "merges.txt", "added_tokens.json")


class BatchEncoding(dict):
    """transformers' BatchEncoding: a dict of model inputs with attribute access, plus the
    per-row tokens and word ids of the fast tokenizer."""

    def __init__(self, data=None, tokens=None, word_ids=None):
        super().__init__(data or {})
        self._tokens = tokens or []
        self._word_ids = word_ids or []

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def tokens(self, batch_index=0):
        return list(self._tokens[batch_index])

    def word_ids(self, batch_index=0):
        return list(self._word_ids[batch_index])

    def words(self, batch_index=0):
        return self.word_ids(batch_index)

    def convert_to_tensors(self, tensor_type="np"):
        if tensor_type != "np":
            raise ValueError(f"return_tensors={tensor_type!r}: only 'np' (numpy) is available without torch")
        for k, v in self.items():
            self[k] = np.asarray(v)
        return self

    def to(self, device):
        if str(device) != "cpu":
            raise ValueError(f"device {device!r}: automodel runs on the CPU only")
        return self


def _ids_list(token_ids):
    a = np.asarray(token_ids)
    if a.ndim == 0:
        return [int(a)]
    if a.ndim != 1:
        raise ValueError(f"decode takes one sequence of ids (got shape {a.shape}); use batch_decode")
    return [int(x) for x in a]


class PreTrainedTokenizerFast(Handle):
    """A loaded tokenizer. Safe for concurrent calls once loaded (the attributes below are
    per-object settings, as in transformers)."""

    def __init__(self, _ptr, name_or_path):
        self._ptr = _ptr
        self.name_or_path = name_or_path
        self.padding_side = "right"
        self.truncation_side = "right"
        self._pad_token = None
        self._model_max_length = None
        enc = self._encode_batch(["a"], None, None)
        try:
            t = lib.am_encodings_to_tensors(self._ptr, enc, 1)
            names = {lib.am_tensors_name(t, i).decode() for i in range(lib.am_tensors_count(t))} if t else set()
            if t:
                lib.am_tensors_free(t)
        finally:
            lib.am_encoding_free(enc[0])
        self.model_input_names = [n for n in ("input_ids", "token_type_ids", "attention_mask") if n in names]

    def __del__(self):
        self._release(lib.am_tokenizer_free)

    # ---- special tokens and vocabulary
    def _special(self, f):
        s = f(self._ptr)
        return s.decode() if s else None

    @property
    def pad_token(self):
        return self._pad_token if self._pad_token is not None else self._special(lib.am_tokenizer_pad_token)

    @pad_token.setter
    def pad_token(self, value):
        self._pad_token = value

    @property
    def eos_token(self):
        return self._special(lib.am_tokenizer_eos_token)

    @property
    def bos_token(self):
        return self._special(lib.am_tokenizer_bos_token)

    @property
    def pad_token_id(self):
        return self.convert_tokens_to_ids(self.pad_token) if self.pad_token is not None else None

    @property
    def eos_token_id(self):
        return self.convert_tokens_to_ids(self.eos_token) if self.eos_token is not None else None

    @property
    def bos_token_id(self):
        return self.convert_tokens_to_ids(self.bos_token) if self.bos_token is not None else None

    @property
    def model_max_length(self):
        if self._model_max_length is not None:
            return self._model_max_length
        return int(lib.am_tokenizer_model_max_length(self._ptr))

    @model_max_length.setter
    def model_max_length(self, v):
        self._model_max_length = int(v)

    def __len__(self):
        return int(lib.am_tokenizer_vocab_size(self._ptr))

    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str):
            i = lib.am_tokenizer_token_to_id(self._ptr, tokens.encode())
            return None if i < 0 else int(i)
        return [self.convert_tokens_to_ids(t) for t in tokens]

    def convert_ids_to_tokens(self, ids, skip_special_tokens=False):
        if isinstance(ids, (int, np.integer)):
            s = lib.am_tokenizer_id_to_token(self._ptr, int(ids))
            return s.decode() if s else None
        return [self.convert_ids_to_tokens(i) for i in ids]

    # ---- encoding
    def _options(self, add_special_tokens, padding, truncation, max_length, stride, pad_to_multiple_of):
        o = lib.am_encode_options_default()
        o.add_special_tokens = bool(add_special_tokens)
        if padding not in _PAD:
            raise ValueError(f"padding={padding!r}: expected True, False, 'longest', 'max_length' or 'do_not_pad'")
        if truncation not in _TRUNC:
            raise ValueError(f"truncation={truncation!r}: expected True, False, 'longest_first', 'only_first', "
                             "'only_second' or 'do_not_truncate'")
        pad = _PAD[padding]
        trunc = _TRUNC[truncation]
        if truncation is None and max_length is not None and padding != "max_length":
            trunc = 1  # transformers: max_length without truncation= means longest_first (with a warning)
        o.truncation = trunc
        o.padding = pad
        if max_length is not None:
            o.max_length = int(max_length)
            o.pad_length = int(max_length)
        elif self._model_max_length is not None:
            o.max_length = self._model_max_length
        o.stride = int(stride)
        if pad_to_multiple_of:
            o.pad_to_multiple_of = int(pad_to_multiple_of)
        for side, name in ((self.padding_side, "padding_side"), (self.truncation_side, "truncation_side")):
            if side not in _SIDE:
                raise ValueError(f"{name} must be 'right' or 'left', not {side!r}")
        o.padding_side = _SIDE[self.padding_side]
        o.truncation_side = _SIDE[self.truncation_side]
        if self._pad_token is not None:
            self._pad_bytes = self._pad_token.encode()
            o.pad_token = self._pad_bytes
        return o

    def _encode_batch(self, texts, pairs, opts):
        n = len(texts)
        bt = [t.encode("utf-8") for t in texts]
        arr = (ctypes.c_char_p * n)(*bt)
        lens = (ctypes.c_size_t * n)(*[len(b) for b in bt])
        parr = plens = None
        if pairs is not None:
            bp = [t.encode("utf-8") for t in pairs]
            parr = (ctypes.c_char_p * n)(*bp)
            plens = (ctypes.c_size_t * n)(*[len(b) for b in bp])
        out = (ctypes.c_void_p * n)()
        o = opts if opts is not None else lib.am_encode_options_default()
        check(lib.am_tokenizer_encode_batch_n(self._ptr, n, arr, lens, parr, plens, ctypes.byref(o), out))
        return out

    def __call__(self, text=None, text_pair=None, add_special_tokens=True, padding=False, truncation=None,
                 max_length=None, stride=0, is_split_into_words=False, pad_to_multiple_of=None, return_tensors=None,
                 return_token_type_ids=None, return_attention_mask=None, return_overflowing_tokens=False,
                 return_special_tokens_mask=False, return_offsets_mapping=False, return_length=False, verbose=True,
                 **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}.__call__() got unexpected keyword arguments: {', '.join(kwargs)}")
        if text is None:
            raise ValueError("You need to specify either `text` or `text_target`.")
        if is_split_into_words:
            raise NotImplementedError("is_split_into_words=True is not supported")
        if return_overflowing_tokens:
            raise NotImplementedError("return_overflowing_tokens=True is not supported")
        if return_tensors not in (None, "np"):
            raise ValueError(f"return_tensors={return_tensors!r}: automodel returns numpy arrays only ('np'); "
                             "there is no torch/tensorflow/jax here")
        batched = isinstance(text, (list, tuple))
        texts = list(text) if batched else [text]
        pairs = None
        if text_pair is not None:
            pairs = list(text_pair) if batched else [text_pair]
            if len(pairs) != len(texts):
                raise ValueError(f"batch length of `text`: {len(texts)} does not match batch length of "
                                 f"`text_pair`: {len(pairs)}.")
        for t in texts + (pairs or []):
            if not isinstance(t, str):
                raise ValueError("text input must be of type `str` (single example), `List[str]` (batch or single "
                                 "pretokenized example) or `List[List[str]]` (batch of pretokenized examples).")
        opts = self._options(add_special_tokens, padding, truncation, max_length, stride, pad_to_multiple_of)
        encs = self._encode_batch(texts, pairs, opts)
        try:
            rows = []
            for i in range(len(texts)):
                e = encs[i]
                n = lib.am_encoding_len(e)
                row = {
                    "input_ids": [lib.am_encoding_ids(e)[k] for k in range(n)],
                    "token_type_ids": [lib.am_encoding_type_ids(e)[k] for k in range(n)],
                    "attention_mask": [lib.am_encoding_attention_mask(e)[k] for k in range(n)],
                    "special_tokens_mask": [lib.am_encoding_special_tokens_mask(e)[k] for k in range(n)],
                }
                wid = lib.am_encoding_word_ids(e)
                row["_word_ids"] = [None if wid[k] < 0 else int(wid[k]) for k in range(n)]
                toks = []
                for k in range(n):
                    ln = ctypes.c_size_t()
                    s = lib.am_encoding_token_n(e, k, ctypes.byref(ln))
                    toks.append(ctypes.string_at(s, ln.value).decode("utf-8", "replace"))
                row["_tokens"] = toks
                if return_offsets_mapping:
                    offs = []
                    for k in range(n):
                        a, b = ctypes.c_size_t(), ctypes.c_size_t()
                        lib.am_encoding_offsets(e, k, ctypes.byref(a), ctypes.byref(b))
                        offs.append((a.value, b.value))
                    row["offset_mapping"] = offs
                rows.append(row)
        finally:
            for i in range(len(texts)):
                lib.am_encoding_free(encs[i])
        keys = ["input_ids"]
        if return_token_type_ids or (return_token_type_ids is None and "token_type_ids" in self.model_input_names):
            keys.append("token_type_ids")
        if return_attention_mask is None or return_attention_mask:
            keys.append("attention_mask")
        if return_special_tokens_mask:
            keys.append("special_tokens_mask")
        if return_offsets_mapping:
            keys.append("offset_mapping")
        data = {k: [r[k] for r in rows] for k in keys}
        if return_length:
            data["length"] = [len(r["input_ids"]) for r in rows]
        if return_tensors == "np":
            if len({len(r["input_ids"]) for r in rows}) > 1:
                raise ValueError("Unable to create tensor, you should probably activate truncation and/or padding with "
                                 "'padding=True' 'truncation=True' to have batched tensors with the same length.")
            data = {k: np.asarray(v, dtype=np.int64) for k, v in data.items()}
        elif not batched:
            data = {k: (v[0] if k != "length" else v) for k, v in data.items()}
        return BatchEncoding(data, [r["_tokens"] for r in rows], [r["_word_ids"] for r in rows])

    def encode(self, text, text_pair=None, add_special_tokens=True, padding=False, truncation=None, max_length=None,
               stride=0, return_tensors=None, **kwargs):
        out = self(text, text_pair, add_special_tokens=add_special_tokens, padding=padding, truncation=truncation,
                   max_length=max_length, stride=stride, return_tensors=return_tensors, **kwargs)
        return out["input_ids"]

    def tokenize(self, text, pair=None, add_special_tokens=False, **kwargs):
        return self(text, pair, add_special_tokens=add_special_tokens, **kwargs).tokens()

    # ---- decoding
    def decode(self, token_ids, skip_special_tokens=False, clean_up_tokenization_spaces=None, **kwargs):
        if kwargs:
            raise TypeError(f"decode() got unexpected keyword arguments: {', '.join(kwargs)}")
        ids = _ids_list(token_ids)
        arr = (ctypes.c_int32 * max(len(ids), 1))(*ids)
        o = lib.am_decode_options_default()
        o.skip_special_tokens = bool(skip_special_tokens)
        o.clean_up_tokenization_spaces = -1 if clean_up_tokenization_spaces is None else int(bool(clean_up_tokenization_spaces))
        ln = ctypes.c_size_t()
        p = check_ptr(lib.am_tokenizer_decode_n(self._ptr, arr, len(ids), ctypes.byref(o), ctypes.byref(ln)))
        try:
            return ctypes.string_at(p, ln.value).decode("utf-8", "replace")
        finally:
            lib.am_free(p)

    def batch_decode(self, sequences, skip_special_tokens=False, clean_up_tokenization_spaces=None, **kwargs):
        return [self.decode(s, skip_special_tokens=skip_special_tokens,
                            clean_up_tokenization_spaces=clean_up_tokenization_spaces, **kwargs) for s in sequences]

    def __repr__(self):
        return (f"PreTrainedTokenizerFast(name_or_path='{self.name_or_path}', vocab_size={len(self)}, "
                f"model_max_length={self.model_max_length}, is_fast=True, padding_side='{self.padding_side}', "
                f"truncation_side='{self.truncation_side}')")

    is_fast = True


class AutoTokenizer:
    """transformers.AutoTokenizer (fast tokenizers: tokenizer.json, or vocab.txt / vocab.json +
    merges.txt converted as transformers converts them)."""

    def __init__(self):
        raise EnvironmentError("AutoTokenizer is designed to be instantiated using the "
                               "`AutoTokenizer.from_pretrained(pretrained_model_name_or_path)` method.")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *inputs, **kwargs):
        if inputs:
            raise TypeError("AutoTokenizer.from_pretrained takes the path or repo id only as a positional argument")
        path = os.fspath(pretrained_model_name_or_path)
        hub = {k: kwargs.pop(k) for k in list(kwargs) if k in _hub.HUB_KWARGS}
        _hub.check_unsupported(hub)
        use_fast = kwargs.pop("use_fast", True)
        if not use_fast:
            raise NotImplementedError("use_fast=False: automodel has the fast (tokenizers) implementation only")
        if kwargs.pop("trust_remote_code", False):
            raise NotImplementedError("trust_remote_code=True: automodel runs no Python code from a repository")
        sides = {k: kwargs.pop(k) for k in ("padding_side", "truncation_side", "model_max_length", "pad_token")
                 if k in kwargs}
        if kwargs:
            raise TypeError(f"AutoTokenizer.from_pretrained got unsupported keyword arguments: {', '.join(sorted(kwargs))}")
        if _hub.is_local(path):
            sub = hub.get("subfolder")
            p = os.path.join(path, sub) if sub and os.path.isdir(path) else path
        elif any(hub.get(k) for k in ("cache_dir", "revision", "token", "use_auth_token", "local_files_only",
                                      "force_download", "subfolder")):
            got = [_hub.hub_file(path, f, hub, required=False) for f in _TOKENIZER_FILES]
            got = [g for g in got if g]
            if not got:
                raise OSError(f"Can't load tokenizer for '{path}': it has none of {', '.join(_TOKENIZER_FILES)}")
            p = os.path.dirname(got[0])
        else:
            p = path  # the C library resolves a repo id through the cache itself
        tok = PreTrainedTokenizerFast(check_ptr(lib.am_tokenizer_from_pretrained(os.fsencode(p))), path)
        for k, v in sides.items():
            setattr(tok, k, v)
        return tok
