// The mutant catalog, generated from GDR_MUTANT_LIST so that the enum and the names
// cannot drift apart.
#include "gdr/cuda/mutants.hpp"

namespace gdr::cuda {

const std::vector<MutantInfo>& mutant_catalog() {
    static const std::vector<MutantInfo> catalog{
#define GDR_MUTANT_CATALOG_ENTRY(name, bug_class) {Mutant::name, #name, bug_class},
        GDR_MUTANT_LIST(GDR_MUTANT_CATALOG_ENTRY)
#undef GDR_MUTANT_CATALOG_ENTRY
    };
    return catalog;
}

std::optional<Mutant> find_mutant(std::string_view name) {
    if (name == "none") return Mutant::none;
    for (const MutantInfo& info : mutant_catalog())
        if (info.name == name) return info.id;
    return std::nullopt;
}

std::string_view mutant_name(Mutant mutant) {
    for (const MutantInfo& info : mutant_catalog())
        if (info.id == mutant) return info.name;
    return "none";
}

}  // namespace gdr::cuda
