// chunk_kernel: one block owns one (row, value head, tile of Bv value columns) and walks the
// row's chunks in order, its K x Bv slice of the state in fp32 in shared memory throughout
// (value columns are independent in the delta rule: only k, q, g and beta are shared by
// all columns, and each block recomputes their chunk-local products). Per chunk of c <= C
// tokens (reference/chunked.hpp derives every step; the names are its names):
//   load     Q, K (l2-normalised, Q scaled, rounded to In), diag(beta) V (rounded), g, beta;
//   gates    Gamma_ij = exp(g_{j+1} + ... + g_i), D_i = exp(g_1 + ... + g_i), the decay to
//            the chunk's end; each exponent summed over its own token range (no difference
//            of cumulative sums, no ratio of exps);  with, on the other warps, the tensor-core
//            products K K^T, Q K^T and Q S;
//   A        beta_i (K K^T)_ij Gamma_ij (j < i); P = (Q K^T) o Gamma (j <= i, rounded); D Q S;
//            the gated keys diag(beta) D K (rounded);
//   T        (I + A)^-1 by forward substitution in fp32, one thread per column (rounded);
//   W        T (diag(beta) D K) (rounded);
//   U'       T (diag(beta) V) - W S (rounded), and its rows decayed to the chunk's end;
//   O, S     O = D Q S + P U' (stored as In), S <- exp(G_c) S + K^T (decayed U').
// The rounding points are reference::ChunkRoundingPoints::tensor_core_bf16(): every
// tensor-core operand in the input dtype, everything else fp32. A tail chunk (c < C) is
// zero beyond row c in every operand, and its gates are those of its c tokens, so nothing
// past the row's end reaches the state.
#pragma once

#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>

#include "../common/element_conversions.cuh"
#include "../common/mutation_hooks.cuh"
#include "chunk_args.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

constexpr int kChunk = 64;         // C
constexpr int kChunkWarps = 8;
constexpr int kChunkThreads = 32 * kChunkWarps;
constexpr int kTile = 16;          // the wmma tile edge

// The value tile of a key size: the widest whose shared memory fits one block per SM.
constexpr int value_tile_of(std::int64_t K) { return K > 128 ? 32 : 64; }

// A block's shared memory. Buffers with two roles are named by both.
template <class In, int KD, int BV>
struct ChunkShared {
    float state[KD * BV];          // S, k-major (row k, column v), fp32 across chunks
    In state_operand[KD * BV];     // S rounded: the right operand of Q S and W S
    In keys[kChunk * KD];          // K, one token a row
    In queries_then_w[kChunk * KD];  // Q; then diag(beta) D K; then W
    In beta_values[kChunk * BV];   // diag(beta) V
    float gamma[kChunk * kChunk];
    float kk_then_a[kChunk * kChunk];
    float qk_then_t[kChunk * kChunk];
    In t[kChunk * kChunk];
    In p[kChunk * kChunk];
    In u_prime[kChunk * BV];
    In decayed_u_prime[kChunk * BV];
    float out[kChunk * BV];        // D Q S, then O
    float scratch[kChunkWarps][kTile * kTile];  // a warp's tile on its way to an element-wise epilogue
    float g[kChunk], beta[kChunk], from_start[kChunk], to_end[kChunk];
    float whole_chunk;
};

template <class In>
using FragmentA = nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, kTile, kTile, kTile, In, nvcuda::wmma::row_major>;
template <class In>
using FragmentAColumns = nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, kTile, kTile, kTile, In, nvcuda::wmma::col_major>;
template <class In>
using FragmentB = nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, kTile, kTile, kTile, In, nvcuda::wmma::row_major>;
template <class In>
using FragmentBColumns = nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, kTile, kTile, kTile, In, nvcuda::wmma::col_major>;
using Accumulator = nvcuda::wmma::fragment<nvcuda::wmma::accumulator, kTile, kTile, kTile, float>;

// acc += X Y^T over `inner` columns of row-major X (rows from x) and Y (rows from y): the
// K K^T and Q K^T products (Y^T is Y's rows read as columns).
template <class In>
__device__ __forceinline__ void add_product_transposed(Accumulator& acc, const In* x, const In* y, int ld, int inner) {
    FragmentA<In> a;
    FragmentBColumns<In> b;
    for (int l = 0; l < inner; l += kTile) {
        nvcuda::wmma::load_matrix_sync(a, x + l, ld);
        nvcuda::wmma::load_matrix_sync(b, y + l, ld);
        nvcuda::wmma::mma_sync(acc, a, b, acc);
    }
}

