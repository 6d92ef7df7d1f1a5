#include "gdr/harness/generate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>
#include <map>
#include <numeric>
#include <set>

#include "gdr/core/errors.hpp"
#include "gdr/core/poison.hpp"
#include "gdr/harness/mix64.hpp"
#include "gdr/harness/special_values.hpp"
#include "gdr/reference/numeric.hpp"

namespace gdr::harness {

namespace {

// One stream per tensor or per decision, so that no two draw the same numbers.
enum Stream : std::uint64_t {
    kStreamQ = 1,
    kStreamK = 2,
    kStreamV = 3,
    kStreamG = 4,
    kStreamBeta = 5,
    kStreamState = 6,
    kStreamEntryOrder = 7,
    kStreamInactiveRows = 8,
    kStreamInactiveKind = 9,
    kStreamSeqlens = 10,
    kStreamNegativeRows = 11,
    kStreamNegativeKind = 12,
    kStreamGaps = 13,  // + tensor stream: gap garbage of q, k, v
    kStreamPads = 32,
    kStreamOneHotPosition = 33,
    kStreamOneHotSign = 34,
    kStreamUntouchedState = 36,  // 35 is special_values.cpp's
    kStreamNormalAngle = 0x4000,  // xor-ed in for the second uniform of Box-Muller
};

constexpr std::int64_t kMaxPad = 4;  // case_spec.cpp bounds storage with the same number

// The counter of an element: a hash of its logical coordinates alone, so that it does not
// depend on any extent (a shrunk case keeps the values of the elements it still has).
std::uint64_t coords(std::initializer_list<std::int64_t> list) {
    std::uint64_t h = 0x243F6A8885A308D3ull;
    for (const std::int64_t c : list) h = mix64(h ^ std::uint64_t(c));
    return h;
}

std::int64_t below(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter, std::int64_t n) {
    const auto r = std::int64_t(uniform01(seed, stream, counter) * double(n));
    return std::min(r, n - 1);
}

// Exact-mode values: multiples of 1/2 in [-1, 1].
double half_grid(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter) {
    return double(below(seed, stream, counter, 5) - 2) * 0.5;
}

// Two independent N(0, 1) draws from one hashed counter: Marsaglia's polar method, a point
// drawn uniformly in the unit disc (78.5 % of the square's draws land there) scaled by
// sqrt(-2 ln s / s). One log per two values, where Box-Muller takes a log and a cos per
// value: generation is most of a large case's time. The arithmetic is IEEE operations and
// std::log (this file is built without FMA contraction), so the bytes do not depend on the
// build.
std::pair<double, double> normal_pair(std::uint64_t key, std::uint64_t counter) {
    for (std::uint64_t attempt = 0;; ++attempt) {
        const std::uint64_t w1 = mix64(key + counter + attempt * 0xD1B54A32D192ED03ull);
        const std::uint64_t w2 = mix64(w1 ^ 0x94D049BB133111EBull);
        const double u = double(w1 >> 11) * 0x1p-52 - 1.0, v = double(w2 >> 11) * 0x1p-52 - 1.0;  // [-1, 1)
        const double radius_sq = u * u + v * v;
        if (radius_sq >= 1.0 || radius_sq == 0.0) continue;
        const double factor = std::sqrt(-2.0 * std::log(radius_sq) / radius_sq);
        return {u * factor, v * factor};
    }
}

// Strides of one [B, T, heads, dim] input under the spec's rule.
std::vector<std::int64_t> input_strides(const CaseSpec& s, std::uint64_t stream, std::int64_t tokens,
                                        std::int64_t heads, std::int64_t dim) {
    switch (s.strides) {
    case StrideRule::contiguous: return {tokens * heads * dim, heads * dim, dim, 1};
    case StrideRule::padded: {
        auto pad = [&](int level) { return 1 + below(s.seed, kStreamPads, stream * 4 + level, kMaxPad); };
        const std::int64_t head = dim + pad(0);
        const std::int64_t token = heads * head + pad(1);
        return {tokens * token + pad(2), token, head, 1};
    }
    case StrideRule::fused: {
        // Views into one [B, T, 2*H*K + HV*V] projection: q, k, v heads side by side.
        const std::int64_t row = 2 * s.num_heads * s.key_dim + s.num_value_heads * s.value_dim;
        return {tokens * row, row, dim, 1};
    }
    }
    return {};
}

// The logical (row, position) of token `tok` of batch row `b`: for varlen the sequence and
// the position inside it, so that a varlen case of equal lengths has the values of the
// fixed-length case and dropping a sequence does not move the others' values.
struct TokenCoords {
    std::int64_t row, position;
};

template <class Fn>
void for_each_token(const HostCase& c, Fn&& fn) {
    const CaseSpec& s = c.spec;
    if (s.varlen) {
        std::int64_t tok = 0;
        for (std::size_t i = 0; i < s.seq_lengths.size(); ++i)
            for (std::int64_t j = 0; j < s.seq_lengths[i]; ++j) fn(std::int64_t(0), tok++, TokenCoords{std::int64_t(i), j});
    } else {
        for (std::int64_t b = 0; b < s.batch; ++b)
            for (std::int64_t t = 0; t < s.seq_len; ++t) fn(b, t, TokenCoords{b, t});
    }
}

std::int64_t offset(const HostTensor& t, std::initializer_list<std::int64_t> index) {
    std::int64_t o = 0;
    std::size_t d = 0;
    for (const std::int64_t i : index) o += i * t.strides()[d++];
    return o;
}

void store(HostTensor& t, std::int64_t element_offset, double value) {
    reference::store_double(t.data(), t.dtype(), element_offset, value);
}

// Every storage element of a strided input gets hashed garbage first, so that a kernel
// reading a gap reads a large wrong number (never a plausible value, never poison).
void fill_gaps(HostTensor& t, std::uint64_t seed, std::uint64_t stream) {
    const std::int64_t n = std::int64_t(t.storage_bytes() / dtype_size(t.dtype()));
    for (std::int64_t i = 0; i < n; ++i) {
        const double u = uniform01(seed, kStreamGaps + stream, std::uint64_t(i));
        store(t, i, (u < 0.5 ? -1.0 : 1.0) * (100.0 + 1800.0 * std::abs(u - 0.5)));
    }
}

void fill_qk(HostCase& c, HostTensor& t, std::uint64_t stream) {
    const CaseSpec& s = c.spec;
    const std::int64_t H = s.num_heads, K = s.key_dim;
    std::vector<double> row(static_cast<std::size_t>(K));
    for_each_token(c, [&](std::int64_t b, std::int64_t t_index, TokenCoords tc) {
        for (std::int64_t h = 0; h < H; ++h) {
            if (s.exact && stream == kStreamK) {
                // One-hot: +-1 at a hashed position (the position depends on K).
                std::fill(row.begin(), row.end(), 0.0);
                const std::uint64_t ctr = coords({tc.row, tc.position, h});
                row[std::size_t(below(s.seed, kStreamOneHotPosition, ctr, K))] =
                    uniform01(s.seed, kStreamOneHotSign, ctr) < 0.5 ? -1.0 : 1.0;
            } else {
                for (std::int64_t x = 0; x < K; ++x) {
                    const std::uint64_t ctr = coords({tc.row, tc.position, h, x});
                    double value = 0;
                    if (s.exact) value = half_grid(s.seed, stream, ctr);
                    else if (s.qk == QKDistribution::uniform) value = 2.0 * uniform01(s.seed, stream, ctr) - 1.0;
                    else value = standard_normal(s.seed, stream, ctr);
                    row[std::size_t(x)] = value;
                }
                if (!s.exact && s.qk == QKDistribution::l2normalized) {
                    double sum = 0;
                    for (const double x : row) sum += x * x;
                    if (sum > 0)
                        for (double& x : row) x /= std::sqrt(sum);
                }
            }
            for (std::int64_t x = 0; x < K; ++x) store(t, offset(t, {b, t_index, h, x}), row[std::size_t(x)]);
        }
    });
}

// Ranks [0, n) by a hash: a seeded shuffle whose order of any two items does not depend on n.
std::vector<std::int64_t> hashed_order(std::uint64_t seed, std::uint64_t stream, std::int64_t n) {
    std::vector<std::pair<std::uint64_t, std::int64_t>> keyed(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) keyed[std::size_t(i)] = {mix64(mix64(seed ^ stream) ^ std::uint64_t(i)), i};
    std::sort(keyed.begin(), keyed.end());
    std::vector<std::int64_t> out(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) out[std::size_t(i)] = keyed[std::size_t(i)].second;
    return out;
}

std::vector<std::int64_t> make_indices(const CaseSpec& s) {
    const std::int64_t rows = s.rows(), n = s.resolved_bank_entries();
    if (!s.explicit_indices.empty()) return s.explicit_indices;
    std::vector<std::int64_t> out(static_cast<std::size_t>(rows));
    if (s.indices == IndicesRule::identity) {
        std::iota(out.begin(), out.end(), std::int64_t(0));
        return out;
    }
    // permutation
    std::vector<bool> inactive(std::size_t(rows), false);
    const std::vector<std::int64_t> row_order = hashed_order(s.seed, kStreamInactiveRows, rows);
    // Cycle through the four kinds of out-of-range value so that a few inactive rows
    // already show several of them; bounded (not -N-5) so that the bank arena that catches
    // writes through them stays 13 entries larger than the bank.
    const std::int64_t kinds[4] = {-1, -5, n, n + 7};
    const std::int64_t first_kind = below(s.seed, kStreamInactiveKind, 0, 4);
    for (std::int64_t j = 0; j < s.inactive_rows; ++j) {
        const std::int64_t r = row_order[std::size_t(j)];
        inactive[std::size_t(r)] = true;
        out[std::size_t(r)] = kinds[(first_kind + j) % 4];
    }
    const std::vector<std::int64_t> entries = hashed_order(s.seed, kStreamEntryOrder, n);
    std::size_t next = 0;
    for (std::int64_t r = 0; r < rows; ++r)
        if (!inactive[std::size_t(r)]) out[std::size_t(r)] = entries[next++];
    return out;
}

std::vector<std::int32_t> make_cache_seqlens(const CaseSpec& s) {
    if (!s.explicit_cache_seqlens.empty()) return s.explicit_cache_seqlens;
    const std::int64_t rows = s.rows();
    std::vector<std::int32_t> out(static_cast<std::size_t>(rows));
    for (std::int64_t r = 0; r < rows; ++r)
        out[std::size_t(r)] = std::int32_t(below(s.seed, kStreamSeqlens, std::uint64_t(r), s.seqlen_max + 1));
    const std::vector<std::int64_t> row_order = hashed_order(s.seed, kStreamNegativeRows, rows);
    const std::int64_t first_kind = below(s.seed, kStreamNegativeKind, 0, 3);
    for (std::int64_t j = 0; j < s.negative_seqlens; ++j) {
        const std::int64_t r = row_order[std::size_t(j)];
        const std::int64_t kind = (first_kind + j) % 3;
        out[std::size_t(r)] = kind == 0   ? -1
                              : kind == 1 ? std::int32_t(-1 - below(s.seed, kStreamNegativeKind, std::uint64_t(r) + 1, 1000))
                                          : std::numeric_limits<std::int32_t>::min();
    }
    return out;
}

std::vector<std::int64_t> bank_shape(const CaseSpec& s) {
    const bool kv = s.layout == Layout::KV;
    return {s.resolved_bank_entries(), s.slots, s.num_value_heads, kv ? s.key_dim : s.value_dim,
            kv ? s.value_dim : s.key_dim};
}

}  // namespace

bool HostCase::row_is_active(std::int64_t row) const {
    if (has_state_indices) {
        const std::int64_t n = bank_entry(row);
        if (n < 0 || n >= spec.resolved_bank_entries()) return false;
    }
    return !spec.circular || cache_seqlens[std::size_t(row)] >= 0;
}

double uniform01(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter) {
    const std::uint64_t x = mix64(mix64(mix64(seed) ^ (stream * 0xD1B54A32D192ED03ull)) ^ counter);
    return double(x >> 11) * 0x1p-53;
}

double standard_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter) {
    const double u1 = uniform01(seed, stream, counter);
    const double u2 = uniform01(seed, stream ^ kStreamNormalAngle, counter);
    const double two_pi = 6.283185307179586476925286766559;
    return std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(two_pi * u2);  // 1 - u1 in (0, 1]
}

