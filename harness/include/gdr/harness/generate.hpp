// Materialises a CaseSpec into host tensors. Every value is a pure function of
// (seed, tensor, logical coordinates) through a counter-based hash, so a shrunk case (a
// smaller B, T or K) keeps the values of the elements it still has.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "gdr/core/problem.hpp"
#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/host_tensor.hpp"

namespace gdr::harness {

struct HostCase {
    CaseSpec spec;
    HostTensor q, k;          // [B, T, H, K], input dtype, strided per spec.strides
    HostTensor v;             // [B, T, HV, V]
    HostTensor g, beta;       // [B, T, HV], gate dtype; empty when absent
    HostTensor initial_bank;  // [N, Slots, HV, K, V] (KV) or [N, Slots, HV, V, K] (VK), state dtype
    bool has_state_indices = false;
    std::vector<std::int64_t> state_indices;  // [rows] when has_state_indices
    std::vector<std::int32_t> cache_seqlens;  // [rows] when spec.circular
    std::vector<std::int32_t> cu_seqlens_i32;  // [rows + 1] when varlen and i32
    std::vector<std::int64_t> cu_seqlens_i64;  // [rows + 1] when varlen and i64
};

// Counter-based uniform in [0, 1): a pure function of its arguments (splitmix64-style).
double uniform01(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter);
// Standard normal from the same counters (Box-Muller over two uniforms).
double standard_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter);

// Validates the spec (InvalidArgument naming the key) and builds every input.
HostCase materialize(const CaseSpec& spec);

// Buffers one implementation writes: o (poisoned) and its copy of the bank (initial
// values; every slot that an active row will write other than the one it reads is
// poisoned, so a kernel that reads a wrong slot reads NaN and one that skips a write
// leaves poison behind).
struct RunBuffers {
    HostTensor o;     // [B, T, HV, V], contiguous
    HostTensor bank;  // like initial_bank
};
RunBuffers make_run_buffers(const HostCase& host_case, DType o_storage, DType bank_storage);

// The Problem that points at host_case's inputs and buffers' outputs.
Problem make_problem(const HostCase& host_case, RunBuffers& buffers);

// (entry, slot) pairs of the bank that the call writes, in SPEC.md order; every other
// (entry, slot) must stay bitwise unchanged. Rows with zero tokens write nothing.
std::vector<std::pair<std::int64_t, std::int64_t>> written_bank_slices(const HostCase& host_case);

}  // namespace gdr::harness
