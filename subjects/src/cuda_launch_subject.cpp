#include "gdr/subjects/cuda_launch_subject.hpp"

#include <cuda_runtime_api.h>

#include <cstring>
#include <fmt/format.h>

#include "gdr/core/errors.hpp"
#include "gdr/cuda/chunked_prefill.hpp"
#include "gdr/cuda/decode.hpp"
#include "gdr/cuda/device.hpp"
#include "gdr/cuda/guarded_buffer.hpp"
#include "gdr/harness/bank_arena.hpp"

namespace gdr::subjects {

using harness::SubjectRunResult;

namespace {

// One host array mirrored on the device, `before` bytes into its device buffer (the bank
// sits inside its arena's margins; every other array at 0).
struct Mirror {
    std::string name;
    const void* host = nullptr;
    std::size_t bytes = 0;   // the host array's
    std::size_t before = 0;
    DType poison_dtype = DType::f32;  // the guard pattern's element type
    cuda::GuardedBuffer device;
};

class CudaLaunchSubject final : public harness::Subject {
public:
    CudaLaunchSubject(std::string name, std::string description, DeviceLaunch launch, CudaLaunchOptions options)
        : name_(std::move(name)), description_(std::move(description)), launch_(std::move(launch)),
          options_(std::move(options)), device_(options_.device) {}

    std::string name() const override { return name_; }
    std::string description() const override { return fmt::format("{} on device {}", description_, device_); }
    harness::MathMode math_mode() const override { return options_.math_mode; }
    std::optional<harness::ChunkedContract> chunked() const override { return options_.chunked; }
    std::optional<std::string> unavailable_reason() const override {
        const cuda::DeviceStatus device = cuda::probe_device();
        if (!device.available) return device.reason;
        if (device_ < 0 || device_ >= device.device_count)
            return fmt::format("CUDA device {} does not exist here ({} devices)", device_, device.device_count);
        return std::nullopt;
    }

