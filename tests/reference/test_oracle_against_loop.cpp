// The oracle's R64 run against the independent long-double loop oracle
// (support/loop_oracle.hpp) on small random shapes with every feature.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gdr/core/poison.hpp"
#include "gdr/core/problem.hpp"
#include "gdr/reference/fused_recurrent.hpp"
#include "support/bytes.hpp"
#include "support/loop_oracle.hpp"

using gdr::DType;
using gdr::Layout;
using gdr::Problem;
using gdr::reference::OracleOptions;
using gdr::reference::Precision;
using gdr::reference::ReductionOrder;
using gdr::reference::run_fused_recurrent;
using gdr::testing::get;
using gdr::testing::i64;
using gdr::testing::put;
using gdr::testing::loop_oracle::describe;
using gdr::testing::loop_oracle::Expected;
using gdr::testing::loop_oracle::Random;
using gdr::testing::loop_oracle::random_case;
using gdr::testing::loop_oracle::RandomCase;
using gdr::testing::loop_oracle::recurrence_long_double;
using gdr::testing::loop_oracle::round_to_format;

TEST_CASE("oracle R64 matches an independent long-double loop implementation", "[oracle]") {
    const std::uint64_t seed = 0x6D2B79F5u;
    Random r{std::mt19937_64(seed)};
    int circular_cases = 0, varlen_cases = 0, rounded_bank_cases = 0;
    for (int iteration = 0; iteration < 400; ++iteration) {
        const RandomCase c = random_case(r);
        INFO("seed " << seed << " iteration " << iteration << ": " << describe(c));
        circular_cases += c.circular, varlen_cases += c.varlen, rounded_bank_cases += c.state_storage != DType::f64;

        // Buffers: q, k, v as slices of one fused [B, T, 2HK + HV V] projection; g and
        // beta interleaved in one [B, T, HV, 2] buffer; o (f64) poisoned.
        const i64 W = 2 * c.H * c.K + c.HV * c.V;
        std::vector<std::byte> qkv(c.B * c.T * W * gdr::dtype_size(c.input));
        std::vector<std::byte> gates(c.B * c.T * c.HV * 2 * gdr::dtype_size(c.gate));
        std::vector<std::byte> o(c.B * c.T * c.HV * c.V * 8);
        std::vector<std::byte> bank(c.state.size() * gdr::dtype_size(c.state_storage));
        gdr::fill_poison(o.data(), o.size(), DType::f64);
        for (i64 b = 0; b < c.B; ++b)
            for (i64 t = 0; t < c.T; ++t) {
                const i64 base = (b * c.T + t) * W;
                for (i64 h = 0; h < c.H; ++h)
                    for (i64 i = 0; i < c.K; ++i) {
                        put(qkv, c.input, base + h * c.K + i, c.q[c.qk(b, t, h, i)]);
                        put(qkv, c.input, base + c.H * c.K + h * c.K + i, c.k[c.qk(b, t, h, i)]);
                    }
                for (i64 hv = 0; hv < c.HV; ++hv) {
                    for (i64 i = 0; i < c.V; ++i)
                        put(qkv, c.input, base + 2 * c.H * c.K + hv * c.V + i, c.v[c.vo(b, t, hv, i)]);
                    put(gates, c.gate, 2 * c.gate_at(b, t, hv), c.g[c.gate_at(b, t, hv)]);
                    put(gates, c.gate, 2 * c.gate_at(b, t, hv) + 1, c.beta[c.gate_at(b, t, hv)]);
                }
            }
        for (i64 n = 0; n < c.N; ++n)
            for (i64 s = 0; s < c.slots; ++s)
                for (i64 hv = 0; hv < c.HV; ++hv)
                    for (i64 kk = 0; kk < c.K; ++kk)
                        for (i64 vv = 0; vv < c.V; ++vv)
                            put(bank, c.state_storage, c.stored(n, s, hv, kk, vv), c.state[c.s(n, s, hv, kk, vv)]);
        std::vector<std::int32_t> cu32(c.cu.begin(), c.cu.end());

        Problem p;
        p.batch = c.B, p.seq_len = c.T, p.num_heads = c.H, p.num_value_heads = c.HV, p.key_dim = c.K, p.value_dim = c.V;
        p.layout = c.layout;
        p.input_dtype = c.input, p.gate_dtype = c.gate, p.state_dtype = c.state_dtype,
        p.state_storage = c.state_storage;
        const std::size_t in_size = gdr::dtype_size(c.input), gate_size = gdr::dtype_size(c.gate);
        p.q = {qkv.data(), c.input, {c.T * W, W, c.K, 1}};
        p.k = {qkv.data() + c.H * c.K * in_size, c.input, {c.T * W, W, c.K, 1}};
        p.v = {qkv.data() + 2 * c.H * c.K * in_size, c.input, {c.T * W, W, c.V, 1}};
        p.o = {o.data(), DType::f64, {c.T * c.HV * c.V, c.HV * c.V, c.V, 1}};
        if (c.has_g) p.g = {gates.data(), c.gate, {c.T * c.HV * 2, c.HV * 2, 2, 0}};
        if (c.has_beta) p.beta = {gates.data() + gate_size, c.gate, {c.T * c.HV * 2, c.HV * 2, 2, 0}};
        p.state = bank.data();
        p.state_shape = {c.N, c.slots, c.HV, c.layout == Layout::KV ? c.K : c.V, c.layout == Layout::KV ? c.V : c.K};
        if (!c.indices.empty()) p.state_indices = c.indices.data();
        if (!c.cache.empty()) p.cache_seqlens = c.cache.data();
        if (c.varlen) {
            p.cu_seqlens = c.cu_i64 ? static_cast<const void*>(c.cu.data()) : static_cast<const void*>(cu32.data());
            p.cu_seqlens_type = c.cu_i64 ? gdr::IndexType::i64 : gdr::IndexType::i32;
            p.num_sequences = c.rows;
        }
        p.scale = c.scale, p.use_qk_l2norm = c.l2norm, p.output_final_state = c.final_state;

        run_fused_recurrent(p, OracleOptions{Precision::truth_fp64, ReductionOrder::forward});
        const Expected e = recurrence_long_double(c);

        long double o_scale = 1e-300L, s_scale = 1e-300L;
        for (long double x : e.o)
            if (!std::isnan(x)) o_scale = std::max(o_scale, std::fabs(x));
        for (long double x : e.state) s_scale = std::max(s_scale, std::fabs(x));
        for (i64 i = 0; i < i64(e.o.size()); ++i) {
            if (std::isnan(e.o[i])) {
                REQUIRE(gdr::is_poison(o.data() + 8 * i, 8, DType::f64));
                continue;
            }
            const double got = get(o, DType::f64, i);
            INFO("o[" << i << "] = " << got << ", expected " << double(e.o[i]));
            REQUIRE(std::fabs(got - e.o[i]) <= 1e-12L * o_scale);
        }
        for (i64 n = 0; n < c.N; ++n)
            for (i64 s = 0; s < c.slots; ++s)
                for (i64 hv = 0; hv < c.HV; ++hv)
                    for (i64 kk = 0; kk < c.K; ++kk)
                        for (i64 vv = 0; vv < c.V; ++vv) {
                            long double want = e.state[c.s(n, s, hv, kk, vv)];
                            if (c.state_storage != DType::f64) want = round_to_format(want, c.state_storage);
                            const double got = get(bank, c.state_storage, c.stored(n, s, hv, kk, vv));
                            INFO("S[" << n << ", " << s << ", " << hv << ", " << kk << ", " << vv << "] = " << got
                                      << ", expected " << double(want));
                            REQUIRE(std::fabs(got - want) <= 1e-12L * s_scale);
                        }
    }
    // The random cases did cover the features.
    CHECK(circular_cases > 100);
    CHECK(varlen_cases > 80);
    CHECK(rounded_bank_cases > 100);
}
