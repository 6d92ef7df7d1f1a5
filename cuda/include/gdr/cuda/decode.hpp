// The CUDA fused recurrent gated delta rule for decode (docs/SPEC.md, "The recurrence"): one
// or a few tokens per row, the state read and written in place in a state bank, both
// layouts, state_indices, circular slots, grouped heads, in-kernel q/k l2norm, fp32 /
// fp16 / bf16 inputs and states, strided q/k/v/o. The params struct is gdr::Problem,
// with every pointer (tensors, bank, state_indices, cache_seqlens, cu_seqlens) on the device.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>
#include <string>

#include "gdr/core/problem.hpp"

namespace gdr::cuda {

// The largest head size K this kernel family handles (V is unbounded).
inline constexpr std::int64_t kMaxKeyDim = 256;

// Why this kernel cannot run `problem` although it is valid, or nullopt.
std::optional<std::string> unsupported_reason(const Problem& problem);

// The kernel fused_recurrent_decode launches for `problem` (bench/NOTES.md, v4 and round 2).
// Its tiling: whole tiles in their layout's own shape (K of 64, 128 or 256; V a multiple of
// the tile's columns, 8 or 16 (VK), 32 or 64 (KV); state and q/k/v/o aligned to 4
// elements), anything else the general one. A 16-bit state in whole tiles stays packed (two
// per register) where h is rounded to the state dtype after every token anyway: T = 1, or
// circular with output_final_state. And whether it is the one-token instance (no token
// loop; T = 1 without cu_seqlens, in the tilings where it spills less: packed VK).
// Validates like fused_recurrent_decode; for tests that must cover each kernel, and for
// benchmarks.
enum class DecodeTiling { general, whole_vk, whole_kv, whole_vk_packed, whole_kv_packed };
struct DecodeLaunch {
    DecodeTiling tiling;
    bool one_token;
};
DecodeLaunch decode_launch(const Problem& problem);

// Validates `problem` against docs/SPEC.md (shapes, dtypes, strides, the bank's declared shape;
// arrays on the device are not read, so duplicate state_indices are the caller's to rule
// out) and launches on `stream`. Throws gdr::InvalidArgument or gdr::NotSupported before
// anything runs, and std::runtime_error naming the CUDA error if the launch fails. B = 0,
// T = 0 and zero rows launch nothing. Allocates nothing. Asynchronous, like any launch.
void fused_recurrent_decode(const Problem& problem, cudaStream_t stream = nullptr);

}  // namespace gdr::cuda
