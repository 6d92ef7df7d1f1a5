// A case as files (gdr/harness/case_files.hpp): the inputs file holds the case as the
// harness would hand it to a subject, a program's correct results pass `gdr judge` with the
// checks only a call in-process shows listed NOT_RUN, and wrong or malformed results fail.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "gdr/core/errors.hpp"
#include "gdr/harness/case_files.hpp"
#include "gdr/harness/check_names.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/reference/fused_recurrent.hpp"

using namespace gdr;
using namespace gdr::harness;

namespace {

// Circular slots, grouped heads, a permuted bank larger than the batch and the VK layout.
const char* const kCase = "B=3 T=2 H=1 HV=2 K=8 V=6 layout=vk in=bf16 state=f32 slots=2 circular=1 seqlen_max=5 "
                          "N=6 indices=permutation seed=4";

std::span<const std::byte> bytes_of(const HostTensor& tensor) {
    return {static_cast<const std::byte*>(tensor.data()), tensor.storage_bytes()};
}

bool same_bytes(const SafetensorsTensor& tensor, const HostTensor& host) {
    return tensor.bytes.size() == host.storage_bytes() &&
           std::memcmp(tensor.bytes.data(), host.data(), host.storage_bytes()) == 0;
}

// What a program would do with the inputs file: run a legal implementation (the emulated
// oracle, fp32 with the kernel's roundings) in place on its o and state.
RunBuffers program_results(const HostCase& host) {
    RunBuffers buffers = make_run_buffers(host, host.spec.input_dtype, host.spec.state_dtype);
    reference::run_fused_recurrent(make_problem(host, buffers),
                                   {reference::Precision::emulated_fp32, reference::ReductionOrder::forward});
    return buffers;
}

CaseReport judge_results(const HostCase& host, std::vector<std::byte> results) {
    ResultsFileSubject subject(SafetensorsFile::parse(std::move(results), "out.safetensors"), "out.safetensors");
    subject.validate_against(host);
    PreparedCase prepared;
    prepared.host = host;
    return run_case(prepared, subject, ToleranceTable::load_default());
}

const CheckResult* find_check(const CaseReport& report, const char* name) {
    for (const CheckResult& check : report.checks)
        if (check.name == name) return &check;
    return nullptr;
}

}  // namespace

TEST_CASE("case files: the inputs file holds the case's tensors and starting buffers", "[case_files]") {
    const HostCase host = materialize(parse_text(kCase));
    const SafetensorsFile file = SafetensorsFile::parse(case_inputs_file(host), "in.safetensors");
    const RunBuffers start = make_run_buffers(host, DType::bf16, DType::f32);
    for (const auto& [name, tensor] : std::vector<std::pair<const char*, const HostTensor*>>{
             {"q", &host.q}, {"k", &host.k}, {"v", &host.v}, {"g", &host.g}, {"beta", &host.beta},
             {"state", &start.bank}, {"o", &start.o}}) {
        INFO(name);
        const SafetensorsTensor* found = file.find(name);
        REQUIRE(found);
        CHECK(found->shape == tensor->shape());
        CHECK(found->type == safetensors_type_of(tensor->dtype()));
        CHECK(same_bytes(*found, *tensor));  // o and the written slots are poison, as a subject gets them
    }
    const SafetensorsTensor* indices = file.find("state_indices");
    REQUIRE(indices);
    CHECK(indices->type == SafetensorsType::i64);
    CHECK(std::memcmp(indices->bytes.data(), host.state_indices.data(), indices->bytes.size()) == 0);
    const SafetensorsTensor* seqlens = file.find("cache_seqlens");
    REQUIRE(seqlens);
    CHECK(seqlens->type == SafetensorsType::i32);
    CHECK(file.find("cu_seqlens") == nullptr);
    CHECK(parse_text(file.metadata().at("case")) == host.spec);
    CHECK(file.metadata().at("format") == kCaseFileFormat);
    CHECK(file.metadata().at("layout") == "vk");
    CHECK(std::stod(file.metadata().at("scale")) == 1 / std::sqrt(8.0));
}

