// chunk_state_kernel: the state pass. One block owns one (row, value head, tile of BV value
// columns) and walks the row's chunks in order, its K x BV slice of the state in fp32 in
// shared memory throughout (value columns are independent in the delta rule). What a chunk
// needs that does not depend on the state (D Q, K, W, U, P, the decays to the chunk's end)
// the chunk-local pass left in the workspace; cp.async copies the next chunk's share into
// the other stage while this one computes (K <= 128; at K = 256 one stage fits). Per chunk:
//   phase 1  W S and (D Q) S on the tensor cores (one fragment of W and of D Q per step,
//            shared by the warp's value tiles); U' = U - W S (rounded), and its rows decayed
//            to the chunk's end (rounded);
//   phase 2  O = (D Q) S + P U' (P's tiles on or below the diagonal; the chunk's rows
//            stored), and S <- exp(G_c) S + K^T (decayed U'), each S tile also rounded into
//            the operand the next chunk's phase 1 reads;
// with a barrier after each phase. Then a checkpoint after a whole chunk, if asked, and the
// final state after the last.
#pragma once

#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>

#include "../common/element_conversions.cuh"
#include "../common/mutation_hooks.cuh"
#include "chunk_args.cuh"
#include "chunk_geometry.cuh"
#include "chunk_mma.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

// Stages of the state pass's copy pipeline: two where they fit one block per SM.
constexpr int state_stages_of(std::int64_t K) { return K > 128 ? 1 : 2; }

// One chunk's share of the workspace for one value tile.
template <class In, int KD, int BV>
struct StateStage {
    alignas(128) In gated_queries[kChunk][KD + kRowPad];
    alignas(128) In keys[kChunk][KD + kRowPad];
    alignas(128) In w[kChunk][KD + kRowPad];
    alignas(128) In u[kChunk][BV + kRowPad];
    alignas(128) In p[kChunk][kChunk + kRowPad];
    alignas(16) float gates[kGateRecordFloats];
};

template <class In, int KD, int BV>
struct StateShared {
    StateStage<In, KD, BV> stage[state_stages_of(KD)];
    alignas(128) float state[KD][BV + kFloatRowPad];  // S, fp32 across chunks
    alignas(128) In state_operand[KD][BV + kRowPad];  // S rounded: the right operand of W S and (D Q) S
    alignas(128) In u_prime[kChunk][BV + kRowPad];
    alignas(128) In decayed_u_prime[kChunk][BV + kRowPad];
    alignas(128) float scratch[kChunkWarps][kTile * kTile];
};

// Element (k, v) of a K x V state matrix in the bank's layout.
__device__ __forceinline__ std::int64_t state_element(const ChunkArgs& a, std::int64_t k, std::int64_t v) {
    return a.layout_kv ? k * a.V + v : v * a.K + k;
}

// The block's K x BV slice (columns v0..) of a state matrix, to or from shared memory.
template <class St, class In, int KD, int BV>
__device__ void load_state(const ChunkArgs& a, const St* matrix, std::int64_t v0, StateShared<In, KD, BV>& s) {
    for (int index = threadIdx.x; index < KD * BV; index += kChunkThreads) {
        // Consecutive threads read consecutive elements of the layout's contiguous dimension.
        const int k = a.layout_kv ? index / BV : index % KD, v = a.layout_kv ? index % BV : index / KD;
        const float x = to_float(matrix[state_element(a, k, v0 + v)]);
        s.state[k][v] = x;
        s.state_operand[k][v] = from_float<In>(x);
    }
}
template <class St, class In, int KD, int BV>
__device__ void store_state(const ChunkArgs& a, St* matrix, std::int64_t v0, const StateShared<In, KD, BV>& s) {
    for (int index = threadIdx.x; index < KD * BV; index += kChunkThreads) {
        const int k = a.layout_kv ? index / BV : index % KD, v = a.layout_kv ? index % BV : index / KD;
        matrix[state_element(a, k, v0 + v)] = from_float<St>(s.state[k][v]);
    }
}

