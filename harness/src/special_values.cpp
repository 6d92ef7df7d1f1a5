// Special values in a case spec: their text form and their validation (special_placement.cpp
// places them in a materialized case).
#include "gdr/harness/special_values.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "gdr/core/errors.hpp"

namespace gdr::harness {

namespace {

constexpr std::array<std::pair<SpecialTensor, std::string_view>, 6> kTensors{{{SpecialTensor::q, "q"},
                                                                             {SpecialTensor::k, "k"},
                                                                             {SpecialTensor::v, "v"},
                                                                             {SpecialTensor::g, "g"},
                                                                             {SpecialTensor::beta, "beta"},
                                                                             {SpecialTensor::state, "state"}}};
constexpr std::array<std::pair<SpecialKind, std::string_view>, 4> kKinds{{{SpecialKind::nan, "nan"},
                                                                         {SpecialKind::pos_inf, "inf"},
                                                                         {SpecialKind::neg_inf, "-inf"},
                                                                         {SpecialKind::subnormal, "sub"}}};

template <class E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
    for (const auto& [v, name] : table)
        if (v == value) return name;
    return "?";
}

[[noreturn]] void bad(const std::string& key, std::string_view text, const std::string& why) {
    throw InvalidArgument(key, "'" + std::string(text.substr(0, 64)) + "': " + why);
}

}  // namespace

std::vector<std::int64_t> special_extents(const CaseSpec& s, SpecialTensor tensor, std::int64_t row) {
    const std::int64_t tokens = row >= 0 && row < s.rows() ? s.row_tokens(row) : 0;
    switch (tensor) {
    case SpecialTensor::q:
    case SpecialTensor::k: return {s.rows(), tokens, s.num_heads, s.key_dim};
    case SpecialTensor::v: return {s.rows(), tokens, s.num_value_heads, s.value_dim};
    case SpecialTensor::g:
    case SpecialTensor::beta: return {s.rows(), tokens, s.num_value_heads};
    case SpecialTensor::state:
        return {s.resolved_bank_entries(), s.slots, s.num_value_heads, s.key_dim, s.value_dim};
    }
    return {};
}


std::size_t special_rank(SpecialTensor tensor) {
    switch (tensor) {
    case SpecialTensor::g:
    case SpecialTensor::beta: return 3;
    case SpecialTensor::state: return 5;
    default: return 4;
    }
}

std::string special_text(const SpecialValue& special) {
    std::string out = std::string(name_of(kTensors, special.tensor)) + ":" + std::string(name_of(kKinds, special.kind));
    for (std::size_t i = 0; i < special.at.size(); ++i) out += (i ? "." : "@") + std::to_string(special.at[i]);
    return out;
}

SpecialValue parse_special(const std::string& key, std::string_view text) {
    SpecialValue special;
    const std::size_t colon = text.find(':');
    if (colon == std::string_view::npos) bad(key, text, "expected TENSOR:KIND[@COORDS], e.g. v:nan@0.0.1.2");
    const std::string_view tensor = text.substr(0, colon);
    const std::size_t at = text.find('@', colon);
    const std::string_view kind = text.substr(colon + 1, at == std::string_view::npos ? text.npos : at - colon - 1);
    const auto t = std::find_if(kTensors.begin(), kTensors.end(), [&](const auto& e) { return e.second == tensor; });
    if (t == kTensors.end()) bad(key, text, "the tensor must be one of q, k, v, g, beta, state");
    const auto k = std::find_if(kKinds.begin(), kKinds.end(), [&](const auto& e) { return e.second == kind; });
    if (k == kKinds.end()) bad(key, text, "the kind must be one of nan, inf, -inf, sub");
    special.tensor = t->first;
    special.kind = k->first;
    if (at == std::string_view::npos) return special;
    std::string_view rest = text.substr(at + 1);
    while (true) {
        const std::size_t dot = rest.find('.');
        const std::string_view item = rest.substr(0, dot);
        std::int64_t value = 0;
        const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
        if (ec != std::errc() || end != item.data() + item.size() || item.empty())
            bad(key, text, "coordinates are dot-separated integers");
        special.at.push_back(value);
        if (dot == std::string_view::npos) break;
        rest = rest.substr(dot + 1);
    }
    return special;
}

bool has_nonfinite_specials(const CaseSpec& spec) {
    return std::any_of(spec.specials.begin(), spec.specials.end(),
                       [](const SpecialValue& special) { return special.kind != SpecialKind::subnormal; });
}

void validate_specials(const CaseSpec& s) {
    const std::string key = "specials";
    if (s.specials.size() > kMaxSpecials)
        throw InvalidArgument(key, "at most " + std::to_string(kMaxSpecials) + " special values, got " +
                                       std::to_string(s.specials.size()));
    std::int64_t tokens = 0;
    for (std::int64_t r = 0; r < s.rows(); ++r) tokens += s.row_tokens(r);
    for (const SpecialValue& special : s.specials) {
        const std::string text = special_text(special);
        if (special.tensor == SpecialTensor::g && !s.has_g) bad(key, text, "g is absent (g=0)");
        if (special.tensor == SpecialTensor::beta && !s.has_beta) bad(key, text, "beta is absent (beta=0)");
        if (special.kind == SpecialKind::subnormal && s.exact)
            bad(key, text, "a subnormal in an exact case: products with it underflow, so no result is exact (use exact=0)");
        if (special.at.empty()) {
            if (special.tensor != SpecialTensor::state && tokens == 0) bad(key, text, "the case has no token to place it in");
            continue;
        }
        const std::size_t rank = special_rank(special.tensor);
        if (special.at.size() != rank)
            bad(key, text, "this tensor takes " + std::to_string(rank) + " coordinates, got " + std::to_string(special.at.size()));
        const std::vector<std::int64_t> extent = special_extents(s, special.tensor, special.at[0]);
        for (std::size_t d = 0; d < rank; ++d)
            if (special.at[d] < 0 || special.at[d] >= extent[d])
                bad(key, text, "coordinate " + std::to_string(d) + " must be in [0, " + std::to_string(extent[d]) + ")");
    }
}

}  // namespace gdr::harness
