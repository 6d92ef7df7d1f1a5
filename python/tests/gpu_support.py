"""What the CUDA test files need before they run: torch with a CUDA device and gdr_verify
built with CUDA. Without them the whole calling module is skipped (ctest: exit 77, shown as
skipped), or fails under GDR_REQUIRE_GPU=1."""

import os

import pytest

import gdr_verify


def torch_with_cuda():
    """The torch module, or the calling test module skipped (raises under GDR_REQUIRE_GPU=1)."""
    try:
        import torch
    except ImportError:
        torch, why = None, "torch is not installed"
    else:
        why = ("no CUDA device" if not torch.cuda.is_available()
               else None if gdr_verify.built_with_cuda else "gdr_verify was built without CUDA")
    if why:
        if os.environ.get("GDR_REQUIRE_GPU") == "1":
            raise RuntimeError(f"GDR_REQUIRE_GPU=1 but {why}")
        pytest.skip(why, allow_module_level=True)
    return torch