HostCase materialize(const CaseSpec& spec) {
    validate(spec);
    HostCase c;
    c.spec = spec;
    const CaseSpec& s = c.spec;
    const std::int64_t batch = s.varlen ? 1 : s.batch, tokens = s.seq_len;
    const std::int64_t H = s.num_heads, HV = s.num_value_heads, K = s.key_dim, V = s.value_dim;

    c.q = HostTensor(s.input_dtype, {batch, tokens, H, K}, input_strides(s, kStreamQ, tokens, H, K));
    c.k = HostTensor(s.input_dtype, {batch, tokens, H, K}, input_strides(s, kStreamK, tokens, H, K));
    c.v = HostTensor(s.input_dtype, {batch, tokens, HV, V}, input_strides(s, kStreamV, tokens, HV, V));
    if (s.strides != StrideRule::contiguous) {
        fill_gaps(c.q, s.seed, kStreamQ);
        fill_gaps(c.k, s.seed, kStreamK);
        fill_gaps(c.v, s.seed, kStreamV);
    }
    fill_qk(c, c.q, kStreamQ);
    fill_qk(c, c.k, kStreamK);
    for_each_token(c, [&](std::int64_t b, std::int64_t t, TokenCoords tc) {
        for (std::int64_t hv = 0; hv < HV; ++hv)
            for (std::int64_t x = 0; x < V; ++x) {
                const std::uint64_t ctr = coords({tc.row, tc.position, hv, x});
                const double value = s.exact ? half_grid(s.seed, kStreamV, ctr) : standard_normal(s.seed, kStreamV, ctr);
                store(c.v, offset(c.v, {b, t, hv, x}), value);
            }
    });

    if (s.has_g) c.g = HostTensor(s.gate_dtype, {batch, tokens, HV});
    if (s.has_beta) c.beta = HostTensor(s.gate_dtype, {batch, tokens, HV});
    for_each_token(c, [&](std::int64_t b, std::int64_t t, TokenCoords tc) {
        for (std::int64_t hv = 0; hv < HV; ++hv) {
            const std::uint64_t ctr = coords({tc.row, tc.position, hv});
            if (s.has_g) {
                const double u = uniform01(s.seed, kStreamG, ctr);
                double g = 0;
                switch (s.g) {
                case GateDistribution::weak: g = -0.1 * u; break;
                case GateDistribution::strong: g = -0.5 - 4.5 * u; break;
                case GateDistribution::zero: g = 0; break;
                case GateDistribution::huge_negative: g = -50.0 - (1e4 - 50.0) * u; break;
                }
                store(c.g, offset(c.g, {b, t, hv}), g);
            }
            if (s.has_beta) {
                double beta = 1;
                switch (s.beta) {
                case BetaDistribution::uniform: beta = uniform01(s.seed, kStreamBeta, ctr); break;
                case BetaDistribution::one: beta = 1; break;
                case BetaDistribution::half: beta = 0.5; break;
                }
                store(c.beta, offset(c.beta, {b, t, hv}), beta);
            }
        }
    });

    HostCase indexing = materialize_indexing(s);
    c.has_state_indices = indexing.has_state_indices;
    c.state_indices = std::move(indexing.state_indices);
    c.cache_seqlens = std::move(indexing.cache_seqlens);
    c.cu_seqlens_i32 = std::move(indexing.cu_seqlens_i32);
    c.cu_seqlens_i64 = std::move(indexing.cu_seqlens_i64);

    // The bank: values keyed by logical (entry, slot, hv, k, v), the same in both layouts.
    // The slot an active row reads is N(0, 1) draws (generator 2: ~10 ns each); every other
    // slot, which a correct kernel never reads (it is untouched, or written over), a cheap
    // hashed uniform of the same scale and variance: a serving engine's pool has 10^8 to
    // 10^9 elements, mostly untouched.
    c.initial_bank = HostTensor(s.state_dtype, bank_shape(s));
    const bool kv = s.layout == Layout::KV;
    // read_slot[n]: 1 + the slot an active row reads from entry n, 0 where no row reads it.
    std::vector<std::int64_t> read_slot(std::size_t(s.resolved_bank_entries()), 0);
    for (std::int64_t r = 0; r < s.rows(); ++r)
        if (c.row_is_active(r))
            read_slot[std::size_t(c.bank_entry(r))] =
                1 + (s.circular ? std::int64_t(c.cache_seqlens[std::size_t(r)]) % s.slots : 0);
    // One matrix per iteration, in parallel (values are pure functions of their coordinates,
    // so the bytes do not depend on the thread count).
    const std::int64_t matrices = s.resolved_bank_entries() * s.slots * HV;
    const std::int64_t k_stride = kv ? V : 1, v_stride = kv ? 1 : K;  // the bank is contiguous
    const double state_scale = s.state_scale;
#pragma omp parallel for schedule(static) if (matrices * K * V > (1 << 16))
    for (std::int64_t m = 0; m < matrices; ++m) {
        const std::int64_t n = m / (s.slots * HV), slot = m / HV % s.slots, hv = m % HV;
        const std::int64_t base = offset(c.initial_bank, {n, slot, hv, 0, 0});
        // Row x of the matrix (its V values) is made in `row`, then stored in one typed loop.
        thread_local std::vector<double> row;
        row.resize(std::size_t(V));
        double* const values = row.data();
        const auto fill_rows = [&](auto&& make_row) {
            for (std::int64_t x = 0; x < K; ++x) {
                make_row(x);
                reference::store_doubles(c.initial_bank.data(), s.state_dtype, base + x * k_stride, v_stride, V, values);
            }
        };
        if (s.exact || (read_slot[std::size_t(n)] == slot + 1 && s.generator == 1)) {
            fill_rows([&](std::int64_t x) {
                for (std::int64_t y = 0; y < V; ++y) {
                    const std::uint64_t ctr = coords({n, slot, hv, x, y});
                    values[y] = s.exact ? half_grid(s.seed, kStreamState, ctr)
                                        : state_scale * standard_normal(s.seed, kStreamState, ctr);
                }
            });
        } else if (read_slot[std::size_t(n)] == slot + 1) {
            // Generator 2: elements (x, 2j) and (x, 2j + 1) share one polar pair, keyed by
            // the matrix and (x, j): still a pure function of the logical coordinates.
            const std::uint64_t key = mix64(mix64(s.seed ^ kStreamState) ^ coords({n, slot, hv}));
            fill_rows([&](std::int64_t x) {
                for (std::int64_t y = 0; y < V; y += 2) {
                    const auto [first, second] =
                        normal_pair(key, std::uint64_t(x) * 0x9E3779B97F4A7C15ull + std::uint64_t(y / 2));
                    values[y] = state_scale * first;
                    if (y + 1 < V) values[y + 1] = state_scale * second;
                }
            });
        } else {
            // Unread: one mix per element from a per-matrix key (these values need not
            // survive shrinking, only be a pure function of the case and their logical
            // coordinates).
            constexpr double sqrt3 = 1.7320508075688772935;  // U[-sqrt 3, sqrt 3] has variance 1
            const std::uint64_t key = mix64(mix64(s.seed ^ kStreamUntouchedState) ^ coords({n, slot, hv}));
            fill_rows([&](std::int64_t x) {
                const std::uint64_t row_key = key + std::uint64_t(x) * 0x9E3779B97F4A7C15ull;
                for (std::int64_t y = 0; y < V; ++y) {
                    const double u = double(mix64(row_key + std::uint64_t(y)) >> 11) * 0x1p-53;
                    values[y] = state_scale * sqrt3 * (2.0 * u - 1.0);
                }
            });
        }
    }

    apply_specials(c);  // last: a hashed state special goes where a row reads
    return c;
}

