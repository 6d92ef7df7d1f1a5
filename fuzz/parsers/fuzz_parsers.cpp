// libFuzzer target for the parsers that read untrusted text: a case spec in text form
// (parse_text: --case, replay lines), a case spec in JSON form (from_json: --json, replay
// files), the tolerance table (ToleranceTable::from_json_text: --tolerances) and
// safetensors files (SafetensorsFile::parse: a program's results to be judged).
//
// Every input goes to all four, so corpus files are plain spec lines or JSON documents
// and a crash file reproduces with `gdr spec --case` / `--json` / `--tolerances` as well.
//
// What counts as a bug (each ends in __builtin_trap, or in a sanitizer report):
// - a crash, UB, a hang (-timeout) or a huge allocation (-rss_limit_mb / -malloc_limit_mb);
// - an exception of another type than the header promises: parse_text and from_json throw
//   gdr::InvalidArgument, from_json_text throws ToleranceError, each with a message;
// - a spec that parses but does not round-trip: parse_text(to_text(s)) == s,
//   from_json(to_json(s)) == s and from_json(json::parse(to_json(s).dump())) == s, checked
//   whichever form s came from;
// - a table that loads but for which find() still meets a tie (the load-time ambiguity
//   check promises that it cannot);
// - a safetensors file that parses but whose tensors and metadata, written again, do not
//   parse back to the same names, types, shapes and bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gdr/core/errors.hpp"
#include "gdr/harness/case_spec.hpp"
#include "gdr/fuzz/replay.hpp"
#include "gdr/harness/safetensors.hpp"
#include "gdr/harness/tolerance.hpp"

