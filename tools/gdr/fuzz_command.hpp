// `gdr fuzz`: a campaign of random cases against one subject (gdr/fuzz/campaign.hpp
// does the work; this file is the command line, the progress display and the outputs).
//
//   gdr fuzz [--subject NAME] [--seed S] [--cases N] [--seconds X] [--shard i/n]
//            [--out DIR] [--jsonl FILE] [--junit FILE] [--json FILE] [--devices all|0,1]
//            [--stop-at-first-failure] [--no-shrink] [--no-determinism] [--work-budget N]
//            [--tolerances FILE] [--strict]
//            [--workers N] [--progress-seconds X] [--resume DIR] [--chunk-lengths C]
//
// --shard auto / auto/n: the index from Slurm or Kubernetes (shard_option.hpp). SIGINT,
// SIGTERM and SIGHUP stop the campaign like a bound (stop_signals.hpp). --resume DIR continues
// the campaign whose --out was DIR: its recorded cases are not run again. A chunk kernel's
// campaign (the subject declares a chunk size C, or --chunk-lengths C) draws rows around its
// chunk boundaries.
//
// Without --cases or --seconds it runs for 60 s. Exit codes: gate.hpp (1 when it found a
// failure).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "report_options.hpp"

namespace gdr::cli {

class FuzzCommand {
public:
    FuzzCommand(CLI::App& app, const CliContext& context);
    bool parsed() const { return command_->parsed(); }
    int run() const;

private:
    CLI::App* command_;
    const CliContext& context_;
    std::string subject_;  // empty: default_subject() (gate.hpp)
    std::uint64_t seed_ = 1;
    std::optional<std::int64_t> cases_;
    std::optional<double> seconds_;
    std::string shard_ = "0/1";
    std::string out_dir_;
    std::string devices_ = "0";
    std::int64_t work_budget_ = 0;  // 0: the library's default
    double max_shrink_seconds_ = -1;  // < 0: the library's default
    bool stop_at_first_failure_ = false;
    bool no_shrink_ = false;
    std::optional<int> workers_;  // per device; absent: the cores (divided among the devices)
    double progress_seconds_ = 5;
    std::string resume_dir_;
    int shape_palette_ = 0;  // 0: every case draws its own shape
    bool palette_features_ = false;  // palette entries fix the features too
    std::vector<std::int64_t> key_dims_, value_dims_;
    std::optional<std::int64_t> chunk_lengths_;  // absent: the subject's chunk size (0 for decode)
    bool shard_given() const;
    ReportOptions report_;
};

}  // namespace gdr::cli