HostCase materialize_indexing(const CaseSpec& spec) {
    validate(spec);
    HostCase c;
    c.spec = spec;
    const CaseSpec& s = c.spec;
    c.has_state_indices = !s.explicit_indices.empty() || s.indices != IndicesRule::none;
    if (c.has_state_indices) c.state_indices = make_indices(s);
    if (s.circular) c.cache_seqlens = make_cache_seqlens(s);
    if (s.varlen) {
        std::vector<std::int64_t> cu(1, 0);
        for (const std::int64_t len : s.seq_lengths) cu.push_back(cu.back() + len);
        if (s.cu_seqlens_type == IndexType::i32) c.cu_seqlens_i32.assign(cu.begin(), cu.end());
        else c.cu_seqlens_i64 = cu;
    }
    return c;
}

std::vector<std::pair<std::int64_t, std::int64_t>> written_bank_slices(const HostCase& c, reference::StateWrites writes) {
    const CaseSpec& s = c.spec;
    std::vector<std::pair<std::int64_t, std::int64_t>> out;
    if (!s.output_final_state) return out;
    for (std::int64_t r = 0; r < s.rows(); ++r) {
        if (!c.row_is_active(r)) continue;
        const std::int64_t length = s.row_tokens(r);
        if (length == 0) continue;
        const std::int64_t entry = c.bank_entry(r);
        if (!s.circular) {
            out.emplace_back(entry, 0);
            continue;
        }
        const std::int64_t read = std::int64_t(c.cache_seqlens[std::size_t(r)]) % s.slots;
        if (writes == reference::StateWrites::final_only) {  // the slot the last token writes
            out.emplace_back(entry, (read + length) % s.slots);
            continue;
        }
        std::set<std::int64_t> seen;
        for (std::int64_t t = 0; t < length && std::int64_t(seen.size()) < s.slots; ++t) {
            const std::int64_t slot = (read + 1 + t) % s.slots;
            if (seen.insert(slot).second) out.emplace_back(entry, slot);
        }
    }
    return out;
}

