"""pipeline(task, model=...) over am_pipeline_call: the call's keyword arguments go to the C
pipeline as JSON (checked there by name and type), and its JSON answer is parsed into
transformers' Python results."""
import ctypes
import json
import os

from ._lib import Handle, PipelineOptions, check, check_ptr, lib, take_str, raise_status
from .modeling import load_options, PreTrainedModel
from .tokenization import PreTrainedTokenizerFast
from . import errors

# transformers' aliases (transformers.pipelines.TASK_ALIASES)
TASK_ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}
IMAGE_TASKS = ("image-classification", "object-detection", "image-segmentation", "image-to-text")


class Pipeline(Handle):
    """One loaded pipeline; as in transformers, one call at a time (use one per thread)."""

    def __init__(self, task, ptr, call_defaults):
        self.task = task
        self._ptr = ptr
        self._defaults = call_defaults
        names = lib.am_pipeline_call_kwargs(ptr)
        self.call_kwargs = []
        i = 0
        while names and names[i]:
            self.call_kwargs.append(names[i].decode())
            i += 1

    def __del__(self):
        self._release(lib.am_pipeline_free)

    def __call__(self, inputs=None, *args, **kwargs):
        if args:
            raise TypeError(f"{self.task} pipeline: one positional input (a string or a list) only")
        kw = dict(self._defaults)
        kw.update(kwargs)
        single = True
        if self.task == "question-answering":
            if inputs is None and "question" in kw and "context" in kw:
                q, c = kw.pop("question"), kw.pop("context")
                if isinstance(q, list) or isinstance(c, list):
                    qs = q if isinstance(q, list) else [q] * len(c)
                    cs = c if isinstance(c, list) else [c] * len(qs)
                    items, single = [json.dumps({"question": a, "context": b}) for a, b in zip(qs, cs)], False
                else:
                    kw["question"], kw["context"] = q, c
                    items = []
            else:
                lst = inputs if isinstance(inputs, list) else [inputs]
                single = not isinstance(inputs, list)
                for x in lst:
                    if not isinstance(x, dict) or "question" not in x or "context" not in x:
                        raise ValueError("question-answering takes question= and context=, or dicts "
                                         "{'question': ..., 'context': ...}")
                items = [json.dumps({"question": x["question"], "context": x["context"]}) for x in lst]
        else:
            if inputs is None:
                raise ValueError(f"{self.task} pipeline: no input given")
            single = not isinstance(inputs, (list, tuple))
            items = [inputs] if single else list(inputs)
            for x in items:
                if not isinstance(x, (str, os.PathLike)):
                    what = "an image file path" if self.task in IMAGE_TASKS else "a string"
                    raise ValueError(f"{self.task} pipeline: each input must be {what}, not {type(x).__name__}")
            items = [os.fspath(x) for x in items]
        n = len(items)
        arr = (ctypes.c_char_p * max(n, 1))(*[s.encode("utf-8") for s in items])
        out = (ctypes.c_void_p * max(n, 1))()
        kwj = json.dumps(kw).encode() if kw else None
        st = lib.am_pipeline_call(self._ptr, n, arr, kwj, out)
        if st:
            raise_status(st)
        nres = max(n, 1)
        try:
            if single:
                res = json.loads(take_str(lib.am_pipeline_result_json(out[0])))
                _raise_input_error(res)
                return res
            res = json.loads(take_str(lib.am_pipeline_results_json(out, n)))
            for r in res:
                _raise_input_error(r)
            return res
        finally:
            for i in range(nres):
                if out[i]:
                    lib.am_pipeline_result_free(out[i])

    @property
    def model(self):
        """The pipeline's model (borrowed: it keeps the pipeline alive)."""
        m = PreTrainedModel.__new__(_Borrowed)
        m._owner, m._ptr, m.name_or_path, m.loading_info = self, lib.am_pipeline_model(self._ptr), "", None
        return m


class _Borrowed(PreTrainedModel):
    def __del__(self):
        pass


