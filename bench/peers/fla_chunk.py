#!/usr/bin/env python3
"""fla_chunk: fla's chunk_gated_delta_rule over bench_chunked's cases, by its method.

The peer of bench/bench_chunked.cu: the same cases (--seqs NxL: N sequences of L tokens,
one varlen batch), shapes (Qwen3-Next: H = 16 q/k heads, HV = 32 value heads, K = V = 128),
value ranges, FLOP count and CSV columns (plus a leading `kernel` column, "fla"), and the
same timing: warm-up (Triton's compiles and autotuning), CUDA events around L back-to-back
calls sized to about --target-ms, median of --repeats, a rotation of input sets that
touches more than 2 x L2 (one set at the default cases).

What is fla's (fla-core 0.6.0, fla/ops/gated_delta_rule/chunk.py; bench/peers/README.md):
- Grouped value heads: supported (HV % H == 0, "GVA"), so it runs at H = 16, HV = 32.
- State: a dense initial state [N, HV, K, V] (vk: state_v_first=True, [N, HV, V, K]) in
  the --state-dtypes dtype; no state indices; the final state is a new fp32 tensor each
  call (output_final_state=True). Ours reads and writes a bank in place via state_indices.
- cu_seqlens: int64 on the device, with cu_seqlens_cpu and chunk_indices computed once per
  input set, as a serving engine computes them once per step for all its layers; without
  them fla would compute chunk_indices in every call, with a device-to-host sync.
- Calls run under torch.inference_mode(), with use_qk_l2norm_in_kernel=True; each call's
  time includes fla's Python wrapper and its several Triton launches. A case whose host
  time per call is >= 0.8 x its device time is marked host-bound in the table.

torch is imported only on the GPU path, so --help and --dry-run need neither torch nor fla.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from peer_timing import (DRY_RUN_L2, DTYPE_SIZE, SHAPES, Device, DeviceData, Rotation, cuda_torch, median, name_list,
                         open_csv, time_calls)

H, HV, K, V = SHAPES["qwen3next"]
CHUNK = 64
IN_SIZE, GATE_SIZE = 2, 4  # bf16 q/k/v/o, fp32 g/beta
CSV_HEADER = ("kernel,gpu,layout,state_dtype,H,HV,K,V,N,L,tokens,ms_per_call,ms_min,ms_max,mtok_per_s,gflop,"
              "tflops,sets\n")
# bench_chunked.cu's value ranges: q, k (l2-normalised in the kernel), v, the state, g (log
# decay), beta.
QK_RANGE, V_RANGE, STATE_RANGE = 0.1, 1.0, 0.5
G_RANGE, BETA_RANGE = (-0.2, -0.005), (0.05, 1.0)


class ChunkCase:
    """N sequences of L tokens, one layout and initial-state dtype."""

    def __init__(self, layout: str, state: str, N: int, L: int):
        self.layout, self.state, self.N, self.L = layout, state, N, L

    @property
    def tokens(self) -> int:
        return self.N * self.L

    def input_bytes(self) -> int:
        """One input set: q, k, v, g, beta and the initial states."""
        T = self.tokens
        return (2 * T * H * K + T * HV * V) * IN_SIZE + 2 * T * HV * GATE_SIZE + self.N * HV * K * V * DTYPE_SIZE[self.state]

    def call_bytes_estimate(self) -> int:
        """What one fla call allocates (an estimate from chunk.py): o, the l2-normalised q and k,
        w, u, v_new and A (bf16, per token and value head), the cumulative g (fp32), the
        per-chunk states h (bf16) and the fp32 final state."""
        T, chunks = self.tokens, self.N * math.ceil(self.L / CHUNK)
        per_token = HV * (V + K + V + V + CHUNK) * IN_SIZE + 2 * H * K * IN_SIZE + HV * 4
        return T * per_token + chunks * HV * K * V * IN_SIZE + self.N * HV * K * V * 4

    def touched_bytes(self) -> int:  # sizes the L2-defeating rotation
        return self.input_bytes() + self.tokens * HV * V * IN_SIZE + self.N * HV * K * V * 4

    def flops(self) -> float:
        """bench_chunked.cu's Case::flops (its comment derives it): per value head and chunk of
        c tokens, 2 c^2 (3K + 2V) + 6 c K V + c^3 / 3."""
        def chunk(c: float) -> float:
            return 2 * c * c * (3 * K + 2 * V) + 6 * c * K * V + c ** 3 / 3
        return HV * self.N * ((self.L // CHUNK) * chunk(CHUNK) + chunk(self.L % CHUNK))

    def label(self) -> str:
        return f"{self.layout:<2} {self.state:<4} {self.N:>3}x{self.L:<6}"


def sequences_list(text: str) -> list[tuple[int, int]]:
    """'1x8192,64x256' -> [(1, 8192), (64, 256)]."""
    cases = []
    for item in (x for x in text.split(",") if x):
        try:
            n, length = (int(part) for part in item.split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected NxL (N sequences of L tokens), got {item!r}") from None
        if n <= 0 or length <= 0:
            raise argparse.ArgumentTypeError(f"expected NxL with N, L > 0, got {item!r}")
        cases.append((n, length))
    if not cases:
        raise argparse.ArgumentTypeError(f"expected a list of NxL, got {text!r}")
    return cases


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="fla's chunk_gated_delta_rule over bench_chunked's cases "
                                            "(Qwen3-Next H=16 HV=32 K=V=128, varlen), by its method")
    p.add_argument("--csv", default="", help="write one CSV row per case to this file")
    p.add_argument("--seqs", type=sequences_list, default=sequences_list("1x8192,4x8192,32x8192,64x256,1x32768"),
                   help="cases NxL: N sequences of L tokens (default 1x8192,4x8192,32x8192,64x256,1x32768)")
    p.add_argument("--layouts", type=name_list(["kv", "vk"]), default=["kv", "vk"],
                   help="kv = fla's default [N,HV,K,V]; vk = state_v_first=True [N,HV,V,K] (default both)")
    p.add_argument("--state-dtypes", type=name_list(["f32", "bf16"]), default=["f32"],
                   help="initial state dtypes (default f32); the final state is always f32")
    p.add_argument("--repeats", type=int, default=9, help="timed repeats per case, median reported")
    p.add_argument("--target-ms", type=float, default=20.0, help="device time per timed repeat")
    p.add_argument("--max-sets", type=int, default=64, help="cap on input sets in the L2-defeating rotation")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--device", type=int, default=0)
    p.add_argument("--dry-run", action="store_true", help="list cases, FLOPs and memory; needs no GPU")
    return p.parse_args(argv)


def make_cases(a) -> list[ChunkCase]:
    return [ChunkCase(layout, state, n, length) for layout in a.layouts for state in a.state_dtypes
            for n, length in a.seqs]


def rotation_sets(c: ChunkCase, l2_bytes: int, max_sets: int) -> int:
    return max(1, min(2 * l2_bytes // c.touched_bytes() + 1, max_sets))


def dry_run(cases, a) -> int:
    for c in cases:
        sets = rotation_sets(c, DRY_RUN_L2, a.max_sets)
        gib = (sets * c.input_bytes() + (sets + 1) * c.call_bytes_estimate()) / 2**30
        print(f"{c.label():<18} tokens {c.tokens:>8}  GFLOP {c.flops() / 1e9:>9.1f}  sets {sets:>3}  "
              f"device ~{gib:>7.2f} GiB (estimate)")
    print(f"{len(cases)} cases")
    return 0


# ---------------------------------------------------------------------------------------
# GPU part

def build_calls(c: ChunkCase, sets: int, data: DeviceData, prepare_chunk_indices) -> list[dict]:
    """The keyword arguments of one call per input set, all built up front."""
    torch, dev, T = data.torch, data.device, c.tokens
    matrix = (HV, V, K) if c.layout == "vk" else (HV, K, V)

    def filled(shape, dtype, lo, hi):  # in pieces: no fp32 copy of a multi-GiB tensor at once
        return data.fill_uniform_(torch.empty(shape, device=dev, dtype=dtype), lo, hi)

    cu_seqlens_cpu = torch.arange(0, T + 1, c.L, dtype=torch.long)
    calls = []
    for _ in range(sets):
        cu_seqlens = cu_seqlens_cpu.to(dev)
        calls.append(dict(
            q=filled((1, T, H, K), torch.bfloat16, -QK_RANGE, QK_RANGE),
            k=filled((1, T, H, K), torch.bfloat16, -QK_RANGE, QK_RANGE),
            v=filled((1, T, HV, V), torch.bfloat16, -V_RANGE, V_RANGE),
            g=filled((1, T, HV), torch.float32, *G_RANGE),
            beta=filled((1, T, HV), torch.float32, *BETA_RANGE),
            initial_state=filled((c.N, *matrix), data.state_dtype(c.state), -STATE_RANGE, STATE_RANGE),
            output_final_state=True,
            use_qk_l2norm_in_kernel=True,
            state_v_first=c.layout == "vk",
            cu_seqlens=cu_seqlens,
            cu_seqlens_cpu=cu_seqlens_cpu,
            chunk_indices=prepare_chunk_indices(cu_seqlens, CHUNK, cu_seqlens_cpu=cu_seqlens_cpu),
        ))
    return calls


def time_case(torch, call: Rotation, a, stream):
    """Device ms per call (median, min, max over --repeats) and the host's median ms per call
    to enqueue. Calls take milliseconds, so a repeat may be a single call."""
    for _ in range(len(call.calls) + 1):  # warm-up: compiles, autotuning, clocks, every set once
        call()
    torch.cuda.synchronize()
    device_ms, host_ms = time_calls(torch, stream, call, min(len(call.calls), 3), a.target_ms, 1, 1000, a.repeats)
    return median(device_ms), min(device_ms), max(device_ms), median(host_ms)


def run(a) -> int:
    cases = make_cases(a)
    if a.dry_run:
        return dry_run(cases, a)
    torch = cuda_torch("fla_chunk")
    if torch is None:
        return 2
    try:
        import fla
        from fla.ops.gated_delta_rule import chunk_gated_delta_rule
        from fla.ops.utils import prepare_chunk_indices
    except Exception as e:  # noqa: BLE001
        print(f"fla_chunk: fla is not importable ({type(e).__name__}: {e}); skipping every case "
              "(install fla-core: bench/peers/README.md)", file=sys.stderr)
        return 3

    device = Device(torch, a.device, a.seed)
    gpu, l2 = device.gpu, device.l2
    t0 = time.perf_counter()
    print(f"GPU: {gpu} ({device.prop.multi_processor_count} SMs, L2 {l2 / 1e6:.1f} MB); torch {torch.__version__}, "
          f"fla {getattr(fla, '__version__', '?')}")
    print(f"chunk_gated_delta_rule, H={H} HV={HV} K={K} V={V} (grouped value heads): bf16 q/k/v, f32 g/beta, "
          "use_qk_l2norm_in_kernel, varlen (int64 cu_seqlens, chunk_indices precomputed), dense initial state, "
          "new f32 final state")
    csv = open_csv(a.csv, CSV_HEADER)
    print(f"{'case':<18} {'tokens':>8} {'ms/call':>9} {'min':>9} {'max':>9} {'Mtok/s':>8} {'TFLOP/s':>8} {'sets':>4}")

    for c in cases:
        sets = rotation_sets(c, l2, a.max_sets)
        calls, call = [], None
        try:
            with torch.inference_mode():
                calls = build_calls(c, sets, device.data, prepare_chunk_indices)
                call = Rotation(chunk_gated_delta_rule, calls)
                ms, ms_min, ms_max, host_ms = time_case(torch, call, a, device.stream)
                o0, state0 = chunk_gated_delta_rule(**calls[0])
                bad = int((~torch.isfinite(o0)).sum().item()) + int((~torch.isfinite(state0)).sum().item())
            if bad:
                print(f"warning: {c.label()}: {bad} non-finite outputs or final-state elements", file=sys.stderr)
        except torch.cuda.OutOfMemoryError:
            print(f"{c.label():<18} refused: out of device memory ({sets} sets; --dry-run estimates the need)")
            continue
        except Exception as e:  # noqa: BLE001
            print(f"{c.label():<18} skipped: fla raised {type(e).__name__}: {str(e).splitlines()[0][:120]}")
            continue
        finally:
            del calls, call
            torch.cuda.synchronize()
            torch.cuda.empty_cache()

        mtok = c.tokens / (ms * 1e-3) / 1e6
        tflops = c.flops() / (ms * 1e-3) / 1e12
        host_bound = host_ms >= 0.8 * ms
        print(f"{c.label():<18} {c.tokens:>8} {ms:>9.3f} {ms_min:>9.3f} {ms_max:>9.3f} {mtok:>8.1f} {tflops:>8.1f} "
              f"{sets:>4}{'  host-bound' if host_bound else ''}", flush=True)
        if csv:
            csv.write(f"fla,{gpu},{c.layout},{c.state},{H},{HV},{K},{V},{c.N},{c.L},{c.tokens},{ms:.4f},{ms_min:.4f},"
                      f"{ms_max:.4f},{mtok:.2f},{c.flops() / 1e9:.3f},{tflops:.3f},{sets}\n")
            csv.flush()  # a run cut short keeps the rows it finished
    if csv:
        csv.close()
    print(f"{len(cases)} cases in {time.perf_counter() - t0:.1f} s on {gpu}")
    return 0


if __name__ == "__main__":
    sys.exit(run(parse_args()))
