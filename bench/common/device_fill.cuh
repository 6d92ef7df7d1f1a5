// Random device data for the benchmarks: a counter-based hash, so any buffer (a multi-GiB
// bank included) fills at memory speed and the same seed gives the same data.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "gdr/core/dtype.hpp"
#include "gdr/cuda/device.hpp"

namespace gdr::bench {

__device__ __forceinline__ std::uint32_t mix(std::uint64_t x) {  // splitmix64 finaliser
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return std::uint32_t((x ^ (x >> 31)) >> 32);
}

__device__ __forceinline__ void store_as(float* p, float x) { *p = x; }
__device__ __forceinline__ void store_as(__half* p, float x) { *p = __float2half_rn(x); }
__device__ __forceinline__ void store_as(__nv_bfloat16* p, float x) { *p = __float2bfloat16_rn(x); }

template <class T>
__global__ void fill_uniform_kernel(T* out, std::int64_t n, float lo, float hi, std::uint64_t seed) {
    const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
    for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
        const float u = float(mix((seed << 40) ^ std::uint64_t(i))) * (1.0f / 4294967296.0f);
        store_as(out + i, lo + (hi - lo) * u);
    }
}

// n elements of `dtype` at `data`, uniform in [lo, hi).
inline void fill_uniform(void* data, DType dtype, std::int64_t n, float lo, float hi, std::uint64_t seed,
                         cudaStream_t stream) {
    if (n == 0) return;
    constexpr int threads = 256;
    const unsigned blocks = unsigned(std::min<std::int64_t>((n + threads - 1) / threads, 8192));
    switch (dtype) {
    case DType::f32: fill_uniform_kernel<<<blocks, threads, 0, stream>>>(static_cast<float*>(data), n, lo, hi, seed); break;
    case DType::f16: fill_uniform_kernel<<<blocks, threads, 0, stream>>>(static_cast<__half*>(data), n, lo, hi, seed); break;
    case DType::bf16:
        fill_uniform_kernel<<<blocks, threads, 0, stream>>>(static_cast<__nv_bfloat16*>(data), n, lo, hi, seed);
        break;
    case DType::f64: throw std::runtime_error("fill_uniform: f64 is not a bench dtype");
    }
    cuda::check(cudaGetLastError(), "fill_uniform launch");
}

}  // namespace gdr::bench
