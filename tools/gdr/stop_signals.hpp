// SIGINT, SIGTERM and SIGHUP as a request to stop (`gdr fuzz`): schedulers stop jobs with
// SIGTERM (Slurm at the time limit, Kubernetes on eviction), terminals with SIGHUP. The
// first such signal is recorded and the campaign stops as at a bound (cases under way finish,
// every output is written, the exit code is the normal one); a second one of the same kind
// ends the process at once (the default action is restored after the first).
#pragma once

#include <csignal>
#include <optional>
#include <string>

namespace gdr::cli {

// While it lives, the handlers above are installed (and no signal is yet recorded); its end
// puts back the handlers it found, so that a process that runs a campaign among other work
// (a Python interpreter: python -m gdr_verify, gdr_verify.fuzz) gets its own back.
class StopSignalScope {
public:
    StopSignalScope();
    ~StopSignalScope();
    StopSignalScope(const StopSignalScope&) = delete;
    StopSignalScope& operator=(const StopSignalScope&) = delete;

private:
    struct sigaction previous_[3] {};
};

// The name of the first stop signal received in the current scope ("SIGTERM"), nullopt while none was.
std::optional<std::string> stop_signal_received();

}  // namespace gdr::cli
