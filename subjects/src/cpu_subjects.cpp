// The CPU stand-in: the emulated-precision oracle with the other legal reduction order. It
// rounds differently from Rlp yet must pass the tolerance rule, so it exercises the whole
// harness on machines without a GPU.
#include "gdr/reference/fused_recurrent.hpp"
#include "gdr/subjects/builtin.hpp"

namespace gdr::subjects {

namespace {

constexpr char kName[] = "cpu-emulated-reversed";
constexpr char kDescription[] =
    "the Eigen oracle in emulated fp32 precision with reversed K-sums (a CPU stand-in kernel)";

class CpuEmulatedSubject final : public harness::Subject {
public:
    std::string name() const override { return kName; }
    std::string description() const override { return kDescription; }
    std::optional<std::string> unavailable_reason() const override { return std::nullopt; }
    // The oracle's own code: std::exp, std::sqrt and x / norm, correctly rounded in float
    // (glibc's expf and IEEE sqrt and division).
    harness::MathMode math_mode() const override { return harness::MathMode::correctly_rounded; }
    harness::SubjectRunResult run(const Problem& problem) override {
        reference::run_fused_recurrent(problem, {reference::Precision::emulated_fp32, reference::ReductionOrder::reversed});
        return {};
    }
};

}  // namespace

void register_cpu_subjects(Registry& registry) {
    // No limitations: the oracle takes every valid case, so any NOT_SUPPORTED is unexpected.
    registry.add({kName, kDescription, Needs::cpu, Kind::stand_in, {}, [](int) {
                      return std::make_unique<CpuEmulatedSubject>();
                  }, {}, ""});
}

}  // namespace gdr::subjects
