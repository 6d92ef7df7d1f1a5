// How a block covers its slice of the state: the Tiling of a kernel (warps, lanes, sub-tile
// groups, register budget), the tilings each key capacity compiles (Tilings), and the
// geometry every access shares: the column tiles of V, the valid elements at an edge, and
// the walk over a thread's accesses of a K x V matrix in either layout (for_each_access).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "decode_args.cuh"
#include "../common/mutation_hooks.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

constexpr int kVec = 4;       // a thread's sub-tile is kVec x kVec; one access moves kVec elements

// Registers a thread needs besides its state tile (measured: 56 slowed VK f32 by 13 %).
constexpr int kRegisterOverhead = 72;
// A packed tile (PackedStateTile) unpacks and packs around every use: it needs as many
// registers as the f32 tile (measured: at 32 fewer it spilled 130-280 B and ran 10-15 %
// slower); its gain is the loads and stores without conversions.
#ifndef GDR_PACKED_REGISTER_EXTRA  // a measurement knob (bench/NOTES.md), like GDR_VK16_WIDER
#define GDR_PACKED_REGISTER_EXTRA 32
#endif
constexpr int kPackedRegisterExtra = GDR_PACKED_REGISTER_EXTRA;
constexpr int kElementwiseRegisterOverhead = 112;  // the general tiling: its addresses and masks
enum class LayoutChoice { at_run_time, kv, vk };

// Whether a tiling has decode_kernel's one-token instance, taken by T = 1 without cu_seqlens
// (one_token_call): the packed VK tiles, whose token loop spills and whose one-token
// instance does not (bench/NOTES.md, round 2; in f32 KV it spills more).
constexpr bool one_token_tiling(bool packed, LayoutChoice layout) { return packed && layout == LayoutChoice::vk; }
__host__ __device__ inline bool one_token_call(const DecodeArgs& a) { return !a.varlen && a.seq_len == 1; }

// How a block covers its K x `columns` tile: in each warp, lanes_v lanes along v by lanes_k
// along k; the warps split K; each thread holds J sub-tile groups of kVec x kVec. The
// shapes (Tilings below; tiling_of in decode.cu picks one):
// - any problem: one warp of 2 x 16 lanes, 8 columns, the layout read at run time, and
//   element-wise accesses where an edge or the alignment needs them;
// - whole tiles in layout VK: one warp and no barrier; each column's K elements are
//   contiguous. 8 columns (16 for a 16-bit state and K <= 128);
// - whole tiles in layout KV: K / 64 warps of 8 x 4 lanes, 32 columns (a 16-bit state with
//   K <= 128: K / 32 warps of 16 x 2 lanes, 64 columns), so that a row's piece of the tile
//   is a 128-byte line (64 B for a 16-bit state at K = 256). Narrower pieces of a line,
//   read by different blocks at different times, make DRAM move the line more than once
//   (measured: 8 columns ran KV at half of VK's rate).
template <int LanesV, int Warps, int J, LayoutChoice Layout, bool Whole, bool Packed = false>
struct Tiling {
    static constexpr int lanes_v = LanesV, lanes_k = 32 / LanesV, warps = Warps, threads = 32 * Warps;
    static constexpr int groups = J;
    static constexpr int columns = lanes_v * kVec;                // value columns per block
    static constexpr int rows_per_group = warps * lanes_k * kVec;  // k rows per sub-tile group
    static constexpr int key_capacity = J * rows_per_group;
    static constexpr LayoutChoice layout = Layout;
    static constexpr bool whole = Whole;  // every access valid and aligned: no element-wise path
    static constexpr bool packed = Packed;  // a 16-bit state kept packed (PackedStateTile); whole tiles only
    static_assert(Whole || !Packed);
    static constexpr bool one_token_kernel = one_token_tiling(Packed, Layout);
    // Where this thread sits: lane_v along v and lane_k along k in its warp.
    static __device__ __forceinline__ int warp() { return threadIdx.x / 32; }
    static __device__ __forceinline__ int lane_v() { return threadIdx.x % 32 % lanes_v; }
    static __device__ __forceinline__ int lane_k() { return threadIdx.x % 32 / lanes_v; }
    // The first tile column, and the first k row of sub-tile group j, that this thread holds.
    static __device__ __forceinline__ int first_column() { return lane_v() * kVec; }
    static __device__ __forceinline__ int first_row(int j) { return ((j * warps + warp()) * lanes_k + lane_k()) * kVec; }
    // Registers: the state's J kVec^2 elements (two per register when packed) and
    // kRegisterOverhead more; element-wise accesses need more.
    static constexpr int register_budget =
        J * kVec * kVec / (Packed ? 2 : 1) + (Whole ? kRegisterOverhead : kElementwiseRegisterOverhead) + (Packed ? kPackedRegisterExtra : 0);
    static constexpr int min_blocks_per_sm = 65536 / (threads * (register_budget < 255 ? register_budget : 255));
};