namespace {

// The case's initial bank into `bank` (same shape, any dtype), with the slices the call
// writes, except the one each row reads first, poisoned: reading a wrong slot reads NaN,
// and a skipped write leaves the pattern behind.
void fill_bank(const HostCase& c, HostTensor& bank, reference::StateWrites writes) {
    const CaseSpec& s = c.spec;
    if (bank.dtype() == c.initial_bank.dtype()) {
        // Bytes, NaN payloads kept; in parallel chunks: the first touch of a fresh page
        // (the kernel clearing it) costs more than the copy.
        const auto* from = static_cast<const std::byte*>(c.initial_bank.data());
        auto* to = static_cast<std::byte*>(bank.data());
        const std::int64_t bytes = std::int64_t(c.initial_bank.storage_bytes()), chunk = std::int64_t(1) << 24;
#pragma omp parallel for schedule(static) if (bytes > 4 * chunk)
        for (std::int64_t begin = 0; begin < bytes; begin += chunk)
            std::memcpy(to + begin, from + begin, std::size_t(std::min(chunk, bytes - begin)));
    }
    else
        for (std::int64_t i = 0; i < bank.numel(); ++i) bank.set(i, c.initial_bank.get(i));
    std::map<std::int64_t, std::int64_t> read_slot;  // entry -> the slot its row reads
    for (std::int64_t r = 0; r < s.rows(); ++r)
        if (c.row_is_active(r))
            read_slot.emplace(c.bank_entry(r),
                              s.circular ? std::int64_t(c.cache_seqlens[std::size_t(r)]) % s.slots : 0);
    const std::int64_t slice = s.num_value_heads * s.key_dim * s.value_dim;
    const std::size_t element = dtype_size(bank.dtype());
    for (const auto& [entry, slot] : written_bank_slices(c, writes)) {
        if (slot == read_slot.at(entry)) continue;
        auto* base = static_cast<std::byte*>(bank.data()) + std::size_t((entry * s.slots + slot) * slice) * element;
        fill_poison(base, std::size_t(slice) * element, bank.dtype());
    }
}

HostTensor poisoned_output(const CaseSpec& s, DType o_storage) {
    HostTensor o(o_storage, {s.varlen ? 1 : s.batch, s.seq_len, s.num_value_heads, s.value_dim});
    o.poison();
    return o;
}

}  // namespace

