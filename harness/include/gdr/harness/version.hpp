// The gdr-verify version (CMake's PROJECT_VERSION), recorded in replay files and reports
// so that a counterexample says which build found it.
#pragma once

#include <string_view>

namespace gdr::harness {

std::string_view gdr_version();

}  // namespace gdr::harness
