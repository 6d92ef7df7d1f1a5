#include "gdr/harness/stage_profile.hpp"

#include <sys/resource.h>

#include <algorithm>

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
    std::size_t width = 28;  // the longest stage name's, so that the columns line up
    for (const StageTiming& s : stages) width = std::max(width, s.stage.size());
    std::string out = fmt::format("  {:<{}} {:>10} {:>14}\n", "stage", width, "seconds", "peak memory");
    double total = 0;
    for (const StageTiming& s : stages) {
        out += fmt::format("  {:<{}} {:>10.3f} {:>11.2f} GB\n", s.stage, width, s.seconds, double(s.peak_rss_bytes) / 1e9);
        total += s.seconds;
    }
    return out + fmt::format("  {:<{}} {:>10.3f}\n", "total", width, total);
}

}  // namespace gdr::harness
