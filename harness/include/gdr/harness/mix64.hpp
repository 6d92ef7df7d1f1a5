// splitmix64's finalizer: a well-mixed 64-bit value from any input. The seeded generators
// (tensor values, index permutations) and the fuzz campaigns' per-case random keys use it.
#pragma once

#include <cstdint>

namespace gdr::harness {

constexpr std::uint64_t mix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

}  // namespace gdr::harness
