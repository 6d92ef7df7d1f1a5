"""gdr_verify.decode and gdr_verify.oracle on host arrays: results, in-place semantics, and
invalid input refused with a ValueError naming the argument before anything is written."""

import ml_dtypes
import numpy as np
import pytest

import gdr_verify

rng = np.random.default_rng(7)


def make_call(B=3, T=2, H=2, HV=4, K=16, V=8, N=5, dtype=np.float32, state_dtype=np.float32, layout="kv"):
    q = rng.standard_normal((B, T, H, K)).astype(dtype)
    k = (rng.standard_normal((B, T, H, K)) / np.sqrt(K)).astype(dtype)
    v = rng.standard_normal((B, T, HV, V)).astype(dtype)
    g = (-rng.random((B, T, HV))).astype(np.float32)
    beta = rng.random((B, T, HV)).astype(np.float32)
    matrix = (K, V) if layout == "kv" else (V, K)
    state = (rng.standard_normal((N, HV) + matrix) * 0.5).astype(state_dtype)
    indices = np.array([4, 0, 2][:B], dtype=np.int64)
    return dict(q=q, k=k, v=v, g=g, beta=beta, state=state), dict(state_indices=indices, layout=layout)


def test_cpu_decode_is_the_emulated_oracle_and_updates_the_bank_in_place():
    arrays, options = make_call()
    before = arrays["state"].copy()
    expected_o, expected_bank = gdr_verify.oracle(*arrays.values(), precision="emulated", **options)
    np.testing.assert_array_equal(arrays["state"], before)  # the oracle copies
    o = gdr_verify.decode(*arrays.values(), **options)
    assert o.shape == arrays["v"].shape and o.dtype == np.float32
    np.testing.assert_array_equal(o, expected_o)
    np.testing.assert_array_equal(arrays["state"], expected_bank)
    # Entries 1 and 3 belong to no row: untouched, bit for bit.
    np.testing.assert_array_equal(arrays["state"][[1, 3]], before[[1, 3]])
    assert not np.array_equal(arrays["state"][[0, 2, 4]], before[[0, 2, 4]])