// acc += X Y for row-major X (ld_x) and Y (ld_y) over `inner`.
template <class In>
__device__ __forceinline__ void add_product(Accumulator& acc, const In* x, int ld_x, const In* y, int ld_y, int inner) {
    FragmentA<In> a;
    FragmentB<In> b;
    for (int l = 0; l < inner; l += kTile) {
        nvcuda::wmma::load_matrix_sync(a, x + l, ld_x);
        nvcuda::wmma::load_matrix_sync(b, y + l * ld_y, ld_y);
        nvcuda::wmma::mma_sync(acc, a, b, acc);
    }
}

// A warp's accumulator tile through its scratch: fn(r, c, value) for each of its 256
// elements, 8 a lane.
template <class Fn>
__device__ __forceinline__ void for_each_element(const Accumulator& acc, float* scratch, Fn&& fn) {
    nvcuda::wmma::store_matrix_sync(scratch, acc, kTile, nvcuda::wmma::mem_row_major);
    __syncwarp();
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int e = 0; e < kTile * kTile / 32; ++e) {
        const int index = e * 32 + lane;
        fn(index / kTile, index % kTile, scratch[index]);
    }
    __syncwarp();
}

template <class In>
__device__ __forceinline__ float load_gate_value(const void* base, DType dtype, std::int64_t offset) {
    return dtype == DType::f32 ? static_cast<const float*>(base)[offset] : to_float(static_cast<const In*>(base)[offset]);
}

__device__ __forceinline__ std::int64_t at(const std::int64_t* stride, std::int64_t b, std::int64_t t, std::int64_t head) {
    return b * stride[0] + t * stride[1] + head * stride[2];
}

// Element (k, v) of a K x V state matrix in the bank's layout.
__device__ __forceinline__ std::int64_t state_element(const ChunkArgs& a, std::int64_t k, std::int64_t v) {
    return a.layout_kv ? k * a.V + v : v * a.K + k;
}

// The block's K x BV slice (columns v0..) of a state matrix, to or from shared memory.
template <class St, class In, int KD, int BV>
__device__ void load_state(const ChunkArgs& a, const St* matrix, std::int64_t v0, ChunkShared<In, KD, BV>& s) {
    for (int index = threadIdx.x; index < KD * BV; index += kChunkThreads) {
        // Consecutive threads read consecutive elements of the layout's contiguous dimension.
        const int k = a.layout_kv ? index / BV : index % KD, v = a.layout_kv ? index % BV : index / KD;
        const float x = to_float(matrix[state_element(a, k, v0 + v)]);
        s.state[k * BV + v] = x;
        s.state_operand[k * BV + v] = from_float<In>(x);
    }
}
template <class St, class In, int KD, int BV>
__device__ void store_state(const ChunkArgs& a, St* matrix, std::int64_t v0, const ChunkShared<In, KD, BV>& s) {
    for (int index = threadIdx.x; index < KD * BV; index += kChunkThreads) {
        const int k = a.layout_kv ? index / BV : index % KD, v = a.layout_kv ? index % BV : index / KD;
        matrix[state_element(a, k, v0 + v)] = from_float<St>(s.state[k * BV + v]);
    }
}

// One token's q or k row into shared memory, l2-normalised if asked, times `scale`, rounded
// to In; zeros past the chunk's c tokens. A warp a row: lane l holds elements l, l + 32, ...
template <class In, int KD>
__device__ __forceinline__ void load_key_row(const In* row, bool valid, bool normalise, float scale, In* out) {
    constexpr int kPerLane = KD / 32;
    const int lane = threadIdx.x % 32;
    float x[kPerLane];
    float squares = 0.0f;
#pragma unroll
    for (int e = 0; e < kPerLane; ++e) {
        x[e] = valid ? to_float(row[e * 32 + lane]) : 0.0f;
        squares += x[e] * x[e];
    }
    float factor = scale;
    if (normalise) {
#pragma unroll
        for (int offset = 16; offset > 0; offset /= 2) squares += __shfl_xor_sync(0xffffffffu, squares, offset);
        const float norm = sqrtf(squares + 1e-6f);
#pragma unroll
        for (int e = 0; e < kPerLane; ++e) x[e] /= norm;  // a division, as the reference does
    }
#pragma unroll
    for (int e = 0; e < kPerLane; ++e) out[e * 32 + lane] = from_float<In>(x[e] * factor);
}

