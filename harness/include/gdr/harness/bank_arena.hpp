// The bank arena: the bank placed inside a larger allocation whose entries before entry 0
// and after entry N-1 hold poison, spanning every index the case's state_indices use. A
// kernel that wrongly follows an inactive row's index (-1, -5, N, N+7, ...) writes poisoned,
// checked memory instead of bytes beyond every guard band (a K = V = 128 f32 matrix is
// 64 KiB; guard bands are 4 KiB). The harness gives host subjects such an arena; the CUDA
// subject builds the same one on the device. After the run, every arena entry outside the
// bank must still hold poison, bitwise (the "bank arena" check).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "gdr/core/dtype.hpp"
#include "gdr/core/problem.hpp"

namespace gdr::harness {

// Whole bank entries (each Slots matrices) before entry 0 and after entry N - 1.
struct ArenaMargins {
    std::int64_t before = 0;
    std::int64_t after = 0;
    bool empty() const { return before == 0 && after == 0; }
};

// The farthest an index may lie outside [0, N) in a case spec (explicit_indices included),
// in entries: bounds the arena's memory. The generator's rule uses -1, -5, N and N + 7.
inline constexpr std::int64_t kMaxIndexMargin = 64;

// The entries the indices reach outside [0, N): before = max(0, -min index), after =
// max(0, max index - N + 1). Indices farther out than kMaxIndexMargin are not covered
// (case specs cannot make them; a caller's own array may).
ArenaMargins arena_margins(const std::int64_t* state_indices, std::int64_t rows, std::int64_t bank_entries);
ArenaMargins arena_margins(const Problem& problem);  // from its host-readable state_indices

// Damage in the margins of an arena whose bank starts `margins.before` entries in.
struct ArenaDamage {
    std::int64_t changed_elements = 0;
    std::string detail;  // empty when intact; else which entries, e.g. "entry -5: 12 elements"
};
ArenaDamage inspect_arena(const void* arena, ArenaMargins margins, std::int64_t bank_entries,
                          std::int64_t entry_elements, DType dtype);
// The same from the two margins alone (`before`: margins.before entries, `after`:
// margins.after entries), for a subject that fetches only those from its device.
ArenaDamage inspect_margins(const void* before, const void* after, ArenaMargins margins, std::int64_t bank_entries,
                            std::int64_t entry_elements, DType dtype);

}  // namespace gdr::harness
