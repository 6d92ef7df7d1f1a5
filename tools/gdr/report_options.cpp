#include "report_options.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "gate.hpp"

namespace gdr::cli {

void add_report_options(CLI::App& command, ReportOptions& options) {
    command.add_option("--jsonl", options.jsonl_file, "write one JSON record per case to this file");
    command.add_option("--junit", options.junit_file, "write a JUnit XML report to this file");
    command.add_option("--json", options.json_file, "write a JSON summary of the run to this file");
    command.add_option("--dump-dir", options.dump_dir, "write failing cases' tensors here");
    command.add_option("--memory-budget", options.memory_budget_gb,
                       "GB of host memory a case may take; a case that needs more is NOT_RUN, refused before anything "
                       "is allocated (default: the memory available)")
        ->check(CLI::Range(0.001, 1.0e6));
    command.add_option("--tolerances", options.verdict.tolerance_file, "tolerance table (default: the compiled-in one)");
    command.add_flag("--strict", options.verdict.strict,
                     "a NOT_SUPPORTED that no declared limitation of the subject covers fails (also GDR_STRICT=1)");
    command.add_flag_callback("--no-determinism", [&options] { options.verdict.check_determinism = false; },
                              "run each case once (skip the determinism check)");
    command.add_option_function<std::string>(
               "--math",
               [&options](const std::string& name) { options.verdict.math = harness::parse_math_mode(name); },
               "judge as if the subject declared this math mode: correctly-rounded, precise or fast (default: the "
               "subject's own)")
        ->check(CLI::IsMember({"correctly-rounded", "precise", "fast"}));
}

harness::VerdictOptions verdict_options(const ReportOptions& options) {
    harness::VerdictOptions verdict = options.verdict;
    verdict.strict = verdict.strict || strict_by_environment();
    // Absolute, so that a reproduce line or replay file works from any folder.
    if (!verdict.tolerance_file.empty())
        verdict.tolerance_file = std::filesystem::absolute(verdict.tolerance_file).lexically_normal().string();
    return verdict;
}

harness::ToleranceTable load_tolerances(const harness::VerdictOptions& verdict) {
    return verdict.tolerance_file.empty() ? harness::ToleranceTable::load_default()
                                          : harness::ToleranceTable::load_file(verdict.tolerance_file);
}

harness::RunOptions run_options(const ReportOptions& options, harness::LimitationLookup limitations) {
    harness::RunOptions run;
    run.verdict = verdict_options(options);
    run.dump_dir = options.dump_dir;
    run.memory_budget_bytes = std::int64_t(options.memory_budget_gb * 1e9);
    run.declared_limitation = std::move(limitations);
    run.gdr_command = options.program;
    return run;
}

void write_text_file(const std::string& file, const std::string& text) {
    std::ofstream out(file);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + file);
}

void write_reports(const std::vector<harness::CaseReport>& reports, const ReportOptions& options,
                   const std::string& suite_name) {
    if (!options.jsonl_file.empty()) {
        std::string lines;
        for (const harness::CaseReport& report : reports) lines += harness::to_json(report).dump() + '\n';
        write_text_file(options.jsonl_file, lines);
    }
    if (!options.junit_file.empty()) {
        std::ostringstream xml;
        harness::write_junit(xml, reports, suite_name, verdict_options(options).strict);
        write_text_file(options.junit_file, xml.str());
    }
    if (!options.json_file.empty()) write_text_file(options.json_file, harness::summary_to_json(reports).dump(2) + '\n');
}

}  // namespace gdr::cli
