// The fused recurrent decode kernel. One block of 4 warps owns one (row, value head,
// tile of 16 value columns); each warp owns 4 columns, and lane l holds h[k][v] for
// k = l, l + 32, l + 64, ... of each, in registers, for all tokens of the row: the state is
// read once and written once per written slot. Columns of h are independent, so the two
// K-sums per column and token are warp reductions, with no shared memory and no block
// barrier; layout KV (v contiguous) is staged through shared memory at load and store
// only, so that both layouts read and write the bank coalesced.
//
// Mutation hooks (cuda/include/gdr/cuda/mutants.hpp) mark the place of each deliberate bug:
//   GDR_MUTATE(name, wrong, right)   the expression `right`, or `wrong` in mutant `name`
//   GDR_MUTANT_ONLY(name, stmt)      a statement only mutant `name` executes
//   GDR_UNLESS_MUTANT(name, stmt)    a statement that mutant `name` skips
// In this production build they expand to `right`, nothing and `stmt`: the preprocessed
// kernel is token for token the unhooked one (same PTX, same registers). Compiled with
// -DGDR_MUTANTS (gdr_cuda_mutants) they test the mutant id in the DecodeArgs `a` in scope,
// and the entry point is gdr::cuda::mutants::fused_recurrent_decode instead.
#include "gdr/cuda/decode.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "gdr/core/errors.hpp"
#include "gdr/cuda/device.hpp"

