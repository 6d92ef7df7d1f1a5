// Input generation: determinism, shrink stability, exact mode, index rules, strides,
// poison in the run buffers and the written-slice list of docs/SPEC.md.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "gdr/core/errors.hpp"
#include "gdr/core/poison.hpp"
#include "gdr/core/problem.hpp"
#include "gdr/harness/generate.hpp"
#include "gdr/reference/numeric.hpp"
#include "gdr/harness/case_gen.hpp"
#include "support/host_case_tools.hpp"
#include "support/rc_property.hpp"

using gdr::DType;
using gdr::harness::CaseSpec;
using gdr::harness::HostCase;
using gdr::harness::HostTensor;
using gdr::harness::materialize;
using gdr::harness::parse_text;
using gdr::testing::flat;
using gdr::testing::for_each_index;

namespace {

// Every element of `small` equals the element of `big` at the same logical coordinates.
bool same_where_both_exist(const HostTensor& small, const HostTensor& big) {
    bool ok = true;
    for_each_index(small.shape(), [&](const std::vector<std::int64_t>& index) {
        const double a = small.get(flat(small.shape(), index));
        const double b = big.get(flat(big.shape(), index));
        if (std::memcmp(&a, &b, sizeof a) != 0) ok = false;
    });
    return ok;
}

bool same_bytes(const HostTensor& a, const HostTensor& b) {
    return a.shape() == b.shape() && a.strides() == b.strides() && a.dtype() == b.dtype() && a.bytes() == b.bytes();
}

bool row_active(const HostCase& c, std::int64_t r) {
    if (c.has_state_indices) {
        const auto n = c.state_indices[std::size_t(r)];
        if (n < 0 || n >= c.spec.resolved_bank_entries()) return false;
    }
    return !(c.spec.circular && c.cache_seqlens[std::size_t(r)] < 0);
}

struct RowInfo {
    std::int64_t batch_row, begin, end;
};
RowInfo row_info(const HostCase& c, std::int64_t r) {
    if (!c.spec.varlen) return {r, 0, c.spec.seq_len};
    std::int64_t begin = 0;
    for (std::int64_t i = 0; i < r; ++i) begin += c.spec.seq_lengths[std::size_t(i)];
    return {0, begin, begin + c.spec.seq_lengths[std::size_t(r)]};
}

bool on_half_grid(double x) { return x >= -1 && x <= 1 && std::floor(2 * x) == 2 * x; }

// The recurrence of docs/SPEC.md over logical values in Scalar arithmetic, recording every
// state value it stores and every output. Exact-mode inputs must give identical records
// in float and in double.
template <class Scalar>
std::vector<double> recurrence_trace(const HostCase& c) {
    const CaseSpec& s = c.spec;
    const auto q = c.q.to_doubles(), k = c.k.to_doubles(), v = c.v.to_doubles(), bank = c.initial_bank.to_doubles();
    const auto g = c.g.to_doubles(), beta = c.beta.to_doubles();
    const std::int64_t H = s.num_heads, HV = s.num_value_heads, K = s.key_dim, V = s.value_dim, T = s.seq_len;
    const Scalar scale = Scalar(*s.scale);
    std::vector<double> trace;
    for (std::int64_t r = 0; r < s.rows(); ++r) {
        if (!row_active(c, r)) continue;
        const RowInfo row = row_info(c, r);
        const std::int64_t n = c.has_state_indices ? c.state_indices[std::size_t(r)] : r;
        const std::int64_t slot = s.circular ? c.cache_seqlens[std::size_t(r)] % s.slots : 0;
        for (std::int64_t hv = 0; hv < HV; ++hv) {
            const std::int64_t h = hv / (HV / H);
            std::vector<Scalar> state(std::size_t(K * V));
            for (std::int64_t x = 0; x < K; ++x)
                for (std::int64_t y = 0; y < V; ++y) {
                    const std::int64_t a = s.layout == gdr::Layout::KV ? x : y, b = s.layout == gdr::Layout::KV ? y : x;
                    const std::int64_t d3 = s.layout == gdr::Layout::KV ? K : V, d4 = s.layout == gdr::Layout::KV ? V : K;
                    state[std::size_t(x * V + y)] = Scalar(bank[std::size_t((((n * s.slots + slot) * HV + hv) * d3 + a) * d4 + b)]);
                }
            for (std::int64_t t = row.begin; t < row.end; ++t) {
                const std::int64_t tok = row.batch_row * T + t;
                const Scalar alpha = s.has_g ? Scalar(std::exp(Scalar(g[std::size_t(tok * HV + hv)]))) : Scalar(1);
                const Scalar bt = s.has_beta ? Scalar(beta[std::size_t(tok * HV + hv)]) : Scalar(1);
                for (auto& e : state) e *= alpha;
                for (std::int64_t y = 0; y < V; ++y) {
                    Scalar dot = 0;
                    for (std::int64_t x = 0; x < K; ++x) dot += state[std::size_t(x * V + y)] * Scalar(k[std::size_t((tok * H + h) * K + x)]);
                    const Scalar u = bt * (Scalar(v[std::size_t((tok * HV + hv) * V + y)]) - dot);
                    for (std::int64_t x = 0; x < K; ++x) state[std::size_t(x * V + y)] += Scalar(k[std::size_t((tok * H + h) * K + x)]) * u;
                    Scalar o = 0;
                    for (std::int64_t x = 0; x < K; ++x) o += state[std::size_t(x * V + y)] * (Scalar(q[std::size_t((tok * H + h) * K + x)]) * scale);
                    trace.push_back(double(o));
                }
                for (const auto e : state) trace.push_back(double(e));
            }
        }
    }
    return trace;
}

gdr::harness::CaseGenConfig fixed_length_config() {
    gdr::harness::CaseGenConfig config;
    config.varlen = false;
    config.indices = false;
    config.circular = false;
    return config;
}

}  // namespace

