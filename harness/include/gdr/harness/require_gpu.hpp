// GDR_REQUIRE_GPU=1: on a machine that is meant to have a GPU, a GPU subject or test that
// cannot run is a failure instead of a skip. Read here for the tool and the tests alike.
#pragma once

#include <cstdlib>
#include <string_view>

namespace gdr::harness {

inline bool gpu_required_by_environment() {
    const char* value = std::getenv("GDR_REQUIRE_GPU");
    return value && std::string_view(value) == "1";
}

}  // namespace gdr::harness
