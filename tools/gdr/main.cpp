// gdr: the command-line tool of gdr-verify over the subjects this build has (cli.hpp).
#include <string>
#include <vector>

#include "cli.hpp"
#include "gdr/subjects/builtin.hpp"

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    return gdr::cli::run_cli(args, {&gdr::subjects::builtin_registry(), "gdr"});
}