TEST_CASE("host tensor: strided offsets, conversion, poison and the size guard", "[generate][host_tensor]") {
    HostTensor t(DType::f32, {2, 3}, {10, 2});
    CHECK(t.numel() == 6);
    CHECK(t.storage_bytes() == (10 + 2 * 2 + 1) * 4);
    CHECK(t.offset_of(0) == 0);
    CHECK(t.offset_of(4) == 12);  // (1, 1)
    CHECK_THROWS_AS(t.offset_of(6), std::out_of_range);
    t.set(5, 1.0 / 3.0);
    CHECK(t.get(5) == double(1.0f / 3.0f));  // one rounding to f32

    HostTensor dense(DType::bf16, {2, 2});
    CHECK(dense.strides() == std::vector<std::int64_t>{2, 1});
    dense.set(1, 1.0 + 1.0 / 128.0 + 1.0 / 1024.0);  // rounds to nearest even in bf16
    CHECK(dense.get(1) == 1.0 + 1.0 / 128.0);
    const HostTensor wide = dense.converted(DType::f64);
    CHECK(wide.get(1) == dense.get(1));
    CHECK(wide.strides() == dense.strides());

    dense.poison();
    CHECK(dense.poison_survivors() == 4);
    dense.set(2, 0.5);
    CHECK(dense.poison_survivors() == 3);
    CHECK_FALSE(dense.element_is_poison(2));
    CHECK(dense.element_is_poison(3));

    CHECK(HostTensor{}.empty());
    CHECK(HostTensor(DType::f32, {3, 0}).storage_bytes() == 0);
    CHECK_THROWS_AS(HostTensor(DType::f32, {std::int64_t(1) << 40, std::int64_t(1) << 40}), gdr::InvalidArgument);
    CHECK_THROWS_AS(HostTensor(DType::f32, {2}, {std::int64_t(1) << 62}), gdr::InvalidArgument);
    CHECK_THROWS_AS(HostTensor(DType::f32, {-1}), gdr::InvalidArgument);
    CHECK_THROWS_AS(HostTensor(DType::f32, {2, 2}, {1}), gdr::InvalidArgument);
}

TEST_CASE("generate: counter-based draws are pure and well distributed", "[generate]") {
    using gdr::harness::standard_normal;
    using gdr::harness::uniform01;
    CHECK(uniform01(1, 2, 3) == uniform01(1, 2, 3));
    CHECK(uniform01(1, 2, 3) != uniform01(1, 2, 4));
    CHECK(uniform01(1, 2, 3) != uniform01(1, 3, 3));
    CHECK(uniform01(1, 2, 3) != uniform01(2, 2, 3));
    double sum = 0, sum2 = 0, usum = 0, umin = 1, umax = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
        const double z = standard_normal(7, 1, std::uint64_t(i));
        REQUIRE(std::isfinite(z));
        sum += z;
        sum2 += z * z;
        const double u = uniform01(7, 1, std::uint64_t(i));
        REQUIRE(u >= 0);
        REQUIRE(u < 1);
        usum += u;
        umin = std::min(umin, u);
        umax = std::max(umax, u);
    }
    CHECK(std::abs(sum / n) < 0.05);
    CHECK(std::abs(sum2 / n - 1) < 0.05);
    CHECK(std::abs(usum / n - 0.5) < 0.02);
    CHECK(umin < 0.001);
    CHECK(umax > 0.999);
}

