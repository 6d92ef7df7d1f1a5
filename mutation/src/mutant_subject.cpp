#include "gdr/mutation/mutant_subject.hpp"

#include <string>

#include "gdr/core/errors.hpp"

namespace gdr::mutation {

harness::DeviceLaunch mutant_launch(cuda::Mutant mutant) {
    return [mutant](const Problem& device) { cuda::mutants::fused_recurrent_decode(device, mutant, nullptr); };
}

std::unique_ptr<harness::Subject> make_cuda_mutant_subject(cuda::Mutant mutant) {
    std::string name(mutant_subject_prefix);
    name += cuda::mutant_name(mutant);
    std::string description = "decode kernel mutant: ";
    for (const cuda::MutantInfo& info : cuda::mutant_catalog())
        if (info.id == mutant) description += info.bug_class;
    if (mutant == cuda::Mutant::none) description += "none (the production kernel, compiled with the mutant hooks)";
    return harness::make_cuda_launch_subject(std::move(name), std::move(description), mutant_launch(mutant));
}

cuda::Mutant parse_mutant(std::string_view name) {
    if (name.substr(0, mutant_subject_prefix.size()) == mutant_subject_prefix)
        name.remove_prefix(mutant_subject_prefix.size());
    if (const auto mutant = cuda::find_mutant(name)) return *mutant;
    throw InvalidArgument("mutant", "unknown mutant '" + std::string(name) + "' (gdr mutate --list names them)");
}

}  // namespace gdr::mutation
