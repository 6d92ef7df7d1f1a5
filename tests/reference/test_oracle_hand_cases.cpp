// The oracle on cases small enough to do on paper (K, V in {1, 2}): each expected value
// is worked out by hand in the comment above its check.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "gdr/core/problem.hpp"
#include "gdr/reference/fused_recurrent.hpp"
#include "support/oracle_case.hpp"

using gdr::DType;
using gdr::Layout;
using gdr::reference::OracleOptions;
using gdr::reference::Precision;
using gdr::reference::ReductionOrder;
using gdr::reference::run_fused_recurrent;
using gdr::testing::Case;
using gdr::testing::get;
using gdr::testing::i64;
using gdr::testing::kBothPrecisions;
using gdr::testing::put;

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

TEST_CASE("oracle hand: circular with Slots < T overwrites the read slot, and the state of L tokens is in slot L mod Slots",
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

TEST_CASE("oracle hand: non-circular reads and writes slot 0 only, and output_final_state = false writes no state",
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

TEST_CASE("oracle hand: one cache-rounding flip, carried to the next token", "[oracle]") {
    // K = V = 1, circular, Slots = 2, f16 state, no g, beta = 0.5, k = 0.5, q = 2, h0 = 4,
    // v = 3 + 2^-7: token 0 gives h = 0.875 h0 + 0.25 v = 4.25 + 2^-9, a tie between two f16
    // values (one ulp at 4.25 is 2^-8): a legal kernel a hair off rounds either way. Token 1
    // may therefore start one ulp off (w = 2^-8):
    //   h moves by at most w + k beta k w = 1.125 w;
    //   o by at most 1.125 w |q| = 2.25 w (the bound is termwise).
    // Token 0 follows no round trip: no flip there.
    Case c(1, 2, 1, 1, 1, 1, Layout::KV, 2, -1, DType::f16, DType::f64, DType::f64);
    c.set_h(0, 0, 0, {{4}});
    c.p.g.data = nullptr;
    for (i64 t : {0, 1})
        c.set_beta(0, t, 0, 0.5), c.set_k(0, t, 0, {0.5}), c.set_v(0, t, 0, {3 + std::ldexp(1.0, -7)}),
            c.set_q(0, t, 0, {2});
    c.use_cache_seqlens({0});
    std::vector<double> o_flip(c.o.size() / 8, -1.0), state_flip(c.bank.size() / 8, -1.0);
    OracleOptions options;
    options.magnitudes.o_flip = o_flip.data();
    options.magnitudes.state_flip = state_flip.data();
    run_fused_recurrent(c.p, options);
    const double w = std::ldexp(1.0, -8);
    CHECK(o_flip[std::size_t(c.vo_index(0, 0, 0, 0))] == 0);
    CHECK(o_flip[std::size_t(c.vo_index(0, 1, 0, 0))] == 2.25 * w);
    CHECK(state_flip[std::size_t(c.state_index(0, 1, 0, 0, 0))] == 0);          // token 0 wrote slot 1
    CHECK(state_flip[std::size_t(c.state_index(0, 0, 0, 0, 0))] == 1.125 * w);  // token 1 wrote slot 0

    // With v = 3, token 0's h = 4.25 is an f16 value: nothing near it rounds elsewhere, the
    // kernel reads back R64's value exactly and no flip is allowed.
    for (i64 t : {0, 1}) c.set_v(0, t, 0, {3});
    run_fused_recurrent(c.p, options);
    CHECK(o_flip[std::size_t(c.vo_index(0, 1, 0, 0))] == 0);
    CHECK(state_flip[std::size_t(c.state_index(0, 0, 0, 0, 0))] == 0);
}
