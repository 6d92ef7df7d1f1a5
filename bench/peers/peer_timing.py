"""peer_timing: bench_decode's method (bench/NOTES.md) for a peer's Python decode kernel.

A peer script (fla_decode.py, lmdeploy_decode.py) says only three things, as a `Peer`:
how many bytes one call moves (its `Case` subclass), how to import its kernel (`load`), and
how to build a case's input sets (`build_calls`: the keyword arguments of one call per set).
Everything else is here and the same for every peer, so their CSVs can be read side by side
with bench_decode's:

- Options and cases: bench_decode's options and sweep (--quick: B 1,8,64,256,1024; T 1,4;
  5 repeats), shapes qwen3next (H=16 HV=32) and tp (H=4 HV=8), K = V = 128.
- Ceiling: a 2 GiB device-to-device copy (torch Tensor.copy_), read + write bytes, median
  of 20, measured at the start of the same run.
- Timing: warm-up (JIT compiles, clocks, one pass over the sets), then CUDA events around L
  back-to-back calls (L sized to about --target-ms of device time), median of --repeats.
  Calls rotate through `2*L2 / bytes one set touches + 1` input sets, and the outputs of the
  last `sets` calls are kept alive, so the allocator does not hand a call the output
  buffers the previous call wrote (they would sit in L2). For B <= --graph-max-batch, and
  wherever the plain calls are host-bound (the Python wrapper is slower than the kernel),
  a torch.cuda.CUDAGraph of many calls is timed too; tbps and fraction_of_copy use the
  faster of the two, as bench_decode does.
- Output: one table row per case, and a CSV with bench_decode's columns plus a leading
  `kernel` column (the peer's name).

torch is imported only on the GPU path, so that --help and --dry-run need no torch.
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
DRY_RUN_L2 = 50 * 1000 * 1000  # bench_decode's --dry-run takes L2 as 50 MB too


class Case:
    """One point of the sweep. A peer subclasses it to say how many bytes one call moves."""

    def __init__(self, shape: str, layout: str, state: str, B: int, T: int):
        self.shape, self.layout, self.state, self.B, self.T = shape, layout, state, B, T
        self.H, self.HV, self.K, self.V = SHAPES[shape]

    def matrix_elements(self) -> int:  # one row's state: HV x K x V
        return self.HV * self.K * self.V

    def tensor_bytes(self) -> int:  # q, k, v, o (bf16) and g, beta (fp32), each once
        B, T = self.B, self.T
        qk, vo, gate = B * T * self.H * self.K, B * T * self.HV * self.V, B * T * self.HV
        return (2 * qk + 2 * vo) * IN_SIZE + 2 * gate * GATE_SIZE

    def bytes(self) -> int:  # what one call moves through device memory, as the peer moves it
        raise NotImplementedError

    def touched_bytes(self) -> int:
        """Bytes one input set makes a call touch (sizes the L2-defeating rotation)."""
        return self.bytes()

    def dry_run_note(self, sets: int) -> str:  # peer-specific columns of --dry-run
        return ""

    def label(self) -> str:
        return f"{self.shape:<9} {self.layout:<2} {self.state:<4} B={self.B:<4} T={self.T}"


class Peer:
    """What a peer script provides; run(peer, args) does the rest."""

    name = "peer"  # the CSV's kernel column
    script = "peer_decode"  # prefix of messages
    description = ""
    layouts_help = ""
    state_dtypes_help = ""
    case_type = Case
    install_hint = "bench/peers/README.md"

    def load(self):
        """Import the kernel: (callable, text for the header such as 'fla 0.6.0'). Raises if it cannot."""
        raise NotImplementedError

    def inputs_note(self) -> str:  # one header line saying what the calls are given
        return ""

    def build_calls(self, c: Case, sets: int, data: "DeviceData") -> list[dict]:
        """The keyword arguments of one call for each of `sets` input sets (all built up front,
        so the timed loop does no harness work). The kernel returns a tuple whose [0] is o."""
        raise NotImplementedError


# ---------------------------------------------------------------------------------------
# Options and cases

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


def parse_args(peer: Peer, argv=None):
    p = argparse.ArgumentParser(description=peer.description)
    p.add_argument("--csv", default="", help="write one CSV row per case to this file")
    p.add_argument("--shapes", type=name_list(list(SHAPES)), default=None,
                   help="qwen3next (H=16 HV=32) and/or tp (H=4 HV=8); K = V = 128 (default both)")
    p.add_argument("-B", "--batch", type=int_list, default=None, help="batch sizes (default 1,2,4,...,1024)")
    p.add_argument("-T", "--tokens", type=int_list, default=None, help="tokens per row (default 1,2,4,8)")
    p.add_argument("--layouts", type=name_list(["kv", "vk"]), default=None, help=peer.layouts_help)
    p.add_argument("--state-dtypes", type=name_list(list(DTYPE_SIZE)), default=None, help=peer.state_dtypes_help)
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


def make_cases(case_type, a) -> list[Case]:
    return [case_type(s, l, d, B, T) for s in a.shapes for l in a.layouts for d in a.state_dtypes
            for T in a.tokens for B in a.batch]


def rotation_sets(c: Case, l2_bytes: int, max_sets: int) -> int:
    """Enough input sets that one pass of the rotation touches more than 2x L2."""
    return max(1, min(2 * l2_bytes // c.touched_bytes() + 1, max_sets))


def dry_run(cases, a) -> int:
    for c in cases:
        sets = rotation_sets(c, DRY_RUN_L2, a.max_sets)
        print(f"{c.label():<34} bytes {c.bytes() / 1e9:>10.4f} GB  sets {sets:>4}  "
              f"at 3 TB/s {c.bytes() / 3e12 * 1e6:>9.2f} us{c.dry_run_note(sets)}")
    print(f"{len(cases)} cases")
    return 0


# ---------------------------------------------------------------------------------------
# GPU part

def median(xs):
    return statistics.median(xs)


class DeviceData:
    """Random device data, drawn as bench_decode draws it (ranges in bench/NOTES.md)."""

    def __init__(self, torch, device, seed: int):
        self.torch, self.device = torch, device
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(seed)

    def uniform(self, shape, dtype, lo, hi):
        x = self.torch.empty(shape, device=self.device, dtype=self.torch.float32)
        x.uniform_(lo, hi, generator=self.gen)
        return x.to(dtype)

    def fill_uniform_(self, t, lo, hi, chunk_elements: int = 1 << 26):
        """Fill t in place like uniform(), in chunks, so that a multi-GiB bf16 bank does not
        need an fp32 copy of itself at once."""
        flat = t.view(-1)
        for start in range(0, flat.numel(), chunk_elements):
            part = flat[start:start + chunk_elements]
            part.copy_(self.uniform(part.shape, self.torch.float32, lo, hi))
        return t

    def token_inputs(self, c: Case) -> dict:
        """One set's q, k, v (bf16), g, beta (fp32), contiguous [B, T, ...]."""
        torch, B, T = self.torch, c.B, c.T
        return dict(
            q=self.uniform((B, T, c.H, c.K), torch.bfloat16, -1, 1),
            k=self.uniform((B, T, c.H, c.K), torch.bfloat16, -1, 1),
            v=self.uniform((B, T, c.HV, c.V), torch.bfloat16, -1, 1),
            # g is a log decay: alpha = exp(g) in (0.6, 1); beta in [0.05, 1].
            g=self.uniform((B, T, c.HV), torch.float32, -0.5, -0.01),
            beta=self.uniform((B, T, c.HV), torch.float32, 0.05, 1.0),
        )

    def state_dtype(self, name: str):
        return {"f32": self.torch.float32, "bf16": self.torch.bfloat16, "f16": self.torch.float16}[name]


