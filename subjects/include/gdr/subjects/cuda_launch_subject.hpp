// A CUDA launch as a harness subject: any kernel with the API of
// gdr::cuda::fused_recurrent_decode (the production kernel, a mutant of it, a test's
// instrumented wrapper) gets the CUDA subject's checks. Every buffer goes to the device
// inside a GuardedBuffer (poisoned guard bands on both sides; o and the destination slots
// arrive already poisoned by the harness), the kernel runs, o and the bank come back, and
// every guard band and every read-only input is checked byte for byte. CUDA builds only.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "gdr/core/problem.hpp"
#include "gdr/harness/chunked_contract.hpp"
#include "gdr/harness/math_mode.hpp"
#include "gdr/harness/subject.hpp"

namespace gdr::subjects {

// Launches a kernel on the default stream; every pointer of `device_problem` is on the device.
using DeviceLaunch = std::function<void(const Problem& device_problem)>;

// NOT_RUN without a device or when `device` is not one of this machine's. run() selects the
// device (cudaSetDevice) on the calling thread, so one subject per worker thread can drive
// one GPU each.
// A kernel of this project (the decode kernel or a mutant of it): its math mode and its
// limits (cuda::unsupported_reason, checked on the host before anything is copied).
std::unique_ptr<harness::Subject> make_cuda_launch_subject(std::string name, std::string description,
                                                           DeviceLaunch launch, int device = 0);

// Anyone's kernel (a Python callable, say), with what it declares.
struct CudaLaunchOptions {
    int device = 0;
    harness::MathMode math_mode = harness::MathMode::precise;
    // Why the kernel declines a valid problem (NOT_SUPPORTED) before anything is copied;
    // empty: the launch itself throws gdr::NotSupported for what it declines.
    std::function<std::optional<std::string>(const Problem&)> unsupported_reason;
    // A chunk (prefill) kernel's contract: the harness judges it by the chunked path.
    std::optional<harness::ChunkedContract> chunked;
};
std::unique_ptr<harness::Subject> make_cuda_launch_subject(std::string name, std::string description,
                                                           DeviceLaunch launch, CudaLaunchOptions options);

// This project's chunked prefill kernel (or a mutant of it): precise math, its limits
// (cuda::chunked_prefill_unsupported_reason) and its contract (C = cuda::kChunkSize, the
// tensor-core rounding points).
std::unique_ptr<harness::Subject> make_cuda_chunk_subject(std::string name, std::string description,
                                                          DeviceLaunch launch, int device = 0);

}  // namespace gdr::subjects
