// A build without nvcc has no kernel to run: the decode subject is registered all the same,
// so that `gdr verify` says why it did not run and GDR_REQUIRE_GPU=1 fails the gate.
#include <stdexcept>

#include "gdr/subjects/builtin.hpp"

namespace gdr::subjects {

namespace {

constexpr char kName[] = "cuda-decode";
constexpr char kDescription[] = "the CUDA fused recurrent decode kernel (not built)";
constexpr char kWhy[] = "this build has no CUDA (nvcc was not found when CMake configured)";

class UnbuiltSubject final : public harness::Subject {
public:
    std::string name() const override { return kName; }
    std::string description() const override { return kDescription; }
    std::optional<std::string> unavailable_reason() const override { return std::string(kWhy); }
    harness::SubjectRunResult run(const Problem&) override { throw std::runtime_error(kWhy); }
};

}  // namespace

void register_cuda_subjects(Registry& registry) {
    registry.add({kName, kDescription, Needs::cuda_device, Kind::kernel, decode_kernel_limitations(),
                  [](int) { return std::make_unique<UnbuiltSubject>(); }, {}, ""});
}

int cuda_device_count() { return 0; }

std::string cuda_unavailable_reason() { return kWhy; }

}  // namespace gdr::subjects
