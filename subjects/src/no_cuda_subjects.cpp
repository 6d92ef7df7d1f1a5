// A build without nvcc has no kernel to run: the kernels' subjects are registered all the
// same, so that `gdr verify` says why they did not run and GDR_REQUIRE_GPU=1 fails the gate.
#include <stdexcept>

#include "gdr/subjects/builtin.hpp"

namespace gdr::subjects {

namespace {

constexpr char kWhy[] = "this build has no CUDA (nvcc was not found when CMake configured)";

class UnbuiltSubject final : public harness::Subject {
public:
    UnbuiltSubject(std::string name, std::string description) : name_(std::move(name)), description_(std::move(description)) {}
    std::string name() const override { return name_; }
    std::string description() const override { return description_; }
    std::optional<std::string> unavailable_reason() const override { return std::string(kWhy); }
    harness::SubjectRunResult run(const Problem&) override { throw std::runtime_error(kWhy); }

private:
    std::string name_, description_;
};

SubjectEntry unbuilt_entry(std::string name, std::string description, std::vector<Limitation> limitations) {
    return {name, description, Needs::cuda_device, Kind::kernel, std::move(limitations),
            [=](int) { return std::make_unique<UnbuiltSubject>(name, description); }, {}, ""};
}

}  // namespace

void register_cuda_subjects(Registry& registry) {
    registry.add(unbuilt_entry("cuda-decode", "the CUDA fused recurrent decode kernel (not built)", decode_kernel_limitations()));
    registry.add(unbuilt_entry("cuda-chunked", "the CUDA chunked prefill kernel (not built)", chunk_kernel_limitations()));
}

int cuda_device_count() { return 0; }

std::string cuda_unavailable_reason() { return kWhy; }

}  // namespace gdr::subjects
