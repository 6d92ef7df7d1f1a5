// The CI gate of every `gdr` command: exit codes and GDR_REQUIRE_GPU, decided in one place.
//   0   every comparison PASSED, or was a declared limitation (NOT_SUPPORTED), or a GPU
//       subject could not run here (NOT_RUN) and GDR_REQUIRE_GPU is not 1
//   1   something was INCORRECT or FAILED, or GDR_REQUIRE_GPU=1 and a GPU subject did not run
//   2   bad command-line input, an invalid case spec or a malformed replay file
//   77  `gdr replay` only: a GPU subject could not run here (ctest reads it as skipped)
// Whether a subject needs a GPU is its registry entry's to say (subjects/registry.hpp).
#pragma once

#include <string>
#include <vector>

#include "gdr/harness/report.hpp"
#include "gdr/harness/require_gpu.hpp"
#include "gdr/subjects/registry.hpp"

namespace gdr::cli {

constexpr int exit_ok = 0, exit_failed = 1, exit_usage = 2, exit_skipped = 77;

// Whether a NOT_RUN of this subject fails the run.
inline bool not_run_fails(const subjects::SubjectEntry& subject) {
    return harness::gpu_required_by_environment() && subject.needs_gpu();
}

// 1 when a report failed or a subject in `not_run_required` did not run, else 0.
inline int gate_exit_code(const std::vector<harness::CaseReport>& reports,
                          const std::vector<std::string>& not_run_required) {
    for (const harness::CaseReport& report : reports)
        if (harness::is_failure(report.outcome)) return exit_failed;
    return not_run_required.empty() ? exit_ok : exit_failed;
}

}  // namespace gdr::cli
