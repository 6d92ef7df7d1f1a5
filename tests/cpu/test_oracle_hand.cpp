// The oracle on cases small enough to do on paper (K, V in {1, 2}), plus a plain
// long-double loop implementation, written here from docs/SPEC.md without sharing any code
// with the oracle, compared with R64 on small random shapes.
#include <Eigen/Core>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gdr/core/poison.hpp"
#include "gdr/core/problem.hpp"
#include "gdr/reference/fused_recurrent.hpp"

using gdr::DType;
using gdr::Layout;
using gdr::Problem;
using gdr::reference::OracleOptions;
using gdr::reference::Precision;
using gdr::reference::ReductionOrder;
using gdr::reference::run_fused_recurrent;

namespace {

using i64 = std::int64_t;

// Typed access to raw buffers of any dtype, written for the tests (values put here are
// exact in the dtype, so how they are encoded does not matter).
void put(std::vector<std::byte>& buffer, DType dtype, i64 index, double value) {
    std::byte* at = buffer.data() + index * i64(gdr::dtype_size(dtype));
    switch (dtype) {
        case DType::f32: {
            const float f = float(value);
            std::memcpy(at, &f, 4);
            break;
        }
        case DType::f64: std::memcpy(at, &value, 8); break;
        case DType::f16: {
            const Eigen::half h{float(value)};
            std::memcpy(at, &h, 2);
            break;
        }
        case DType::bf16: {
            const Eigen::bfloat16 h{float(value)};
            std::memcpy(at, &h, 2);
            break;
        }
    }
}

double get(const std::vector<std::byte>& buffer, DType dtype, i64 index) {
    const std::byte* at = buffer.data() + index * i64(gdr::dtype_size(dtype));
    switch (dtype) {
        case DType::f32: {
            float f;
            std::memcpy(&f, at, 4);
            return f;
        }
        case DType::f64: {
            double d;
            std::memcpy(&d, at, 8);
            return d;
        }
        case DType::f16: {
            Eigen::half h;
            std::memcpy(&h, at, 2);
            return float(h);
        }
        case DType::bf16: {
            Eigen::bfloat16 h;
            std::memcpy(&h, at, 2);
            return float(h);
        }
    }
    return 0;
}

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

    void run(Precision precision = Precision::truth_fp64, ReductionOrder order = ReductionOrder::forward) {
        run_fused_recurrent(p, OracleOptions{precision, order});
    }
};

const Precision kBothPrecisions[] = {Precision::truth_fp64, Precision::emulated_fp32};

}  // namespace

TEST_CASE("oracle hand: K = V = 1, one token", "[oracle]") {
    for (Precision precision : kBothPrecisions) {
        // h0 = 4, g = 0 (alpha = 1), beta = 0.5, k = 0.5, v = 3, q = 2, scale = 1:
        //   h = 1 * 4 = 4;  u = 0.5 * (3 - 4 * 0.5) = 0.5;  h = 4 + 0.5 * 0.5 = 4.25;  o = 4.25 * 2 = 8.5.
        Case c(1, 1, 1, 1, 1, 1);
        c.set_h(0, 0, 0, {{4}});
        c.set_beta(0, 0, 0, 0.5), c.set_k(0, 0, 0, {0.5}), c.set_v(0, 0, 0, {3}), c.set_q(0, 0, 0, {2});
        c.run(precision);
        CHECK(c.o_at(0, 0, 0, 0) == 8.5);
        CHECK(c.h_at(0, 0, 0, 0, 0) == 4.25);
    }
}

TEST_CASE("oracle hand: K = V = 1 with decay uses alpha = exp(g) before the delta update", "[oracle]") {
    // h0 = 4, g = log(1/2) (stored as f32), beta = 0.5, k = 1, v = 1, q = 1:
    //   h = 4a;  u = 0.5 (1 - 4a);  h = 4a + 0.5 - 2a = 2a + 0.5 (= 1.5 at a = 1/2);  o = h.
    Case c(1, 1, 1, 1, 1, 1, Layout::KV, 1, -1, DType::f32, DType::f64, DType::f64);
    c.set_h(0, 0, 0, {{4}});
    c.set_g(0, 0, 0, std::log(0.5)), c.set_beta(0, 0, 0, 0.5);
    c.set_k(0, 0, 0, {1}), c.set_v(0, 0, 0, {1}), c.set_q(0, 0, 0, {1});
    const double a = std::exp(double(float(std::log(0.5))));
    c.run();
    CHECK(c.o_at(0, 0, 0, 0) == Approx(2 * a + 0.5).epsilon(1e-15));
    CHECK(c.o_at(0, 0, 0, 0) == Approx(1.5).epsilon(1e-7));
    CHECK(c.h_at(0, 0, 0, 0, 0) == Approx(2 * a + 0.5).epsilon(1e-15));
    // Absent g means no decay: h = 4 + 0.5 (1 - 4) = 2.5.
    Case d(1, 1, 1, 1, 1, 1);
    d.set_h(0, 0, 0, {{4}});
    d.p.g.data = nullptr;
    d.set_beta(0, 0, 0, 0.5), d.set_k(0, 0, 0, {1}), d.set_v(0, 0, 0, {1}), d.set_q(0, 0, 0, {1});
    d.run();
    CHECK(d.o_at(0, 0, 0, 0) == 2.5);
}