def test_truth_is_float64_and_close_to_the_emulated_run():
    arrays, options = make_call(layout="vk")
    truth_o, truth_bank = gdr_verify.oracle(*arrays.values(), **options)
    emulated_o, emulated_bank = gdr_verify.oracle(*arrays.values(), precision="emulated", **options)
    assert truth_o.dtype == np.float64 and truth_bank.dtype == np.float64
    np.testing.assert_allclose(emulated_o, truth_o, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(emulated_bank, truth_bank, rtol=1e-4, atol=1e-5)
    assert not np.array_equal(emulated_o.astype(np.float64), truth_o)  # two precisions, really


def test_inactive_rows_output_zero_and_touch_nothing():
    arrays, options = make_call()
    options["state_indices"] = np.array([-1, 0, 7], dtype=np.int64)  # rows 0 and 2 inactive
    before = arrays["state"].copy()
    out = np.full(arrays["v"].shape, 3.0, dtype=np.float32)
    gdr_verify.decode(*arrays.values(), out=out, **options)
    assert np.all(out[[0, 2]] == 0) and np.any(out[1] != 0)
    np.testing.assert_array_equal(arrays["state"][1:], before[1:])


def test_bfloat16_numpy_arrays_through_ml_dtypes():
    arrays, options = make_call(dtype=ml_dtypes.bfloat16, state_dtype=ml_dtypes.bfloat16, layout="vk")
    expected_o, expected_bank = gdr_verify.oracle(*arrays.values(), precision="emulated", **options)
    assert expected_o.dtype == ml_dtypes.bfloat16 and expected_bank.dtype == ml_dtypes.bfloat16
    o = gdr_verify.decode(*arrays.values(), **options)
    assert o.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(o.view(np.uint16), expected_o.view(np.uint16))
    np.testing.assert_array_equal(arrays["state"].view(np.uint16), expected_bank.view(np.uint16))


def test_circular_slots_with_a_five_dimensional_bank():
    arrays, options = make_call(T=3)
    arrays["state"] = rng.standard_normal((5, 4, 4, 16, 8)).astype(np.float32)  # [N, Slots, HV, K, V]
    options["cache_seqlens"] = np.array([5, 0, 2], dtype=np.int32)
    expected_o, expected_bank = gdr_verify.oracle(*arrays.values(), precision="emulated", **options)
    o = gdr_verify.decode(*arrays.values(), **options)
    np.testing.assert_array_equal(o, expected_o)
    np.testing.assert_array_equal(arrays["state"], expected_bank)


def mutate(arrays, options, **changes):
    arrays, options = dict(arrays), dict(options)
    for name, value in changes.items():
        (arrays if name in arrays else options)[name] = value
    return arrays, options


@pytest.mark.parametrize("argument, change", [
    ("q", lambda a, o: mutate(a, o, q=a["q"][0])),                                  # rank 3
    ("k", lambda a, o: mutate(a, o, k=a["k"][:, :, :1])),                           # H differs from q's
    ("v", lambda a, o: mutate(a, o, v=a["v"][:2])),                                 # B differs
    ("g", lambda a, o: mutate(a, o, g=a["g"][..., :3])),                            # HV differs
    ("q", lambda a, o: mutate(a, o, q=a["q"].astype(np.int32))),                    # not a float
    ("state", lambda a, o: mutate(a, o, state=a["state"][:, :, :, :4])),            # a bank of the wrong V
    ("state", lambda a, o: mutate(a, o, state=np.swapaxes(a["state"], 2, 3).copy())),  # KV bank given as VK
    ("state", lambda a, o: mutate(a, o, state=a["state"][:, :, ::2])),              # not contiguous
    ("state_indices", lambda a, o: mutate(a, o, state_indices=o["state_indices"].astype(np.int32))),
    ("state_indices", lambda a, o: mutate(a, o, state_indices=np.array([1, 1, 2], dtype=np.int64))),  # duplicate
    ("state_indices", lambda a, o: mutate(a, o, state_indices=np.array([1, 2], dtype=np.int64))),  # rows
    ("cache_seqlens", lambda a, o: mutate(a, o, cache_seqlens=np.zeros(3, dtype=np.int64))),
    ("layout", lambda a, o: mutate(a, o, layout="kvv")),
    ("scale", lambda a, o: mutate(a, o, scale=float("nan"))),
])
def test_invalid_input_names_the_argument_and_writes_nothing(argument, change):
    arrays, options = change(*make_call())
    state_before = np.array(arrays["state"], copy=True)
    out = np.full(arrays["v"].shape if arrays["v"].ndim == 4 else (3, 2, 4, 8), 5.0, dtype=np.float32)
    with pytest.raises(ValueError, match=rf"^{argument}\b"):
        gdr_verify.decode(*arrays.values(), out=out, **options)
    assert np.all(out == 5.0)
    np.testing.assert_array_equal(arrays["state"], state_before)


def test_a_read_only_bank_is_refused():
    arrays, options = make_call()
    arrays["state"].flags.writeable = False
    with pytest.raises(TypeError):
        gdr_verify.decode(*arrays.values(), **options)


def test_jax_style_immutability_is_explained():
    class FakeJaxArray:  # what matters is the type's module, as for jax.Array
        __module__ = "jaxlib.xla_extension"
    arrays, options = make_call()
    arrays["state"] = FakeJaxArray()
    with pytest.raises(ValueError, match="^state: jax arrays are immutable"):
        gdr_verify.decode(*arrays.values(), **options)


def test_oracle_precision_is_checked():
    arrays, options = make_call()
    with pytest.raises(ValueError, match="^precision"):
        gdr_verify.oracle(*arrays.values(), precision="fp64", **options)


def test_chunked_prefill_on_host_arrays_is_refused_naming_q_and_writes_nothing():
    arrays, options = make_call()
    before = arrays["state"].copy()
    with pytest.raises(ValueError, match="^q: the chunked prefill kernel runs on CUDA arrays"):
        gdr_verify.chunked_prefill(*arrays.values(), **options)
    np.testing.assert_array_equal(arrays["state"], before)
