"""Python subjects for the package's tests, importable as sample_subjects:NAME so that
`python -m gdr_verify ... --subject sample_subjects:NAME` finds them too."""

import numpy as np

import gdr_verify


def _decode_into(q, k, v, g, beta, state, *, out, **settings):
    gdr_verify.decode(q, k, v, g, beta, state, out=out, **settings)


# The package's own CPU decode (the emulated oracle) as a subject: must pass everything.
cpu_decode = gdr_verify.Subject(_decode_into, name="sample_subjects:cpu_decode", math_mode="correctly-rounded",
                                description="gdr_verify.decode on numpy arrays")


def _zero_output(q, k, v, g, beta, state, *, out, **settings):
    """Right bank, wrong output: o all zeros (must be INCORRECT)."""
    gdr_verify.decode(q, k, v, g, beta, state, out=out, **settings)
    out[...] = 0


zero_output = gdr_verify.Subject(_zero_output, name="sample_subjects:zero_output", math_mode="correctly-rounded")


def _returns_o(q, k, v, g, beta, state, *, out, **settings):
    """Returns o instead of writing out: the trampoline copies it."""
    o = np.zeros(out.shape, dtype=out.dtype)
    gdr_verify.decode(q, k, v, g, beta, state, out=o, **settings)
    return o


returns_o = gdr_verify.Subject(_returns_o, name="sample_subjects:returns_o", math_mode="correctly-rounded")


def _no_circular(q, k, v, g, beta, state, *, out, cache_seqlens, **settings):
    if cache_seqlens is not None:
        raise gdr_verify.NotSupported("circular slots are not implemented")
    gdr_verify.decode(q, k, v, g, beta, state, out=out, cache_seqlens=None, **settings)


circular_limitation = gdr_verify.Limitation("no-circular", "no circular slots (cache_seqlens)",
                                            lambda spec, reason: bool(spec.get("circular")))
no_circular_declared = gdr_verify.Subject(_no_circular, name="sample_subjects:no_circular_declared",
                                          math_mode="correctly-rounded", limitations=[circular_limitation])
no_circular_undeclared = gdr_verify.Subject(_no_circular, name="sample_subjects:no_circular_undeclared",
                                            math_mode="correctly-rounded")


def raises_type_error(q, k, v, g, beta, state, *, out, **settings):
    """A plain function (declared by default: cpu, numpy, precise) that fails."""
    raise TypeError("this kernel has a bug in its argument handling")
