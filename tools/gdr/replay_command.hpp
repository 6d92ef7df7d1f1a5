// `gdr replay FILE...`: reruns replay files (gdr/fuzz/replay.hpp) and prints the reports.
// Every file is read and checked before anything runs, so a malformed one is exit 2 naming
// the file and the field. Each file runs with the verdict options it carries (tolerance
// table, strictness, determinism), under those given on the command line. Then: the gate
// (gate.hpp), and 77 when a GPU subject could not run here (ctest: skipped), which is 1
// instead with GDR_REQUIRE_GPU=1.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "report_options.hpp"

namespace gdr::cli {

class ReplayCommand {
public:
    ReplayCommand(CLI::App& app, const CliContext& context);
    bool parsed() const { return command_->parsed(); }
    int run() const;

private:
    CLI::App* command_;
    const CliContext& context_;
    std::vector<std::string> files_;
    std::string subject_;  // empty: each file's own
    ReportOptions report_;
};

}  // namespace gdr::cli
