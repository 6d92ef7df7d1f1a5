// Typed access to raw byte buffers of any dtype, for tests that build oracle inputs by
// hand. Written with Eigen's half types only, independent of reference/'s conversions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gdr/core/dtype.hpp"

namespace gdr::testing {

using i64 = std::int64_t;

// Typed access to raw buffers of any dtype, written for the tests (values put here are
// exact in the dtype, so how they are encoded does not matter).
void put(std::vector<std::byte>& buffer, DType dtype, i64 index, double value);
double get(const std::vector<std::byte>& buffer, DType dtype, i64 index);

}  // namespace gdr::testing
