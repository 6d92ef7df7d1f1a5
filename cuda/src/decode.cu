// The fused recurrent decode kernel. One block of 4 warps owns one (row, value head, tile
// of 32 value columns) and keeps that K x 32 slice of the state in registers for all the
// row's tokens: the state is read once and written once per written slot. Each thread
// holds 4 x 4 sub-tiles (4 consecutive k by 4 consecutive v), so that in either layout one
// thread moves 4 contiguous elements per access (16 B for f32, 8 B for 16-bit states) and
// the warp's accesses fill whole sectors. Lanes split a warp 8 along v by 4 along k; the
// warps split K. The two K-sums per column and token are in-thread sums, two shuffles
// and one shared-memory step across the warps.
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
#include <cstdint>
#include <limits>
#include <type_traits>

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
constexpr int kVec = 4;                        // a thread's sub-tile is kVec x kVec; one access moves kVec elements
constexpr int kLanesV = 8;                     // lanes of a warp along v
constexpr int kLanesK = 32 / kLanesV;          // lanes of a warp along k
constexpr int kTileColumns = kLanesV * kVec;   // value columns per block
constexpr int kRowsPerGroup = kWarps * kLanesK * kVec;  // k rows the block covers per sub-tile group

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
    bool state_vector_access;  // the contiguous dimension is a multiple of kVec and the bank is aligned for it
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

// kVec contiguous state elements as one access: 16 B for f32, 8 B for 16-bit states. The
// state is streamed (read once, written once), so the accesses are marked evict-first.
template <class St>
struct StateVector;
template <>
struct StateVector<float> {
    static __device__ __forceinline__ void load(const float* p, float (&x)[kVec]) {
        const float4 r = __ldcs(reinterpret_cast<const float4*>(p));
        x[0] = r.x, x[1] = r.y, x[2] = r.z, x[3] = r.w;
    }
    static __device__ __forceinline__ void store(float* p, const float (&x)[kVec]) {
        __stcs(reinterpret_cast<float4*>(p), make_float4(x[0], x[1], x[2], x[3]));
    }
};
template <class Pair, Pair (*Pack)(float2), float2 (*Unpack)(Pair)>
struct PairedStateVector {  // f16 / bf16: two packed pairs in 8 bytes
    template <class St>
    static __device__ __forceinline__ void load(const St* p, float (&x)[kVec]) {
        const uint2 r = __ldcs(reinterpret_cast<const uint2*>(p));
        const float2 lo = Unpack(*reinterpret_cast<const Pair*>(&r.x)), hi = Unpack(*reinterpret_cast<const Pair*>(&r.y));
        x[0] = lo.x, x[1] = lo.y, x[2] = hi.x, x[3] = hi.y;
    }
    template <class St>
    static __device__ __forceinline__ void store(St* p, const float (&x)[kVec]) {
        const Pair lo = Pack(make_float2(x[0], x[1])), hi = Pack(make_float2(x[2], x[3]));
        __stcs(reinterpret_cast<uint2*>(p), make_uint2(*reinterpret_cast<const unsigned*>(&lo), *reinterpret_cast<const unsigned*>(&hi)));
    }
};
__device__ __forceinline__ __half2 pack_half2(float2 x) { return __float22half2_rn(x); }
__device__ __forceinline__ float2 unpack_half2(__half2 x) { return __half22float2(x); }
__device__ __forceinline__ __nv_bfloat162 pack_bfloat162(float2 x) { return __float22bfloat162_rn(x); }
__device__ __forceinline__ float2 unpack_bfloat162(__nv_bfloat162 x) { return __bfloat1622float2(x); }
template <>
struct StateVector<__half> : PairedStateVector<__half2, pack_half2, unpack_half2> {};
template <>
struct StateVector<__nv_bfloat16> : PairedStateVector<__nv_bfloat162, pack_bfloat162, unpack_bfloat162> {};