TEST_CASE("generate: materialize is deterministic", "[generate][property]") {
    gdr::testing::check_property("same spec, same bytes", [](const CaseSpec& spec) {
        const HostCase a = materialize(spec), b = materialize(spec);
        RC_ASSERT(same_bytes(a.q, b.q));
        RC_ASSERT(same_bytes(a.k, b.k));
        RC_ASSERT(same_bytes(a.v, b.v));
        RC_ASSERT(same_bytes(a.g, b.g));
        RC_ASSERT(same_bytes(a.beta, b.beta));
        RC_ASSERT(same_bytes(a.initial_bank, b.initial_bank));
        RC_ASSERT(a.state_indices == b.state_indices);
        RC_ASSERT(a.cache_seqlens == b.cache_seqlens);
        RC_ASSERT(a.cu_seqlens_i32 == b.cu_seqlens_i32);
        RC_ASSERT(a.cu_seqlens_i64 == b.cu_seqlens_i64);
        // A different seed gives different data (catches a generator ignoring the seed).
        CaseSpec other = spec;
        other.seed = spec.seed + 1;
        RC_ASSERT(!same_bytes(materialize(other).v, a.v) || a.v.numel() <= 2);
    });
}

TEST_CASE("generate: a shrunk case keeps the values of the elements it still has", "[generate][property]") {
    gdr::testing::check_property("shrink stability", [] {
        const CaseSpec big = *gdr::harness::gen_case(fixed_length_config());
        CaseSpec small = big;
        small.batch = *rc::gen::inRange<std::int64_t>(1, big.batch + 1);
        small.seq_len = *rc::gen::inRange<std::int64_t>(1, big.seq_len + 1);
        small.num_heads = *rc::gen::inRange<std::int64_t>(1, big.num_heads + 1);
        const std::int64_t group = *rc::gen::inRange<std::int64_t>(1, big.num_value_heads / big.num_heads + 1);
        small.num_value_heads = small.num_heads * group;
        // One-hot positions (exact) and the l2-normalisation depend on K by design.
        if (!big.exact && big.qk != gdr::harness::QKDistribution::l2normalized)
            small.key_dim = *rc::gen::inRange<std::int64_t>(1, big.key_dim + 1);
        small.value_dim = *rc::gen::inRange<std::int64_t>(1, big.value_dim + 1);
        small.slots = *rc::gen::inRange<std::int64_t>(1, big.slots + 1);
        RC_LOG() << "big:   " << gdr::harness::to_text(big) << "\nsmall: " << gdr::harness::to_text(small) << "\n";
        const HostCase a = materialize(big), b = materialize(small);
        RC_ASSERT(same_where_both_exist(b.q, a.q));
        RC_ASSERT(same_where_both_exist(b.k, a.k));
        RC_ASSERT(same_where_both_exist(b.v, a.v));
        RC_ASSERT(same_where_both_exist(b.g, a.g));
        RC_ASSERT(same_where_both_exist(b.beta, a.beta));
        RC_ASSERT(same_where_both_exist(b.initial_bank, a.initial_bank));
    });
}

TEST_CASE("generate: strides, layout and varlen do not change logical values", "[generate][property]") {
    gdr::testing::check_property("logical values are layout-free", [] {
        CaseSpec base = *gdr::harness::gen_case(fixed_length_config());
        base.strides = gdr::harness::StrideRule::contiguous;
        base.layout = gdr::Layout::KV;
        const HostCase ref = materialize(base);
        for (const auto rule : {gdr::harness::StrideRule::padded, gdr::harness::StrideRule::fused}) {
            CaseSpec s = base;
            s.strides = rule;
            const HostCase c = materialize(s);
            RC_ASSERT(c.q.to_doubles() == ref.q.to_doubles());
            RC_ASSERT(c.k.to_doubles() == ref.k.to_doubles());
            RC_ASSERT(c.v.to_doubles() == ref.v.to_doubles());
            RC_ASSERT(c.q.strides() != ref.q.strides() || (base.batch == 1 && base.seq_len == 1 && base.num_heads == 1 &&
                                                            rule == gdr::harness::StrideRule::fused));
        }
        CaseSpec vk = base;
        vk.layout = gdr::Layout::VK;
        const HostCase t = materialize(vk);
        const auto& shape = ref.initial_bank.shape();
        for_each_index(shape, [&](const std::vector<std::int64_t>& i) {
            const double a = ref.initial_bank.get(flat(shape, i));
            const double b = t.initial_bank.get(flat(t.initial_bank.shape(), {i[0], i[1], i[2], i[4], i[3]}));
            RC_ASSERT(a == b);
        });
        // B equal-length rows = one varlen batch of B sequences of T tokens, same values.
        CaseSpec var = base;
        var.varlen = true;
        var.batch = 1;
        var.seq_lengths.assign(std::size_t(base.batch), base.seq_len);
        var.seq_len = base.batch * base.seq_len;
        const HostCase w = materialize(var);
        RC_ASSERT(w.q.to_doubles() == ref.q.to_doubles());
        RC_ASSERT(w.k.to_doubles() == ref.k.to_doubles());
        RC_ASSERT(w.v.to_doubles() == ref.v.to_doubles());
        RC_ASSERT(w.g.to_doubles() == ref.g.to_doubles());
        RC_ASSERT(w.beta.to_doubles() == ref.beta.to_doubles());
        RC_ASSERT(w.initial_bank.to_doubles() == ref.initial_bank.to_doubles());
    });
}