#ifdef GDR_MUTANTS
#include "gdr/cuda/mutants.hpp"
#define GDR_IS_MUTANT(name) (a.mutant == ::gdr::cuda::Mutant::name)
#define GDR_MUTATE(name, wrong, right) (GDR_IS_MUTANT(name) ? (wrong) : (right))
#define GDR_MUTANT_ONLY(name, ...) do { if (GDR_IS_MUTANT(name)) { __VA_ARGS__; } } while (0)
#define GDR_UNLESS_MUTANT(name, ...) do { if (!GDR_IS_MUTANT(name)) { __VA_ARGS__; } } while (0)
namespace gdr::cuda::mutants {
#else
#define GDR_MUTATE(name, wrong, right) (right)
#define GDR_MUTANT_ONLY(name, ...) ((void)0)
#define GDR_UNLESS_MUTANT(name, ...) __VA_ARGS__
namespace gdr::cuda {
#endif

namespace {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kColumnsPerWarp = 4;
constexpr int kTileColumns = kWarps * kColumnsPerWarp;  // value columns per block
constexpr int kTilePitch = kTileColumns + 1;            // odd pitch: conflict-free column reads

// Everything the kernel reads of a Problem, by value (a kernel parameter).
struct DecodeArgs {
    const void* q;
    const void* k;
    const void* v;
    void* o;
    const void* g;
    const void* beta;
    void* state;
    const std::int64_t* state_indices;
    const std::int32_t* cache_seqlens;
    const void* cu_seqlens;
    bool cu_seqlens_i64;
    std::int64_t q_stride[3], k_stride[3], v_stride[3], o_stride[3], g_stride[3], beta_stride[3];
    std::int64_t rows, seq_len, value_heads, group, K, V, N, slots;
    DType gate_dtype;
    bool l2norm, output_final_state, varlen, layout_kv;
    float scale;
#ifdef GDR_MUTANTS
    Mutant mutant;
#endif
};

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T>
__device__ __forceinline__ T from_float(float x);  // one round-to-nearest-even
template <>
__device__ __forceinline__ float from_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

// The sum over groups of `Lanes` neighbouring lanes (the whole warp unless a mutant says).
template <int Lanes = 32>
__device__ __forceinline__ float warp_sum(float x) {
    for (int offset = Lanes / 2; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}

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
__device__ __forceinline__ float decay_of(const DecodeArgs& a, float g) { return GDR_MUTATE(alpha_is_g, g, expf(g)); }

// The element offset of a state matrix in the bank: 64-bit, banks exceed 2^31 elements.
__device__ __forceinline__ std::int64_t bank_offset(const DecodeArgs& a, std::int64_t offset) {
    return GDR_MUTATE(bank_offset_32bit, static_cast<std::int32_t>(offset), offset);
}

// Circular mode: the slot a row reads, and the slot its token t writes (the next ones, wrapping).
__device__ __forceinline__ std::int64_t circular_read_slot(const DecodeArgs& a, std::int32_t cache_seqlen) {
    GDR_MUTANT_ONLY(read_slot_not_mod_slots, return cache_seqlen);
    GDR_MUTANT_ONLY(circular_reads_slot_zero, return 0);
    return cache_seqlen % a.slots;
}
__device__ __forceinline__ std::int64_t circular_write_slot(const DecodeArgs& a, std::int64_t read_slot, std::int64_t t) {
    GDR_MUTANT_ONLY(circular_write_slot_unwrapped, return read_slot + 1 + t);
    GDR_MUTANT_ONLY(circular_write_slot_off_by_one, return (read_slot + t) % a.slots);
    return (read_slot + 1 + t) % a.slots;
}

// Tiles of kTileColumns value columns per (row, value head); the last one may be partial.
__host__ __device__ __forceinline__ std::int64_t tile_count(const DecodeArgs& a) {
    return GDR_MUTATE(v_tail_dropped, a.V / kTileColumns, (a.V + kTileColumns - 1) / kTileColumns);
}

// Calls fn(c, j, k, column) for every h[c][j] this thread owns: row k = lane + 32 j of
// the tile's column `column` (0..kTileColumns-1), the warp's c-th column.
template <int KPT, class Fn>
__device__ __forceinline__ void for_each_owned(Fn&& fn) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
    for (int c = 0; c < kColumnsPerWarp; ++c)
#pragma unroll
        for (int j = 0; j < KPT; ++j) fn(c, j, lane + 32 * j, warp * kColumnsPerWarp + c);
}

// Calls fn(k, column) for every element of the K x kTileColumns staging tile, the block's
// threads walking rows of contiguous columns (coalesced in layout KV).
template <class Fn>
__device__ __forceinline__ void for_each_staged(std::int64_t K, Fn&& fn) {
    for (int i = threadIdx.x; i < K * kTileColumns; i += kThreads) fn(i / kTileColumns, i % kTileColumns);
}

// The staging tile's loads, kStagedBatch per thread in flight: read(k, column) for a batch
// of elements first, then write(k, column, value) for each, so that the global loads
// overlap instead of each waiting for the one before (K is a run-time value, so the
// compiler would not unroll for_each_staged's loop into independent loads itself).
constexpr int kStagedBatch = 8;
template <class Read, class Write>
__device__ __forceinline__ void for_each_staged_batched(std::int64_t K, Read&& read, Write&& write) {
    const int elements = static_cast<int>(K) * kTileColumns;
    for (int base = threadIdx.x; base < elements; base += kThreads * kStagedBatch) {
        float values[kStagedBatch];
#pragma unroll
        for (int b = 0; b < kStagedBatch; ++b) {
            const int i = base + b * kThreads;
            values[b] = i < elements ? read(i / kTileColumns, i % kTileColumns) : 0.0f;
        }
#pragma unroll
        for (int b = 0; b < kStagedBatch; ++b) {
            const int i = base + b * kThreads;
            if (i < elements) write(i / kTileColumns, i % kTileColumns, values[b]);
        }
    }
}

template <class St, int KPT>
struct StateTile {
    float h[kColumnsPerWarp][KPT];

    // S[n, slot, hv] as a K x V matrix; `column0` is the block's first value column.
    __device__ void load(const DecodeArgs& a, const St* matrix, std::int64_t column0, float* staging) {
        if (a.layout_kv) {  // rows into shared memory, then columns into registers
            for_each_staged_batched(
                a.K,
                [&](int k, int column) {
                    const std::int64_t v = column0 + column;
                    const std::int64_t pitch = GDR_MUTATE(kv_row_pitch_uses_key_dim, a.K, a.V);
                    return v < a.V ? to_float(matrix[k * pitch + v]) : 0.0f;
                },
                [&](int k, int column, float value) { staging[k * kTilePitch + column] = value; });
            GDR_UNLESS_MUTANT(kv_staging_missing_barrier, __syncthreads());
            for_each_owned<KPT>([&](int c, int j, int k, int column) {
                h[c][j] = k < a.K ? staging[k * kTilePitch + column] : 0.0f;
            });
            __syncthreads();  // the staging tile is reused by the next store
        } else {
            for_each_owned<KPT>([&](int c, int j, int k, int column) {
                const std::int64_t v = column0 + column;
                h[c][j] = (v < a.V && k < a.K) ? to_float(matrix[v * a.K + k]) : 0.0f;
            });
        }
    }

