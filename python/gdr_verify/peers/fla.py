"""fla's fused recurrent gated delta rule (fla-core, Triton) as a subject.

fla's kernel reads a dense initial state [N, HV, K, V] (state_v_first: [N, HV, V, K]), row n
reading entry n, and returns a new fp32 final state; it has no state_indices and no circular
slots. The adapter presents it through the SPEC's interface the way a serving engine would
call it: it gathers the rows' bank entries (zeros for inactive rows), calls fla, zeroes the
inactive rows' output and scatters the active rows' final states back into the bank, rounded
once to the bank's dtype. Circular cases are NOT_SUPPORTED (declared). Everything else
(g or beta absent, grouped heads, l2norm, varlen through cu_seqlens, strided views) goes to
fla as the caller gave it.
"""

import torch
from fla.ops.gated_delta_rule import fused_recurrent_gated_delta_rule

from .. import Limitation, NotSupported, Subject

NO_CIRCULAR = "fla's fused_recurrent_gated_delta_rule has no circular state slots (cache_seqlens)"


def _token_rows(cu_seqlens, total):
    """The sequence each of `total` tokens belongs to."""
    lengths = (cu_seqlens[1:] - cu_seqlens[:-1]).to(torch.int64)
    return torch.repeat_interleave(torch.arange(lengths.numel(), device=cu_seqlens.device), lengths, output_size=total)


def decode(q, k, v, g, beta, state, *, out, state_indices, cache_seqlens, cu_seqlens, layout, scale, use_qk_l2norm,
           output_final_state):
    if cache_seqlens is not None:
        raise NotSupported(NO_CIRCULAR)
    bank = state if state.dim() == 4 else state[:, 0]  # not circular: slot 0 is read and written
    rows = q.shape[0] if cu_seqlens is None else cu_seqlens.numel() - 1
    if rows == 0 or q.shape[1] == 0:
        return  # no token: o is empty and every state stays as it is (SPEC), nothing to launch
    indices = state_indices if state_indices is not None else torch.arange(rows, device=q.device)
    active = (indices >= 0) & (indices < bank.shape[0])
    initial = bank[torch.where(active, indices, 0)]
    initial[~active] = 0
    o, final = fused_recurrent_gated_delta_rule(q, k, v, g=g, beta=beta, scale=scale, initial_state=initial,
                                                output_final_state=output_final_state,
                                                use_qk_l2norm_in_kernel=use_qk_l2norm, state_v_first=layout == "vk",
                                                cu_seqlens=cu_seqlens)
    if cu_seqlens is None:
        o[~active] = 0
    else:
        o[:, ~active[_token_rows(cu_seqlens, q.shape[1])]] = 0
    out.copy_(o)
    if output_final_state:
        # A sequence of length 0 leaves its entry untouched (SPEC): fla hands its initial state
        # back, and the round trip through fp32 would not keep a NaN's payload bit for bit.
        written = active if cu_seqlens is None else active & (cu_seqlens[1:] > cu_seqlens[:-1])
        bank[indices[written]] = final[written].to(bank.dtype)


subject = Subject(
    decode, name="gdr_verify.peers.fla:subject", device="cuda", framework="torch",
    # fla.ops.utils.op.exp is tl.exp, which Triton lowers to ex2.approx.f32.
    math_mode="fast",
    description="fla-core's fused_recurrent_gated_delta_rule (Triton), bank gathered and scattered around it",
    limitations=[Limitation("no-circular", NO_CIRCULAR, lambda spec, reason: bool(spec["circular"]))])
