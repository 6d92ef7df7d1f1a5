#include "mutate_command.hpp"

#include "gdr/reference/oracle_threads.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "gate.hpp"
#include "gdr/core/errors.hpp"
#include "gdr/harness/check_names.hpp"
#include "gdr/mutation/kill_report.hpp"
#include "gdr/mutation/kill_table.hpp"
#include "gdr/subjects/builtin.hpp"

namespace gdr::cli {

using harness::Outcome;
using harness::shell_quote;
using subjects::SubjectEntry;

namespace {

constexpr std::string_view result_line_prefix = "kill-result ";

// One mutant in a child process (`gdr mutate --in-process --result-line --mutant NAME`):
// a mutant that faults ends the CUDA context of its process, and must not decide the
// outcome of the mutants after it. A child that dies without a result is a kill (FAILED).
// start_isolated starts it, finish_isolated collects its result (several run at a time).
std::FILE* start_isolated(const SubjectEntry& mutant, const MutateOptions& mutate, const ReportOptions& options) {
    // Each child's oracle gets its share of the cores (mutate.jobs children run at once).
    const int threads = std::max(1, gdr::reference::oracle_threads() / std::max(1, mutate.jobs));
    std::string command = fmt::format("OMP_NUM_THREADS={} ", threads) +
                          shell_quote(std::filesystem::read_symlink("/proc/self/exe").string()) +
                          " mutate --in-process --result-line --mutant " + shell_quote(mutant.name) +
                          fmt::format(" --seconds {} --seed {}", mutate.seconds_per_mutant, mutate.seed);
    for (const std::string& arg : verdict_options(options).cli_args()) command += " " + shell_quote(arg);
    if (!options.dump_dir.empty()) command += " --dump-dir " + shell_quote(options.dump_dir);
    std::FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) throw std::runtime_error("cannot start " + command);
    return pipe;
}

gdr::mutation::KillResult finish_isolated(const SubjectEntry& mutant, std::FILE* pipe) {
    std::optional<gdr::mutation::KillResult> result;
    std::string line;
    for (int c = std::fgetc(pipe); c != EOF; c = std::fgetc(pipe)) {
        if (c != '\n') {
            line += char(c);
            continue;
        }
        if (line.rfind(result_line_prefix, 0) == 0)
            result =
                gdr::mutation::kill_result_from_json(nlohmann::json::parse(line.substr(result_line_prefix.size())));
        else
            fmt::print("{}\n", line);  // the child's own messages
        line.clear();
    }
    const int status = pclose(pipe);
    if (result) return *result;
    gdr::mutation::KillResult died;
    died.mutant = mutant.name;
    died.outcome = Outcome::failed;
    died.check = harness::check_names::process;
    died.detail = fmt::format("the mutant's process ended (status {}) without a result", status);
    return died;
}

}  // namespace

const SubjectEntry& mutant_entry(const std::string& name) {
    const subjects::Registry& registry = subjects::builtin_registry();
    const SubjectEntry* entry = registry.find(name);
    if (!entry) entry = registry.find("mutant:" + name);  // the catalog's own names, as --list prints them
    if (!entry || (entry->kind != subjects::Kind::mutant && entry->kind != subjects::Kind::mutant_control))
        throw InvalidArgument("--mutant", "unknown mutant '" + name + "' (gdr mutate --list names them)");
    return *entry;
}

int run_mutate_list() {
    const auto mutants = subjects::builtin_registry().of_kind(subjects::Kind::mutant);
    if (mutants.empty()) fmt::print("this build has no mutants (they are CUDA kernels; nvcc was not found)\n");
    for (const SubjectEntry* entry : mutants)
        fmt::print("{:<43} {}\n", entry->name, entry->bug_class);
    return exit_ok;
}

// The kill table over the standard stages, each mutant in its own process unless
// --in-process.
int run_mutate_table(const MutateOptions& mutate, const ReportOptions& options) {
    std::vector<const SubjectEntry*> mutants;
    for (const std::string& name : mutate.mutants) mutants.push_back(&mutant_entry(name));
    if (mutants.empty()) mutants = subjects::builtin_registry().of_kind(subjects::Kind::mutant);
    const auto report = [&](const gdr::mutation::KillResult& result) {
        if (mutate.result_line)
            fmt::print("{}{}\n", result_line_prefix, gdr::mutation::to_json(result).dump());
        else
            fmt::print("{}\n", gdr::mutation::format_kill_result(result));
        std::fflush(stdout);
    };
    std::vector<gdr::mutation::KillResult> results;
    if (mutate.in_process) {
        gdr::mutation::KillOptions kill;
        kill.seconds_per_mutant = mutate.seconds_per_mutant;
        kill.run_options = run_options(options);
        results = gdr::mutation::run_kill_table(mutants, gdr::mutation::standard_kill_stages(mutate.seed),
                                                load_tolerances(verdict_options(options)), kill, report);
    } else {
        const std::size_t jobs = std::size_t(std::max(1, mutate.jobs));
        for (std::size_t first = 0; first < mutants.size(); first += jobs) {
            const std::size_t last = std::min(mutants.size(), first + jobs);
            std::vector<std::FILE*> pipes;
            for (std::size_t i = first; i < last; ++i) pipes.push_back(start_isolated(*mutants[i], mutate, options));
            for (std::size_t i = first; i < last; ++i) {
                results.push_back(finish_isolated(*mutants[i], pipes[i - first]));
                report(results.back());
            }
        }
    }
    if (mutate.result_line) return exit_ok;  // a child: the parent reports and judges
    const gdr::mutation::KillScore score = gdr::mutation::kill_score(results, mutants);
    fmt::print("{}\nscore: {} of {} killable mutants killed ({:.1f} %; {} declared equivalent)\n",
               gdr::mutation::format_kill_summary(results), score.killed, score.mutants - score.equivalent,
               100 * score.score(), score.equivalent);
    if (!options.json_file.empty())
        write_text_file(options.json_file, gdr::mutation::kill_table_to_json(results, mutants).dump(2) + '\n');
    if (!options.junit_file.empty()) {
        std::ostringstream xml;
        gdr::mutation::write_kill_junit(xml, results, mutants);
        write_text_file(options.junit_file, xml.str());
    }
    Gate gate(false);  // a survivor is a finding, reported, not a failed run: the gate is GDR_REQUIRE_GPU's
    for (std::size_t i = 0; i < results.size(); ++i) gate.record(*mutants[i], results[i].outcome != Outcome::not_run);
    return gate.exit_code({});
}

}  // namespace gdr::cli
