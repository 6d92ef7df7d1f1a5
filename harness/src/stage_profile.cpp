#include "gdr/harness/stage_profile.hpp"

#include <sys/resource.h>

#include <fmt/format.h>

namespace gdr::harness {

std::int64_t peak_rss_bytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return std::int64_t(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

void StageClock::mark(std::string stage) {
    const auto now = std::chrono::steady_clock::now();
    out_.push_back({std::move(stage), std::chrono::duration<double>(now - start_).count(), peak_rss_bytes()});
    start_ = now;
}

std::string format_stages(const std::vector<StageTiming>& stages) {
    std::string out = fmt::format("  {:<28} {:>10} {:>14}\n", "stage", "seconds", "peak memory");
    double total = 0;
    for (const StageTiming& s : stages) {
        out += fmt::format("  {:<28} {:>10.3f} {:>11.2f} GB\n", s.stage, s.seconds, double(s.peak_rss_bytes) / 1e9);
        total += s.seconds;
    }
    return out + fmt::format("  {:<28} {:>10.3f}\n", "total", total);
}

}  // namespace gdr::harness
