// chunk_prepare_kernel: the chunk-local pass. Everything of a chunk that does not depend on
// the state, for every (chunk, value head) at once, into the workspace (chunk_args.cuh) for
// the state pass. Per chunk of c <= C tokens (reference/chunked.hpp derives every step; the
// names are its names), one block:
//   load     Q, K (l2-normalised, Q scaled, rounded to In), g and beta;
//   gates    D_i = exp(g_1 + ... + g_i), the decays to the chunk's end and exp(G_c), each
//            exponent summed over its own token range (no difference of cumulative sums, no
//            ratio of exps), while the tensor cores form K K^T and Q K^T (lower tiles only);
//   A, P     A = beta_i (K K^T)_ij Gamma_ij (j < i) and P = (Q K^T) o Gamma (j <= i,
//            rounded), Gamma's column j summed by the threads of column j; D Q and K stored
//            (rounded), and diag(beta) D K formed (rounded);
//   T        (I + A)^-1 in fp32, blockwise: the four 16 x 16 diagonal blocks by forward
//            substitution, then the blocks below them one diagonal at a time (rounded);
//   W, U     W = T (diag(beta) D K) and U = T (diag(beta) V), value tile by value tile
//            (rounded, stored).
// Rows past the chunk's c tokens are zero in every operand (q, k and v are not read there,
// beta is 0), so they are zero in everything stored, and nothing past the row's end
// reaches a gate.
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

template <class In, int KD, int BV>
struct PrepareShared {
    alignas(128) In queries_then_gated_keys[kChunk][KD + kRowPad];  // Q, then diag(beta) D K
    alignas(128) In keys[kChunk][KD + kRowPad];
    alignas(128) In beta_values[kChunk][BV + kRowPad];  // one value tile of diag(beta) V
    alignas(128) float kk_then_a[kChunk][kChunk + kFloatRowPad];
    alignas(128) float qk_then_t[kChunk][kChunk + kFloatRowPad];
    alignas(128) In t[kChunk][kChunk + kRowPad];
    alignas(128) float scratch[kChunkWarps][kTile * kTile];  // a warp's tile; the inverse's block products
    float g[kChunk], beta[kChunk], from_start[kChunk];
};

// The chunk's q or k rows (tokens token0 .. token0 + c of batch row b, head `head`) into
// shared memory: l2-normalised if asked, times `scale`, rounded to In; zero past c. Warp w
// owns rows w, w + 8, ...; lane l elements l, l + 32, ...; all of a warp's loads are issued
// before the first is used.
template <class In, int KD>
__device__ __forceinline__ void load_key_rows(const void* base, const std::int64_t* stride, std::int64_t batch_row, std::int64_t token0,
                                              int c, std::int64_t head, bool normalise, float scale, In (*out)[KD + kRowPad]) {
    constexpr int kPerLane = KD / 32, kRowsPerWarp = kChunk / kChunkWarps;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float x[kRowsPerWarp][kPerLane];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
        const int i = warp + r * kChunkWarps;
        const In* row = static_cast<const In*>(base) + (i < c ? at(stride, batch_row, token0 + i, head) : 0);
#pragma unroll
        for (int e = 0; e < kPerLane; ++e) x[r][e] = i < c ? to_float(row[e * 32 + lane]) : 0.0f;
    }
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
        float squares = 0.0f;
#pragma unroll
        for (int e = 0; e < kPerLane; ++e) squares += x[r][e] * x[r][e];
        if (normalise) {
#pragma unroll
            for (int offset = 16; offset > 0; offset /= 2) squares += __shfl_xor_sync(0xffffffffu, squares, offset);
            const float norm = sqrtf(squares + 1e-6f);
#pragma unroll
            for (int e = 0; e < kPerLane; ++e) x[r][e] /= norm;  // a division, as the reference does
        }
#pragma unroll
        for (int e = 0; e < kPerLane; ++e) out[warp + r * kChunkWarps][e * 32 + lane] = from_float<In>(x[r][e] * scale);
    }
}