RunBuffers make_run_buffers(const HostCase& c, DType o_storage, DType bank_storage, reference::StateWrites writes) {
    RunBuffers buffers;
    buffers.state_writes = writes;
    buffers.o = poisoned_output(c.spec, o_storage);
    buffers.bank = HostTensor(bank_storage, c.initial_bank.shape());
    fill_bank(c, buffers.bank, writes);
    return buffers;
}

RunBuffers make_subject_buffers(const HostCase& c, DType o_storage, DType bank_storage, reference::StateWrites writes) {
    const std::int64_t n = c.spec.resolved_bank_entries();
    RunBuffers buffers;
    buffers.margins = c.has_state_indices ? arena_margins(c.state_indices.data(), c.spec.rows(), n) : ArenaMargins{};
    if (buffers.margins.empty()) return make_run_buffers(c, o_storage, bank_storage, writes);
    buffers.state_writes = writes;
    buffers.o = poisoned_output(c.spec, o_storage);
    const std::int64_t entry_elements = c.initial_bank.numel() / n;
    buffers.bank = HostTensor::with_margins(bank_storage, c.initial_bank.shape(), buffers.margins.before * entry_elements,
                                            buffers.margins.after * entry_elements);
    // The margins are poison for good; the bank between them is filled next.
    auto* arena = buffers.bank.bytes().data();
    fill_poison(arena, buffers.bank.margin_before_bytes(), bank_storage);
    fill_poison(arena + buffers.bank.margin_before_bytes() + buffers.bank.storage_bytes(), buffers.bank.margin_after_bytes(),
                bank_storage);
    fill_bank(c, buffers.bank, writes);
    return buffers;
}

