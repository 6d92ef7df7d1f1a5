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
// store_double(base, dtype, begin + i * stride, in[i]) for i < count, in one typed loop
// (the case generator fills banks of 10^9 elements with this).
void store_doubles(void* base, DType dtype, std::int64_t begin, std::int64_t stride, std::int64_t count, const double* in);

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
    // |value| in [2^e, 2^(e+1)) has spacing 2^(e - p + 1); below the smallest normal the
    // spacing stays that of the subnormals, 2^(e_min - p + 1). Above the format's largest
    // finite value this is the spacing the binade would have (no special case for overflow).
    // Without branches: the exponent bits alone are
    // 2^e for a normal double, 0 for zero and fp64 subnormals (which the max lifts to
    // 2^e_min, as it does any value below it), and +Inf for Inf and NaN; the product with
    // 2^(1 - p) is exact (a power of two no smaller than 2^-1074).
    const double binade = std::bit_cast<double>(std::bit_cast<std::uint64_t>(value) & 0x7ff0000000000000ull);
    const double smallest_normal = std::bit_cast<double>(std::uint64_t(f.min_exponent + 1023) << 52);
    const double spacing = std::bit_cast<double>(std::uint64_t(1023 + 1 - f.precision) << 52);
    const double result = std::max(binade, smallest_normal) * spacing;
    return value != value ? value : result;  // NaN stays NaN
}

// The same for `dtype`.
inline double ulp(DType dtype, double value) { return ulp(detail::format_of(dtype), value); }

// The smallest |x| that round_to(dtype, x) takes to +-Inf: the largest finite value plus half
// its ulp (the tie goes to Inf, the largest finite significand being odd); +Inf for f64.
// So round_to(dtype, x) is finite exactly where |x| < overflow_threshold(dtype).
double overflow_threshold(DType dtype);

// Unit roundoff u = 2^-p of `dtype` (p = 24 for f32, 11 for f16, 8 for bf16, 53 for f64).
double unit_roundoff(DType dtype);

}  // namespace gdr::reference
