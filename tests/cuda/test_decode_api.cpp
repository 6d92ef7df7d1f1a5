// The decode kernel's host API and the cases a random property rarely reaches: a circular
// call against one-token calls, a bank of more than 2^31 elements addressed near its end
// (harness/big_bank_case.hpp),
// B > 65535 rows, each kernel tiling, the no-op shapes, and refusals that must happen before
// any launch.
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "gdr/core/errors.hpp"
#include "gdr/cuda/decode.hpp"
#include "gdr/cuda/device.hpp"
#include "gdr/cuda/device_bytes.hpp"
#include "gdr/subjects/big_bank_case.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/harness/case_gen.hpp"
#include "support/host_case_tools.hpp"
#include "support/rc_property.hpp"
#include "support/builtin_subjects.hpp"

using gdr::harness::CaseSpec;
using gdr::harness::HostCase;
using gdr::harness::HostTensor;
using gdr::harness::RunBuffers;
using gdr::harness::parse_text;

namespace {

using gdr::cuda::DeviceBytes;

RunBuffers run_cuda(gdr::harness::Subject& subject, const HostCase& host_case) {
    RunBuffers buffers = gdr::harness::make_run_buffers(host_case, host_case.spec.input_dtype, host_case.spec.state_dtype);
    subject.run(gdr::harness::make_problem(host_case, buffers));
    return buffers;
}

bool same_bytes(const HostTensor& a, const HostTensor& b) { return a.bytes() == b.bytes(); }

}  // namespace

TEST_CASE("cuda decode property: one circular call of T tokens equals T one-token calls bitwise",
          "[gpu][property][decode]") {
    auto subject = gdr::testing::cuda_decode();
    gdr::harness::CaseGenConfig config;
    config.varlen = false;
    config.skip_final_state = false;
    config.max_seq_len = 8;
    config.max_key_dim = 160;
    config.max_value_dim = 80;
    gdr::testing::check_property("circular call vs token-by-token on the GPU", [&] {
        CaseSpec spec = *gdr::harness::gen_case(config);
        spec.circular = true;
        spec.seqlen_max = *rc::gen::inRange<std::int64_t>(0, 3 * spec.slots + 1);
        spec.slots = *rc::gen::element(spec.slots, spec.seq_len, std::int64_t{1});
        spec.negative_seqlens = std::min(spec.negative_seqlens, spec.batch);
        RC_CLASSIFY(spec.slots == spec.seq_len, "Slots == T");
        RC_CLASSIFY(spec.slots < spec.seq_len, "Slots < T");
        const HostCase whole = gdr::harness::materialize(spec);
        const RunBuffers all = run_cuda(*subject, whole);

        // The kernel's round trip between tokens is exactly what a one-token call reads
        // back from the cache, and each token runs the same instructions: bitwise for
        // every state dtype, not only fp32.
        HostCase step = whole;
        step.spec.seq_len = 1;
        step.spec.strides = gdr::harness::StrideRule::contiguous;
        for (std::int64_t t = 0; t < spec.seq_len; ++t) {
            step.q = gdr::testing::token_slice(whole.q, t, t + 1);
            step.k = gdr::testing::token_slice(whole.k, t, t + 1);
            step.v = gdr::testing::token_slice(whole.v, t, t + 1);
            step.g = gdr::testing::token_slice(whole.g, t, t + 1);
            step.beta = gdr::testing::token_slice(whole.beta, t, t + 1);
            for (std::size_t r = 0; r < step.cache_seqlens.size(); ++r)
                step.cache_seqlens[r] = whole.cache_seqlens[r] < 0 ? whole.cache_seqlens[r]
                                                                   : whole.cache_seqlens[r] + std::int32_t(t);
            const RunBuffers one = run_cuda(*subject, step);
            for (std::int64_t b = 0; b < spec.batch; ++b)
                for (std::int64_t i = 0; i < spec.num_value_heads * spec.value_dim; ++i) {
                    const std::int64_t in_all = (b * spec.seq_len + t) * spec.num_value_heads * spec.value_dim + i;
                    const std::int64_t in_one = b * spec.num_value_heads * spec.value_dim + i;
                    RC_ASSERT(gdr::testing::element_bits(all.o, in_all) == gdr::testing::element_bits(one.o, in_one));
                }
            step.initial_bank = one.bank;
        }
        RC_ASSERT(same_bytes(all.bank, step.initial_bank));
    });
}

