// The kill table as data (`gdr mutate --json FILE --junit FILE`): per mutant its verdict
// (killed, survived, not_run, not_supported), the killing check, the stage, the cases and
// seconds it took, and the score.
//
// JSON: {"format": "gdr-kill-table/1",
//        "score": {"mutants": n, "killed": k, "survived": s, "equivalent": e, "not_decided": u,
//                  "score": k / (n - e)},
//        "mutants": [{"name", "verdict", "declared_equivalent", "outcome", "killing_check", "stage",
//                     "case", "detail", "cases", "seconds", "timed_out"}, ...]}
// A mutant is declared equivalent when its bug class says EQUIVALENT (the catalog's
// convention, cuda/include/gdr/cuda/mutants.hpp): it cannot be killed, so it leaves the
// score's denominator; a mutant that did not run counts against the score.
// JUnit: one <testcase> per mutant (classname "mutant"); a survivor that is not declared
// equivalent is a <failure> (a blind spot of the verification), NOT_RUN / NOT_SUPPORTED
// <skipped>.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gdr/mutation/kill_table.hpp"
#include "gdr/subjects/registry.hpp"

namespace gdr::mutation {

// killed, survived, not_run or not_supported.
std::string kill_verdict(const KillResult& result);
// Whether the registry entry declares its mutant equivalent (it cannot be killed).
bool declared_equivalent(const subjects::SubjectEntry& mutant);

struct KillScore {
    std::int64_t mutants = 0, killed = 0, survived = 0, equivalent = 0, not_decided = 0;
    // killed / (mutants - equivalent); 1 when no mutant can be killed.
    double score() const;
};
// `mutants[i]` is the registry entry of `results[i]`.
KillScore kill_score(const std::vector<KillResult>& results, const std::vector<const subjects::SubjectEntry*>& mutants);

nlohmann::json kill_table_to_json(const std::vector<KillResult>& results,
                                  const std::vector<const subjects::SubjectEntry*>& mutants);
void write_kill_junit(std::ostream& out, const std::vector<KillResult>& results,
                      const std::vector<const subjects::SubjectEntry*>& mutants);

}  // namespace gdr::mutation