TEST_CASE("oracle hand: K = 2, V = 1 (sum over k, a bank [.., 2, 1])", "[oracle]") {
    for (Layout layout : {Layout::KV, Layout::VK}) {
        for (Precision precision : kBothPrecisions) {
            // h0 = [1; 2] (h[k][0]), k = [1, 2], v = 10, q = [1, 3], alpha = beta = scale = 1:
            //   h^T k = 1 + 4 = 5;  u = 10 - 5 = 5;  h = [1 + 5, 2 + 10] = [6; 12];  o = 6 + 36 = 42.
            Case c(1, 1, 1, 1, 2, 1, layout);
            c.set_h(0, 0, 0, {{1}, {2}});
            c.set_k(0, 0, 0, {1, 2}), c.set_v(0, 0, 0, {10}), c.set_q(0, 0, 0, {1, 3});
            c.run(precision);
            CHECK(c.o_at(0, 0, 0, 0) == 42);
            CHECK(c.h_at(0, 0, 0, 0, 0) == 6);
            CHECK(c.h_at(0, 0, 0, 1, 0) == 12);
        }
    }
}

TEST_CASE("oracle hand: K = 1, V = 2 (one u per value column)", "[oracle]") {
    for (Layout layout : {Layout::KV, Layout::VK}) {
        // h0 = [1 2] (h[0][v]), k = 2, v = [3, 5], beta = 0.5, q = 0.5:
        //   h^T k = [2, 4];  u = 0.5 ([3, 5] - [2, 4]) = [0.5, 0.5];  h = [1 + 1, 2 + 1] = [2 3];
        //   o = h^T q = [1, 1.5].
        Case c(1, 1, 1, 1, 1, 2, layout);
        c.set_h(0, 0, 0, {{1, 2}});
        c.set_k(0, 0, 0, {2}), c.set_v(0, 0, 0, {3, 5}), c.set_q(0, 0, 0, {0.5}), c.set_beta(0, 0, 0, 0.5);
        c.run();
        CHECK(c.o_at(0, 0, 0, 0) == 1.0);
        CHECK(c.o_at(0, 0, 0, 1) == 1.5);
        CHECK(c.h_at(0, 0, 0, 0, 0) == 2);
        CHECK(c.h_at(0, 0, 0, 0, 1) == 3);
    }
}

TEST_CASE("oracle hand: K = V = 2 in both layouts (VK stores h[k][v] at [v][k])", "[oracle]") {
    // h0 = [[1, 2], [3, 4]] (rows over k), k = [1, 0], v = [10, 20], q = [1, 1]:
    //   h^T k = [1, 2];  u = [9, 18];  h = [[10, 20], [3, 4]];  o = h^T q = [13, 24].
    // (Reading the VK bank as if it were KV gives h0 = [[1, 3], [2, 4]] and o = [12, 24].)
    for (Layout layout : {Layout::KV, Layout::VK}) {
        Case c(1, 1, 1, 1, 2, 2, layout);
        const std::vector<double> stored0 =
            layout == Layout::KV ? std::vector<double>{1, 2, 3, 4} : std::vector<double>{1, 3, 2, 4};
        for (i64 i = 0; i < 4; ++i) put(c.bank, DType::f32, i, stored0[i]);  // raw memory order
        c.set_k(0, 0, 0, {1, 0}), c.set_v(0, 0, 0, {10, 20}), c.set_q(0, 0, 0, {1, 1});
        c.run();
        CHECK(c.o_at(0, 0, 0, 0) == 13);
        CHECK(c.o_at(0, 0, 0, 1) == 24);
        const std::vector<double> stored1 =
            layout == Layout::KV ? std::vector<double>{10, 20, 3, 4} : std::vector<double>{10, 3, 20, 4};
        for (i64 i = 0; i < 4; ++i) CHECK(get(c.bank, DType::f32, i) == stored1[i]);
    }
}

