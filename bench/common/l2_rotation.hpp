// Defeating L2 between repeated calls: calls rotate through input sets, each with its own
// tensors and its own bank entries, enough sets that one pass touches more than 2x L2, so
// that no call finds the previous call's data in L2 (bench/NOTES.md).
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

namespace gdr::bench {

// Sets such that one pass over them touches more than 2x L2, at most max_sets.
inline std::int64_t rotation_sets(std::int64_t touched_bytes_per_set, std::int64_t l2_bytes, std::int64_t max_sets) {
    return std::clamp<std::int64_t>(2 * l2_bytes / std::max<std::int64_t>(touched_bytes_per_set, 1) + 1, 1, max_sets);
}

// A random permutation of the bank's [0, entries): set i takes slice i of it, so no two
// sets share an entry and the rows of one set are scattered over the bank.
template <class Rng>
std::vector<std::int64_t> shuffled_entries(std::int64_t entries, Rng& rng) {
    std::vector<std::int64_t> permutation(entries);
    std::iota(permutation.begin(), permutation.end(), std::int64_t(0));
    std::shuffle(permutation.begin(), permutation.end(), rng);
    return permutation;
}

}  // namespace gdr::bench
