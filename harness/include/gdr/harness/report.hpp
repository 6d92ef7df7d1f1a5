// Reports, like CUTLASS: an outcome per check and per case, JSON-lines for machines, a
// short table for people, a failure dump with everything needed to reproduce, JUnit for CI.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gdr/harness/compare.hpp"
#include "gdr/harness/outcome.hpp"
#include "gdr/harness/stage_profile.hpp"

namespace gdr::harness {

struct CheckResult {
    std::string name;  // one of check_names.hpp
    Outcome outcome = Outcome::passed;
    std::string detail;
    std::optional<SliceMetrics> worst_slice;  // the slice that decided the outcome
    std::string tolerance_row_id;             // the row that judged it ("exact" for exact mode)
};

struct CaseReport {
    std::string case_text;  // the spec's one-line form
    std::uint64_t seed = 0;
    std::string subject;
    Outcome outcome = Outcome::passed;  // the worst of the checks' (and of errors before them)
    std::string message;
    std::vector<CheckResult> checks;
    double seconds = 0;
    // Of `seconds`: the subject's own runs (the first, the determinism and the isolation
    // runs), so that the harness's overhead is the rest (a campaign's records carry both).
    double subject_seconds = 0;
    std::string reproduce;  // a shell command that reruns exactly this case
    // NOT_SUPPORTED only: the id of the subject's declared limitation that covers this case
    // (subjects/limitation.hpp); empty when none does, an unexpected NOT_SUPPORTED, which
    // fails a strict gate (gdr --strict, GDR_STRICT=1).
    std::string declared_limitation;
    std::string math;       // the math mode the rule allowed (math_mode.hpp), "" before judging
    // A chunk kernel's contract (chunked_contract.hpp, describe()); "" for a decode kernel.
    std::string chunked;
    // Where the time and memory went: the case's preparation (generation, the oracle runs;
    // shared by every subject that runs the case) and this subject's run and checks.
    std::vector<StageTiming> stages;
};

// A NOT_SUPPORTED that no declared limitation of its subject covers.
inline bool is_unexpected_not_supported(const CaseReport& report) {
    return report.outcome == Outcome::not_supported && report.declared_limitation.empty();
}

// The worst outcome of `checks`, passed when empty.
Outcome worst_outcome(const std::vector<CheckResult>& checks);
// The first check of `report` that did not pass (INCORRECT or FAILED, or any other outcome
// than PASSED with `any_outcome`); nullptr when there is none, e.g. a report that failed
// before any check ran.
const CheckResult* first_failing_check(const CaseReport& report, bool any_outcome = false);
// The failure class of a report: the name of its first failing check, or
// check_names::setup when it failed before any check ran (no tolerance row, say).
std::string failure_class(const CaseReport& report);

// One JSON object per case (write with .dump() and a newline for JSON lines). Non-finite
// numbers are written as the strings "nan", "inf", "-inf" (JSON has no such numbers).
nlohmann::json to_json(const SliceMetrics& metrics);
nlohmann::json to_json(const CheckResult& check);
nlohmann::json to_json(const CaseReport& report);

// A short table: subject, case (shortened), outcome, worst error / threshold, row.
std::string format_table(const std::vector<CaseReport>& reports);

// The full story of one case that did not pass: spec, seed, reproduce command, and per
// failing check its detail, max abs error with index and subject/R64/Rlp values there,
// thresholds, mismatch count, first and last mismatches and the tolerance row.
std::string format_failure(const CaseReport& report);

// JUnit XML: one <testcase> per case (classname = subject), <failure> for INCORRECT and
// FAILED, <skipped> for NOT_RUN and NOT_SUPPORTED, whose message says whether a declared
// limitation covers it; with `strict`, an unexpected NOT_SUPPORTED is a <failure>.
void write_junit(std::ostream& out, const std::vector<CaseReport>& reports, const std::string& suite_name,
                 bool strict = false);
// XML 1.0 text/attribute escaping; control characters XML cannot carry become "\xNN".
std::string xml_escape(std::string_view text);

struct OutcomeCounts {
    std::int64_t passed = 0, not_supported = 0, not_run = 0, incorrect = 0, failed = 0;
    std::int64_t unexpected_not_supported = 0;  // of not_supported: no declared limitation covers them
    std::int64_t total() const { return passed + not_supported + not_run + incorrect + failed; }
    std::int64_t of(Outcome outcome) const;
    Outcome worst() const;  // passed when empty
};
OutcomeCounts count_outcomes(const std::vector<CaseReport>& reports);
// "12 cases: 10 PASSED, 1 NOT_RUN, 1 INCORRECT" (zero counts left out); NOT_SUPPORTED
// says how many were unexpected: "3 NOT_SUPPORTED (1 unexpected)".
std::string format_summary(const OutcomeCounts& counts);

// A run as one JSON document: {"outcome": worst, "total": n, "counts": {"PASSED": n, ...
// every outcome}, "not_supported": {"expected": n, "unexpected": n}, "cases": [to_json(report), ...]}.
nlohmann::json summary_to_json(const std::vector<CaseReport>& reports);

}  // namespace gdr::harness