TEST_CASE("oracle hand: l2norm of q and k, then the default scale 1/sqrt(K)", "[oracle]") {
    // h0 = 0, k = q = [3, 4] normalised to [3, 4] / sqrt(25 + 1e-6), v = 1, beta = 1:
    //   u = 1;  h = k_n;  o = k_n . q_n / sqrt(2) = 25 / (25 + 1e-6) / sqrt(2).
    Case c(1, 1, 1, 1, 2, 1, Layout::KV, 1, -1, DType::f32, DType::f64, DType::f64);
    c.p.scale.reset();
    c.p.use_qk_l2norm = true;
    c.set_k(0, 0, 0, {3, 4}), c.set_q(0, 0, 0, {3, 4}), c.set_v(0, 0, 0, {1});
    c.run();
    CHECK(c.o_at(0, 0, 0, 0) == Approx(25.0 / (25.0 + 1e-6) / std::sqrt(2.0)).epsilon(1e-15));
    CHECK(c.h_at(0, 0, 0, 0, 0) == Approx(3.0 / std::sqrt(25.0 + 1e-6)).epsilon(1e-15));
    CHECK(c.h_at(0, 0, 0, 1, 0) == Approx(4.0 / std::sqrt(25.0 + 1e-6)).epsilon(1e-15));
}

TEST_CASE("oracle hand: circular, Slots = 2, f16 state: the cache-dtype round trip between tokens", "[oracle]") {
    // K = V = 1, T = 2, cache_seqlens = [1]: read slot 1, token 0 writes slot 0, token 1 slot 1.
    // Slot 1 holds h0 = 1, slot 0 holds 7. alpha = 1, q = k = 1.
    //   token 0: v = 1 + 2^-12, beta = 1: u = 2^-12, h = 1 + 2^-12, o0 = 1 + 2^-12 (unrounded h);
    //            slot 0 = f16(1 + 2^-12) = 1 (f16 spacing at 1 is 2^-10); round trip: h = 1.
    //   token 1: v = 3, beta = 0.5: u = 0.5 (3 - 1) = 1, h = 2, o1 = 2; slot 1 = 2.
    // Without the round trip, token 1 would give u = 1 - 2^-13, h = o1 = 2 + 2^-13.
    const double tiny = std::ldexp(1.0, -12);
    struct Variant {
        DType state_dtype, storage;
        Precision precision;
        double o1, slot0, slot1;
    };
    const Variant variants[] = {
        {DType::f16, DType::f16, Precision::truth_fp64, 2.0, 1.0, 2.0},
        {DType::f16, DType::f16, Precision::emulated_fp32, 2.0, 1.0, 2.0},
        // The truth run with an f64 bank stores h unrounded, and still round-trips through f16.
        {DType::f16, DType::f64, Precision::truth_fp64, 2.0, 1.0 + tiny, 2.0},
        // An f32 state has no round trip.
        {DType::f32, DType::f32, Precision::truth_fp64, 2.0 + tiny / 2, 1.0 + tiny, 2.0 + tiny / 2},
        {DType::f32, DType::f32, Precision::emulated_fp32, 2.0 + tiny / 2, 1.0 + tiny, 2.0 + tiny / 2},
    };
    for (const Variant& x : variants) {
        CAPTURE(gdr::to_string(x.state_dtype), gdr::to_string(x.storage), int(x.precision));
        Case c(1, 2, 1, 1, 1, 1, Layout::KV, 2, -1, x.state_dtype, x.storage);
        c.use_cache_seqlens({1});
        c.set_h(0, 1, 0, {{1}});
        c.set_h(0, 0, 0, {{7}});
        for (i64 t = 0; t < 2; ++t) c.set_q(0, t, 0, {1}), c.set_k(0, t, 0, {1});
        c.set_v(0, 0, 0, {1 + tiny});
        c.set_v(0, 1, 0, {3}), c.set_beta(0, 1, 0, 0.5);
        c.run(x.precision);
        CHECK(c.o_at(0, 0, 0, 0) == 1 + tiny);
        CHECK(c.o_at(0, 1, 0, 0) == x.o1);
        CHECK(c.h_at(0, 0, 0, 0, 0) == x.slot0);
        CHECK(c.h_at(0, 1, 0, 0, 0) == x.slot1);
    }
}

TEST_CASE("oracle hand: circular with Slots < T overwrites the read slot; the state of L tokens is in slot L mod Slots",
          "[oracle]") {
    // K = V = 1, beta = 1, k = 1: each token sets h = v. cache_seqlens = [4], Slots = 2, T = 3:
    // read slot 0; tokens write slots 1, 0, 1 with v = 10, 20, 30.
    Case c(1, 3, 1, 1, 1, 1, Layout::KV, 2);
    c.use_cache_seqlens({4});
    c.set_h(0, 0, 0, {{5}});
    c.set_h(0, 1, 0, {{6}});
    for (i64 t = 0; t < 3; ++t) c.set_q(0, t, 0, {1}), c.set_k(0, t, 0, {1}), c.set_v(0, t, 0, {10.0 * (t + 1)});
    c.run();
    CHECK(c.o_at(0, 0, 0, 0) == 10);
    CHECK(c.o_at(0, 1, 0, 0) == 20);
    CHECK(c.o_at(0, 2, 0, 0) == 30);
    CHECK(c.h_at(0, 0, 0, 0, 0) == 20);
    CHECK(c.h_at(0, 1, 0, 0, 0) == 30);  // 4 + 3 = 7 tokens: slot 7 mod 2 = 1
}

