// StateTile: the thread's sub-tiles of the state h as floats in registers, for every tiling
// and state dtype. Loaded once per row, updated in place for each token, stored rounded
// once to the state dtype. PackedStateTile (packed_state_tile.cuh) has the same interface.
#pragma once

#include "decode_args.cuh"
#include "tiling.cuh"
#include "vector_access.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

template <class St, class Tl>
struct StateTile {
    static constexpr int J = Tl::groups;
    float h[J][kVec][kVec];  // h[j][r][c] = S[first_row(j) + r][column0 + first_column() + c]

    __device__ __forceinline__ float get(int j, int r, int c) const { return h[j][r][c]; }
    __device__ __forceinline__ void set_pair(int j, int r, int c, float x0, float x1) { h[j][r][c] = x0, h[j][r][c + 1] = x1; }

    // Element e of access (j, i) in for_each_access.
    template <bool KV>
    __device__ __forceinline__ float& element(int j, int i, int e) { return KV ? h[j][i][e] : h[j][e][i]; }

    // S[n, slot, hv] as a K x V matrix; `column0` is the block's first value column.
    __device__ void load(const DecodeArgs& a, const St* matrix, int column0) {
        for_each_access<Tl>(a, column0, [&](int j, int i, int offset, int valid, auto layout_kv) {
            float x[kVec];
            load_vector<Caching::streaming, Tl::whole>(matrix + offset, valid, a.state_vector_access, x);
#pragma unroll
            for (int e = 0; e < kVec; ++e) element<decltype(layout_kv)::value>(j, i, e) = x[e];
        });
    }

    // Stores h rounded once to the state dtype.
    __device__ void store(const DecodeArgs& a, St* matrix, int column0) {
        for_each_access<Tl>(a, column0, [&](int j, int i, int offset, int valid, auto layout_kv) {
            float x[kVec];
#pragma unroll
            for (int e = 0; e < kVec; ++e) x[e] = element<decltype(layout_kv)::value>(j, i, e);
            store_vector<Caching::streaming, Tl::whole>(matrix + offset, valid, a.state_vector_access, x);
        });
    }

    // h = float(round_to_state_dtype(h)): what the next token would read back.
    __device__ void round_trip() {
#pragma unroll
        for (int j = 0; j < J; ++j)
#pragma unroll
            for (int r = 0; r < kVec; ++r)
#pragma unroll
                for (int c = 0; c < kVec; ++c) h[j][r][c] = to_float(from_float<St>(h[j][r][c]));
    }
};

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
