#include "gdr/mutation/kill_table.hpp"

#include <fmt/format.h>

#include "gdr/core/errors.hpp"
#include "gdr/harness/check_names.hpp"

namespace gdr::mutation {

bool KillProgress::record(const harness::CaseReport& report) {
    ++cases_;
    // A case the kernel declines as it declares (the chunk kernel's f32 inputs, say) says
    // nothing about the mutant: the stage goes on. An undeclared NOT_SUPPORTED settles it.
    const bool declined_as_declared = report.outcome == harness::Outcome::not_supported && !report.declared_limitation.empty();
    if (report.outcome == harness::Outcome::passed || declined_as_declared) return false;
    settled_ = true;
    deciding_ = report;
    return true;
}

namespace {

KillResult result_of(const std::string& mutant, const KillProgress& progress, const std::string& stage) {
    KillResult result;
    result.mutant = mutant;
    result.cases = progress.cases();
    if (!progress.settled()) return result;
    const harness::CaseReport& report = progress.deciding_report();
    result.outcome = report.outcome;
    result.stage = stage;
    result.case_text = report.case_text;
    const harness::CheckResult* check = harness::first_failing_check(report, /*any_outcome=*/true);
    result.check = check ? check->name : harness::check_names::error;
    result.detail = check ? check->detail : report.message;
    return result;
}

}  // namespace

std::vector<KillResult> run_kill_table(const std::vector<const subjects::SubjectEntry*>& mutants, const std::vector<KillStage>& stages,
                                       const harness::ToleranceTable& tolerances, const KillOptions& options,
                                       const std::function<void(const KillResult&)>& on_result) {
    std::vector<KillResult> results;
    for (const subjects::SubjectEntry* entry : mutants) {
        const std::string& mutant = entry->name;
        const auto started = KillProgress::Clock::now();
        const auto deadline = started + std::chrono::duration_cast<KillProgress::Clock::duration>(
                                            std::chrono::duration<double>(options.seconds_per_mutant));
        const auto subject = entry->make(0);
        harness::RunOptions run_options = options.run_options;
        run_options.declared_limitation = entry->limitation_lookup();  // the kernel's, which its mutants share
        const MutantUnderTest target{*entry, *subject, tolerances, run_options};
        KillProgress progress(deadline);
        std::string deciding_stage;
        if (const auto reason = subject->unavailable_reason()) {  // no device: nothing to attack
            KillResult result;
            result.mutant = mutant;
            result.outcome = harness::Outcome::not_run;
            result.detail = *reason;
            if (on_result) on_result(result);
            results.push_back(std::move(result));
            continue;
        }
        for (const KillStage& stage : stages) {
            if (progress.settled() || progress.out_of_time()) break;
            stage.run(target, progress);
            if (progress.settled()) deciding_stage = stage.name;
        }
        KillResult result = result_of(mutant, progress, deciding_stage);
        result.seconds = std::chrono::duration<double>(KillProgress::Clock::now() - started).count();
        result.timed_out = !progress.settled() && progress.out_of_time();
        if (on_result) on_result(result);
        results.push_back(std::move(result));
    }
    return results;
}

nlohmann::json to_json(const KillResult& result) {
    return {{"mutant", result.mutant},
            {"outcome", std::string(harness::to_string(result.outcome))},
            {"killed", result.killed()},
            {"stage", result.stage},
            {"check", result.check},
            {"detail", result.detail},
            {"case", result.case_text},
            {"cases", result.cases},
            {"seconds", result.seconds},
            {"timed_out", result.timed_out}};
}

KillResult kill_result_from_json(const nlohmann::json& json) {
    KillResult result;
    result.mutant = json.at("mutant").get<std::string>();
    const auto outcome = harness::parse_outcome(json.at("outcome").get<std::string>());
    if (!outcome) throw InvalidArgument("outcome", "not an outcome: " + json.at("outcome").get<std::string>());
    result.outcome = *outcome;
    result.stage = json.at("stage").get<std::string>();
    result.check = json.at("check").get<std::string>();
    result.detail = json.at("detail").get<std::string>();
    result.case_text = json.at("case").get<std::string>();
    result.cases = json.at("cases").get<std::int64_t>();
    result.seconds = json.at("seconds").get<double>();
    result.timed_out = json.at("timed_out").get<bool>();
    return result;
}

std::string format_kill_result(const KillResult& result) {
    const std::string& name = result.mutant;
    if (result.outcome == harness::Outcome::not_run && result.cases == 0)
        return fmt::format("{:<43} NOT_RUN: {}", name, result.detail);
    if (result.outcome == harness::Outcome::passed)
        return fmt::format("{:<43} SURVIVED{} after {} cases, {:.1f} s", name, result.timed_out ? " (time cap)" : "",
                           result.cases, result.seconds);
    return fmt::format("{:<43} {} by '{}' in {} after {} cases, {:.1f} s: {}  [{}]", name,
                       result.killed() ? "KILLED" : harness::to_string(result.outcome), result.check, result.stage,
                       result.cases, result.seconds, result.detail, result.case_text);
}

std::string format_kill_summary(const std::vector<KillResult>& results) {
    std::int64_t killed = 0, undecided = 0;
    std::string survivors, undecided_names;
    for (const KillResult& result : results) {
        const std::string& name = result.mutant;
        if (result.killed()) {
            ++killed;
        } else if (result.outcome == harness::Outcome::passed) {
            survivors += (survivors.empty() ? "" : ", ") + name;
        } else {
            ++undecided;
            undecided_names += (undecided_names.empty() ? "" : ", ") + name;
        }
    }
    std::string summary = fmt::format("{} mutants: {} killed", results.size(), killed);
    if (!survivors.empty()) summary += fmt::format("; survived: {}", survivors);
    if (undecided == std::int64_t(results.size()))
        summary += "; none ran (see above)";
    else if (undecided)
        summary += fmt::format("; not decided (not run or not supported): {}", undecided_names);
    return summary;
}

}  // namespace gdr::mutation
