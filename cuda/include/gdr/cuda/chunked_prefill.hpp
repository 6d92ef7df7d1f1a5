// The CUDA chunked gated delta rule for prefill (docs/SPEC.md, "Variable-length batches"):
// long rows of tokens, cut into chunks of kChunkSize tokens whose products run on tensor
// cores (the WY / UT-transform form, reference/chunked.hpp derives it). The same params
// struct as decode, gdr::Problem, with every pointer on the device: varlen batches
// (cu_seqlens int32 or int64), both state layouts, the initial state read from the bank
// through state_indices (inactive rows: zero output, bank untouched), the final state
// written in place, circular slots (read cache_seqlens mod Slots, write only
// (cache_seqlens + len) mod Slots), grouped heads, in-kernel q/k l2norm, g and beta
// optional, optional state checkpoints every kChunkSize tokens.
//
// Two passes: the chunk-local work of every chunk at once (A, T = (I + A)^-1, W, U, P),
// then the state, chunk after chunk, each row's value tiles side by side; they talk
// through a workspace (chunked_prefill_workspace_bytes).
//
// Precision: f16/bf16 inputs (the tensor cores' operands), fp32 accumulation, the state
// in fp32 across chunks; f32/f16/bf16 states. The kernels round to the input dtype exactly
// at reference::ChunkRoundingPoints::tensor_core_two_pass()'s points (for f16 inputs they
// round to f16), which is what their verification declares.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "gdr/core/problem.hpp"

namespace gdr::cuda {

// Tokens per chunk; also the checkpoint interval.
inline constexpr std::int64_t kChunkSize = 64;

// Optional state checkpoints: row r's state after m * kChunkSize of its tokens (m >= 1,
// m * kChunkSize <= its length; the final state too when kChunkSize divides the length),
// in the state dtype and the bank's layout, at element
// ((offsets[r] + m - 1) * HV + hv) * K * V of `data`. offsets (device, int64, rows + 1
// entries) is reference::checkpoint_offsets(problem, kChunkSize): row r owns
// floor(len_r / kChunkSize) places. An inactive row's places are not written.
struct ChunkCheckpoints {
    void* data = nullptr;                   // device; nullptr: no checkpoints
    const std::int64_t* offsets = nullptr;  // device; required with data
};

// Why this kernel cannot run `problem` although it is valid, or nullopt: inputs other than
// f16/bf16, K other than 64, 128, 256, V not a multiple of the value tile (64; 32 at
// K = 256), f64 storage.
std::optional<std::string> chunked_prefill_unsupported_reason(const Problem& problem);

// Device memory the two passes share: chunked_prefill_workspace_bytes(problem) bytes, any
// alignment cudaMalloc gives. About (3 K + V + C) x 2 bytes (16-bit inputs) and 272 bytes
// per chunk and value head, for (T / C + rows) chunks (varlen) or rows x ceil(T / C).
struct ChunkWorkspace {
    void* data = nullptr;  // device; nullptr: the call allocates its own (below)
    std::size_t bytes = 0;
};
std::size_t chunked_prefill_workspace_bytes(const Problem& problem);  // validates `problem` first

// Validates `problem` (as fused_recurrent_decode: arrays on the device are not read),
// `checkpoints` (InvalidArgument "checkpoints" for data without offsets) and `workspace`
// (InvalidArgument "workspace" when it is too small), then launches the two passes on
// `stream`. Throws gdr::InvalidArgument or gdr::NotSupported before anything runs, and
// std::runtime_error naming the CUDA error if a launch fails. Zero rows or tokens launch
// nothing. Without a workspace it takes one from the stream-ordered allocator
// (cudaMallocAsync) and frees it in stream order after the passes; a serving engine passes
// its own. Asynchronous, like any launch.
void chunked_prefill(const Problem& problem, const ChunkCheckpoints& checkpoints = {}, cudaStream_t stream = nullptr,
                     const ChunkWorkspace& workspace = {});

}  // namespace gdr::cuda
