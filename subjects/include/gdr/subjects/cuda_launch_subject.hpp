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
#include "gdr/harness/subject.hpp"

namespace gdr::subjects {

// Launches a kernel on the default stream; every pointer of `device_problem` is on the device.
using DeviceLaunch = std::function<void(const Problem& device_problem)>;

// NOT_RUN without a device or when `device` is not one of this machine's. run() selects the
// device (cudaSetDevice) on the calling thread, so one subject per worker thread can drive
// one GPU each.
std::unique_ptr<harness::Subject> make_cuda_launch_subject(std::string name, std::string description,
                                                           DeviceLaunch launch, int device = 0);

}  // namespace gdr::subjects