// The first `valid` (0..kVec) of kVec contiguous elements, one access where the bank allows.
template <class St>
__device__ __forceinline__ void load_vector(const St* p, int valid, bool vector_access, float (&x)[kVec]) {
    if (vector_access && valid == kVec) return StateVector<St>::load(p, x);
#pragma unroll
    for (int e = 0; e < kVec; ++e) x[e] = e < valid ? to_float(p[e]) : 0.0f;
}
template <class St>
__device__ __forceinline__ void store_vector(St* p, int valid, bool vector_access, const float (&x)[kVec]) {
    if (vector_access && valid == kVec) return StateVector<St>::store(p, x);
#pragma unroll
    for (int e = 0; e < kVec; ++e)
        if (e < valid) p[e] = from_float<St>(x[e]);
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

// Where this thread sits: lane_v along v, lane_k along k (lane = lane_k * kLanesV + lane_v).
__device__ __forceinline__ int lane_v() { return threadIdx.x % kLanesV; }
__device__ __forceinline__ int lane_k() { return (threadIdx.x % 32) / kLanesV; }
__device__ __forceinline__ int warp_id() { return threadIdx.x / 32; }
// The first tile column, and the first k row of sub-tile group j, that this thread holds.
__device__ __forceinline__ int first_column() { return lane_v() * kVec; }
__device__ __forceinline__ int first_row(int j) { return ((j * kWarps + warp_id()) * kLanesK + lane_k()) * kVec; }

// The number of elements from `start` (up to kVec) that lie inside [0, extent).
__device__ __forceinline__ int valid_from(int start, int extent) { return max(0, min(kVec, extent - start)); }

// Calls fn(j, i, offset, valid, KV) for this thread's accesses of a K x V matrix, where
// KV is the layout as a compile-time constant and offset is relative to the matrix. Layout
// VK ([v][k]): access i of group j holds column i, rows first_row(j) ..+kVec. Layout KV
// ([k][v]): row i, columns ..+kVec. Offsets are 32-bit: a matrix has < 2^31 elements
// (unsupported_reason), and the first one is 64-bit in the caller.
template <class Fn>
__device__ __forceinline__ void for_each_access(const DecodeArgs& a, int column0, int groups, Fn&& fn) {
    const int K = static_cast<int>(a.K), V = static_cast<int>(a.V);
    const int v0 = column0 + first_column();
    const auto walk = [&](auto layout_kv) {
        constexpr bool KV = decltype(layout_kv)::value;
        const int pitch = KV ? GDR_MUTATE(kv_row_pitch_uses_key_dim, K, V) : K;
#pragma unroll
        for (int j = 0; j < groups; ++j) {
            const int k0 = first_row(j);
#pragma unroll
            for (int i = 0; i < kVec; ++i) {
                if constexpr (KV) fn(j, i, (k0 + i) * pitch + v0, k0 + i < K ? valid_from(v0, V) : 0, layout_kv);
                else fn(j, i, (v0 + i) * pitch + k0, v0 + i < V ? valid_from(k0, K) : 0, layout_kv);
            }
        }
    };
    if (a.layout_kv) walk(std::true_type{});
    else walk(std::false_type{});
}

template <class St, int J>
struct StateTile {
    float h[J][kVec][kVec];  // h[j][r][c] = S[first_row(j) + r][column0 + first_column() + c]

    // Element e of access (j, i) in for_each_access.
    template <bool KV>
    __device__ __forceinline__ float& element(int j, int i, int e) { return KV ? h[j][i][e] : h[j][e][i]; }

    // S[n, slot, hv] as a K x V matrix; `column0` is the block's first value column.
    __device__ void load(const DecodeArgs& a, const St* matrix, int column0) {
        for_each_access(a, column0, J, [&](int j, int i, int offset, int valid, auto layout_kv) {
            float x[kVec];
            load_vector(matrix + offset, valid, a.state_vector_access, x);
#pragma unroll
            for (int e = 0; e < kVec; ++e) element<decltype(layout_kv)::value>(j, i, e) = x[e];
        });
    }

    // Stores h rounded once to the state dtype.
    __device__ void store(const DecodeArgs& a, St* matrix, int column0) {
        for_each_access(a, column0, J, [&](int j, int i, int offset, int valid, auto layout_kv) {
            float x[kVec];
#pragma unroll
            for (int e = 0; e < kVec; ++e) x[e] = element<decltype(layout_kv)::value>(j, i, e);
            store_vector(matrix + offset, valid, a.state_vector_access, x);
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

// The sum over the block's k rows of each of this thread's kVec columns: in-thread partial
// sums come in, the same column totals come out in every thread that holds the column.
// `partials` is [kWarps][kTileColumns] of shared memory, used by one sum at a time.
__device__ __forceinline__ void column_sums(const DecodeArgs& a, float (&x)[kVec], float* partials) {
#pragma unroll
    for (int c = 0; c < kVec; ++c) {
        x[c] += __shfl_xor_sync(0xffffffffu, x[c], kLanesV);  // lanes that share the column: lane_k 0..3
        GDR_UNLESS_MUTANT(reduction_over_half_warp, x[c] += __shfl_xor_sync(0xffffffffu, x[c], 2 * kLanesV));
    }
    if (lane_k() == 0)
        *reinterpret_cast<float4*>(partials + warp_id() * kTileColumns + first_column()) = make_float4(x[0], x[1], x[2], x[3]);
    GDR_UNLESS_MUTANT(cross_warp_sum_missing_barrier, __syncthreads());
    float4 total = *reinterpret_cast<const float4*>(partials + first_column());
#pragma unroll
    for (int w = 1; w < kWarps; ++w) {
        const float4 p = *reinterpret_cast<const float4*>(partials + w * kTileColumns + first_column());
        total.x += p.x, total.y += p.y, total.z += p.z, total.w += p.w;
    }
    x[0] = total.x, x[1] = total.y, x[2] = total.z, x[3] = total.w;
}

// One token's inputs, shared by the block. Each thread loads at most a few raw elements
// (load: loads only, so that they are in flight together and, for the first token,
// alongside the state's), publishes them to shared memory with each warp's share of |q|^2
// and |k|^2 (publish, then a block barrier), and takes its own rows and columns back with
// the l2 norms, exp(g) and the scale applied (gather). Shared memory is written only after
// the previous token's last barrier, when every thread has gathered.
template <class In, int J>
struct TokenInputs {
    static constexpr int kKeyRows = J * kRowsPerGroup;                       // K covered
    static constexpr int kKeysPerThread = (kKeyRows + kThreads - 1) / kThreads;
    struct Shared {
        float q[kKeyRows], k[kKeyRows], value[kTileColumns];
        float q_squares[kWarps], k_squares[kWarps];
    };
    float q_raw[kKeysPerThread], k_raw[kKeysPerThread], value_raw, g_raw, beta;

    __device__ void load(const DecodeArgs& a, std::int64_t batch_row, std::int64_t token, std::int64_t head,
                         std::int64_t hv, int column0) {
        g_raw = a.g ? load_gate<In>(a.g, a.gate_dtype, offset3(a.g_stride, batch_row, token, hv)) : 0.0f;
        beta = GDR_MUTATE(beta_ignored_without_g, a.beta && a.g, a.beta != nullptr)
                   ? load_gate<In>(a.beta, a.gate_dtype, offset3(a.beta_stride, batch_row, token, hv))
                   : 1.0f;
        const In* q_row = static_cast<const In*>(a.q) + offset3(a.q_stride, batch_row, token, head);
        const In* k_row = static_cast<const In*>(a.k) + offset3(a.k_stride, batch_row, token, head);
#pragma unroll
        for (int m = 0; m < kKeysPerThread; ++m) {
            const int k = threadIdx.x + kThreads * m;
            const bool inside = GDR_MUTATE(key_tail_unmasked, k < kKeyRows, k < a.K);
            q_raw[m] = inside ? to_float(q_row[k]) : 0.0f;
            k_raw[m] = inside ? to_float(k_row[k]) : 0.0f;
        }
        const std::int64_t value_head = GDR_MUTATE(v_read_at_key_head, head, hv);
        const In* v_row = static_cast<const In*>(a.v) + offset3(a.v_stride, batch_row, token, value_head);
        const int v = column0 + static_cast<int>(threadIdx.x);
        value_raw = threadIdx.x < kTileColumns && v < a.V ? to_float(v_row[v]) : 0.0f;
    }

    __device__ void publish(Shared& shared) const {
        float q_squares = 0.0f, k_squares = 0.0f;
#pragma unroll
        for (int m = 0; m < kKeysPerThread; ++m) {
            const int k = threadIdx.x + kThreads * m;
            if (k < kKeyRows) shared.q[k] = q_raw[m], shared.k[k] = k_raw[m];
            q_squares += q_raw[m] * q_raw[m];
            k_squares += k_raw[m] * k_raw[m];
        }
        if (threadIdx.x < kTileColumns) shared.value[threadIdx.x] = value_raw;
#pragma unroll
        for (int offset = 16; offset > 0; offset /= 2) {
            q_squares += __shfl_xor_sync(0xffffffffu, q_squares, offset);
            k_squares += __shfl_xor_sync(0xffffffffu, k_squares, offset);
        }
        if (threadIdx.x % 32 == 0) shared.q_squares[warp_id()] = q_squares, shared.k_squares[warp_id()] = k_squares;
    }

    // After the barrier: this thread's rows of q and k, its columns of v, alpha and beta.
    __device__ void gather(const DecodeArgs& a, const Shared& shared, float (&q)[J][kVec], float (&k)[J][kVec],
                           float (&value)[kVec], float& alpha) const {
#pragma unroll
        for (int j = 0; j < J; ++j) {
            const float4 qj = *reinterpret_cast<const float4*>(shared.q + first_row(j));
            const float4 kj = *reinterpret_cast<const float4*>(shared.k + first_row(j));
            q[j][0] = qj.x, q[j][1] = qj.y, q[j][2] = qj.z, q[j][3] = qj.w;
            k[j][0] = kj.x, k[j][1] = kj.y, k[j][2] = kj.z, k[j][3] = kj.w;
        }
        const float4 v = *reinterpret_cast<const float4*>(shared.value + first_column());
        value[0] = v.x, value[1] = v.y, value[2] = v.z, value[3] = v.w;
        alpha = a.g ? decay_of(a, g_raw) : 1.0f;
        if (a.l2norm) normalise(a, shared.q_squares, q);
        if (GDR_MUTATE(l2norm_skips_k, false, a.l2norm)) normalise(a, shared.k_squares, k);
#pragma unroll
        for (int j = 0; j < J; ++j)
#pragma unroll
            for (int r = 0; r < kVec; ++r) {
                GDR_UNLESS_MUTANT(scale_applied_to_k, q[j][r] *= a.scale);
                GDR_MUTANT_ONLY(scale_applied_to_k, k[j][r] *= a.scale);
            }
    }

private:
    __device__ static void normalise(const DecodeArgs& a, const float (&warp_squares)[kWarps], float (&x)[J][kVec]) {
        float squares = warp_squares[0];
#pragma unroll
        for (int w = 1; w < kWarps; ++w) squares += warp_squares[w];
        // x * (1 / norm) is within an ulp of x / norm, at one division instead of 4 J.
        const float inverse_norm = 1.0f / sqrtf(squares + GDR_MUTATE(l2norm_eps_dropped, 0.0f, 1e-6f));
#pragma unroll
        for (int j = 0; j < J; ++j)
#pragma unroll
            for (int r = 0; r < kVec; ++r) x[j][r] *= inverse_norm;
    }
};

// o of this thread's columns, written from the column sums by one thread per column.
template <class In>
__device__ __forceinline__ void store_columns(const DecodeArgs& a, In* row, int v0, const float (&x)[kVec]) {
    if (warp_id() != 0 || lane_k() != 0) return;  // one writer per column
#pragma unroll
    for (int c = 0; c < kVec; ++c)
        if (v0 + c < a.V) row[v0 + c] = from_float<In>(x[c]);
}

// At most 128 registers for K <= 128 (4 blocks per SM; ptxas would take up to ~170 and
// fit 3), and room for K <= 256's larger tile.
template <int J>
constexpr int kMinBlocksPerSM = J <= 2 ? 4 : 2;

template <class In, class St, int J>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSM<J>) decode_kernel(const DecodeArgs a) {
    __shared__ __align__(16) float hk_partials[kWarps * kTileColumns];
    __shared__ __align__(16) float out_partials[kWarps * kTileColumns];
    __shared__ __align__(16) typename TokenInputs<In, J>::Shared inputs;
    // blockIdx.x is the (value head, column tile) pair, blockIdx.y the row. A grid-stride
    // loop over rows keeps the launch legal for any B (gridDim.y <= 65535); every branch
    // below is uniform across the block, so the barriers in column_sums are safe.
    const unsigned tiles = static_cast<unsigned>(tile_count(a));
    const std::int64_t hv = blockIdx.x / tiles;
    const int column0 = static_cast<int>(blockIdx.x % tiles) * kTileColumns;
    const int v0 = column0 + first_column();  // this thread's first value column
    for (std::int64_t row = blockIdx.y; row < a.rows; row += GDR_MUTATE(grid_clamp_without_stride_loop, a.rows, gridDim.y)) {
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
            constexpr float zeros[kVec] = {};
            for (std::int64_t token = begin; token < end; ++token)
                GDR_UNLESS_MUTANT(inactive_row_output_unwritten,
                                  store_columns(a, o + offset3(a.o_stride, batch_row, token, hv), v0, zeros));
            GDR_MUTANT_ONLY(inactive_row_writes_state,  // a zero state into slot 0 of a valid entry
                            if (n >= 0 && n < a.N && a.output_final_state) StateTile<St, J>{}.store(
                                a, static_cast<St*>(a.state) + (n * a.slots * a.value_heads + hv) * a.K * a.V, column0));
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

        TokenInputs<In, J> in;
        in.load(a, batch_row, begin, head, hv, column0);  // first: in flight with the state's loads
        StateTile<St, J> state;
        state.load(a, matrix(read_slot), column0);
        const std::int64_t value_head = GDR_MUTATE(v_read_at_key_head, head, hv);

        for (std::int64_t t = 0; t < end - begin; ++t) {
            const std::int64_t token = begin + t;
            if (t > 0) in.load(a, batch_row, token, head, hv, column0);
            in.publish(inputs);
            __syncthreads();
            float q[J][kVec], k[J][kVec], value[kVec], alpha;
            in.gather(a, inputs, q, k, value, alpha);
            const float beta = in.beta;

            float hk[kVec] = {};  // h^T k per column, after the decay h = alpha h
#pragma unroll
            for (int j = 0; j < J; ++j)
#pragma unroll
                for (int r = 0; r < kVec; ++r)
#pragma unroll
                    for (int c = 0; c < kVec; ++c) {
                        GDR_UNLESS_MUTANT(decay_after_delta, state.h[j][r][c] *= alpha);
                        hk[c] += state.h[j][r][c] * k[j][r];
                    }
            column_sums(a, hk, hk_partials);

            float u[kVec], out[kVec] = {};
#pragma unroll
            for (int c = 0; c < kVec; ++c) u[c] = beta * (value[c] - hk[c]);  // u = beta (v - h^T k)
#pragma unroll
            for (int j = 0; j < J; ++j)
#pragma unroll
                for (int r = 0; r < kVec; ++r)
#pragma unroll
                    for (int c = 0; c < kVec; ++c) {
                        GDR_MUTANT_ONLY(output_before_update, out[c] += state.h[j][r][c] * q[j][r]);
                        state.h[j][r][c] += k[j][r] * u[c];  // h += k u^T
                        GDR_MUTANT_ONLY(decay_after_delta, state.h[j][r][c] *= alpha);
                        GDR_UNLESS_MUTANT(output_before_update, out[c] += state.h[j][r][c] * q[j][r]);
                    }
            column_sums(a, out, out_partials);  // o = h^T q, from the updated h
#pragma unroll
            for (int c = 0; c < kVec; ++c) GDR_MUTANT_ONLY(output_rounded_through_state_dtype, out[c] = to_float(from_float<St>(out[c])));
            store_columns(a, o + offset3(a.o_stride, batch_row, token, value_head), v0, out);

            if (circular && a.output_final_state) {
                state.store(a, matrix(circular_write_slot(a, read_slot, t)), column0);
                if (GDR_MUTATE(round_trip_after_last_token, true, t < end - begin - 1) && !std::is_same_v<St, float>)
                    GDR_UNLESS_MUTANT(missing_cache_round_trip, state.round_trip());
            }
            GDR_MUTANT_ONLY(round_trip_in_non_circular_mode,
                            if (!circular && t < end - begin - 1 && !std::is_same_v<St, float>) state.round_trip());
        }
        if (!circular && a.output_final_state) state.store(a, matrix(0), column0);
    }
}

template <class In, class St, int J>
void launch(const DecodeArgs& a, cudaStream_t stream) {
    const std::int64_t pairs = a.value_heads * tile_count(a);  // < 2^31 (unsupported_reason)
    if (pairs == 0) return;
    // The kernel loops over the rows beyond gridDim.y (the mutant clamps lower, so that a
    // test of a few thousand rows reaches the missing loop).
    const std::int64_t max_rows = GDR_MUTATE(grid_clamp_without_stride_loop, 2048, 65535);
    const dim3 blocks(static_cast<unsigned>(pairs), static_cast<unsigned>(std::min(a.rows, max_rows)));
    decode_kernel<In, St, J><<<blocks, kThreads, 0, stream>>>(a);
    check(cudaGetLastError(), "fused_recurrent_decode launch");
}

// J sub-tile groups per thread cover K <= J * kRowsPerGroup (64, 128 or 256 rows).
template <class In, class St>
void dispatch_key_dim(const DecodeArgs& args, cudaStream_t stream) {
    static_assert(kMaxKeyDim <= 4 * kRowsPerGroup);
    if (args.K <= kRowsPerGroup) return launch<In, St, 1>(args, stream);
    if (args.K <= 2 * kRowsPerGroup) return launch<In, St, 2>(args, stream);
    return launch<In, St, 4>(args, stream);
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
    if (problem.key_dim * problem.value_dim > std::numeric_limits<std::int32_t>::max())
        return "fused_recurrent_decode indexes within a state matrix in 32 bits: K x V must be < 2^31, got " +
               std::to_string(problem.key_dim * problem.value_dim);
    const std::int64_t column_tiles = (problem.value_dim + kTileColumns - 1) / kTileColumns;
    if (problem.num_value_heads * column_tiles > std::numeric_limits<std::int32_t>::max())
        return "fused_recurrent_decode launches one block per value head and 32 value columns: HV x ceil(V / 32) "
               "must be < 2^31, got " + std::to_string(problem.num_value_heads * column_tiles);
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
    // One access per kVec contiguous elements needs every matrix, row and column start
    // aligned to kVec elements: the contiguous dimension a multiple of kVec and the bank
    // aligned (a caller may pass any element-aligned pointer, e.g. an offset view).
    const std::int64_t contiguous_dim = a.layout_kv ? a.V : a.K;
    const std::size_t vector_bytes = kVec * dtype_size(problem.state_dtype);
    a.state_vector_access =
        contiguous_dim % kVec == 0 && reinterpret_cast<std::uintptr_t>(problem.state) % vector_bytes == 0;

    switch (problem.input_dtype) {
    case DType::f32: return dispatch_state<float>(a, problem.state_dtype, stream);
    case DType::f16: return dispatch_state<__half>(a, problem.state_dtype, stream);
    case DType::bf16: return dispatch_state<__nv_bfloat16>(a, problem.state_dtype, stream);
    case DType::f64: break;
    }
    throw NotSupported("fused_recurrent_decode: input dtype f64 is not a kernel dtype");
}

}  // namespace gdr::cuda (gdr::cuda::mutants in the mutant build)