    SubjectRunResult run(const Problem& host) override {
        // The calling thread may be a campaign worker that owns another device than the
        // last caller: every allocation and launch below goes to this subject's device.
        cuda::check(cudaSetDevice(device_), "cudaSetDevice");
        // The host sees the index arrays, so duplicate indices and bad cu_seqlens are caught
        // here; the kernel's own validation can check shapes only.
        validate(host, ValidateOptions{/*arrays_on_host=*/true, /*allow_f64_storage=*/false});
        if (options_.unsupported_reason)
            if (const auto reason = options_.unsupported_reason(host)) throw NotSupported(*reason);

        std::vector<Mirror> mirrors;
        mirrors.reserve(10);  // never reallocates: pointers into it stay valid
        // The device buffer holds `before` + `bytes` + `after` bytes, poisoned on the device as
        // it is made; only the host array travels.
        const auto mirror = [&](std::string name, const void* data, std::size_t bytes, DType dtype,
                                std::size_t before = 0, std::size_t after = 0) -> void* {
            if (!data || bytes == 0) return nullptr;
            Mirror& m = mirrors.emplace_back(
                Mirror{std::move(name), data, bytes, before, dtype, cuda::GuardedBuffer(before + bytes + after, dtype)});
            m.device.upload(data, bytes, before);
            return static_cast<std::byte*>(m.device.data()) + before;
        };
        const auto tensor_bytes = [](const TensorArg& t, const std::array<std::int64_t, 4>& shape) {
            return std::size_t(view_span(t, shape)) * dtype_size(t.dtype);
        };
        const std::int64_t rows = host.rows();
        const std::size_t cu_bytes =
            host.varlen() ? std::size_t(rows + 1) * (host.cu_seqlens_type == IndexType::i32 ? 4 : 8) : 0;

        Problem device = host;
        device.q.data = mirror("q", host.q.data, tensor_bytes(host.q, host.qk_shape()), host.q.dtype);
        device.k.data = mirror("k", host.k.data, tensor_bytes(host.k, host.qk_shape()), host.k.dtype);
        device.v.data = mirror("v", host.v.data, tensor_bytes(host.v, host.vo_shape()), host.v.dtype);
        device.g.data = mirror("g", host.g.data, tensor_bytes(host.g, host.gate_shape()), host.g.dtype);
        device.beta.data = mirror("beta", host.beta.data, tensor_bytes(host.beta, host.gate_shape()), host.beta.dtype);
        device.state_indices = static_cast<const std::int64_t*>(
            mirror("state_indices", host.state_indices, std::size_t(rows) * 8, DType::f64));
        device.cache_seqlens = static_cast<const std::int32_t*>(
            mirror("cache_seqlens", host.cache_seqlens, std::size_t(rows) * 4, DType::f32));
        device.cu_seqlens = mirror("cu_seqlens", host.cu_seqlens, cu_bytes, DType::f32);
        const std::size_t inputs = mirrors.size();  // everything so far is read-only
        device.o.data = mirror("o", host.o.data, tensor_bytes(host.o, host.vo_shape()), host.o.dtype);
        Mirror* o_mirror = device.o.data ? &mirrors.back() : nullptr;
        // The bank inside its poisoned arena (gdr/harness/bank_arena.hpp), as the harness
        // gives host subjects: a write through an out-of-range index lands in checked memory.
        const harness::ArenaMargins margins = harness::arena_margins(host);
        const std::size_t entry_bytes = std::size_t(host.bank_entry_elements()) * dtype_size(host.state_storage);
        const std::size_t bank_bytes = std::size_t(host.bank_entries()) * entry_bytes;
        const std::size_t before_bytes = std::size_t(margins.before) * entry_bytes;
        const std::size_t after_bytes = std::size_t(margins.after) * entry_bytes;
        device.state = mirror("state", host.state, bank_bytes, host.state_storage, before_bytes, after_bytes);
        Mirror* state_mirror = device.state ? &mirrors.back() : nullptr;

        launch_(device);
        cuda::check(cudaDeviceSynchronize(), name_.c_str());

        SubjectRunResult result;
        result.has_guard_bands = true;
        for (std::size_t i = 0; i < mirrors.size(); ++i) {
            Mirror& m = mirrors[i];
            if (const std::size_t damaged = m.device.damaged_guard_bytes()) {
                result.damaged_guard_bytes += damaged;
                result.guard_detail += fmt::format("{}{}: {} bytes", result.guard_detail.empty() ? "" : "; ", m.name, damaged);
            }
            if (i < inputs) {
                std::vector<std::byte> after(m.bytes);
                m.device.download(after.data(), m.bytes, m.before);
                if (std::memcmp(after.data(), m.host, m.bytes) != 0) result.modified_inputs.push_back(m.name);
            }
        }
        // o and the bank come back into the caller's buffers (the only writes).
        if (o_mirror) o_mirror->device.download(host.o.data, o_mirror->bytes);
        if (state_mirror) {
            std::vector<std::byte> before(before_bytes), after(after_bytes);
            state_mirror->device.download(before.data(), before_bytes);
            state_mirror->device.download(host.state, bank_bytes, before_bytes);
            state_mirror->device.download(after.data(), after_bytes, before_bytes + bank_bytes);
            const harness::ArenaDamage damage = harness::inspect_margins(
                before.data(), after.data(), margins, host.bank_entries(), host.bank_entry_elements(), host.state_storage);
            result.damaged_arena_elements = damage.changed_elements;
            result.arena_detail = damage.detail;
        }
        return result;
    }

private:
    std::string name_;
    std::string description_;
    DeviceLaunch launch_;
    CudaLaunchOptions options_;
    int device_;
};

}  // namespace

std::unique_ptr<harness::Subject> make_cuda_launch_subject(std::string name, std::string description,
                                                           DeviceLaunch launch, CudaLaunchOptions options) {
    return std::make_unique<CudaLaunchSubject>(std::move(name), std::move(description), std::move(launch), std::move(options));
}

std::unique_ptr<harness::Subject> make_cuda_launch_subject(std::string name, std::string description,
                                                           DeviceLaunch launch, int device) {
    CudaLaunchOptions options;
    options.device = device;
    // expf, sqrtf and reciprocal-then-multiply, nvcc without -use_fast_math (token_inputs.cuh).
    options.math_mode = harness::MathMode::precise;
    options.unsupported_reason = [](const Problem& problem) { return cuda::unsupported_reason(problem); };
    return make_cuda_launch_subject(std::move(name), std::move(description), std::move(launch), std::move(options));
}

std::unique_ptr<harness::Subject> make_cuda_chunk_subject(std::string name, std::string description,
                                                          DeviceLaunch launch, int device) {
    CudaLaunchOptions options;
    options.device = device;
    // expf, sqrtf and x / norm, nvcc without -use_fast_math (chunk_prepare_kernel.cuh).
    options.math_mode = harness::MathMode::precise;
    options.unsupported_reason = [](const Problem& problem) { return cuda::chunked_prefill_unsupported_reason(problem); };
    options.chunked = harness::ChunkedContract{cuda::kChunkSize, reference::ChunkRoundingPoints::tensor_core_two_pass()};
    return make_cuda_launch_subject(std::move(name), std::move(description), std::move(launch), std::move(options));
}

}  // namespace gdr::subjects
