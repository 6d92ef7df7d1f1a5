// The one registry of subjects, in the spirit of PyTorch's OpInfo table: each entry says
// what a subject is, what it needs to run, which valid cases it declines and how to make
// one. Every `gdr` verb and the CI gate ask the registry; nothing looks at a name.
//
// Adding a subject: write a harness::Subject (a file in subjects/src/) and add one
// SubjectEntry for it where the others are registered (builtin.cpp for CPU subjects,
// cuda_subjects.cpp for CUDA ones).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gdr/harness/report.hpp"
#include "gdr/harness/subject.hpp"
#include "gdr/subjects/limitation.hpp"

namespace gdr::subjects {

// What a subject needs to run. Only a subject that needs a CUDA device may be NOT_RUN on a
// machine without one; under GDR_REQUIRE_GPU=1 that NOT_RUN fails the gate.
enum class Needs { cpu, cuda_device };

enum class Kind {
    kernel,          // a real implementation under test (`gdr verify` runs it by default)
    stand_in,        // a CPU stand-in that exercises the harness anywhere (also by default)
    mutant,          // a deliberately wrong kernel (`gdr mutate`'s kill table)
    mutant_control,  // the mutant build with every hook off: must pass everything
};

struct SubjectEntry {
    std::string name;
    std::string description;
    Needs needs = Needs::cpu;
    Kind kind = Kind::kernel;
    // The valid cases this subject declines (it throws NotSupported for them, and they are
    // reported NOT_SUPPORTED), each with a predicate that says which cases it covers; a strict
    // gate fails on any other NOT_SUPPORTED (limitation.hpp).
    std::vector<Limitation> limitations;
    // A subject bound to CUDA device `device` (host subjects ignore it).
    std::function<std::unique_ptr<harness::Subject>(int device)> make;
    // A case the harness cannot mirror on the host, run by the subject on its own device:
    // the bank of more than 2^31 elements (big_bank_case.hpp). Empty when it has none.
    std::function<harness::CaseReport()> run_big_bank_case;

    // For a mutant: the bug class it models and where it hides; empty otherwise.
    std::string bug_class;

    bool needs_gpu() const { return needs == Needs::cuda_device; }
    // For harness::RunOptions::declared_limitation: which of `limitations` covers a case.
    harness::LimitationLookup limitation_lookup() const { return subjects::limitation_lookup(limitations); }
};

class Registry {
public:
    // Throws std::logic_error for a duplicate name or an entry without a factory.
    void add(SubjectEntry entry);

    // nullptr when no entry has this name.
    const SubjectEntry* find(std::string_view name) const;
    // Throws gdr::InvalidArgument("subject", ...) naming the known subjects.
    const SubjectEntry& at(std::string_view name) const;
    std::unique_ptr<harness::Subject> make(std::string_view name, int device = 0) const { return at(name).make(device); }

    // Every entry, in registration order (report order).
    const std::vector<SubjectEntry>& entries() const { return entries_; }
    std::vector<const SubjectEntry*> of_kind(Kind kind) const;
    // What `gdr verify` runs without --subject: the kernels and the stand-ins.
    std::vector<const SubjectEntry*> defaults() const;

private:
    std::vector<SubjectEntry> entries_;
};

}  // namespace gdr::subjects
