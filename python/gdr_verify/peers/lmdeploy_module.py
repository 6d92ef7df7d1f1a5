"""Finds lmdeploy's gated_delta_rule kernel module without importing lmdeploy's heavy package.

Plain Python with no imports of this package or of torch, so that bench/peers/lmdeploy_decode.py
loads this file by path and finds the kernel the way the subject (peers/lmdeploy.py) does.
The order: the file GDR_LMDEPLOY_KERNEL names; an installed lmdeploy
(lmdeploy.pytorch.kernels.cuda.gated_delta_rule); the module alone as scripts/peer-bundle
packs it (lmdeploy_kernels.gated_delta_rule).
"""

import importlib
import importlib.util
import os

MODULE_NAMES = ("lmdeploy.pytorch.kernels.cuda.gated_delta_rule", "lmdeploy_kernels.gated_delta_rule")


def load_kernel_module():
    path = os.environ.get("GDR_LMDEPLOY_KERNEL")
    if path:
        spec = importlib.util.spec_from_file_location("gdr_verify_lmdeploy_gated_delta_rule", path)
        if spec is None:
            raise ImportError(f"GDR_LMDEPLOY_KERNEL: cannot load {path!r}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    errors = []
    for name in MODULE_NAMES:
        try:
            return importlib.import_module(name)
        except ImportError as error:
            errors.append(f"{name}: {error}")
    raise ImportError("lmdeploy's gated_delta_rule kernel module was not found (" + "; ".join(errors) + "): "
                      "install lmdeploy, unpack scripts/peer-bundle's bundle on the path, or set "
                      "GDR_LMDEPLOY_KERNEL to the module's file")
