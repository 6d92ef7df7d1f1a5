// The card a benchmark ran on, as its table header and CSV's gpu column name it.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "gdr/cuda/device.hpp"

namespace gdr::bench {

struct Gpu {
    std::string name;  // CSV-safe: commas replaced
    std::int64_t l2_bytes = 0;
    int sms = 0;
    double peak_tbps = 0;  // from the memory clock and bus width: a lead, not a ceiling
};

inline Gpu describe_gpu(int device) {
    cudaDeviceProp prop{};
    cuda::check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    int clock_khz = 0, bus_bits = 0;
    cuda::check(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device), "cudaDeviceGetAttribute(clock)");
    cuda::check(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device), "cudaDeviceGetAttribute(bus)");
    std::string name = prop.name;
    std::replace(name.begin(), name.end(), ',', ' ');
    return {name, std::int64_t(prop.l2CacheSize), prop.multiProcessorCount, 2.0 * clock_khz * 1e3 * bus_bits / 8 / 1e12};
}

}  // namespace gdr::bench
