#include "gdr/harness/bank_arena.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "gdr/core/poison.hpp"

namespace gdr::harness {

ArenaMargins arena_margins(const std::int64_t* state_indices, std::int64_t rows, std::int64_t bank_entries) {
    ArenaMargins margins;
    if (!state_indices) return margins;
    for (std::int64_t r = 0; r < rows; ++r) {
        const std::int64_t index = state_indices[r];
        if (index < 0 && index >= -kMaxIndexMargin) margins.before = std::max(margins.before, -index);
        if (index >= bank_entries && index - bank_entries < kMaxIndexMargin)
            margins.after = std::max(margins.after, index - bank_entries + 1);
    }
    return margins;
}

ArenaMargins arena_margins(const Problem& problem) {
    return arena_margins(problem.state_indices, problem.rows(), problem.bank_entries());
}

ArenaDamage inspect_arena(const void* arena, ArenaMargins margins, std::int64_t bank_entries,
                          std::int64_t entry_elements, DType dtype) {
    const auto* bytes = static_cast<const std::byte*>(arena);
    const std::size_t entry_bytes = std::size_t(entry_elements) * dtype_size(dtype);
    return inspect_margins(bytes, bytes + std::size_t(margins.before + bank_entries) * entry_bytes, margins, bank_entries,
                           entry_elements, dtype);
}

ArenaDamage inspect_margins(const void* before, const void* after, ArenaMargins margins, std::int64_t bank_entries,
                            std::int64_t entry_elements, DType dtype) {
    ArenaDamage damage;
    const std::size_t element = dtype_size(dtype);
    const auto inspect_entry = [&](const void* margin, std::int64_t margin_entry, std::int64_t index) {
        std::int64_t changed = 0;
        const std::byte* base = static_cast<const std::byte*>(margin) + std::size_t(margin_entry * entry_elements) * element;
        for (std::int64_t i = 0; i < entry_elements; ++i)
            changed += is_poison(base + std::size_t(i) * element, element, dtype) ? 0 : 1;
        if (!changed) return;
        damage.changed_elements += changed;
        damage.detail += fmt::format("{}entry {}: {} elements", damage.detail.empty() ? "" : "; ", index, changed);
    };
    for (std::int64_t e = 0; e < margins.before; ++e) inspect_entry(before, e, e - margins.before);
    for (std::int64_t e = 0; e < margins.after; ++e) inspect_entry(after, e, bank_entries + e);
    return damage;
}

}  // namespace gdr::harness
