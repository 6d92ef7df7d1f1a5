// A deliberately unchecked writer: stores `value` to data[begin, end), whatever the
// allocation's bounds, so the tests can make out-of-bounds writes on purpose.
#pragma once

#include <cstdint>

void write_floats(float* data, std::int64_t begin, std::int64_t end, float value);
