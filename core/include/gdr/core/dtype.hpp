// Element types and state layouts shared by the oracle, the kernels and the harness.
// No Eigen and no CUDA here: both sides include this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace gdr {

// Storage types of tensors. f64 is never a kernel dtype: the fp64 truth run of the
// oracle (R64) stores its outputs and its bank in it so that nothing is rounded.
enum class DType : std::uint8_t { f32, f16, bf16, f64 };

// State layout of one (entry, slot, value head) matrix: KV stores h[k][v] at [k][v],
// VK ("transposed", "state_v_first") stores it at [v][k].
enum class Layout : std::uint8_t { KV, VK };

// Element type of cu_seqlens.
enum class IndexType : std::uint8_t { i32, i64 };

std::size_t dtype_size(DType dtype);
std::string_view to_string(DType dtype);
std::string_view to_string(Layout layout);
std::string_view to_string(IndexType type);
// Accepts the canonical names (f32, f16, bf16, f64) and the usual aliases
// (fp32, float32, fp16, float16, half, bfloat16, fp64, float64, double).
std::optional<DType> parse_dtype(std::string_view text);
std::optional<Layout> parse_layout(std::string_view text);  // kv, vk (case-insensitive)

}  // namespace gdr
