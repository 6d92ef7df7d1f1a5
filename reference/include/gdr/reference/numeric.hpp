// Reading and writing stored elements of any DType as double or float, with exactly one
// round-to-nearest-even rounding on every store (docs/SPEC.md "Rounding"). Built on
// Eigen::half and Eigen::bfloat16; a double is first rounded to float with
// round-to-odd so that double -> fp16/bf16 is one correct rounding, not two.
#pragma once

#include <cstdint>

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

// One unit in the last place of `dtype` at the magnitude of `value` (for |value| below
// the smallest normal: the subnormal spacing).
double ulp(DType dtype, double value);
// Unit roundoff u = 2^-p of `dtype` (p = 24 for f32, 11 for f16, 8 for bf16, 53 for f64).
double unit_roundoff(DType dtype);

}  // namespace gdr::reference
