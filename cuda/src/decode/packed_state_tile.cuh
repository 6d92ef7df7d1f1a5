// PackedStateTile: a 16-bit state kept in registers as stored, two elements per register,
// for the whole tiles whose h is rounded to the state dtype after every token anyway. The
// interface of StateTile (state_tile.cuh); in layout VK its halves are transposed on load
// and store, so that a packed pair always holds two columns of one row.
#pragma once

#include <cuda_runtime.h>

#include "decode_args.cuh"
#include "tiling.cuh"
#include "vector_access.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

// Two 16-bit values, one from each word: both low halves (high == 0) or both high halves,
// the first word's in the low half of the result. Applied to the 4 halves of a 2 x 2 block
// it transposes them: VK's accesses run along k, the packed pairs along v.
__device__ __forceinline__ unsigned same_halves(unsigned first, unsigned second, int high) {
    return __byte_perm(first, second, high ? 0x7632 : 0x5410);
}
// The word of a VK access (4 rows of one column) that holds row r.
__device__ __forceinline__ unsigned half_rows(uint2 access, int r) { return r < 2 ? access.x : access.y; }

// A 16-bit state kept in registers as stored, two elements per register, for calls that
// round h to the state dtype after every token anyway (T = 1, or circular with the state
// written, docs/SPEC.md): the same results as StateTile, with twice the state per register, so
// more state bytes in flight per SM. Whole tiles only (every access a 4-element vector).
// pairs[j][r][p] holds columns 2p (low half) and 2p + 1 (high half) of row r; layout VK
// loads 4 rows of one column per access, so its halves are transposed (same_halves).
template <class St, class Tl>
struct PackedStateTile {
    static_assert(Tl::whole && sizeof(St) == 2);
    static constexpr int J = Tl::groups;
    unsigned pairs[J][kVec][kVec / 2];

    __device__ __forceinline__ float get(int j, int r, int c) const {
        // Opaque to the compiler, so that it unpacks again at each use rather than keeping
        // unpacked copies live across the K-sum (which would undo the packing). The register
        // report is the same without it; the measured version (bench/NOTES.md) has it.
        unsigned bits;
        asm volatile("mov.b32 %0, %1;" : "=r"(bits) : "r"(pairs[j][r][c / 2]));
        const unsigned short half = static_cast<unsigned short>(c % 2 ? bits >> 16 : bits & 0xffffu);
        return to_float(*reinterpret_cast<const St*>(&half));
    }
    __device__ __forceinline__ void set_pair(int j, int r, int c, float x0, float x1) {
        pairs[j][r][c / 2] = Vector<St>::pack(x0, x1);
    }

    __device__ void load(const DecodeArgs& a, const St* matrix, int column0) {
        uint2 columns[J][kVec];  // layout VK: access (j, i) is column i, rows 0..3
        for_each_access<Tl>(a, column0, [&](int j, int i, int offset, int, auto layout_kv) {
            const uint2 raw = load_raw<Caching::streaming>(reinterpret_cast<const uint2*>(matrix + offset));
            if constexpr (decltype(layout_kv)::value) pairs[j][i][0] = raw.x, pairs[j][i][1] = raw.y;  // row i
            else columns[j][i] = raw;
        });
        if constexpr (Tl::layout == LayoutChoice::vk)
#pragma unroll
            for (int j = 0; j < J; ++j)
#pragma unroll
                for (int r = 0; r < kVec; ++r)
#pragma unroll
                    for (int p = 0; p < kVec / 2; ++p)
                        pairs[j][r][p] = same_halves(half_rows(columns[j][2 * p], r), half_rows(columns[j][2 * p + 1], r), r % 2);
    }

    __device__ void store(const DecodeArgs& a, St* matrix, int column0) {
        for_each_access<Tl>(a, column0, [&](int j, int i, int offset, int, auto layout_kv) {
            uint2 raw;
            if constexpr (decltype(layout_kv)::value) {
                raw = make_uint2(pairs[j][i][0], pairs[j][i][1]);
            } else {  // column i: its halves of rows 0 and 1, and of rows 2 and 3
                raw = make_uint2(same_halves(pairs[j][0][i / 2], pairs[j][1][i / 2], i % 2),
                                 same_halves(pairs[j][2][i / 2], pairs[j][3][i / 2], i % 2));
            }
            store_raw<Caching::streaming>(reinterpret_cast<uint2*>(matrix + offset), raw);
        });
    }

    __device__ void round_trip() {}  // h already holds state-dtype values
};

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
