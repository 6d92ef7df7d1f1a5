#include "report_options.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace gdr::cli {

void add_report_options(CLI::App& command, ReportOptions& options, bool with_json_summary) {
    command.add_option("--jsonl", options.jsonl_file, "write one JSON record per case to this file");
    command.add_option("--junit", options.junit_file, "write a JUnit XML report to this file");
    if (with_json_summary)
        command.add_option("--json", options.json_file, "write a JSON summary (counts by outcome, every case) to this file");
    command.add_option("--tolerances", options.tolerance_file, "tolerance table (default: the compiled-in one)");
    command.add_option("--dump-dir", options.dump_dir, "write failing cases' tensors here");
    command.add_flag("--no-determinism", options.no_determinism, "run each case once (skip the determinism check)");
    command.add_option("--math", options.math,
                       "judge as if the subject declared this math mode: correctly-rounded, precise or fast (default: "
                       "the subject's own)")
        ->check(CLI::IsMember({"correctly-rounded", "precise", "fast"}));
}

harness::ToleranceTable load_tolerances(const ReportOptions& options) {
    return options.tolerance_file.empty() ? harness::ToleranceTable::load_default()
                                          : harness::ToleranceTable::load_file(options.tolerance_file);
}

harness::RunOptions run_options(const ReportOptions& options) {
    harness::RunOptions run;
    run.check_determinism = !options.no_determinism;
    run.dump_dir = options.dump_dir;
    if (!options.math.empty()) run.math = harness::parse_math_mode(options.math);
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
        harness::write_junit(xml, reports, suite_name);
        write_text_file(options.junit_file, xml.str());
    }
    if (!options.json_file.empty()) write_text_file(options.json_file, harness::summary_to_json(reports).dump(2) + '\n');
}

}  // namespace gdr::cli