TEST_CASE("generate: exact mode is dyadic and its recurrence is exact in fp32", "[generate][property]") {
    gdr::harness::CaseGenConfig config;
    config.exact = gdr::harness::ExactMode::always;
    config.max_seq_len = 16;
    config.max_key_dim = 64;
    config.max_value_dim = 6;
    gdr::testing::check_property("exact inputs", [&] {
        const CaseSpec s = *gdr::harness::gen_case(config);
        RC_CLASSIFY(s.has_beta && s.beta == gdr::harness::BetaDistribution::half, "beta=1/2");
        const HostCase c = materialize(s);
        for (const double x : c.q.to_doubles()) RC_ASSERT(on_half_grid(x));
        for (const double x : c.v.to_doubles()) RC_ASSERT(on_half_grid(x));
        for (const double x : c.initial_bank.to_doubles()) RC_ASSERT(on_half_grid(x));
        for (const double x : c.g.to_doubles()) RC_ASSERT(x == 0.0);
        for (const double x : c.beta.to_doubles()) RC_ASSERT((x == 1.0 || x == 0.5));
        const auto k = c.k.to_doubles();
        for (std::size_t i = 0; i < k.size(); i += std::size_t(s.key_dim)) {
            int nonzero = 0;
            for (std::int64_t x = 0; x < s.key_dim; ++x) {
                const double e = k[i + std::size_t(x)];
                RC_ASSERT((e == 0.0 || e == 1.0 || e == -1.0));
                nonzero += e != 0.0;
            }
            RC_ASSERT(nonzero == 1);
        }
        const std::vector<double> in_float = recurrence_trace<float>(c);
        const std::vector<double> in_double = recurrence_trace<double>(c);
        RC_ASSERT(in_float == in_double);
        // Every state value stays representable in the state dtype (the round trip is exact).
        const std::int64_t per_token = s.value_dim + s.key_dim * s.value_dim;
        for (std::size_t i = 0; i < in_double.size(); ++i)
            if (std::int64_t(i) % per_token >= s.value_dim)
                RC_ASSERT(gdr::reference::round_to(s.state_dtype, in_double[i]) == in_double[i]);
    });
}

TEST_CASE("generate: the exact halving budget is tight for the worst case", "[generate]") {
    // The two limits of exact_halving_budget, each driven to its worst case; one step past
    // the budget must round, or the budget would be needlessly small (and the check could
    // not fail).
    SECTION("the K-sum for o in fp32") {
        // One state row halved toward +1/2 every token (h <- (h + 1/2) / 2 grows a bit each
        // time), every other row 1, q = 1/2 everywhere: o needs log2(K) + t + 2 bits.
        for (const std::int64_t K : {16, 64, 128}) {
            const std::int64_t budget = gdr::harness::exact_halving_budget(DType::f32, K);
            INFO("K = " << K << ", budget = " << budget);
            bool exact_within = true, exact_after = true;
            double hd = 0;
            float hf = 0;
            for (std::int64_t t = 1; t <= budget + 2; ++t) {
                hd = (hd + 0.5) * 0.5;
                hf = (hf + 0.5f) * 0.5f;
                double od = 0;
                float of = 0;
                for (std::int64_t x = 0; x < K - 1; ++x) {
                    od += 0.5;
                    of += 0.5f;
                }
                od += hd * 0.5;
                of += hf * 0.5f;
                (t <= budget ? exact_within : exact_after) &= double(of) == od;
            }
            CHECK(exact_within);
            CHECK_FALSE(exact_after);
        }
    }
    SECTION("the state in its own dtype") {
        // h0 = 1/2, v = 1, beta = 1/2: h_t = 1 - 2^-(t+1) has t + 1 significant bits.
        for (const DType state : {DType::bf16, DType::f16}) {
            const std::int64_t budget = gdr::harness::exact_halving_budget(state, 1);
            INFO("state " << gdr::to_string(state) << ", budget = " << budget);
            double h = 0.5;
            for (std::int64_t t = 1; t <= budget; ++t) {
                h = h + 0.5 * (1.0 - h);
                CHECK(gdr::reference::round_to(state, h) == h);
            }
            h = h + 0.5 * (1.0 - h);
            CHECK(gdr::reference::round_to(state, h) != h);
        }
    }
    CHECK(gdr::harness::exact_halving_budget(DType::bf16, 16) == 7);
    CHECK(gdr::harness::exact_halving_budget(DType::f16, 16) == 10);
    CHECK(gdr::harness::exact_halving_budget(DType::f32, 64) == 16);
    CHECK(gdr::harness::exact_halving_budget(DType::f32, 128) == 15);
}

