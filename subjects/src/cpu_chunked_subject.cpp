// The CPU stand-in of a chunk (prefill) kernel: the chunked oracle in emulated fp32 with
// the tensor-core rounding points, its sequential sums run in the other legal order
// (reversed). The harness's Rlp for it is the same algorithm, C and rounding points summed
// forward, so the two round differently, as a real kernel's order and Rlp's do, while the
// contract stays honest (a stand-in identical to Rlp would prove nothing about the rule).
#include "gdr/reference/chunked.hpp"
#include "gdr/subjects/builtin.hpp"

namespace gdr::subjects {

namespace {

constexpr char kName[] = "cpu-chunked-emulated";
constexpr char kDescription[] =
    "the chunked (WY) oracle in emulated fp32, C = 4, tensor_core_bf16 rounding points, reversed sums (a CPU "
    "stand-in chunk kernel)";

// C = 4, not a kernel's usual 64: the harness's cases are short (T <= 9 in gdr verify, a
// few tokens in most fuzz cases), and C = 4 makes them cross chunk boundaries (the state
// carried from chunk to chunk) and end in a shorter tail chunk, which C = 64 would never
// reach there. Any C is exact algebra; the rounding points are those of a bf16 tensor-core
// kernel (a no-op on f32 inputs).
harness::ChunkedContract contract() {
    return {4, reference::ChunkRoundingPoints::tensor_core_bf16()};
}

class CpuChunkedSubject final : public harness::Subject {
public:
    std::string name() const override { return kName; }
    std::string description() const override { return kDescription; }
    std::optional<std::string> unavailable_reason() const override { return std::nullopt; }
    // std::exp, std::sqrt and x / norm in float: correctly rounded (glibc's expf, IEEE).
    harness::MathMode math_mode() const override { return harness::MathMode::correctly_rounded; }
    std::optional<harness::ChunkedContract> chunked() const override { return contract(); }
    harness::SubjectRunResult run(const Problem& problem) override {
        reference::ChunkedOptions options = harness::emulated_options(contract());
        options.order = reference::ReductionOrder::reversed;
        reference::run_chunked(problem, options);
        return {};
    }
};

}  // namespace

void register_cpu_chunked_subject(Registry& registry) {
    // No limitations: the oracle takes every valid case, so any NOT_SUPPORTED is unexpected.
    registry.add({kName, kDescription, Needs::cpu, Kind::stand_in, {}, [](int) {
                      return std::make_unique<CpuChunkedSubject>();
                  }, {}, ""});
}

}  // namespace gdr::subjects
