// The poison pattern: a signalling-NaN bit pattern per dtype that fills outputs, the
// destination state and the guard bands around buffers before a run. A value no
// arithmetic produces (arithmetic only makes quiet NaNs), so a surviving pattern means
// "never written" and a changed guard byte means "written out of bounds".
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gdr/core/dtype.hpp"

namespace gdr {

// Little-endian bytes of one poison element of `dtype`:
// f32 0x7FA5A5A5, f16 0x7D5A, bf16 0x7FA5, f64 0x7FF4A5A5A5A5A5A5.
std::vector<std::byte> poison_pattern(DType dtype);

// Fills `bytes` bytes at `destination` with repeats of the pattern (a partial element at
// the end takes the pattern's first bytes).
void fill_poison(void* destination, std::size_t bytes, DType dtype);

// Whether `bytes` bytes at `data` are an exact repetition of the pattern.
bool is_poison(const void* data, std::size_t bytes, DType dtype);

}  // namespace gdr
