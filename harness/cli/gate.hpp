// The CI gate of every `gdr` command: exit codes and GDR_REQUIRE_GPU, decided in one place.
//   0   every comparison PASSED, or was a declared limitation (NOT_SUPPORTED), or a GPU
//       subject could not run here (NOT_RUN) and GDR_REQUIRE_GPU is not 1
//   1   something was INCORRECT or FAILED, or GDR_REQUIRE_GPU=1 and a GPU subject did not run
//   2   bad command-line input, an invalid case spec or a malformed replay file
//   77  `gdr replay` only: a GPU subject could not run here (ctest reads it as skipped)
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "gdr/harness/report.hpp"

namespace gdr::cli {

constexpr int exit_ok = 0, exit_failed = 1, exit_usage = 2, exit_skipped = 77;

inline bool gpu_required() {
    const char* value = std::getenv("GDR_REQUIRE_GPU");
    return value && std::string_view(value) == "1";
}

// GPU subjects are named cuda-* or mutant:* (the decode kernel's mutants); only their
// NOT_RUN can fail a run (GDR_REQUIRE_GPU=1).
inline bool is_gpu_subject(std::string_view subject) {
    return subject.rfind("cuda", 0) == 0 || subject.rfind("mutant:", 0) == 0;
}

// Whether a NOT_RUN of `subject` fails the run.
inline bool not_run_fails(std::string_view subject) { return gpu_required() && is_gpu_subject(subject); }

// 1 when a report failed or a subject in `not_run_required` did not run, else 0.
inline int gate_exit_code(const std::vector<harness::CaseReport>& reports,
                          const std::vector<std::string>& not_run_required) {
    for (const harness::CaseReport& report : reports)
        if (harness::is_failure(report.outcome)) return exit_failed;
    return not_run_required.empty() ? exit_ok : exit_failed;
}

}  // namespace gdr::cli
