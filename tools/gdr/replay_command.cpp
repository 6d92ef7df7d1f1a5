#include "replay_command.hpp"

#include <fmt/format.h>

#include "gate.hpp"
#include "gdr/fuzz/replay.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/subjects/builtin.hpp"

namespace gdr::cli {

using namespace gdr::harness;

ReplayCommand::ReplayCommand(CLI::App& app) {
    command_ = app.add_subcommand("replay", "rerun replay files (fuzz counterexamples, fuzz/corpus/) and print the reports");
    command_->add_option("files", files_, "replay files")->required();
    command_->add_option("--subject", subject_, "run against this subject instead of each file's own");
    add_report_options(*command_, report_, /*with_json_summary=*/true);
}

int ReplayCommand::run() const {
    std::vector<fuzz::ReplayFile> replays;
    for (const std::string& file : files_) replays.push_back(fuzz::read_replay_file(file));
    const ToleranceTable tolerances = load_tolerances(report_);
    const RunOptions options = run_options(report_);

    std::vector<CaseReport> reports;
    bool not_run = false, not_run_is_failure = false;
    for (std::size_t i = 0; i < replays.size(); ++i) {
        const std::string subject_name = subject_.empty() ? replays[i].subject : subject_;
        const subjects::SubjectEntry& entry = subjects::builtin_registry().at(subject_name);
        std::unique_ptr<Subject> subject = entry.make(0);
        CaseReport report = run_case(replays[i].spec, *subject, tolerances, options);
        fmt::print("{}: {} on {}\n", files_[i], to_string(report.outcome), subject_name);
        if (report.outcome == Outcome::not_run) {
            fmt::print("  NOT_RUN: {}\n", report.message);
            not_run = true;
            not_run_is_failure = not_run_is_failure || not_run_fails(entry);
        } else if (report.outcome != Outcome::passed) {
            fmt::print("\n{}\n", format_failure(report));
        }
        reports.push_back(std::move(report));
    }
    fmt::print("{}\n", format_summary(count_outcomes(reports)));
    write_reports(reports, report_, "gdr replay");
    const int code = gate_exit_code(reports, {});
    if (code != exit_ok) return code;
    if (not_run_is_failure) {
        fmt::print("GDR_REQUIRE_GPU=1 and a GPU subject did not run: failing\n");
        return exit_failed;
    }
    return not_run ? exit_skipped : exit_ok;
}

}  // namespace gdr::cli
