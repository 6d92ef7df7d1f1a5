// Sums over the threads of a block: over the lanes of a warp that hold the same columns
// (shuffles), and over its warps (shared memory and a barrier, for blocks of several
// warps). The K-sums h^T k and h^T q and the q/k norms are built from these.
#pragma once

#include <cuda_runtime.h>

#include "decode_args.cuh"
#include "../common/mutation_hooks.cuh"
#include "tiling.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

// Partial sums that the warps of a block exchange (only blocks of several warps use them).
template <class Tl>
struct CrossWarpSums {
    float norms[Tl::warps][2];  // |q|^2 and |k|^2
    float hk[Tl::warps][Tl::columns], out[Tl::warps][Tl::columns];
};

// The sum over the lanes that hold the same columns (every lane_k), in every one of them:
// the K-sums of a column, and the norms of q and k.
template <class Tl>
__device__ __forceinline__ float sum_over_key_lanes(const DecodeArgs& a, float x) {
#pragma unroll
    for (int offset = Tl::lanes_v; offset < 32; offset *= 2)
        if (GDR_MUTATE(reduction_over_half_warp, offset < 16, true)) x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}

// Adds up, over the block's warps, the N sums each thread holds for its warp: the warp's
// `writer` threads publish them at slot[warp * pitch + n], and after a barrier every thread
// takes the total. Each use has its own slot, so that a slot is written again only after
// the barrier of a later sum, when every thread has read it. Nothing to do for one warp.
template <class Tl, int N>
__device__ __forceinline__ void add_across_warps(const DecodeArgs& a, float (&x)[N], float* slot, int pitch, bool writer) {
    if constexpr (Tl::warps > 1) {
        if (writer)
#pragma unroll
            for (int n = 0; n < N; ++n) slot[Tl::warp() * pitch + n] = x[n];
        GDR_UNLESS_MUTANT(cross_warp_sum_missing_barrier, __syncthreads());
#pragma unroll
        for (int n = 0; n < N; ++n) {
            float total = 0.0f;
#pragma unroll
            for (int w = 0; w < Tl::warps; ++w) total += slot[w * pitch + n];
            x[n] = total;
        }
    }
}

// The K-sums of this thread's kVec columns, over the block's k rows (every lane_k and warp).
template <class Tl>
__device__ __forceinline__ void column_sums(const DecodeArgs& a, float (&x)[kVec], float (*partials)[Tl::columns]) {
#pragma unroll
    for (int c = 0; c < kVec; ++c) x[c] = sum_over_key_lanes<Tl>(a, x[c]);
    add_across_warps<Tl>(a, x, &partials[0][Tl::first_column()], Tl::columns, Tl::lane_k() == 0);
}

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
