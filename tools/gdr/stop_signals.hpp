// SIGINT, SIGTERM and SIGHUP as a request to stop (`gdr fuzz`): schedulers stop jobs with
// SIGTERM (Slurm at the time limit, Kubernetes on eviction), terminals with SIGHUP. The
// first such signal is recorded and the campaign stops as at a bound (cases under way finish,
// every output is written, the exit code is the normal one); a second one of the same kind
// ends the process at once (the default action is restored after the first).
#pragma once

#include <optional>
#include <string>

namespace gdr::cli {

// Installs the handlers (once; idempotent).
void install_stop_signals();
// The name of the first stop signal received ("SIGTERM"), nullopt while none was.
std::optional<std::string> stop_signal_received();

}  // namespace gdr::cli
