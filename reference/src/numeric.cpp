#include "gdr/reference/numeric.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <limits>

#include "convert.hpp"

namespace gdr::reference {

using detail::from_scalar;
using detail::to_scalar;
using detail::with_storage;

double load_double(const void* base, DType dtype, std::int64_t index) {
    return with_storage(dtype, [&]<class S>(S) { return to_scalar<double>(static_cast<const S*>(base)[index]); });
}

void load_doubles(const void* base, DType dtype, std::int64_t begin, std::int64_t count, double* out) {
    with_storage(dtype, [&]<class S>(S) {
        const S* in = static_cast<const S*>(base) + begin;
        for (std::int64_t i = 0; i < count; ++i) out[i] = to_scalar<double>(in[i]);
    });
}

float load_float(const void* base, DType dtype, std::int64_t index) {
    return with_storage(dtype, [&]<class S>(S) { return to_scalar<float>(static_cast<const S*>(base)[index]); });
}

void store_double(void* base, DType dtype, std::int64_t index, double value) {
    with_storage(dtype, [&]<class S>(S) { static_cast<S*>(base)[index] = from_scalar<S>(value); });
}

void store_float(void* base, DType dtype, std::int64_t index, float value) {
    with_storage(dtype, [&]<class S>(S) { static_cast<S*>(base)[index] = from_scalar<S>(value); });
}

double round_to(DType dtype, double value) {
    return with_storage(dtype, [&]<class S>(S) { return to_scalar<double>(from_scalar<S>(value)); });
}

float round_to(DType dtype, float value) {
    return with_storage(dtype, [&]<class S>(S) { return to_scalar<float>(from_scalar<S>(value)); });
}

namespace {

struct Format {
    int precision;     // p: significand bits, including the implicit one
    int min_exponent;  // e_min: the smallest normal is 2^e_min
};

Format format_of(DType dtype) {
    switch (dtype) {
    case DType::f32: return {24, -126};
    case DType::f16: return {11, -14};
    case DType::bf16: return {8, -126};
    case DType::f64: break;
    }
    return {53, -1022};
}

}  // namespace

double ulp(DType dtype, double value) {
    if (std::isnan(value)) return value;
    if (std::isinf(value)) return std::numeric_limits<double>::infinity();
    const Format f = format_of(dtype);
    // |value| in [2^e, 2^(e+1)) has spacing 2^(e - p + 1); below the smallest normal the
    // spacing stays that of the subnormals, 2^(e_min - p + 1). Above the format's largest
    // finite value this is the spacing the binade would have (no special case for overflow).
    // The exponent from the bits, and 2^k built as bits where k is a normal double's exponent:
    // the comparison judges every element with this, and ilogb/ldexp were a tenth of its time.
    const auto bits = std::bit_cast<std::uint64_t>(value);
    const int biased = int((bits >> 52) & 0x7ff);
    const int exponent = value == 0.0 ? f.min_exponent : biased == 0 ? std::ilogb(value) : biased - 1023;
    const int k = std::max(exponent, f.min_exponent) - f.precision + 1;
    if (k < -1022) return std::ldexp(1.0, k);
    return std::bit_cast<double>(std::uint64_t(k + 1023) << 52);
}

double unit_roundoff(DType dtype) { return std::ldexp(1.0, -format_of(dtype).precision); }

}  // namespace gdr::reference
