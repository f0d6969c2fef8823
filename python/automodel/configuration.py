"""AutoConfig / PretrainedConfig over am_config."""
import json
import os

from ._lib import check, check_ptr, enc, lib, take_str
from . import _hub


def _labels_in(v):
    return {int(k): x for k, x in v.items()} if isinstance(v, dict) else v


class PretrainedConfig:
    """A model configuration with transformers' attribute access. Reads go to the C config (values
    from config.json, else the architecture's transformers defaults); writes change it."""

    def __init__(self, _ptr, _owned=True, _owner=None):
        object.__setattr__(self, "_ptr", _ptr)
        object.__setattr__(self, "_owned", _owned)
        object.__setattr__(self, "_owner", _owner)  # keeps a model alive while its config is used

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        return AutoConfig.from_pretrained(pretrained_model_name_or_path, **kwargs)

    def __del__(self):
        if self.__dict__.get("_owned") and self.__dict__.get("_ptr"):
            lib.am_config_free(self._ptr)
            object.__setattr__(self, "_ptr", None)

    @property
    def model_type(self):
        return lib.am_config_model_type(self._ptr).decode()

    def __getattr__(self, key):
        if key.startswith("__"):
            raise AttributeError(key)
        p = self.__dict__.get("_ptr")
        if not p or not lib.am_config_has(p, key.encode()):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{key}'")
        v = json.loads(take_str(lib.am_config_get_json(p, key.encode())))
        return _labels_in(v) if key in ("id2label",) else v

    def __setattr__(self, key, value):
        if key.startswith("_") and key in self.__dict__:
            object.__setattr__(self, key, value)
            return
        if key == "num_labels":
            check(lib.am_config_set_num_labels(self._ptr, int(value)))
            return
        if key == "id2label" and isinstance(value, dict):
            value = {str(k): v for k, v in value.items()}
        check(lib.am_config_set_json(self._ptr, key.encode(), json.dumps(value).encode()))

    def __contains__(self, key):
        return bool(lib.am_config_has(self._ptr, key.encode()))

    @property
    def num_labels(self):
        return len(self.id2label)

    @property
    def use_return_dict(self):
        return self.return_dict

    def to_dict(self):
        d = json.loads(take_str(lib.am_config_to_dict_json(self._ptr)))
        if isinstance(d.get("id2label"), dict):
            d["id2label"] = _labels_in(d["id2label"])
        return d

    def to_diff_dict(self):
        return json.loads(self.to_json_string())

    def to_json_string(self, use_diff=True):
        if use_diff:
            return take_str(lib.am_config_to_json_string(self._ptr))
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, json_file_path, use_diff=True):
        with open(json_file_path, "w", encoding="utf-8") as f:
            f.write(self.to_json_string(use_diff=use_diff))

    def save_pretrained(self, save_directory, push_to_hub=False, **kwargs):
        if push_to_hub or kwargs:
            raise NotImplementedError("PretrainedConfig.save_pretrained: push_to_hub and other options are not supported")
        if os.path.isfile(save_directory):
            raise AssertionError(f"Provided path ({save_directory}) should be a directory, not a file")
        os.makedirs(save_directory, exist_ok=True)
        tmp = os.path.join(save_directory, ".config.json.tmp")
        self.to_json_file(tmp)
        os.replace(tmp, os.path.join(save_directory, "config.json"))

    def __repr__(self):
        return take_str(lib.am_config_repr(self._ptr))

    def __eq__(self, other):
        return isinstance(other, PretrainedConfig) and self.to_dict() == other.to_dict()

    def copy(self):
        return PretrainedConfig(check_ptr(lib.am_config_copy(self._ptr)))

    __copy__ = copy

    def __deepcopy__(self, memo):
        return self.copy()


class AutoConfig:
    """transformers.AutoConfig."""

    def __init__(self):
        raise EnvironmentError("AutoConfig is designed to be instantiated using the "
                               "`AutoConfig.from_pretrained(pretrained_model_name_or_path)` method.")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        path = os.fspath(pretrained_model_name_or_path)
        return_unused = kwargs.pop("return_unused_kwargs", False)
        kwargs.pop("trust_remote_code", None) and _refuse_remote_code()
        hub = {k: kwargs.pop(k) for k in list(kwargs) if k in _hub.HUB_KWARGS}
        _hub.check_unsupported(hub)
        if os.path.isdir(path):
            sub = hub.get("subfolder")
            p = os.path.join(path, sub) if sub else path
        elif os.path.isfile(path):
            p = path
        else:
            p = _hub.hub_file(path, "config.json", hub)
        cfg = PretrainedConfig(check_ptr(lib.am_config_from_pretrained(os.fsencode(p))))
        unused = {}
        for k, v in kwargs.items():
            if k in cfg or k == "num_labels":
                setattr(cfg, k, v)
            else:
                unused[k] = v
        if return_unused:
            return cfg, unused
        if unused:
            raise TypeError(f"AutoConfig.from_pretrained got keyword arguments that are not attributes of "
                            f"{type(cfg).__name__}({cfg.model_type}): {', '.join(sorted(unused))} "
                            "(return_unused_kwargs=True returns them instead)")
        return cfg

    @staticmethod
    def from_dict(config_dict, **kwargs):
        d = dict(config_dict)
        d.update(kwargs)
        return PretrainedConfig(check_ptr(lib.am_config_from_json(json.dumps(d).encode(), b"<dict>")))


def _refuse_remote_code():
    raise NotImplementedError("trust_remote_code=True: automodel runs no Python code from a repository")
