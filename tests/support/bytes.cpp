// The byte helpers of bytes.hpp: plain memcpy and Eigen's half/bfloat16, no reference/ code.
#include "support/bytes.hpp"

#include <Eigen/Core>
#include <cstring>

namespace gdr::testing {

void put(std::vector<std::byte>& buffer, DType dtype, i64 index, double value) {
    std::byte* at = buffer.data() + index * i64(gdr::dtype_size(dtype));
    switch (dtype) {
        case DType::f32: {
            const float f = float(value);
            std::memcpy(at, &f, 4);
            break;
        }
        case DType::f64:
            std::memcpy(at, &value, 8);
            break;
        case DType::f16: {
            const Eigen::half h{float(value)};
            std::memcpy(at, &h, 2);
            break;
        }
        case DType::bf16: {
            const Eigen::bfloat16 h{float(value)};
            std::memcpy(at, &h, 2);
            break;
        }
    }
}

double get(const std::vector<std::byte>& buffer, DType dtype, i64 index) {
    const std::byte* at = buffer.data() + index * i64(gdr::dtype_size(dtype));
    switch (dtype) {
        case DType::f32: {
            float f;
            std::memcpy(&f, at, 4);
            return f;
        }
        case DType::f64: {
            double d;
            std::memcpy(&d, at, 8);
            return d;
        }
        case DType::f16: {
            Eigen::half h;
            std::memcpy(&h, at, 2);
            return float(h);
        }
        case DType::bf16: {
            Eigen::bfloat16 h;
            std::memcpy(&h, at, 2);
            return float(h);
        }
    }
    return 0;
}

}  // namespace gdr::testing
