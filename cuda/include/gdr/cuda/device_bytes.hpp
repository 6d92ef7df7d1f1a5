// A plain device allocation with byte-offset copies, for buffers too big for guard bands
// and host mirrors (a bank of gigabytes). GuardedBuffer is the checked kind.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>
#include <vector>

#include "gdr/cuda/device.hpp"

namespace gdr::cuda {

class DeviceBytes {
public:
    explicit DeviceBytes(std::size_t bytes) { check(cudaMalloc(&data_, bytes), "cudaMalloc"); }
    ~DeviceBytes() { cudaFree(data_); }
    DeviceBytes(DeviceBytes&& other) noexcept : data_(std::exchange(other.data_, nullptr)) {}
    DeviceBytes(const DeviceBytes&) = delete;
    DeviceBytes& operator=(const DeviceBytes&) = delete;

    void* data() const { return data_; }
    void* at(std::size_t byte_offset) const { return static_cast<std::byte*>(data_) + byte_offset; }
    void upload(std::size_t offset, const void* host, std::size_t bytes) {
        check(cudaMemcpy(at(offset), host, bytes, cudaMemcpyHostToDevice), "upload");
    }
    std::vector<std::byte> download(std::size_t offset, std::size_t bytes) const {
        std::vector<std::byte> out(bytes);
        check(cudaMemcpy(out.data(), at(offset), bytes, cudaMemcpyDeviceToHost), "download");
        return out;
    }

private:
    void* data_ = nullptr;
};

}  // namespace gdr::cuda
