#include "gdr/cuda/guarded_buffer.hpp"

#include <cuda_runtime.h>

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
    // Poison everything from the host pattern: one staging copy keeps this independent of
    // the element size (cudaMemset only repeats single bytes).
    std::vector<std::byte> poison(total);
    fill_poison(poison.data(), guard_bytes, dtype);
    fill_poison(poison.data() + guard_bytes, payload_bytes, dtype);
    fill_poison(poison.data() + guard_bytes + payload_bytes, guard_bytes, dtype);
    check(cudaMemcpy(allocation_, poison.data(), total, cudaMemcpyHostToDevice), "cudaMemcpy (poison guarded buffer)");
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

void GuardedBuffer::upload(const void* host, std::size_t bytes) {
    if (bytes > payload_bytes_) throw std::length_error("GuardedBuffer::upload: more bytes than the payload holds");
    check(cudaMemcpy(payload_, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy (upload)");
}

void GuardedBuffer::download(void* host, std::size_t bytes) const {
    if (bytes > payload_bytes_) throw std::length_error("GuardedBuffer::download: more bytes than the payload holds");
    check(cudaMemcpy(host, payload_, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy (download)");
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
