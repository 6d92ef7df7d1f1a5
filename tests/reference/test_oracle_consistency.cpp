// The oracle agrees with itself: a T-token call equals T one-token calls, a repeated run
// gives the same bytes, and layouts KV and VK give the same bits.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "gdr/core/poison.hpp"
#include "gdr/core/problem.hpp"
#include "gdr/reference/fused_recurrent.hpp"
#include "support/oracle_case.hpp"

using gdr::DType;
using gdr::Layout;
using gdr::Problem;
using gdr::reference::OracleOptions;
using gdr::reference::Precision;
using gdr::reference::ReductionOrder;
using gdr::reference::run_fused_recurrent;
using gdr::testing::Case;
using gdr::testing::i64;
using gdr::testing::kBothPrecisions;
using gdr::testing::put;

TEST_CASE("oracle: a T-token circular call equals T one-token calls (bitwise, f32 state, emulated run)", "[oracle]") {
    // Bitwise only where the compute type is the state type: R64 keeps h in double between
    // the tokens of one call but reads back an f32 state between calls.
    const i64 B = 2, T = 3, H = 1, HV = 2, K = 3, V = 2, slots = 3;
    for (Precision precision : {Precision::emulated_fp32}) {
        for (Layout layout : {Layout::KV, Layout::VK}) {
            Case whole(B, T, H, HV, K, V, layout, slots);
            whole.use_cache_seqlens({2, 7});
            std::mt19937 rng(5);
            std::uniform_real_distribution<float> u(-1, 1), gate(-0.5f, 0.0f), b01(0, 1);
            for (i64 i = 0; i < i64(whole.q.size() / 4); ++i)
                put(whole.q, DType::f32, i, u(rng)), put(whole.k, DType::f32, i, u(rng));
            for (i64 i = 0; i < i64(whole.v.size() / 4); ++i) put(whole.v, DType::f32, i, u(rng));
            for (i64 i = 0; i < i64(whole.g.size() / 4); ++i)
                put(whole.g, DType::f32, i, gate(rng)), put(whole.beta, DType::f32, i, b01(rng));
            for (i64 i = 0; i < i64(whole.bank.size() / 4); ++i) put(whole.bank, DType::f32, i, u(rng));
            whole.p.use_qk_l2norm = true;
            whole.p.scale.reset();
            std::vector<std::byte> bank = whole.bank;
            whole.run(precision);

            // The same inputs, one token per call: views at token t (strides keep T's layout).
            std::vector<std::byte> o(whole.o.size());
            std::vector<std::int32_t> cache{2, 7};
            for (i64 t = 0; t < T; ++t) {
                Problem p = whole.p;
                p.seq_len = 1;
                p.state = bank.data();
                p.cache_seqlens = cache.data();
                auto shift = [t](gdr::TensorArg& a, std::vector<std::byte>& buffer, std::size_t size) {
                    a.data = buffer.data() + t * a.stride[1] * i64(size);
                };
                shift(p.q, whole.q, 4), shift(p.k, whole.k, 4), shift(p.v, whole.v, 4);
                shift(p.g, whole.g, 4), shift(p.beta, whole.beta, 4), shift(p.o, o, 4);
                run_fused_recurrent(p, OracleOptions{precision, ReductionOrder::forward});
                for (auto& x : cache) ++x;
            }
            CHECK(std::memcmp(o.data(), whole.o.data(), o.size()) == 0);
            CHECK(std::memcmp(bank.data(), whole.bank.data(), bank.size()) == 0);
        }
    }
}

