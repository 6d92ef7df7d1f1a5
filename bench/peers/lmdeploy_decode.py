#!/usr/bin/env python3
"""lmdeploy_decode: lmdeploy's TileLang fused_recurrent_gated_delta_rule against the copy ceiling.

The peer of bench/bench_decode.cu (bench/NOTES.md), by the same method (peer_timing.py: the
ceiling, the timing, the rotation, graphs, the CSV), so that its CSV reads side by side with
ours and fla's (bench/peers/README.md, bench/peers/plot.py). This file says only what is
lmdeploy's (lmdeploy 0.18.0, lmdeploy/pytorch/kernels/cuda/gated_delta_rule.py):

- Calls: the kernel updates a bank in place, like ours, so the workload is bench_decode's:
  one bank of N = max(2B, sets*B) entries, each set naming B entries through int64
  state_indices (slice i of one random permutation: no two sets share an entry). T = 1 is not
  circular (a [N, HV, K, V] bank, no cache_seqlens); T > 1 is circular with Slots = T (a
  [N, T, HV, K, V] bank, random int32 cache_seqlens in [0, 2^20]).
- Bytes per call, as its kernel moves them (the same formula as bench_decode's floor): the
  read slot (cache_seqlens % Slots; slot 0 when not circular) once, B*HV*K*V*s; every slot it
  writes, W*B*HV*K*V*s, W = 1 when not circular (the final state, in place), W = T when
  circular (slots read+1 .. read+T: with Slots = T every slot of the entry); q and k
  (2*B*T*H*K*2, bf16), v and o (2*B*T*HV*V*2, bf16), g and beta (2*B*T*HV*4, fp32);
  state_indices 8*B and, circular only, cache_seqlens 4*B.
- Layouts: "kv" is its default [.., HV, K, V]; "vk" is transpose_state_layout=True [.., HV, V, K].
- TileLang compiles one kernel per variant (T, layout, state dtype, shape) on its first call,
  about 6 s each: that happens in the warm-up, before anything is timed. TileLang needs a CUDA
  toolkit (CUDA_HOME; /usr/local/cuda on the GPU host, set by peers/gpu-env.sh).

The kernel module is loaded as the project's adapter (python/gdr_verify/peers/lmdeploy.py)
loads it: the file GDR_LMDEPLOY_KERNEL names, else lmdeploy.pytorch.kernels.cuda.gated_delta_rule
(an installed lmdeploy), else lmdeploy_kernels.gated_delta_rule (the peers' bundle on
PYTHONPATH). CSV columns: bench_decode's plus a leading `kernel` column ("lmdeploy").
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import re
import sys

from peer_timing import DTYPE_SIZE, GIB, Case, Peer, main

INDEX_SIZE, SEQLEN_SIZE = 8, 4  # int64 state_indices, int32 cache_seqlens
MAX_CACHE_SEQLEN = 1 << 20  # as bench_decode draws them


class LmdeployCase(Case):
    def circular(self) -> bool:  # T > 1: circular with Slots = T, as bench_decode
        return self.T > 1

    def slots(self) -> int:
        return self.T if self.circular() else 1

    def written_slots(self) -> int:  # one slot per token when circular; the final state otherwise
        return self.T if self.circular() else 1

    def matrix_bytes(self) -> int:  # one row, one slot: HV x K x V in the state dtype
        return self.matrix_elements() * DTYPE_SIZE[self.state]

    def index_bytes(self) -> int:
        return self.B * INDEX_SIZE + (self.B * SEQLEN_SIZE if self.circular() else 0)

    def bytes(self) -> int:  # the read slot, every written slot, the tensors, the indices
        return self.B * self.matrix_bytes() * (1 + self.written_slots()) + self.tensor_bytes() + self.index_bytes()

    def touched_bytes(self) -> int:  # a set's B whole entries (all Slots), not read + write
        return self.B * self.slots() * self.matrix_bytes() + self.tensor_bytes() + self.index_bytes()

    def bank_entries(self, sets: int) -> int:  # N >= 2B, and room for every set's own B entries
        return max(2 * self.B, sets * self.B)

    def bank_bytes(self, sets: int) -> int:
        return self.bank_entries(sets) * self.slots() * self.matrix_bytes()

    def dry_run_note(self, sets: int) -> str:
        return f"  N {self.bank_entries(sets):>6}  bank {self.bank_bytes(sets) / GIB:>8.3f} GiB"


def load_kernel_module():
    """lmdeploy's gated_delta_rule module, found as the project's subject finds it: by
    python/gdr_verify/peers/lmdeploy_module.py, loaded by path (the package need not be built)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "gdr_verify", "peers",
                        "lmdeploy_module.py")
    spec = importlib.util.spec_from_file_location("gdr_lmdeploy_module", path)
    finder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(finder)
    return finder.load_kernel_module()