def _raise_input_error(res):
    if isinstance(res, dict) and set(res) == {"error"}:
        raise ValueError(res["error"])


# pipeline(...) keyword -> am_pipeline_options field, for those that are options of the pipeline
# object rather than of a call
def pipeline(task=None, model=None, config=None, tokenizer=None, feature_extractor=None, image_processor=None,
             framework=None, revision=None, use_fast=True, token=None, device=None, device_map=None,
             torch_dtype=None, trust_remote_code=None, model_kwargs=None, batch_size=None, **kwargs):
    """transformers.pipeline for the tasks of the C library (text-classification /
    sentiment-analysis, token-classification / ner, question-answering, fill-mask,
    image-classification, object-detection, image-segmentation, image-to-text). Other keyword
    arguments are the task's call arguments (top_k, function_to_apply, aggregation_strategy, ...),
    used as defaults of every call, as transformers does."""
    if task is None:
        raise RuntimeError("Impossible to instantiate a pipeline without either a task or a model being specified.")
    if model is None:
        raise ValueError(f"pipeline({task!r}): give model= (a folder or a hub id); automodel downloads no default model")
    task = TASK_ALIASES.get(task, task)
    t = ctypes.c_int()
    check(lib.am_pipeline_task_parse(task.encode(), ctypes.byref(t)))
    if framework not in (None, "pt"):
        raise ValueError(f"framework={framework!r}: automodel runs the PyTorch checkpoints only")
    if device not in (None, -1, "cpu") or (device_map not in (None, "cpu", "auto")):
        raise ValueError(f"device={device!r} / device_map={device_map!r}: automodel runs on the CPU only")
    if trust_remote_code:
        raise NotImplementedError("trust_remote_code=True: automodel runs no Python code from a repository")
    if not use_fast:
        raise NotImplementedError("use_fast=False: automodel has the fast tokenizers only")
    if config is not None:
        raise NotImplementedError("pipeline(config=...) is not supported: the model folder's config.json is used")
    path = model.name_or_path if isinstance(model, PreTrainedModel) else os.fspath(model)
    tok = tokenizer.name_or_path if isinstance(tokenizer, PreTrainedTokenizerFast) else tokenizer
    for name, v in (("feature_extractor", feature_extractor), ("image_processor", image_processor)):
        if v is not None and os.fspath(v) != path:
            raise NotImplementedError(f"{name}= other than the model folder is not supported")
    lk = dict(model_kwargs or {})
    for k, v in (("revision", revision), ("token", token), ("torch_dtype", torch_dtype)):
        if v is not None:
            lk[k] = v
    lo, keep = load_options(lk)
    if lk:
        raise TypeError(f"pipeline: model_kwargs not understood: {', '.join(lk)}")
    o = lib.am_pipeline_options_default()
    o.load = ctypes.pointer(lo)
    tok_b = os.fspath(tok).encode() if tok is not None else None
    o.tokenizer = tok_b
    if batch_size is not None:
        o.batch_size = int(batch_size)
    ignore = kwargs.pop("ignore_labels", None)
    if ignore is not None:
        keep_labels = [str(x).encode() for x in ignore]
        o.ignore_labels = (ctypes.c_char_p * max(len(keep_labels), 1))(*keep_labels)
        o.n_ignore_labels = len(keep_labels)
    out_dir = kwargs.pop("output_dir", None)
    out_b = os.fspath(out_dir).encode() if out_dir is not None else None
    o.output_dir = out_b
    p = check_ptr(lib.am_pipeline_new(t.value, path.encode(), ctypes.byref(o)))
    pipe = Pipeline(task, p, {})
    unknown = [k for k in kwargs if k not in pipe.call_kwargs]
    if unknown:
        raise TypeError(f"{task} pipeline: unknown keyword arguments {', '.join(unknown)} "
                        f"(it takes {', '.join(pipe.call_kwargs)})")
    pipe._defaults = kwargs
    return pipe
