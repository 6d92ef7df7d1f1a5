// Input generation, the values materialize gives: pure counter-based draws, determinism,
// shrink stability, layout-free logical values and exact mode with its halving budget.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <set>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "gdr/core/problem.hpp"
#include "gdr/harness/case_gen.hpp"
#include "gdr/harness/generate.hpp"
#include "gdr/reference/oracle_threads.hpp"
#include "gdr/reference/numeric.hpp"
#include "support/host_case_tools.hpp"
#include "support/rc_property.hpp"

using gdr::DType;
using gdr::harness::CaseSpec;
using gdr::harness::HostCase;
using gdr::harness::HostTensor;
using gdr::harness::materialize;
using gdr::testing::flat;
using gdr::testing::for_each_index;
using gdr::testing::row_active;
using gdr::testing::row_info;
using gdr::testing::RowInfo;

namespace {

// Every element of `small` equals the element of `big` at the same logical coordinates.
// Where both tensors have an element (and, for banks, `keep(index)` says so), the same bits.
bool same_where_both_exist(const HostTensor& small, const HostTensor& big,
                           const std::function<bool(const std::vector<std::int64_t>&)>& keep = {}) {
    bool ok = true;
    for_each_index(small.shape(), [&](const std::vector<std::int64_t>& index) {
        if (keep && !keep(index)) return;
        const double a = small.get(flat(small.shape(), index));
        const double b = big.get(flat(big.shape(), index));
        if (std::memcmp(&a, &b, sizeof a) != 0) ok = false;
    });
    return ok;
}

bool same_bytes(const HostTensor& a, const HostTensor& b) {
    return a.shape() == b.shape() && a.strides() == b.strides() && a.dtype() == b.dtype() && a.bytes() == b.bytes();
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
        const std::int64_t n = c.bank_entry(r);
        const std::int64_t slot = s.circular ? c.cache_seqlens[std::size_t(r)] % s.slots : 0;
        for (std::int64_t hv = 0; hv < HV; ++hv) {
            const std::int64_t h = hv / (HV / H);
            std::vector<Scalar> state(std::size_t(K * V));
            for (std::int64_t x = 0; x < K; ++x)
                for (std::int64_t y = 0; y < V; ++y) {
                    const std::int64_t a = s.layout == gdr::Layout::KV ? x : y, b = s.layout == gdr::Layout::KV ? y : x;
                    const std::int64_t d3 = s.layout == gdr::Layout::KV ? K : V,
                                       d4 = s.layout == gdr::Layout::KV ? V : K;
                    state[std::size_t(x * V + y)] =
                        Scalar(bank[std::size_t((((n * s.slots + slot) * HV + hv) * d3 + a) * d4 + b)]);
                }
            for (std::int64_t t = row.begin; t < row.end; ++t) {
                const std::int64_t tok = row.batch_row * T + t;
                const Scalar alpha = s.has_g ? Scalar(std::exp(Scalar(g[std::size_t(tok * HV + hv)]))) : Scalar(1);
                const Scalar bt = s.has_beta ? Scalar(beta[std::size_t(tok * HV + hv)]) : Scalar(1);
                for (auto& e : state) e *= alpha;
                for (std::int64_t y = 0; y < V; ++y) {
                    Scalar dot = 0;
                    for (std::int64_t x = 0; x < K; ++x)
                        dot += state[std::size_t(x * V + y)] * Scalar(k[std::size_t((tok * H + h) * K + x)]);
                    const Scalar u = bt * (Scalar(v[std::size_t((tok * HV + hv) * V + y)]) - dot);
                    for (std::int64_t x = 0; x < K; ++x)
                        state[std::size_t(x * V + y)] += Scalar(k[std::size_t((tok * H + h) * K + x)]) * u;
                    Scalar o = 0;
                    for (std::int64_t x = 0; x < K; ++x)
                        o += state[std::size_t(x * V + y)] * (Scalar(q[std::size_t((tok * H + h) * K + x)]) * scale);
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
        // Bank slots keep their values where an active row reads them in both cases; a slot
        // no row reads holds the cheap fill (generate.hpp).
        const auto read_in = [](const HostCase& c) {
            std::set<std::pair<std::int64_t, std::int64_t>> read;  // (entry, slot)
            for (std::int64_t r = 0; r < c.spec.rows(); ++r)
                if (c.row_is_active(r))
                    read.insert({c.bank_entry(r),
                                 c.spec.circular ? std::int64_t(c.cache_seqlens[std::size_t(r)]) % c.spec.slots : 0});
            return read;
        };
        const auto read_a = read_in(a), read_b = read_in(b);
        RC_ASSERT(same_where_both_exist(b.initial_bank, a.initial_bank, [&](const std::vector<std::int64_t>& i) {
            return read_a.count({i[0], i[1]}) && read_b.count({i[0], i[1]});
        }));
    });
}

TEST_CASE("generate: entries no active row reads hold the cheap fill, of the same scale", "[generate]") {
    // N = 8 entries, rows 0..3 name entries by a permutation: four are read, four are not.
    const HostCase c = materialize(gdr::harness::parse_text("B=4 T=1 H=1 HV=2 K=16 V=16 N=8 indices=permutation state_scale=2 seed=5"));
    std::set<std::int64_t> read;
    for (std::int64_t r = 0; r < 4; ++r) read.insert(c.state_indices[std::size_t(r)]);
    REQUIRE(read.size() == 4);
    const std::int64_t entry = c.initial_bank.numel() / 8;
    double largest_unread = 0, largest_read = 0, sum_squares_unread = 0;
    for (std::int64_t i = 0; i < c.initial_bank.numel(); ++i) {
        const double x = c.initial_bank.get(i);
        if (read.count(i / entry)) {
            largest_read = std::max(largest_read, std::abs(x));
        } else {
            largest_unread = std::max(largest_unread, std::abs(x));
            sum_squares_unread += x * x;
        }
    }
    // Uniform on [-2 sqrt 3, 2 sqrt 3] (variance 4) where unread; normal (tails past that) where read.
    CHECK(largest_unread <= 2 * std::sqrt(3.0));
    CHECK(largest_read > 2 * std::sqrt(3.0));
    CHECK(sum_squares_unread / double(4 * entry) == Approx(4.0).epsilon(0.1));
}

TEST_CASE("generate: generator 2's bank draws are N(0, 1), and generator 1 keeps its values", "[generate]") {
    // Both rows read their entry's slot 0: every element is a normal draw.
    const CaseSpec spec = gdr::harness::parse_text("B=2 T=1 H=1 HV=1 K=64 V=64 seed=3");
    CaseSpec spec1 = spec;
    spec1.generator = 1;
    const HostCase two = materialize(spec), one = materialize(spec1);
    const std::int64_t n = two.initial_bank.numel();
    double sum = 0, sum2 = 0, sum4 = 0, largest = 0;
    std::int64_t beyond_two = 0, differ = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        const double z = two.initial_bank.get(i);
        sum += z;
        sum2 += z * z;
        sum4 += z * z * z * z;
        largest = std::max(largest, std::abs(z));
        beyond_two += std::abs(z) > 2;
        differ += z != one.initial_bank.get(i);
    }
    CHECK(std::abs(sum / double(n)) < 0.05);
    CHECK(std::abs(sum2 / double(n) - 1) < 0.05);
    CHECK(std::abs(sum4 / double(n) - 3) < 0.3);             // a normal's kurtosis, not a uniform's 1.8
    CHECK(std::abs(double(beyond_two) / double(n) - 0.0455) < 0.01);
    CHECK(largest > 3);
    CHECK(differ > n - 8);
    // The values are part of every replay file's meaning: pinned (an f32 bank, so exact).
    CHECK(two.initial_bank.get(0) == 0x1.9a37f8p-1);
    CHECK(two.initial_bank.get(1) == 0x1.4a81cep-1);
    CHECK(two.initial_bank.get(63) == -0x1.04fd14p-2);
    CHECK(two.initial_bank.get(4873) == 0x1.02986ep-3);
    // Generator 1: the values of gdr-replay/1 files, as they were made before generator 2.
    CHECK(one.initial_bank.get(0) == -0x1.df5998p-1);
    CHECK(one.initial_bank.get(1) == 0x1.fcf4fp-1);
    CHECK(one.initial_bank.get(63) == 0x1.cec8dap-2);
    CHECK(one.initial_bank.get(4873) == -0x1.1dacb2p+0);
}

TEST_CASE("generate: the bank's bytes do not depend on the thread count", "[generate]") {
    const CaseSpec spec = gdr::harness::parse_text("B=4 T=1 H=2 HV=4 K=64 V=64 N=40 indices=permutation seed=9");
    const int threads = gdr::reference::oracle_threads();
    gdr::reference::set_oracle_threads(1);
    const HostCase one = materialize(spec);
    gdr::reference::set_oracle_threads(4);
    const HostCase four = materialize(spec);
    gdr::reference::set_oracle_threads(threads);
    CHECK(one.initial_bank.bytes() == four.initial_bank.bytes());
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
            RC_ASSERT(c.q.strides() != ref.q.strides() ||
                      (base.batch == 1 && base.seq_len == 1 && base.num_heads == 1 &&
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

TEST_CASE("generate: special values land where the spec says, nothing else changes", "[generate]") {
    using gdr::harness::parse_text;
    const std::string base = "B=3 T=2 H=2 HV=4 K=3 V=5 layout=vk in=bf16 gate=f32 state=f16 strides=padded N=4 indices=permutation seed=21";
    const auto plain = gdr::harness::materialize(parse_text(base));
    const auto special = gdr::harness::materialize(
        parse_text(base + " specials=v:nan@2.1.3.4,k:-inf@0.0.1.2,beta:sub@1.1.2,state:inf@3.0.2.1.4,q:nan"));
    const auto at = [](const gdr::harness::HostTensor& t, std::initializer_list<std::int64_t> index) {
        std::int64_t offset = 0;
        std::size_t d = 0;
        for (const std::int64_t i : index) offset += i * t.strides()[d++];
        return gdr::reference::load_double(t.data(), t.dtype(), offset);
    };
    CHECK(std::isnan(at(special.v, {2, 1, 3, 4})));
    CHECK(at(special.k, {0, 0, 1, 2}) == -std::numeric_limits<double>::infinity());
    CHECK(at(special.beta, {1, 1, 2}) == 0.375 * std::ldexp(1.0, -126));
    CHECK(at(special.initial_bank, {3, 0, 2, 4, 1}) == std::numeric_limits<double>::infinity());  // VK: [v][k]
    CHECK(special.initial_bank.get(0) == plain.initial_bank.get(0));
    // The hashed q element: exactly one element of q differs from the plain case, and it is NaN.
    std::int64_t changed = 0;
    for (std::int64_t i = 0; i < plain.q.numel(); ++i) {
        const double a = plain.q.get(i), b = special.q.get(i);
        if (a == b) continue;
        ++changed;
        CHECK(std::isnan(b));
    }
    CHECK(changed == 1);
    // f16 subnormal: 0.375 x 2^-14, exact in f16.
    const auto f16 = gdr::harness::materialize(parse_text("B=1 T=1 H=1 HV=1 K=2 V=2 in=f16 gate=f16 specials=g:sub@0.0.0 seed=1"));
    CHECK(f16.g.get(0) == 0.375 * std::ldexp(1.0, -14));
}
