// The CUDA decode kernel against the oracle over random specs spanning every feature of
// docs/SPEC.md, judged by the harness (tolerance rule, exact rows bitwise, poison, guard bands,
// untouched bank, inputs unchanged, determinism). A failure shrinks to a minimal case and
// prints `gdr check` and RC_PARAMS reproduce commands.
#include <catch2/catch.hpp>

#include "gdr/harness/runner.hpp"
#include "gdr/harness/decode_cases.hpp"
#include "support/rc_property.hpp"
#include "support/builtin_subjects.hpp"

using gdr::harness::CaseReport;
using gdr::harness::CaseSpec;
using gdr::harness::Outcome;

TEST_CASE("cuda decode property: random cases pass against the oracle", "[gpu][property][decode]") {
    const gdr::harness::ToleranceTable tolerances = gdr::harness::ToleranceTable::load_default();
    auto subject = gdr::testing::cuda_decode();
    const gdr::harness::CaseGenConfig config = gdr::harness::decode_case_config();
    gdr::testing::check_property("cuda-decode vs oracle", [&] {
        CaseSpec spec = *gdr::harness::gen_case(config);
        gdr::harness::bound_work(spec, std::int64_t(1) << 21);  // about 2M state elements per case
        RC_CLASSIFY(spec.layout == gdr::Layout::VK, "VK");
        RC_CLASSIFY(spec.circular, "circular");
        RC_CLASSIFY(spec.circular && spec.seqlen_max + spec.seq_len > spec.slots, "wraparound possible");
        RC_CLASSIFY(spec.circular && spec.slots == spec.seq_len, "Slots == T");
        RC_CLASSIFY(spec.inactive_rows > 0 || spec.negative_seqlens > 0, "inactive rows");
        RC_CLASSIFY(spec.num_value_heads > spec.num_heads, "grouped heads");
        RC_CLASSIFY(spec.varlen, "varlen");
        RC_CLASSIFY(spec.exact, "exact");
        RC_CLASSIFY(spec.strides != gdr::harness::StrideRule::contiguous, "strided");
        RC_CLASSIFY(spec.key_dim > 128, "K > 128");
        const CaseReport report = gdr::harness::run_case(spec, *subject, tolerances);
        if (report.outcome != Outcome::passed) RC_FAIL(format_failure(report));
    });
}
