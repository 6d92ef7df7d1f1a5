// The gate's rules over registry entries (subjects/gate.hpp): strict mode and declared
// limitations, and GDR_REQUIRE_GPU=1. Subjects here are test doubles: one that declines every
// case, one that declines K > 8 only, each registered with or without a declaration.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <string>

#include "gdr/core/errors.hpp"
#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/subjects/gate.hpp"
#include "gdr/subjects/limitation.hpp"
#include "support/builtin_subjects.hpp"

using namespace gdr;
using gdr::harness::CaseReport;
using gdr::harness::Outcome;
using gdr::subjects::Gate;
using gdr::subjects::Limitation;
using gdr::subjects::SubjectEntry;

namespace {

// The CPU stand-in, declining (NotSupported) every case with K > max_key_dim.
class DecliningSubject final : public harness::Subject {
public:
    explicit DecliningSubject(std::int64_t max_key_dim) : inner_(testing::cpu_stand_in()), max_key_dim_(max_key_dim) {}
    std::string name() const override { return "cpu-emulated-reversed"; }  // its tolerance rows
    std::string description() const override { return "declines K > " + std::to_string(max_key_dim_); }
    std::optional<std::string> unavailable_reason() const override { return std::nullopt; }
    harness::SubjectRunResult run(const Problem& problem) override {
        if (problem.key_dim > max_key_dim_) throw NotSupported("this subject declines K > " + std::to_string(max_key_dim_));
        return inner_->run(problem);
    }

private:
    std::unique_ptr<harness::Subject> inner_;
    std::int64_t max_key_dim_;
};

SubjectEntry entry(std::int64_t max_key_dim, std::vector<Limitation> limitations) {
    return {"declining", "a test double", subjects::Needs::cpu, subjects::Kind::kernel, std::move(limitations),
            [max_key_dim](int) { return std::make_unique<DecliningSubject>(max_key_dim); }, {}, ""};
}

Limitation key_dim_over(std::int64_t k) {
    return {"key-dim-over-" + std::to_string(k), "K > " + std::to_string(k),
            [k](const harness::CaseSpec& spec, std::string_view) { return spec.key_dim > k; }};
}

std::vector<CaseReport> run_cases(const SubjectEntry& subject) {
    harness::RunOptions options;
    options.verdict.check_determinism = false;
    options.declared_limitation = subject.limitation_lookup();
    const auto made = subject.make(0);
    std::vector<CaseReport> reports;
    for (const char* text : {"B=2 T=1 H=1 HV=2 K=4 V=8 seed=1", "B=1 T=2 H=1 HV=1 K=16 V=8 seed=2",
                             "B=1 T=1 H=1 HV=1 K=40 V=4 seed=3"})
        reports.push_back(harness::run_case(harness::parse_text(text), *made, harness::ToleranceTable::load_default(), options));
    return reports;
}

// Sets an environment variable for one scope.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        ::setenv(name, value, 1);
    }
    ~ScopedEnv() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }

private:
    const char* name_;
    std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("gate: a subject that declines every case passes by default and fails strict", "[gate]") {
    const ScopedEnv no_strict("GDR_STRICT", "0");
    const ScopedEnv no_gpu_required("GDR_REQUIRE_GPU", "0");
    const SubjectEntry refuses_all = entry(0, {});
    const std::vector<CaseReport> reports = run_cases(refuses_all);
    for (const CaseReport& report : reports) {
        CHECK(report.outcome == Outcome::not_supported);
        CHECK(harness::is_unexpected_not_supported(report));
    }
    CHECK(Gate(false).failures(reports).empty());
    const std::vector<std::string> strict = Gate(true).failures(reports);
    REQUIRE(strict.size() == 1);
    CHECK(strict[0].find("strict mode and 3 NOT_SUPPORTED") != std::string::npos);
    CHECK(Gate(true).exit_code(reports) == 1);
    CHECK(Gate(false).exit_code(reports) == 0);
    // GDR_STRICT=1 is the same as the option.
    const ScopedEnv strict_env("GDR_STRICT", "1");
    CHECK(Gate(false).strict());
    CHECK(Gate(false).exit_code(reports) == 1);
}

