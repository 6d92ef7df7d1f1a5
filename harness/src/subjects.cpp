#include "gdr/harness/subject.hpp"

#include "gdr/core/errors.hpp"
#include "gdr/reference/fused_recurrent.hpp"

#ifdef GDR_HAVE_CUDA
#include "gdr/cuda/device.hpp"
#endif

namespace gdr::harness {

namespace {

class CpuEmulatedSubject final : public Subject {
public:
    std::string name() const override { return "cpu-emulated-reversed"; }
    std::string description() const override {
        return "the Eigen oracle in emulated fp32 precision with reversed K-sums (a CPU stand-in kernel)";
    }
    std::optional<std::string> unavailable_reason() const override { return std::nullopt; }
    SubjectRunResult run(const Problem& problem) override {
        reference::run_fused_recurrent(problem, {reference::Precision::emulated_fp32, reference::ReductionOrder::reversed});
        return {};
    }
};

#ifndef GDR_HAVE_CUDA
// Without nvcc at configure time there is no kernel to run: the subject says so.
class CudaDecodeSubject final : public Subject {
public:
    std::string name() const override { return "cuda-decode"; }
    std::string description() const override { return "the CUDA fused recurrent decode kernel (cuda/src/decode/)"; }
    std::optional<std::string> unavailable_reason() const override {
        return std::string("this build has no CUDA (nvcc was not found when CMake configured)");
    }
    SubjectRunResult run(const Problem&) override { throw std::runtime_error("cuda-decode: built without CUDA"); }
};
#endif

}  // namespace

std::unique_ptr<Subject> make_cpu_emulated_subject() { return std::make_unique<CpuEmulatedSubject>(); }
#ifndef GDR_HAVE_CUDA
std::unique_ptr<Subject> make_cuda_decode_subject(int) { return std::make_unique<CudaDecodeSubject>(); }
#endif

int cuda_device_count() {
#ifdef GDR_HAVE_CUDA
    const cuda::DeviceStatus device = cuda::probe_device();
    return device.available ? device.device_count : 0;
#else
    return 0;
#endif
}

std::vector<std::unique_ptr<Subject>> all_subjects() {
    std::vector<std::unique_ptr<Subject>> subjects;
    subjects.push_back(make_cpu_emulated_subject());
    subjects.push_back(make_cuda_decode_subject());
    return subjects;
}

std::unique_ptr<Subject> make_subject(std::string_view name, int device) {
    if (name == "cuda-decode") return make_cuda_decode_subject(device);
    std::string known;
    for (auto& subject : all_subjects()) {
        if (subject->name() == name) return std::move(subject);
        known += (known.empty() ? "" : ", ") + subject->name();
    }
    throw InvalidArgument("subject", "unknown subject '" + std::string(name) + "'; known: " + known);
}

}  // namespace gdr::harness
