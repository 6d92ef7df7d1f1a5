// Reading and writing stored elements of any DType as double or float, with exactly one
// round-to-nearest-even rounding on every store (docs/SPEC.md "Rounding"). Built on
// Eigen::half and Eigen::bfloat16; a double is first rounded to float with
// round-to-odd so that double -> fp16/bf16 is one correct rounding, not two.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "gdr/core/dtype.hpp"

namespace gdr::reference {

// Element `index` (in elements) of a buffer of `dtype`, converted exactly (f64 -> float
// rounds once to nearest even).
double load_double(const void* base, DType dtype, std::int64_t index);
// out[i] = load_double(base, dtype, begin + i) for i < count, in one typed loop (the
// comparison widens every slice it judges with this).
void load_doubles(const void* base, DType dtype, std::int64_t begin, std::int64_t count, double* out);
float load_float(const void* base, DType dtype, std::int64_t index);

// Stores `value` rounded once, to nearest even, to `dtype`.
void store_double(void* base, DType dtype, std::int64_t index, double value);
void store_float(void* base, DType dtype, std::int64_t index, float value);

// The value that one RNE rounding of `value` to `dtype` gives, as a double.
double round_to(DType dtype, double value);
float round_to(DType dtype, float value);
// out[i] = round_to(dtype, in[i]) for i < count, in one typed loop.
void round_doubles(DType dtype, const double* in, std::int64_t count, double* out);

namespace detail {

struct Format {
    int precision;     // p: significand bits, including the implicit one
    int min_exponent;  // e_min: the smallest normal is 2^e_min
};

constexpr Format format_of(DType dtype) {
    switch (dtype) {
    case DType::f32: return {24, -126};
    case DType::f16: return {11, -14};
    case DType::bf16: return {8, -126};
    case DType::f64: break;
    }
    return {53, -1022};
}

}  // namespace detail

// One unit in the last place of the format `f` at the magnitude of `value` (for |value|
// below the smallest normal: the subnormal spacing). Inline: the comparison calls it twice
// for every element it judges, with the format looked up once per slice.
inline double ulp(const detail::Format& f, double value) {
    if (std::isnan(value)) return value;
    if (std::isinf(value)) return std::numeric_limits<double>::infinity();
    // |value| in [2^e, 2^(e+1)) has spacing 2^(e - p + 1); below the smallest normal the
    // spacing stays that of the subnormals, 2^(e_min - p + 1). Above the format's largest
    // finite value this is the spacing the binade would have (no special case for overflow).
    // The exponent from the bits, and 2^k built as bits where k is a normal double's exponent
    // (ilogb/ldexp were a tenth of the comparison's time).
    const auto bits = std::bit_cast<std::uint64_t>(value);
    const int biased = int((bits >> 52) & 0x7ff);
    const int exponent = value == 0.0 ? f.min_exponent : biased == 0 ? std::ilogb(value) : biased - 1023;
    const int k = std::max(exponent, f.min_exponent) - f.precision + 1;
    if (k < -1022) return std::ldexp(1.0, k);
    return std::bit_cast<double>(std::uint64_t(k + 1023) << 52);
}

// The same for `dtype`.
inline double ulp(DType dtype, double value) { return ulp(detail::format_of(dtype), value); }

// Unit roundoff u = 2^-p of `dtype` (p = 24 for f32, 11 for f16, 8 for bf16, 53 for f64).
double unit_roundoff(DType dtype);

}  // namespace gdr::reference
