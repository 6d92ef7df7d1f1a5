#include "gdr/harness/version.hpp"

#ifndef GDR_VERSION
#error "GDR_VERSION must be defined by the build (harness/CMakeLists.txt)"
#endif

namespace gdr::harness {

std::string_view gdr_version() { return GDR_VERSION; }

}  // namespace gdr::harness
