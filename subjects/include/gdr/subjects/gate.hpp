// The CI gate's rules over registry entries, for every `gdr` verb (tools/gdr/gate.hpp has
// the exit codes): GDR_REQUIRE_GPU=1 (the gate needs a GPU subject to have run) and strict
// mode (--strict, GDR_STRICT=1: a NOT_SUPPORTED that no declared limitation covers fails).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gdr/harness/report.hpp"
#include "gdr/subjects/registry.hpp"

namespace gdr::subjects {

// GDR_STRICT=1 in the environment.
bool strict_by_environment();

// The subject a verb runs when none is named: under GDR_REQUIRE_GPU=1 always the GPU kernel
// (cuda-decode), which then reports NOT_RUN and fails where no device is; otherwise the
// kernel where a CUDA device is, else `cpu_fallback`.
std::string default_subject(const std::string& cpu_fallback);

// One run's gate: give it the subjects before they run (refusal()) and what they did
// (record()), then exit_code() judges, printing one line per reason it fails.
class Gate {
public:
    explicit Gate(bool strict_option) : strict_(strict_option || strict_by_environment()) {}
    bool strict() const { return strict_; }

    // Under GDR_REQUIRE_GPU=1, why `subject` cannot satisfy the gate whatever it does (it
    // needs no GPU); the verb then fails (exit 1) before running anything. nullopt otherwise.
    std::optional<std::string> refusal(const SubjectEntry& subject) const;
    // `subject` ran (did_run) or was NOT_RUN.
    void record(const SubjectEntry& subject, bool did_run);
    // Every reason to fail, one line each: a report INCORRECT or FAILED (counted), an
    // unexpected NOT_SUPPORTED in strict mode, and under GDR_REQUIRE_GPU=1 a GPU subject
    // that did not run or no GPU subject at all. Empty: the gate passes.
    std::vector<std::string> failures(const std::vector<harness::CaseReport>& reports) const;
    // 0 when failures() is empty, else 1; prints failures() to stdout, a line each ("gate: failing: ...").
    int exit_code(const std::vector<harness::CaseReport>& reports) const;

private:
    bool strict_;
    std::vector<std::string> gpu_subjects_ran_, gpu_subjects_not_run_;
};

}  // namespace gdr::subjects
