// decode_kernel: the body of the fused recurrent decode, one template per (input dtype,
// state dtype, Tiling, one token or a token loop). For each row of its grid-stride loop a
// block finds the row's state in the bank, loads its tile once, runs the row's tokens
// (decay, delta update, output) and stores the tile to the slots the call writes.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "decode_args.cuh"
#include "../common/mutation_hooks.cuh"
#include "packed_state_tile.cuh"
#include "reductions.cuh"
#include "state_bank.cuh"
#include "state_tile.cuh"
#include "tiling.cuh"
#include "token_inputs.cuh"
#include "vector_access.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

// o of this thread's columns, written by the lanes of lane_k 0 in warp 0 (one writer per column).
#ifdef GDR_MUTANTS
// x rounded to nearest even at 16 significant bits (8 fewer than fp32): the mutant
// small_outputs_reduced_precision's lost precision.
__device__ __forceinline__ float round_to_16_bits(float x) {
    const unsigned bits = __float_as_uint(x);
    return __uint_as_float((bits + 0x7Fu + ((bits >> 8) & 1u)) & ~0xFFu);
}
#endif

template <class Tl, class In>
__device__ __forceinline__ void store_columns(const DecodeArgs& a, In* row, int v0, const float (&x)[kVec]) {
    if (Tl::warp() != 0 || Tl::lane_k() != 0) return;
    store_vector<Caching::normal, Tl::whole>(row + v0, valid_from(v0, static_cast<int>(a.V)), a.inputs_vector_access, x);
}

