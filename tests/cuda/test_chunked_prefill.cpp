// The chunked prefill kernel's host API and the properties it must hold exactly (bitwise),
// whatever its rounding: a chunk's arithmetic does not depend on the state's layout, on the
// call it is in, or on what follows it. (Its agreement with the oracle, within the tolerance
// its precision implies, is the harness's: `gdr verify --subject cuda-chunked`.)
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gdr/core/errors.hpp"
#include "gdr/cuda/chunked_prefill.hpp"
#include "gdr/cuda/device.hpp"
#include "gdr/cuda/device_bytes.hpp"
#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/generate.hpp"
#include "gdr/reference/chunked.hpp"
#include "gdr/subjects/cuda_launch_subject.hpp"
#include "support/host_case_tools.hpp"

using gdr::harness::CaseSpec;
using gdr::harness::HostCase;
using gdr::harness::HostTensor;
using gdr::harness::RunBuffers;
using gdr::harness::materialize;
using gdr::harness::parse_text;

namespace {

constexpr std::int64_t C = gdr::cuda::kChunkSize;

std::unique_ptr<gdr::harness::Subject> chunk_subject() {
    return gdr::subjects::make_cuda_launch_subject("cuda-chunked", "the chunked prefill kernel",
                                                   [](const gdr::Problem& on_device) { gdr::cuda::chunked_prefill(on_device); });
}

// The kernel with a workspace of the caller's, every byte 0xff first (NaN in each dtype):
// what the passes read of it they must have written in the same call.
std::unique_ptr<gdr::harness::Subject> chunk_subject_with_poisoned_workspace() {
    return gdr::subjects::make_cuda_launch_subject(
        "cuda-chunked-caller-workspace", "the chunked prefill kernel, a poisoned caller workspace", [](const gdr::Problem& on_device) {
            const std::size_t bytes = gdr::cuda::chunked_prefill_workspace_bytes(on_device);
            gdr::cuda::DeviceBytes workspace(bytes);
            gdr::cuda::check(cudaMemset(workspace.data(), 0xff, bytes), "poison the workspace");
            gdr::cuda::chunked_prefill(on_device, {}, nullptr, {workspace.data(), bytes});
            gdr::cuda::check(cudaDeviceSynchronize(), "chunked_prefill with a caller workspace");
        });
}

// The kernel on `host_case` (its o poisoned, its bank as generated) through guarded device buffers.
RunBuffers run_chunk_kernel(const HostCase& host_case, gdr::harness::Subject& subject = *chunk_subject()) {
    RunBuffers buffers = gdr::harness::make_run_buffers(host_case, host_case.spec.input_dtype, host_case.spec.state_dtype,
                                                        gdr::reference::StateWrites::final_only);
    subject.run(gdr::harness::make_problem(host_case, buffers));
    return buffers;
}

// The same elements, bit for bit (margins and strides aside: both are contiguous).
bool same_bytes(const HostTensor& a, const HostTensor& b) {
    return a.shape() == b.shape() && a.storage_bytes() == b.storage_bytes() &&
           std::memcmp(a.data(), b.data(), a.storage_bytes()) == 0;
}

// Element (n, slot, hv, k, v) of a bank in its layout.
std::int64_t bank_index(const CaseSpec& spec, std::int64_t entry, std::int64_t k, std::int64_t v) {
    const std::int64_t matrix = entry * spec.key_dim * spec.value_dim;  // `entry` counts (n, slot, hv) matrices
    return matrix + (spec.layout == gdr::Layout::KV ? k * spec.value_dim + v : v * spec.key_dim + k);
}

}  // namespace