TEST_CASE("cuda decode: a bank of more than 2^31 elements is addressed near its end", "[gpu][decode]") {
    // subjects::run_big_bank_case: rows at entries N-1 and N-3 of a 2^31 + 2^20 element bf16
    // bank (4.3 GB), where a 32-bit element offset would wrap, against the same call on a
    // two-entry bank; the kill table runs it on the bank_offset_32bit mutant too.
    const auto report = gdr::subjects::builtin_registry().at("cuda-decode").run_big_bank_case();
    INFO(gdr::harness::format_failure(report));
    CHECK(report.outcome == gdr::harness::Outcome::passed);
    // The small call itself is right: the same case through the guarded subject and the oracle.
    auto subject = gdr::testing::cuda_decode();
    const auto small = gdr::harness::run_case(gdr::subjects::big_bank_small_case(), *subject,
                                              gdr::harness::ToleranceTable::load_default());
    INFO(gdr::harness::format_failure(small));
    CHECK(small.outcome == gdr::harness::Outcome::passed);
}

TEST_CASE("cuda decode: more rows than one grid launches (B > 65535) pass against the oracle", "[gpu][decode]") {
    // Rows are gridDim.y, at most 65535: the rest run in the kernel's grid-stride loop.
    const CaseSpec spec = parse_text("B=66000 T=1 H=1 HV=2 K=16 V=8 layout=kv in=bf16 state=f32 seed=65536");
    REQUIRE(spec.batch > 65535);
    auto subject = gdr::testing::cuda_decode();
    const auto report = gdr::harness::run_case(spec, *subject, gdr::harness::ToleranceTable::load_default());
    INFO(gdr::harness::format_failure(report));
    CHECK(report.outcome == gdr::harness::Outcome::passed);
}

TEST_CASE("cuda decode: B = 0 and T = 0 launch nothing and write nothing", "[gpu][decode]") {
    const CaseSpec spec = parse_text("B=2 T=1 H=1 HV=2 K=16 V=8 state=f32 seed=5");
    const HostCase host_case = gdr::harness::materialize(spec);
    RunBuffers buffers = gdr::harness::make_run_buffers(host_case, spec.input_dtype, spec.state_dtype);
    DeviceBytes bank(buffers.bank.storage_bytes());
    bank.upload(0, buffers.bank.data(), buffers.bank.storage_bytes());
    gdr::Problem problem = gdr::harness::make_problem(host_case, buffers);
    problem.q.data = problem.k.data = problem.v.data = problem.o.data = problem.g.data = problem.beta.data = nullptr;
    problem.state = bank.data();
    problem.seq_len = 0;  // T = 0: no tokens, so no tensor pointer is needed
    REQUIRE_NOTHROW(gdr::cuda::fused_recurrent_decode(problem));
    problem.seq_len = 1;
    problem.batch = 0;  // B = 0
    problem.state_shape[0] = 1;
    REQUIRE_NOTHROW(gdr::cuda::fused_recurrent_decode(problem));
    gdr::cuda::check(cudaDeviceSynchronize(), "no-op launches");
    CHECK(std::ranges::equal(bank.download(0, buffers.bank.storage_bytes()), buffers.bank.bytes()));
}

