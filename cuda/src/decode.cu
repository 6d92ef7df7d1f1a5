// The fused recurrent decode kernel. One block of 4 warps owns one (row, value head,
// tile of 16 value columns); each warp owns 4 columns, and lane l holds h[k][v] for
// k = l, l + 32, l + 64, ... of each, in registers, for all tokens of the row: the state is
// read once and written once per written slot. Columns of h are independent, so the two
// K-sums per column and token are warp reductions, with no shared memory and no block
// barrier; layout KV (v contiguous) is staged through shared memory at load and store
// only, so that both layouts read and write the bank coalesced.
#include "gdr/cuda/decode.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "gdr/core/errors.hpp"
#include "gdr/cuda/device.hpp"

namespace gdr::cuda {

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

__device__ __forceinline__ float warp_sum(float x) {
    for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
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

template <class St, int KPT>
struct StateTile {
    float h[kColumnsPerWarp][KPT];

    // S[n, slot, hv] as a K x V matrix; `column0` is the block's first value column.
    __device__ void load(const DecodeArgs& a, const St* matrix, std::int64_t column0, float* staging) {
        if (a.layout_kv) {  // rows into shared memory, then columns into registers
            for_each_staged(a.K, [&](int k, int column) {
                const std::int64_t v = column0 + column;
                staging[k * kTilePitch + column] = v < a.V ? to_float(matrix[k * a.V + v]) : 0.0f;
            });
            __syncthreads();
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
                if (v < a.V) matrix[k * a.V + v] = from_float<St>(staging[k * kTilePitch + column]);
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
        x[j] = k < a.K ? to_float(row[k]) : 0.0f;
        squares += x[j] * x[j];
    }
    if (a.l2norm) {
        const float norm = sqrtf(warp_sum(squares) + 1e-6f);
#pragma unroll
        for (int j = 0; j < KPT; ++j) x[j] /= norm;
    }
}

template <class In, class St, int KPT>
__global__ void __launch_bounds__(kThreads) decode_kernel(const DecodeArgs a) {
    extern __shared__ float staging[];  // layout KV only: [K][kTilePitch]
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const std::int64_t tiles = (a.V + kTileColumns - 1) / kTileColumns;
    const std::int64_t items = a.rows * a.value_heads * tiles;

    // A grid-stride loop keeps the launch legal for any B x HV; every branch below is
    // uniform across the block (one item per block), so the barriers in load/store are safe.
    for (std::int64_t item = blockIdx.x; item < items; item += gridDim.x) {
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
        }
        if (end <= begin) continue;  // a row with no tokens writes nothing

        const std::int64_t n = a.state_indices ? a.state_indices[row] : row;
        const std::int32_t cache_seqlen = a.cache_seqlens ? a.cache_seqlens[row] : 0;
        const bool active = n >= 0 && n < a.N && cache_seqlen >= 0;

        In* o = static_cast<In*>(a.o);
        if (!active) {  // exact zeros, and no bank element read or written
            for (std::int64_t token = begin; token < end; ++token)
#pragma unroll
                for (int c = 0; c < kColumnsPerWarp; ++c) {
                    const std::int64_t v = column0 + warp * kColumnsPerWarp + c;
                    if (lane == 0 && v < a.V) o[offset3(a.o_stride, batch_row, token, hv) + v] = from_float<In>(0.0f);
                }
            continue;
        }

        const bool circular = a.cache_seqlens != nullptr;
        const std::int64_t read_slot = circular ? cache_seqlen % a.slots : 0;
        const std::int64_t matrix_elements = a.K * a.V;
        St* bank = static_cast<St*>(a.state);
        const auto matrix = [&](std::int64_t slot) {  // 64-bit: banks exceed 2^31 elements
            return bank + ((n * a.slots + slot) * a.value_heads + hv) * matrix_elements;
        };
        const std::int64_t head = hv / a.group;

        StateTile<St, KPT> state;
        state.load(a, matrix(read_slot), column0, staging);

        for (std::int64_t t = 0; t < end - begin; ++t) {
            const std::int64_t token = begin + t;
            const float alpha = a.g ? expf(load_gate<In>(a.g, a.gate_dtype, offset3(a.g_stride, batch_row, token, hv))) : 1.0f;
            const float beta = a.beta ? load_gate<In>(a.beta, a.gate_dtype, offset3(a.beta_stride, batch_row, token, hv)) : 1.0f;
            float q[KPT], k[KPT];
            load_key_vector<In, KPT>(a, a.q, a.q_stride, batch_row, token, head, q);
            load_key_vector<In, KPT>(a, a.k, a.k_stride, batch_row, token, head, k);
#pragma unroll
            for (int j = 0; j < KPT; ++j) q[j] *= a.scale;

            const In* v_row = static_cast<const In*>(a.v) + offset3(a.v_stride, batch_row, token, hv);
            In* o_row = o + offset3(a.o_stride, batch_row, token, hv);
#pragma unroll
            for (int c = 0; c < kColumnsPerWarp; ++c) {
                const std::int64_t v = column0 + warp * kColumnsPerWarp + c;
                const float value = v < a.V ? to_float(v_row[v]) : 0.0f;
                float hk = 0.0f;
#pragma unroll
                for (int j = 0; j < KPT; ++j) {
                    state.h[c][j] *= alpha;  // h = alpha h
                    hk += state.h[c][j] * k[j];
                }
                const float u = beta * (value - warp_sum(hk));  // u = beta (v - h^T k)
                float out = 0.0f;
#pragma unroll
                for (int j = 0; j < KPT; ++j) {
                    state.h[c][j] += k[j] * u;  // h += k u^T
                    out += state.h[c][j] * q[j];
                }
                out = warp_sum(out);  // o = h^T q, from the updated h
                if (lane == 0 && v < a.V) o_row[v] = from_float<In>(out);
            }

            if (circular && a.output_final_state) {
                state.store(a, matrix((read_slot + 1 + t) % a.slots), column0, staging);
                if (t < end - begin - 1 && !std::is_same_v<St, float>) state.round_trip();
            }
        }
        if (!circular && a.output_final_state) state.store(a, matrix(0), column0, staging);
    }
}

template <class In, class St, int KPT>
void launch(const DecodeArgs& args, cudaStream_t stream) {
    const std::int64_t tiles = (args.V + kTileColumns - 1) / kTileColumns;
    const std::int64_t items = args.rows * args.value_heads * tiles;
    constexpr std::int64_t max_blocks = std::int64_t(1) << 24;  // the kernel loops over the rest
    const unsigned blocks = static_cast<unsigned>(std::min(items, max_blocks));
    const std::size_t shared = args.layout_kv ? std::size_t(args.K) * kTilePitch * sizeof(float) : 0;
    decode_kernel<In, St, KPT><<<blocks, kThreads, shared, stream>>>(args);
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

void copy_strides(std::int64_t (&out)[3], const TensorArg& tensor) {
    for (int d = 0; d < 3; ++d) out[d] = tensor.stride[d];
}

}  // namespace

std::optional<std::string> unsupported_reason(const Problem& problem) {
    if (problem.key_dim > kMaxKeyDim)
        return "fused_recurrent_decode supports K <= " + std::to_string(kMaxKeyDim) + ", got K = " +
               std::to_string(problem.key_dim);
    if (problem.state_storage == DType::f64 || problem.o.dtype == DType::f64)
        return std::string("fused_recurrent_decode stores no f64 (an oracle-only storage type)");
    return std::nullopt;
}

void fused_recurrent_decode(const Problem& problem, cudaStream_t stream) {
    validate(problem, ValidateOptions{/*arrays_on_host=*/false, /*allow_f64_storage=*/false});
    if (const auto reason = unsupported_reason(problem)) throw NotSupported(*reason);
    if (problem.rows() == 0 || problem.batch == 0 || problem.seq_len == 0) return;  // nothing to do

    DecodeArgs args{};
    args.q = problem.q.data;
    args.k = problem.k.data;
    args.v = problem.v.data;
    args.o = problem.o.data;
    args.g = problem.g.data;
    args.beta = problem.beta.data;
    args.state = problem.state;
    args.state_indices = problem.state_indices;
    args.cache_seqlens = problem.cache_seqlens;
    args.cu_seqlens = problem.cu_seqlens;
    args.cu_seqlens_i64 = problem.cu_seqlens_type == IndexType::i64;
    copy_strides(args.q_stride, problem.q);
    copy_strides(args.k_stride, problem.k);
    copy_strides(args.v_stride, problem.v);
    copy_strides(args.o_stride, problem.o);
    copy_strides(args.g_stride, problem.g);
    copy_strides(args.beta_stride, problem.beta);
    args.rows = problem.rows();
    args.seq_len = problem.seq_len;
    args.value_heads = problem.num_value_heads;
    args.group = problem.num_value_heads / problem.num_heads;
    args.K = problem.key_dim;
    args.V = problem.value_dim;
    args.N = problem.bank_entries();
    args.slots = problem.slots();
    args.gate_dtype = problem.gate_dtype;
    args.l2norm = problem.use_qk_l2norm;
    args.output_final_state = problem.output_final_state;
    args.varlen = problem.varlen();
    args.layout_kv = problem.layout == Layout::KV;
    args.scale = static_cast<float>(problem.effective_scale());

    switch (problem.input_dtype) {
    case DType::f32: return dispatch_state<float>(args, problem.state_dtype, stream);
    case DType::f16: return dispatch_state<__half>(args, problem.state_dtype, stream);
    case DType::bf16: return dispatch_state<__nv_bfloat16>(args, problem.state_dtype, stream);
    case DType::f64: break;
    }
    throw NotSupported("fused_recurrent_decode: input dtype f64 is not a kernel dtype");
}

}  // namespace gdr::cuda
