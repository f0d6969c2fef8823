"""Exceptions named as transformers / huggingface_hub raise them, carrying the C library's message.
The hub errors are OSError subclasses, as in huggingface_hub (so `except OSError` catches them, as
transformers' callers do)."""
import re


class HfHubHTTPError(OSError):
    """An HTTP error from the hub (huggingface_hub.utils.HfHubHTTPError)."""


class RepositoryNotFoundError(HfHubHTTPError):
    """The repo id does not exist (or is private and no valid token was given)."""


class GatedRepoError(RepositoryNotFoundError):
    """The repo needs accepted terms / a token with access."""


class RevisionNotFoundError(HfHubHTTPError):
    """The branch, tag or commit does not exist in the repo."""


class EntryNotFoundError(HfHubHTTPError):
    """The file does not exist in the repo at that revision."""


class LocalEntryNotFoundError(EntryNotFoundError, FileNotFoundError):
    """Offline (local_files_only / HF_HUB_OFFLINE) and the file is not in the cache."""


_BY_MESSAGE = [
    (r"is not a local folder and is not a valid model identifier|Repository Not Found|RepoNotFound", RepositoryNotFoundError),
    (r"gated repo|GatedRepo", GatedRepoError),
    (r"Invalid rev id|RevisionNotFound|is not a valid git revision|is not a valid git identifier|revision .* (does not exist|not found)",
     RevisionNotFoundError),
    (r"cannot find the requested files in the (local )?cache|local_files_only|HF_HUB_OFFLINE|offline mode",
     LocalEntryNotFoundError),
    (r"does not appear to have a file named|EntryNotFound|Entry not found", EntryNotFoundError),
]

# am_status -> the exception transformers raises for the same failure
_BY_STATUS = {
    1: ValueError,           # AM_ERR_INVALID_ARGUMENT
    2: OSError,              # AM_ERR_IO
    3: OSError,              # AM_ERR_NOT_FOUND
    4: OSError,              # AM_ERR_FORMAT (a file that cannot be parsed: transformers' OSError / EnvironmentError)
    5: ValueError,           # AM_ERR_UNSUPPORTED
    6: MemoryError,          # AM_ERR_NO_MEMORY
    7: RuntimeError,         # AM_ERR_SHAPE (torch's size-mismatch RuntimeError)
    8: OSError,              # AM_ERR_NETWORK (requests' ConnectionError is an OSError)
    9: HfHubHTTPError,       # AM_ERR_AUTH
    10: RuntimeError,        # AM_ERR_INTERNAL
}


def from_status(status, message):
    """The exception for a C failure. `status` None: a function that returned NULL (the C API gives
    the message only), classified by its wording."""
    for pat, cls in _BY_MESSAGE:
        if re.search(pat, message):
            return cls(message)
    if status is not None:
        return _BY_STATUS.get(status, RuntimeError)(message)
    if re.search(r"out of memory|cannot allocate", message):
        return MemoryError(message)
    if re.search(r"size mismatch", message):
        return RuntimeError(message)
    if re.search(r"No such file|not found|cannot open|cannot read|Permission denied|Is a directory|i/o error|"
                 r"is not a (regular )?file|does not exist|network|HTTP \d{3}|timed out|could not connect|couldn.t connect", message, re.I):
        return OSError(message)
    if re.search(r"401|403|write access|Invalid credentials|token", message):
        return HfHubHTTPError(message)
    return ValueError(message)