TEST_CASE("oracle hand: non-circular reads and writes slot 0 only; output_final_state = false writes no state",
          "[oracle]") {
    // K = V = 1, h0 = 2 in slot 0, 9 in slot 1, k = q = 1, v = 5, beta = 1: h = 5, o = 5.
    for (bool final_state : {true, false}) {
        for (bool circular : {false, true}) {
            CAPTURE(final_state, circular);
            Case c(1, 1, 1, 1, 1, 1, Layout::KV, 2);
            if (circular) c.use_cache_seqlens({0});
            c.p.output_final_state = final_state;
            c.set_h(0, 0, 0, {{2}});
            c.set_h(0, 1, 0, {{9}});
            c.set_q(0, 0, 0, {1}), c.set_k(0, 0, 0, {1}), c.set_v(0, 0, 0, {5}), c.set_beta(0, 0, 0, 0.5);
            c.run();
            // u = 0.5 (5 - 2) = 1.5, h = 3.5 (both modes read slot 0: cache_seqlens 0 mod 2).
            CHECK(c.o_at(0, 0, 0, 0) == 3.5);
            const double slot0 = final_state && !circular ? 3.5 : 2;
            const double slot1 = final_state && circular ? 3.5 : 9;
            CHECK(c.h_at(0, 0, 0, 0, 0) == slot0);
            CHECK(c.h_at(0, 1, 0, 0, 0) == slot1);
        }
    }
}

TEST_CASE("oracle hand: inactive rows give exact zeros and leave the bank untouched", "[oracle]") {
    for (Precision precision : kBothPrecisions) {
        for (bool circular : {false, true}) {
            CAPTURE(int(precision), circular);
            // B = 4 rows, N = 3 entries. Row 0 -> entry 2; row 1 index -1 (inactive); row 2 -> entry 0;
            // row 3 -> entry 1 but, in circular mode, cache_seqlens = -1 makes it inactive.
            Case c(4, 2, 1, 2, 2, 3, Layout::VK, circular ? 2 : 1, 3);
            c.use_indices({2, -1, 0, circular ? 1 : 3});  // non-circular: index 3 >= N, inactive too
            if (circular) c.use_cache_seqlens({0, 5, 1, -1});
            std::mt19937 rng(1);
            std::uniform_int_distribution<int> small(-8, 8);
            for (i64 i = 0; i < i64(c.q.size() / 4); ++i)
                put(c.q, DType::f32, i, small(rng) / 8.0), put(c.k, DType::f32, i, small(rng) / 8.0);
            for (i64 i = 0; i < i64(c.v.size() / 4); ++i) put(c.v, DType::f32, i, small(rng) / 4.0);
            for (i64 i = 0; i < i64(c.bank.size() / 4); ++i) put(c.bank, DType::f32, i, small(rng) / 2.0);
            const std::vector<std::byte> before = c.bank;
            c.run(precision);
            const i64 entry_bytes = c.p.bank_entry_elements() * 4;
            for (i64 b : {1, 3})
                for (i64 t = 0; t < 2; ++t)
                    for (i64 hv = 0; hv < 2; ++hv)
                        for (i64 i = 0; i < 3; ++i) CHECK(c.o_bits(b, t, hv, i) == 0);  // +0.0, not -0.0 or poison
            // Entry 1 belongs to no active row: byte-identical.
            CHECK(std::memcmp(c.bank.data() + entry_bytes, before.data() + entry_bytes, entry_bytes) == 0);
            // Active rows did write theirs and produced non-poison output.
            CHECK(std::memcmp(c.bank.data(), before.data(), entry_bytes) != 0);
            CHECK(std::memcmp(c.bank.data() + 2 * entry_bytes, before.data() + 2 * entry_bytes, entry_bytes) != 0);
            for (i64 b : {0, 2}) CHECK_FALSE(std::isnan(c.o_at(b, 1, 1, 2)));
        }
    }
}

TEST_CASE("oracle hand: grouped heads, value head hv reads q/k head hv / (HV / H)", "[oracle]") {
    // H = 2, HV = 4, K = V = 1, h0 = 0, beta = 1: u = v, h = k v, o = q k v.
    // Head 0: q = k = 1; head 1: q = k = 2. v = [1, 2, 3, 4] for hv = 0..3.
    //   hv 0, 1 -> head 0: h = [1, 2], o = [1, 2];  hv 2, 3 -> head 1: h = [6, 8], o = [12, 16].
    // (The wrong mapping hv % H would give o = [1, 8, 3, 16].)
    Case c(1, 1, 2, 4, 1, 1);
    c.set_q(0, 0, 0, {1}), c.set_k(0, 0, 0, {1});
    c.set_q(0, 0, 1, {2}), c.set_k(0, 0, 1, {2});
    for (i64 hv = 0; hv < 4; ++hv) c.set_v(0, 0, hv, {double(hv + 1)});
    c.run();
    const double o[] = {1, 2, 12, 16}, h[] = {1, 2, 6, 8};
    for (i64 hv = 0; hv < 4; ++hv) {
        CHECK(c.o_at(0, 0, hv, 0) == o[hv]);
        CHECK(c.h_at(0, 0, hv, 0, 0) == h[hv]);
    }
}