TEST_CASE("generate: state_indices and cache_seqlens rules", "[generate][property]") {
    gdr::testing::check_property("permutation", [] {
        const std::int64_t rows = *rc::gen::inRange<std::int64_t>(1, 40);
        const std::int64_t inactive = *rc::gen::inRange<std::int64_t>(0, rows + 1);
        const std::int64_t n = rows - inactive + *rc::gen::inRange<std::int64_t>(0, 10) + (rows == inactive);
        CaseSpec s;
        s.batch = rows;
        s.key_dim = s.value_dim = 1;
        s.indices = gdr::harness::IndicesRule::permutation;
        s.inactive_rows = inactive;
        s.bank_entries = n;
        s.seed = *rc::gen::arbitrary<std::uint64_t>();
        const HostCase c = materialize(s);
        RC_ASSERT(c.has_state_indices);
        RC_ASSERT(std::int64_t(c.state_indices.size()) == rows);
        std::set<std::int64_t> active, kinds;
        std::int64_t inactive_seen = 0;
        for (const auto e : c.state_indices) {
            if (e >= 0 && e < n) {
                RC_ASSERT(active.insert(e).second);  // distinct
            } else {
                ++inactive_seen;
                RC_ASSERT((e == -1 || e == -n - 5 || e == n || e == n + 7));
                kinds.insert(e);
            }
        }
        RC_ASSERT(inactive_seen == inactive);
        RC_ASSERT(std::int64_t(kinds.size()) == std::min<std::int64_t>(inactive, 4));
    });
    gdr::testing::check_property("cache_seqlens", [] {
        const std::int64_t rows = *rc::gen::inRange<std::int64_t>(1, 40);
        CaseSpec s;
        s.batch = rows;
        s.key_dim = s.value_dim = 1;
        s.circular = true;
        s.slots = *rc::gen::inRange<std::int64_t>(1, 5);
        s.seqlen_max = *rc::gen::element<std::int64_t>(0, 1, 7, 100, 2147483647);
        s.negative_seqlens = *rc::gen::inRange<std::int64_t>(0, rows + 1);
        s.seed = *rc::gen::arbitrary<std::uint64_t>();
        const HostCase c = materialize(s);
        std::int64_t negative = 0;
        for (const auto x : c.cache_seqlens) {
            if (x < 0) ++negative;
            else RC_ASSERT(std::int64_t(x) <= s.seqlen_max);
        }
        RC_ASSERT(negative == s.negative_seqlens);
    });
}

TEST_CASE("generate: identity, explicit and cu_seqlens arrays", "[generate]") {
    SECTION("identity, none and explicit") {
        HostCase c = materialize(parse_text("B=3 N=5 indices=identity K=1 V=1"));
        CHECK(c.state_indices == std::vector<std::int64_t>{0, 1, 2});
        c = materialize(parse_text("B=3 K=1 V=1"));
        CHECK_FALSE(c.has_state_indices);
        c = materialize(parse_text("B=2 N=4 explicit_indices=3,-9 circular=1 cache_seqlens=5,-2 K=1 V=1"));
        CHECK(c.state_indices == std::vector<std::int64_t>{3, -9});
        CHECK(c.cache_seqlens == std::vector<std::int32_t>{5, -2});
    }
    SECTION("cu_seqlens") {
        HostCase c = materialize(parse_text("varlen=1 seq_lengths=2,0,3 T=5 K=1 V=1"));
        CHECK(c.cu_seqlens_i32 == std::vector<std::int32_t>{0, 2, 2, 5});
        CHECK(c.cu_seqlens_i64.empty());
        c = materialize(parse_text("varlen=1 seq_lengths=2,0,3 T=5 K=1 V=1 cu_type=i64"));
        CHECK(c.cu_seqlens_i64 == std::vector<std::int64_t>{0, 2, 2, 5});
        CHECK(c.q.shape() == std::vector<std::int64_t>{1, 5, 1, 1});
    }
}

