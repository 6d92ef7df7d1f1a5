#include "stop_signals.hpp"

#include <atomic>
#include <csignal>
#include <iterator>

namespace gdr::cli {

namespace {

std::atomic<int> received_signal{0};  // lock-free, so async-signal-safe
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int signal_number) {
    int expected = 0;
    received_signal.compare_exchange_strong(expected, signal_number);
}

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};  // StopSignalScope::previous_ holds one each

}  // namespace

StopSignalScope::StopSignalScope() {
    received_signal.store(0);
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;  // a second signal of the kind: the default action (end now)
    for (std::size_t i = 0; i < std::size(kStopSignals); ++i) sigaction(kStopSignals[i], &action, &previous_[i]);
}

StopSignalScope::~StopSignalScope() {
    for (std::size_t i = 0; i < std::size(kStopSignals); ++i) sigaction(kStopSignals[i], &previous_[i], nullptr);
}

std::optional<std::string> stop_signal_received() {
    switch (received_signal.load()) {
    case 0: return std::nullopt;
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
    }
}

}  // namespace gdr::cli
