#include "gdr/subjects/limitation.hpp"

#include <cstdint>
#include <limits>

namespace gdr::subjects {

std::optional<std::string> covering_limitation(const std::vector<Limitation>& limitations,
                                               const harness::CaseSpec& spec, std::string_view reason) {
    for (const Limitation& limitation : limitations)
        if (limitation.covers && limitation.covers(spec, reason)) return limitation.id;
    return std::nullopt;
}

harness::LimitationLookup limitation_lookup(std::vector<Limitation> limitations) {
    return [limitations = std::move(limitations)](const harness::CaseSpec& spec, std::string_view reason) {
        return covering_limitation(limitations, spec, reason);
    };
}

std::vector<Limitation> decode_kernel_limitations() {
    constexpr std::int64_t max_key_dim = 256;     // a thread's tile of h must fit its registers
    constexpr std::int64_t narrowest_tile = 8;    // value columns per block, general tiling
    constexpr std::int64_t int32_max = std::numeric_limits<std::int32_t>::max();
    return {
        {"key-dim-over-256", "K > 256 (a thread's tile of the state would not fit its registers)",
         [](const harness::CaseSpec& spec, std::string_view) { return spec.key_dim > max_key_dim; }},
        {"state-matrix-over-2^31", "K x V >= 2^31 (offsets within one state matrix are 32-bit)",
         [](const harness::CaseSpec& spec, std::string_view) { return spec.key_dim * spec.value_dim > int32_max; }},
        {"blocks-over-2^31", "HV x ceil(V / 8) >= 2^31 (one block per value head and 8 value columns)",
         [](const harness::CaseSpec& spec, std::string_view) {
             return spec.num_value_heads * ((spec.value_dim + narrowest_tile - 1) / narrowest_tile) > int32_max;
         }},
    };
}

}  // namespace gdr::subjects
