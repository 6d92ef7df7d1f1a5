// ProblemArgs: what every kernel family reads of a gdr::Problem, by value (a kernel
// parameter holds it): the pointers, the strides of dimensions 0..2, the sizes and the
// flags. problem_args fills it on the host; row_tokens finds a row's tokens on the device.
// Each family's own parameter (DecodeArgs, ChunkArgs) extends it.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "gdr/core/dtype.hpp"
#include "gdr/core/problem.hpp"

namespace gdr::cuda {

struct ProblemArgs {
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

inline void copy_strides(std::int64_t (&out)[3], const TensorArg& tensor) {
    for (int d = 0; d < 3; ++d) out[d] = tensor.stride[d];
}

// The arguments of a valid problem (validate() has run).
inline ProblemArgs problem_args(const Problem& problem) {
    ProblemArgs a{};
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
    a.rows = problem.rows();
    a.seq_len = problem.seq_len;
    a.value_heads = problem.num_value_heads;
    a.group = problem.num_value_heads / problem.num_heads;
    a.K = problem.key_dim;
    a.V = problem.value_dim;
    a.N = problem.bank_entries();
    a.slots = problem.slots();
    a.gate_dtype = problem.gate_dtype;
    a.l2norm = problem.use_qk_l2norm;
    a.output_final_state = problem.output_final_state;
    a.varlen = problem.varlen();
    a.layout_kv = problem.layout == Layout::KV;
    a.scale = static_cast<float>(problem.effective_scale());
    return a;
}

// A row's tokens along the T axis of its batch row: fixed-length, row b's 0..T-1 of batch
// row b; varlen, cu_seqlens[r] .. cu_seqlens[r + 1] - 1 of batch row 0.
struct RowTokenRange {
    std::int64_t batch_row, begin, end;
};
__device__ __forceinline__ RowTokenRange row_token_range(const ProblemArgs& a, std::int64_t row) {
    if (!a.varlen) return {row, 0, a.seq_len};
    if (a.cu_seqlens_i64) {
        const auto* cu = static_cast<const std::int64_t*>(a.cu_seqlens);
        return {0, cu[row], cu[row + 1]};
    }
    const auto* cu = static_cast<const std::int32_t*>(a.cu_seqlens);
    return {0, cu[row], cu[row + 1]};
}

}  // namespace gdr::cuda
