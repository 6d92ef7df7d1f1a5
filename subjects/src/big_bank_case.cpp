#include "gdr/subjects/big_bank_case.hpp"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "gdr/core/poison.hpp"
#include "gdr/cuda/device.hpp"
#include "gdr/cuda/device_bytes.hpp"
#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/check_names.hpp"
#include "gdr/harness/generate.hpp"

namespace gdr::subjects {

using namespace gdr::harness;

namespace {

using cuda::DeviceBytes;

DeviceBytes device_copy(const HostTensor& tensor) {
    DeviceBytes copy(std::max<std::size_t>(tensor.storage_bytes(), 1));
    if (tensor.storage_bytes()) copy.upload(0, tensor.data(), tensor.storage_bytes());
    return copy;
}

struct LaunchResult {
    std::vector<std::byte> o;
    std::vector<std::vector<std::byte>> matrices;  // the rows' state matrices after the call
};

// Runs `launch` on the small case's inputs with its rows at entries `targets` of a bank of
// `entries` entries; fills `untouched_entry` (if >= 0) with poison and returns it too.
LaunchResult run_on_bank(const HostCase& small, const DeviceLaunch& launch, std::int64_t entries,
                         const std::int64_t (&targets)[2], std::int64_t untouched_entry,
                         std::vector<std::byte>* untouched_after) {
    const std::size_t matrix_bytes = std::size_t(small.spec.key_dim * small.spec.value_dim) * dtype_size(DType::bf16);
    DeviceBytes bank(std::size_t(entries) * matrix_bytes);
    std::vector<std::byte> pattern(matrix_bytes);
    fill_poison(pattern.data(), pattern.size(), DType::bf16);
    if (untouched_entry >= 0) bank.upload(std::size_t(untouched_entry) * matrix_bytes, pattern.data(), matrix_bytes);
    for (int row = 0; row < 2; ++row)
        bank.upload(std::size_t(targets[row]) * matrix_bytes,
                    static_cast<const std::byte*>(small.initial_bank.data()) + row * matrix_bytes, matrix_bytes);

    RunBuffers scratch = make_run_buffers(small, DType::bf16, DType::bf16);
    DeviceBytes q = device_copy(small.q), k = device_copy(small.k), v = device_copy(small.v), g = device_copy(small.g),
                beta = device_copy(small.beta), o = device_copy(scratch.o), indices(sizeof targets);
    indices.upload(0, targets, sizeof targets);
    Problem problem = make_problem(small, scratch);
    problem.q.data = q.data();
    problem.k.data = k.data();
    problem.v.data = v.data();
    problem.g.data = g.data();
    problem.beta.data = beta.data();
    problem.o.data = o.data();
    problem.state = bank.data();
    problem.state_shape[0] = entries;
    problem.state_indices = static_cast<const std::int64_t*>(indices.data());
    launch(problem);
    cuda::check(cudaDeviceSynchronize(), "decode on a big bank");

    LaunchResult result;
    result.o = o.download(0, scratch.o.storage_bytes());
    for (int row = 0; row < 2; ++row)
        result.matrices.push_back(bank.download(std::size_t(targets[row]) * matrix_bytes, matrix_bytes));
    if (untouched_after) *untouched_after = bank.download(std::size_t(untouched_entry) * matrix_bytes, matrix_bytes);
    return result;
}

}  // namespace

CaseSpec big_bank_small_case() {
    return parse_text("B=2 T=2 H=1 HV=1 K=128 V=128 layout=vk in=bf16 state=bf16 indices=identity seed=31");
}

CaseReport run_big_bank_case(const std::string& subject_name, const DeviceLaunch& launch) {
    const auto started = std::chrono::steady_clock::now();
    const CaseSpec spec = big_bank_small_case();
    const std::int64_t matrix = spec.key_dim * spec.value_dim;
    const std::int64_t entries = ((std::int64_t(1) << 31) + (std::int64_t(1) << 20)) / matrix;
    CaseReport report;
    report.case_text =
        to_text(spec) +
        fmt::format(" (rows at entries N-1, N-3 of a bank of N = {} entries, {} elements)", entries, entries * matrix);
    report.seed = spec.seed;
    report.subject = subject_name;
    const auto finish = [&](Outcome outcome, std::string message) {
        report.outcome = worst(outcome, worst_outcome(report.checks));
        report.message = std::move(message);
        report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return report;
    };

    const cuda::DeviceStatus device = cuda::probe_device();
    if (!device.available) return finish(Outcome::not_run, device.reason);  // the reason says plainly what is missing
    std::size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess ||
        free_bytes < std::size_t(entries * matrix) * 2 + (64 << 20))
        return finish(Outcome::not_run, "the device cannot hold a 4.3 GB bank");

    try {
        const HostCase small = materialize(spec);
        const std::int64_t near_end[2] = {entries - 1, entries - 3}, first[2] = {0, 1};
        const LaunchResult expected = run_on_bank(small, launch, 2, first, -1, nullptr);
        std::vector<std::byte> untouched;
        const LaunchResult big = run_on_bank(small, launch, entries, near_end, entries - 2, &untouched);

        const auto bitwise = [&](std::string name, bool same, std::string what) {
            report.checks.push_back({std::move(name),
                                     same ? Outcome::passed : Outcome::incorrect,
                                     (same ? "bitwise equal: " : "differs: ") + what,
                                     {},
                                     ""});
        };
        bitwise(check_names::o_vs_small_bank, big.o == expected.o, "o of the same call on a two-entry bank");
        bitwise(check_names::state_vs_small_bank, big.matrices == expected.matrices, "the state matrices at entries N-1 and N-3");
        std::vector<std::byte> pattern(untouched.size());
        fill_poison(pattern.data(), pattern.size(), DType::bf16);
        bitwise(check_names::untouched_entry, untouched == pattern, "entry N-2, between the rows, still holds its poison");
    } catch (const std::exception& error) {
        report.checks.push_back({check_names::error, Outcome::failed, error.what(), {}, ""});
        return finish(Outcome::failed, error.what());
    }
    return finish(Outcome::passed, "");
}

}  // namespace gdr::subjects
