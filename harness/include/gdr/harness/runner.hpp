// Runs one case against one subject and judges it: the subject's o and bank against the
// fp64 truth (R64) within rho x (Rlp vs R64) + floor (or bitwise in exact mode), untouched
// bank slices bitwise against the initial bank, poison survivors, guard bands and
// determinism (the same case twice gives identical bytes).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/generate.hpp"
#include "gdr/harness/math_mode.hpp"
#include "gdr/harness/stage_profile.hpp"
#include "gdr/harness/report.hpp"
#include "gdr/harness/subject.hpp"
#include "gdr/harness/tolerance.hpp"
#include "gdr/harness/verdict_options.hpp"

namespace gdr::harness {

// A case's inputs, generated once and shared by every subject that runs it. The oracle
// runs each time a subject is judged, one head at a time (oracle_checks.hpp): it costs
// what the checks cost, and a serving-size case stores no copy of it.
struct PreparedCase {
    HostCase host;
    std::vector<StageTiming> stages;  // generation (stage_profile.hpp)
};

// Throws gdr::InvalidArgument for an invalid spec (naming the key).
PreparedCase prepare_case(const CaseSpec& spec);

// Which declared limitation of the subject covers a NOT_SUPPORTED case (given the spec and
// the subject's reason): its id, or nullopt when none does (subjects/limitation.hpp).
using LimitationLookup = std::function<std::optional<std::string>(const CaseSpec&, std::string_view reason)>;

struct RunOptions {
    std::string gdr_command = "gdr";  // how the reproduce line invokes the tool
    std::filesystem::path dump_dir;   // where failing cases' tensors go; empty: nowhere
    // Fills CaseReport::declared_limitation of a NOT_SUPPORTED case; none: every
    // NOT_SUPPORTED is unexpected.
    LimitationLookup declared_limitation;
    // The options behind this verdict (verdict.check_determinism: run the subject twice and
    // compare bytes), for the reproduce line too; --math overrides the subject's math mode.
    VerdictOptions verdict;
    // Host memory a case may take (estimate_case_memory); a case over it is NOT_RUN, refused
    // before anything is allocated. 0: the memory the machine has available.
    std::int64_t memory_budget_bytes = 0;
};

// Never throws for subject errors: they become FAILED / NOT_SUPPORTED / NOT_RUN outcomes.
CaseReport run_case(const PreparedCase& prepared, Subject& subject, const ToleranceTable& tolerances,
                    const RunOptions& options = {});
// A report of `spec` on `subject` before anything is judged (case, seed, subject, reproduce line).
CaseReport report_for(const CaseSpec& spec, Subject& subject, const RunOptions& options);

// Why a case cannot run within options.memory_budget_bytes (estimate_case_memory), or nullopt.
// Throws InvalidArgument for an invalid spec.
std::optional<std::string> memory_refusal(const CaseSpec& spec, const RunOptions& options);

// prepare_case + run_case; an invalid spec is a FAILED report naming the key, a case over
// the memory budget a NOT_RUN saying why (before anything is allocated).
CaseReport run_case(const CaseSpec& spec, Subject& subject, const ToleranceTable& tolerances,
                    const RunOptions& options = {});

// A case spec whose inputs are generated once, on first use, for every subject that runs it
// (`gdr verify` runs each case on several subjects, the kill table on every mutant).
class SharedCase {
public:
    explicit SharedCase(CaseSpec spec) : spec_(std::move(spec)) {}
    const CaseSpec& spec() const { return spec_; }
    // The prepared case; nullptr when the spec cannot be prepared (run() then reports why,
    // as FAILED). Prepares on the first call.
    const PreparedCase* prepared();
    CaseReport run(Subject& subject, const ToleranceTable& tolerances, const RunOptions& options = {});

private:
    CaseSpec spec_;
    std::optional<PreparedCase> prepared_;
    bool tried_ = false;
};

// `gdr check --subject NAME --case '<spec text>'` and the options of `verdict`, quoted for a
// POSIX shell.
std::string reproduce_command(const CaseSpec& spec, std::string_view subject, std::string_view gdr_command = "gdr",
                              const VerdictOptions& verdict = {});
// `command` followed by the options of `verdict`, each quoted where a POSIX shell needs it.
std::string with_verdict_args(std::string command, const VerdictOptions& verdict);
// `text` as one word of a POSIX shell command line (single-quoted).
std::string shell_quote(std::string_view text);

// A tensor's logical values as JSON {dtype, shape, values}; NaN and Inf as strings.
nlohmann::json tensor_to_json(const HostTensor& tensor);

// The cases `gdr verify` runs by default: every feature of docs/SPEC.md at least once, small
// enough to finish in seconds on a CPU.
std::vector<CaseSpec> default_verify_cases();

}  // namespace gdr::harness
