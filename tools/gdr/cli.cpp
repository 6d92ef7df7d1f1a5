// The command line of gdr-verify (cli.hpp): the verbs of `gdr` and of `python -m gdr_verify`.
//   gdr verify      the default cases against every subject on this machine (the main job)
//   gdr check       one case spec against one subject, with the full report
//   gdr spec        validate a case spec and print it as text and JSON
//   gdr oracle      run the oracle on a case and write its outputs
//   gdr gen         write a case's inputs as safetensors, for a program to run its kernel on
//   gdr judge       judge that program's results (a safetensors file) by the rules of check
//   gdr subjects    which subjects exist and whether they can run here
//   gdr tolerances  the tolerance table with its reasons
//   gdr mutate      the decode kernel's mutants: the catalog, one case against one
//                   mutant, or the kill table (mutate_command.cpp)
//   gdr fuzz        a random-case campaign against one subject (fuzz_command.cpp)
//   gdr replay      rerun replay files written by fuzz campaigns (replay_command.cpp)
//   gdr merge       one summary of a campaign's shards (merge_command.cpp)
// Exit codes: gate.hpp.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "fuzz_command.hpp"
#include "merge_command.hpp"
#include "gate.hpp"
#include "gdr/core/errors.hpp"
#include "gdr/harness/case_files.hpp"
#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/reference/fused_recurrent.hpp"
#include "gdr/subjects/builtin.hpp"
#include "mutate_command.hpp"
#include "replay_command.hpp"
#include "report_options.hpp"

namespace {

using namespace gdr::harness;
using namespace gdr::cli;
using gdr::subjects::Registry;
using gdr::subjects::SubjectEntry;

// The case a verb runs: --case TEXT or --case-file FILE (the JSON form). (--json is an
// output, the run's JSON summary, in every verb.)
struct CaseSource {
    std::string text;
    std::string case_file;

