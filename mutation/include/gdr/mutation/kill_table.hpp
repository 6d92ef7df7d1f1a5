// The kill table: every mutant of the decode kernel against the verification, stage by
// stage (the default `gdr verify` cases, cases aimed at mutants that random cases rarely
// reach, the big bank, then a random campaign), stopping at the first case that does not
// pass. The mutants are registry entries (subjects/registry.hpp, kind mutant), so this
// library needs no CUDA: the CUDA build registers them.
// A mutant that survives every stage marks a blind spot of the verification, unless its
// catalog entry calls it equivalent on the inputs it was given.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gdr/harness/runner.hpp"
#include "gdr/subjects/registry.hpp"

namespace gdr::mutation {

// The mutant a stage attacks, with what run_case needs.
struct MutantUnderTest {
    const subjects::SubjectEntry& entry;
    harness::Subject& subject;  // entry.make(0)
    const harness::ToleranceTable& tolerances;
    const harness::RunOptions& run_options;
};

// One mutant's progress through the stages: cases counted, the deciding report kept.
class KillProgress {
public:
    using Clock = std::chrono::steady_clock;
    explicit KillProgress(Clock::time_point deadline) : deadline_(deadline) {}

    // The mutant's time is up: a stage stops before its next case.
    bool out_of_time() const { return Clock::now() >= deadline_; }
    // Counts one case. True when it did not pass (a NOT_SUPPORTED that the mutant's declared
    // limitations cover does not count as that): the mutant is settled and the stage stops.
    bool record(const harness::CaseReport& report);

    std::int64_t cases() const { return cases_; }
    bool settled() const { return settled_; }
    const harness::CaseReport& deciding_report() const { return deciding_; }  // valid when settled()

private:
    Clock::time_point deadline_;
    std::int64_t cases_ = 0;
    bool settled_ = false;
    harness::CaseReport deciding_;
};

struct KillStage {
    std::string name;
    // Runs cases against `target`, passing each report to progress.record(), until record()
    // returns true, progress.out_of_time(), or the stage has no more cases.
    std::function<void(const MutantUnderTest& target, KillProgress& progress)> run;
};

// A fixed list of cases, each prepared (oracle runs) once and shared by every mutant.
KillStage case_list_stage(std::string name, std::vector<harness::CaseSpec> cases);
// Cases aimed at mutants that the default cases and random cases rarely reach (an index
// equal to N, beta without g, B x HV > 65535, K = 1 with l2norm, ...), each saying which.
std::vector<harness::CaseSpec> targeted_kill_cases();
// The entry's big-bank case (a bank of more than 2^31 elements: bank_offset_32bit); nothing
// for an entry without one. A mutant that faults here ends the CUDA context of its process
// (gdr mutate isolates them).
KillStage big_bank_stage();
// Cases 0, 1, 2, ... of the fuzz campaign `seed` (the property tests' distribution; for a
// mutant that declares a chunked contract, with its chunk lengths, as `gdr fuzz` draws them),
// the same for every mutant of a kernel, until the mutant is killed or its time is up.
KillStage random_campaign_stage(std::uint64_t seed);
// The default cases, the targeted ones, the big bank (seconds and 4.3 GB of device memory,
// before the campaign so that the time cap never skips it), then the random campaign.
std::vector<KillStage> standard_kill_stages(std::uint64_t seed);

struct KillOptions {
    double seconds_per_mutant = 60;  // a cap across all stages
    harness::RunOptions run_options;
};

struct KillResult {
    std::string mutant;  // the registry name, "mutant:<name>"
    // The first case that did not pass: INCORRECT or FAILED (killed), NOT_RUN (no device),
    // NOT_SUPPORTED; PASSED when every case passed (survived).
    harness::Outcome outcome = harness::Outcome::passed;
    std::string stage;       // the stage of that case
    std::string check;       // its first check that did not pass ("o vs R64", "guard bands", ...)
    std::string detail;      // that check's detail, or the report's message
    std::string case_text;   // that case's spec
    std::int64_t cases = 0;  // cases run on this mutant, the deciding one included
    double seconds = 0;
    bool timed_out = false;  // survived only because the time cap ended the stages

    bool killed() const { return harness::is_failure(outcome); }
};

// Runs `stages` in order against each mutant; on_result (optional) sees each result as it
// is decided. Subject errors never throw: they are FAILED outcomes, i.e. kills.
std::vector<KillResult> run_kill_table(const std::vector<const subjects::SubjectEntry*>& mutants, const std::vector<KillStage>& stages,
                                       const harness::ToleranceTable& tolerances, const KillOptions& options = {},
                                       const std::function<void(const KillResult&)>& on_result = {});

// Every field, the mutant and outcome by name; from_json is its inverse (gdr mutate runs
// each mutant in a child process and reads its result back this way).
nlohmann::json to_json(const KillResult& result);
KillResult kill_result_from_json(const nlohmann::json& json);

// One line per mutant: name, KILLED / SURVIVED / NOT_RUN, by which check in which stage,
// after how many cases and seconds.
std::string format_kill_result(const KillResult& result);
// "35 mutants: 33 killed; survived: round_trip_after_last_token, ..." (and what did not run).
std::string format_kill_summary(const std::vector<KillResult>& results);

}  // namespace gdr::mutation
