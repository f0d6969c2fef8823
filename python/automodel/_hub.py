"""Hub look-ups for the Python classes: a local folder is used as is; a repo id goes through the C
library's cache (hf_hub_download semantics, the same cache transformers uses)."""
import ctypes
import os

from ._lib import DownloadOptions, check, enc, lib, take_str
from . import errors

HUB_KWARGS = ("cache_dir", "revision", "token", "use_auth_token", "local_files_only", "force_download", "subfolder",
              "resume_download", "proxies")


def token_value(token):
    """transformers' token: a string, True (the stored token: the library's default), None/False (none given)."""
    if token is None or token is True:
        return None
    if token is False:
        return None
    if not isinstance(token, str):
        raise TypeError(f"token must be a string, True or None, not {type(token).__name__}")
    return token


def download_options(kw):
    o = lib.am_download_options_default()
    o.revision = enc(kw.get("revision"))
    o.cache_dir = enc(os.fspath(kw["cache_dir"])) if kw.get("cache_dir") is not None else None
    o.token = enc(token_value(kw.get("token", kw.get("use_auth_token"))))
    o.local_files_only = bool(kw.get("local_files_only", False))
    o.force_download = bool(kw.get("force_download", False))
    return o


def check_unsupported(kw):
    if kw.get("proxies"):
        raise NotImplementedError("proxies= is not supported: set HTTPS_PROXY in the environment (libcurl reads it)")
    # resume_download: downloads always resume (huggingface_hub >= 0.23 made it the only behaviour)


def hub_file(repo, filename, kw, required=True):
    """The local path of `filename` of a repo id (downloaded into the cache), or None when the repo
    has no such file and not required."""
    sub = kw.get("subfolder")
    if sub:
        filename = f"{sub.strip('/')}/{filename}"
    o = download_options(kw)
    out = ctypes.c_void_p()
    st = lib.am_hub_download_file(repo.encode(), filename.encode(), ctypes.byref(o), ctypes.byref(out))
    if st:
        msg = lib.am_last_error().decode("utf-8", "replace")
        e = errors.from_status(st, msg)
        if not required and isinstance(e, errors.EntryNotFoundError):
            return None
        raise e
    return take_str(out.value)


def is_local(path):
    return os.path.isdir(path) or os.path.isfile(path)