// Starts the copy of slot `slot`'s share (value columns v0..) into `stage`, as one group.
template <class In, int KD, int BV>
__device__ void fetch_chunk(const ChunkArgs& a, std::int64_t slot, std::int64_t hv, std::int64_t v0, StateStage<In, KD, BV>& stage) {
    const ChunkWorkspaceArgs& ws = a.workspace;
    constexpr int kKeyRow = KD * sizeof(In), kKeyShared = (KD + kRowPad) * sizeof(In);
    copy_rows_async(&stage.gated_queries[0][0], kKeyShared, record<In>(ws.gated_queries, a, slot, hv, KD), kKeyRow, kChunk, kKeyRow);
    copy_rows_async(&stage.keys[0][0], kKeyShared, record<In>(ws.keys, a, slot, hv, KD), kKeyRow, kChunk, kKeyRow);
    copy_rows_async(&stage.w[0][0], kKeyShared, record<In>(ws.w, a, slot, hv, KD), kKeyRow, kChunk, kKeyRow);
    copy_rows_async(&stage.u[0][0], (BV + kRowPad) * sizeof(In), record<In>(ws.u, a, slot, hv, a.V) + v0, a.V * sizeof(In), kChunk,
                    BV * sizeof(In));
    copy_rows_async(&stage.p[0][0], (kChunk + kRowPad) * sizeof(In), record<In>(ws.p, a, slot, hv, kChunk), kChunk * sizeof(In), kChunk,
                    kChunk * sizeof(In));
    copy_rows_async(stage.gates, 0, ws.gates + (slot * a.value_heads + hv) * kGateRecordFloats, 0, 1, kGateRecordFloats * sizeof(float));
    copies_commit();
}

