// The hand-built oracle case of the oracle tests: a fixed-length problem over raw byte
// buffers, with typed setters and getters per logical element (support/bytes.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "gdr/core/poison.hpp"
#include "gdr/core/problem.hpp"
#include "gdr/reference/fused_recurrent.hpp"
#include "support/bytes.hpp"

namespace gdr::testing {

// A fixed-length problem with contiguous f32 q, k, v, g, beta (g = 0, beta = 1), o of
// `o_dtype` filled with poison, and a bank [N, Slots, HV, ., .] of zeros.
struct Case {
    Problem p;
    std::vector<std::byte> q, k, v, g, beta, o, bank;
    DType o_dtype = DType::f32;
    std::vector<i64> indices;
    std::vector<std::int32_t> cache;

    Case(i64 B, i64 T, i64 H, i64 HV, i64 K, i64 V, Layout layout = Layout::KV, i64 slots = 1, i64 N = -1,
         DType state_dtype = DType::f32, DType state_storage = DType::f32, DType o_dtype_ = DType::f32)
        : o_dtype(o_dtype_) {
        p.batch = B, p.seq_len = T, p.num_heads = H, p.num_value_heads = HV, p.key_dim = K, p.value_dim = V;
        p.layout = layout;
        p.state_dtype = state_dtype, p.state_storage = state_storage;
        p.scale = 1.0;
        p.state_shape = {N < 0 ? B : N, slots, HV, layout == Layout::KV ? K : V, layout == Layout::KV ? V : K};
        q.resize(B * T * H * K * 4), k.resize(q.size()), v.resize(B * T * HV * V * 4);
        g.resize(B * T * HV * 4), beta.resize(g.size());
        for (i64 i = 0; i < B * T * HV; ++i) put(beta, DType::f32, i, 1.0);
        o.resize(B * T * HV * V * gdr::dtype_size(o_dtype));
        gdr::fill_poison(o.data(), o.size(), o_dtype);
        bank.resize(p.state_shape[0] * slots * HV * K * V * gdr::dtype_size(state_storage));
        p.q = {q.data(), DType::f32, {T * H * K, H * K, K, 1}};
        p.k = {k.data(), DType::f32, {T * H * K, H * K, K, 1}};
        p.v = {v.data(), DType::f32, {T * HV * V, HV * V, V, 1}};
        p.o = {o.data(), o_dtype, {T * HV * V, HV * V, V, 1}};
        p.g = {g.data(), DType::f32, {T * HV, HV, 1, 0}};
        p.beta = {beta.data(), DType::f32, {T * HV, HV, 1, 0}};
        p.state = bank.data();
    }

    i64 qk_index(i64 b, i64 t, i64 h, i64 i) const { return ((b * p.seq_len + t) * p.num_heads + h) * p.key_dim + i; }
    i64 vo_index(i64 b, i64 t, i64 hv, i64 i) const {
        return ((b * p.seq_len + t) * p.num_value_heads + hv) * p.value_dim + i;
    }
    i64 gate_index(i64 b, i64 t, i64 hv) const { return (b * p.seq_len + t) * p.num_value_heads + hv; }
    i64 state_index(i64 n, i64 slot, i64 hv, i64 kk, i64 vv) const {
        const i64 K = p.key_dim, V = p.value_dim;
        const i64 matrix = ((n * p.slots() + slot) * p.num_value_heads + hv) * K * V;
        return matrix + (p.layout == Layout::KV ? kk * V + vv : vv * K + kk);
    }

    void set_q(i64 b, i64 t, i64 h, std::vector<double> x) {
        for (i64 i = 0; i < i64(x.size()); ++i) put(q, DType::f32, qk_index(b, t, h, i), x[i]);
    }
    void set_k(i64 b, i64 t, i64 h, std::vector<double> x) {
        for (i64 i = 0; i < i64(x.size()); ++i) put(k, DType::f32, qk_index(b, t, h, i), x[i]);
    }
    void set_v(i64 b, i64 t, i64 hv, std::vector<double> x) {
        for (i64 i = 0; i < i64(x.size()); ++i) put(v, DType::f32, vo_index(b, t, hv, i), x[i]);
    }
    void set_g(i64 b, i64 t, i64 hv, double x) { put(g, DType::f32, gate_index(b, t, hv), x); }
    void set_beta(i64 b, i64 t, i64 hv, double x) { put(beta, DType::f32, gate_index(b, t, hv), x); }
    // h[k][v] of S[n, slot, hv], given as rows over k.
    void set_h(i64 n, i64 slot, i64 hv, std::vector<std::vector<double>> h) {
        for (i64 kk = 0; kk < i64(h.size()); ++kk)
            for (i64 vv = 0; vv < i64(h[kk].size()); ++vv)
                put(bank, p.state_storage, state_index(n, slot, hv, kk, vv), h[kk][vv]);
    }
    double h_at(i64 n, i64 slot, i64 hv, i64 kk, i64 vv) const {
        return get(bank, p.state_storage, state_index(n, slot, hv, kk, vv));
    }
    double o_at(i64 b, i64 t, i64 hv, i64 i) const { return get(o, o_dtype, vo_index(b, t, hv, i)); }
    std::uint64_t o_bits(i64 b, i64 t, i64 hv, i64 i) const {
        std::uint64_t bits = 0;
        const auto size = gdr::dtype_size(o_dtype);
        std::memcpy(&bits, o.data() + vo_index(b, t, hv, i) * size, size);
        return bits;
    }
    void use_indices(std::vector<i64> x) { indices = std::move(x), p.state_indices = indices.data(); }
    void use_cache_seqlens(std::vector<std::int32_t> x) { cache = std::move(x), p.cache_seqlens = cache.data(); }

    void run(reference::Precision precision = reference::Precision::truth_fp64,
             reference::ReductionOrder order = reference::ReductionOrder::forward) {
        reference::run_fused_recurrent(p, reference::OracleOptions{precision, order});
    }
};

inline constexpr reference::Precision kBothPrecisions[] = {reference::Precision::truth_fp64,
                                                           reference::Precision::emulated_fp32};

}  // namespace gdr::testing