TEST_CASE("chunked_prefill refuses what it does not support, naming it, before any launch", "[gpu][chunk]") {
    HostCase c = materialize(parse_text("B=1 T=3 H=1 HV=1 K=64 V=64 in=bf16 state=f32 seed=1"));
    RunBuffers buffers = gdr::harness::make_run_buffers(c, c.spec.input_dtype, c.spec.state_dtype);
    gdr::Problem problem = gdr::harness::make_problem(c, buffers);  // host pointers: nothing may be read
    CHECK_FALSE(gdr::cuda::chunked_prefill_unsupported_reason(problem).has_value());
    const gdr::cuda::ChunkCheckpoints no_offsets{buffers.bank.data(), nullptr};
    CHECK_THROWS_AS(gdr::cuda::chunked_prefill(problem, no_offsets), gdr::InvalidArgument);
    CHECK_THROWS_WITH(gdr::cuda::chunked_prefill(problem, no_offsets), Catch::Contains("checkpoints"));
    const std::size_t needed = gdr::cuda::chunked_prefill_workspace_bytes(problem);
    REQUIRE(needed > 0);
    const gdr::cuda::ChunkWorkspace one_byte_short{buffers.bank.data(), needed - 1};
    CHECK_THROWS_AS(gdr::cuda::chunked_prefill(problem, {}, nullptr, one_byte_short), gdr::InvalidArgument);
    CHECK_THROWS_WITH(gdr::cuda::chunked_prefill(problem, {}, nullptr, one_byte_short), Catch::Contains("workspace"));

    for (const char* text : {"B=1 T=3 H=1 HV=1 K=64 V=64 in=f32 state=f32 seed=1",
                             "B=1 T=3 H=1 HV=1 K=96 V=64 in=bf16 state=f32 seed=1",
                             "B=1 T=3 H=1 HV=1 K=256 V=48 in=bf16 state=f32 seed=1"}) {
        INFO(text);
        HostCase other = materialize(parse_text(text));
        RunBuffers other_buffers = gdr::harness::make_run_buffers(other, other.spec.input_dtype, other.spec.state_dtype);
        const gdr::Problem unsupported = gdr::harness::make_problem(other, other_buffers);
        REQUIRE(gdr::cuda::chunked_prefill_unsupported_reason(unsupported).has_value());
        CHECK_THROWS_AS(gdr::cuda::chunked_prefill(unsupported), gdr::NotSupported);
    }
}

TEST_CASE("chunked_prefill: both layouts give the same o bitwise and the same state transposed", "[gpu][chunk][property]") {
    for (const char* dtypes : {"in=bf16 state=f32", "in=f16 state=bf16"}) {
        for (const char* shape : {"K=64 V=64", "K=128 V=128", "K=256 V=64"}) {
            const std::string text = std::string("B=2 T=150 H=2 HV=4 ") + shape + " " + dtypes + " l2norm=1 qk=uniform seed=7";
            INFO(text);
            HostCase kv = materialize(parse_text(text + " layout=kv"));
            HostCase vk = materialize(parse_text(text + " layout=vk"));
            const RunBuffers from_kv = run_chunk_kernel(kv), from_vk = run_chunk_kernel(vk);
            CHECK(same_bytes(from_kv.o, from_vk.o));
            const CaseSpec& s = kv.spec;
            const std::int64_t matrices = from_kv.bank.numel() / (s.key_dim * s.value_dim);
            std::int64_t differing = 0;
            for (std::int64_t m = 0; m < matrices; ++m)
                for (std::int64_t k = 0; k < s.key_dim; ++k)
                    for (std::int64_t v = 0; v < s.value_dim; ++v)
                        differing += from_kv.bank.get(bank_index(kv.spec, m, k, v)) != from_vk.bank.get(bank_index(vk.spec, m, k, v));
            CHECK(differing == 0);
        }
    }
}

TEST_CASE("chunked_prefill: a caller's workspace, poisoned, gives the call's own result bitwise", "[gpu][chunk][property]") {
    // Varlen rows at C - 1, C, C + 1 and 2 C tokens (gap slots between rows), an empty row,
    // an inactive one, grouped heads, both layouts.
    for (const char* layout : {"kv", "vk"}) {
        const std::string text = std::string("B=1 T=322 H=2 HV=4 K=128 V=128 in=bf16 state=f32 varlen=1 seq_lengths=63,64,0,65,130 "
                                             "indices=permutation inactive=1 l2norm=1 qk=uniform seed=9 layout=") + layout;
        INFO(text);
        HostCase c = materialize(parse_text(text));
        const RunBuffers own = run_chunk_kernel(c), caller = run_chunk_kernel(c, *chunk_subject_with_poisoned_workspace());
        CHECK(same_bytes(own.o, caller.o));
        CHECK(same_bytes(own.bank, caller.bank));
    }
}

TEST_CASE("chunked_prefill: a prefill split at a chunk boundary equals one prefill, bitwise (f32 state)",
          "[gpu][chunk][property]") {
    for (const std::int64_t first : {C, 2 * C}) {
        const std::string text = "B=2 T=" + std::to_string(first + 37) + " H=1 HV=2 K=128 V=64 in=bf16 state=f32 l2norm=1 qk=uniform seed=11";
        INFO(text);
        HostCase whole = materialize(parse_text(text));
        const RunBuffers one_call = run_chunk_kernel(whole);
        // The first `first` tokens, then the rest from the bank the first call wrote.
        HostCase head = whole, tail = whole;
        for (HostCase* part : {&head, &tail}) {
            const bool is_head = part == &head;
            const std::int64_t begin = is_head ? 0 : first, end = is_head ? first : whole.spec.seq_len;
            for (HostTensor* t : {&part->q, &part->k, &part->v, &part->g, &part->beta}) *t = gdr::testing::token_slice(*t, begin, end);
            part->spec.seq_len = end - begin;
        }
        const RunBuffers after_head = run_chunk_kernel(head);
        tail.initial_bank = after_head.bank;
        const RunBuffers after_tail = run_chunk_kernel(tail);
        CHECK(same_bytes(after_tail.bank, one_call.bank));
        CHECK(same_bytes(gdr::testing::token_slice(one_call.o, first, whole.spec.seq_len), after_tail.o));
        CHECK(same_bytes(gdr::testing::token_slice(one_call.o, 0, first), after_head.o));
    }
}

