"""gdr_verify.oracle_chunked, the chunked form's oracle on host arrays: the recurrence's result by
an independent algorithm, its checkpoints, a chunk kernel's emulated precision, and invalid input
refused with a ValueError naming the argument."""

import ml_dtypes
import numpy as np
import pytest

import gdr_verify
from test_decode_cpu import make_call


def relative(x, truth):
    return np.linalg.norm(np.asarray(x, np.float64) - truth) / np.linalg.norm(truth)


@pytest.mark.parametrize("layout", ["kv", "vk"])
@pytest.mark.parametrize("chunk_size", [1, 3, 64])
def test_chunked_truth_is_the_recurrence(layout, chunk_size):
    arrays, options = make_call(T=7, layout=layout)
    o, bank = gdr_verify.oracle(*arrays.values(), **options)
    chunked_o, chunked_bank = gdr_verify.oracle_chunked(*arrays.values(), chunk_size=chunk_size, **options)
    assert chunked_o.dtype == np.float64 and chunked_bank.dtype == np.float64
    assert relative(chunked_o, o) < 1e-12 and relative(chunked_bank, bank) < 1e-12
    np.testing.assert_array_equal(chunked_bank[[1, 3]], arrays["state"][[1, 3]])  # entries no row uses


def test_circular_writes_only_the_final_slot():
    arrays, options = make_call(T=3)
    B, N, HV, K, V = 3, 5, 4, 16, 8
    arrays["state"] = np.random.default_rng(3).standard_normal((N, 4, HV, K, V)).astype(np.float32)
    options["cache_seqlens"] = np.array([5, 0, 2], dtype=np.int32)
    _, bank = gdr_verify.oracle(*arrays.values(), **options)
    _, chunked_bank = gdr_verify.oracle_chunked(*arrays.values(), chunk_size=2, **options)
    for row, (n, seqlen) in enumerate(zip(options["state_indices"], options["cache_seqlens"])):
        final = (seqlen + 3) % 4
        assert relative(chunked_bank[n, final], bank[n, final]) < 1e-12  # the last token's slot
        for slot in set(range(4)) - {final}:  # the recurrence writes two more; the chunked path none
            np.testing.assert_array_equal(chunked_bank[n, slot], arrays["state"][n, slot])


def test_checkpoints_are_the_states_after_every_chunk():
    arrays, options = make_call(T=5)
    o, bank, checkpoints, offsets = gdr_verify.oracle_chunked(*arrays.values(), chunk_size=2, checkpoints=True,
                                                              **options)
    assert list(offsets) == [0, 2, 4, 6] and checkpoints.shape == (6, 4, 16, 8)  # floor(5 / 2) per row
    first_four = {name: (a[:, :4] if a.ndim == 4 or name in ("g", "beta") else a) for name, a in arrays.items()}
    _, after_four = gdr_verify.oracle(*first_four.values(), **options)
    for row, n in enumerate(options["state_indices"]):
        assert relative(checkpoints[offsets[row] + 1], after_four[n]) < 1e-12  # after 4 = 2 x 2 tokens


def test_emulated_rounding_points_round_and_stay_close():
    arrays, options = make_call(T=6, dtype=ml_dtypes.bfloat16)
    truth_o, _ = gdr_verify.oracle_chunked(*arrays.values(), chunk_size=4, **options)
    plain_o, _ = gdr_verify.oracle_chunked(*arrays.values(), chunk_size=4, precision="emulated", **options)
    bf16_o, _ = gdr_verify.oracle_chunked(*arrays.values(), chunk_size=4, precision="emulated",
                                          rounding_points="tensor_core_bf16", **options)
    assert plain_o.dtype == ml_dtypes.bfloat16  # o stored in the input dtype: errs by about u(bf16) = 2^-9
    assert relative(plain_o, truth_o) < 1e-2
    assert relative(bf16_o, truth_o) < 3e-2  # the operands rounded to bf16 too, where a tensor core would
    assert not np.array_equal(plain_o, bf16_o)
    assert set(gdr_verify.CHUNK_ROUNDING_POINTS) >= {"normalised_qk", "p", "state_between_chunks"}


@pytest.mark.parametrize("change, argument", [
    (dict(chunk_size=0), "chunk_size"),
    (dict(chunk_size=2.5), "chunk_size"),
    (dict(precision="emulated", rounding_points=["no_such_point"]), "rounding_points"),
    (dict(precision="emulated", rounding_points=["p", "p"]), "rounding_points"),
    (dict(rounding_points=["p"]), "rounding_points"),  # the truth rounds nothing
    (dict(precision="fp64"), "precision"),
    (dict(layout="xy"), "layout"),
])
def test_invalid_options_are_refused_by_name(change, argument):
    arrays, options = make_call()
    options.update(change)
    with pytest.raises(ValueError, match=f"^{argument}"):
        gdr_verify.oracle_chunked(*arrays.values(), **options)


def test_varlen_rows_and_their_checkpoints():
    # Three sequences of 3, 0 and 5 tokens packed into one row of 8 (cu_seqlens), grouped heads.
    arrays, options = make_call(B=1, T=8)
    options["cu_seqlens"] = np.array([0, 3, 3, 8], dtype=np.int32)
    options["state_indices"] = np.array([4, 0, 2], dtype=np.int64)
    o, bank = gdr_verify.oracle(*arrays.values(), **options)
    chunked_o, chunked_bank, checkpoints, offsets = gdr_verify.oracle_chunked(
        *arrays.values(), chunk_size=2, checkpoints=True, **options)
    assert relative(chunked_o, o) < 1e-12
    np.testing.assert_array_equal(chunked_bank[0], arrays["state"][0])  # the empty sequence writes nothing
    assert relative(chunked_bank[[4, 2]], bank[[4, 2]]) < 1e-12
    assert list(offsets) == [0, 1, 1, 3] and checkpoints.shape[0] == 3  # floor(3/2), 0, floor(5/2)
