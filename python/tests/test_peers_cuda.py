"""The peers' adapters (gdr_verify.peers) on a CUDA device, where the peers are installed
(scripts/peer-bundle): a case each supports is judged PASSED, a case it declares it does
not support is NOT_SUPPORTED under its declared limitation (a strict gate passes), and a
broken adapter is INCORRECT. Skips without torch, a device or the peer's package."""

import importlib
import json
import pathlib

import pytest

import gdr_verify
from gpu_support import torch_with_cuda

torch_with_cuda()


PEER_CORPUS = pathlib.Path(__file__).resolve().parents[2] / "fuzz" / "corpus" / "peers"


def peer(name):
    try:
        return importlib.import_module(f"gdr_verify.peers.{name}")
    except ImportError as error:  # the peers are optional even on a GPU machine
        pytest.skip(f"{name} is not installed: {error}")


SUPPORTED = ("B=3 T=2 H=2 HV=4 K=64 V=48 layout={layout} in=bf16 gate=f32 state={state} N=6 "
             "indices=permutation inactive=1 seed=5")


@pytest.mark.parametrize("name", ["fla", "lmdeploy"])
@pytest.mark.parametrize("layout,state", [("kv", "f32"), ("vk", "bf16")])
def test_a_supported_case_passes(name, layout, state):
    result = gdr_verify.check(peer(name).subject, SUPPORTED.format(layout=layout, state=state), strict=True)
    assert result.exit_code == 0, result.records
    assert result.records[0]["outcome"] == "PASSED"


@pytest.mark.parametrize("name,case,limitation", [
    ("fla", "B=2 T=2 H=1 HV=2 K=64 V=32 slots=3 circular=1 seed=2", "no-circular"),
    ("lmdeploy", "B=2 T=1 H=1 HV=2 K=48 V=32 seed=2", "k-multiple-of-32"),
    ("lmdeploy", "B=1 T=4 H=1 HV=2 K=64 V=32 varlen=1 seq_lengths=1,3 seed=2", "no-varlen"),
])
def test_a_declared_limitation_is_not_supported_and_passes_a_strict_gate(name, case, limitation):
    result = gdr_verify.check(peer(name).subject, case, strict=True)
    assert result.exit_code == 0, result.records
    assert result.records[0]["outcome"] == "NOT_SUPPORTED"
    assert result.records[0]["declared_limitation"] == limitation


def test_an_adapter_that_forgets_to_scatter_the_state_is_incorrect():
    fla = peer("fla")

    def forgets_the_bank(q, k, v, g, beta, state, **settings):
        fla.decode(q, k, v, g, beta, state.clone(), **settings)  # the bank is never written

    broken = gdr_verify.Subject(forgets_the_bank, name="test_peers_cuda:forgets_the_bank", device="cuda",
                                math_mode="fast")
    result = gdr_verify.check(broken, SUPPORTED.format(layout="kv", state="f32"))
    assert result.exit_code == 1 and result.records[0]["outcome"] == "INCORRECT"


@pytest.mark.parametrize("path", sorted(PEER_CORPUS.glob("*.json")), ids=lambda path: path.stem)
def test_a_peer_finding_still_reproduces(path):
    """Each replay file of fuzz/corpus/peers is a finding in a peer (peers/FINDINGS.md): its
    verdict stays the recorded one until the peer changes, when the finding is to be revisited."""
    recorded = json.loads(path.read_text())
    peer(recorded["subject"].split(":")[0].rsplit(".", 1)[-1])
    result = gdr_verify.replay(None, path)
    assert [record["outcome"] for record in result.records] == [recorded["outcome"]], result.records