template <class In, class St, int KD, int BV>
__global__ void __launch_bounds__(kChunkThreads, 1) chunk_state_kernel(const ChunkArgs a) {
    constexpr int kStages = state_stages_of(KD);
    constexpr int kColumnTiles = BV / kTile, kTasks = (kChunk / kTile) * kColumnTiles, kPerWarp = kTasks / kChunkWarps;
    constexpr int kStateTasks = (KD / kTile) * kColumnTiles;
    static_assert(kTasks % kChunkWarps == 0 && kColumnTiles % kPerWarp == 0 && kStateTasks % kChunkWarps == 0);
    extern __shared__ __align__(128) unsigned char shared_bytes[];
    auto& s = *reinterpret_cast<StateShared<In, KD, BV>*>(shared_bytes);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float* const scratch = s.scratch[warp];
    // The warp's phase-1 tasks: row tile i0, value tiles c00, c00 + 16, ... (one W and D Q fragment for all).
    const int i0 = warp * kPerWarp / kColumnTiles * kTile, c00 = warp * kPerWarp % kColumnTiles * kTile;
    In* const o = static_cast<In*>(a.o);
    St* const bank = static_cast<St*>(a.state);

    const std::int64_t items = a.rows * a.value_heads * a.value_tiles;
    for (std::int64_t item = blockIdx.x; item < items; item += gridDim.x) {
        const std::int64_t row = item / (a.value_heads * a.value_tiles);
        const std::int64_t hv = item / a.value_tiles % a.value_heads;
        const std::int64_t v0 = item % a.value_tiles * BV;
        const RowTokenRange tokens = row_token_range(a, row);
        const std::int64_t batch_row = tokens.batch_row, begin = tokens.begin, length = tokens.end - tokens.begin;
        if (length <= 0) continue;  // a row with no tokens writes nothing
        const std::int64_t chunks = (length + kChunk - 1) / kChunk, slot0 = first_slot(a, row);
        if (slot0 < 0 || slot0 + chunks > a.workspace.slots) continue;  // only where cu_seqlens is not a valid prefix sum

        const RowState row_state_ = row_state(a, row);
        const std::int64_t n = row_state_.entry;
        __syncthreads();  // the previous item is done with every buffer
        if (!row_state_.active) {  // exact zeros, the bank untouched
            for (std::int64_t index = threadIdx.x; index < length * BV; index += kChunkThreads)
                o[at(a.o_stride, batch_row, begin + index / BV, hv) + v0 + index % BV] = from_float<In>(0.0f);
            GDR_MUTANT_ONLY(chunk_inactive_row_writes_state,  // a zero state into slot 0 of a valid entry
                            if (n >= 0 && n < a.N && a.output_final_state) {
                                for (int index = threadIdx.x; index < KD * BV; index += kChunkThreads) s.state[index / BV][index % BV] = 0.0f;
                                __syncthreads();
                                store_state<St>(a, bank + (n * a.slots * a.value_heads + hv) * a.K * a.V, v0, s);
                            });
            continue;
        }
        const bool circular = a.cache_seqlens != nullptr;
        const std::int64_t read_slot = circular ? row_state_.cache_seqlen % a.slots : 0;
        const auto matrix = [&](std::int64_t bank_slot) { return bank + ((n * a.slots + bank_slot) * a.value_heads + hv) * a.K * a.V; };
        if (kStages > 1) fetch_chunk(a, slot0, hv, v0, s.stage[0]);
        load_state<St>(a, matrix(read_slot), v0, s);

        for (std::int64_t m = 0; m < chunks; ++m) {
            StateStage<In, KD, BV>& stage = s.stage[m % kStages];
            if (kStages == 1) {
                fetch_chunk(a, slot0 + m, hv, v0, stage);
                copies_wait<0>();
            } else if (m + 1 < chunks) {  // the next chunk into the stage the previous one used
                fetch_chunk(a, slot0 + m + 1, hv, v0, s.stage[(m + 1) % kStages]);
                copies_wait<1>();
            } else {
                copies_wait<0>();
            }
            __syncthreads();  // this chunk's stage, and the state operand, complete for every thread
            const int c = chunk_tokens(a, length, m * kChunk);

            // Phase 1: W S and (D Q) S; U' = U - W S and its decayed rows.
            Accumulator w_s[kPerWarp], out[kPerWarp];
#pragma unroll
            for (int e = 0; e < kPerWarp; ++e) {
                nvcuda::wmma::fill_fragment(w_s[e], 0.0f);
                nvcuda::wmma::fill_fragment(out[e], 0.0f);
            }
            for (int l = 0; l < KD; l += kTile) {
                FragmentA<In> w_rows, query_rows;
                nvcuda::wmma::load_matrix_sync(w_rows, &stage.w[i0][l], KD + kRowPad);
                nvcuda::wmma::load_matrix_sync(query_rows, &stage.gated_queries[i0][l], KD + kRowPad);
#pragma unroll
                for (int e = 0; e < kPerWarp; ++e) {
                    FragmentB<In> state_columns;
                    nvcuda::wmma::load_matrix_sync(state_columns, &s.state_operand[l][c00 + e * kTile], BV + kRowPad);
                    nvcuda::wmma::mma_sync(w_s[e], w_rows, state_columns, w_s[e]);
                    nvcuda::wmma::mma_sync(out[e], query_rows, state_columns, out[e]);
                }
            }
#pragma unroll
            for (int e = 0; e < kPerWarp; ++e) {
                const int c0 = c00 + e * kTile;
                for_each_element(w_s[e], scratch, [&](int r, int col, float x) {
                    const int i = i0 + r;
                    const In rounded = from_float<In>(to_float(stage.u[i][c0 + col]) - x);
                    s.u_prime[i][c0 + col] = rounded;
                    s.decayed_u_prime[i][c0 + col] =
                        from_float<In>(GDR_MUTATE(chunk_update_undecayed, 1.0f, stage.gates[i]) * to_float(rounded));
                });
            }
            __syncthreads();

            // Phase 2: O = (D Q) S + P U', its rows < c stored.
            for (int j0 = 0; j0 < GDR_MUTATE(chunk_causal_mask_missing, kChunk, i0 + kTile); j0 += kTile) {
                FragmentA<In> p_rows;
                nvcuda::wmma::load_matrix_sync(p_rows, &stage.p[i0][j0], kChunk + kRowPad);
#pragma unroll
                for (int e = 0; e < kPerWarp; ++e) {
                    FragmentB<In> u_columns;
                    nvcuda::wmma::load_matrix_sync(u_columns, &s.u_prime[j0][c00 + e * kTile], BV + kRowPad);
                    nvcuda::wmma::mma_sync(out[e], p_rows, u_columns, out[e]);
                }
            }
            const std::int64_t token0 = begin + m * kChunk;
#pragma unroll
            for (int e = 0; e < kPerWarp; ++e) {
                const std::int64_t column0 = GDR_MUTATE(chunk_value_tile_ignored_in_o, 0, v0) + c00 + e * kTile;
                for_each_element(out[e], scratch, [&](int r, int col, float x) {
                    if (i0 + r < c) o[at(a.o_stride, batch_row, token0 + i0 + r, hv) + column0 + col] = from_float<In>(x);
                });
            }
            // S <- exp(G_c) S + K^T (decayed U'), and the tile rounded into the operand.
            for (int task = warp; task < kStateTasks; task += kChunkWarps) {
                const int k0 = task / kColumnTiles * kTile, c0 = task % kColumnTiles * kTile;
                Accumulator acc;
                nvcuda::wmma::load_matrix_sync(acc, &s.state[k0][c0], BV + kFloatRowPad, nvcuda::wmma::mem_row_major);
                for (int e = 0; e < acc.num_elements; ++e)
                    GDR_UNLESS_MUTANT(chunk_state_decay_missing, acc.x[e] *= stage.gates[kWholeChunkGate]);
                for (int j0 = 0; j0 < kChunk; j0 += kTile) {
                    FragmentAColumns<In> keys_transposed;  // K^T: K's rows read as columns
                    FragmentB<In> decayed;
                    nvcuda::wmma::load_matrix_sync(keys_transposed, &stage.keys[j0][k0], KD + kRowPad);
                    nvcuda::wmma::load_matrix_sync(decayed, &s.decayed_u_prime[j0][c0], BV + kRowPad);
                    nvcuda::wmma::mma_sync(acc, keys_transposed, decayed, acc);
                }
                nvcuda::wmma::store_matrix_sync(&s.state[k0][c0], acc, BV + kFloatRowPad, nvcuda::wmma::mem_row_major);
                __syncwarp();
#pragma unroll
                for (int e = 0; e < kTile * kTile / 32; ++e) {
                    const int r = (e * 32 + lane) / kTile, col = (e * 32 + lane) % kTile;
                    s.state_operand[k0 + r][c0 + col] = from_float<In>(s.state[k0 + r][c0 + col]);
                }
            }
            // Every phase is done with this stage and the state; the next chunk's copy may refill it.
            GDR_UNLESS_MUTANT(chunk_stage_refill_race, __syncthreads());
            if (a.checkpoints && c == kChunk) {  // the state after a whole chunk: checkpoint m + 1
                const std::int64_t place = a.checkpoint_offsets[row] + m;
                store_state<St>(a, static_cast<St*>(a.checkpoints) + (place * a.value_heads + hv) * a.K * a.V, v0, s);
            }
        }
        const std::int64_t final_slot = circular ? GDR_MUTATE(chunk_circular_write_unwrapped, row_state_.cache_seqlen + length,
                                                               (row_state_.cache_seqlen + length) % a.slots)
                                                 : 0;
        if (a.output_final_state) store_state<St>(a, matrix(final_slot), v0, s);
    }
}

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
