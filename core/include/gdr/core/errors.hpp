// The two ways a request is refused before anything runs.
#pragma once

#include <stdexcept>
#include <string>

namespace gdr {

// Input that docs/SPEC.md calls invalid. argument() names the offending argument
// (e.g. "state_indices", "cu_seqlens", "v"), and what() starts with it.
class InvalidArgument : public std::invalid_argument {
public:
    InvalidArgument(std::string argument, const std::string& message)
        : std::invalid_argument(argument + ": " + message), argument_(std::move(argument)) {}
    const std::string& argument() const noexcept { return argument_; }

private:
    std::string argument_;
};

// Valid input that one implementation does not handle (a head size, a dtype pair).
// Reported as NOT_SUPPORTED, never as a wrong answer.
class NotSupported : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace gdr
