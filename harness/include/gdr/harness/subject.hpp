// A subject is one implementation under test. The harness hands it a Problem whose
// pointers are host buffers (inputs, a poisoned o, the bank to update in place); the
// subject computes as it would on its own memory (a CUDA subject copies into guarded
// device buffers, launches, checks the guards and copies back) and writes o and the bank.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gdr/core/problem.hpp"

namespace gdr::harness {

struct SubjectRunResult {
    std::size_t damaged_guard_bytes = 0;       // out-of-bounds writes seen in guard bands
    std::string guard_detail;                  // which buffers' guards, when damaged
    bool has_guard_bands = false;              // false: a host subject, nothing to check
    std::vector<std::string> modified_inputs;  // read-only inputs whose bytes changed
};

class Subject {
public:
    virtual ~Subject() = default;
    virtual std::string name() const = 0;
    virtual std::string description() const = 0;
    // Why this subject cannot run on this machine (reported as NOT_RUN), or nullopt.
    virtual std::optional<std::string> unavailable_reason() const = 0;
    // Throws gdr::NotSupported for valid shapes it does not handle (NOT_SUPPORTED),
    // gdr::InvalidArgument or std::runtime_error for errors (FAILED).
    virtual SubjectRunResult run(const Problem& host_problem) = 0;
};

// The emulated-precision oracle with the other legal reduction order: a CPU subject that
// rounds differently from Rlp yet must pass the tolerance rule; it exercises the whole
// harness on machines without a GPU.
std::unique_ptr<Subject> make_cpu_emulated_subject();
// The CUDA decode kernel (gdr_cuda) on CUDA device `device`. NOT_RUN without nvcc at build
// time, without a device, or when `device` is not one of this machine's. run() selects the
// device (cudaSetDevice) on the calling thread, so one subject per worker thread can drive
// one GPU each.
std::unique_ptr<Subject> make_cuda_decode_subject(int device = 0);

// Usable CUDA devices here: 0 without a device, a driver or a CUDA build.
int cuda_device_count();

// Launches a kernel with the API of gdr::cuda::fused_recurrent_decode on the default
// stream; every pointer of `device_problem` is on the device.
using DeviceLaunch = std::function<void(const Problem& device_problem)>;
// Any such launch as a subject, with the CUDA decode subject's checks (guarded device
// buffers, read-only inputs compared byte for byte); NOT_RUN without a device. Defined in
// CUDA builds only (GDR_HAVE_CUDA).
std::unique_ptr<Subject> make_cuda_launch_subject(std::string name, std::string description, DeviceLaunch launch,
                                                  int device = 0);

// Every subject this build knows, in report order.
std::vector<std::unique_ptr<Subject>> all_subjects();
// Throws gdr::InvalidArgument("subject", ...) listing the known names. `device` is the
// CUDA device of a CUDA subject; host subjects ignore it.
std::unique_ptr<Subject> make_subject(std::string_view name, int device = 0);

}  // namespace gdr::harness