// The chunk's inputs (tokens first .. first + c of the row) into shared memory.
template <class In, int KD, int BV>
__device__ void load_chunk(const ChunkArgs& a, std::int64_t batch_row, std::int64_t token0, int c, std::int64_t head,
                           std::int64_t hv, std::int64_t v0, ChunkShared<In, KD, BV>& s) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int i = warp; i < kChunk; i += kChunkWarps) {
        const bool valid = i < c;
        const std::int64_t token = token0 + i;
        const In* q = static_cast<const In*>(a.q) + (valid ? at(a.q_stride, batch_row, token, head) : 0);
        const In* k = static_cast<const In*>(a.k) + (valid ? at(a.k_stride, batch_row, token, head) : 0);
        load_key_row<In, KD>(q, valid, a.l2norm, a.scale, s.queries_then_w + i * KD);
        load_key_row<In, KD>(k, valid, a.l2norm && GDR_MUTATE(chunk_l2norm_skips_k, false, true), 1.0f, s.keys + i * KD);
        float g = 0.0f, beta = 0.0f;  // past the tail: beta 0 makes every row of A, W, U zero
        if (valid) {
            g = a.g ? load_gate_value<In>(a.g, a.gate_dtype, at(a.g_stride, batch_row, token, hv)) : 0.0f;
            beta = a.beta ? load_gate_value<In>(a.beta, a.gate_dtype, at(a.beta_stride, batch_row, token, hv)) : 1.0f;
        }
        GDR_MUTANT_ONLY(chunk_tail_gates_past_row,  // the gates of tokens past the row (the next row's, in varlen)
                        if (!valid && a.g && token < a.seq_len) g = load_gate_value<In>(a.g, a.gate_dtype, at(a.g_stride, batch_row, token, hv)));
        const In* v = static_cast<const In*>(a.v) + (valid ? at(a.v_stride, batch_row, token, hv) + v0 : 0);
        for (int column = lane; column < BV; column += 32)
            s.beta_values[i * BV + column] = from_float<In>(valid ? beta * to_float(v[column]) : 0.0f);
        if (lane == 0) {
            s.g[i] = g;
            s.beta[i] = beta;
        }
    }
}

// Threads 0..C-1: column j of Gamma (zero outside j <= i < c) and the decay from after token
// j to the chunk's end; the last of them also the decays from the chunk's start.
template <class In, int KD, int BV>
__device__ void chunk_gates(const ChunkArgs& a, int c, ChunkShared<In, KD, BV>& s) {
    const int j = threadIdx.x;
    float log_decay = 0.0f;
    for (int i = 0; i < kChunk; ++i) {
        if (i > j && i < c) log_decay += s.g[i];
        s.gamma[i * kChunk + j] = i >= j && i < c ? expf(log_decay) : 0.0f;
    }
    s.to_end[j] = j < c ? expf(log_decay) : 0.0f;
    if (j == kChunk - 1) {
        float from_start = 0.0f;
        for (int i = 0; i < kChunk; ++i) {
            if (GDR_MUTATE(chunk_tail_gates_past_row, true, i < c)) from_start += s.g[i];
            s.from_start[i] = i < c ? expf(from_start) : 0.0f;
        }
        s.whole_chunk = expf(from_start);
    }
}