TEST_CASE("oracle hand: the two reduction orders are different legal sums", "[oracle]") {
    // K = 3, V = 1, h0 = [1; 1e8; -1e8], k = 0, v = 0 (u = 0: h unchanged), q = [1, 1, 1]:
    // o = 1 + 1e8 - 1e8 = 1 exactly. Summed from k = K-1 down in float: (-1e8 + 1e8) + 1 = 1;
    // a float sum starting at k = 0 would lose the 1 (1 + 1e8 rounds to 1e8).
    for (Precision precision : kBothPrecisions) {
        Case c(1, 1, 1, 1, 3, 1);
        c.set_h(0, 0, 0, {{1}, {1e8}, {-1e8}});
        c.set_q(0, 0, 0, {1, 1, 1});
        c.run(precision, ReductionOrder::reversed);
        CHECK(c.o_at(0, 0, 0, 0) == 1);
    }
    Case c(1, 1, 1, 1, 3, 1);
    c.set_h(0, 0, 0, {{1}, {1e8}, {-1e8}});
    c.set_q(0, 0, 0, {1, 1, 1});
    c.run(Precision::truth_fp64, ReductionOrder::forward);
    CHECK(c.o_at(0, 0, 0, 0) == 1);  // exact in double in any order
    // The emulated forward order is strictly sequential from k = 0, so it loses the 1.
    Case f(1, 1, 1, 1, 3, 1);
    f.set_h(0, 0, 0, {{1}, {1e8}, {-1e8}});
    f.set_q(0, 0, 0, {1, 1, 1});
    f.run(Precision::emulated_fp32, ReductionOrder::forward);
    CHECK(f.o_at(0, 0, 0, 0) == 0);
}

TEST_CASE("oracle hand: magnitudes are the step evaluated in absolute values", "[oracle]") {
    for (Layout layout : {Layout::KV, Layout::VK}) {
        // As "K = 2, V = 1" but with signs that cancel: h0 = [1; -2], k = [1, 2], v = 10,
        // q = [-1, 3], alpha = beta = scale = 1:
        //   h^T k = 1 - 4 = -3;  u = 13;  h = [14; 24];  o = -14 + 72 = 58.
        // In absolute values: u's terms 10 + 1 + 4 = 15; h's [1 + 15; 2 + 30] = [16; 32];
        // o's 16 + 96 = 112.
        Case c(1, 1, 1, 1, 2, 1, layout, 1, -1, DType::f32, DType::f64, DType::f64);
        c.set_h(0, 0, 0, {{1}, {-2}});
        c.set_k(0, 0, 0, {1, 2}), c.set_v(0, 0, 0, {10}), c.set_q(0, 0, 0, {-1, 3});
        std::vector<double> magnitude_o(c.o.size() / 8, -1.0), magnitude_state(c.bank.size() / 8, -1.0);
        OracleOptions options;
        options.magnitudes = {magnitude_o.data(), magnitude_state.data()};
        run_fused_recurrent(c.p, options);
        CHECK(c.o_at(0, 0, 0, 0) == 58);
        CHECK(magnitude_o[std::size_t(c.vo_index(0, 0, 0, 0))] == 112);
        CHECK(magnitude_state[std::size_t(c.state_index(0, 0, 0, 0, 0))] == 16);
        CHECK(magnitude_state[std::size_t(c.state_index(0, 0, 0, 1, 0))] == 32);

        options.precision = Precision::emulated_fp32;  // only the truth run computes them
        CHECK_THROWS_WITH(run_fused_recurrent(c.p, options), Catch::Contains("magnitudes"));
    }
}

