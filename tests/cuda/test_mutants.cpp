// Mutation testing of the verification, on the GPU: the mutant build with no mutant on
// passes everything (so the second compilation and its hooks are right), and mutants of
// the bug classes the default cases are meant to catch are killed by one of them. The full
// kill table (every mutant, targeted cases, a time cap) is `gdr mutate`.
#include <catch2/catch.hpp>

#include "gdr/fuzz/campaign.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/mutation/kill_table.hpp"
#include "gdr/subjects/builtin.hpp"

using gdr::mutation::KillResult;

namespace {

KillResult kill(const std::string& mutant, const std::vector<gdr::mutation::KillStage>& stages) {
    gdr::mutation::KillOptions options;
    options.seconds_per_mutant = 600;  // never the reason for a verdict here
    const auto results = gdr::mutation::run_kill_table({&gdr::subjects::builtin_registry().at(mutant)}, stages,
                                                       gdr::harness::ToleranceTable::load_default(), options);
    REQUIRE(results.size() == 1);
    return results.front();
}

}  // namespace

TEST_CASE("mutant none (the mutant build, every hook off) passes the default, targeted and random cases",
          "[gpu][mutation]") {
    // The standard stages, with the random campaign (which runs until the time cap) cut to
    // its first 20 cases.
    gdr::fuzz::CampaignConfig campaign;
    std::vector<gdr::harness::CaseSpec> random_cases;
    for (std::int64_t c = 0; c < 20; ++c) random_cases.push_back(gdr::fuzz::campaign_case(campaign, c));
    const KillResult result = kill("mutant:none", {gdr::mutation::case_list_stage("default cases", gdr::harness::default_verify_cases()),
                                                  gdr::mutation::case_list_stage("targeted cases", gdr::mutation::targeted_kill_cases()),
                                                  gdr::mutation::big_bank_stage(),
                                                  gdr::mutation::case_list_stage("random cases", random_cases)});
    INFO(gdr::mutation::format_kill_result(result));
    CHECK(result.outcome == gdr::harness::Outcome::passed);
    CHECK(result.cases == std::int64_t(gdr::harness::default_verify_cases().size() +
                                       gdr::mutation::targeted_kill_cases().size() + 1 + random_cases.size()));
}

TEST_CASE("representative mutants are killed by a default case", "[gpu][mutation]") {
    // Mutants whose wrong accesses stay near their buffers: a faulting mutant would end
    // the CUDA context for the rest of this process.
    const std::string mutant = GENERATE(
        "mutant:kv_row_pitch_uses_key_dim", "mutant:head_mapping_modulo", "mutant:state_indices_ignored",
        "mutant:circular_write_slot_off_by_one", "mutant:inactive_row_output_unwritten",
        "mutant:final_state_written_when_disabled", "mutant:output_before_update", "mutant:v_tail_dropped",
        "mutant:strides_read_as_contiguous", "mutant:scale_applied_to_k",
        // Writes stay inside the bank arena; tail reads stay within the guard bands.
        "mutant:inactive_index_state_written", "mutant:key_tail_times_zero");
    const KillResult result =
        kill(mutant, {gdr::mutation::case_list_stage("default cases", gdr::harness::default_verify_cases())});
    INFO(gdr::mutation::format_kill_result(result));
    CHECK(result.killed());
}

TEST_CASE("mutants of a reported subject carry a reproduce line that names them", "[gpu][mutation]") {
    auto subject = gdr::subjects::builtin_registry().make("mutant:head_mapping_modulo");
    CHECK(subject->name() == "mutant:head_mapping_modulo");
    const auto report = gdr::harness::run_case(gdr::harness::parse_text("B=2 T=1 H=2 HV=4 K=16 V=16 seed=3"), *subject,
                                               gdr::harness::ToleranceTable::load_default());
    INFO(gdr::harness::format_failure(report));
    CHECK(gdr::harness::is_failure(report.outcome));
    CHECK(report.reproduce.find("--subject mutant:head_mapping_modulo") != std::string::npos);
}
