// A benchmark's gdr::Problem: sizes, dtypes and the bank it names, and its token tensors
// (q, k, v, o, g, beta) taken from an arena, contiguous, filled with random values.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "gdr/core/dtype.hpp"
#include "gdr/core/problem.hpp"
#include "device_arena.hpp"
#include "device_fill.cuh"

namespace gdr::bench {

struct HeadShape {
    std::int64_t H, HV, K, V;  // q/k heads, value heads, key and value sizes
};

// Uniform ranges of the token tensors (o is pre-filled with v's, so no write shows as zeros).
struct ValueRanges {
    float qk_lo, qk_hi, v_lo, v_hi, g_lo, g_hi, beta_lo, beta_hi;
};

// batch x seq_len tokens over a bank of `entries` x `slots` state matrices at `bank`;
// l2norm and the final state on. Token tensors, indices and cu_seqlens are the caller's.
inline Problem bank_problem(const HeadShape& s, std::int64_t batch, std::int64_t seq_len, Layout layout, DType input,
                            DType gate, DType state, void* bank, std::int64_t entries, std::int64_t slots) {
    Problem p;
    p.batch = batch;
    p.seq_len = seq_len;
    p.num_heads = s.H;
    p.num_value_heads = s.HV;
    p.key_dim = s.K;
    p.value_dim = s.V;
    p.layout = layout;
    p.input_dtype = input;
    p.gate_dtype = gate;
    p.state_dtype = state;
    p.state_storage = state;
    p.state = bank;
    const bool kv = layout == Layout::KV;
    p.state_shape = {entries, slots, s.HV, kv ? s.K : s.V, kv ? s.V : s.K};
    p.use_qk_l2norm = true;
    p.output_final_state = true;
    return p;
}

// q, k: [B, T, H, K]; v, o: [B, T, HV, V]; g, beta: [B, T, HV], contiguous, from `arena`,
// filled on `stream`, one seed from `rng` each.
template <class Rng>
void take_token_tensors(Problem& p, Arena& arena, const ValueRanges& r, Rng& rng, cudaStream_t stream) {
    const std::int64_t T = p.seq_len, H = p.num_heads, HV = p.num_value_heads, K = p.key_dim, V = p.value_dim;
    const auto take = [&](std::int64_t per_token, std::int64_t row, std::int64_t inner, DType dtype, float lo, float hi) {
        const std::int64_t n = p.batch * T * per_token;
        void* data = arena.take(n * dtype_size(dtype));
        fill_uniform(data, dtype, n, lo, hi, rng(), stream);
        return TensorArg{data, dtype, {T * per_token, row, inner, 1}};
    };
    p.q = take(H * K, H * K, K, p.input_dtype, r.qk_lo, r.qk_hi);
    p.k = take(H * K, H * K, K, p.input_dtype, r.qk_lo, r.qk_hi);
    p.v = take(HV * V, HV * V, V, p.input_dtype, r.v_lo, r.v_hi);
    p.o = take(HV * V, HV * V, V, p.input_dtype, r.v_lo, r.v_hi);
    p.g = take(HV, HV, 1, p.gate_dtype, r.g_lo, r.g_hi);
    p.beta = take(HV, HV, 1, p.gate_dtype, r.beta_lo, r.beta_hi);
}

}  // namespace gdr::bench
