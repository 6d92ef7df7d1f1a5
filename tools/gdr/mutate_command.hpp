// `gdr mutate` without a case: the catalog (--list) and the kill table, each mutant in its
// own process (a mutant that faults ends the CUDA context of its process) unless
// --in-process. `gdr mutate --mutant NAME --case SPEC` is an ordinary check (cli.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gdr/subjects/registry.hpp"
#include "report_options.hpp"

namespace gdr::cli {

struct MutateOptions {
    bool list = false;
    bool in_process = false;           // the kill table in this process (a faulting mutant poisons the rest)
    bool result_line = false;          // print each result as one JSON line (for the parent process)
    std::vector<std::string> mutants;  // empty: every mutant
    double seconds_per_mutant = 60;
    std::uint64_t seed = 1;  // of the random-campaign stage
    int jobs = 4;            // mutants' processes at a time
};

// The registry entry of a mutant: "mutant:<name>", or the catalog's "<name>"; throws
// gdr::InvalidArgument("--mutant", ...) for anything else.
const subjects::SubjectEntry& mutant_entry(const std::string& name);
// One mutant and the bug class it models, a line each. Exit 0.
int run_mutate_list();
// The kill table over the standard stages, printed and written as data (--json, --junit:
// mutation/kill_report.hpp); exit 1 only under GDR_REQUIRE_GPU=1 when a mutant did not run or
// there is none (a survivor is a finding, reported, not a failed run).
int run_mutate_table(const MutateOptions& mutate, const ReportOptions& options);

}  // namespace gdr::cli
