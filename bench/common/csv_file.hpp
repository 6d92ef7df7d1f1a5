// A benchmark's CSV: opened with its header written, or none when no path was given.
// Callers flush after each row, so that a run cut short keeps the rows it finished.
#pragma once

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace gdr::bench {

struct CloseFile {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using CsvFile = std::unique_ptr<std::FILE, CloseFile>;

inline CsvFile open_csv(const std::string& path, const char* header) {
    if (path.empty()) return nullptr;
    CsvFile file(std::fopen(path.c_str(), "w"));
    if (!file) throw std::runtime_error("cannot write " + path);
    std::fputs(header, file.get());
    std::fflush(file.get());
    return file;
}

}  // namespace gdr::bench
