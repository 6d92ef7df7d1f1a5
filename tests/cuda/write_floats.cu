#include "cuda/write_floats.hpp"

#include <cuda_runtime.h>

#include "gdr/cuda/device.hpp"

namespace {
__global__ void write_floats_kernel(float* data, std::int64_t begin, std::int64_t end, float value) {
    const std::int64_t i = begin + std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < end) data[i] = value;
}
}  // namespace

void write_floats(float* data, std::int64_t begin, std::int64_t end, float value) {
    const std::int64_t count = end - begin;
    if (count <= 0) return;
    const unsigned blocks = unsigned((count + 255) / 256);
    write_floats_kernel<<<blocks, 256>>>(data, begin, end, value);
    gdr::cuda::check(cudaGetLastError(), "write_floats launch");
    gdr::cuda::check(cudaDeviceSynchronize(), "write_floats");
}
