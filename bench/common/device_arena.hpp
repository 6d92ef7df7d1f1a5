// One device allocation for a whole sweep, carved per case, so that multi-GiB buffers are
// not cudaMalloc'ed and freed once per case.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <stdexcept>

#include "gdr/cuda/device.hpp"

namespace gdr::bench {

class Arena {
public:
    explicit Arena(std::size_t bytes) : capacity_(bytes) {
        if (bytes) cuda::check(cudaMalloc(&base_, bytes), "cudaMalloc(arena)");
    }
    ~Arena() {
        if (base_) cudaFree(base_);
    }
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;

    static std::size_t aligned(std::size_t bytes) { return (bytes + 255) / 256 * 256; }
    void* take(std::size_t bytes) {
        if (used_ + aligned(bytes) > capacity_) throw std::runtime_error("arena exhausted");
        void* p = static_cast<char*>(base_) + used_;
        used_ += aligned(bytes);
        return p;
    }
    void reset() { used_ = 0; }
    std::size_t capacity() const { return capacity_; }

    // Free device memory less `reserve` (the runtime's and the driver's own needs): the
    // most an arena may take.
    static std::size_t usable_bytes(std::size_t reserve) {
        std::size_t free_bytes = 0, total_bytes = 0;
        cuda::check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
        return free_bytes > reserve ? free_bytes - reserve : 0;
    }

private:
    void* base_ = nullptr;
    std::size_t capacity_ = 0;
    std::size_t used_ = 0;
};

}  // namespace gdr::bench
