#!/usr/bin/env python3
"""fla_decode: fla's fused_recurrent_gated_delta_rule against the device copy ceiling.

The peer of bench/bench_decode.cu (bench/NOTES.md), by the same method (peer_timing.py: the
ceiling, the timing, the rotation, graphs, the CSV), so that the CSVs can be read side by side
(bench/peers/README.md, bench/peers/plot.py). This file says only what is fla's:

- Bytes: what fla's kernel moves per call, once each: the initial state read
  (B*HV*K*V*s, s the initial state's dtype size), a new fp32 final state written
  (B*HV*K*V*4, output_final_state=True; fla always writes it as fp32 and only once,
  after the last token, whatever T is), q and k (2*B*T*H*K*2, bf16), v and o
  (2*B*T*HV*V*2, bf16), g and beta (2*B*T*HV*4, fp32). No state indices: fla's
  fused_recurrent_gated_delta_rule takes a dense [N, HV, K, V] initial state.
- Layouts: fla's state is [N, HV, K, V] (v contiguous), our "kv"; state_v_first=True
  gives [N, HV, V, K] (k contiguous), our "vk". Both the initial and final state use it.
- Inputs: each set has its own q/k/v/g/beta and its own initial state; fla returns a new o
  and a new final state each call (peer_timing keeps the last `sets` of them alive).

CSV columns: bench_decode's plus a leading `kernel` column ("fla").
"""

from __future__ import annotations

import sys

from peer_timing import DTYPE_SIZE, Case, Peer, main


class FlaCase(Case):
    def state_bytes(self) -> int:  # initial read + fp32 final write
        return self.B * self.matrix_elements() * (DTYPE_SIZE[self.state] + 4)

    def bytes(self) -> int:
        return self.state_bytes() + self.tensor_bytes()


class Fla(Peer):
    name = "fla"
    script = "fla_decode"
    description = ("fla's fused_recurrent_gated_delta_rule (decode) against the device copy ceiling, "
                   "by bench_decode's method (bench/NOTES.md)")
    layouts_help = "kv = fla's default [N,HV,K,V]; vk = state_v_first=True [N,HV,V,K] (default both)"
    state_dtypes_help = "initial state dtypes (default f32,bf16); the final state is always f32"
    case_type = FlaCase
    install_hint = "install fla-core: bench/peers/README.md"

    def load(self):
        from fla.ops.gated_delta_rule import fused_recurrent_gated_delta_rule
        import fla
        return fused_recurrent_gated_delta_rule, f"fla {getattr(fla, '__version__', '?')}"

    def inputs_note(self) -> str:
        return ("inputs bf16 q/k/v/o, f32 g/beta, use_qk_l2norm_in_kernel on, dense initial state [B,HV,K,V] "
                "(vk: state_v_first), output_final_state=True (f32)")

    def build_calls(self, c, sets, data):
        vk = c.layout == "vk"
        matrix = (c.HV, c.V, c.K) if vk else (c.HV, c.K, c.V)
        extra = dict(output_final_state=True, use_qk_l2norm_in_kernel=True)
        if vk:
            extra["state_v_first"] = True
        calls = []
        for _ in range(sets):
            inputs = data.token_inputs(c)
            inputs["initial_state"] = data.uniform((c.B, *matrix), data.state_dtype(c.state), -0.5, 0.5)
            calls.append(dict(inputs, **extra))
        return calls


if __name__ == "__main__":
    sys.exit(main(Fla()))
