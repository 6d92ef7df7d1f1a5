#include "gdr/cuda/guarded_buffer.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include "gdr/core/poison.hpp"
#include "gdr/cuda/device.hpp"

namespace gdr::cuda {

GuardedBuffer::GuardedBuffer(std::size_t payload_bytes, DType dtype) : payload_bytes_(payload_bytes), dtype_(dtype) {
    const std::size_t total = payload_bytes + 2 * guard_bytes;
    check(cudaMalloc(reinterpret_cast<void**>(&allocation_), total), "cudaMalloc (guarded buffer)");
    payload_ = allocation_ + guard_bytes;
    // Poison everything from a host chunk of the pattern, doubled on the device (cudaMemset
    // repeats single bytes only; a serving-size bank is gigabytes, too much to stage on the
    // host). The chunk is a whole number of patterns, so every copy keeps the phase; the back
    // guard is then filled from its own first byte, as damaged_guard_bytes() compares it.
    std::vector<std::byte> chunk(std::min<std::size_t>(total, std::size_t(1) << 20));
    fill_poison(chunk.data(), chunk.size(), dtype);
    check(cudaMemcpy(allocation_, chunk.data(), chunk.size(), cudaMemcpyHostToDevice), "cudaMemcpy (poison guarded buffer)");
    for (std::size_t filled = chunk.size(); filled < total;) {
        const std::size_t step = std::min(filled, total - filled);
        check(cudaMemcpy(allocation_ + filled, allocation_, step, cudaMemcpyDeviceToDevice), "cudaMemcpy (poison guarded buffer)");
        filled += step;
    }
    check(cudaMemcpy(allocation_ + guard_bytes + payload_bytes, chunk.data(), guard_bytes, cudaMemcpyHostToDevice),
          "cudaMemcpy (poison back guard)");
}

GuardedBuffer::~GuardedBuffer() { release(); }

GuardedBuffer::GuardedBuffer(GuardedBuffer&& other) noexcept { *this = std::move(other); }

GuardedBuffer& GuardedBuffer::operator=(GuardedBuffer&& other) noexcept {
    if (this != &other) {
        release();
        allocation_ = std::exchange(other.allocation_, nullptr);
        payload_ = std::exchange(other.payload_, nullptr);
        payload_bytes_ = std::exchange(other.payload_bytes_, 0);
        dtype_ = other.dtype_;
    }
    return *this;
}

void GuardedBuffer::release() noexcept {
    if (allocation_) cudaFree(allocation_);
    allocation_ = nullptr;
    payload_ = nullptr;
}

void GuardedBuffer::upload(const void* host, std::size_t bytes, std::size_t offset) {
    if (offset > payload_bytes_ || bytes > payload_bytes_ - offset)
        throw std::length_error("GuardedBuffer::upload: the range runs past the payload");
    if (bytes == 0) return;  // an empty host range may have no pointer
    check(cudaMemcpy(static_cast<std::byte*>(payload_) + offset, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy (upload)");
}

void GuardedBuffer::download(void* host, std::size_t bytes, std::size_t offset) const {
    if (offset > payload_bytes_ || bytes > payload_bytes_ - offset)
        throw std::length_error("GuardedBuffer::download: the range runs past the payload");
    if (bytes == 0) return;
    check(cudaMemcpy(host, static_cast<const std::byte*>(payload_) + offset, bytes, cudaMemcpyDeviceToHost),
          "cudaMemcpy (download)");
}

std::size_t GuardedBuffer::damaged_guard_bytes() const {
    if (!allocation_) return 0;
    std::vector<std::byte> front(guard_bytes), back(guard_bytes);
    check(cudaMemcpy(front.data(), allocation_, guard_bytes, cudaMemcpyDeviceToHost), "cudaMemcpy (front guard)");
    check(cudaMemcpy(back.data(), allocation_ + guard_bytes + payload_bytes_, guard_bytes, cudaMemcpyDeviceToHost),
          "cudaMemcpy (back guard)");
    const std::vector<std::byte> pattern = poison_pattern(dtype_);
    std::size_t damaged = 0;
    // Each band was filled from its own first byte, so each is compared from pattern byte 0.
    for (std::size_t i = 0; i < guard_bytes; ++i) {
        if (front[i] != pattern[i % pattern.size()]) ++damaged;
        if (back[i] != pattern[i % pattern.size()]) ++damaged;
    }
    return damaged;
}

}  // namespace gdr::cuda