def cuda_torch(script: str):
    """torch, where it imports and sees a CUDA device; else None, having said why on stderr
    (the scripts then exit 2, nothing measured)."""
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        print(f"{script}: torch is not importable ({e}); nothing measured", file=sys.stderr)
        return None
    if not torch.cuda.is_available():
        print(f"{script}: no CUDA device; nothing measured", file=sys.stderr)
        return None
    return torch


class Device:
    """The card a peer runs on: its torch device, name (CSV-safe), L2 size, stream and the
    random data source."""

    def __init__(self, torch, index: int, seed: int):
        self.dev = torch.device("cuda", index)
        torch.cuda.set_device(self.dev)
        self.prop = torch.cuda.get_device_properties(self.dev)
        self.gpu = self.prop.name.replace(",", " ")
        self.l2 = int(getattr(self.prop, "L2_cache_size", 0) or DRY_RUN_L2)
        self.data = DeviceData(torch, self.dev, seed)
        self.stream = torch.cuda.current_stream(self.dev)


def event_ms(torch, stream, enqueue) -> float:
    """Device milliseconds of the work `enqueue` puts on `stream`."""
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record(stream)
    enqueue()
    stop.record(stream)
    stop.synchronize()
    return start.elapsed_time(stop)


class Rotation:
    """Calls of `kernel` round the input sets (`calls`: one set's keyword arguments each). The
    outputs of the last len(calls) calls stay alive, so the caching allocator does not hand a
    call the buffers the previous call just wrote (they would sit in L2)."""

    def __init__(self, kernel, calls: list[dict]):
        self.kernel, self.calls = kernel, calls
        self.restart()

    def restart(self):  # from set 0, no outputs held
        self.ring, self.next = [None] * len(self.calls), 0

    def __call__(self):
        i = self.next % len(self.calls)
        self.next += 1
        self.ring[i] = self.kernel(**self.calls[i])


