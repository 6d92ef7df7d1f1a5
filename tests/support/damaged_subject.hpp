// A deliberately wrong subject for tests of the harness's checks and campaigns.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "gdr/harness/subject.hpp"
#include "support/builtin_subjects.hpp"

namespace gdr::testing {

// The correct CPU subject, then `damage` applied to what it wrote (and, for `inputs`, to
// what it read). `runs` counts calls, for damage that differs between runs. It keeps the
// CPU subject's name, so that its tolerance rows judge it.
class DamagedSubject final : public harness::Subject {
public:
    using Damage = std::function<void(const Problem&, int run, harness::SubjectRunResult&)>;
    explicit DamagedSubject(Damage damage) : inner_(testing::cpu_stand_in()), damage_(std::move(damage)) {}
    std::string name() const override { return "cpu-emulated-reversed"; }
    std::string description() const override { return "a deliberately wrong subject"; }
    std::optional<std::string> unavailable_reason() const override { return std::nullopt; }
    harness::MathMode math_mode() const override { return inner_->math_mode(); }
    harness::SubjectRunResult run(const Problem& problem) override {
        harness::SubjectRunResult result = inner_->run(problem);
        damage_(problem, runs_++, result);
        return result;
    }

private:
    std::unique_ptr<harness::Subject> inner_;
    Damage damage_;
    int runs_ = 0;
};

}  // namespace gdr::testing
