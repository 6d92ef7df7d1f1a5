// Is there a usable CUDA device here, and which? Every CUDA runtime error becomes text.
#pragma once

#include <string>

namespace gdr::cuda {

struct DeviceStatus {
    bool available = false;
    int device_count = 0;
    std::string name;    // of device 0, e.g. "NVIDIA H100 80GB HBM3"
    int compute_major = 0;
    int compute_minor = 0;
    std::string reason;  // why not available, e.g. "cudaGetDeviceCount: no CUDA-capable device is detected"
};

// Never throws: a machine without a driver or device reports why.
DeviceStatus probe_device();

// Throws std::runtime_error("<what>: <cudaGetErrorName>: <cudaGetErrorString>") when
// `status` (a cudaError_t) is not cudaSuccess.
void check(int status, const char* what);

}  // namespace gdr::cuda