def time_calls(torch, stream, call, probe: int, target_ms: float, min_calls: int, max_calls: int, repeats: int):
    """Per repeat, device ms per call and host ms per call to enqueue (measured before the
    wait). A probe of `probe` calls sizes the calls per repeat to about target_ms, within
    [min_calls, max_calls]. Warm-up is the caller's."""
    probe_ms = event_ms(torch, stream, lambda: [call() for _ in range(probe)]) / probe
    calls = int(max(min_calls, min(math.ceil(target_ms / probe_ms), max_calls)))
    device_ms, host_ms = [], []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record(stream)
        h0 = time.perf_counter()
        for _ in range(calls):
            call()
        host_ms.append((time.perf_counter() - h0) * 1e3 / calls)
        stop.record(stream)
        stop.synchronize()
        device_ms.append(start.elapsed_time(stop) / calls)
    return device_ms, host_ms


def open_csv(path: str, header: str):
    """The CSV with its header written, or None without a path. Flush after each row: a run
    cut short keeps the rows it finished."""
    if not path:
        return None
    f = open(path, "w")
    f.write(header)
    f.flush()
    return f


def run(peer: Peer, a) -> int:
    cases = make_cases(peer.case_type, a)
    if a.dry_run:
        return dry_run(cases, a)
    torch = cuda_torch(peer.script)
    if torch is None:
        return 2
    try:
        kernel, version_text = peer.load()
    except Exception as e:  # noqa: BLE001
        print(f"{peer.script}: {peer.name} is not importable ({type(e).__name__}: {e}); skipping every case "
              f"({peer.install_hint})", file=sys.stderr)
        return 3

    device = Device(torch, a.device, a.seed)
    dev, prop, gpu, l2, data, stream = device.dev, device.prop, device.gpu, device.l2, device.data, device.stream

    # The ceiling: one large device-to-device copy, read + write bytes, median of 20.
    n = int(a.copy_gib * GIB) // 4
    src = torch.empty(n, device=dev, dtype=torch.float32).uniform_(-1, 1, generator=data.gen)
    dst = torch.empty_like(src).uniform_(-1, 1, generator=data.gen)
    for _ in range(3):
        dst.copy_(src)
    copy = [2.0 * n * 4 / (event_ms(torch, stream, lambda: dst.copy_(src)) * 1e-3) / 1e12 for _ in range(20)]
    copy_tbps = median(copy)
    del src, dst
    torch.cuda.synchronize()
    torch.cuda.empty_cache()

    t0 = time.perf_counter()
    print(f"GPU: {gpu} ({prop.multi_processor_count} SMs, L2 {l2 / 1e6:.1f} MB); torch {torch.__version__}, "
          f"{version_text}")
    print(f"copy ceiling: {copy_tbps:.3f} TB/s ({a.copy_gib:.2f} GiB D2D copy_, read + write, median of 20; "
          f"range {min(copy):.3f}-{max(copy):.3f})")
    print(peer.inputs_note())
    csv = open_csv(a.csv, CSV_HEADER)
    print(f"{'case':<34} {'us/call':>9} {'us/graph':>9} {'GB moved':>9} {'TB/s':>6} {'frac':>6} {'sets':>5}")

    for c in cases:
        sets = rotation_sets(c, l2, a.max_sets)
        kwargs, call, graphs = [], None, []
        try:
            kwargs = peer.build_calls(c, sets, data)
            call = Rotation(kernel, kwargs)

            # Warm-up: JIT compile, clocks, one pass over every set (capped).
            for _ in range(min(sets, 512) + 1):
                call()
            torch.cuda.synchronize()
            probe = max(3, min(sets, 20))
            ms, host_ms = time_calls(torch, stream, call, probe, a.target_ms, 3, 2000, a.repeats)
            us_plain = median(ms) * 1e3
            # The host enqueues no faster than the device runs: the plain time is the wrapper's.
            host_bound = median(host_ms) * 1e3 >= 0.8 * us_plain

            def time_graph() -> float:
                n_graph = (max(a.graph_launches, 1) + sets - 1) // sets * sets
                call.restart()
                side = torch.cuda.Stream(dev)  # warm the capture stream, as torch recommends
                side.wait_stream(stream)
                with torch.cuda.stream(side):
                    call()
                stream.wait_stream(side)
                call.restart()  # the graph pool reuses a buffer only after `sets` calls
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    for _ in range(n_graph):
                        call()
                graph.replay()  # upload + warm-up
                torch.cuda.synchronize()
                gus = [event_ms(torch, stream, graph.replay) * 1e3 / n_graph for _ in range(a.repeats)]
                graphs.append(graph)  # released with the case's buffers
                return median(gus)

            us_graph = None
            if a.graph_max_batch > 0 and (c.B <= a.graph_max_batch or host_bound):
                try:
                    us_graph = time_graph()
                except torch.cuda.OutOfMemoryError:
                    raise
                except Exception as e:  # noqa: BLE001
                    # A kernel that cannot be captured still has its plain time; say so, keep it.
                    torch.cuda.synchronize()
                    print(f"warning: {c.label()}: no graph ({type(e).__name__}: {str(e).splitlines()[0][:120]}); "
                          "plain calls only", file=sys.stderr)

            o0 = kernel(**kwargs[0])[0]
            bad = int((~torch.isfinite(o0)).sum().item())
            if bad:
                print(f"warning: {c.label()}: {bad} non-finite outputs", file=sys.stderr)
        except torch.cuda.OutOfMemoryError:
            print(f"{c.label():<34} skipped: out of device memory ({sets} sets)")
            continue
        except Exception as e:  # noqa: BLE001
            print(f"{c.label():<34} skipped: {peer.name} raised {type(e).__name__}: {str(e).splitlines()[0][:120]}")
            continue
        finally:
            del kwargs, call, graphs
            torch.cuda.synchronize()
            torch.cuda.empty_cache()

        best = min(us_plain, us_graph) if us_graph is not None else us_plain
        tbps = c.bytes() / (best * 1e-6) / 1e12
        graph_text = f"{us_graph:.2f}" if us_graph is not None else ""
        print(f"{c.label():<34} {us_plain:>9.2f} {graph_text or '-':>9} {c.bytes() / 1e9:>9.4f} {tbps:>6.3f} "
              f"{tbps / copy_tbps:>6.3f} {sets:>5}{'  host-bound' if host_bound else ''}", flush=True)
        if csv:
            csv.write(f"{peer.name},{gpu},{c.layout},{c.state},{c.H},{c.HV},{c.K},{c.V},{c.B},{c.T},{us_plain:.3f},"
                      f"{graph_text},{c.bytes():.0f},{tbps:.4f},{tbps / copy_tbps:.4f},{copy_tbps:.4f}\n")
            csv.flush()  # a run cut short keeps the rows it finished
    if csv:
        csv.close()
    print(f"{len(cases)} cases in {time.perf_counter() - t0:.1f} s; copy ceiling {copy_tbps:.3f} TB/s on {gpu}")
    return 0


def main(peer: Peer, argv=None) -> int:
    return run(peer, parse_args(peer, argv))
