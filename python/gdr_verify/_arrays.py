"""Framework arrays in and out of the compiled core: which framework an array belongs to,
how a bfloat16 array crosses (numpy has no bfloat16 of its own: ml_dtypes' travels as a
uint16 view), how o is allocated, and which stream a CUDA call goes on."""

import numpy as np

try:
    import ml_dtypes
except ImportError:  # bfloat16 numpy arrays then cannot be made or read
    ml_dtypes = None


def framework_of(array):
    """'torch', 'cupy', 'jax', 'numpy' or the array type's top-level module name."""
    return type(array).__module__.split(".")[0].replace("jaxlib", "jax")


def is_numpy_bfloat16(array):
    return ml_dtypes is not None and isinstance(array, np.ndarray) and array.dtype == ml_dtypes.bfloat16


def crossing(name, array, storage_dtypes):
    """The array as the core takes it; a numpy bfloat16 array as its uint16 view, noted in
    `storage_dtypes`."""
    if array is None:
        return None
    if is_numpy_bfloat16(array):
        storage_dtypes[name] = "bf16"
        return array.view(np.uint16)
    if framework_of(array) == "jax":
        raise ValueError(f"{name}: jax arrays are immutable, and the decode call writes o and the bank in place; "
                         "use torch, cupy or numpy arrays")
    return array


def new_output(q, v):
    """o for a call: v's shape [B, T, HV, V] in q's dtype, on q's device."""
    framework = framework_of(q)
    if framework == "torch":
        return q.new_empty(tuple(v.shape))
    if framework == "cupy":
        import cupy
        return cupy.empty(v.shape, dtype=q.dtype)
    if isinstance(q, np.ndarray):
        return np.empty(v.shape, dtype=q.dtype)
    raise ValueError(f"out: cannot allocate o for arrays of type {type(q).__name__}; pass out=")


def current_stream(q):
    """The caller's current CUDA stream for q's device (0, the legacy default stream, when the
    framework has no notion of one)."""
    framework = framework_of(q)
    if framework == "torch" and q.is_cuda:
        import torch
        return torch.cuda.current_stream(q.device).cuda_stream
    if framework == "cupy":
        import cupy
        return cupy.cuda.get_current_stream().ptr
    return 0


def view_as(dtype_name, array, framework):
    """A view the core made (DLPack, no owner) as the framework's array, bfloat16 restored."""
    if framework == "torch":
        import torch
        tensor = torch.from_dlpack(array)
        return tensor.view(torch.bfloat16) if dtype_name == "bf16" else tensor
    if framework == "cupy":
        import cupy
        if dtype_name == "bf16":
            raise NotImplementedError("cupy has no bfloat16 dtype")
        return cupy.from_dlpack(array)
    host = np.from_dlpack(array)
    if dtype_name == "bf16":
        if ml_dtypes is None:
            raise ImportError("a bfloat16 case on numpy needs the ml_dtypes package")
        return host.view(ml_dtypes.bfloat16)
    return host