def lmdeploy_version(module) -> str:
    """The lmdeploy release the module came from: the installed package's, or the one the
    peers' bundle (scripts/peer-bundle) records in MANIFEST.txt beside lmdeploy_kernels/."""
    if module.__name__.startswith("lmdeploy."):
        try:
            return importlib.metadata.version("lmdeploy")
        except importlib.metadata.PackageNotFoundError:
            return "?"
    manifest = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(module.__file__))), "MANIFEST.txt")
    try:
        with open(manifest) as f:
            found = re.search(r"\blmdeploy==(\S+)", f.read())
        return found.group(1) if found else "?"
    except OSError:
        return "?"


class Lmdeploy(Peer):
    name = "lmdeploy"
    script = "lmdeploy_decode"
    description = ("lmdeploy's TileLang fused_recurrent_gated_delta_rule (decode) against the device copy "
                   "ceiling, by bench_decode's method (bench/NOTES.md)")
    layouts_help = ("kv = lmdeploy's default [N,(Slots,)HV,K,V]; vk = transpose_state_layout=True "
                    "[N,(Slots,)HV,V,K] (default both)")
    state_dtypes_help = "bank dtypes (default f32,bf16; f16 works too), read and written in place"
    case_type = LmdeployCase
    install_hint = ("it needs tilelang and lmdeploy's module: on the GPU host `. peers/gpu-env.sh` puts the "
                    "peers' bundle on PYTHONPATH and sets CUDA_HOME; bench/peers/README.md")

    def load(self):
        try:
            import tilelang
        except Exception as e:  # noqa: BLE001
            raise ImportError(f"tilelang is not importable ({type(e).__name__}: {e})") from e
        # tilelang.env is its settings object: CUDA_HOME as tilelang resolved it (env, nvcc, /usr/local/cuda).
        cuda_home = getattr(getattr(tilelang, "env", None), "CUDA_HOME", "") or ""
        if not cuda_home or not os.path.isdir(cuda_home):
            raise ImportError("tilelang found no CUDA toolkit to compile with: set CUDA_HOME "
                              "(on the GPU host /usr/local/cuda)")
        module = load_kernel_module()
        text = (f"lmdeploy {lmdeploy_version(module)} ({module.__name__}), "
                f"tilelang {getattr(tilelang, '__version__', '?')}, CUDA_HOME {cuda_home}")
        return module.fused_recurrent_gated_delta_rule, text

    def inputs_note(self) -> str:
        return ("inputs bf16 q/k/v/o, f32 g/beta, use_qk_l2norm_in_kernel on, bank updated in place through "
                "int64 state_indices into N >= 2B (vk: transpose_state_layout); T > 1 circular with Slots = T "
                "(int32 cache_seqlens)")

    def build_calls(self, c, sets, data):
        torch = data.torch
        entries = c.bank_entries(sets)
        matrix = (c.HV, c.V, c.K) if c.layout == "vk" else (c.HV, c.K, c.V)
        bank_shape = (entries, c.slots(), *matrix) if c.circular() else (entries, *matrix)
        bank = torch.empty(bank_shape, device=data.device, dtype=data.state_dtype(c.state))
        data.fill_uniform_(bank, -0.5, 0.5)
        # Set i names entries permutation[i*B : (i+1)*B]: a call reuses a state only after a full rotation.
        permutation = torch.randperm(entries, generator=data.gen, device=data.device)
        seqlens = None
        if c.circular():  # random, so the read slot differs by row
            seqlens = torch.randint(0, MAX_CACHE_SEQLEN + 1, (sets, c.B), generator=data.gen, device=data.device,
                                    dtype=torch.int32)
        common = dict(initial_state=bank, output_final_state=True, use_qk_l2norm_in_kernel=True,
                      transpose_state_layout=c.layout == "vk")
        calls = []
        for i in range(sets):
            kwargs = dict(data.token_inputs(c), **common)
            kwargs["state_indices"] = permutation[i * c.B:(i + 1) * c.B].clone()  # its own int64 [B]
            if seqlens is not None:
                kwargs["cache_seqlens"] = seqlens[i].clone()  # its own int32 [B]
            calls.append(kwargs)
        return calls


if __name__ == "__main__":
    sys.exit(main(Lmdeploy()))
