// `gdr fuzz --chunk-lengths`: a chunk kernel's campaign draws its own chunk size's lengths
// without being told (cpu-chunked-emulated declares C = 4), a decode subject's draws the decode
// lengths, and the option overrides either way. Read back from the campaign's records.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "gdr/subjects/builtin.hpp"

namespace {

using namespace gdr;

struct FuzzRun {
    int exit_code = 0;
    std::int64_t chunk_lengths = -1;  // the start record's distribution (0: none), -1: no record
    std::int64_t summary_chunk_lengths = -1;
};

// `gdr fuzz --cases 0 ARGS...`: what its records say about chunk lengths.
FuzzRun fuzz_no_cases(std::vector<std::string> args) {
    const std::filesystem::path jsonl =
        std::filesystem::temp_directory_path() / ("gdr_test_fuzz_chunk_lengths_" + std::to_string(getpid()) + ".jsonl");
    std::filesystem::remove(jsonl);
    args.insert(args.begin(), {"fuzz", "--cases", "0", "--workers", "1", "--jsonl", jsonl.string()});
    const subjects::Registry& registry = subjects::builtin_registry();
    FuzzRun run;
    run.exit_code = cli::run_cli(args, {&registry, "gdr"});
    std::ifstream in(jsonl);
    for (std::string line; std::getline(in, line);) {
        const nlohmann::json record = nlohmann::json::parse(line);
        if (record.at("record") == "start") {
            const nlohmann::json& distribution = record.at("distribution");
            run.chunk_lengths = distribution.is_null() ? 0 : distribution.value("chunk_lengths", std::int64_t(0));
        } else if (record.at("record") == "summary") {
            run.summary_chunk_lengths = record.at("chunk_lengths").get<std::int64_t>();
        }
    }
    std::filesystem::remove(jsonl);
    return run;
}

}  // namespace

TEST_CASE("gdr fuzz draws the subject's own chunk lengths, none for a decode subject, and --chunk-lengths overrides") {
    const FuzzRun chunked = fuzz_no_cases({"--subject", "cpu-chunked-emulated"});
    CHECK(chunked.exit_code == 0);
    CHECK(chunked.chunk_lengths == 4);
    CHECK(chunked.summary_chunk_lengths == 4);
    const FuzzRun decode = fuzz_no_cases({"--subject", "cpu-emulated-reversed"});
    CHECK(decode.exit_code == 0);
    CHECK(decode.chunk_lengths == 0);
    CHECK(decode.summary_chunk_lengths == 0);

    CHECK(fuzz_no_cases({"--subject", "cpu-chunked-emulated", "--chunk-lengths", "0"}).chunk_lengths == 0);
    CHECK(fuzz_no_cases({"--subject", "cpu-emulated-reversed", "--chunk-lengths", "16"}).chunk_lengths == 16);
    const FuzzRun negative = fuzz_no_cases({"--subject", "cpu-chunked-emulated", "--chunk-lengths", "-1"});
    CHECK(negative.exit_code == 2);
    CHECK(negative.chunk_lengths == -1);  // refused before any record
}