TEST_CASE("chunked_prefill: checkpoint m is bitwise the final state of the same rows cut after m chunks",
          "[gpu][chunk][property]") {
    for (const char* layout : {"kv", "vk"}) {
        const std::string text = std::string("B=2 T=") + std::to_string(3 * C) + " H=2 HV=2 K=64 V=64 in=bf16 state=bf16 layout=" +
                                 layout + " seed=5";
        INFO(text);
        HostCase whole = materialize(parse_text(text));
        RunBuffers buffers = gdr::harness::make_run_buffers(whole, whole.spec.input_dtype, whole.spec.state_dtype,
                                                            gdr::reference::StateWrites::final_only);
        const gdr::Problem host_problem = gdr::harness::make_problem(whole, buffers);
        const std::vector<std::int64_t> offsets = gdr::reference::checkpoint_offsets(host_problem, C);
        REQUIRE(offsets.back() == 2 * 3);
        const std::int64_t matrix = whole.spec.key_dim * whole.spec.value_dim;
        const std::size_t checkpoint_bytes = std::size_t(offsets.back() * whole.spec.num_value_heads * matrix * 2);

        // The kernel with checkpoints, on plain device copies of the case (its guarded run is above).
        std::vector<gdr::cuda::DeviceBytes> device;
        gdr::Problem p = host_problem;
        const auto upload = [&](const void* host, std::size_t bytes) {
            device.emplace_back(bytes);
            device.back().upload(0, host, bytes);
            return device.back().data();
        };
        p.q.data = upload(whole.q.data(), whole.q.storage_bytes());
        p.k.data = upload(whole.k.data(), whole.k.storage_bytes());
        p.v.data = upload(whole.v.data(), whole.v.storage_bytes());
        p.g.data = whole.g.shape().empty() ? nullptr : upload(whole.g.data(), whole.g.storage_bytes());
        p.beta.data = whole.beta.shape().empty() ? nullptr : upload(whole.beta.data(), whole.beta.storage_bytes());
        p.o.data = upload(buffers.o.data(), buffers.o.storage_bytes());
        p.state = upload(whole.initial_bank.data(), whole.initial_bank.storage_bytes());
        p.state_indices = !whole.has_state_indices
                              ? nullptr
                              : static_cast<const std::int64_t*>(upload(whole.state_indices.data(), whole.state_indices.size() * 8));
        gdr::cuda::DeviceBytes checkpoints(checkpoint_bytes), device_offsets(offsets.size() * 8);
        device_offsets.upload(0, offsets.data(), offsets.size() * 8);
        gdr::cuda::chunked_prefill(p, {checkpoints.data(), static_cast<const std::int64_t*>(device_offsets.data())});
        gdr::cuda::check(cudaDeviceSynchronize(), "chunked_prefill with checkpoints");
        const std::vector<std::byte> stored = checkpoints.download(0, checkpoint_bytes);

        for (std::int64_t m = 1; m <= 3; ++m) {
            HostCase cut = whole;
            for (HostTensor* t : {&cut.q, &cut.k, &cut.v, &cut.g, &cut.beta}) *t = gdr::testing::token_slice(*t, 0, m * C);
            cut.spec.seq_len = m * C;
            const RunBuffers after_cut = run_chunk_kernel(cut);
            for (std::int64_t row = 0; row < whole.spec.batch; ++row) {
                const std::int64_t entry = whole.bank_entry(row);
                for (std::int64_t hv = 0; hv < whole.spec.num_value_heads; ++hv) {
                    const std::size_t place = std::size_t(((offsets[std::size_t(row)] + m - 1) * whole.spec.num_value_heads + hv) * matrix * 2);
                    const std::size_t final = std::size_t((entry * whole.spec.slots * whole.spec.num_value_heads + hv) * matrix * 2);
                    INFO("m " << m << " row " << row << " hv " << hv);
                    CHECK(std::memcmp(stored.data() + place, static_cast<const std::byte*>(after_cut.bank.data()) + final,
                                      std::size_t(matrix * 2)) == 0);
                }
            }
        }
    }
}