// T = (I + A)^-1 for the strictly lower A in s.kk_then_a, into s.qk_then_t (fp32), by
// blocks of 16: T_bb = (I + A_bb)^-1 by forward substitution (a thread a column), then
// for d = 1, 2, 3 every T_(b+d, b) = -T_(b+d, b+d) sum_{b <= l < b+d} A_(b+d, l) T_(l, b).
template <class In, int KD, int BV>
__device__ void invert_unit_lower(PrepareShared<In, KD, BV>& s) {
    constexpr int kBlocks = kChunk / kTile;
    auto& t = s.qk_then_t;
    const auto& a = s.kk_then_a;
    // Blocks above the diagonal are zero.
    for (int index = threadIdx.x; index < kChunk * kChunk; index += kChunkThreads) {
        const int i = index / kChunk, j = index % kChunk;
        if (i / kTile < j / kTile) t[i][j] = 0.0f;
    }
    if (threadIdx.x < kChunk) {
        const int column = threadIdx.x, b0 = column / kTile * kTile, m = column % kTile;
        float solved[kTile];  // column `column` of T_bb, row by row
#pragma unroll
        for (int r = 0; r < kTile; ++r) {
            float sum = 0.0f;
#pragma unroll
            for (int l = 0; l < r; ++l)
                if (l >= m) sum += a[b0 + r][b0 + l] * solved[l];
            solved[r] = r == m ? 1.0f : r > m ? -sum : 0.0f;
            t[b0 + r][column] = solved[r];
        }
    }
    __syncthreads();
    float* const product = &s.scratch[0][0];  // up to three 16 x 16 blocks of sum A T
    for (int d = 1; d < kBlocks; ++d) {
        const int blocks = kBlocks - d;
        for (int index = threadIdx.x; index < blocks * kTile * kTile; index += kChunkThreads) {
            const int b = index / (kTile * kTile), r = index / kTile % kTile, col = index % kTile;
            const int row = (b + d) * kTile + r, column = b * kTile + col;
            float sum = 0.0f;
            for (int l = b * kTile; l < (b + d) * kTile; ++l) sum += a[row][l] * t[l][column];
            product[index] = sum;
        }
        __syncthreads();
        for (int index = threadIdx.x; index < blocks * kTile * kTile; index += kChunkThreads) {
            const int b = index / (kTile * kTile), r = index / kTile % kTile, col = index % kTile;
            const int diagonal = (b + d) * kTile;
            float sum = 0.0f;
            for (int l = 0; l <= r; ++l) sum += t[diagonal + r][diagonal + l] * product[b * kTile * kTile + l * kTile + col];
            t[diagonal + r][b * kTile + col] = -sum;
        }
        __syncthreads();
    }
}

// Rows i0 .. i0 + 15 of T X (X's columns from x, rows ld_x apart) into `out` (rows ld_out
// apart), rounded, by one warp. T is lower triangular: the tile sums X's rows up to its own
// diagonal only (all of them in the mutant whose T is transposed).
template <class In, int KD, int BV>
__device__ __forceinline__ void store_t_product(const ChunkArgs& a, const PrepareShared<In, KD, BV>& s, int i0, const In* x, int ld_x,
                                                In* out, std::int64_t ld_out, float* scratch) {
    Accumulator acc;
    nvcuda::wmma::fill_fragment(acc, 0.0f);
    add_product(acc, &s.t[i0][0], kChunk + kRowPad, x, ld_x, GDR_MUTATE(chunk_inverse_transposed, kChunk, i0 + kTile));
    for_each_element(acc, scratch, [&](int r, int col, float value) { out[r * ld_out + col] = from_float<In>(value); });
}