TEST_CASE("oracle: the same case twice gives identical bytes", "[oracle]") {
    Case a(2, 2, 1, 2, 3, 2, Layout::VK, 1, -1, DType::bf16, DType::bf16, DType::f32);
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> u(-1, 1);
    for (i64 i = 0; i < i64(a.q.size() / 4); ++i) put(a.q, DType::f32, i, u(rng)), put(a.k, DType::f32, i, u(rng));
    for (i64 i = 0; i < i64(a.v.size() / 4); ++i) put(a.v, DType::f32, i, u(rng));
    for (i64 i = 0; i < i64(a.bank.size() / 2); ++i) put(a.bank, DType::bf16, i, u(rng));
    Case b = a;
    b.p.q.data = b.q.data(), b.p.k.data = b.k.data(), b.p.v.data = b.v.data(), b.p.o.data = b.o.data();
    b.p.g.data = b.g.data(), b.p.beta.data = b.beta.data(), b.p.state = b.bank.data();
    a.run(Precision::emulated_fp32);
    b.run(Precision::emulated_fp32);
    CHECK(a.o == b.o);
    CHECK(a.bank == b.bank);
    CHECK_FALSE(gdr::is_poison(a.o.data(), 4, DType::f32));
}

TEST_CASE("oracle: layouts KV and VK give the same bits on larger K != V (tiled bank copies)", "[oracle]") {
    // K = 40, V = 70 are not multiples of the oracle's copy tile; both layouts compute the
    // same recurrence, so o is bitwise equal and each bank is the other's transpose.
    const i64 B = 2, T = 2, H = 1, HV = 2, K = 40, V = 70, slots = 2;
    for (Precision precision : kBothPrecisions) {
        for (DType state : {DType::f32, DType::bf16}) {
            CAPTURE(int(precision), gdr::to_string(state));
            Case kv(B, T, H, HV, K, V, Layout::KV, slots, -1, state, state);
            kv.use_cache_seqlens({1, 4});
            kv.p.use_qk_l2norm = true;
            std::mt19937 rng(11);
            std::uniform_real_distribution<float> u(-1, 1), gate(-0.5f, 0.0f), b01(0, 1);
            for (i64 i = 0; i < i64(kv.q.size() / 4); ++i)
                put(kv.q, DType::f32, i, u(rng)), put(kv.k, DType::f32, i, u(rng));
            for (i64 i = 0; i < i64(kv.v.size() / 4); ++i) put(kv.v, DType::f32, i, u(rng));
            for (i64 i = 0; i < i64(kv.g.size() / 4); ++i)
                put(kv.g, DType::f32, i, gate(rng)), put(kv.beta, DType::f32, i, b01(rng));
            for (i64 n = 0; n < B; ++n)
                for (i64 s = 0; s < slots; ++s)
                    for (i64 hv = 0; hv < HV; ++hv)
                        for (i64 kk = 0; kk < K; ++kk)
                            for (i64 vv = 0; vv < V; ++vv)
                                put(kv.bank, state, kv.state_index(n, s, hv, kk, vv), u(rng));
            Case vk = kv;
            vk.p.layout = Layout::VK;
            vk.p.state_shape = {B, slots, HV, V, K};
            vk.p.q.data = vk.q.data(), vk.p.k.data = vk.k.data(), vk.p.v.data = vk.v.data(), vk.p.o.data = vk.o.data();
            vk.p.g.data = vk.g.data(), vk.p.beta.data = vk.beta.data(), vk.p.state = vk.bank.data();
            vk.p.cache_seqlens = vk.cache.data();
            for (i64 n = 0; n < B; ++n)
                for (i64 s = 0; s < slots; ++s)
                    for (i64 hv = 0; hv < HV; ++hv)
                        for (i64 kk = 0; kk < K; ++kk)
                            for (i64 vv = 0; vv < V; ++vv)
                                put(vk.bank, state, vk.state_index(n, s, hv, kk, vv), kv.h_at(n, s, hv, kk, vv));
            kv.run(precision);
            vk.run(precision);
            CHECK(kv.o == vk.o);
            i64 mismatches = 0;
            for (i64 n = 0; n < B; ++n)
                for (i64 s = 0; s < slots; ++s)
                    for (i64 hv = 0; hv < HV; ++hv)
                        for (i64 kk = 0; kk < K; ++kk)
                            for (i64 vv = 0; vv < V; ++vv)
                                mismatches += kv.h_at(n, s, hv, kk, vv) != vk.h_at(n, s, hv, kk, vv);
            CHECK(mismatches == 0);
        }
    }
}
