"""gdr_verify.decode and gdr_verify.oracle: the decode kernel and the oracle on framework
arrays, with the keyword names of docs/SPEC.md."""

import numpy as np

from . import _arrays, _core


def _settings(layout, scale, use_qk_l2norm, output_final_state):
    settings = _core.DecodeSettings()
    if not isinstance(layout, str):
        raise ValueError(f"layout: must be 'kv' or 'vk', got {layout!r}")
    settings.layout = layout.lower()
    settings.scale = None if scale is None else float(scale)
    settings.use_qk_l2norm = bool(use_qk_l2norm)
    settings.output_final_state = bool(output_final_state)
    return settings


_CALL_ORDER = ("q", "k", "v", "g", "beta", "state", "o", "state_indices", "cache_seqlens", "cu_seqlens")


def _crossed(arrays, settings):
    """The arrays as the _core calls take them, in their order; settings learns their dtypes."""
    storage = {}
    crossed = {name: _arrays.crossing(name, array, storage) for name, array in arrays.items()}
    settings.storage_dtypes = storage
    return [crossed[name] for name in _CALL_ORDER]


def _run(arrays, settings, mode, stream):
    _core.run_decode(*_crossed(arrays, settings), settings, mode, stream)


def _launch(mode, call):
    """decode's or chunked_prefill's call (their arguments as `call`) on the caller's stream; returns o."""
    out = _arrays.new_output(call["q"], call["v"]) if call["out"] is None else call["out"]
    arrays = {name: call[name] for name in ("q", "k", "v", "g", "beta", "state", "state_indices", "cache_seqlens",
                                            "cu_seqlens")}
    arrays["o"] = out
    stream = call["stream"]
    _run(arrays, _settings(call["layout"], call["scale"], call["use_qk_l2norm"], call["output_final_state"]), mode,
         _arrays.current_stream(call["q"]) if stream is None else int(stream))
    return out


def decode(q, k, v, g, beta, state, *, state_indices=None, cache_seqlens=None, cu_seqlens=None, layout="kv",
           scale=None, use_qk_l2norm=False, output_final_state=True, out=None, stream=None):
    """One decode call of the fused recurrent gated delta rule, the bank `state` updated in place.

    q, k: [B, T, H, K]; v: [B, T, HV, V]; g, beta: [B, T, HV] or None; state: the bank,
    [N, HV, K, V] or [N, Slots, HV, K, V] (layout 'kv'; 'vk' swaps K and V). CUDA tensors run
    this project's kernel on the caller's current stream (or `stream`, a cudaStream_t as an
    int), asynchronously; host arrays run the emulated-precision oracle, synchronously.
    Returns o ([B, T, HV, V], q's dtype), written into `out` when given. Invalid input raises
    ValueError naming the argument, before anything runs; a valid case the kernel does not
    handle raises gdr_verify.NotSupported.
    """
    return _launch("kernel", locals())


def chunked_prefill(q, k, v, g, beta, state, *, state_indices=None, cache_seqlens=None, cu_seqlens=None,
                    layout="kv", scale=None, use_qk_l2norm=False, output_final_state=True, out=None, stream=None):
    """One prefill call of this project's chunked kernel (chunks of 64 tokens on tensor cores).

    The arguments are decode's (q, k, v: f16 or bf16; varlen batches through cu_seqlens with
    B = 1); CUDA tensors only, on the caller's current stream (or `stream`), asynchronously.
    In circular mode (cache_seqlens) only the final state is written, into slot
    (cache_seqlens + length) mod Slots. Returns o, written into `out` when given. Invalid
    input raises ValueError naming the argument; a valid case the kernel does not handle (f32
    inputs, K other than 64, 128, 256, V not a multiple of 64 (32 at K = 256)) raises
    gdr_verify.NotSupported. gdr_verify.oracle_chunked is its reference on host arrays. Its
    two passes share a workspace taken from CUDA's stream-ordered allocator for the call.
    """
    return _launch("chunk_kernel", locals())


def _host(name, array):
    """A host numpy array of `array` (torch CPU tensors too), bfloat16 kept."""
    if array is None or isinstance(array, np.ndarray):
        return array
    if _arrays.framework_of(array) == "torch":
        import torch
        if array.device.type != "cpu":
            raise ValueError(f"{name}: the oracle runs on host arrays; this one is on {array.device}")
        if array.dtype == torch.bfloat16:
            if _arrays.ml_dtypes is None:
                raise ValueError(f"{name}: a bfloat16 tensor needs the ml_dtypes package")
            return array.detach().view(torch.int16).numpy().view(_arrays.ml_dtypes.bfloat16)
        return array.detach().numpy()
    try:
        return np.from_dlpack(array)
    except (TypeError, RuntimeError, BufferError) as error:
        raise ValueError(f"{name}: the oracle takes host arrays (numpy, CPU tensors): {error}") from None


