// An independent implementation of the oracle for tests: docs/SPEC.md's recurrence as plain
// long-double loops over flat arrays, with its own indexing, its own random cases and its
// own rounding to the state dtype. It shares no code with reference/, so the two agreeing
// (test_oracle_against_loop.cpp) is evidence that both follow docs/SPEC.md.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gdr/core/problem.hpp"
#include "support/bytes.hpp"

namespace gdr::testing::loop_oracle {

// RNE rounding of x to a binary format of `dtype` (its precision, and its subnormal
// spacing below the smallest normal; no overflow: the values here are small).
long double round_to_format(long double x, DType dtype);

struct Random {
    std::mt19937_64 rng;
    i64 in(i64 lo, i64 hi) { return std::uniform_int_distribution<i64>(lo, hi)(rng); }
    bool coin() { return in(0, 1) == 1; }
    // m / 2^shift with m in [lo, hi], |m| <= 256: exact in bf16, f16, f32 and f64.
    double dyadic(i64 lo, i64 hi, int shift) { return std::ldexp(double(in(lo, hi)), -shift); }
};

// One random case: sizes, features and the logical data as doubles (each exact in its
// dtype), flat in docs/SPEC.md's index order.
struct RandomCase {
    i64 B = 1, T = 1, H = 1, HV = 1, K = 1, V = 1, N = 1, slots = 1, rows = 1;
    bool varlen = false, circular = false, has_g = false, has_beta = false, l2norm = false, final_state = true;
    bool cu_i64 = false;
    std::optional<double> scale;
    Layout layout = Layout::KV;
    DType input = DType::f32, gate = DType::f32, state_dtype = DType::f32, state_storage = DType::f64;
    std::vector<double> q, k, v, g, beta, state;  // [B,T,H,K], [B,T,H,K], [B,T,HV,V], [B,T,HV] x2, [N,S,HV,K,V]
    std::vector<i64> indices;                     // empty: absent
    std::vector<std::int32_t> cache;              // empty: absent
    std::vector<i64> cu;                          // varlen: rows + 1 boundaries

    i64 qk(i64 b, i64 t, i64 h, i64 i) const { return ((b * T + t) * H + h) * K + i; }
    i64 vo(i64 b, i64 t, i64 hv, i64 i) const { return ((b * T + t) * HV + hv) * V + i; }
    i64 gate_at(i64 b, i64 t, i64 hv) const { return (b * T + t) * HV + hv; }
    // Logical S[n, slot, hv, k, v], whatever the layout; the layout applies to buffers only.
    i64 s(i64 n, i64 slot, i64 hv, i64 kk, i64 vv) const { return (((n * slots + slot) * HV + hv) * K + kk) * V + vv; }
    i64 stored(i64 n, i64 slot, i64 hv, i64 kk, i64 vv) const {
        const i64 base = ((n * slots + slot) * HV + hv) * K * V;
        return base + (layout == Layout::KV ? kk * V + vv : vv * K + kk);
    }
};

// A random case: K != V, every feature switched on or off at random.
RandomCase random_case(Random& r);

struct Expected {
    std::vector<long double> o;      // NaN: never written
    std::vector<long double> state;  // logical order, unrounded (the f64 bank's values)
};

// docs/SPEC.md's recurrence, plainly, in long double.
Expected recurrence_long_double(const RandomCase& c);

// The case in one line, for failure messages.
std::string describe(const RandomCase& c);

}  // namespace gdr::testing::loop_oracle
