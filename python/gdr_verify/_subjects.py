"""Python callables as harness subjects: what a subject declares (device, framework, math
mode, limitations), the trampoline the compiled harness calls, and how a
"module:function" reference on the command line becomes a subject."""

import dataclasses
import importlib
import inspect
import typing

from . import _arrays, _core

NotSupported = _core.NotSupported
NotSupported.__doc__ = ("Raised by a subject (or by gdr_verify.decode) for a valid case it does not handle: "
                        "reported NOT_SUPPORTED, never INCORRECT.")

MATH_MODES = ("correctly-rounded", "precise", "fast")


@dataclasses.dataclass(frozen=True)
class Limitation:
    """A valid case the subject declines, stated so that a strict gate can check it.

    covers(spec, reason) -> bool says whether a NOT_SUPPORTED case is this limitation: spec is
    the case as the JSON dict `gdr spec` prints, reason the subject's message. Write it from
    what the kernel documents, not by calling the kernel's own check.
    """
    id: str
    words: str
    covers: typing.Callable[[dict, str], bool]


class Subject:
    """A kernel under test with the SPEC's interface:

        fn(q, k, v, g, beta, state, *, out, state_indices, cache_seqlens, cu_seqlens, layout,
           scale, use_qk_l2norm, output_final_state)

    It writes o into `out` (or returns o, which is copied there) and updates the bank
    `state` in place. The arrays are views of the harness's buffers, valid during the call
    only: host arrays for device='cpu' (framework 'numpy' or 'torch'), CUDA tensors for
    device='cuda' (framework 'torch' or 'cupy'), in the harness's guarded device buffers.
    Raise gdr_verify.NotSupported for a valid case the kernel does not handle, and declare it
    in `limitations`; math_mode is 'correctly-rounded', 'precise' (CUDA's expf, IEEE sqrt and
    division) or 'fast' (fast-math intrinsics, Triton's and TileLang's default exp).
    """

    def __init__(self, fn, *, name=None, device="cpu", framework=None, math_mode="precise", limitations=(),
                 description=None):
        if not callable(fn):
            raise ValueError(f"subject: {fn!r} is not callable")
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device: must be 'cpu' or 'cuda', got {device!r}")
        framework = framework or ("numpy" if device == "cpu" else "torch")
        allowed = ("numpy", "torch") if device == "cpu" else ("torch", "cupy")
        if framework not in allowed:
            raise ValueError(f"framework: a {device} subject takes {' or '.join(allowed)} arrays, not {framework!r}")
        if math_mode not in MATH_MODES:
            raise ValueError(f"math_mode: must be one of {', '.join(MATH_MODES)}, got {math_mode!r}")
        for limitation in limitations:
            if not isinstance(limitation, Limitation):
                raise ValueError(f"limitations: {limitation!r} is not a gdr_verify.Limitation")
        self.fn = fn
        self.name = name or reference_of(fn)
        self.device = device
        self.framework = framework
        self.math_mode = math_mode
        self.limitations = tuple(limitations)
        self.description = description or (inspect.getdoc(fn) or "").split("\n")[0] or f"the Python callable {self.name}"

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def renamed(self, name):
        return Subject(self.fn, name=name, device=self.device, framework=self.framework, math_mode=self.math_mode,
                       limitations=self.limitations, description=self.description)

    def declaration(self):
        """What the compiled harness registers (python/src/python_subject.hpp)."""
        return dict(name=self.name, description=self.description, device=self.device, math_mode=self.math_mode,
                    limitations=list(self.limitations), call=_trampoline(self.fn, self.framework))


def subject(fn=None, **declaration):
    """Decorator: @gdr_verify.subject(device='cuda', limitations=[...]) makes a Subject."""
    if fn is not None:
        return Subject(fn, **declaration)
    return lambda function: Subject(function, **declaration)


def as_subject(fn_or_subject):
    return fn_or_subject if isinstance(fn_or_subject, Subject) else Subject(fn_or_subject)


def reference_of(fn):
    """'module:qualname', the name `python -m gdr_verify --subject` imports it by."""
    return f"{getattr(fn, '__module__', None) or '__main__'}:{getattr(fn, '__qualname__', type(fn).__name__)}"


def _trampoline(fn, framework):
    def call(arrays, settings):
        dtypes = settings["dtypes"]
        t = {name: None if array is None else _arrays.view_as(dtypes.get(name), array, framework)
             for name, array in arrays.items()}
        out = t["o"]
        result = fn(t["q"], t["k"], t["v"], t["g"], t["beta"], t["state"], out=out,
                    state_indices=t["state_indices"], cache_seqlens=t["cache_seqlens"], cu_seqlens=t["cu_seqlens"],
                    layout=settings["layout"], scale=settings["scale"], use_qk_l2norm=settings["use_qk_l2norm"],
                    output_final_state=settings["output_final_state"])
        if result is not None and result is not out:
            _copy_into(out, result)
    return call


def _copy_into(out, result):
    if isinstance(result, tuple):
        raise TypeError("a subject returns o or None (the bank is updated in place), not a tuple")
    if tuple(result.shape) != tuple(out.shape):
        raise ValueError(f"the returned o has shape {tuple(result.shape)}, expected {tuple(out.shape)}")
    if hasattr(out, "copy_"):
        out.copy_(result)
    else:
        out[...] = result


def resolve(reference):
    """The Subject a "module:function" reference names (a Subject or a plain callable there),
    registered under that reference so that reproduce lines import it again."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"subject: {reference!r} is neither a built-in subject nor 'module:function'")
    try:
        target = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"subject: cannot import {module_name!r} for {reference!r}: {error}") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ValueError(f"subject: {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    return as_subject(target).renamed(reference)


def builtin_names():
    return set(_core.builtin_subject_names())
