#include "gdr/harness/special_values.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "gdr/core/errors.hpp"
#include "gdr/harness/generate.hpp"
#include "gdr/reference/numeric.hpp"

namespace gdr::harness {

namespace {

constexpr std::uint64_t kStreamSpecials = 35;  // generate.cpp's streams end at 34

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

// The extent of each coordinate of a special value in this case: rows, the row's tokens,
// heads, elements (q, k, v, g, beta) or entries, slots, HV, K, V (state).
std::vector<std::int64_t> extents(const CaseSpec& s, SpecialTensor tensor, std::int64_t row) {
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

std::int64_t hashed_below(std::uint64_t seed, std::size_t special, std::size_t dim, std::int64_t n) {
    const auto r = std::int64_t(uniform01(seed, kStreamSpecials, std::uint64_t(special) * 16 + dim) * double(n));
    return std::min(r, n - 1);
}

std::int64_t entry_of(const HostCase& c, std::int64_t row) { return c.has_state_indices ? c.state_indices[std::size_t(row)] : row; }

// The (batch row, token) of a row's position: varlen rows are sequences of batch row 0.
std::pair<std::int64_t, std::int64_t> batch_token(const CaseSpec& s, std::int64_t row, std::int64_t position) {
    if (!s.varlen) return {row, position};
    std::int64_t begin = 0;
    for (std::int64_t r = 0; r < row; ++r) begin += s.seq_lengths[std::size_t(r)];
    return {0, begin + position};
}

}  // namespace

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
        const std::vector<std::int64_t> extent = extents(s, special.tensor, special.at[0]);
        for (std::size_t d = 0; d < rank; ++d)
            if (special.at[d] < 0 || special.at[d] >= extent[d])
                bad(key, text, "coordinate " + std::to_string(d) + " must be in [0, " + std::to_string(extent[d]) + ")");
    }
}

double special_value(SpecialKind kind, DType dtype) {
    switch (kind) {
    case SpecialKind::nan: return std::numeric_limits<double>::quiet_NaN();
    case SpecialKind::pos_inf: return std::numeric_limits<double>::infinity();
    case SpecialKind::neg_inf: return -std::numeric_limits<double>::infinity();
    case SpecialKind::subnormal: return 0.375 * std::ldexp(1.0, dtype == DType::f16 ? -14 : -126);
    }
    return 0;
}

std::vector<PlacedSpecial> place_specials(const HostCase& c) {
    const CaseSpec& s = c.spec;
    std::vector<PlacedSpecial> out;
    for (std::size_t i = 0; i < s.specials.size(); ++i) {
        const SpecialValue& special = s.specials[i];
        PlacedSpecial placed{special.tensor, special.kind, special.at};
        if (placed.at.empty()) {
            // A hashed element: inputs in a hashed row with tokens; state in the slot a hashed
            // active row reads (where it matters), or anywhere when no row is active.
            std::vector<std::int64_t> rows;
            for (std::int64_t r = 0; r < s.rows(); ++r)
                if (s.row_tokens(r) > 0 && (special.tensor != SpecialTensor::state || c.row_is_active(r))) rows.push_back(r);
            if (special.tensor == SpecialTensor::state && !rows.empty()) {
                const std::int64_t row = rows[std::size_t(hashed_below(s.seed, i, 0, std::int64_t(rows.size())))];
                const std::int64_t slot = s.circular ? std::int64_t(c.cache_seqlens[std::size_t(row)]) % s.slots : 0;
                placed.at = {entry_of(c, row), slot};
            } else if (special.tensor != SpecialTensor::state) {
                placed.at = {rows[std::size_t(hashed_below(s.seed, i, 0, std::int64_t(rows.size())))]};
            }
            const std::vector<std::int64_t> extent = extents(s, special.tensor, placed.at.empty() ? 0 : placed.at[0]);
            for (std::size_t d = placed.at.size(); d < extent.size(); ++d)
                placed.at.push_back(hashed_below(s.seed, i, d, extent[d]));
        }
        out.push_back(std::move(placed));
    }
    return out;
}

void apply_specials(HostCase& c) {
    const CaseSpec& s = c.spec;
    for (const PlacedSpecial& p : place_specials(c)) {
        const auto& at = p.at;
        HostTensor* tensor = nullptr;
        std::int64_t offset = 0;
        if (p.tensor == SpecialTensor::state) {
            tensor = &c.initial_bank;
            const bool kv = s.layout == Layout::KV;
            const auto& st = tensor->strides();
            offset = at[0] * st[0] + at[1] * st[1] + at[2] * st[2] + (kv ? at[3] * st[3] + at[4] : at[4] * st[3] + at[3]);
        } else {
            tensor = p.tensor == SpecialTensor::q   ? &c.q
                     : p.tensor == SpecialTensor::k ? &c.k
                     : p.tensor == SpecialTensor::v ? &c.v
                     : p.tensor == SpecialTensor::g ? &c.g
                                                    : &c.beta;
            const auto [b, t] = batch_token(s, at[0], at[1]);
            const auto& st = tensor->strides();
            offset = b * st[0] + t * st[1] + at[2] * st[2] + (at.size() > 3 ? at[3] * st[3] : 0);
        }
        reference::store_double(tensor->data(), tensor->dtype(), offset, special_value(p.kind, tensor->dtype()));
    }
}

AffectedUnits affected_units(const HostCase& c) {
    const CaseSpec& s = c.spec;
    AffectedUnits units;
    const std::int64_t group = s.num_value_heads / s.num_heads;
    for (const PlacedSpecial& p : place_specials(c)) {
        if (p.tensor == SpecialTensor::state) {
            units.entry_heads.insert({p.at[0], p.at[2]});
            for (std::int64_t r = 0; r < s.rows(); ++r)
                if (c.row_is_active(r) && entry_of(c, r) == p.at[0]) units.row_heads.insert({r, p.at[2]});
        } else if (p.tensor == SpecialTensor::q || p.tensor == SpecialTensor::k) {
            for (std::int64_t hv = p.at[2] * group; hv < (p.at[2] + 1) * group; ++hv) units.row_heads.insert({p.at[0], hv});
        } else {
            units.row_heads.insert({p.at[0], p.at[2]});
        }
    }
    // What a row computes lands in the entry it owns.
    for (const auto& [row, hv] : units.row_heads)
        if (c.row_is_active(row)) units.entry_heads.insert({entry_of(c, row), hv});
    return units;
}

}  // namespace gdr::harness
