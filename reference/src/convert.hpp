// Private to gdr_reference: typed, inlinable element conversions behind numeric.hpp and
// the oracle's hot loops. Storage types: float, double, Eigen::half, Eigen::bfloat16.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "gdr/core/dtype.hpp"

namespace gdr::reference::detail {

// double -> float rounded to odd: truncate toward zero, and if that was inexact set the
// lowest mantissa bit. A value rounded to odd at 24 bits rounds correctly (RNE) to any
// format of at most 22 bits (f16: 11, bf16: 8), so double -> odd float -> RNE f16/bf16 is
// one correct rounding; plain double -> float -> bf16 can round twice (a tie created by
// the first rounding is then broken the wrong way).
inline float round_to_odd_float(double value) {
    if (std::isnan(value)) return static_cast<float>(value);
    float f = static_cast<float>(value);  // RNE; may overflow to +-inf
    if (static_cast<double>(f) == value) return f;  // exact (including +-inf and +-0)
    // Inexact. RNE went away from zero if |f| > |value| (also when it overflowed to inf):
    // step one float toward zero to get the truncation. Truncation never overflows, and
    // for |value| below the smallest subnormal it is a zero of value's sign. One step toward
    // zero is the magnitude bits minus one (sign and magnitude: inf - 1 is the largest
    // finite float, the smallest subnormal - 1 a zero of its sign); std::nextafter is the
    // same step, a library call and a tenth of a comparison's time.
    std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
    if (std::fabs(static_cast<double>(f)) > std::fabs(value)) --bits;
    return std::bit_cast<float>(bits | 1u);  // sticky bit: "inexact"
}

// Storage -> compute scalar. Exact for every pair used here except double -> float
// (the emulated run reading f64, which validation forbids; kept RNE for completeness).
template <class Scalar, class Storage>
inline Scalar to_scalar(Storage x) {
    if constexpr (std::is_same_v<Storage, Eigen::half> || std::is_same_v<Storage, Eigen::bfloat16>)
        return static_cast<Scalar>(static_cast<float>(x));
    else
        return static_cast<Scalar>(x);
}

// Compute scalar -> storage, one rounding to nearest even.
template <class Storage, class Scalar>
inline Storage from_scalar(Scalar x) {
    if constexpr (std::is_same_v<Storage, Scalar>) {
        return x;
    } else if constexpr (std::is_same_v<Storage, Eigen::half> || std::is_same_v<Storage, Eigen::bfloat16>) {
        if constexpr (std::is_same_v<Scalar, double>)
            return Storage(round_to_odd_float(x));
        else
            return Storage(static_cast<float>(x));  // Eigen: float -> f16/bf16 RNE
    } else {
        return static_cast<Storage>(x);  // double <-> float: the hardware's RNE
    }
}

// Calls f(Storage{}) with the storage type of `dtype`, so that a loop inside f is typed
// and the dtype is switched on once per slice, not per element.
template <class F>
inline decltype(auto) with_storage(DType dtype, F&& f) {
    switch (dtype) {
    case DType::f32: return std::forward<F>(f)(float{});
    case DType::f16: return std::forward<F>(f)(Eigen::half{});
    case DType::bf16: return std::forward<F>(f)(Eigen::bfloat16{});
    case DType::f64: break;
    }
    return std::forward<F>(f)(double{});
}

}  // namespace gdr::reference::detail
