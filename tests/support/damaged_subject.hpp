// A deliberately wrong subject for tests of the harness's checks and campaigns.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "gdr/harness/subject.hpp"
#include "support/builtin_subjects.hpp"

namespace gdr::testing {

// A correct CPU subject (the decode stand-in unless `inner` says otherwise), then `damage`
// applied to what it wrote (and, for `inputs`, to what it read). `runs` counts calls, for
// damage that differs between runs. It keeps the inner subject's name, so that its
// tolerance rows judge it, and its chunked contract, so that the chunked path judges it.
class DamagedSubject final : public harness::Subject {
public:
    using Damage = std::function<void(const Problem&, int run, harness::SubjectRunResult&)>;
    explicit DamagedSubject(Damage damage, std::unique_ptr<harness::Subject> inner = testing::cpu_stand_in())
        : inner_(std::move(inner)), damage_(std::move(damage)) {}
    std::string name() const override { return inner_->name(); }
    std::optional<harness::ChunkedContract> chunked() const override { return inner_->chunked(); }
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