TEST_CASE("generate: padded and fused inputs hold garbage in their gaps", "[generate]") {
    const std::int64_t B = 2, T = 3, H = 2, HV = 4, K = 3, V = 5;
    for (const char* rule : {"padded", "fused"}) {
        INFO("strides=" << rule);
        const HostCase c =
            materialize(parse_text(std::string("B=2 T=3 H=2 HV=4 K=3 V=5 in=f32 strides=") + rule + " seed=11"));
        for (const HostTensor* t : {&c.q, &c.k, &c.v}) {
            const auto& st = t->strides();
            const std::int64_t heads = t == &c.v ? HV : H, dim = t == &c.v ? V : K;
            CHECK(st[3] == 1);
            if (std::string(rule) == "fused") {
                const std::int64_t row = 2 * H * K + HV * V;
                CHECK(st == std::vector<std::int64_t>{T * row, row, dim, 1});
            } else {
                CHECK(st[2] > dim);
                CHECK(st[1] > heads * st[2]);
                CHECK(st[0] > T * st[1]);
            }
            std::set<std::int64_t> logical;
            for (std::int64_t i = 0; i < t->numel(); ++i) logical.insert(t->offset_of(i));
            CHECK(std::int64_t(logical.size()) == B * T * heads * dim);
            const std::int64_t storage = std::int64_t(t->storage_bytes() / 4);
            std::int64_t gaps = 0;
            bool garbage = true;
            for (std::int64_t o = 0; o < storage; ++o) {
                if (logical.count(o)) continue;
                ++gaps;
                const double x = gdr::reference::load_double(t->data(), t->dtype(), o);
                garbage = garbage && std::abs(x) >= 100 && !gdr::is_poison(static_cast<const std::byte*>(t->data()) + 4 * o, 4, DType::f32);
            }
            CHECK(gaps > 0);
            CHECK(garbage);
            for (const double x : t->to_doubles()) CHECK(std::abs(x) < 100);
        }
    }
}

TEST_CASE("generate: written_bank_slices follows docs/SPEC.md", "[generate]") {
    using Slices = std::vector<std::pair<std::int64_t, std::int64_t>>;
    auto slices = [](const char* text) { return gdr::harness::written_bank_slices(materialize(parse_text(text))); };
    CHECK(slices("B=2 T=1 K=1 V=1") == Slices{{0, 0}, {1, 0}});
    CHECK(slices("B=2 T=1 K=1 V=1 final=0").empty());
    CHECK(slices("B=2 T=0 K=1 V=1").empty());
    // Non-circular with several slots still writes slot 0 only.
    CHECK(slices("B=1 T=3 slots=3 K=1 V=1") == Slices{{0, 0}});
    // Inactive rows (negative cache_seqlen, out-of-range index) write nothing.
    CHECK(slices("B=3 T=2 N=3 slots=4 circular=1 cache_seqlens=3,-1,0 explicit_indices=2,0,7 K=1 V=1") ==
          Slices{{2, 0}, {2, 1}});
    // Slots <= T: later tokens overwrite earlier slots, including the read slot; listed once.
    CHECK(slices("T=5 slots=2 circular=1 cache_seqlens=1 K=1 V=1") == Slices{{0, 0}, {0, 1}});
    // Wraparound past the end of the ring, in token order.
    CHECK(slices("T=3 slots=8 circular=1 cache_seqlens=6 K=1 V=1") == Slices{{0, 7}, {0, 0}, {0, 1}});
    // Varlen: a zero-length sequence writes nothing.
    CHECK(slices("varlen=1 seq_lengths=2,0,1 T=3 K=1 V=1") == Slices{{0, 0}, {2, 0}});
    CHECK(slices("varlen=1 seq_lengths=0,3 T=3 circular=1 cache_seqlens=5,2 slots=3 K=1 V=1") ==
          Slices{{1, 0}, {1, 1}, {1, 2}});
    // Permutation: the row's own entry.
    const HostCase p = materialize(parse_text("B=2 N=6 indices=permutation K=1 V=1 seed=3"));
    CHECK(gdr::harness::written_bank_slices(p) == Slices{{p.state_indices[0], 0}, {p.state_indices[1], 0}});
}

