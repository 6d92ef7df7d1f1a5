// Where a chunk is: its row's tokens and bank entry, its number of tokens, its workspace
// slot, and the tiling constants both passes share.
//
// Slots. A row's chunks take consecutive workspace slots from first_slot(row):
//   fixed length  row * ceil(T / C)                      (rows * ceil(T / C) slots)
//   varlen        floor(cu_seqlens[row] / C) + row       (floor(T / C) + rows slots)
// The varlen rule needs no prefix sum over the rows: row r's ceil(len_r / C) chunks fit
// before row r + 1's first slot because floor(a / C) + floor(len / C) <= floor((a + len) / C)
// and ceil(len / C) <= floor(len / C) + 1; it leaves a gap slot where a row's length is a
// multiple of C. The chunk-local pass finds a slot's row by binary search (first_slot
// increases with the row).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "../common/element_conversions.cuh"
#include "../common/mutation_hooks.cuh"
#include "chunk_args.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

constexpr int kChunkWarps = 8;
constexpr int kChunkThreads = 32 * kChunkWarps;
constexpr int kTile = 16;        // the wmma tile edge
constexpr int kRowPad = 8;       // 16-bit elements past each shared-memory row: 16 bytes, so
constexpr int kFloatRowPad = 4;  // that a fragment's 8 rows start in 8 different bank groups

// The value tile of a key size: the widest whose shared memory fits one state-pass block per SM.
constexpr int value_tile_of(std::int64_t K) { return K > 128 ? 32 : 64; }

__device__ __forceinline__ std::int64_t at(const std::int64_t* stride, std::int64_t b, std::int64_t t, std::int64_t head) {
    return b * stride[0] + t * stride[1] + head * stride[2];
}

__device__ __forceinline__ std::int64_t cu_seqlen(const ChunkArgs& a, std::int64_t row) {
    return a.cu_seqlens_i64 ? static_cast<const std::int64_t*>(a.cu_seqlens)[row] : static_cast<const std::int32_t*>(a.cu_seqlens)[row];
}

__device__ __forceinline__ std::int64_t first_slot(const ChunkArgs& a, std::int64_t row) {
    return a.varlen ? cu_seqlen(a, row) / kChunk + row : row * a.workspace.chunks_per_row;
}

// The q/k head of value head hv (grouped heads: G consecutive value heads share one).
__device__ __forceinline__ std::int64_t key_head_of(const ChunkArgs& a, std::int64_t hv) {
    return GDR_MUTATE(chunk_head_mapping_modulo, hv % (a.value_heads / a.group), hv / a.group);
}

// The tokens of the chunk that starts `first` tokens into a row of `length`.
__device__ __forceinline__ int chunk_tokens(const ChunkArgs& a, std::int64_t length, std::int64_t first) {
    const std::int64_t left = length - first + GDR_MUTATE(chunk_varlen_boundary_off_by_one, a.varlen ? 1 : 0, 0);
    return static_cast<int>(left < kChunk ? left : kChunk);
}

// A row's bank entry and circular position; inactive (exact zero output, the bank
// untouched) when the entry is outside the bank or cache_seqlens is negative.
struct RowState {
    std::int64_t entry;
    std::int32_t cache_seqlen;
    bool active;
};
__device__ __forceinline__ RowState row_state(const ChunkArgs& a, std::int64_t row) {
    const std::int64_t n = a.state_indices ? a.state_indices[row] : row;
    const std::int32_t cache_seqlen = a.cache_seqlens ? a.cache_seqlens[row] : 0;
    return {n, cache_seqlen, n >= 0 && n < a.N && cache_seqlen >= 0};
}

// The row and chunk of workspace slot `slot`, or false for a slot no chunk uses.
__device__ __forceinline__ bool locate_slot(const ChunkArgs& a, std::int64_t slot, std::int64_t& row, std::int64_t& chunk) {
    if (!a.varlen) {
        row = slot / a.workspace.chunks_per_row;
        chunk = slot % a.workspace.chunks_per_row;
        return row < a.rows;
    }
    if (first_slot(a, 0) > slot) return false;
    std::int64_t low = 0, high = a.rows - 1;  // the last row whose first slot is <= slot
    while (low < high) {
        const std::int64_t middle = (low + high + 1) / 2;
        if (first_slot(a, middle) <= slot) low = middle;
        else high = middle - 1;
    }
    row = low;
    chunk = slot - first_slot(a, row);
    return chunk * kChunk < cu_seqlen(a, row + 1) - cu_seqlen(a, row);
}

template <class In>
__device__ __forceinline__ float load_gate_value(const void* base, DType dtype, std::int64_t offset) {
    return dtype == DType::f32 ? static_cast<const float*>(base)[offset] : to_float(static_cast<const In*>(base)[offset]);
}

// The workspace record of (slot, hv): element 0 of its matrix with `columns` columns.
template <class T>
__device__ __forceinline__ T* record(void* array, const ChunkArgs& a, std::int64_t slot, std::int64_t hv, std::int64_t columns) {
    return static_cast<T*>(array) + (slot * a.value_heads + hv) * kChunk * columns;
}

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
