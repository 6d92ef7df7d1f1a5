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

void store_doubles(void* base, DType dtype, std::int64_t begin, std::int64_t stride, std::int64_t count, const double* in) {
    with_storage(dtype, [&]<class S>(S) {
        S* out = static_cast<S*>(base) + begin;
        for (std::int64_t i = 0; i < count; ++i) out[i * stride] = from_scalar<S>(in[i]);
    });
}

void store_float(void* base, DType dtype, std::int64_t index, float value) {
    with_storage(dtype, [&]<class S>(S) { static_cast<S*>(base)[index] = from_scalar<S>(value); });
}

double round_to(DType dtype, double value) {
    return with_storage(dtype, [&]<class S>(S) { return to_scalar<double>(from_scalar<S>(value)); });
}

void round_doubles(DType dtype, const double* in, std::int64_t count, double* out) {
    with_storage(dtype, [&]<class S>(S) {
        for (std::int64_t i = 0; i < count; ++i) out[i] = to_scalar<double>(from_scalar<S>(in[i]));
    });
}

float round_to(DType dtype, float value) {
    return with_storage(dtype, [&]<class S>(S) { return to_scalar<float>(from_scalar<S>(value)); });
}

double overflow_threshold(DType dtype) {
    if (dtype == DType::f64) return std::numeric_limits<double>::infinity();
    const detail::Format f = detail::format_of(dtype);
    // The largest finite value is (2 - 2^(1-p)) 2^e_max, with e_max = 1 - e_min in every IEEE
    // format; half its ulp above it is (2 - 2^-p) 2^e_max.
    return std::ldexp(2.0 - std::ldexp(1.0, -f.precision), 1 - f.min_exponent);
}

double unit_roundoff(DType dtype) { return std::ldexp(1.0, -detail::format_of(dtype).precision); }

}  // namespace gdr::reference
