// The math mode a subject declares: which elementary-function implementations it may use,
// and so which documented error bounds the tolerance rule allows it (the oracle computes
// exp, sqrt and division correctly rounded; kernels do not). Part of every verdict: reports
// print it and `--math` overrides a subject's declaration.
#pragma once

#include <optional>
#include <string_view>

#include "gdr/reference/fused_recurrent.hpp"

namespace gdr::harness {

enum class MathMode {
    // exp, sqrt and division correctly rounded, as the oracle computes them: no allowance
    // (CPU stand-ins built on the oracle's own code).
    correctly_rounded,
    // CUDA's standard library functions with IEEE division and square root (nvcc's default
    // -prec-div=true -prec-sqrt=true): expf, sqrtf, rsqrtf, x / y, reciprocal-then-multiply.
    precise,
    // Fast-math intrinsics (-use_fast_math, or written out): __expf / ex2.approx,
    // rsqrt.approx / sqrt.approx, __fdividef.
    fast,
};

std::string_view to_string(MathMode mode);  // "correctly-rounded", "precise", "fast"
std::optional<MathMode> parse_math_mode(std::string_view text);  // nullopt for anything else

// The relative error bounds of alpha = exp(g) and of an l2-normalised q or k element, from
// the CUDA C++ Programming Guide, appendix "Mathematical Functions" (single precision;
// 1 ulp of an fp32 result is at most 2^-23 of it; each bound also counts the 0.5 ulp of
// the correctly rounded result it is measured from):
//   precise: expf 2 ulp; the norm as x * rsqrtf(s) (rsqrtf 2 ulp, the product 0.5) or
//            x * (1 / sqrtf(s)) (0.5 + 0.5 + 0.5): 2.5 ulp.
//   fast:    __expf 2 + floor(|1.173 x|) ulp (the guide's bound for the intrinsic, that
//            -use_fast_math also substitutes for expf); the norm as __fdividef(x, sqrt.approx(s))
//            (2 ulp + 1 ulp, -prec-sqrt=false) or x * rsqrt.approx(s) (2 + 0.5): 3 ulp.
reference::ElementaryErrors elementary_errors(MathMode mode);

}  // namespace gdr::harness
