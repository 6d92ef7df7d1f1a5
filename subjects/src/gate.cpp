#include "gdr/subjects/gate.hpp"

#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "gdr/harness/require_gpu.hpp"
#include "gdr/subjects/builtin.hpp"

namespace gdr::subjects {

bool strict_by_environment() {
    const char* value = std::getenv("GDR_STRICT");
    return value && std::string_view(value) == "1";
}

std::string default_subject(const std::string& cpu_fallback) {
    if (harness::gpu_required_by_environment() || cuda_device_count() > 0) return "cuda-decode";
    return cpu_fallback;
}

std::optional<std::string> Gate::refusal(const SubjectEntry& subject) const {
    if (!harness::gpu_required_by_environment() || subject.needs_gpu()) return std::nullopt;
    return fmt::format("GDR_REQUIRE_GPU=1 and subject {} runs on the CPU: the gate needs a GPU subject to run "
                       "(unset GDR_REQUIRE_GPU to run it)",
                       subject.name);
}

void Gate::record(const SubjectEntry& subject, bool did_run) {
    if (!subject.needs_gpu()) return;
    (did_run ? gpu_subjects_ran_ : gpu_subjects_not_run_).push_back(subject.name);
}

std::vector<std::string> Gate::failures(const std::vector<harness::CaseReport>& reports) const {
    std::vector<std::string> out;
    const harness::OutcomeCounts counts = harness::count_outcomes(reports);
    if (counts.incorrect + counts.failed)
        out.push_back(fmt::format("{} INCORRECT, {} FAILED", counts.incorrect, counts.failed));
    if (strict_ && counts.unexpected_not_supported)
        out.push_back(fmt::format("strict mode and {} NOT_SUPPORTED that no declared limitation of the subject covers",
                                  counts.unexpected_not_supported));
    if (harness::gpu_required_by_environment()) {
        for (const std::string& name : gpu_subjects_not_run_)
            out.push_back(fmt::format("GDR_REQUIRE_GPU=1 and subject {} did not run", name));
        if (gpu_subjects_ran_.empty() && gpu_subjects_not_run_.empty())
            out.push_back("GDR_REQUIRE_GPU=1 and no GPU subject ran");
    }
    return out;
}

int Gate::exit_code(const std::vector<harness::CaseReport>& reports) const {
    const std::vector<std::string> reasons = failures(reports);
    for (const std::string& reason : reasons) fmt::print("gate: failing: {}\n", reason);
    return reasons.empty() ? 0 : 1;
}

}  // namespace gdr::subjects