def oracle(q, k, v, g, beta, state, *, state_indices=None, cache_seqlens=None, cu_seqlens=None, layout="kv",
           scale=None, use_qk_l2norm=False, output_final_state=True, precision="truth"):
    """The oracle of docs/SPEC.md on host arrays; the arguments are decode's.

    precision='truth' (R64): fp64 arithmetic, o and the bank returned as float64, unrounded.
    precision='emulated' (Rlp): fp32 arithmetic rounded where a kernel stores, o in the input
    dtype and the bank in the state dtype. Returns (o, bank after the call); the arguments
    are not modified.
    """
    arrays, settings, out, bank_after = _oracle_call(
        precision, dict(q=q, k=k, v=v, g=g, beta=beta, state=state, state_indices=state_indices,
                        cache_seqlens=cache_seqlens, cu_seqlens=cu_seqlens),
        layout, scale, use_qk_l2norm, output_final_state)
    _run(arrays, settings, precision, 0)
    return out, bank_after


def oracle_chunked(q, k, v, g, beta, state, *, chunk_size=64, state_indices=None, cache_seqlens=None,
                   cu_seqlens=None, layout="kv", scale=None, use_qk_l2norm=False, output_final_state=True,
                   precision="truth", rounding_points=(), checkpoints=False):
    """The chunked (WY) form of the rule on host arrays, for prefill kernels; the arguments are decode's.

    An fp64 algorithm independent of `oracle`'s recurrence, agreeing with it to ~1e-14, with
    the chunked path's semantics (docs/SPEC.md): in circular mode only the final state is
    written, into slot (cache_seqlens + length) mod Slots, with no round trip between tokens.
    chunk_size: C, the tokens per chunk (any C >= 1 gives the same result up to rounding).
    precision='emulated' with rounding_points (names, e.g. 'tensor_core_bf16' expands to its
    set, or 'normalised_qk', 'gated_keys', ...; gdr_verify.CHUNK_ROUNDING_POINTS lists them):
    Rlp of a chunk kernel that rounds those intermediates to the input dtype.
    checkpoints=True also returns the state after every C tokens of each row, as float64
    [offsets[-1], HV, K, V] ([.., V, K] for 'vk'), row r's m-th at offsets[r] + m - 1.
    Returns (o, bank after) or (o, bank after, checkpoints, offsets); the arguments are not
    modified.
    """
    arrays, settings, out, bank_after = _oracle_call(
        precision, dict(q=q, k=k, v=v, g=g, beta=beta, state=state, state_indices=state_indices,
                        cache_seqlens=cache_seqlens, cu_seqlens=cu_seqlens),
        layout, scale, use_qk_l2norm, output_final_state)
    points = [rounding_points] if isinstance(rounding_points, str) else list(rounding_points)
    chunk_size = _integer("chunk_size", chunk_size)
    call = _crossed(arrays, settings)
    places = offsets = None
    if checkpoints:
        offsets = _core.chunked_checkpoint_offsets(*call, settings, chunk_size)
        heads, K, V = bank_after.shape[-3], q.shape[-1], v.shape[-1]
        places = np.zeros((offsets[-1], heads) + ((K, V) if settings.layout == "kv" else (V, K)), dtype=np.float64)
    _core.run_chunked_oracle(*call, settings, precision, chunk_size, points, places)
    return (out, bank_after, places, offsets) if checkpoints else (out, bank_after)


# The names of the chunk kernel rounding points (reference/chunked.hpp, ChunkRoundingPoints).
CHUNK_ROUNDING_POINTS = tuple(_core.chunk_rounding_points())


def _integer(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: must be an integer, got {value!r}")
    return int(value)


def _oracle_call(precision, arrays, layout, scale, use_qk_l2norm, output_final_state):
    """The host arrays, settings, o and the bank copy an oracle run writes."""
    if precision not in ("truth", "emulated"):
        raise ValueError(f"precision: must be 'truth' or 'emulated', got {precision!r}")
    arrays = {name: _host(name, array) for name, array in arrays.items()}
    settings = _settings(layout, scale, use_qk_l2norm, output_final_state)
    q, v, bank = arrays["q"], arrays["v"], arrays["state"]
    for name in ("q", "v", "state"):
        if not hasattr(arrays[name], "shape"):
            raise ValueError(f"{name}: must be an array, got {type(arrays[name]).__name__}")
    if precision == "truth":
        settings.input_dtype = _dtype_name(q)
        settings.state_dtype = _dtype_name(bank)
        settings.allow_f64_storage = True
        out = np.zeros(v.shape, dtype=np.float64)
        bank_after = np.ascontiguousarray(bank, dtype=np.float64)
        if bank_after is bank:
            bank_after = bank.copy()
    else:
        out = np.zeros(v.shape, dtype=q.dtype)
        bank_after = np.array(bank, copy=True, order="C")
    arrays.update(state=bank_after, o=out)
    return arrays, settings, out, bank_after


def _dtype_name(array):
    if _arrays.is_numpy_bfloat16(array):
        return "bf16"
    names = {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16", np.dtype(np.float64): "f64"}
    return names.get(np.dtype(array.dtype), str(array.dtype))
