#include "gdr/harness/outcome.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace gdr::harness {

namespace {
constexpr std::array<Outcome, 5> kAll = {Outcome::passed, Outcome::not_supported, Outcome::not_run,
                                         Outcome::incorrect, Outcome::failed};
}

std::string_view to_string(Outcome outcome) {
    switch (outcome) {
    case Outcome::passed: return "PASSED";
    case Outcome::not_supported: return "NOT_SUPPORTED";
    case Outcome::not_run: return "NOT_RUN";
    case Outcome::incorrect: return "INCORRECT";
    case Outcome::failed: return "FAILED";
    }
    return "?";
}

std::optional<Outcome> parse_outcome(std::string_view text) {
    std::string upper(text);
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return char(std::toupper(c)); });
    for (Outcome o : kAll)
        if (to_string(o) == upper) return o;
    return std::nullopt;
}

}  // namespace gdr::harness
