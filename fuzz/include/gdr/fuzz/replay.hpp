// Replay files: a counterexample a fuzz campaign found (or a regression case kept in
// fuzz/corpus/), written so that `gdr replay FILE` reruns it exactly.
//
// Format: one JSON object (UTF-8), e.g.
//   {
//     "format": "gdr-replay/2",                 required, "gdr-replay/2" or "gdr-replay/1"
//     "case": "B=1 T=1 H=1 HV=1 K=3 V=1 ...",   required, the case spec text (case_spec.hpp)
//     "subject": "cuda-decode",                 required, the subject it failed on
//     "options": {"tolerances": "t.json",       the options that change a verdict, as the
//                 "strict": true,               campaign ran (verdict_options.hpp); left out
//                 "determinism": false},        when all are the defaults; `gdr replay` uses them
//     "outcome": "INCORRECT",                   what the campaign saw
//     "failure_class": "o vs R64",              the first failing check
//     "failing_checks": ["o vs R64"],           every failing check
//     "campaign_seed": 1, "case_number": 17,    where the campaign drew it
//     "original_case": "B=7 T=3 ...",           the case before shrinking
//     "gdr_version": "0.1.0",
//     "note": "why this file is kept"           optional, free text (corpus files)
//   }
// Format gdr-replay/1 is format 2 from before the spec key `generator`: its case was made
// by generator 1, so it is read with generator=1 (and may not name the key) and replays the
// values it was found with.
// Only "format", "case", "subject" (and "options") are needed to replay; the rest is the story. Unknown
// keys are errors (a typo in a hand-written corpus file must not go unnoticed).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/verdict_options.hpp"

namespace gdr::fuzz {

using harness::CaseSpec;

inline constexpr const char* kReplayFormat = "gdr-replay/2";
inline constexpr const char* kReplayFormatGenerator1 = "gdr-replay/1";  // read only

struct ReplayFile {
    CaseSpec spec;
    std::string subject;
    harness::VerdictOptions options;  // the options the verdict was reached with
    std::string outcome;
    std::string failure_class;
    std::vector<std::string> failing_checks;
    std::optional<std::uint64_t> campaign_seed;
    std::optional<std::int64_t> case_number;
    std::string original_case;  // text form; empty when unknown
    std::string gdr_version;
    std::string note;
};

nlohmann::json to_json(const ReplayFile& replay);
// Throws gdr::InvalidArgument naming the field ("case", "subject", "format", a key of the
// spec, ...) for anything malformed; `origin` (a file name) starts the message.
ReplayFile replay_from_json(const nlohmann::json& json, const std::string& origin);

// Writes `replay` to `path` (creating its folder), pretty-printed.
void write_replay_file(const std::filesystem::path& path, const ReplayFile& replay);
// Reads and validates a replay file; InvalidArgument naming the file and the field, also for
// an unreadable file or text that is not JSON.
ReplayFile read_replay_file(const std::filesystem::path& path);

}  // namespace gdr::fuzz
