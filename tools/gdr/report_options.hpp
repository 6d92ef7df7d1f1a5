// The report options that `gdr verify`, `check`, `replay`, `fuzz` and `mutate` share, and the
// files they write (JSON lines, JUnit XML, a JSON summary).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "gdr/harness/report.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/harness/tolerance.hpp"
#include "gdr/harness/verdict_options.hpp"

namespace gdr::cli {

struct ReportOptions {
    std::string jsonl_file;
    std::string junit_file;
    std::string json_file;  // the JSON summary of the run (an output, in every verb)
    std::string dump_dir;
    double memory_budget_gb = 0;  // 0: the memory the machine has available
    harness::VerdictOptions verdict;  // --tolerances, --strict, --no-determinism, --math
    std::string program = "gdr";      // how reproduce lines invoke the tool (cli.hpp's CliContext)
};

// --jsonl, --junit, --json (a JSON summary), --dump-dir, and the options that change a
// verdict: --tolerances, --strict, --no-determinism.
void add_report_options(CLI::App& command, ReportOptions& options);

// The verdict options in force: the command line's, with --strict also set by GDR_STRICT=1
// and the tolerance file's path made absolute (for reproduce lines and replay files).
harness::VerdictOptions verdict_options(const ReportOptions& options);
harness::ToleranceTable load_tolerances(const harness::VerdictOptions& verdict);
// The run options these report options ask for (the verdict options, --dump-dir), with
// `limitations` judging NOT_SUPPORTED cases (the subject's registry entry; may be empty).
harness::RunOptions run_options(const ReportOptions& options, harness::LimitationLookup limitations = {});

// Writes the files the options ask for: JSON lines (one record per case), JUnit XML (suite
// `suite_name`; in strict mode an unexpected NOT_SUPPORTED is a failure) and the JSON
// summary (harness::summary_to_json).
void write_reports(const std::vector<harness::CaseReport>& reports, const ReportOptions& options,
                   const std::string& suite_name);

// Writes `text` to `file`; throws std::runtime_error naming the file when it cannot.
void write_text_file(const std::string& file, const std::string& text);

}  // namespace gdr::cli
