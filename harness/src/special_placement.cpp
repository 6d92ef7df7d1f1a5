// Special values placed in a materialized case (hashed coordinates drawn), written into its
// tensors, and the units they may reach (special_values.cpp: their spec syntax).
#include "gdr/harness/special_values.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "gdr/harness/generate.hpp"
#include "gdr/reference/numeric.hpp"

namespace gdr::harness {

namespace {

constexpr std::uint64_t kStreamSpecials = 35;  // generate.cpp's streams: 1 to 34 and 36

std::int64_t hashed_below(std::uint64_t seed, std::size_t special, std::size_t dim, std::int64_t n) {
    const auto r = std::int64_t(uniform01(seed, kStreamSpecials, std::uint64_t(special) * 16 + dim) * double(n));
    return std::min(r, n - 1);
}

// The (batch row, token) of a row's position: varlen rows are sequences of batch row 0.
std::pair<std::int64_t, std::int64_t> batch_token(const CaseSpec& s, std::int64_t row, std::int64_t position) {
    if (!s.varlen) return {row, position};
    std::int64_t begin = 0;
    for (std::int64_t r = 0; r < row; ++r) begin += s.seq_lengths[std::size_t(r)];
    return {0, begin + position};
}

}  // namespace

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
                placed.at = {c.bank_entry(row), slot};
            } else if (special.tensor != SpecialTensor::state) {
                placed.at = {rows[std::size_t(hashed_below(s.seed, i, 0, std::int64_t(rows.size())))]};
            }
            const std::vector<std::int64_t> extent = special_extents(s, special.tensor, placed.at.empty() ? 0 : placed.at[0]);
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
                if (c.row_is_active(r) && c.bank_entry(r) == p.at[0]) units.row_heads.insert({r, p.at[2]});
        } else if (p.tensor == SpecialTensor::q || p.tensor == SpecialTensor::k) {
            for (std::int64_t hv = p.at[2] * group; hv < (p.at[2] + 1) * group; ++hv) units.row_heads.insert({p.at[0], hv});
        } else {
            units.row_heads.insert({p.at[0], p.at[2]});
        }
    }
    // What a row computes lands in the entry it owns.
    for (const auto& [row, hv] : units.row_heads)
        if (c.row_is_active(row)) units.entry_heads.insert({c.bank_entry(row), hv});
    return units;
}

}  // namespace gdr::harness
