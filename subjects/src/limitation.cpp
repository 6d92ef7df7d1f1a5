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

std::vector<Limitation> chunk_kernel_limitations() {
    const auto value_tile = [](std::int64_t key_dim) { return key_dim > 128 ? 32 : 64; };  // fits one block's shared memory
    return {
        {"inputs-not-16-bit", "f32 inputs (the tensor cores multiply f16 or bf16 operands)",
         [](const harness::CaseSpec& spec, std::string_view) { return spec.input_dtype == DType::f32; }},
        {"key-dim-not-64-128-256", "K other than 64, 128 or 256 (the kernel's tiles are compiled for these)",
         [](const harness::CaseSpec& spec, std::string_view) {
             return spec.key_dim != 64 && spec.key_dim != 128 && spec.key_dim != 256;
         }},
        {"value-dim-not-whole-tiles", "V not a multiple of the value tile (64, or 32 at K = 256)",
         [value_tile](const harness::CaseSpec& spec, std::string_view) { return spec.value_dim % value_tile(spec.key_dim) != 0; }},
    };
}

}  // namespace gdr::subjects