// OneToken: the kernel of T = 1 without cu_seqlens, the step serving engines call most. With
// no token loop and one store after it, the 16-bit packed tiles fit their registers without
// spilling (bench/NOTES.md, round 2); the result is the same as the loop's for T = 1.
template <class In, class St, class Tl, bool OneToken>
__global__ void __launch_bounds__(Tl::threads, Tl::min_blocks_per_sm) decode_kernel(const DecodeArgs a) {
    __shared__ CrossWarpSums<Tl> sums;
    // blockIdx.x is the (value head, column tile) pair, blockIdx.y the row. A grid-stride
    // loop over rows keeps the launch legal for any B (gridDim.y <= 65535). Every branch
    // below is uniform across the block, so the barriers in add_across_warps are safe.
    const unsigned tiles = static_cast<unsigned>(tile_count(a, Tl::columns));
    const std::int64_t hv = blockIdx.x / tiles;
    const int column0 = static_cast<int>(blockIdx.x % tiles) * Tl::columns;
    const int v0 = column0 + Tl::first_column();  // this thread's first value column
    const std::int64_t head = GDR_MUTATE(head_mapping_modulo, hv % (a.value_heads / a.group), hv / a.group);
    const std::int64_t value_head = GDR_MUTATE(v_read_at_key_head, head, hv);  // of v and o
    In* o = static_cast<In*>(a.o);
    using Tile = std::conditional_t<Tl::packed, PackedStateTile<St, Tl>, StateTile<St, Tl>>;
    for (std::int64_t row = blockIdx.y; row < a.rows; row += GDR_MUTATE(grid_clamp_without_stride_loop, a.rows, gridDim.y)) {
        auto [batch_row, begin, end] = row_token_range(a, row);
        GDR_MUTANT_ONLY(varlen_end_off_by_one, if (a.varlen) end += 1);
        if (end <= begin) continue;  // a row with no tokens writes nothing

        const RowPlace place = place_of(a, row);
        if (!place.active) {  // exact zeros, and no bank element read or written
            constexpr float zeros[kVec] = {};
            for (std::int64_t token = begin; token < end; ++token)
                GDR_UNLESS_MUTANT(inactive_row_output_unwritten,
                                  store_columns<Tl>(a, o + offset3(a.o_stride, batch_row, token, value_head), v0, zeros));
            GDR_MUTANT_ONLY(inactive_row_writes_state,  // a zero state into slot 0 of a valid entry
                            if (place.n >= 0 && place.n < a.N && a.output_final_state)
                                Tile{}.store(a, matrix_of<St>(a, place.n, 0, hv), column0));
            GDR_MUTANT_ONLY(inactive_index_state_written,  // the same store through an out-of-range index
                            if ((place.n < 0 || place.n >= a.N) && a.output_final_state)
                                Tile{}.store(a, matrix_of<St>(a, place.n, 0, hv), column0));
            continue;
        }

        TokenInputs<In, Tl> in;
        in.load(a, batch_row, begin, head, value_head, hv, column0);  // first: in flight with the state's loads
        Tile state;
        state.load(a, matrix_of<St>(a, place.n, place.read_slot, hv), column0);

        const bool circular = a.cache_seqlens != nullptr;
        const std::int64_t tokens = OneToken ? 1 : end - begin;
        for (std::int64_t t = 0; t < tokens; ++t) {
            const std::int64_t token = begin + t;
            if (!OneToken && t > 0) in.load(a, batch_row, token, head, value_head, hv, column0);
            const float alpha = in.prepare(a, sums);

            // The decayed state alpha h is computed where it is used, not stored back: a
            // packed tile could only store it rounded.
            float hk[kVec] = {};  // h^T k per column, after the decay h = alpha h
#pragma unroll
            for (int j = 0; j < Tl::groups; ++j)
#pragma unroll
                for (int r = 0; r < kVec; ++r)
#pragma unroll
                    for (int c = 0; c < kVec; ++c)
                        hk[c] += GDR_MUTATE(decay_after_delta, state.get(j, r, c), alpha * state.get(j, r, c)) * in.k[j][r];
            column_sums<Tl>(a, hk, sums.hk);
            float u[kVec], out[kVec] = {};
#pragma unroll
            for (int c = 0; c < kVec; ++c) u[c] = in.beta * (in.value[c] - hk[c]);  // u = beta (v - h^T k)
#pragma unroll
            for (int j = 0; j < Tl::groups; ++j)
#pragma unroll
                for (int r = 0; r < kVec; ++r)
#pragma unroll
                    for (int c = 0; c < kVec; c += 2) {
                        float updated[2];
#pragma unroll
                        for (int e = 0; e < 2; ++e) {
                            const float decayed = alpha * state.get(j, r, c + e);
                            GDR_MUTANT_ONLY(output_before_update, out[c + e] += decayed * in.q[j][r]);
                            updated[e] = decayed + in.k[j][r] * u[c + e];  // h = alpha h + k u^T
                            GDR_MUTANT_ONLY(decay_after_delta,
                                            updated[e] = alpha * (state.get(j, r, c + e) + in.k[j][r] * u[c + e]));
                            GDR_UNLESS_MUTANT(output_before_update, out[c + e] += updated[e] * in.q[j][r]);
                        }
                        state.set_pair(j, r, c, updated[0], updated[1]);
                    }
            column_sums<Tl>(a, out, sums.out);  // o = h^T q, from the updated h
#pragma unroll
            for (int c = 0; c < kVec; ++c) {
                GDR_MUTANT_ONLY(output_rounded_through_state_dtype, out[c] = to_float(from_float<St>(out[c])));
                GDR_MUTANT_ONLY(small_outputs_reduced_precision, if (fabsf(out[c]) < 0.0625f) out[c] = round_to_16_bits(out[c]));
            }
            store_columns<Tl>(a, o + offset3(a.o_stride, batch_row, token, value_head), v0, out);

            if (!OneToken && circular && a.output_final_state) {
                state.store(a, matrix_of<St>(a, place.n, circular_write_slot(a, place.read_slot, t), hv), column0);
                if (GDR_MUTATE(round_trip_after_last_token, true, t < end - begin - 1) && !std::is_same_v<St, float>)
                    GDR_UNLESS_MUTANT(missing_cache_round_trip, state.round_trip());
            }
            GDR_MUTANT_ONLY(round_trip_in_non_circular_mode,
                            if (!circular && t < end - begin - 1 && !std::is_same_v<St, float>) state.round_trip());
        }
        if (OneToken && a.output_final_state)  // the token's slot: the next one when circular, else 0
            state.store(a, matrix_of<St>(a, place.n, circular ? circular_write_slot(a, place.read_slot, 0) : 0, hv), column0);
        else if (!circular && a.output_final_state)
            state.store(a, matrix_of<St>(a, place.n, 0, hv), column0);
    }
}

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
