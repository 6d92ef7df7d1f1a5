"""gdr_verify: verify gated delta rule kernels (Gated DeltaNet decode) against an Eigen oracle.

    decode(q, k, v, g, beta, state, ...)   this project's decode kernel (CUDA tensors) in place
    chunked_prefill(q, k, v, g, beta, state, ...)   its chunked prefill kernel (CUDA tensors) in place
    oracle(q, k, v, g, beta, state, ...)   the reference, R64 or Rlp, on host arrays
    oracle_chunked(q, k, v, g, beta, state, chunk_size=..., ...)   the chunked form's oracle
                                            (prefill kernels): R64 or a chunk kernel's Rlp, checkpoints
    check / verify / fuzz / replay          the harness on any Python callable (a Subject)

The semantics are docs/SPEC.md's; the harness's rules, reports and exit codes are the gdr
tool's (python -m gdr_verify runs its verbs with Python subjects).
"""

from . import _core
from ._decode import CHUNK_ROUNDING_POINTS, chunked_prefill, decode, oracle, oracle_chunked
from ._harness import Result, check, fuzz, main, replay, run, verify
from ._subjects import Limitation, NotSupported, Subject, subject

__version__ = _core.version
built_with_cuda = _core.built_with_cuda

__all__ = ["decode", "chunked_prefill", "oracle", "oracle_chunked", "CHUNK_ROUNDING_POINTS", "check", "verify", "fuzz", "replay", "run", "main", "Result", "Subject", "subject",
           "Limitation", "NotSupported", "built_with_cuda", "__version__"]
