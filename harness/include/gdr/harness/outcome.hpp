// The outcome of one check, one case or one run (CUTLASS's Disposition, trimmed).
#pragma once

#include <optional>
#include <string_view>

namespace gdr::harness {

// Declared in severity order, least severe first; worst() picks the later one.
//   passed         ran and every check held.
//   not_supported  the subject declined a valid case (a head size, a dtype pair): a known,
//                  declared limitation, so it ranks just above passed.
//   not_run        the case should have run and did not (no GPU, subject not built, a
//                  skipped dependency): nothing was verified, which a CI gate may treat
//                  as a failure, so it outranks not_supported.
//   incorrect      ran and produced a wrong answer (a tolerance, bitwise or poison check).
//   failed         an error while running (a CUDA error, an exception): ranks worst
//                  because it can hide any wrong answer behind it.
// The enum only orders; whether NOT_RUN fails a run is the gate's (the CLI's) decision.
enum class Outcome { passed, not_supported, not_run, incorrect, failed };

// PASSED, NOT_SUPPORTED, NOT_RUN, INCORRECT, FAILED.
std::string_view to_string(Outcome outcome);
// The names above, case-insensitive; nullopt for anything else.
std::optional<Outcome> parse_outcome(std::string_view text);

constexpr int severity(Outcome outcome) { return static_cast<int>(outcome); }
constexpr Outcome worst(Outcome a, Outcome b) { return severity(a) >= severity(b) ? a : b; }
// incorrect or failed: the outcomes that are always a failure, whatever the gate.
constexpr bool is_failure(Outcome outcome) { return outcome == Outcome::incorrect || outcome == Outcome::failed; }

}  // namespace gdr::harness
