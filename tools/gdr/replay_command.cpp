#include "replay_command.hpp"

#include <map>

#include <fmt/format.h>

#include "gate.hpp"
#include "gdr/fuzz/replay.hpp"
#include "gdr/harness/runner.hpp"

namespace gdr::cli {

using namespace gdr::harness;

namespace {

// A file's verdict options under the command line's: an option given on the command line
// wins (--tolerances), --strict and --no-determinism add to the file's.
VerdictOptions merged_verdict(const VerdictOptions& file, const VerdictOptions& command_line) {
    VerdictOptions verdict = file;
    if (!command_line.tolerance_file.empty()) verdict.tolerance_file = command_line.tolerance_file;
    verdict.strict = file.strict || command_line.strict;
    verdict.check_determinism = file.check_determinism && command_line.check_determinism;
    return verdict;
}

}  // namespace

ReplayCommand::ReplayCommand(CLI::App& app, const CliContext& context) : context_(context) {
    command_ = app.add_subcommand("replay", "rerun replay files (fuzz counterexamples, fuzz/corpus/) and print the reports");
    command_->add_option("files", files_, "replay files")->required();
    command_->add_option("--subject", subject_, "run against this subject instead of each file's own");
    add_report_options(*command_, report_);
    report_.program = context.program;
}

int ReplayCommand::run() const {
    std::vector<fuzz::ReplayFile> replays;
    for (const std::string& file : files_) replays.push_back(fuzz::read_replay_file(file));
    const VerdictOptions command_line = verdict_options(report_);
    std::vector<const subjects::SubjectEntry*> entries;
    std::vector<VerdictOptions> verdicts;
    std::map<std::string, ToleranceTable> tables;  // by file ("" the compiled-in table), each loaded once
    bool strict = command_line.strict;
    for (const fuzz::ReplayFile& replay : replays) {
        entries.push_back(&context_.registry->at(subject_.empty() ? replay.subject : subject_));
        verdicts.push_back(merged_verdict(replay.options, command_line));
        strict = strict || verdicts.back().strict;
        if (!tables.count(verdicts.back().tolerance_file))
            tables.emplace(verdicts.back().tolerance_file, load_tolerances(verdicts.back()));
    }
    Gate gate(strict);
    for (const subjects::SubjectEntry* entry : entries)
        if (const auto refusal = gate.refusal(*entry)) {
            fmt::print("gate: failing: {}\n", *refusal);
            return exit_failed;
        }

    std::vector<CaseReport> reports;
    bool not_run = false;
    for (std::size_t i = 0; i < replays.size(); ++i) {
        const subjects::SubjectEntry& entry = *entries[i];
        std::unique_ptr<Subject> subject = entry.make(0);
        ReportOptions file_options = report_;
        file_options.verdict = verdicts[i];
        CaseReport report = run_case(replays[i].spec, *subject, tables.at(verdicts[i].tolerance_file),
                                     run_options(file_options, entry.limitation_lookup()));
        fmt::print("{}: {} on {}\n", files_[i], to_string(report.outcome), entry.name);
        if (report.outcome == Outcome::not_run) {
            fmt::print("  NOT_RUN: {}\n", report.message);
            not_run = true;
        } else if (report.outcome != Outcome::passed) {
            fmt::print("\n{}\n", format_failure(report));
        }
        gate.record(entry, report.outcome != Outcome::not_run);
        reports.push_back(std::move(report));
    }
    fmt::print("{}\n", format_summary(count_outcomes(reports)));
    ReportOptions files = report_;
    files.verdict.strict = strict;
    write_reports(reports, files, report_.program + " replay");
    const int code = gate.exit_code(reports);
    if (code != exit_ok) return code;
    return not_run ? exit_skipped : exit_ok;
}

}  // namespace gdr::cli
