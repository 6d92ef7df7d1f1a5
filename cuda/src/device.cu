#include "gdr/cuda/device.hpp"

#include <cuda_runtime.h>

#include <stdexcept>

namespace gdr::cuda {

void check(int status, const char* what) {
    const auto error = static_cast<cudaError_t>(status);
    if (error == cudaSuccess) return;
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(error) + ": " + cudaGetErrorString(error));
}

DeviceStatus probe_device() {
    DeviceStatus status;
    int count = 0;
    const cudaError_t error = cudaGetDeviceCount(&count);
    if (error != cudaSuccess) {
        // Without a GPU there is usually no driver either: the runtime then says the driver
        // is "insufficient", which reads like a version problem. Say what it means first.
        const bool no_gpu = error == cudaErrorNoDevice || error == cudaErrorInsufficientDriver;
        status.reason = std::string(no_gpu ? "no GPU or no NVIDIA driver on this machine (" : "CUDA cannot be used here (") +
                        "cudaGetDeviceCount: " + cudaGetErrorString(error) + ")";
        cudaGetLastError();  // clear the sticky error so later probes start clean
        return status;
    }
    status.device_count = count;
    if (count == 0) {
        status.reason = "cudaGetDeviceCount found 0 devices";
        return status;
    }
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, 0) != cudaSuccess) {
        status.reason = "cudaGetDeviceProperties failed for device 0";
        return status;
    }
    status.available = true;
    status.name = properties.name;
    status.compute_major = properties.major;
    status.compute_minor = properties.minor;
    return status;
}

}  // namespace gdr::cuda
