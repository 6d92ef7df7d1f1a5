// A decode call described by framework arrays (anything nanobind's ndarray takes: DLPack
// producers such as torch, cupy and jax, and numpy's buffers) turned into a gdr::Problem:
// shapes, dtypes, strides and devices checked against docs/SPEC.md before anything runs,
// each error a gdr::InvalidArgument naming the argument (ValueError in Python).
#pragma once

#include <map>
#include <optional>
#include <string>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include "gdr/core/problem.hpp"

namespace gdr::python {

namespace nb = nanobind;

using InputArray = nb::ndarray<nb::ro>;  // read by the call
using OutputArray = nb::ndarray<>;       // written by the call: writable views only

struct DecodeArrays {
    InputArray q, k, v;
    std::optional<InputArray> g, beta;
    OutputArray state, o;
    std::optional<InputArray> state_indices, cache_seqlens, cu_seqlens;
};

struct DecodeSettings {
    std::string layout = "kv";
    std::optional<double> scale;
    bool use_qk_l2norm = false;
    bool output_final_state = true;
    // Element types the arrays cannot say themselves: numpy has no bfloat16, so a bf16 array
    // travels as a uint16 view and its name maps to "bf16" here.
    std::map<std::string, std::string> storage_dtypes;
    // The semantic dtypes of the oracle's truth run, whose o and bank are stored as f64
    // (docs/SPEC.md: the bank is the state dtype, o the input dtype). Empty: the arrays'.
    std::optional<std::string> input_dtype, state_dtype;
    bool allow_f64_storage = false;
};

// Where the arrays live: every one on the same device.
struct ArrayDevice {
    bool cuda = false;
    int id = 0;
};

struct ArrayProblem {
    Problem problem;
    ArrayDevice device;
};

template <typename Array>
std::int64_t extent(const Array& array, std::size_t dim) {
    return static_cast<std::int64_t>(array.shape(dim));
}

// Whether the array's strides are the row-major ones of its shape (extent-1 dims aside).
template <typename Array>
bool is_contiguous(const Array& array) {
    std::int64_t expected = 1;
    for (std::size_t d = array.ndim(); d-- > 0;) {
        if (extent(array, d) > 1 && array.stride(d) != expected) return false;
        expected *= extent(array, d);
    }
    return true;
}

// Throws gdr::InvalidArgument naming the argument for any mismatch (rank, shape, dtype,
// device, a bank that is not contiguous, index arrays of the wrong length), then validates
// the Problem (its index arrays' contents too when they are on the host).
ArrayProblem make_array_problem(const DecodeArrays& arrays, const DecodeSettings& settings);

}  // namespace gdr::python