    bool given() const { return !text.empty() || !case_file.empty(); }
    CaseSpec load() const {
        if (!text.empty() && !case_file.empty()) throw gdr::InvalidArgument("--case", "give --case or --case-file, not both");
        if (!case_file.empty()) {
            std::ifstream in(case_file);
            if (!in) throw gdr::InvalidArgument("--case-file", "cannot read '" + case_file + "'");
            nlohmann::json json;
            try {
                json = nlohmann::json::parse(in);
            } catch (const nlohmann::json::exception& error) {
                throw gdr::InvalidArgument("--case-file", std::string("not valid JSON: ") + error.what());
            }
            return from_json(json);
        }
        if (text.empty()) throw gdr::InvalidArgument("--case", "a case spec is required (--case TEXT or --case-file FILE)");
        return parse_text(text);
    }
};

void add_case_options(CLI::App& command, CaseSource& source) {
    command.add_option("--case", source.text, "case spec in text form, e.g. 'B=2 T=1 H=1 HV=2 K=16 V=8'");
    command.add_option("--case-file", source.case_file, "case spec as a JSON file (the form `gdr spec` prints)");
}

// The subjects `gdr verify` runs: those named, else the registry's defaults (under
// GDR_REQUIRE_GPU=1 only those that need a GPU: the gate is about them).
std::vector<const SubjectEntry*> verify_subjects(const Registry& registry, const std::vector<std::string>& subject_names) {
    std::vector<const SubjectEntry*> entries;
    for (const std::string& name : subject_names) entries.push_back(&registry.at(name));
    if (!subject_names.empty()) return entries;
    for (const SubjectEntry* entry : registry.defaults())
        if (entry->needs_gpu() || !gdr::harness::gpu_required_by_environment()) entries.push_back(entry);
    return entries;
}

int run_verify(const Registry& registry, const std::vector<std::string>& subject_names, const ReportOptions& options) {
    const std::vector<const SubjectEntry*> entries = verify_subjects(registry, subject_names);
    Gate gate(verdict_options(options).strict);
    for (const SubjectEntry* entry : entries)
        if (const auto refusal = gate.refusal(*entry)) {
            fmt::print("gate: failing: {}\n", *refusal);
            return exit_failed;
        }
    const ToleranceTable tolerances = load_tolerances(verdict_options(options));
    std::vector<std::unique_ptr<Subject>> subjects;
    std::vector<RunOptions> runs;  // per subject: its declared limitations judge its NOT_SUPPORTED cases
    for (const SubjectEntry* entry : entries) {
        subjects.push_back(entry->make(0));
        runs.push_back(run_options(options, entry->limitation_lookup()));
        const auto reason = subjects.back()->unavailable_reason();
        if (reason) fmt::print("{}: NOT_RUN: {}\n", entry->name, *reason);
        gate.record(*entry, !reason);
    }
    std::vector<CaseReport> reports;
    for (const CaseSpec& spec : default_verify_cases()) {
        SharedCase shared(spec);  // the oracle runs once per case, whatever the number of subjects
        for (std::size_t i = 0; i < subjects.size(); ++i) reports.push_back(shared.run(*subjects[i], tolerances, runs[i]));
    }
    fmt::print("\n{}\n", format_table(reports));
    for (const CaseReport& report : reports)
        if (is_failure(report.outcome) || (gate.strict() && is_unexpected_not_supported(report)))
            fmt::print("\n{}\n", format_failure(report));
    fmt::print("{}\n", format_summary(count_outcomes(reports)));
    write_reports(reports, options, options.program + " verify");
    return gate.exit_code(reports);
}

// The table, a failure's details, every check and the report files, as check prints them.
void print_case_report(const CaseReport& report, const ReportOptions& options, bool profile, const std::string& verb) {
    const std::vector<CaseReport> reports{report};
    fmt::print("{}\n", format_table(reports));
    if (report.outcome != Outcome::passed) fmt::print("\n{}\n", format_failure(report));
    for (const CheckResult& check : report.checks)
        fmt::print("  {:<18} {:<13} {}{}\n", check.name, to_string(check.outcome), check.detail,
                   check.tolerance_row_id.empty() ? "" : " [row " + check.tolerance_row_id + "]");
    if (!report.math.empty()) fmt::print("  math mode: {}\n", report.math);
    if (!report.message.empty()) fmt::print("{}\n", report.message);
    if (profile) fmt::print("\n{}", format_stages(report.stages));
    write_reports(reports, options, verb);
}

int run_check(const CaseSource& source, const SubjectEntry& entry, const ReportOptions& options, bool profile = false) {
    const CaseSpec spec = source.load();
    Gate gate(verdict_options(options).strict);
    if (const auto refusal = gate.refusal(entry)) {
        fmt::print("gate: failing: {}\n", *refusal);
        return exit_failed;
    }
    const ToleranceTable tolerances = load_tolerances(verdict_options(options));
    const RunOptions run = run_options(options, entry.limitation_lookup());
    // One case asked for by name: one that cannot fit is invalid input, refused before anything runs.
    if (const auto refusal = memory_refusal(spec, run)) throw gdr::InvalidArgument("--memory-budget", *refusal);
    const auto subject = entry.make(0);
    const CaseReport report = run_case(spec, *subject, tolerances, run);
    print_case_report(report, options, profile, options.program + " check");
    gate.record(entry, report.outcome != Outcome::not_run);
    return gate.exit_code({report});
}

// gdr gen: the inputs file of a case (gdr/harness/case_files.hpp).
int run_gen(const CaseSource& source, const std::string& out_file) {
    const CaseSpec spec = source.load();
    if (out_file.empty()) throw gdr::InvalidArgument("--out", "the inputs file to write is required");
    const HostCase host = materialize(spec);
    const std::vector<std::byte> bytes = case_inputs_file(host);
    write_file_bytes(out_file, bytes);
    fmt::print("wrote the inputs of {} to {} ({} bytes); a program writes o and state to a results file for "
               "`gdr judge --case ... --result FILE`\n",
               to_text(spec), out_file, bytes.size());
    return exit_ok;
}

// gdr judge: a program's results for a case, judged as `gdr check` judges a subject.
int run_judge(const CaseSource& source, const std::string& result_file, const ReportOptions& options) {
    const CaseSpec spec = source.load();
    if (result_file.empty()) throw gdr::InvalidArgument("--result", "the results file to judge is required");
    ResultsFileSubject subject(SafetensorsFile::read(result_file), result_file);
    const ToleranceTable tolerances = load_tolerances(verdict_options(options));
    RunOptions run = run_options(options, {});
    if (const auto refusal = memory_refusal(spec, run)) throw gdr::InvalidArgument("--memory-budget", *refusal);
    const PreparedCase prepared = prepare_case(spec);
    subject.validate_against(prepared.host);  // a malformed results file is refused before judging
    CaseReport report = run_case(prepared, subject, tolerances, run);
    report.reproduce = with_verdict_args(fmt::format("{} judge --case {} --result {}", run.gdr_command,
                                                     shell_quote(to_text(spec)), shell_quote(result_file)),
                                         verdict_options(options));
    print_case_report(report, options, false, options.program + " judge");
    return Gate(verdict_options(options).strict).exit_code({report});
}

int run_spec(const CaseSource& source) {
    const CaseSpec spec = source.load();
    fmt::print("text: {}\njson: {}\n", to_text(spec), to_json(spec).dump());
    return exit_ok;
}

int run_oracle(const CaseSource& source, const std::string& precision, const std::string& out_file) {
    const CaseSpec spec = source.load();
    const bool truth = precision == "truth";
    const HostCase host = materialize(spec);
    RunBuffers buffers = make_run_buffers(host, truth ? gdr::DType::f64 : spec.input_dtype,
                                          truth ? gdr::DType::f64 : spec.state_dtype);
    gdr::reference::run_fused_recurrent(
        make_problem(host, buffers),
        {truth ? gdr::reference::Precision::truth_fp64 : gdr::reference::Precision::emulated_fp32,
         gdr::reference::ReductionOrder::forward});
    const nlohmann::json result = {{"case", to_text(spec)},
                                   {"precision", precision},
                                   {"o", tensor_to_json(buffers.o)},
                                   {"bank", tensor_to_json(buffers.bank)}};
    if (out_file.empty() || out_file == "-") {
        std::cout << result.dump() << '\n';
    } else {
        std::ofstream out(out_file);
        if (!out) throw std::runtime_error("cannot write " + out_file);
        out << result.dump() << '\n';
        fmt::print("oracle ({}) wrote o {} and bank {} to {}\n", precision, buffers.o.numel(), buffers.bank.numel(),
                   out_file);
    }
    return exit_ok;
}

int run_subjects(const Registry& registry) {
    if (const std::string why = gdr::subjects::cuda_unavailable_reason(); !why.empty())
        fmt::print("No CUDA device can be used here, so GPU subjects report NOT_RUN: {}\n\n", why);
    for (const SubjectEntry* entry : registry.defaults()) {
        const auto reason = entry->make(0)->unavailable_reason();
        fmt::print("{:<24} {:<10} {} ({})\n", entry->name, reason ? "NOT_RUN" : "available",
                   reason ? *reason : entry->description, entry->needs_gpu() ? "needs a CUDA device" : "CPU");
        for (const gdr::subjects::Limitation& limitation : entry->limitations)
            fmt::print("{:<35} declines: {} [{}]\n", "", limitation.words, limitation.id);
    }
    const std::size_t mutants = registry.of_kind(gdr::subjects::Kind::mutant).size();
    if (mutants) fmt::print("and {} mutants of the decode kernel, mutant:<name> (gdr mutate --list)\n", mutants);
    return exit_ok;
}

int run_tolerances(const std::string& file) {
    const ToleranceTable table = file.empty() ? ToleranceTable::load_default() : ToleranceTable::load_file(file);
    fmt::print("tolerance table: {} ({} rows)\n", table.source(), table.rows().size());
    const auto field = [](const auto& value) -> std::string {
        if (!value) return "*";
        if constexpr (std::is_same_v<std::decay_t<decltype(*value)>, std::string>) return *value;
        else return std::string(to_string(*value));
    };
    for (const ToleranceRow& row : table.rows()) {
        fmt::print("{}: subject={} input={} state={} kind={} T={} feature={} rho={} floor_ulps={} frobenius_units={}\n"
                   "    reason: {}\n    calibrated on: {}\n",
                   row.id, field(row.subject), field(row.input_dtype), field(row.state_dtype), field(row.kind),
                   field(row.t_bucket), field(row.feature), row.rho, row.floor_ulps, row.frobenius_units, row.reason,
                   row.calibrated_on);
    }
    return exit_ok;
}

int run_mutate(const MutateOptions& mutate, const CaseSource& source, const ReportOptions& options) {
    if (mutate.list) return run_mutate_list();
    if (!source.given()) return run_mutate_table(mutate, options);
    if (mutate.mutants.size() != 1) throw gdr::InvalidArgument("--mutant", "a case runs against exactly one --mutant");
    return run_check(source, mutant_entry(mutate.mutants.front()), options);
}

}  // namespace

