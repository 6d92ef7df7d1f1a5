// Where a case's time and memory go (gdr check --profile; every JSON report): the wall time
// of each stage (generation, the oracle runs, the subject's runs, each check) and the
// process's peak resident memory when the stage ended.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace gdr::harness {

struct StageTiming {
    std::string stage;
    double seconds = 0;
    std::int64_t peak_rss_bytes = 0;  // the process's high-water mark at the stage's end
};

// The process's peak resident set so far (getrusage), in bytes.
std::int64_t peak_rss_bytes();

// Appends one StageTiming per finished stage: each stage runs from the last mark (or the
// clock's creation) to the next.
class StageClock {
public:
    explicit StageClock(std::vector<StageTiming>& out) : out_(out), start_(std::chrono::steady_clock::now()) {}
    void mark(std::string stage);
    // The next stage starts now (the time since the last mark was recorded elsewhere).
    void restart() { start_ = std::chrono::steady_clock::now(); }

private:
    std::vector<StageTiming>& out_;
    std::chrono::steady_clock::time_point start_;
};

// The stages as an aligned table, one line each ("  stage  seconds  peak memory").
std::string format_stages(const std::vector<StageTiming>& stages);

}  // namespace gdr::harness
