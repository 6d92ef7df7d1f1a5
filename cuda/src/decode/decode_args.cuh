// DecodeArgs: everything the decode kernel reads of a gdr::Problem, by value, as its one
// parameter. make_args (decode.cu) fills it on the host; every device function takes it as
// `a`, which is also where the mutant build's hooks find the mutant id.
#pragma once

#include <cstdint>

#include "gdr/core/dtype.hpp"
#include "mutation_hooks.cuh"

namespace GDR_DECODE_NAMESPACE {
namespace {

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
    bool state_vector_access;   // the state's contiguous dimension is a multiple of kVec and the bank is aligned
    bool inputs_vector_access;  // q, k, v, o and their strides are aligned to kVec elements
    float scale;
#ifdef GDR_MUTANTS
    Mutant mutant;
#endif
};

}  // namespace
}  // namespace GDR_DECODE_NAMESPACE
