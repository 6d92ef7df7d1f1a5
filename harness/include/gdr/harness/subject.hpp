// A subject is one implementation under test. The harness hands it a Problem whose
// pointers are host buffers (inputs, a poisoned o, the bank to update in place); the
// subject computes as it would on its own memory (a CUDA subject copies into guarded
// device buffers, launches, checks the guards and copies back) and writes o and the bank.
// The subjects themselves, and the registry that names them, are in subjects/.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "gdr/core/problem.hpp"
#include "gdr/harness/chunked_contract.hpp"
#include "gdr/harness/math_mode.hpp"

namespace gdr::harness {

struct SubjectRunResult {
    std::size_t damaged_guard_bytes = 0;       // out-of-bounds writes seen in guard bands
    std::string guard_detail;                  // which buffers' guards, when damaged
    bool has_guard_bands = false;              // false: a host subject, nothing to check
    std::vector<std::string> modified_inputs;  // read-only inputs whose bytes changed
    // A subject that copies the bank into its own memory (the CUDA subject) checks the arena
    // margins there (gdr/harness/bank_arena.hpp): elements no longer poison, and where.
    std::int64_t damaged_arena_elements = 0;
    std::string arena_detail;
};

class Subject {
public:
    virtual ~Subject() = default;
    virtual std::string name() const = 0;
    virtual std::string description() const = 0;
    // Why this subject cannot run on this machine (reported as NOT_RUN), or nullopt.
    virtual std::optional<std::string> unavailable_reason() const = 0;
    // The elementary functions it uses (math_mode.hpp): the rule allows their documented
    // errors. Precise unless a subject declares otherwise.
    virtual MathMode math_mode() const { return MathMode::precise; }
    // A chunk (prefill) kernel declares its chunk size and rounding points here and is
    // judged by docs/SPEC.md's chunked path (chunked_contract.hpp): only the final state
    // slot written in circular mode, no round trip between tokens, no stepped checks.
    // nullopt: a recurrent (decode) kernel.
    virtual std::optional<ChunkedContract> chunked() const { return std::nullopt; }
    // A subject that hands back results computed elsewhere (gdr judge: a results file)
    // instead of running a kernel on the harness's buffers: why the checks that watch a
    // call (guard bands, the bank arena, inputs unchanged, isolation, determinism) cannot
    // run. They are then listed as NOT_RUN with this reason, outside the case's outcome.
    // nullopt for a subject that runs the call.
    virtual std::optional<std::string> results_only_reason() const { return std::nullopt; }
    // Throws gdr::NotSupported for valid shapes it does not handle (NOT_SUPPORTED),
    // gdr::InvalidArgument or std::runtime_error for errors (FAILED).
    virtual SubjectRunResult run(const Problem& host_problem) = 0;
};

// subject.run(problem), its wall time added to `seconds` (CaseReport::subject_seconds: the
// harness's overhead is what a case takes besides).
inline SubjectRunResult timed_run(Subject& subject, const Problem& problem, double& seconds) {
    const auto started = std::chrono::steady_clock::now();
    SubjectRunResult result = subject.run(problem);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return result;
}

}  // namespace gdr::harness
