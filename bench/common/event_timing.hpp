// Device time of enqueued work, by CUDA events, and the median the benchmarks report.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "gdr/cuda/device.hpp"

namespace gdr::bench {

inline double median(std::vector<double> xs) {
    std::sort(xs.begin(), xs.end());
    const std::size_t n = xs.size();
    return n % 2 ? xs[n / 2] : 0.5 * (xs[n / 2 - 1] + xs[n / 2]);
}

class EventPair {
public:
    EventPair() {
        cuda::check(cudaEventCreate(&start_), "cudaEventCreate");
        cuda::check(cudaEventCreate(&stop_), "cudaEventCreate");
    }
    ~EventPair() {
        cudaEventDestroy(start_);
        cudaEventDestroy(stop_);
    }
    EventPair(const EventPair&) = delete;
    EventPair& operator=(const EventPair&) = delete;

    // Device milliseconds taken by the work `enqueue` puts on `stream`.
    template <class Fn>
    double time_ms(cudaStream_t stream, Fn&& enqueue) {
        cuda::check(cudaEventRecord(start_, stream), "cudaEventRecord(start)");
        enqueue();
        cuda::check(cudaEventRecord(stop_, stream), "cudaEventRecord(stop)");
        cuda::check(cudaEventSynchronize(stop_), "cudaEventSynchronize");
        float ms = 0;
        cuda::check(cudaEventElapsedTime(&ms, start_, stop_), "cudaEventElapsedTime");
        return ms;
    }

private:
    cudaEvent_t start_{}, stop_{};
};

// Device time per call of `launch` (one call enqueued on `stream`): a probe of
// `probe_calls` calls sizes the calls per repeat to about target_ms (clamped to
// [min_calls, max_calls]); then `repeats` repeats, each that many back-to-back calls
// between two events. Warm-up is the caller's.
struct PerCallTiming {
    double median_ms = 0, min_ms = 0, max_ms = 0;
};

template <class Launch>
PerCallTiming time_per_call(EventPair& events, cudaStream_t stream, Launch&& launch, int probe_calls, double target_ms,
                            int min_calls, int max_calls, int repeats) {
    const double probe_ms = events.time_ms(stream, [&] { for (int i = 0; i < probe_calls; ++i) launch(); }) / probe_calls;
    const int calls = int(std::clamp<double>(std::ceil(target_ms / probe_ms), min_calls, max_calls));
    std::vector<double> ms;
    for (int r = 0; r < repeats; ++r)
        ms.push_back(events.time_ms(stream, [&] { for (int i = 0; i < calls; ++i) launch(); }) / calls);
    return {median(ms), *std::min_element(ms.begin(), ms.end()), *std::max_element(ms.begin(), ms.end())};
}

}  // namespace gdr::bench
