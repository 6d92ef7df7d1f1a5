// Safetensors files, the tensor container of the Hugging Face ecosystem: how a case goes to
// a program that cannot be called in-process (a kernel inside a C++ engine, or on another
// machine) and how its results come back to be judged.
//
// Layout: an 8-byte little-endian length N, N bytes of JSON header, then the data section.
// The header is one object: per tensor {"dtype": "F32", "shape": [2, 3], "data_offsets":
// [begin, end]} (byte offsets into the data section), and optionally "__metadata__", an
// object of strings. The tensors cover the data section exactly: no holes, no overlaps, no
// bytes past the last one. Elements are little-endian and row-major.
//
// Read: F64, F32, F16, BF16, I64, I32 (what a decode case holds); every other dtype of the
// format is refused by name. Anything malformed is a gdr::InvalidArgument naming the file,
// the tensor and the field, before any tensor is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gdr/core/dtype.hpp"

namespace gdr::harness {

enum class SafetensorsType { f64, f32, f16, bf16, i64, i32 };

std::string_view to_string(SafetensorsType type);  // "F64", "F32", "F16", "BF16", "I64", "I32"
std::size_t element_size(SafetensorsType type);
SafetensorsType safetensors_type_of(DType dtype);
// The floating dtype of `type`; nullopt for the integer ones.
std::optional<DType> dtype_of(SafetensorsType type);

// One tensor: its bytes are a view into the file (reading) or the caller's memory (writing).
struct SafetensorsTensor {
    std::string name;
    SafetensorsType type = SafetensorsType::f32;
    std::vector<std::int64_t> shape;
    std::span<const std::byte> bytes;

    std::int64_t numel() const;
};

class SafetensorsFile {
public:
    // Parses a whole file held in `contents`. `origin` (a path) starts every error message.
    static SafetensorsFile parse(std::vector<std::byte> contents, const std::string& origin);
    static SafetensorsFile read(const std::filesystem::path& path);

    // In the order of their data.
    const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
    const SafetensorsTensor* find(std::string_view name) const;
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

    SafetensorsFile(SafetensorsFile&&) = default;
    SafetensorsFile& operator=(SafetensorsFile&&) = default;

private:
    SafetensorsFile() = default;
    std::vector<std::byte> contents_;  // the tensors' bytes point into it
    std::vector<SafetensorsTensor> tensors_;
    std::map<std::string, std::string> metadata_;
};

// The file's bytes: tensors in the given order, the header padded with spaces to a multiple
// of 8 bytes (so that the data section is aligned). Throws gdr::InvalidArgument naming the
// tensor when its bytes do not match its shape and type, a name is empty, repeated or
// "__metadata__", or a shape extent is negative.
std::vector<std::byte> serialize_safetensors(const std::vector<SafetensorsTensor>& tensors,
                                             const std::map<std::string, std::string>& metadata = {});
// Serialises first (so that bad input writes nothing), then writes `path`.
void write_safetensors(const std::filesystem::path& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
// Writes serialised bytes (serialize_safetensors, case_inputs_file) to `path`, creating its folder.
void write_file_bytes(const std::filesystem::path& path, const std::vector<std::byte>& bytes);

}  // namespace gdr::harness