TEST_CASE("oracle hand: a zero-length sequence writes no output and no state (varlen)", "[oracle]") {
    // cu = [0, 0, 2]: sequence 0 is empty, sequence 1 owns tokens 0 and 1. K = V = 1, beta = 1.
    Case c(1, 2, 1, 1, 1, 1, Layout::KV, 1, 2);
    const std::vector<std::int32_t> cu{0, 0, 2};
    c.p.cu_seqlens = cu.data(), c.p.cu_seqlens_type = gdr::IndexType::i32, c.p.num_sequences = 2;
    c.set_h(0, 0, 0, {{3}});
    c.set_h(1, 0, 0, {{4}});
    for (i64 t = 0; t < 2; ++t) c.set_q(0, t, 0, {1}), c.set_k(0, t, 0, {1}), c.set_v(0, t, 0, {10.0 + t});
    c.set_beta(0, 0, 0, 0.5);
    c.run();
    // Sequence 1 from h0 = 4: token 0: u = 0.5 (10 - 4) = 3, h = 7; token 1: u = 11 - 7 = 4, h = 11.
    CHECK(c.o_at(0, 0, 0, 0) == 7);
    CHECK(c.o_at(0, 1, 0, 0) == 11);
    CHECK(c.h_at(0, 0, 0, 0, 0) == 3);
    CHECK(c.h_at(1, 0, 0, 0, 0) == 11);
}

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

// ---------------------------------------------------------------------------------------
// An independent implementation: docs/SPEC.md's recurrence as plain long-double loops over
// flat arrays, with its own indexing and its own rounding to the state dtype.

namespace {

// RNE rounding of x to a binary format of `dtype` (its precision, and its subnormal
// spacing below the smallest normal; no overflow: the values here are small).
long double round_to_format(long double x, DType dtype) {
    if (x == 0) return x;
    const int precision = dtype == DType::f16 ? 11 : dtype == DType::bf16 ? 8 : dtype == DType::f32 ? 24 : 53;
    const int min_exponent = dtype == DType::f16 ? -14 : dtype == DType::f64 ? -1022 : -126;
    const int e = std::max(int(std::ilogb(x)), min_exponent);
    const long double spacing = std::ldexp(1.0L, e - precision + 1);
    return std::nearbyint(x / spacing) * spacing;
}

struct Random {
    std::mt19937_64 rng;
    i64 in(i64 lo, i64 hi) { return std::uniform_int_distribution<i64>(lo, hi)(rng); }
    bool coin() { return in(0, 1) == 1; }
    // m / 2^shift with m in [lo, hi], |m| <= 256: exact in bf16, f16, f32 and f64.
    double dyadic(i64 lo, i64 hi, int shift) { return std::ldexp(double(in(lo, hi)), -shift); }
};

// One random case: sizes, features and the logical data as doubles (each exact in its
// dtype), flat in docs/SPEC.md's index order.
struct RandomCase {
    i64 B = 1, T = 1, H = 1, HV = 1, K = 1, V = 1, N = 1, slots = 1, rows = 1;
    bool varlen = false, circular = false, has_g = false, has_beta = false, l2norm = false, final_state = true;
    bool cu_i64 = false;
    std::optional<double> scale;
    Layout layout = Layout::KV;
    DType input = DType::f32, gate = DType::f32, state_dtype = DType::f32, state_storage = DType::f64;
    std::vector<double> q, k, v, g, beta, state;  // [B,T,H,K], [B,T,H,K], [B,T,HV,V], [B,T,HV] x2, [N,S,HV,K,V]
    std::vector<i64> indices;                     // empty: absent
    std::vector<std::int32_t> cache;              // empty: absent
    std::vector<i64> cu;                          // varlen: rows + 1 boundaries

