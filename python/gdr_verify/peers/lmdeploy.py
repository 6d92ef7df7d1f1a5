"""lmdeploy's TileLang fused recurrent gated delta rule as a subject.

The kernel module is found by lmdeploy_module.py (GDR_LMDEPLOY_KERNEL, an installed lmdeploy,
or the peers' bundle). It needs tilelang, and CUDA_HOME for its compiler.

Its interface is the SPEC's: q, k, v, g, beta, a bank read and written in place through
state_indices (int64), circular slots through cache_seqlens (int32), both layouts
(transpose_state_layout). The adapter passes the arguments through; it makes g and beta
contiguous (the wrapper asserts it; a serving engine hands it contiguous ones). Declared
limitations, from the kernel's own asserts and what it computes:
- K % 32 != 0 (its assert: a warp's lanes split K);
- cu_seqlens (no varlen batches in this kernel).
A row the SPEC makes inactive by a negative cache_seqlens is passed the way lmdeploy pads a
batch, a state index outside the bank (and cache_seqlens 0): the kernel takes
cache_seqlens % Slots with C's remainder, so a negative length would name a slot outside the
entry. `raw_subject` passes negative lengths through as they are (peers/FINDINGS.md).
"""

import torch

from .. import Limitation, NotSupported, Subject
from .lmdeploy_module import load_kernel_module


_kernel = load_kernel_module().fused_recurrent_gated_delta_rule

K_MULTIPLE = "K must be a multiple of 32 (lmdeploy asserts it: the lanes of a warp split K)"
NO_VARLEN = "lmdeploy's fused_recurrent_gated_delta_rule has no varlen batches (cu_seqlens)"


def _padded_as_lmdeploy_pads(state_indices, cache_seqlens, rows):
    """(state_indices, cache_seqlens) with each row that a negative cache_seqlens makes
    inactive given a state index outside the bank instead, as lmdeploy pads."""
    padded = cache_seqlens < 0
    if not bool(padded.any()):
        return state_indices, cache_seqlens
    if state_indices is None:
        state_indices = torch.arange(rows, device=cache_seqlens.device, dtype=torch.int64)
    return torch.where(padded, -1, state_indices), torch.where(padded, 0, cache_seqlens)


def _decode(q, k, v, g, beta, state, *, out, state_indices, cache_seqlens, cu_seqlens, layout, scale, use_qk_l2norm,
            output_final_state, pad_negative_seqlens):
    if cu_seqlens is not None:
        raise NotSupported(NO_VARLEN)
    if q.shape[-1] % 32 != 0:
        raise NotSupported(K_MULTIPLE)
    if cache_seqlens is not None and pad_negative_seqlens:
        state_indices, cache_seqlens = _padded_as_lmdeploy_pads(state_indices, cache_seqlens, q.shape[0])
    o, _ = _kernel(q, k, v, g=None if g is None else g.contiguous(), beta=None if beta is None else beta.contiguous(),
                   scale=scale, initial_state=state, output_final_state=output_final_state,
                   use_qk_l2norm_in_kernel=use_qk_l2norm, state_indices=state_indices, cache_seqlens=cache_seqlens,
                   transpose_state_layout=layout == "vk")
    out.copy_(o)


def decode(*args, **kwargs):
    return _decode(*args, **kwargs, pad_negative_seqlens=True)


def decode_raw(*args, **kwargs):
    return _decode(*args, **kwargs, pad_negative_seqlens=False)


_LIMITATIONS = [
    Limitation("k-multiple-of-32", K_MULTIPLE, lambda spec, reason: spec["K"] % 32 != 0),
    Limitation("no-varlen", NO_VARLEN, lambda spec, reason: bool(spec["varlen"])),
]
# The kernel is compiled with TL_ENABLE_FAST_MATH (nvcc --use_fast_math: __expf, approximate
# division and sqrt).
subject = Subject(decode, name="gdr_verify.peers.lmdeploy:subject", device="cuda", framework="torch", math_mode="fast",
                  description="lmdeploy 0.18's TileLang fused_recurrent_gated_delta_rule", limitations=_LIMITATIONS)
raw_subject = Subject(decode_raw, name="gdr_verify.peers.lmdeploy:raw_subject", device="cuda", framework="torch",
                      math_mode="fast", limitations=_LIMITATIONS,
                      description="lmdeploy's kernel with negative cache_seqlens passed through unchanged")