template <class In, int KD, int BV>
__global__ void __launch_bounds__(kChunkThreads) chunk_prepare_kernel(const ChunkArgs a) {
    static_assert(KD % 32 == 0 && BV % kTile == 0);
    extern __shared__ __align__(128) unsigned char shared_bytes[];
    auto& s = *reinterpret_cast<PrepareShared<In, KD, BV>*>(shared_bytes);
    const int warp = threadIdx.x / 32;
    float* const scratch = s.scratch[warp];
    constexpr int kRowTiles = kChunk / kTile, kKeyTiles = KD / kTile, kValueTiles = BV / kTile;
    const ChunkWorkspaceArgs& ws = a.workspace;

    const std::int64_t items = ws.slots * a.value_heads;
    for (std::int64_t item = blockIdx.x; item < items; item += gridDim.x) {
        const std::int64_t slot = item / a.value_heads, hv = item % a.value_heads;
        std::int64_t row, chunk;
        if (!locate_slot(a, slot, row, chunk) || !row_state(a, row).active) continue;  // the state pass zeroes inactive rows
        const RowTokenRange tokens = row_token_range(a, row);
        const std::int64_t first = chunk * kChunk, token0 = tokens.begin + first;
        const int c = chunk_tokens(a, tokens.end - tokens.begin, first);
        const std::int64_t head = key_head_of(a, hv);

        __syncthreads();  // the previous item is done with every buffer
        if (threadIdx.x < kChunk) {
            const int i = threadIdx.x;
            const bool valid = i < c;
            const std::int64_t token = token0 + i;
            float g = 0.0f, beta = 0.0f;  // past the tail: beta 0 makes every row of A, W, U zero
            if (valid) {
                g = a.g ? load_gate_value<In>(a.g, a.gate_dtype, at(a.g_stride, tokens.batch_row, token, hv)) : 0.0f;
                beta = a.beta ? load_gate_value<In>(a.beta, a.gate_dtype, at(a.beta_stride, tokens.batch_row, token, hv)) : 1.0f;
            }
            GDR_MUTANT_ONLY(chunk_tail_gates_past_row,  // the gates of tokens past the row (the next row's, in varlen)
                            if (!valid && a.g && token < a.seq_len)
                                g = load_gate_value<In>(a.g, a.gate_dtype, at(a.g_stride, tokens.batch_row, token, hv)));
            s.g[i] = g;
            s.beta[i] = beta;
        }
        load_key_rows<In, KD>(a.q, a.q_stride, tokens.batch_row, token0, c, head, a.l2norm, a.scale, s.queries_then_gated_keys);
        load_key_rows<In, KD>(a.k, a.k_stride, tokens.batch_row, token0, c, head,
                              a.l2norm && GDR_MUTATE(chunk_l2norm_skips_k, false, true), 1.0f, s.keys);
        __syncthreads();

        float* const gates = ws.gates + (slot * a.value_heads + hv) * kGateRecordFloats;
        if (threadIdx.x < kChunk) {  // token i's decays from the chunk's start and to its end
            const int i = threadIdx.x;
            float from_start = 0.0f, to_end = 0.0f, whole = 0.0f;
            for (int l = 0; l < kChunk; ++l) {
                if (l <= i && l < c) from_start += s.g[l];
                if (l > i && l < c) to_end += s.g[l];
                if (GDR_MUTATE(chunk_tail_gates_past_row, true, l < c)) whole += s.g[l];
            }
            s.from_start[i] = i < c ? expf(from_start) : 0.0f;
            gates[i] = i < c ? expf(to_end) : 0.0f;
            if (i < kGateRecordFloats - kChunk) gates[kWholeChunkGate + i] = i == 0 ? expf(whole) : 0.0f;  // then padding
        }
        // K K^T and Q K^T, the tiles on or below the diagonal (P's mutant without its mask reads them all).
        for (int tile = warp; tile < 2 * kRowTiles * kRowTiles; tile += kChunkWarps) {
            const int square = tile % (kRowTiles * kRowTiles), i0 = square / kRowTiles * kTile, j0 = square % kRowTiles * kTile;
            const bool queries = tile >= kRowTiles * kRowTiles;
            if (j0 > i0 && !(queries && GDR_MUTATE(chunk_causal_mask_missing, true, false))) continue;
            Accumulator acc;
            nvcuda::wmma::fill_fragment(acc, 0.0f);
            add_product_transposed(acc, &(queries ? s.queries_then_gated_keys : s.keys)[i0][0], KD + kRowPad, &s.keys[j0][0],
                                   KD + kRowPad, KD);
            nvcuda::wmma::store_matrix_sync(&(queries ? s.qk_then_t : s.kk_then_a)[i0][j0], acc, kChunk + kFloatRowPad,
                                            nvcuda::wmma::mem_row_major);
        }
        __syncthreads();

        // A and P: thread (column j, quarter q) walks rows 16q .. 16q + 15 of column j,
        // Gamma_ij's exponent g_{j+1} + ... + g_i summed in token order.
        In* const p = record<In>(ws.p, a, slot, hv, kChunk);
        {
            const int j = threadIdx.x % kChunk, quarter = threadIdx.x / kChunk, rows = kChunk / 4;
            float log_decay = 0.0f;
            for (int l = j + 1; l < quarter * rows; ++l)
                if (l < c) log_decay += s.g[l];
            for (int i = quarter * rows; i < (quarter + 1) * rows; ++i) {
                if (i > j && i < c) log_decay += s.g[i];
                float gamma = i >= j && i < c ? expf(log_decay) : 0.0f;
                gamma = GDR_MUTATE(chunk_gamma_as_ratio, i < c && j <= i ? s.from_start[i] / s.from_start[j] : gamma, gamma);
                s.kk_then_a[i][j] = j < i ? GDR_MUTATE(chunk_beta_missing_in_a, 1.0f, s.beta[i]) * s.kk_then_a[i][j] * gamma : 0.0f;
                p[i * kChunk + j] =
                    from_float<In>(j <= i ? s.qk_then_t[i][j] * gamma : GDR_MUTATE(chunk_causal_mask_missing, s.qk_then_t[i][j], 0.0f));
            }
        }
        // D Q and K to the workspace; diag(beta) D K over Q.
        In* const gated_queries = record<In>(ws.gated_queries, a, slot, hv, KD);
        In* const keys = record<In>(ws.keys, a, slot, hv, KD);
        for (int index = threadIdx.x; index < kChunk * KD; index += kChunkThreads) {
            const int i = index / KD, l = index % KD;
            const float q = to_float(s.queries_then_gated_keys[i][l]), k = to_float(s.keys[i][l]);
            gated_queries[index] = from_float<In>(GDR_MUTATE(chunk_output_undecayed, 1.0f, s.from_start[i]) * q);
            keys[index] = s.keys[i][l];
            s.queries_then_gated_keys[i][l] = from_float<In>(s.beta[i] * s.from_start[i] * k);
        }
        __syncthreads();

        invert_unit_lower(s);
        for (int index = threadIdx.x; index < kChunk * kChunk; index += kChunkThreads) {
            const int i = index / kChunk, m = index % kChunk;
            const In rounded = from_float<In>(s.qk_then_t[i][m]);
            GDR_MUTATE(chunk_inverse_transposed, s.t[m][i], s.t[i][m]) = rounded;
        }
        __syncthreads();

        // W = T (diag(beta) D K).
        In* const w = record<In>(ws.w, a, slot, hv, KD);
        for (int tile = warp; tile < kRowTiles * kKeyTiles; tile += kChunkWarps) {
            const int i0 = tile / kKeyTiles * kTile, k0 = tile % kKeyTiles * kTile;
            store_t_product(a, s, i0, &s.queries_then_gated_keys[0][k0], KD + kRowPad, w + i0 * KD + k0, KD, scratch);
        }
        // U = T (diag(beta) V), a value tile at a time.
        In* const u = record<In>(ws.u, a, slot, hv, a.V);
        for (std::int64_t v0 = 0; v0 < a.V; v0 += BV) {
            for (int index = threadIdx.x; index < kChunk * BV; index += kChunkThreads) {
                const int i = index / BV, col = index % BV;
                const In* v = static_cast<const In*>(a.v) + (i < c ? at(a.v_stride, tokens.batch_row, token0 + i, hv) + v0 + col : 0);
                s.beta_values[i][col] = from_float<In>(i < c ? s.beta[i] * to_float(*v) : 0.0f);
            }
            __syncthreads();
            for (int tile = warp; tile < kRowTiles * kValueTiles; tile += kChunkWarps) {
                const int i0 = tile / kValueTiles * kTile, c0 = tile % kValueTiles * kTile;
                store_t_product(a, s, i0, &s.beta_values[0][c0], BV + kRowPad, u + i0 * a.V + v0 + c0, a.V, scratch);
            }
            __syncthreads();
        }
    }
}

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
