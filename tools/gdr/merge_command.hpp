// `gdr merge DIR|FILE... [--json F] [--junit F]`: one summary of a campaign's shards (their
// campaign.jsonl records, gdr/fuzz/merge.hpp): every case counted once, the coverage union,
// every failure, one JUnit file. Exit codes: 0 no failure, 1 a failure in any part, 2 when
// the parts are not one campaign, overlap, or a file is missing or malformed.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace gdr::cli {

class MergeCommand {
public:
    explicit MergeCommand(CLI::App& app);
    bool parsed() const { return command_->parsed(); }
    int run() const;

private:
    CLI::App* command_;
    std::vector<std::string> inputs_;
    std::string json_file_, junit_file_;
};

}  // namespace gdr::cli