void reset_subject_buffers(const HostCase& c, RunBuffers& buffers) {
    buffers.o.poison();
    fill_bank(c, buffers.bank, buffers.state_writes);
}

ArenaDamage arena_damage(const RunBuffers& buffers) {
    if (buffers.margins.empty()) return {};
    const std::int64_t n = buffers.bank.shape()[0];
    return inspect_arena(buffers.bank.bytes().data(), buffers.margins, n, buffers.bank.numel() / n,
                         buffers.bank.dtype());
}

Problem make_problem(const HostCase& c, RunBuffers& buffers) {
    const CaseSpec& s = c.spec;
    Problem p;
    p.batch = s.varlen ? 1 : s.batch;
    p.seq_len = s.seq_len;
    p.num_heads = s.num_heads;
    p.num_value_heads = s.num_value_heads;
    p.key_dim = s.key_dim;
    p.value_dim = s.value_dim;
    p.layout = s.layout;
    p.input_dtype = s.input_dtype;
    p.gate_dtype = s.gate_dtype;
    p.state_dtype = s.state_dtype;

    // Inputs are never written; TensorArg has one pointer type for inputs and outputs.
    // An empty tensor (absent g or beta, or no tokens) gets a null pointer: "absent".
    auto arg = [](const HostTensor& t) {
        TensorArg a;
        a.data = t.empty() ? nullptr : const_cast<void*>(t.data());
        a.dtype = t.dtype();
        for (std::size_t d = 0; d < t.strides().size() && d < 4; ++d) a.stride[d] = t.strides()[d];
        return a;
    };
    p.q = arg(c.q);
    p.k = arg(c.k);
    p.v = arg(c.v);
    p.o = arg(buffers.o);
    p.g = arg(c.g);
    p.beta = arg(c.beta);

    p.state = buffers.bank.data();
    const auto& shape = buffers.bank.shape();
    for (std::size_t d = 0; d < 5; ++d) p.state_shape[d] = shape[d];
    p.state_storage = buffers.bank.dtype();

    if (c.has_state_indices) p.state_indices = c.state_indices.data();
    if (s.circular) p.cache_seqlens = c.cache_seqlens.data();
    if (s.varlen) {
        p.cu_seqlens_type = s.cu_seqlens_type;
        p.cu_seqlens = s.cu_seqlens_type == IndexType::i32 ? static_cast<const void*>(c.cu_seqlens_i32.data())
                                                           : static_cast<const void*>(c.cu_seqlens_i64.data());
        p.num_sequences = s.rows();
    }
    p.scale = s.scale;
    p.use_qk_l2norm = s.use_qk_l2norm;
    p.output_final_state = s.output_final_state;
    return p;
}

}  // namespace gdr::harness