TEST_CASE("cuda decode: refusals come before any launch and write nothing", "[gpu][decode]") {
    const CaseSpec spec = parse_text("B=2 T=1 H=1 HV=2 K=16 V=8 state=f32 seed=6");
    const HostCase host_case = gdr::harness::materialize(spec);
    RunBuffers buffers = gdr::harness::make_run_buffers(host_case, spec.input_dtype, spec.state_dtype);
    DeviceBytes q(host_case.q.storage_bytes()), k(host_case.k.storage_bytes()), v(host_case.v.storage_bytes()),
        o(buffers.o.storage_bytes()), bank(buffers.bank.storage_bytes());
    o.upload(0, buffers.o.data(), buffers.o.storage_bytes());  // poisoned
    bank.upload(0, buffers.bank.data(), buffers.bank.storage_bytes());
    gdr::Problem valid = gdr::harness::make_problem(host_case, buffers);
    valid.q.data = q.data();
    valid.k.data = k.data();
    valid.v.data = v.data();
    valid.o.data = o.data();
    valid.g.data = valid.beta.data = nullptr;
    valid.state = bank.data();

    gdr::Problem grouped_wrong = valid;
    grouped_wrong.num_value_heads = 3;  // HV % H is fine, but the bank and v disagree: the bank names HV = 2
    CHECK_THROWS_AS(gdr::cuda::fused_recurrent_decode(grouped_wrong), gdr::InvalidArgument);
    gdr::Problem transposed = valid;
    transposed.layout = gdr::Layout::VK;  // the bank is [.., K=16, V=8]: wrong for VK
    try {
        gdr::cuda::fused_recurrent_decode(transposed);
        FAIL("a transposed bank was accepted");
    } catch (const gdr::InvalidArgument& error) {
        CHECK(error.argument() == "state");
    }
    gdr::Problem too_wide = valid;
    too_wide.key_dim = 257;
    too_wide.state_shape[3] = 257;
    too_wide.q.stride = {257, 257, 257, 1};
    too_wide.k.stride = too_wide.q.stride;
    CHECK_THROWS_AS(gdr::cuda::fused_recurrent_decode(too_wide), gdr::NotSupported);
    gdr::cuda::check(cudaDeviceSynchronize(), "refused launches");
    CHECK(std::ranges::equal(o.download(0, buffers.o.storage_bytes()), buffers.o.bytes()));
    CHECK(std::ranges::equal(bank.download(0, buffers.bank.storage_bytes()), buffers.bank.bytes()));
}

TEST_CASE("cuda decode: each tiling (whole KV and VK tiles of K = 64, 128, 256, packed or not, and the general one) "
          "and each token loop (one token or many) passes", "[gpu][decode]") {
    // The serving shapes take their layout's own kernel (gdr::cuda::decode_launch); the launch
    // records which one ran, so that each kernel is known to be covered, not just some kernel.
    // A 16-bit state stays packed where every token's state is rounded anyway (T = 1, or
    // circular and written); a plain call of T = 3 keeps it in f32. T = 1 in packed VK tiles
    // takes the one-token instance, plain or circular (it stores the next slot).
    using gdr::cuda::DecodeTiling;
    const auto [shape, whole_tiling] = GENERATE(table<const char*, DecodeTiling>({
        {"K=64 V=64 layout=kv", DecodeTiling::whole_kv},
        {"K=128 V=128 layout=kv", DecodeTiling::whole_kv},
        {"K=256 V=32 layout=kv", DecodeTiling::whole_kv},
        {"K=64 V=16 layout=vk", DecodeTiling::whole_vk},
        {"K=128 V=32 layout=vk", DecodeTiling::whole_vk},
        {"K=256 V=8 layout=vk", DecodeTiling::whole_vk},
        {"K=128 V=48 layout=kv", DecodeTiling::general},  // V not a multiple of 32 (f32) or 64
        {"K=96 V=64 layout=vk", DecodeTiling::general},   // K short of its capacity (128)
    }));
    const std::string state = GENERATE("f32", "bf16", "f16");
    const std::string mode =
        GENERATE("T=3 slots=3 circular=1 seqlen_max=7", "T=3", "T=1", "T=1 slots=3 circular=1 seqlen_max=7");
    const CaseSpec spec =
        parse_text("B=3 H=2 HV=4 " + mode + " " + shape + " in=bf16 state=" + state + " seed=77");
    const bool packs = state != "f32" && mode != "T=3";
    DecodeTiling expected = whole_tiling;
    if (packs && whole_tiling == DecodeTiling::whole_kv) expected = DecodeTiling::whole_kv_packed;
    if (packs && whole_tiling == DecodeTiling::whole_vk) expected = DecodeTiling::whole_vk_packed;
    const bool one_token = expected == DecodeTiling::whole_vk_packed && mode.starts_with("T=1");

    std::optional<gdr::cuda::DecodeLaunch> launched;
    auto subject = gdr::subjects::make_cuda_launch_subject(
        "cuda-decode", "the CUDA decode kernel, its tiling recorded", [&](const gdr::Problem& on_device) {
            launched = gdr::cuda::decode_launch(on_device);
            gdr::cuda::fused_recurrent_decode(on_device, nullptr);
        });
    const auto report = gdr::harness::run_case(spec, *subject, gdr::harness::ToleranceTable::load_default());
    INFO(gdr::harness::to_text(spec) << "\n" << gdr::harness::format_failure(report));
    CHECK(report.outcome == gdr::harness::Outcome::passed);
    REQUIRE(launched.has_value());
    CHECK(launched->tiling == expected);
    CHECK(launched->one_token == one_token);
}
