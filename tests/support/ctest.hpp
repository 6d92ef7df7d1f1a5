// What ctest does to Catch test names: CMake lists are `;`-separated, so a name holding a
// `;` becomes two ctest entries, neither of which matches a test case. Every test binary
// checks its names with this (`--check-test-names`, a ctest entry per binary).
#pragma once

#include <string>
#include <vector>

namespace gdr::testing {

// The names among `names` that ctest would split.
inline std::vector<std::string> names_ctest_would_split(const std::vector<std::string>& names) {
    std::vector<std::string> bad;
    for (const std::string& name : names)
        if (name.find(';') != std::string::npos) bad.push_back(name);
    return bad;
}

}  // namespace gdr::testing