namespace gdr::cli {

int run_cli(const std::vector<std::string>& args, const CliContext& context) {
    const Registry& registry = *context.registry;
    CLI::App app{context.program + ": verify gated delta rule kernels against an Eigen oracle", context.program};
    app.require_subcommand(1);

    ReportOptions verify_options;
    std::vector<std::string> verify_subjects;
    auto* verify = app.add_subcommand("verify", "run the default cases against every subject available here");
    verify->add_option("--subject", verify_subjects, "only these subjects (repeatable)");
    add_report_options(*verify, verify_options);

    CaseSource check_source;
    ReportOptions check_options;
    std::string check_subject = "cuda-decode";
    auto* check = app.add_subcommand("check", "check one case spec against one subject and print the report");
    add_case_options(*check, check_source);
    check->add_option("--subject", check_subject, "the subject (see `gdr subjects`)")->capture_default_str();
    bool check_profile = false;
    check->add_flag("--profile", check_profile,
                    "print each stage's wall time and the peak memory after it (generation, oracle runs, subject runs, "
                    "checks); the JSON report always has them");
    add_report_options(*check, check_options);

    CaseSource spec_source;
    auto* spec = app.add_subcommand("spec", "validate a case spec and print it as text and JSON");
    add_case_options(*spec, spec_source);

    CaseSource oracle_source;
    std::string precision = "truth";
    std::string oracle_out;
    auto* oracle = app.add_subcommand("oracle", "run the oracle on a case and write o and the bank as JSON");
    add_case_options(*oracle, oracle_source);
    oracle->add_option("--precision", precision, "truth (R64, fp64) or emulated (Rlp, fp32 with kernel roundings)")
        ->check(CLI::IsMember({"truth", "emulated"}))
        ->capture_default_str();
    oracle->add_option("--out", oracle_out, "output file (default: standard output)");

    CaseSource gen_source;
    std::string gen_out;
    auto* gen = app.add_subcommand("gen", "write a case's inputs and starting buffers as safetensors, for a program "
                                          "that cannot be called in-process (then gdr judge)");
    add_case_options(*gen, gen_source);
    gen->add_option("--out", gen_out, "the inputs file to write (.safetensors)")->required();

    CaseSource judge_source;
    std::string judge_result;
    ReportOptions judge_options;
    auto* judge = app.add_subcommand("judge", "judge a program's results for a case (a safetensors file of o and "
                                              "state) by the rules of check; what only a call in-process shows is NOT_RUN");
    add_case_options(*judge, judge_source);
    judge->add_option("--result", judge_result, "the results file (.safetensors: o and state)")->required();
    add_report_options(*judge, judge_options);

    auto* subjects = app.add_subcommand("subjects", "list the subjects and whether each can run here");
    std::string tolerance_file;
    auto* tolerances = app.add_subcommand("tolerances", "print the tolerance table with its reasons");
    tolerances->add_option("--file", tolerance_file, "a table other than the compiled-in one");

    MutateOptions mutate_options;
    CaseSource mutate_source;
    ReportOptions mutate_report;
    auto* mutate = app.add_subcommand(
        "mutate", "the decode kernel's mutants: --list the catalog; --mutant NAME --case SPEC runs one case; "
                  "otherwise the kill table (which check kills each mutant)");
    mutate->add_flag("--list", mutate_options.list, "print the catalog: each mutant and the bug class it models");
    mutate->add_option("--mutant", mutate_options.mutants, "only this mutant (repeatable; see --list)");
    mutate->add_option("--seconds", mutate_options.seconds_per_mutant, "time cap per mutant in the kill table")
        ->capture_default_str();
    mutate->add_flag("--in-process", mutate_options.in_process, "run the kill table in this process, not one per mutant");
    mutate->add_option("--seed", mutate_options.seed, "seed of the random-campaign stage")->capture_default_str();
    mutate->add_option("--jobs", mutate_options.jobs, "mutants' processes at a time (seconds then count shared time)")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    mutate->add_flag("--result-line", mutate_options.result_line, "print each kill result as a JSON line")->group("");
    add_case_options(*mutate, mutate_source);
    add_report_options(*mutate, mutate_report);

    FuzzCommand fuzz_command(app, context);
    ReplayCommand replay_command(app, context);
    MergeCommand merge_command(app);
    // Reproduce lines and report names say the program that was run.
    for (ReportOptions* options : {&verify_options, &check_options, &judge_options, &mutate_report})
        options->program = context.program;

    // Every reply, and the summary it ends with, is out before the caller (a Python
    // process printing through its own buffers) writes more.
    struct FlushAtEnd {
        ~FlushAtEnd() { std::fflush(stdout); std::fflush(stderr); }
    } flush_at_end;
    try {
        std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
        app.parse(reversed);
    } catch (const CLI::ParseError& error) {
        // --help exits 0; every other parse error is a usage error (2), not CLI11's own codes.
        return app.exit(error) == 0 ? exit_ok : exit_usage;
    }
    try {
        if (verify->parsed()) return run_verify(registry, verify_subjects, verify_options);
        if (check->parsed()) return run_check(check_source, registry.at(check_subject), check_options, check_profile);
        if (spec->parsed()) return run_spec(spec_source);
        if (oracle->parsed()) return run_oracle(oracle_source, precision, oracle_out);
        if (gen->parsed()) return run_gen(gen_source, gen_out);
        if (judge->parsed()) return run_judge(judge_source, judge_result, judge_options);
        if (subjects->parsed()) return run_subjects(registry);
        if (tolerances->parsed()) return run_tolerances(tolerance_file);
        if (mutate->parsed()) return run_mutate(mutate_options, mutate_source, mutate_report);
        if (fuzz_command.parsed()) return fuzz_command.run();
        if (replay_command.parsed()) return replay_command.run();
        if (merge_command.parsed()) return merge_command.run();
    } catch (const gdr::InvalidArgument& error) {
        fmt::print(stderr, "{}: invalid input: {}\n", context.program, error.what());
        return exit_usage;
    } catch (const std::exception& error) {
        fmt::print(stderr, "{}: error: {}\n", context.program, error.what());
        return exit_failed;
    }
    return exit_usage;
}

}  // namespace gdr::cli
