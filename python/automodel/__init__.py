"""automodel: transformers' Auto classes, tokenizers and pipelines without torch, over the
automodel C library (libautomodel.so, through ctypes). numpy is the only dependency."""
from ._lib import LIB_PATH, lib as _clib
from .configuration import AutoConfig, PretrainedConfig
from .errors import (EntryNotFoundError, GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError,
                     RepositoryNotFoundError, RevisionNotFoundError)
from .modeling import AUTO_CLASSES, LOAD_OPTIONS, ModelOutput, PreTrainedModel, set_seed
from .modeling import (AutoModel, AutoModelForAudioClassification, AutoModelForCausalLM,  # noqa: F401
                       AutoModelForImageClassification, AutoModelForImageSegmentation, AutoModelForMaskedLM,
                       AutoModelForObjectDetection, AutoModelForQuestionAnswering, AutoModelForSemanticSegmentation,
                       AutoModelForSeq2SeqLM, AutoModelForSequenceClassification, AutoModelForSpeechSeq2Seq,
                       AutoModelForTokenClassification, AutoModelForVision2Seq)
from .pipelines import Pipeline, pipeline
from .tokenization import AutoTokenizer, BatchEncoding, PreTrainedTokenizerFast
from ._tensors import load_safetensors

__version__ = _clib.am_version().decode()


def cpu_report():
    """The C library's CPU report (ISA in use, kernels), as a dict."""
    import json
    return json.loads(_clib.am_cpu_report_json().decode())


def set_num_threads(n):
    """Worker threads of each model call (process-wide; <= 0 restores the default)."""
    _clib.am_set_num_threads(int(n))


def get_num_threads():
    return int(_clib.am_get_num_threads())