    i64 qk(i64 b, i64 t, i64 h, i64 i) const { return ((b * T + t) * H + h) * K + i; }
    i64 vo(i64 b, i64 t, i64 hv, i64 i) const { return ((b * T + t) * HV + hv) * V + i; }
    i64 gate_at(i64 b, i64 t, i64 hv) const { return (b * T + t) * HV + hv; }
    // Logical S[n, slot, hv, k, v], whatever the layout; the layout applies to buffers only.
    i64 s(i64 n, i64 slot, i64 hv, i64 kk, i64 vv) const { return (((n * slots + slot) * HV + hv) * K + kk) * V + vv; }
    i64 stored(i64 n, i64 slot, i64 hv, i64 kk, i64 vv) const {
        const i64 base = ((n * slots + slot) * HV + hv) * K * V;
        return base + (layout == Layout::KV ? kk * V + vv : vv * K + kk);
    }
};

RandomCase random_case(Random& r) {
    RandomCase c;
    c.K = r.in(1, 6), c.V = r.in(1, 7);
    if (c.K == c.V) c.V += 1;  // K != V always: a layout bug hides when K == V
    c.H = r.in(1, 2), c.HV = c.H * r.in(1, 2);
    c.layout = r.coin() ? Layout::KV : Layout::VK;
    c.varlen = r.in(0, 2) == 0;
    c.circular = r.coin();
    c.slots = c.circular ? r.in(1, 3) : r.in(1, 2);
    c.has_g = r.coin(), c.has_beta = r.coin(), c.l2norm = r.coin(), c.final_state = r.in(0, 4) != 0;
    if (r.coin()) c.scale = r.dyadic(16, 128, 6);
    c.input = r.coin() ? DType::f32 : DType::bf16;
    c.gate = r.coin() ? DType::f32 : c.input;
    const DType states[] = {DType::f32, DType::bf16, DType::f16};
    c.state_dtype = states[r.in(0, 2)];
    c.state_storage = r.coin() ? DType::f64 : c.state_dtype;
    if (c.varlen) {
        c.rows = r.in(1, 3);
        c.cu_i64 = r.coin();
        c.cu = {0};
        for (i64 i = 0; i < c.rows; ++i) c.cu.push_back(c.cu.back() + r.in(0, 3));
        c.B = 1, c.T = c.cu.back();
    } else {
        c.B = c.rows = r.in(1, 3);
        c.T = r.in(1, 4);
    }
    c.N = c.rows;
    if (r.coin()) {  // state_indices: a random distinct choice of entries, some rows inactive
        c.N = c.rows + r.in(0, 2);
        std::vector<i64> entries(c.N);
        for (i64 i = 0; i < c.N; ++i) entries[i] = i;
        std::shuffle(entries.begin(), entries.end(), r.rng);
        for (i64 i = 0; i < c.rows; ++i) c.indices.push_back(r.in(0, 4) == 0 ? (r.coin() ? -1 : c.N) : entries[i]);
    }
    if (c.circular)
        for (i64 i = 0; i < c.rows; ++i) c.cache.push_back(std::int32_t(r.in(0, 5) == 0 ? -1 : r.in(0, 9)));

    const i64 bt = c.B * c.T;
    for (i64 i = 0; i < bt * c.H * c.K; ++i)
        c.q.push_back(r.dyadic(-128, 127, 6)), c.k.push_back(r.dyadic(-128, 127, 6));
    for (i64 i = 0; i < bt * c.HV * c.V; ++i) c.v.push_back(r.dyadic(-128, 127, 6));
    for (i64 i = 0; i < bt * c.HV; ++i) c.g.push_back(-r.dyadic(0, 255, 8)), c.beta.push_back(r.dyadic(0, 256, 8));
    for (i64 i = 0; i < c.N * c.slots * c.HV * c.K * c.V; ++i) c.state.push_back(r.dyadic(-128, 127, 7));
    return c;
}

struct Expected {
    std::vector<long double> o;      // NaN: never written
    std::vector<long double> state;  // logical order, unrounded (the f64 bank's values)
};

// docs/SPEC.md's recurrence, plainly, in long double.
Expected recurrence_long_double(const RandomCase& c) {
    Expected e;
    e.o.assign(c.B * c.T * c.HV * c.V, std::numeric_limits<long double>::quiet_NaN());
    e.state.assign(c.state.begin(), c.state.end());
    const long double scale = c.scale ? *c.scale : 1.0L / std::sqrt((long double)c.K);
    for (i64 row = 0; row < c.rows; ++row) {
        const i64 b = c.varlen ? 0 : row;
        const i64 t0 = c.varlen ? c.cu[row] : 0, t1 = c.varlen ? c.cu[row + 1] : c.T;
        const bool index_ok = c.indices.empty() || (c.indices[row] >= 0 && c.indices[row] < c.N);
        const bool cache_ok = c.cache.empty() || c.cache[row] >= 0;
        if (!(index_ok && cache_ok)) {
            for (i64 t = t0; t < t1; ++t)
                for (i64 hv = 0; hv < c.HV; ++hv)
                    for (i64 j = 0; j < c.V; ++j) e.o[c.vo(b, t, hv, j)] = 0;
            continue;
        }
        const i64 n = c.indices.empty() ? row : c.indices[row];
        const i64 r = c.circular ? c.cache[row] % c.slots : 0;
        for (i64 hv = 0; hv < c.HV; ++hv) {
            const i64 head = hv / (c.HV / c.H);
            std::vector<long double> h(c.K * c.V), q(c.K), k(c.K), u(c.V);
            for (i64 kk = 0; kk < c.K; ++kk)
                for (i64 vv = 0; vv < c.V; ++vv) h[kk * c.V + vv] = e.state[c.s(n, r, hv, kk, vv)];
            for (i64 t = t0; t < t1; ++t) {
                const long double alpha = c.has_g ? std::exp((long double)c.g[c.gate_at(b, t, hv)]) : 1.0L;
                const long double beta = c.has_beta ? c.beta[c.gate_at(b, t, hv)] : 1.0L;
                long double qq = 0, kk2 = 0;
                for (i64 i = 0; i < c.K; ++i) {
                    q[i] = c.q[c.qk(b, t, head, i)], k[i] = c.k[c.qk(b, t, head, i)];
                    qq += q[i] * q[i], kk2 += k[i] * k[i];
                }
                for (i64 i = 0; i < c.K; ++i) {
                    if (c.l2norm) q[i] /= std::sqrt(qq + 1e-6L), k[i] /= std::sqrt(kk2 + 1e-6L);
                    q[i] *= scale;
                }
                for (auto& x : h) x *= alpha;
                for (i64 vv = 0; vv < c.V; ++vv) {
                    long double hk = 0;
                    for (i64 i = 0; i < c.K; ++i) hk += h[i * c.V + vv] * k[i];
                    u[vv] = beta * (c.v[c.vo(b, t, hv, vv)] - hk);
                }
                for (i64 i = 0; i < c.K; ++i)
                    for (i64 vv = 0; vv < c.V; ++vv) h[i * c.V + vv] += k[i] * u[vv];
                for (i64 vv = 0; vv < c.V; ++vv) {
                    long double hq = 0;
                    for (i64 i = 0; i < c.K; ++i) hq += h[i * c.V + vv] * q[i];
                    e.o[c.vo(b, t, hv, vv)] = hq;
                }
                if (c.circular && c.final_state) {
                    const i64 slot = (r + 1 + (t - t0)) % c.slots;
                    for (i64 i = 0; i < c.K; ++i)
                        for (i64 vv = 0; vv < c.V; ++vv) e.state[c.s(n, slot, hv, i, vv)] = h[i * c.V + vv];
                    if (t < t1 - 1 && c.state_dtype != DType::f32)
                        for (auto& x : h) x = round_to_format(x, c.state_dtype);
                }
            }
            if (!c.circular && c.final_state && t1 > t0)
                for (i64 i = 0; i < c.K; ++i)
                    for (i64 vv = 0; vv < c.V; ++vv) e.state[c.s(n, 0, hv, i, vv)] = h[i * c.V + vv];
        }
    }
    return e;
}

std::string describe(const RandomCase& c) {
    std::string s = "B=" + std::to_string(c.B) + " T=" + std::to_string(c.T) + " H=" + std::to_string(c.H) +
                    " HV=" + std::to_string(c.HV) + " K=" + std::to_string(c.K) + " V=" + std::to_string(c.V) +
                    " N=" + std::to_string(c.N) + " Slots=" + std::to_string(c.slots) +
                    " layout=" + std::string(gdr::to_string(c.layout)) +
                    " input=" + std::string(gdr::to_string(c.input)) + " gate=" + std::string(gdr::to_string(c.gate)) +
                    " state=" + std::string(gdr::to_string(c.state_dtype)) + "/" +
                    std::string(gdr::to_string(c.state_storage));
    s += std::string(c.varlen ? " varlen" : "") + (c.circular ? " circular" : "") + (c.has_g ? " g" : "") +
         (c.has_beta ? " beta" : "") + (c.l2norm ? " l2norm" : "") + (c.final_state ? " final_state" : "") +
         (c.indices.empty() ? "" : " indices") + (c.scale ? " scale" : "");
    return s;
}

}  // namespace

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

