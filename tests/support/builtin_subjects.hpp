// The registry's subjects as tests use them, by their registered names.
#pragma once

#include <memory>

#include "gdr/subjects/builtin.hpp"

namespace gdr::testing {

// The CPU stand-in kernel (emulated fp32, reversed K-sums): runs anywhere.
inline std::unique_ptr<harness::Subject> cpu_stand_in() {
    return subjects::builtin_registry().make("cpu-emulated-reversed");
}

// The CPU stand-in chunk kernel (chunked oracle, emulated fp32, C = 4, reversed sums).
inline std::unique_ptr<harness::Subject> cpu_chunked_stand_in() {
    return subjects::builtin_registry().make("cpu-chunked-emulated");
}

// The CUDA decode kernel on device 0 (NOT_RUN without one).
inline std::unique_ptr<harness::Subject> cuda_decode() { return subjects::builtin_registry().make("cuda-decode"); }

}  // namespace gdr::testing