TEST_CASE("generate: run buffers poison o and every written slot but the one read", "[generate][property]") {
    SECTION("by hand") {
        // Row reads slot 1 of 2 and writes 0 then 1: slot 0 poisoned, slot 1 kept.
        const HostCase c = materialize(parse_text("T=5 slots=2 circular=1 cache_seqlens=1 K=2 V=3 state=bf16"));
        const auto buffers = gdr::harness::make_run_buffers(c, DType::bf16, DType::bf16);
        const std::int64_t slice = 2 * 3;
        for (std::int64_t i = 0; i < slice; ++i) {
            CHECK(buffers.bank.element_is_poison(i));
            CHECK_FALSE(buffers.bank.element_is_poison(slice + i));
            CHECK(buffers.bank.get(slice + i) == c.initial_bank.get(slice + i));
        }
        CHECK(buffers.o.poison_survivors() == buffers.o.numel());
    }
    gdr::testing::check_property("poison exactly where written", [](const CaseSpec& spec) {
        const HostCase c = materialize(spec);
        const DType o_storage = *rc::gen::element(spec.input_dtype, DType::f64);
        const DType bank_storage = *rc::gen::element(spec.state_dtype, DType::f64);
        const auto buffers = gdr::harness::make_run_buffers(c, o_storage, bank_storage);
        RC_ASSERT(buffers.o.dtype() == o_storage);
        RC_ASSERT(buffers.o.poison_survivors() == buffers.o.numel());
        RC_ASSERT(buffers.bank.dtype() == bank_storage);
        RC_ASSERT(buffers.bank.shape() == c.initial_bank.shape());

        const auto written = gdr::harness::written_bank_slices(c);
        std::set<std::pair<std::int64_t, std::int64_t>> poisoned;
        for (std::int64_t r = 0; r < spec.rows(); ++r) {
            if (!row_active(c, r)) continue;
            const std::int64_t n = c.has_state_indices ? c.state_indices[std::size_t(r)] : r;
            const std::int64_t read = spec.circular ? c.cache_seqlens[std::size_t(r)] % spec.slots : 0;
            const RowInfo row = row_info(c, r);
            std::int64_t count = 0;
            for (const auto& [e, slot] : written) {
                if (e != n) continue;
                ++count;
                if (slot != read) poisoned.insert({e, slot});
            }
            const std::int64_t len = row.end - row.begin;
            const std::int64_t expected = !spec.output_final_state || len == 0 ? 0 : spec.circular ? std::min(len, spec.slots) : 1;
            RC_ASSERT(count == expected);
        }
        const std::int64_t slice = spec.num_value_heads * spec.key_dim * spec.value_dim;
        for (std::int64_t n = 0; n < spec.resolved_bank_entries(); ++n)
            for (std::int64_t slot = 0; slot < spec.slots; ++slot)
                for (std::int64_t i = 0; i < slice; ++i) {
                    const std::int64_t e = (n * spec.slots + slot) * slice + i;
                    if (poisoned.count({n, slot})) {
                        RC_ASSERT(buffers.bank.element_is_poison(e));
                    } else {
                        RC_ASSERT(!buffers.bank.element_is_poison(e));
                        RC_ASSERT(buffers.bank.get(e) == c.initial_bank.get(e));
                    }
                }
    });
}

TEST_CASE("generate: make_problem describes the case and passes core validation", "[generate][property]") {
    gdr::testing::check_property("problem matches", [](const CaseSpec& spec) {
        const HostCase c = materialize(spec);
        auto buffers = gdr::harness::make_run_buffers(c, spec.input_dtype, spec.state_dtype);
        const gdr::Problem p = gdr::harness::make_problem(c, buffers);
        gdr::validate(p);  // throws (and fails the property) on any disagreement
        RC_ASSERT(p.rows() == spec.rows());
        RC_ASSERT(p.key_dim == spec.key_dim);
        RC_ASSERT(p.value_dim == spec.value_dim);
        RC_ASSERT(p.layout == spec.layout);
        // (pointers compared outside RC_ASSERT, which cannot show a void*)
        const bool points_at_buffers = p.state == buffers.bank.data() && (p.o.data == buffers.o.data() || buffers.o.empty()) &&
                                       (p.q.data == c.q.data() || c.q.empty());
        RC_ASSERT(points_at_buffers);
        RC_ASSERT(p.g.present() == (spec.has_g && !c.g.empty()));
        RC_ASSERT(p.beta.present() == (spec.has_beta && !c.beta.empty()));
        RC_ASSERT(p.effective_scale() == (spec.scale ? *spec.scale : 1.0 / std::sqrt(double(spec.key_dim))));
        RC_ASSERT(p.use_qk_l2norm == spec.use_qk_l2norm);
        RC_ASSERT(p.output_final_state == spec.output_final_state);
        for (int d = 0; d < 4; ++d) RC_ASSERT(p.v.stride[std::size_t(d)] == c.v.strides()[std::size_t(d)]);
        for (std::int64_t r = 0; r < spec.rows(); ++r) {
            const RowInfo row = row_info(c, r);
            const gdr::RowTokens tokens = gdr::row_tokens(p, r);
            RC_ASSERT(tokens.batch_row == row.batch_row);
            RC_ASSERT(tokens.begin == row.begin);
            RC_ASSERT(tokens.end == row.end);
            RC_ASSERT(gdr::row_is_active(p, r) == row_active(c, r));
            if (row_active(c, r)) {
                RC_ASSERT(gdr::row_bank_entry(p, r) == (c.has_state_indices ? c.state_indices[std::size_t(r)] : r));
                RC_ASSERT(gdr::row_read_slot(p, r) == (spec.circular ? c.cache_seqlens[std::size_t(r)] % spec.slots : 0));
            }
        }
    });
}

