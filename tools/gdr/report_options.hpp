// The report options that `gdr verify`, `check`, `replay` and `fuzz` share, and the files
// they write (JSON lines, JUnit XML, a JSON summary).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "gdr/harness/report.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/harness/tolerance.hpp"

namespace gdr::cli {

struct ReportOptions {
    std::string jsonl_file;
    std::string junit_file;
    std::string json_file;  // only where the command offers --json as a summary
    std::string tolerance_file;
    std::string dump_dir;
    bool no_determinism = false;
    std::string math;  // "" or a math mode's name: overrides the subjects' declared math mode
};

// --jsonl, --junit, --tolerances, --dump-dir, --no-determinism; and --json FILE (a JSON
// summary) when `with_json_summary` (`gdr check` uses --json for its case file instead).
void add_report_options(CLI::App& command, ReportOptions& options, bool with_json_summary);

harness::ToleranceTable load_tolerances(const ReportOptions& options);
// The run options these report options ask for (--no-determinism, --dump-dir).
harness::RunOptions run_options(const ReportOptions& options);

// Writes the files the options ask for: JSON lines (one record per case), JUnit XML (suite
// `suite_name`) and the JSON summary (harness::summary_to_json).
void write_reports(const std::vector<harness::CaseReport>& reports, const ReportOptions& options,
                   const std::string& suite_name);

// Writes `text` to `file`; throws std::runtime_error naming the file when it cannot.
void write_text_file(const std::string& file, const std::string& text);

}  // namespace gdr::cli
