// A device allocation with a poisoned guard band on each side. The harness poisons the
// payload too before a kernel runs; after it runs, any change in a guard band is an
// out-of-bounds write, and a payload element still holding poison was never written.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gdr/core/dtype.hpp"

namespace gdr::cuda {

class GuardedBuffer {
public:
    static constexpr std::size_t guard_bytes = 4096;  // per side; a multiple of every element size

    GuardedBuffer() = default;
    GuardedBuffer(std::size_t payload_bytes, DType dtype);  // payload and guards poisoned
    ~GuardedBuffer();
    GuardedBuffer(GuardedBuffer&& other) noexcept;
    GuardedBuffer& operator=(GuardedBuffer&& other) noexcept;
    GuardedBuffer(const GuardedBuffer&) = delete;
    GuardedBuffer& operator=(const GuardedBuffer&) = delete;

    void* data() const { return payload_; }  // device pointer to the payload
    std::size_t bytes() const { return payload_bytes_; }

    // `bytes` bytes at `offset` into the payload; a range past its end is an error.
    void upload(const void* host, std::size_t bytes, std::size_t offset = 0);
    void download(void* host, std::size_t bytes, std::size_t offset = 0) const;
    // Guard bytes (both sides together) that no longer hold the poison pattern.
    std::size_t damaged_guard_bytes() const;

private:
    void release() noexcept;
    std::byte* allocation_ = nullptr;
    void* payload_ = nullptr;
    std::size_t payload_bytes_ = 0;
    DType dtype_ = DType::f32;
};

}  // namespace gdr::cuda