    // Stores h rounded once to the state dtype.
    __device__ void store(const DecodeArgs& a, St* matrix, std::int64_t column0, float* staging) const {
        if (a.layout_kv) {
            for_each_owned<KPT>([&](int c, int j, int k, int column) {
                if (k < a.K) staging[k * kTilePitch + column] = h[c][j];
            });
            __syncthreads();
            for_each_staged(a.K, [&](int k, int column) {
                const std::int64_t v = column0 + column;
                const std::int64_t pitch = GDR_MUTATE(kv_row_pitch_uses_key_dim, a.K, a.V);
                if (v < a.V) matrix[k * pitch + v] = from_float<St>(staging[k * kTilePitch + column]);
            });
            __syncthreads();
        } else {
            for_each_owned<KPT>([&](int c, int j, int k, int column) {
                const std::int64_t v = column0 + column;
                if (v < a.V && k < a.K) matrix[v * a.K + k] = from_float<St>(h[c][j]);
            });
        }
    }

    // h = float(round_to_state_dtype(h)): what the next token would read back.
    __device__ void round_trip() {
#pragma unroll
        for (int c = 0; c < kColumnsPerWarp; ++c)
#pragma unroll
            for (int j = 0; j < KPT; ++j) h[c][j] = to_float(from_float<St>(h[c][j]));
    }
};

// q or k of one token and head: lane l holds elements l, l + 32, ...; l2-normalised if asked.
template <class In, int KPT>
__device__ void load_key_vector(const DecodeArgs& a, const void* base, const std::int64_t* stride, std::int64_t b,
                                std::int64_t token, std::int64_t head, float (&x)[KPT]) {
    const In* row = static_cast<const In*>(base) + offset3(stride, b, token, head);
    const int lane = threadIdx.x & 31;
    float squares = 0.0f;
#pragma unroll
    for (int j = 0; j < KPT; ++j) {
        const int k = lane + 32 * j;
        x[j] = GDR_MUTATE(key_tail_unmasked, true, k < a.K) ? to_float(row[k]) : 0.0f;
        squares += x[j] * x[j];
    }
    if (GDR_MUTATE(l2norm_skips_k, a.l2norm && base != a.k, a.l2norm)) {
        const float norm = sqrtf(warp_sum(squares) + GDR_MUTATE(l2norm_eps_dropped, 0.0f, 1e-6f));
#pragma unroll
        for (int j = 0; j < KPT; ++j) x[j] /= norm;
    }
}

template <class In, class St, int KPT>
__global__ void __launch_bounds__(kThreads) decode_kernel(const DecodeArgs a) {
    extern __shared__ float staging[];  // layout KV only: [K][kTilePitch]
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const std::int64_t tiles = tile_count(a);
    const std::int64_t items = a.rows * a.value_heads * tiles;

    // A grid-stride loop keeps the launch legal for any B x HV; every branch below is
    // uniform across the block (one item per block), so the barriers in load/store are safe.
    for (std::int64_t item = blockIdx.x; item < items; item += GDR_MUTATE(grid_clamp_without_stride_loop, items, gridDim.x)) {
        const std::int64_t tile = item % tiles;
        const std::int64_t hv = (item / tiles) % a.value_heads;
        const std::int64_t row = item / (tiles * a.value_heads);
        const std::int64_t column0 = tile * kTileColumns;

        std::int64_t batch_row = row, begin = 0, end = a.seq_len;
        if (a.varlen) {
            batch_row = 0;
            begin = a.cu_seqlens_i64 ? static_cast<const std::int64_t*>(a.cu_seqlens)[row]
                                     : static_cast<const std::int32_t*>(a.cu_seqlens)[row];
            end = a.cu_seqlens_i64 ? static_cast<const std::int64_t*>(a.cu_seqlens)[row + 1]
                                   : static_cast<const std::int32_t*>(a.cu_seqlens)[row + 1];
            GDR_MUTANT_ONLY(varlen_end_off_by_one, end += 1);
        }
        if (end <= begin) continue;  // a row with no tokens writes nothing

        const std::int64_t n = GDR_MUTATE(state_indices_ignored, row, a.state_indices ? a.state_indices[row] : row);
        const std::int32_t cache_seqlen = a.cache_seqlens ? a.cache_seqlens[row] : 0;
        const bool active = n >= 0 && GDR_MUTATE(index_equal_n_active, n <= a.N, n < a.N) &&
                            GDR_MUTATE(negative_seqlen_active, true, cache_seqlen >= 0);

        In* o = static_cast<In*>(a.o);
        if (!active) {  // exact zeros, and no bank element read or written
            for (std::int64_t token = begin; token < end; ++token)
#pragma unroll
                for (int c = 0; c < kColumnsPerWarp; ++c) {
                    const std::int64_t v = column0 + warp * kColumnsPerWarp + c;
                    GDR_UNLESS_MUTANT(inactive_row_output_unwritten,
                        if (lane == 0 && v < a.V) o[offset3(a.o_stride, batch_row, token, hv) + v] = from_float<In>(0.0f));
                }
            GDR_MUTANT_ONLY(inactive_row_writes_state,  // a zero state into slot 0 of a valid entry
                            if (n >= 0 && n < a.N && a.output_final_state) StateTile<St, KPT>{}.store(
                                a, static_cast<St*>(a.state) + (n * a.slots * a.value_heads + hv) * a.K * a.V, column0, staging));
            continue;
        }

        const bool circular = a.cache_seqlens != nullptr;
        const std::int64_t read_slot = circular ? circular_read_slot(a, cache_seqlen) : 0;
        const std::int64_t matrix_elements = a.K * a.V;
        St* bank = static_cast<St*>(a.state);
        const auto matrix = [&](std::int64_t slot) {  // 64-bit: banks exceed 2^31 elements
            return bank + bank_offset(a, ((n * a.slots + slot) * a.value_heads + hv) * matrix_elements);
        };
        const std::int64_t head = GDR_MUTATE(head_mapping_modulo, hv % (a.value_heads / a.group), hv / a.group);

        StateTile<St, KPT> state;
        state.load(a, matrix(read_slot), column0, staging);

        for (std::int64_t t = 0; t < end - begin; ++t) {
            const std::int64_t token = begin + t;
            const float alpha = a.g ? decay_of(a, load_gate<In>(a.g, a.gate_dtype, offset3(a.g_stride, batch_row, token, hv))) : 1.0f;
            const float beta = GDR_MUTATE(beta_ignored_without_g, a.beta && a.g, a.beta != nullptr)
                                   ? load_gate<In>(a.beta, a.gate_dtype, offset3(a.beta_stride, batch_row, token, hv))
                                   : 1.0f;
            float q[KPT], k[KPT];
            load_key_vector<In, KPT>(a, a.q, a.q_stride, batch_row, token, head, q);
            load_key_vector<In, KPT>(a, a.k, a.k_stride, batch_row, token, head, k);
#pragma unroll
            for (int j = 0; j < KPT; ++j) {
                GDR_UNLESS_MUTANT(scale_applied_to_k, q[j] *= a.scale);
                GDR_MUTANT_ONLY(scale_applied_to_k, k[j] *= a.scale);
            }

            const std::int64_t value_head = GDR_MUTATE(v_read_at_key_head, head, hv);
            const In* v_row = static_cast<const In*>(a.v) + offset3(a.v_stride, batch_row, token, value_head);
            In* o_row = o + offset3(a.o_stride, batch_row, token, value_head);
#pragma unroll
            for (int c = 0; c < kColumnsPerWarp; ++c) {
                const std::int64_t v = column0 + warp * kColumnsPerWarp + c;
                const float value = v < a.V ? to_float(v_row[v]) : 0.0f;
                float hk = 0.0f;
#pragma unroll
                for (int j = 0; j < KPT; ++j) {
                    GDR_UNLESS_MUTANT(decay_after_delta, state.h[c][j] *= alpha);  // h = alpha h
                    hk += state.h[c][j] * k[j];
                }
                const float u = beta * (value - GDR_MUTATE(reduction_over_half_warp, warp_sum<16>(hk), warp_sum(hk)));  // u = beta (v - h^T k)
                float out = 0.0f;
#pragma unroll
                for (int j = 0; j < KPT; ++j) {
                    GDR_MUTANT_ONLY(output_before_update, out += state.h[c][j] * q[j]);
                    state.h[c][j] += k[j] * u;  // h += k u^T
                    GDR_MUTANT_ONLY(decay_after_delta, state.h[c][j] *= alpha);
                    GDR_UNLESS_MUTANT(output_before_update, out += state.h[c][j] * q[j]);
                }
                out = GDR_MUTATE(reduction_over_half_warp, warp_sum<16>(out), warp_sum(out));  // o = h^T q, from the updated h
                GDR_MUTANT_ONLY(output_rounded_through_state_dtype, out = to_float(from_float<St>(out)));
                if (lane == 0 && v < a.V) o_row[v] = from_float<In>(out);
            }

            if (circular && a.output_final_state) {
                state.store(a, matrix(circular_write_slot(a, read_slot, t)), column0, staging);
                if (GDR_MUTATE(round_trip_after_last_token, true, t < end - begin - 1) && !std::is_same_v<St, float>)
                    GDR_UNLESS_MUTANT(missing_cache_round_trip, state.round_trip());
            }
            GDR_MUTANT_ONLY(round_trip_in_non_circular_mode,
                            if (!circular && t < end - begin - 1 && !std::is_same_v<St, float>) state.round_trip());
        }
        if (!circular && a.output_final_state) state.store(a, matrix(0), column0, staging);
    }
}

template <class In, class St, int KPT>
void launch(const DecodeArgs& a, cudaStream_t stream) {
    const std::int64_t items = a.rows * a.value_heads * tile_count(a);
    // The kernel loops over the rest.
    const std::int64_t max_blocks = GDR_MUTATE(grid_clamp_without_stride_loop, 65535, std::int64_t(1) << 24);
    const unsigned blocks = static_cast<unsigned>(std::min(items, max_blocks));
    const std::size_t shared = a.layout_kv ? std::size_t(a.K) * kTilePitch * sizeof(float) : 0;
    decode_kernel<In, St, KPT><<<blocks, kThreads, shared, stream>>>(a);
    check(cudaGetLastError(), "fused_recurrent_decode launch");
}

template <class In, class St>
void dispatch_key_dim(const DecodeArgs& args, cudaStream_t stream) {
    if (args.K <= 32) return launch<In, St, 1>(args, stream);
    if (args.K <= 64) return launch<In, St, 2>(args, stream);
    if (args.K <= 128) return launch<In, St, 4>(args, stream);
    return launch<In, St, 8>(args, stream);
}

template <class In>
void dispatch_state(const DecodeArgs& args, DType state_dtype, cudaStream_t stream) {
    switch (state_dtype) {
    case DType::f32: return dispatch_key_dim<In, float>(args, stream);
    case DType::f16: return dispatch_key_dim<In, __half>(args, stream);
    case DType::bf16: return dispatch_key_dim<In, __nv_bfloat16>(args, stream);
    case DType::f64: break;
    }
    throw NotSupported("fused_recurrent_decode: state dtype f64 is not a kernel dtype");
}

#ifdef GDR_MUTANTS
// The strides of a dense tensor of this shape (dimensions 0..2).
void dense_strides(std::int64_t (&out)[3], const std::array<std::int64_t, 4>& shape) {
    out[2] = shape[3];
    out[1] = shape[2] * out[2];
    out[0] = shape[1] * out[1];
}
#endif

void copy_strides(std::int64_t (&out)[3], const TensorArg& tensor) {
    for (int d = 0; d < 3; ++d) out[d] = tensor.stride[d];
}

}  // namespace

#ifndef GDR_MUTANTS  // the mutant build shares gdr::cuda::unsupported_reason
std::optional<std::string> unsupported_reason(const Problem& problem) {
    if (problem.key_dim > kMaxKeyDim)
        return "fused_recurrent_decode supports K <= " + std::to_string(kMaxKeyDim) + ", got K = " +
               std::to_string(problem.key_dim);
    if (problem.state_storage == DType::f64 || problem.o.dtype == DType::f64)
        return std::string("fused_recurrent_decode stores no f64 (an oracle-only storage type)");
    return std::nullopt;
}
#endif

#ifdef GDR_MUTANTS
void fused_recurrent_decode(const Problem& problem, Mutant mutant, cudaStream_t stream) {
#else
void fused_recurrent_decode(const Problem& problem, cudaStream_t stream) {
#endif
    validate(problem, ValidateOptions{/*arrays_on_host=*/false, /*allow_f64_storage=*/false});
    if (const auto reason = unsupported_reason(problem)) throw NotSupported(*reason);
    if (problem.rows() == 0 || problem.batch == 0 || problem.seq_len == 0) return;  // nothing to do

    DecodeArgs a{};
#ifdef GDR_MUTANTS
    a.mutant = mutant;
#endif
    a.q = problem.q.data;
    a.k = problem.k.data;
    a.v = problem.v.data;
    a.o = problem.o.data;
    a.g = problem.g.data;
    a.beta = problem.beta.data;
    a.state = problem.state;
    a.state_indices = problem.state_indices;
    a.cache_seqlens = problem.cache_seqlens;
    a.cu_seqlens = problem.cu_seqlens;
    a.cu_seqlens_i64 = problem.cu_seqlens_type == IndexType::i64;
    copy_strides(a.q_stride, problem.q);
    copy_strides(a.k_stride, problem.k);
    copy_strides(a.v_stride, problem.v);
    copy_strides(a.o_stride, problem.o);
    copy_strides(a.g_stride, problem.g);
    copy_strides(a.beta_stride, problem.beta);
    GDR_MUTANT_ONLY(strides_read_as_contiguous, dense_strides(a.q_stride, problem.qk_shape()); dense_strides(a.k_stride, problem.qk_shape());
                    dense_strides(a.v_stride, problem.vo_shape()); dense_strides(a.o_stride, problem.vo_shape()));
    a.rows = problem.rows();
    a.seq_len = problem.seq_len;
    a.value_heads = problem.num_value_heads;
    a.group = problem.num_value_heads / problem.num_heads;
    a.K = problem.key_dim;
    a.V = problem.value_dim;
    a.N = problem.bank_entries();
    a.slots = problem.slots();
    a.gate_dtype = GDR_MUTATE(gates_read_as_f32, DType::f32, problem.gate_dtype);
    a.l2norm = GDR_MUTATE(l2norm_always_on, true, problem.use_qk_l2norm);
    a.output_final_state = GDR_MUTATE(final_state_written_when_disabled, true, problem.output_final_state);
    a.varlen = problem.varlen();
    a.layout_kv = GDR_MUTATE(layout_flag_inverted, problem.layout != Layout::KV, problem.layout == Layout::KV);
    a.scale = static_cast<float>(problem.effective_scale());

    switch (problem.input_dtype) {
    case DType::f32: return dispatch_state<float>(a, problem.state_dtype, stream);
    case DType::f16: return dispatch_state<__half>(a, problem.state_dtype, stream);
    case DType::bf16: return dispatch_state<__nv_bfloat16>(a, problem.state_dtype, stream);
    case DType::f64: break;
    }
    throw NotSupported("fused_recurrent_decode: input dtype f64 is not a kernel dtype");
}

}  // namespace gdr::cuda (gdr::cuda::mutants in the mutant build)