// T = (I + A)^-1 by forward substitution, thread m owning column m: T_im = -sum_{m <= l < i}
// A_il T_lm. A column reads only itself and A, so the columns need no barrier between rows.
template <class In, int KD, int BV>
__device__ void invert_unit_lower(const ChunkArgs& a, ChunkShared<In, KD, BV>& s) {
    const int m = threadIdx.x;
    for (int i = 0; i < kChunk; ++i) {
        float t = i == m ? 1.0f : 0.0f;
        if (i > m) {
            float partial[4] = {};  // four chains: the sum is latency-bound
            int l = m;
            for (; l + 4 <= i; l += 4)
#pragma unroll
                for (int e = 0; e < 4; ++e) partial[e] += s.kk_then_a[i * kChunk + l + e] * s.qk_then_t[(l + e) * kChunk + m];
            for (; l < i; ++l) partial[0] += s.kk_then_a[i * kChunk + l] * s.qk_then_t[l * kChunk + m];
            t = -((partial[0] + partial[1]) + (partial[2] + partial[3]));
        }
        s.qk_then_t[i * kChunk + m] = t;
        s.t[GDR_MUTATE(chunk_inverse_transposed, m * kChunk + i, i * kChunk + m)] = from_float<In>(t);
    }
}

template <class In, class St, int KD, int BV>
__global__ void __launch_bounds__(kChunkThreads, 1) chunk_kernel(const ChunkArgs a) {
    static_assert(KD % 32 == 0 && BV % kTile == 0 && BV <= 64);
    extern __shared__ __align__(128) unsigned char shared_bytes[];
    auto& s = *reinterpret_cast<ChunkShared<In, KD, BV>*>(shared_bytes);
    const int warp = threadIdx.x / 32;
    float* const scratch = s.scratch[warp];
    constexpr int kRowTiles = kChunk / kTile, kKeyTiles = KD / kTile, kValueTiles = BV / kTile;
    In* const o = static_cast<In*>(a.o);
    St* const bank = static_cast<St*>(a.state);

    const std::int64_t items = a.rows * a.value_heads * a.value_tiles;
    for (std::int64_t item = blockIdx.x; item < items; item += gridDim.x) {
        const std::int64_t row = item / (a.value_heads * a.value_tiles);
        const std::int64_t hv = item / a.value_tiles % a.value_heads;
        const std::int64_t v0 = item % a.value_tiles * BV;
        const std::int64_t head = GDR_MUTATE(chunk_head_mapping_modulo, hv % (a.value_heads / a.group), hv / a.group);
        const RowTokenRange tokens = row_token_range(a, row);
        const std::int64_t batch_row = tokens.batch_row, begin = tokens.begin, end = tokens.end;
        const std::int64_t length = end - begin;
        if (length <= 0) continue;  // a row with no tokens writes nothing

        const std::int64_t n = a.state_indices ? a.state_indices[row] : row;
        const std::int32_t cache_seqlen = a.cache_seqlens ? a.cache_seqlens[row] : 0;
        if (n < 0 || n >= a.N || cache_seqlen < 0) {  // inactive: exact zeros, the bank untouched
            for (std::int64_t index = threadIdx.x; index < length * BV; index += kChunkThreads)
                o[at(a.o_stride, batch_row, begin + index / BV, hv) + v0 + index % BV] = from_float<In>(0.0f);
            GDR_MUTANT_ONLY(chunk_inactive_row_writes_state,  // a zero state into slot 0 of a valid entry
                            if (n >= 0 && n < a.N && a.output_final_state) {
                                for (int index = threadIdx.x; index < KD * BV; index += kChunkThreads) s.state[index] = 0.0f;
                                __syncthreads();
                                store_state<St>(a, bank + (n * a.slots * a.value_heads + hv) * a.K * a.V, v0, s);
                                __syncthreads();
                            });
            continue;
        }
        const bool circular = a.cache_seqlens != nullptr;
        const std::int64_t read_slot = circular ? cache_seqlen % a.slots : 0;
        const auto matrix = [&](std::int64_t slot) { return bank + ((n * a.slots + slot) * a.value_heads + hv) * a.K * a.V; };
        load_state<St>(a, matrix(read_slot), v0, s);

        for (std::int64_t first = 0; first < length; first += kChunk) {
            const std::int64_t left = length - first + GDR_MUTATE(chunk_varlen_boundary_off_by_one, a.varlen ? 1 : 0, 0);
            const int c = static_cast<int>(left < kChunk ? left : kChunk);
            __syncthreads();  // the previous chunk (or row) is done with every buffer
            load_chunk<In, KD, BV>(a, batch_row, begin + first, c, head, hv, v0, s);
            __syncthreads();

            // Gates on warps 0-1; K K^T, Q K^T and Q S on warps 2-7.
            if (warp < 2) {
                chunk_gates(a, c, s);
            } else {
                constexpr int kSquareTiles = kRowTiles * kRowTiles;
                for (int tile = warp - 2; tile < 2 * kSquareTiles + kRowTiles * kValueTiles; tile += kChunkWarps - 2) {
                    Accumulator acc;
                    nvcuda::wmma::fill_fragment(acc, 0.0f);
                    if (tile < 2 * kSquareTiles) {
                        const int square = tile % kSquareTiles, i0 = square / kRowTiles * kTile, j0 = square % kRowTiles * kTile;
                        const In* x = tile < kSquareTiles ? s.keys : s.queries_then_w;
                        add_product_transposed(acc, x + i0 * KD, s.keys + j0 * KD, KD, KD);
                        float* out = tile < kSquareTiles ? s.kk_then_a : s.qk_then_t;
                        nvcuda::wmma::store_matrix_sync(out + i0 * kChunk + j0, acc, kChunk, nvcuda::wmma::mem_row_major);
                    } else {
                        const int rest = tile - 2 * kSquareTiles, i0 = rest / kValueTiles * kTile, c0 = rest % kValueTiles * kTile;
                        add_product(acc, s.queries_then_w + i0 * KD, KD, s.state_operand + c0, BV, KD);
                        nvcuda::wmma::store_matrix_sync(s.out + i0 * BV + c0, acc, BV, nvcuda::wmma::mem_row_major);
                    }
                }
            }
            __syncthreads();

            // A, P, D Q S and the gated keys, element-wise.
            for (int index = threadIdx.x; index < kChunk * kChunk; index += kChunkThreads) {
                const int i = index / kChunk, j = index % kChunk;
                const float gamma = GDR_MUTATE(chunk_gamma_as_ratio, i < c && j <= i ? s.from_start[i] / s.from_start[j] : s.gamma[index],
                                               s.gamma[index]);
                s.kk_then_a[index] = j < i ? GDR_MUTATE(chunk_beta_missing_in_a, 1.0f, s.beta[i]) * s.kk_then_a[index] * gamma : 0.0f;
                s.p[index] = from_float<In>(j <= i ? s.qk_then_t[index] * gamma
                                                   : GDR_MUTATE(chunk_causal_mask_missing, s.qk_then_t[index], 0.0f));
            }
            for (int index = threadIdx.x; index < kChunk * BV; index += kChunkThreads)
                GDR_UNLESS_MUTANT(chunk_output_undecayed, s.out[index] *= s.from_start[index / BV]);
            for (int index = threadIdx.x; index < kChunk * KD; index += kChunkThreads) {
                const int i = index / KD;
                s.queries_then_w[index] = from_float<In>(s.beta[i] * s.from_start[i] * to_float(s.keys[index]));
            }
            __syncthreads();

            if (threadIdx.x < kChunk) invert_unit_lower(a, s);
            __syncthreads();

            {  // W = T (diag(beta) D K): every tile read before any is written over its operand
                constexpr int kPerWarp = kRowTiles * kKeyTiles / kChunkWarps;
                Accumulator w[kPerWarp];
#pragma unroll
                for (int e = 0; e < kPerWarp; ++e) {
                    const int tile = warp + e * kChunkWarps, i0 = tile / kKeyTiles * kTile, k0 = tile % kKeyTiles * kTile;
                    nvcuda::wmma::fill_fragment(w[e], 0.0f);
                    add_product(w[e], s.t + i0 * kChunk, kChunk, s.queries_then_w + k0, KD, kChunk);
                }
                GDR_UNLESS_MUTANT(chunk_w_overwrite_race, __syncthreads());
#pragma unroll
                for (int e = 0; e < kPerWarp; ++e) {
                    const int tile = warp + e * kChunkWarps, i0 = tile / kKeyTiles * kTile, k0 = tile % kKeyTiles * kTile;
                    for_each_element(w[e], scratch, [&](int r, int col, float x) {
                        s.queries_then_w[(i0 + r) * KD + k0 + col] = from_float<In>(x);
                    });
                }
            }
            __syncthreads();

            // U' = T (diag(beta) V) - W S, rounded; and its rows decayed to the chunk's end.
            for (int tile = warp; tile < kRowTiles * kValueTiles; tile += kChunkWarps) {
                const int i0 = tile / kValueTiles * kTile, c0 = tile % kValueTiles * kTile;
                Accumulator u, ws;
                nvcuda::wmma::fill_fragment(u, 0.0f);
                nvcuda::wmma::fill_fragment(ws, 0.0f);
                add_product(u, s.t + i0 * kChunk, kChunk, s.beta_values + c0, BV, kChunk);
                add_product(ws, s.queries_then_w + i0 * KD, KD, s.state_operand + c0, BV, KD);
                for (int e = 0; e < u.num_elements; ++e) u.x[e] -= ws.x[e];
                for_each_element(u, scratch, [&](int r, int col, float x) {
                    const int i = i0 + r;
                    const In rounded = from_float<In>(x);
                    s.u_prime[i * BV + c0 + col] = rounded;
                    s.decayed_u_prime[i * BV + c0 + col] =
                        from_float<In>(GDR_MUTATE(chunk_update_undecayed, 1.0f, s.to_end[i]) * to_float(rounded));
                });
            }
            __syncthreads();

            // O = D Q S + P U' (the c rows stored), and S <- exp(G_c) S + K^T (decayed U').
            for (int tile = warp; tile < kRowTiles * kValueTiles + kKeyTiles * kValueTiles; tile += kChunkWarps) {
                Accumulator acc;
                if (tile < kRowTiles * kValueTiles) {
                    const int i0 = tile / kValueTiles * kTile, c0 = tile % kValueTiles * kTile;
                    nvcuda::wmma::load_matrix_sync(acc, s.out + i0 * BV + c0, BV, nvcuda::wmma::mem_row_major);
                    add_product(acc, s.p + i0 * kChunk, kChunk, s.u_prime + c0, BV, kChunk);
                    for_each_element(acc, scratch, [&](int r, int col, float x) {
                        const std::int64_t column = GDR_MUTATE(chunk_value_tile_ignored_in_o, 0, v0) + c0 + col;
                        if (i0 + r < c) o[at(a.o_stride, batch_row, begin + first + i0 + r, hv) + column] = from_float<In>(x);
                    });
                } else {
                    const int rest = tile - kRowTiles * kValueTiles, k0 = rest / kValueTiles * kTile, c0 = rest % kValueTiles * kTile;
                    nvcuda::wmma::load_matrix_sync(acc, s.state + k0 * BV + c0, BV, nvcuda::wmma::mem_row_major);
                    for (int e = 0; e < acc.num_elements; ++e) GDR_UNLESS_MUTANT(chunk_state_decay_missing, acc.x[e] *= s.whole_chunk);
                    FragmentAColumns<In> keys_transposed;  // K^T: K's rows read as columns
                    FragmentB<In> decayed;
                    for (int j0 = 0; j0 < kChunk; j0 += kTile) {
                        nvcuda::wmma::load_matrix_sync(keys_transposed, s.keys + j0 * KD + k0, KD);
                        nvcuda::wmma::load_matrix_sync(decayed, s.decayed_u_prime + j0 * BV + c0, BV);
                        nvcuda::wmma::mma_sync(acc, keys_transposed, decayed, acc);
                    }
                    nvcuda::wmma::store_matrix_sync(s.state + k0 * BV + c0, acc, BV, nvcuda::wmma::mem_row_major);
                }
            }
            __syncthreads();
            for (int index = threadIdx.x; index < KD * BV; index += kChunkThreads)
                s.state_operand[index] = from_float<In>(s.state[index]);
            if (a.checkpoints && c == kChunk) {  // the state after a whole chunk: checkpoint (first + C) / C
                const std::int64_t place = a.checkpoint_offsets[row] + first / kChunk;
                store_state<St>(a, static_cast<St*>(a.checkpoints) + (place * a.value_heads + hv) * a.K * a.V, v0, s);
            }
        }
        const std::int64_t final_slot =
            circular ? GDR_MUTATE(chunk_circular_write_unwrapped, cache_seqlen + length, (cache_seqlen + length) % a.slots) : 0;
        if (a.output_final_state) store_state<St>(a, matrix(final_slot), v0, s);
        __syncthreads();  // the next item's state load overwrites what this one stores
    }
}

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
