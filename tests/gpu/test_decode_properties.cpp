// The CUDA decode kernel against the oracle over random specs spanning every feature of
// SPEC.md, judged by the harness (tolerance rule, exact rows bitwise, poison, guard bands,
// untouched bank, inputs unchanged, determinism). A failure shrinks to a minimal case and
// prints `gdr check` and RC_PARAMS reproduce commands.
#include <catch2/catch.hpp>

#include "gdr/harness/runner.hpp"
#include "support/case_gen.hpp"
#include "support/rc_property.hpp"

using gdr::harness::CaseReport;
using gdr::harness::CaseSpec;
using gdr::harness::Outcome;

namespace {

// Caps B so that one case stays small enough for the CPU oracle (about 2M state elements
// per token); shrinking still works, since the cap only lowers B.
void bound_work(CaseSpec& spec) {
    constexpr std::int64_t budget = std::int64_t(1) << 21;
    const std::int64_t per_row = std::max<std::int64_t>(1, spec.seq_len) * spec.num_value_heads * spec.key_dim * spec.value_dim;
    if (!spec.varlen && spec.batch * per_row > budget) {
        spec.batch = std::max<std::int64_t>(1, budget / per_row);
        spec.inactive_rows = std::min(spec.inactive_rows, spec.batch);
        spec.negative_seqlens = std::min(spec.negative_seqlens, spec.batch);
        if (spec.indices == gdr::harness::IndicesRule::permutation)
            spec.bank_entries = std::max<std::int64_t>(spec.bank_entries, spec.batch - spec.inactive_rows);
        else if (spec.indices == gdr::harness::IndicesRule::none)
            spec.bank_entries = 0;
        else
            spec.bank_entries = std::max(spec.bank_entries, spec.batch);
    }
}

}  // namespace

TEST_CASE("cuda decode property: random cases pass against the oracle", "[gpu][property][decode]") {
    const gdr::harness::ToleranceTable tolerances = gdr::harness::ToleranceTable::load_default();
    auto subject = gdr::harness::make_cuda_decode_subject();
    gdr::testing::CaseGenConfig config;
    config.max_batch = 64;
    config.max_seq_len = 8;
    config.max_heads = 4;
    config.max_group = 4;
    config.max_key_dim = 256;
    config.max_value_dim = 256;
    config.max_slots = 10;
    config.max_extra_entries = 8;
    config.max_sequences = 6;
    gdr::testing::check_property("cuda-decode vs oracle", [&] {
        CaseSpec spec = *gdr::testing::gen_case(config);
        bound_work(spec);
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
