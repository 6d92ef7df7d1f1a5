// The options that change a verdict: whatever a reproduce line and a replay file must carry
// so that following them gives the same verdict (a tightened tolerance table makes a PASSED
// case INCORRECT, strictness makes a NOT_SUPPORTED fail, no determinism skips a check).
// Adding one: a field here and a line in each of cli_args, to_json and from_json
// (verdict_options.cpp); every verb, reproduce line and replay file then carries it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "gdr/harness/math_mode.hpp"

namespace gdr::harness {

struct VerdictOptions {
    std::string tolerance_file;     // --tolerances FILE; empty: the compiled-in table
    bool strict = false;            // --strict: an unexpected NOT_SUPPORTED fails the gate
    bool check_determinism = true;  // false: --no-determinism
    std::optional<MathMode> math;   // --math MODE: overrides the subject's declared math mode

    // The `gdr` options that set these fields (none for a default field), in a fixed order;
    // not quoted for a shell.
    std::vector<std::string> cli_args() const;
    bool operator==(const VerdictOptions&) const = default;
};

// {"tolerances": FILE, "strict": true, "determinism": false, "math": "fast"}: only the fields that differ
// from the defaults.
nlohmann::json to_json(const VerdictOptions& options);
// The inverse; throws gdr::InvalidArgument naming `origin` and the key for an unknown key or
// a wrong type.
VerdictOptions verdict_options_from_json(const nlohmann::json& json, const std::string& origin);

}  // namespace gdr::harness
