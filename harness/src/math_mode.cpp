#include "gdr/harness/math_mode.hpp"

#include <cmath>

namespace gdr::harness {

std::string_view to_string(MathMode mode) {
    switch (mode) {
        case MathMode::correctly_rounded: return "correctly-rounded";
        case MathMode::precise: return "precise";
        case MathMode::fast: return "fast";
    }
    return "?";
}

std::optional<MathMode> parse_math_mode(std::string_view text) {
    if (text == "correctly-rounded") return MathMode::correctly_rounded;
    if (text == "precise") return MathMode::precise;
    if (text == "fast") return MathMode::fast;
    return std::nullopt;
}

reference::ElementaryErrors elementary_errors(MathMode mode) {
    if (mode == MathMode::correctly_rounded) return {};
    const double ulp = std::ldexp(1.0, -23);  // of an fp32 result, relative, at most
    const double rounded = 0.5 * ulp;         // the correctly rounded result's own error
    if (mode == MathMode::fast)
        return {.alpha_base = 2 * ulp + rounded,
                .alpha_per_unit_g = 1.173 * ulp,
                .l2norm = 3 * ulp + rounded};
    return {.alpha_base = 2 * ulp + rounded, .alpha_per_unit_g = 0, .l2norm = 2.5 * ulp + rounded};
}

}  // namespace gdr::harness