TEST_CASE("generate: materialize rejects invalid specs naming the key", "[generate]") {
    CaseSpec s;
    s.key_dim = 0;
    try {
        (void)materialize(s);
        FAIL("materialize accepted K = 0");
    } catch (const gdr::InvalidArgument& e) {
        CHECK(e.argument() == "K");
    }
}

TEST_CASE("case generator: shrinks to the simplest case and reaches every feature", "[generate][case_gen]") {
    rc::detail::TestListenerAdapter quiet;
    rc::detail::TestParams params;
    params.seed = 77;
    SECTION("an always-failing property shrinks to B=1 T=1 K=1 V=1 with nothing switched on") {
        const auto report = gdr::testing::run_property(
            "case_gen/always fails", "", [](const CaseSpec&) { RC_FAIL("always"); }, params, {}, quiet);
        REQUIRE(report.status == gdr::testing::PropertyStatus::failed);
        const CaseSpec shrunk = parse_text(report.case_spec_text);
        gdr::harness::CaseChoices simplest;
        simplest.seed = shrunk.seed;
        CHECK(gdr::harness::to_text(shrunk) == gdr::harness::to_text(gdr::harness::spec_from_choices(simplest)));
        CHECK(shrunk.batch == 1);
        CHECK(shrunk.seq_len == 1);
        CHECK(shrunk.key_dim == 1);
        CHECK(shrunk.value_dim == 1);
        CHECK_FALSE(shrunk.circular);
        CHECK_FALSE(shrunk.varlen);
        CHECK_FALSE(shrunk.exact);
    }
    SECTION("a failure that needs K >= 5 and circular keeps exactly that") {
        const auto report = gdr::testing::run_property(
            "case_gen/needs K and circular", "",
            [](const CaseSpec& s) { RC_ASSERT(!(s.key_dim >= 5 && s.circular)); }, params, {}, quiet);
        REQUIRE(report.status == gdr::testing::PropertyStatus::failed);
        const CaseSpec shrunk = parse_text(report.case_spec_text);
        CHECK(shrunk.key_dim == 5);
        CHECK(shrunk.circular);
        CHECK(shrunk.batch == 1);
        CHECK(shrunk.value_dim == 1);
        CHECK(shrunk.slots == 1);
        CHECK(shrunk.seqlen_max == 0);
    }
    SECTION("every feature appears") {
        std::map<std::string, int> seen;
        params.maxSuccess = 400;
        const auto report = gdr::testing::run_property(
            "case_gen/coverage", "",
            [&](const CaseSpec& s) {
                seen["circular"] += s.circular;
                seen["varlen"] += s.varlen;
                seen["varlen with an empty sequence"] +=
                    s.varlen && std::count(s.seq_lengths.begin(), s.seq_lengths.end(), 0) > 0;
                seen["identity"] += s.indices == gdr::harness::IndicesRule::identity;
                seen["inactive rows"] += s.inactive_rows > 0;
                seen["negative seqlens"] += s.negative_seqlens > 0;
                seen["padded"] += s.strides == gdr::harness::StrideRule::padded;
                seen["fused"] += s.strides == gdr::harness::StrideRule::fused;
                seen["vk"] += s.layout == gdr::Layout::VK;
                seen["exact"] += s.exact;
                seen["exact with beta 1/2"] += s.exact && s.has_beta && s.beta == gdr::harness::BetaDistribution::half;
                seen["bf16 state"] += s.state_dtype == DType::bf16;
                seen["f16 input"] += s.input_dtype == DType::f16;
                seen["gate in input dtype"] += s.gate_dtype != DType::f32;
                seen["no final state"] += !s.output_final_state;
                seen["l2norm"] += s.use_qk_l2norm;
                seen["huge negative g"] += s.has_g && s.g == gdr::harness::GateDistribution::huge_negative;
                seen["slots > T"] += s.circular && s.slots > s.seq_len;
                seen["K != V"] += s.key_dim != s.value_dim;
                seen["HV > H"] += s.num_value_heads > s.num_heads;
                seen["B = 3"] += s.batch == 3;
                seen["K = 12"] += s.key_dim == 12;
            },
            params, {}, quiet);
        CHECK(report.status == gdr::testing::PropertyStatus::passed);
        for (const auto& [feature, count] : seen) {
            INFO(feature << ": " << count << " of 400");
            CHECK(count > 0);
        }
        CHECK(seen.size() == 22);
    }
}
