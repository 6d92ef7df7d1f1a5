// Input generation, the arrays and buffers: state_indices, cache_seqlens and cu_seqlens
// rules, garbage in stride gaps, the written-slice list of docs/SPEC.md, poison in the run
// buffers, make_problem, and invalid specs.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gdr/core/errors.hpp"
#include "gdr/core/poison.hpp"
#include "gdr/core/problem.hpp"
#include "gdr/harness/case_gen.hpp"
#include "gdr/harness/generate.hpp"
#include "gdr/reference/numeric.hpp"
#include "support/host_case_tools.hpp"
#include "support/rc_property.hpp"

using gdr::DType;
using gdr::harness::CaseSpec;
using gdr::harness::HostCase;
using gdr::harness::HostTensor;
using gdr::harness::materialize;
using gdr::harness::parse_text;
using gdr::testing::row_active;
using gdr::testing::row_info;
using gdr::testing::RowInfo;

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
                RC_ASSERT((e == -1 || e == -5 || e == n || e == n + 7));
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
            if (x < 0)
                ++negative;
            else
                RC_ASSERT(std::int64_t(x) <= s.seqlen_max);
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
                garbage = garbage && std::abs(x) >= 100 &&
                          !gdr::is_poison(static_cast<const std::byte*>(t->data()) + 4 * o, 4, DType::f32);
            }
            CHECK(gaps > 0);
            CHECK(garbage);
            for (const double x : t->to_doubles()) CHECK(std::abs(x) < 100);
        }
    }
}

TEST_CASE("generate: written_bank_slices follows SPEC.md", "[generate]") {
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
            const std::int64_t n = c.bank_entry(r);
            const std::int64_t read = spec.circular ? c.cache_seqlens[std::size_t(r)] % spec.slots : 0;
            const RowInfo row = row_info(c, r);
            std::int64_t count = 0;
            for (const auto& [e, slot] : written) {
                if (e != n) continue;
                ++count;
                if (slot != read) poisoned.insert({e, slot});
            }
            const std::int64_t len = row.end - row.begin;
            const std::int64_t expected = !spec.output_final_state || len == 0 ? 0
                                          : spec.circular                      ? std::min(len, spec.slots)
                                                                               : 1;
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
        const bool points_at_buffers = p.state == buffers.bank.data() &&
                                       (p.o.data == buffers.o.data() || buffers.o.empty()) &&
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
                RC_ASSERT(gdr::row_bank_entry(p, r) == (c.bank_entry(r)));
                RC_ASSERT(gdr::row_read_slot(p, r) ==
                          (spec.circular ? c.cache_seqlens[std::size_t(r)] % spec.slots : 0));
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
