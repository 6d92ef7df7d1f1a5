// The RapidCheck case generator (gdr/harness/case_gen.hpp): it shrinks to the simplest
// case, keeps what a failure needs, and reaches every feature.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "gdr/harness/case_gen.hpp"
#include "gdr/harness/case_spec.hpp"
#include "support/rc_property.hpp"

using gdr::DType;
using gdr::harness::CaseSpec;
using gdr::harness::parse_text;

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
            "case_gen/needs K and circular", "", [](const CaseSpec& s) { RC_ASSERT(!(s.key_dim >= 5 && s.circular)); },
            params, {}, quiet);
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
