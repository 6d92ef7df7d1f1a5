// The gdr command line as a function: `gdr` (main.cpp) runs it over the built-in subjects,
// and the Python package (python -m gdr_verify, gdr_verify.check/verify/fuzz/replay) over
// those plus the Python subjects it registers, so both have the same verbs, reports, files
// and exit codes (gate.hpp).
#pragma once

#include <string>
#include <vector>

#include "gdr/subjects/registry.hpp"

namespace gdr::cli {

struct CliContext {
    const subjects::Registry* registry = nullptr;  // every subject a verb may name
    std::string program = "gdr";                   // how reproduce and replay lines invoke the tool
};

// `args` are the arguments after the program name. Prints as `gdr` does (stdout and stderr,
// flushed before it returns) and returns the exit code; never throws.
int run_cli(const std::vector<std::string>& args, const CliContext& context);

}  // namespace gdr::cli