namespace {

using gdr::harness::CaseSpec;
using gdr::harness::ToleranceError;
using gdr::harness::ToleranceTable;
using nlohmann::json;

// GDR_FUZZ_VERBOSE=1: say what each parser made of the input (for checking seeds:
// ./fuzz_parsers FILE...).
const bool verbose = std::getenv("GDR_FUZZ_VERBOSE") != nullptr;

void note(const char* parser, const char* outcome, const std::string& detail) {
    if (verbose) std::fprintf(stderr, "  %s: %s %s\n", parser, outcome, detail.c_str());
}

[[noreturn]] void bug(const char* what, const std::string& detail) {
    std::fprintf(stderr, "\n*** fuzz_parsers: %s\n%s\n", what, detail.c_str());
    std::fflush(stderr);
    __builtin_trap();
}

// An exception the parser is allowed to throw must carry a message.
void check_message(const std::exception& e, const char* parser) {
    if (std::strlen(e.what()) == 0) bug(parser, "threw an exception with an empty message");
}

// Runs `parse`; returns whether it succeeded. Expected is the one exception type the
// parser may throw; anything else is a bug.
template <class Expected, class Parse>
bool expect_value_or(const char* parser, Parse&& parse) {
    try {
        parse();
        note(parser, "accepted", "");
        return true;
    } catch (const Expected& e) {
        check_message(e, parser);
        note(parser, "rejected:", e.what());
        return false;
    } catch (const std::exception& e) {
        bug(parser, std::string("threw an unexpected exception type: ") + e.what());
    }
}

void check_round_trip(const CaseSpec& spec) {
    const std::string text = gdr::harness::to_text(spec);
    const json j = gdr::harness::to_json(spec);
    const std::string dumped = j.dump();
    try {
        if (gdr::harness::parse_text(text) != spec) bug("text round trip differs", text);
        if (gdr::harness::from_json(j) != spec) bug("JSON round trip differs", dumped);
        if (gdr::harness::from_json(json::parse(dumped)) != spec) bug("dumped JSON round trip differs", dumped);
    } catch (const std::exception& e) {
        bug("a canonical form of a valid spec was rejected",
            std::string(e.what()) + "\ntext: " + text + "\njson: " + dumped);
    }
}

void fuzz_text(const std::string& input) {
    CaseSpec spec;
    if (expect_value_or<gdr::InvalidArgument>("parse_text", [&] { spec = gdr::harness::parse_text(input); }))
        check_round_trip(spec);
}

void fuzz_json(const std::string& input) {
    // As the CLI does (tools/gdr/cli.cpp): malformed JSON is rejected before from_json.
    json doc;
    try {
        doc = json::parse(input);
    } catch (const json::exception& e) {
        note("json::parse", "rejected:", e.what());
        return;
    }
    CaseSpec spec;
    if (expect_value_or<gdr::InvalidArgument>("from_json", [&] { spec = gdr::harness::from_json(doc); }))
        check_round_trip(spec);

    // The same document as a replay file (`gdr replay`, fuzz/corpus/decode/): a valid one
    // must survive to_json and back with its case unchanged.
    gdr::fuzz::ReplayFile replay;
    if (expect_value_or<gdr::InvalidArgument>("replay_from_json",
                                              [&] { replay = gdr::fuzz::replay_from_json(doc, "fuzz"); })) {
        const gdr::fuzz::ReplayFile again = gdr::fuzz::replay_from_json(gdr::fuzz::to_json(replay), "fuzz");
        if (!(again.spec == replay.spec) || again.subject != replay.subject)
            bug("a replay file does not round-trip", gdr::harness::to_text(replay.spec));
    }
}

// Every key built from the table's own values (plus an unknown subject) must find at
// most one best row: ties are rejected at load time.
void check_no_ties(const ToleranceTable& table) {
    using gdr::DType;
    using gdr::harness::OutputKind;
    using gdr::harness::TBucket;
    std::set<std::string> subjects = {"fuzz-subject-not-in-table"};
    for (const auto& row : table.rows())
        if (row.subject) subjects.insert(*row.subject);
    for (const std::string& subject : subjects)
        for (DType in : {DType::f32, DType::f16, DType::bf16})
            for (DType state : {DType::f32, DType::f16, DType::bf16})
                for (OutputKind kind : {OutputKind::o, OutputKind::state})
                    for (TBucket bucket : {TBucket::t1, TBucket::t2_8, TBucket::t9_plus})
                        for (std::string_view feature : gdr::harness::kToleranceFeatures) {
                            const gdr::harness::ToleranceKey key{subject, in, state, kind, bucket, std::string(feature)};
                            try {
                                (void)table.find(key);
                            } catch (const std::exception& e) {
                                bug("find() failed on a table that loaded", e.what());
                            }
                        }
}

void fuzz_tolerances(std::string_view input) {
    std::optional<ToleranceTable> table;
    if (expect_value_or<ToleranceError>("ToleranceTable::from_json_text",
                                        [&] { table = ToleranceTable::from_json_text(input, "fuzz.json"); }))
        check_no_ties(*table);
}

bool same_tensors(const gdr::harness::SafetensorsFile& a, const gdr::harness::SafetensorsFile& b) {
    if (a.tensors().size() != b.tensors().size() || a.metadata() != b.metadata()) return false;
    for (std::size_t i = 0; i < a.tensors().size(); ++i) {
        const auto &x = a.tensors()[i], &y = b.tensors()[i];
        if (x.name != y.name || x.type != y.type || x.shape != y.shape || x.bytes.size() != y.bytes.size() ||
            (!x.bytes.empty() && std::memcmp(x.bytes.data(), y.bytes.data(), x.bytes.size()) != 0))
            return false;
    }
    return true;
}

void fuzz_safetensors(const std::uint8_t* data, std::size_t size) {
    using gdr::harness::SafetensorsFile;
    const auto* first = reinterpret_cast<const std::byte*>(data);
    std::optional<SafetensorsFile> file;
    if (!expect_value_or<gdr::InvalidArgument>("SafetensorsFile::parse", [&] {
            file.emplace(SafetensorsFile::parse(std::vector<std::byte>(first, first + size), "fuzz.safetensors"));
        }))
        return;
    try {
        const SafetensorsFile again = SafetensorsFile::parse(
            gdr::harness::serialize_safetensors(file->tensors(), file->metadata()), "again.safetensors");
        if (!same_tensors(*file, again)) bug("a safetensors file does not round-trip", "");
    } catch (const std::exception& e) {
        bug("a parsed safetensors file was refused when written again", e.what());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

// Inputs far beyond -max_len that once crashed, run once at start-up: a wrong-typed value
// nested 200000 deep (a ~400 KB file) overflowed the stack when a tolerance error message
// dump()ed it.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
    constexpr std::size_t depth = 200000;
    const std::string deep = std::string(depth, '[') + std::string(depth, ']');
    const std::string row_fields =
        R"("subject": "*", "input_dtype": "*", "state_dtype": "*", "kind": "*", "t_bucket": "*", "feature": "*")";
    for (const std::string& input : {
             R"({"rows": [{"id": )" + deep + "}]}",
             R"({"rows": [{"id": "a", )" + row_fields + R"(, "rho": )" + deep + "}]}",
             R"({"B": )" + deep + "}",
         }) {
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    fuzz_text(input);
    fuzz_json(input);
    fuzz_tolerances(input);
    fuzz_safetensors(data, size);
    return 0;
}
