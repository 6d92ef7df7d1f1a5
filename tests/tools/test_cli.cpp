// run_cli (tools/gdr/cli.hpp) over a registry of the caller's: what the Python package relies
// on. A subject of the caller's is found by name, judged by the same rules, and the reproduce
// line names the caller's program; the fuzz stop signals give the caller's handlers back.
#include <catch2/catch.hpp>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "gdr/subjects/builtin.hpp"
#include "stop_signals.hpp"

namespace {

using namespace gdr;

// A kernel that writes zeros to o and leaves the bank alone: wrong for any case.
class ZeroOutputSubject final : public harness::Subject {
public:
    std::string name() const override { return "test:zero-output"; }
    std::string description() const override { return "writes zeros to o (deliberately wrong)"; }
    std::optional<std::string> unavailable_reason() const override { return std::nullopt; }
    harness::SubjectRunResult run(const Problem& problem) override {
        const std::array<std::int64_t, 4> shape = problem.vo_shape();
        std::memset(problem.o.data, 0, std::size_t(view_span(problem.o, shape)) * dtype_size(problem.o.dtype));
        return {};
    }
};

subjects::Registry registry_with_zero_output_subject() {
    subjects::Registry registry = subjects::builtin_registry();
    registry.add({"test:zero-output", "writes zeros to o", subjects::Needs::cpu, subjects::Kind::kernel, {},
                  [](int) { return std::make_unique<ZeroOutputSubject>(); }, {}, ""});
    return registry;
}

nlohmann::json only_record(const std::filesystem::path& jsonl) {
    std::ifstream in(jsonl);
    std::string line;
    REQUIRE(std::getline(in, line));
    return nlohmann::json::parse(line);
}

}  // namespace

TEST_CASE("run_cli judges a subject of the caller's registry and names the caller's program in the reproduce line") {
    const subjects::Registry registry = registry_with_zero_output_subject();
    const cli::CliContext context{&registry, "python -m gdr_verify"};
    const std::filesystem::path jsonl = std::filesystem::temp_directory_path() / "gdr_test_cli_wrong.jsonl";
    const int code = cli::run_cli({"check", "--subject", "test:zero-output", "--case", "B=2 T=1 H=1 HV=2 K=16 V=8",
                                   "--jsonl", jsonl.string()},
                                  context);
    CHECK(code == 1);
    const nlohmann::json record = only_record(jsonl);
    CHECK(record.at("outcome") == "INCORRECT");
    CHECK(record.at("reproduce").get<std::string>().rfind("python -m gdr_verify check --subject test:zero-output --case ", 0) == 0);
    std::filesystem::remove(jsonl);
}

TEST_CASE("run_cli over a caller's registry still knows the built-in subjects, and a correct one passes") {
    const subjects::Registry registry = registry_with_zero_output_subject();
    CHECK(cli::run_cli({"check", "--subject", "cpu-emulated-reversed", "--case", "B=2 T=1 H=1 HV=2 K=16 V=8"},
                       {&registry, "python -m gdr_verify"}) == 0);
    CHECK(cli::run_cli({"check", "--subject", "no-such-subject", "--case", "B=1"}, {&registry, "x"}) == 2);
}

namespace {
extern "C" void callers_handler(int) {}
}  // namespace

TEST_CASE("the fuzz stop signals are installed while their scope lives and the caller's handlers come back") {
    struct sigaction callers {}, seen {}, previous {};
    callers.sa_handler = callers_handler;
    sigemptyset(&callers.sa_mask);
    REQUIRE(sigaction(SIGHUP, &callers, &previous) == 0);
    {
        const cli::StopSignalScope scope;
        REQUIRE(sigaction(SIGHUP, nullptr, &seen) == 0);
        CHECK(seen.sa_handler != callers_handler);
        CHECK_FALSE(cli::stop_signal_received());
        std::raise(SIGHUP);
        CHECK(cli::stop_signal_received() == std::optional<std::string>("SIGHUP"));
    }
    REQUIRE(sigaction(SIGHUP, nullptr, &seen) == 0);
    CHECK(seen.sa_handler == callers_handler);
    sigaction(SIGHUP, &previous, nullptr);
}