TEST_CASE("oracle hand: one cache-rounding flip, carried to the next token", "[oracle]") {
    // K = V = 1, circular, Slots = 2, f16 state, no g, beta = 0.5, k = 0.5, v = 3, q = 2:
    // token 0 gives h = 4.25 (as "K = V = 1, one token"), stored and read back in f16,
    // where one ulp at 4.25 is 2^-8. Token 1 may therefore start one ulp off (w = 2^-8):
    //   h moves by at most w + k beta k w = 1.125 w (bounded termwise);
    //   o by exactly w |q - beta k (q k)| = w |2 - 0.25| = 1.75 w.
    // Token 0 follows no round trip: no flip there.
    Case c(1, 2, 1, 1, 1, 1, Layout::KV, 2, -1, DType::f16, DType::f64, DType::f64);
    c.set_h(0, 0, 0, {{4}});
    c.p.g.data = nullptr;
    for (i64 t : {0, 1}) c.set_beta(0, t, 0, 0.5), c.set_k(0, t, 0, {0.5}), c.set_v(0, t, 0, {3}), c.set_q(0, t, 0, {2});
    c.use_cache_seqlens({0});
    std::vector<double> o_flip(c.o.size() / 8, -1.0), state_flip(c.bank.size() / 8, -1.0);
    OracleOptions options;
    options.magnitudes.o_flip = o_flip.data();
    options.magnitudes.state_flip = state_flip.data();
    run_fused_recurrent(c.p, options);
    const double w = std::ldexp(1.0, -8);
    CHECK(o_flip[std::size_t(c.vo_index(0, 0, 0, 0))] == 0);
    CHECK(o_flip[std::size_t(c.vo_index(0, 1, 0, 0))] == 1.75 * w);
    CHECK(state_flip[std::size_t(c.state_index(0, 1, 0, 0, 0))] == 0);      // token 0 wrote slot 1
    CHECK(state_flip[std::size_t(c.state_index(0, 0, 0, 0, 0))] == 1.125 * w);  // token 1 wrote slot 0
}