// Lanes along v of the whole tiles. A 16-bit state takes twice the columns (KV: 128 B of a
// row per tile again; VK: twice the elements per thread, so as many bytes in flight), up to
// K = 128: at K = 256 that tile would need more registers than a thread has.
// GDR_VK16_WIDER (default 2) is a measurement knob: how many times wider VK's 16-bit tiles are
// (bench/NOTES.md builds variants with -D and times them side by side).
#ifndef GDR_VK16_WIDER
#define GDR_VK16_WIDER 2
#endif
constexpr int whole_lanes_v(bool kv, std::size_t state_bytes, std::int64_t capacity) {
    const int wider = state_bytes == 2 && capacity <= 128 ? (kv ? 2 : GDR_VK16_WIDER) : 1;
    return (kv ? 8 : 2) * wider;
}

// The kernels for keys up to KeyCapacity (64, 128 or 256).
template <int KeyCapacity, class St>
struct Tilings {
    static constexpr int kv_lanes = whole_lanes_v(true, sizeof(St), KeyCapacity);
    static constexpr int vk_lanes = whole_lanes_v(false, sizeof(St), KeyCapacity);
    static constexpr int kv_rows_per_warp = 32 / kv_lanes * kVec;
    using General = Tiling<2, 1, KeyCapacity / 64, LayoutChoice::at_run_time, false>;
    using WholeVK = Tiling<vk_lanes, 1, KeyCapacity / (32 / vk_lanes * kVec), LayoutChoice::vk, true>;
    using WholeKV = Tiling<kv_lanes, KeyCapacity / (4 * kv_rows_per_warp), 4, LayoutChoice::kv, true>;
    using WholeVKPacked = Tiling<vk_lanes, 1, WholeVK::groups, LayoutChoice::vk, true, true>;
    using WholeKVPacked = Tiling<kv_lanes, WholeKV::warps, 4, LayoutChoice::kv, true, true>;
    static_assert(General::key_capacity == KeyCapacity && WholeVK::key_capacity == KeyCapacity &&
                  WholeKV::key_capacity == KeyCapacity);
};

// Tiles of `columns` value columns per (row, value head); the last one may be partial.
__host__ __device__ __forceinline__ std::int64_t tile_count(const DecodeArgs& a, int columns) {
    return GDR_MUTATE(v_tail_dropped, a.V / columns, (a.V + columns - 1) / columns);
}

// The number of elements from `start` (up to kVec) that lie inside [0, extent).
__device__ __forceinline__ int valid_from(int start, int extent) { return max(0, min(kVec, extent - start)); }

// Calls fn(j, i, offset, valid, KV) for this thread's accesses of a K x V matrix, where
// KV is the layout as a compile-time constant and offset is relative to the matrix. Layout
// VK ([v][k]): access i of group j holds column i, rows first_row(j) ..+kVec. Layout KV
// ([k][v]): row i, columns ..+kVec. Offsets are 32-bit: a matrix has < 2^31 elements
// (unsupported_reason), and the first one is 64-bit in the caller.
template <class Tl, class Fn>
__device__ __forceinline__ void for_each_access(const DecodeArgs& a, int column0, Fn&& fn) {
    const int K = static_cast<int>(a.K), V = static_cast<int>(a.V);
    const int v0 = column0 + Tl::first_column();
    const auto walk = [&](auto layout_kv) {
        constexpr bool KV = decltype(layout_kv)::value;
        const int pitch = KV ? GDR_MUTATE(kv_row_pitch_uses_key_dim, K, V) : K;
#pragma unroll
        for (int j = 0; j < Tl::groups; ++j) {
            const int k0 = Tl::first_row(j);
#pragma unroll
            for (int i = 0; i < kVec; ++i) {
                if constexpr (KV) fn(j, i, (k0 + i) * pitch + v0, k0 + i < K ? valid_from(v0, V) : 0, layout_kv);
                else fn(j, i, (v0 + i) * pitch + k0, v0 + i < V ? valid_from(k0, K) : 0, layout_kv);
            }
        }
    };
    if constexpr (Tl::layout == LayoutChoice::kv) walk(std::true_type{});
    else if constexpr (Tl::layout == LayoutChoice::vk) walk(std::false_type{});
    else if (a.layout_kv) walk(std::true_type{});
    else walk(std::false_type{});
}

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
