// Special values in a case: NaN, +Inf, -Inf or a subnormal placed at chosen or hashed
// elements of q, k, v, g, beta or the initial bank (the spec key `specials`, case_spec.hpp).
// Their text form, validation, placement, and the (row, value head) and (bank entry, value
// head) units they may affect: docs/SPEC.md "Special values" lets a special value reach
// only its own row and head; every other unit must come out bitwise as without it.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gdr/harness/case_spec.hpp"

namespace gdr::harness {

struct HostCase;

inline constexpr std::size_t kMaxSpecials = 64;

// "v:nan@1.0.2.3" <-> SpecialValue; parse throws InvalidArgument naming `key`.
std::string special_text(const SpecialValue& special);
SpecialValue parse_special(const std::string& key, std::string_view text);

// Whether the case places a NaN or an infinity (not only subnormals) among its inputs.
bool has_nonfinite_specials(const CaseSpec& spec);

// The coordinates each tensor takes (q, k, v: 4; g, beta: 3; state: 5).
std::size_t special_rank(SpecialTensor tensor);

// InvalidArgument naming "specials": wrong rank, a coordinate out of range, g or beta absent,
// a hashed element with nowhere to go, more than kMaxSpecials.
void validate_specials(const CaseSpec& spec);
// The extent of each coordinate of a special value in this case: rows, the row's tokens,
// heads, elements (q, k, v, g, beta) or entries, slots, HV, K, V (state).
std::vector<std::int64_t> special_extents(const CaseSpec& spec, SpecialTensor tensor, std::int64_t row);

// The value a kind stores in `dtype` (before the one rounding to it, which is exact).
double special_value(SpecialKind kind, DType dtype);

// A special value with its coordinates resolved (hashed ones drawn).
struct PlacedSpecial {
    SpecialTensor tensor;
    SpecialKind kind;
    std::vector<std::int64_t> at;
};
std::vector<PlacedSpecial> place_specials(const HostCase& host_case);

// Writes every special value into host_case's tensors (materialize() calls it last).
void apply_specials(HostCase& host_case);

// The units a special value may reach: (row, value head) of o and (bank entry, value head)
// of the bank (every slot of it).
struct AffectedUnits {
    std::set<std::pair<std::int64_t, std::int64_t>> row_heads;
    std::set<std::pair<std::int64_t, std::int64_t>> entry_heads;
};
AffectedUnits affected_units(const HostCase& host_case);

}  // namespace gdr::harness
