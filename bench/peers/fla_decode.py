#!/usr/bin/env python3
"""fla_decode: fla's fused_recurrent_gated_delta_rule against the device copy ceiling.

The peer of bench/bench_decode.cu (bench/NOTES.md), by the same method, so that the two
CSVs can be read side by side (bench/peers/README.md, bench/peers/plot.py):

- Bytes: what fla's kernel moves per call, once each: the initial state read
  (B*HV*K*V*s, s the initial state's dtype size), a new fp32 final state written
  (B*HV*K*V*4, output_final_state=True; fla always writes it as fp32 and only once,
  after the last token, whatever T is), q and k (2*B*T*H*K*2, bf16), v and o
  (2*B*T*HV*V*2, bf16), g and beta (2*B*T*HV*4, fp32). No state indices: fla's
  fused_recurrent_gated_delta_rule takes a dense [N, HV, K, V] initial state.
- Ceiling: a 2 GiB device-to-device copy (torch Tensor.copy_), read + write bytes,
  median of 20, measured at the start of the same run.
- Layouts: fla's state is [N, HV, K, V] (v contiguous), our "kv"; state_v_first=True
  gives [N, HV, V, K] (k contiguous), our "vk". Both the initial and final state use it.
- Timing: warm-up, then CUDA events around L back-to-back calls (L sized to about
  --target-ms of device time), median of --repeats. Calls rotate through enough input
  sets (q/k/v/g/beta and an initial state each) that one pass touches more than 2x L2,
  and the outputs of the last `sets` calls are kept alive, so the allocator does not hand
  a call the o/final-state buffers that the previous call wrote (they would sit in L2).
  For B <= --graph-max-batch, and wherever the plain calls are host-bound (the Python
  wrapper is slower than the kernel), a torch.cuda.CUDAGraph of many calls is timed too;
  tbps and fraction_of_copy use the faster of the two, as bench_decode does.

CSV columns: bench_decode's plus a leading `kernel` column ("fla").
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

GIB = 1024**3
SHAPES = {"qwen3next": (16, 32, 128, 128), "tp": (4, 8, 128, 128)}  # H, HV, K, V
DTYPE_SIZE = {"f32": 4, "bf16": 2, "f16": 2}
CSV_HEADER = ("kernel,gpu,layout,state_dtype,H,HV,K,V,B,T,us_per_call,us_per_call_graph,"
              "bytes,tbps,fraction_of_copy,copy_tbps\n")
IN_SIZE, GATE_SIZE = 2, 4  # bf16 q/k/v/o, fp32 g/beta


class Case:
    def __init__(self, shape: str, layout: str, state: str, B: int, T: int):
        self.shape, self.layout, self.state, self.B, self.T = shape, layout, state, B, T
        self.H, self.HV, self.K, self.V = SHAPES[shape]

    def matrix_elements(self) -> int:  # one row's state: HV x K x V
        return self.HV * self.K * self.V

    def state_bytes(self) -> int:  # initial read + fp32 final write
        return self.B * self.matrix_elements() * (DTYPE_SIZE[self.state] + 4)

    def tensor_bytes(self) -> int:
        B, T = self.B, self.T
        qk, vo, gate = B * T * self.H * self.K, B * T * self.HV * self.V, B * T * self.HV
        return (2 * qk + 2 * vo) * IN_SIZE + 2 * gate * GATE_SIZE

    def bytes(self) -> int:
        return self.state_bytes() + self.tensor_bytes()

    def label(self) -> str:
        return f"{self.shape:<9} {self.layout:<2} {self.state:<4} B={self.B:<4} T={self.T}"


def int_list(text: str) -> list[int]:
    values = [int(x) for x in text.split(",") if x]
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def name_list(allowed):
    def parse(text: str) -> list[str]:
        values = [x for x in text.split(",") if x]
        bad = [x for x in values if x not in allowed]
        if not values or bad:
            raise argparse.ArgumentTypeError(f"expected some of {','.join(allowed)}, got {text!r}")
        return values
    return parse


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="fla's fused_recurrent_gated_delta_rule (decode) against the device copy ceiling, "
                    "by bench_decode's method (bench/NOTES.md)")
    p.add_argument("--csv", default="", help="write one CSV row per case to this file")
    p.add_argument("--shapes", type=name_list(list(SHAPES)), default=None,
                   help="qwen3next (H=16 HV=32) and/or tp (H=4 HV=8); K = V = 128 (default both)")
    p.add_argument("-B", "--batch", type=int_list, default=None, help="batch sizes (default 1,2,4,...,1024)")
    p.add_argument("-T", "--tokens", type=int_list, default=None, help="tokens per row (default 1,2,4,8)")
    p.add_argument("--layouts", type=name_list(["kv", "vk"]), default=None,
                   help="kv = fla's default [N,HV,K,V]; vk = state_v_first=True [N,HV,V,K] (default both)")
    p.add_argument("--state-dtypes", type=name_list(list(DTYPE_SIZE)), default=None,
                   help="initial state dtypes (default f32,bf16); the final state is always f32")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per case, median reported (default 9)")
    p.add_argument("--target-ms", type=float, default=2.0, help="device time per repeat of plain calls")
    p.add_argument("--graph-max-batch", type=int, default=64,
                   help="also time a CUDA graph for B up to this (0: never; host-bound cases get one too)")
    p.add_argument("--graph-launches", type=int, default=128,
                   help="calls per graph, rounded up to a multiple of the rotation")
    p.add_argument("--copy-gib", type=float, default=2.0, help="size of the ceiling's device-to-device copy")
    p.add_argument("--max-sets", type=int, default=1024, help="cap on input sets in the L2-defeating rotation")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--device", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="B 1,8,64,256,1024; T 1,4; 5 repeats (explicit options win)")
    p.add_argument("--dry-run", action="store_true", help="list cases, bytes and rotation sets; needs no GPU")
    a = p.parse_args(argv)
    a.shapes = a.shapes or ["qwen3next", "tp"]
    a.layouts = a.layouts or ["kv", "vk"]
    a.state_dtypes = a.state_dtypes or ["f32", "bf16"]
    a.batch = a.batch or ([1, 8, 64, 256, 1024] if a.quick else [1 << i for i in range(11)])
    a.tokens = a.tokens or ([1, 4] if a.quick else [1, 2, 4, 8])
    a.repeats = a.repeats or (5 if a.quick else 9)
    return a


def make_cases(a) -> list[Case]:
    return [Case(s, l, d, B, T) for s in a.shapes for l in a.layouts for d in a.state_dtypes
            for T in a.tokens for B in a.batch]


def rotation_sets(c: Case, l2_bytes: int, max_sets: int) -> int:
    return max(1, min(2 * l2_bytes // c.bytes() + 1, max_sets))


def dry_run(cases, a) -> int:
    l2 = 50 * 1000 * 1000
    for c in cases:
        sets = rotation_sets(c, l2, a.max_sets)
        print(f"{c.label():<34} bytes {c.bytes() / 1e9:>10.4f} GB  sets {sets:>4}  "
              f"at 3 TB/s {c.bytes() / 3e12 * 1e6:>9.2f} us")
    print(f"{len(cases)} cases")
    return 0


# ---------------------------------------------------------------------------------------
# GPU part (torch imported only here, so that --help and --dry-run need no torch)

def median(xs):
    return statistics.median(xs)


def run(a) -> int:
    cases = make_cases(a)
    if a.dry_run:
        return dry_run(cases, a)
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        print(f"fla_decode: torch is not importable ({e}); nothing measured", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("fla_decode: no CUDA device; nothing measured", file=sys.stderr)
        return 2
    try:
        from fla.ops.gated_delta_rule import fused_recurrent_gated_delta_rule as fla_fn
        import fla
        fla_version = getattr(fla, "__version__", "?")
    except Exception as e:  # noqa: BLE001
        print(f"fla_decode: fla is not importable ({type(e).__name__}: {e}); skipping every case "
              "(install fla-core: bench/peers/README.md)", file=sys.stderr)
        return 3

    dev = torch.device("cuda", a.device)
    torch.cuda.set_device(dev)
    prop = torch.cuda.get_device_properties(dev)
    gpu = prop.name.replace(",", " ")
    l2 = int(getattr(prop, "L2_cache_size", 0) or 50 * 1000 * 1000)
    gen = torch.Generator(device=dev)
    gen.manual_seed(a.seed)
    stream = torch.cuda.current_stream(dev)

    def event_ms(enqueue) -> float:
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record(stream)
        enqueue()
        stop.record(stream)
        stop.synchronize()
        return start.elapsed_time(stop)

    def uniform(shape, dtype, lo, hi):
        x = torch.empty(shape, device=dev, dtype=torch.float32)
        x.uniform_(lo, hi, generator=gen)
        return x.to(dtype)

    # The ceiling: one large device-to-device copy, read + write bytes, median of 20.
    n = int(a.copy_gib * GIB) // 4
    src = torch.empty(n, device=dev, dtype=torch.float32).uniform_(-1, 1, generator=gen)
    dst = torch.empty_like(src).uniform_(-1, 1, generator=gen)
    for _ in range(3):
        dst.copy_(src)
    copy = [2.0 * n * 4 / (event_ms(lambda: dst.copy_(src)) * 1e-3) / 1e12 for _ in range(20)]
    copy_tbps = median(copy)
    del src, dst
    torch.cuda.synchronize()
    torch.cuda.empty_cache()

    t0 = time.perf_counter()
    print(f"GPU: {gpu} ({prop.multi_processor_count} SMs, L2 {l2 / 1e6:.1f} MB); torch {torch.__version__}, "
          f"fla {fla_version}")
    print(f"copy ceiling: {copy_tbps:.3f} TB/s ({a.copy_gib:.2f} GiB D2D copy_, read + write, median of 20; "
          f"range {min(copy):.3f}-{max(copy):.3f})")
    print("inputs bf16 q/k/v/o, f32 g/beta, use_qk_l2norm_in_kernel on, dense initial state [B,HV,K,V] "
          "(vk: state_v_first), output_final_state=True (f32)")
    csv = open(a.csv, "w") if a.csv else None
    if csv:
        csv.write(CSV_HEADER)
        csv.flush()
    print(f"{'case':<34} {'us/call':>9} {'us/graph':>9} {'GB moved':>9} {'TB/s':>6} {'frac':>6} {'sets':>5}")
    state_torch = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}

    for c in cases:
        sets = rotation_sets(c, l2, a.max_sets)
        vk = c.layout == "vk"
        B, T, H, HV, K, V = c.B, c.T, c.H, c.HV, c.K, c.V
        inputs, kwargs, ring, graph = [], [], [], None
        try:
            for _ in range(sets):
                inputs.append(dict(
                    q=uniform((B, T, H, K), torch.bfloat16, -1, 1),
                    k=uniform((B, T, H, K), torch.bfloat16, -1, 1),
                    v=uniform((B, T, HV, V), torch.bfloat16, -1, 1),
                    # g is a log decay: alpha = exp(g) in (0.6, 1); beta in [0.05, 1].
                    g=uniform((B, T, HV), torch.float32, -0.5, -0.01),
                    beta=uniform((B, T, HV), torch.float32, 0.05, 1.0),
                    initial_state=uniform((B, HV, V, K) if vk else (B, HV, K, V), state_torch[c.state], -0.5, 0.5),
                ))
            extra = dict(output_final_state=True, use_qk_l2norm_in_kernel=True)
            if vk:
                extra["state_v_first"] = True
            kwargs = [dict(x, **extra) for x in inputs]  # built once: no harness work per call
            ring = [None] * sets  # outputs of the last `sets` calls stay alive
            nxt = [0]

            def call():
                i = nxt[0] % sets
                nxt[0] += 1
                ring[i] = fla_fn(**kwargs[i])

            # Warm-up: Triton compile, clocks, one pass over every set (capped).
            for _ in range(min(sets, 512) + 1):
                call()
            torch.cuda.synchronize()
            probe = max(3, min(sets, 20))
            probe_us = event_ms(lambda: [call() for _ in range(probe)]) * 1e3 / probe
            launches = int(max(3, min(math.ceil(a.target_ms * 1e3 / probe_us), 2000)))
            us, host_us = [], []
            for _ in range(a.repeats):
                start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record(stream)
                h0 = time.perf_counter()
                for _ in range(launches):
                    call()
                host_us.append((time.perf_counter() - h0) * 1e6 / launches)
                stop.record(stream)
                stop.synchronize()
                us.append(start.elapsed_time(stop) * 1e3 / launches)
            us_plain = median(us)
            host_bound = median(host_us) >= 0.8 * us_plain

            us_graph = None
            if a.graph_max_batch > 0 and (B <= a.graph_max_batch or host_bound):
                n_graph = (max(a.graph_launches, 1) + sets - 1) // sets * sets
                nxt[0] = 0
                side = torch.cuda.Stream(dev)  # warm the capture stream, as torch recommends
                side.wait_stream(stream)
                with torch.cuda.stream(side):
                    call()
                stream.wait_stream(side)
                ring = [None] * sets  # the graph pool reuses a buffer only after `sets` calls
                nxt[0] = 0
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    for _ in range(n_graph):
                        call()
                graph.replay()  # upload + warm-up
                torch.cuda.synchronize()
                gus = [event_ms(graph.replay) * 1e3 / n_graph for _ in range(a.repeats)]
                us_graph = median(gus)

            o0 = fla_fn(**kwargs[0])[0]
            bad = int((~torch.isfinite(o0)).sum().item())
            if bad:
                print(f"warning: {c.label()}: {bad} non-finite outputs", file=sys.stderr)
        except torch.cuda.OutOfMemoryError:
            print(f"{c.label():<34} skipped: out of device memory ({sets} sets)")
            continue
        except Exception as e:  # noqa: BLE001
            print(f"{c.label():<34} skipped: fla raised {type(e).__name__}: {str(e).splitlines()[0][:120]}")
            continue
        finally:
            del inputs, kwargs, ring, graph
            torch.cuda.synchronize()
            torch.cuda.empty_cache()

        best = min(us_plain, us_graph) if us_graph is not None else us_plain
        tbps = c.bytes() / (best * 1e-6) / 1e12
        graph_text = f"{us_graph:.2f}" if us_graph is not None else ""
        print(f"{c.label():<34} {us_plain:>9.2f} {graph_text or '-':>9} {c.bytes() / 1e9:>9.4f} {tbps:>6.3f} "
              f"{tbps / copy_tbps:>6.3f} {sets:>5}{'  host-bound' if host_bound else ''}", flush=True)
        if csv:
            csv.write(f"fla,{gpu},{c.layout},{c.state},{H},{HV},{K},{V},{B},{T},{us_plain:.3f},{graph_text},"
                      f"{c.bytes():.0f},{tbps:.4f},{tbps / copy_tbps:.4f},{copy_tbps:.4f}\n")
            csv.flush()  # a run cut short keeps the rows it finished
    if csv:
        csv.close()
    print(f"{len(cases)} cases in {time.perf_counter() - t0:.1f} s; copy ceiling {copy_tbps:.3f} TB/s on {gpu}")
    return 0


def main(argv=None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
