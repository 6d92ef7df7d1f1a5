// The mutant catalog, generated from GDR_MUTANT_LIST so that the enum and the names
// cannot drift apart.
#include "gdr/cuda/mutants.hpp"

namespace gdr::cuda {

#define GDR_MUTANT_CATALOG_ENTRY(name, bug_class) {Mutant::name, #name, bug_class},
const std::vector<MutantInfo>& mutant_catalog() {
    static const std::vector<MutantInfo> catalog{GDR_MUTANT_LIST(GDR_MUTANT_CATALOG_ENTRY)};
    return catalog;
}

const std::vector<MutantInfo>& chunk_mutant_catalog() {
    static const std::vector<MutantInfo> catalog{GDR_CHUNK_MUTANT_LIST(GDR_MUTANT_CATALOG_ENTRY)};
    return catalog;
}
#undef GDR_MUTANT_CATALOG_ENTRY

std::optional<Mutant> find_mutant(std::string_view name) {
    if (name == "none") return Mutant::none;
    for (const auto* catalog : {&mutant_catalog(), &chunk_mutant_catalog()})
        for (const MutantInfo& info : *catalog)
            if (info.name == name) return info.id;
    return std::nullopt;
}

std::string_view mutant_name(Mutant mutant) {
    for (const auto* catalog : {&mutant_catalog(), &chunk_mutant_catalog()})
        for (const MutantInfo& info : *catalog)
            if (info.id == mutant) return info.name;
    return "none";
}

}  // namespace gdr::cuda
