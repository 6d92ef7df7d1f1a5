// One token's inputs as a thread needs them: its rows of q and k, its columns of v, and the
// scalars g and beta (fp32 or the input dtype), loaded early so that the loads overlap, then
// prepared: the optional q/k l2 norms, the scale, and the decay alpha = exp(g).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "decode_args.cuh"
#include "gdr/core/dtype.hpp"
#include "../common/mutation_hooks.cuh"
#include "reductions.cuh"
#include "tiling.cuh"
#include "vector_access.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

// g and beta are fp32 or the input dtype, chosen at run time (one scalar per token).
template <class In>
__device__ __forceinline__ float load_gate(const void* base, DType dtype, std::int64_t offset) {
    return dtype == DType::f32 ? static_cast<const float*>(base)[offset] : to_float(static_cast<const In*>(base)[offset]);
}

__device__ __forceinline__ std::int64_t offset3(const std::int64_t* stride, std::int64_t b, std::int64_t t,
                                                std::int64_t head) {
    return b * stride[0] + t * stride[1] + head * stride[2];
}

// The decay alpha = exp(g) of one token.
__device__ __forceinline__ float decay_of(const DecodeArgs& a, float g) {
    return GDR_MUTATE(alpha_is_g, g, GDR_MUTATE(fast_math_exp, __expf(g), expf(g)));
}

// One token's inputs, as this thread needs them: its rows of q and k, its columns of v, g
// and beta. load() only issues loads, so that they are in flight together (for the first
// token, alongside the state's); prepare() applies the l2 norms, exp(g) and the scale.
template <class In, class Tl>
struct TokenInputs {
    static constexpr int J = Tl::groups;
    float q[J][kVec], k[J][kVec], value[kVec], g, beta;

    // q and k are read at the key head, v at the value head (hv, which also indexes g and beta).
    __device__ void load(const DecodeArgs& a, std::int64_t batch_row, std::int64_t token, std::int64_t head,
                         std::int64_t value_head, std::int64_t hv, int column0) {
        g = a.g ? load_gate<In>(a.g, a.gate_dtype, offset3(a.g_stride, batch_row, token, hv)) : 0.0f;
        beta = GDR_MUTATE(beta_ignored_without_g, a.beta && a.g, a.beta != nullptr)
                   ? load_gate<In>(a.beta, a.gate_dtype, offset3(a.beta_stride, batch_row, token, hv))
                   : 1.0f;
        const In* q_row = static_cast<const In*>(a.q) + offset3(a.q_stride, batch_row, token, head);
        const In* k_row = static_cast<const In*>(a.k) + offset3(a.k_stride, batch_row, token, head);
#pragma unroll
        for (int j = 0; j < J; ++j) {
            const int k0 = Tl::first_row(j);
            const int valid = GDR_MUTATE(key_tail_unmasked, kVec,
                                         GDR_MUTATE(key_tail_times_zero, kVec, valid_from(k0, static_cast<int>(a.K))));
            load_vector<Caching::normal, Tl::whole>(q_row + k0, valid, a.inputs_vector_access, q[j]);
            load_vector<Caching::normal, Tl::whole>(k_row + k0, valid, a.inputs_vector_access, k[j]);
            GDR_MUTANT_ONLY(key_tail_times_zero,  // "masked" by a multiplication: 0 * NaN stays NaN
                            for (int r = 0; r < kVec; ++r) if (k0 + r >= a.K) { q[j][r] *= 0.0f; k[j][r] *= 0.0f; });
        }
        const In* v_row = static_cast<const In*>(a.v) + offset3(a.v_stride, batch_row, token, value_head);
        const int v0 = column0 + Tl::first_column();
        load_vector<Caching::normal, Tl::whole>(v_row + v0, valid_from(v0, static_cast<int>(a.V)), a.inputs_vector_access, value);
    }

    // Returns alpha = exp(g).
    __device__ float prepare(const DecodeArgs& a, CrossWarpSums<Tl>& sums) {
        if (GDR_MUTATE(l2norm_skipped, false, a.l2norm)) {
            float squares[2] = {sum_of_squares(q), sum_of_squares(k)};  // over the block's rows
#pragma unroll
            for (int n = 0; n < 2; ++n) {
                squares[n] = sum_over_key_lanes<Tl>(a, squares[n]);
                // The lanes of a row hold the same rows: adding them counts each square again.
                GDR_MUTANT_ONLY(norm_counts_duplicate_lanes, squares[n] += __shfl_xor_sync(0xffffffffu, squares[n], 1));
            }
            add_across_warps<Tl>(a, squares, &sums.norms[0][0], 2, threadIdx.x % 32 == 0);
            // x * (1 / norm) is within an ulp of x / norm, at one division instead of 4 J.
            const float epsilon = GDR_MUTATE(l2norm_eps_dropped, 0.0f, 1e-6f);
            scale_rows(q, 1.0f / sqrtf(squares[0] + epsilon));
            if (GDR_MUTATE(l2norm_skips_k, false, true)) scale_rows(k, 1.0f / sqrtf(squares[1] + epsilon));
        }
        GDR_UNLESS_MUTANT(scale_applied_to_k, scale_rows(q, a.scale));
        GDR_MUTANT_ONLY(scale_applied_to_k, scale_rows(k, a.scale));
        return a.g ? decay_of(a, g) : 1.0f;
    }

private:
    __device__ static float sum_of_squares(const float (&x)[J][kVec]) {
        float squares = 0.0f;
#pragma unroll
        for (int j = 0; j < J; ++j)
#pragma unroll
            for (int r = 0; r < kVec; ++r) squares += x[j][r] * x[j][r];
        return squares;
    }
    __device__ static void scale_rows(float (&x)[J][kVec], float factor) {
#pragma unroll
        for (int j = 0; j < J; ++j)
#pragma unroll
            for (int r = 0; r < kVec; ++r) x[j][r] *= factor;
    }
};

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