TEST_CASE("gate: a declared limitation keeps its NOT_SUPPORTED passing in strict mode", "[gate]") {
    const ScopedEnv no_strict("GDR_STRICT", "0");
    const ScopedEnv no_gpu_required("GDR_REQUIRE_GPU", "0");
    const std::vector<CaseReport> declared = run_cases(entry(8, {key_dim_over(8)}));
    CHECK(declared[0].outcome == Outcome::passed);
    REQUIRE(declared[1].outcome == Outcome::not_supported);
    CHECK(declared[1].declared_limitation == "key-dim-over-8");
    CHECK(declared[2].declared_limitation == "key-dim-over-8");
    CHECK(Gate(true).failures(declared).empty());
    // A declaration narrower than what the subject declines leaves the rest unexpected.
    const std::vector<CaseReport> narrower = run_cases(entry(8, {key_dim_over(32)}));
    CHECK(narrower[1].outcome == Outcome::not_supported);
    CHECK(harness::is_unexpected_not_supported(narrower[1]));
    CHECK(narrower[2].declared_limitation == "key-dim-over-32");
    CHECK(Gate(true).failures(narrower).size() == 1);
}

TEST_CASE("gate: the decode kernel's declared limitations cover what it declines and no more", "[gate]") {
    const auto limitations = subjects::decode_kernel_limitations();
    const auto covering = [&](const char* text) {
        return subjects::covering_limitation(limitations, harness::parse_text(text), "");
    };
    CHECK(covering("K=257 V=4") == std::optional<std::string>("key-dim-over-256"));
    CHECK(covering("K=256 V=4") == std::nullopt);
    CHECK(covering("K=1 V=1") == std::nullopt);
    CHECK(covering("B=2 HV=4 H=2 K=128 V=129") == std::nullopt);
    // cuda-decode and its mutants declare them in every build (without CUDA too).
    CHECK(subjects::builtin_registry().at("cuda-decode").limitations.size() == limitations.size());
    CHECK(subjects::builtin_registry().at("cpu-emulated-reversed").limitations.empty());
}

TEST_CASE("gate: GDR_REQUIRE_GPU=1 fails unless a GPU subject ran", "[gate]") {
    const ScopedEnv no_strict("GDR_STRICT", "0");
    const SubjectEntry& cpu = subjects::builtin_registry().at("cpu-emulated-reversed");
    const SubjectEntry& gpu = subjects::builtin_registry().at("cuda-decode");
    {
        const ScopedEnv off("GDR_REQUIRE_GPU", "0");
        Gate gate(false);
        CHECK_FALSE(gate.refusal(cpu));
        gate.record(gpu, false);
        CHECK(gate.failures({}).empty());  // NOT_RUN of a GPU subject is no failure here
    }
    const ScopedEnv on("GDR_REQUIRE_GPU", "1");
    CHECK(subjects::default_subject("cpu-emulated-reversed") == "cuda-decode");
    const auto refusal = Gate(false).refusal(cpu);
    REQUIRE(refusal);
    CHECK(refusal->find("cpu-emulated-reversed runs on the CPU") != std::string::npos);
    CHECK_FALSE(Gate(false).refusal(gpu));
    CHECK(Gate(false).failures({}) == std::vector<std::string>{"GDR_REQUIRE_GPU=1 and no GPU subject ran"});
    Gate not_run(false);
    not_run.record(gpu, false);
    CHECK(not_run.failures({}) == std::vector<std::string>{"GDR_REQUIRE_GPU=1 and subject cuda-decode did not run"});
    Gate ran(false);
    ran.record(gpu, true);
    CHECK(ran.failures({}).empty());
}
