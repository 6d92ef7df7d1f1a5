#include "gdr/mutation/kill_report.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "gdr/harness/report.hpp"

namespace gdr::mutation {

namespace {

void require_same_length(const std::vector<KillResult>& results, const std::vector<const subjects::SubjectEntry*>& mutants) {
    if (results.size() != mutants.size())
        throw std::logic_error(fmt::format("{} kill results for {} mutants", results.size(), mutants.size()));
}

}  // namespace

std::string kill_verdict(const KillResult& result) {
    if (result.killed()) return "killed";
    switch (result.outcome) {
    case harness::Outcome::passed: return "survived";
    case harness::Outcome::not_run: return "not_run";
    default: return "not_supported";
    }
}

bool declared_equivalent(const subjects::SubjectEntry& mutant) {
    return mutant.bug_class.find("EQUIVALENT") != std::string::npos;
}

double KillScore::score() const {
    const std::int64_t killable = mutants - equivalent;
    return killable > 0 ? double(killed) / double(killable) : 1.0;
}

KillScore kill_score(const std::vector<KillResult>& results, const std::vector<const subjects::SubjectEntry*>& mutants) {
    require_same_length(results, mutants);
    KillScore score;
    for (std::size_t i = 0; i < results.size(); ++i) {
        ++score.mutants;
        if (declared_equivalent(*mutants[i])) ++score.equivalent;
        const std::string verdict = kill_verdict(results[i]);
        if (verdict == "killed") ++score.killed;
        else if (verdict == "survived") ++score.survived;
        else ++score.not_decided;
    }
    return score;
}

nlohmann::json kill_table_to_json(const std::vector<KillResult>& results,
                                  const std::vector<const subjects::SubjectEntry*>& mutants) {
    const KillScore score = kill_score(results, mutants);
    nlohmann::json rows = nlohmann::json::array();
    for (std::size_t i = 0; i < results.size(); ++i) {
        const KillResult& r = results[i];
        rows.push_back({{"name", r.mutant},
                        {"verdict", kill_verdict(r)},
                        {"declared_equivalent", declared_equivalent(*mutants[i])},
                        {"outcome", std::string(harness::to_string(r.outcome))},
                        {"killing_check", r.killed() ? nlohmann::json(r.check) : nlohmann::json(nullptr)},
                        {"stage", r.stage},
                        {"case", r.case_text},
                        {"detail", r.detail},
                        {"cases", r.cases},
                        {"seconds", r.seconds},
                        {"timed_out", r.timed_out}});
    }
    return {{"format", "gdr-kill-table/1"},
            {"score",
             {{"mutants", score.mutants},
              {"killed", score.killed},
              {"survived", score.survived},
              {"equivalent", score.equivalent},
              {"not_decided", score.not_decided},
              {"score", score.score()}}},
            {"mutants", std::move(rows)}};
}

void write_kill_junit(std::ostream& out, const std::vector<KillResult>& results,
                      const std::vector<const subjects::SubjectEntry*>& mutants) {
    require_same_length(results, mutants);
    std::int64_t failures = 0, skipped = 0;
    double seconds = 0;
    for (std::size_t i = 0; i < results.size(); ++i) {
        const std::string verdict = kill_verdict(results[i]);
        failures += verdict == "survived" && !declared_equivalent(*mutants[i]);
        skipped += verdict == "not_run" || verdict == "not_supported";
        seconds += results[i].seconds;
    }
    const std::string head = fmt::format("name=\"gdr mutate\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.6f}\"",
                                         results.size(), failures, skipped, seconds);
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites " << head << ">\n  <testsuite " << head << ">\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
        const KillResult& r = results[i];
        const std::string verdict = kill_verdict(r);
        out << fmt::format("    <testcase classname=\"mutant\" name=\"{}\" time=\"{:.6f}\">\n", harness::xml_escape(r.mutant),
                           r.seconds);
        if (verdict == "survived" && !declared_equivalent(*mutants[i]))
            out << fmt::format("      <failure type=\"SURVIVED\" message=\"{}\"/>\n",
                               harness::xml_escape(fmt::format("survived {} cases{}: no check of the verification kills it",
                                                               r.cases, r.timed_out ? " (time cap)" : "")));
        else if (verdict == "not_run" || verdict == "not_supported")
            out << fmt::format("      <skipped message=\"{}\"/>\n", harness::xml_escape(verdict + ": " + r.detail));
        out << fmt::format("      <system-out>{}</system-out>\n", harness::xml_escape(format_kill_result(r)));
        out << "    </testcase>\n";
    }
    out << "  </testsuite>\n</testsuites>\n";
}

}  // namespace gdr::mutation
