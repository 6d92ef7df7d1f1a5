#include "gdr/subjects/registry.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "gdr/core/errors.hpp"

namespace gdr::subjects {

void Registry::add(SubjectEntry entry) {
    if (find(entry.name)) throw std::logic_error("subject registered twice: " + entry.name);
    if (!entry.make) throw std::logic_error("subject without a factory: " + entry.name);
    entries_.push_back(std::move(entry));
}

const SubjectEntry* Registry::find(std::string_view name) const {
    for (const SubjectEntry& entry : entries_)
        if (entry.name == name) return &entry;
    return nullptr;
}

const SubjectEntry& Registry::at(std::string_view name) const {
    if (const SubjectEntry* entry = find(name)) return *entry;
    std::string known;
    for (const SubjectEntry* entry : defaults()) known += (known.empty() ? "" : ", ") + entry->name;
    const std::size_t mutants = of_kind(Kind::mutant).size();
    if (mutants) known += fmt::format(", and {} mutants named mutant:<name> (gdr mutate --list)", mutants);
    throw InvalidArgument("subject", fmt::format("unknown subject '{}'; known: {}", name, known));
}

std::vector<const SubjectEntry*> Registry::of_kind(Kind kind) const {
    std::vector<const SubjectEntry*> out;
    for (const SubjectEntry& entry : entries_)
        if (entry.kind == kind) out.push_back(&entry);
    return out;
}

std::vector<const SubjectEntry*> Registry::defaults() const {
    std::vector<const SubjectEntry*> out;
    for (const SubjectEntry& entry : entries_)
        if (entry.kind == Kind::kernel || entry.kind == Kind::stand_in) out.push_back(&entry);
    return out;
}

}  // namespace gdr::subjects