TEST_CASE("case files: a program's correct results pass, with the unwatched checks NOT_RUN outside the outcome",
          "[case_files]") {
    const HostCase host = materialize(parse_text(kCase));
    const RunBuffers done = program_results(host);
    const CaseReport report = judge_results(
        host, serialize_safetensors({{"o", SafetensorsType::bf16, done.o.shape(), bytes_of(done.o)},
                                     {"state", SafetensorsType::f32, done.bank.shape(), bytes_of(done.bank)}}));
    INFO(format_failure(report));
    CHECK(report.outcome == Outcome::passed);
    for (const char* judged : {check_names::o_vs_r64, check_names::state_vs_r64, check_names::o_vs_stepped_r64,
                               check_names::state_vs_stepped_r64, check_names::untouched_bank,
                               check_names::poison_survivors}) {
        const CheckResult* check = find_check(report, judged);
        REQUIRE(check);
        CHECK(check->outcome == Outcome::passed);
    }
    for (const char* unwatched : {check_names::guard_bands, check_names::bank_arena, check_names::inputs_unchanged,
                                  check_names::determinism}) {
        const CheckResult* check = find_check(report, unwatched);
        REQUIRE(check);
        CHECK(check->outcome == Outcome::not_run);
        CHECK(check->detail.find("judged from a results file") != std::string::npos);
    }
}

TEST_CASE("case files: wrong results fail the check that sees them", "[case_files]") {
    const HostCase host = materialize(parse_text(kCase));
    const RunBuffers done = program_results(host);
    SECTION("one element of o off") {
        HostTensor o = done.o.converted(done.o.dtype());
        o.set(7, o.get(7) + 0.25);
        const CaseReport report = judge_results(
            host, serialize_safetensors({{"o", SafetensorsType::bf16, o.shape(), bytes_of(o)},
                                         {"state", SafetensorsType::f32, done.bank.shape(), bytes_of(done.bank)}}));
        CHECK(report.outcome == Outcome::incorrect);
        CHECK(find_check(report, check_names::o_vs_r64)->outcome == Outcome::incorrect);
    }
    SECTION("the starting buffers handed back unchanged") {
        const CaseReport report = judge_results(host, case_inputs_file(host));
        CHECK(report.outcome == Outcome::incorrect);
        CHECK(find_check(report, check_names::poison_survivors)->outcome == Outcome::incorrect);
    }
}

TEST_CASE("case files: a results file without o or state, or of another dtype or shape, is refused naming it",
          "[case_files]") {
    const HostCase host = materialize(parse_text(kCase));
    const RunBuffers done = program_results(host);
    const auto refused = [&](const std::vector<SafetensorsTensor>& tensors, const std::string& what) {
        ResultsFileSubject subject(SafetensorsFile::parse(serialize_safetensors(tensors), "out.safetensors"),
                                   "out.safetensors");
        try {
            subject.validate_against(host);
            FAIL("accepted");
        } catch (const InvalidArgument& error) {
            INFO(error.what());
            CHECK(std::string(error.what()).find(what) != std::string::npos);
        }
    };
    const SafetensorsTensor o{"o", SafetensorsType::bf16, done.o.shape(), bytes_of(done.o)};
    const SafetensorsTensor state{"state", SafetensorsType::f32, done.bank.shape(), bytes_of(done.bank)};
    refused({o}, "out.safetensors: tensor 'state': missing");
    refused({state}, "out.safetensors: tensor 'o': missing");
    const HostTensor o_f32 = done.o.converted(DType::f32);
    refused({{"o", SafetensorsType::f32, o_f32.shape(), bytes_of(o_f32)}, state}, "tensor 'o': is F32, the case's is BF16");
    std::vector<std::int64_t> flat = {done.bank.numel()};
    refused({o, {"state", SafetensorsType::f32, flat, bytes_of(done.bank)}}, "tensor 'state': has shape [1152], the case's is [6, 2, 2, 6, 8]");
}
