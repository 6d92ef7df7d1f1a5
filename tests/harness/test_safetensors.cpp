// Safetensors files (gdr/harness/safetensors.hpp): a round trip keeps every tensor's bytes,
// type and shape, and each kind of malformed file is an InvalidArgument naming the file,
// the tensor and the field.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "gdr/core/errors.hpp"
#include "gdr/harness/safetensors.hpp"

using gdr::InvalidArgument;
using gdr::harness::SafetensorsFile;
using gdr::harness::SafetensorsTensor;
using gdr::harness::SafetensorsType;

namespace {

template <class T>
std::span<const std::byte> bytes_of(const std::vector<T>& values) {
    return std::as_bytes(std::span<const T>(values));
}

// A file of an 8-byte length and `header` (unpadded), then `data`.
std::vector<std::byte> file_of(const std::string& header, std::size_t data = 0) {
    std::vector<std::byte> out(8 + header.size() + data, std::byte{0});
    for (int i = 0; i < 8; ++i) out[std::size_t(i)] = std::byte((std::uint64_t(header.size()) >> (8 * i)) & 0xff);
    std::memcpy(out.data() + 8, header.data(), header.size());
    return out;
}

// The error message for `contents`, or "(accepted)".
std::string error_for(std::vector<std::byte> contents) {
    try {
        (void)SafetensorsFile::parse(std::move(contents), "in.safetensors");
    } catch (const InvalidArgument& error) {
        return error.what();
    }
    return "(accepted)";
}

}  // namespace

TEST_CASE("safetensors: a file round-trips every tensor, in data order, and its metadata", "[safetensors]") {
    const std::vector<float> q = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 7.0f};
    const std::vector<std::uint16_t> bank = {0x3f80, 0xbf80, 0x7fc0};  // bf16 1, -1, NaN
    const std::vector<std::int64_t> indices = {3, -1};
    const std::vector<std::int32_t> none;
    const std::vector<SafetensorsTensor> tensors = {
        {"q", SafetensorsType::f32, {1, 2, 3}, bytes_of(q)},
        {"state", SafetensorsType::bf16, {3}, bytes_of(bank)},
        {"state_indices", SafetensorsType::i64, {2}, bytes_of(indices)},
        {"empty", SafetensorsType::i32, {0, 4}, bytes_of(none)},
    };
    const std::vector<std::byte> bytes = gdr::harness::serialize_safetensors(tensors, {{"case", "B=2 T=1 seed=1"}});
    // The header is padded to a multiple of 8: the data section is aligned.
    std::uint64_t header = 0;
    for (int i = 7; i >= 0; --i) header = (header << 8) | std::uint64_t(bytes[std::size_t(i)]);
    CHECK(header % 8 == 0);

    const SafetensorsFile file = SafetensorsFile::parse(bytes, "x");
    REQUIRE(file.tensors().size() == 4);
    CHECK(file.metadata().at("case") == "B=2 T=1 seed=1");
    for (const SafetensorsTensor& written : tensors) {
        const SafetensorsTensor* read = file.find(written.name);
        REQUIRE(read);
        CHECK(read->type == written.type);
        CHECK(read->shape == written.shape);
        REQUIRE(read->bytes.size() == written.bytes.size());
        // (memcmp's pointers must not be null, even for no bytes: an empty tensor's may be.)
        if (!written.bytes.empty()) CHECK(std::memcmp(read->bytes.data(), written.bytes.data(), written.bytes.size()) == 0);
    }
    CHECK(file.find("k") == nullptr);
    CHECK(file.tensors()[0].name == "q");  // in data order, whatever the header's key order
    CHECK(file.tensors()[2].name == "state_indices");
    CHECK(file.tensors()[3].name == "empty");

    const auto path = std::filesystem::temp_directory_path() / ("gdr-st-" + std::to_string(getpid()) + ".safetensors");
    gdr::harness::write_safetensors(path, tensors);
    const SafetensorsFile again = SafetensorsFile::read(path);
    std::filesystem::remove(path);
    CHECK(again.tensors().size() == 4);
    CHECK(again.metadata().empty());
}

TEST_CASE("safetensors: writing refuses tensors that do not describe their bytes, and writes nothing", "[safetensors]") {
    const std::vector<float> two = {1, 2};
    const auto refused = [&](const std::vector<SafetensorsTensor>& tensors, const std::string& what) {
        const auto path = std::filesystem::temp_directory_path() / ("gdr-st-bad-" + std::to_string(getpid()));
        std::filesystem::remove(path);
        try {
            gdr::harness::write_safetensors(path, tensors);
            FAIL("accepted");
        } catch (const InvalidArgument& error) {
            CHECK(std::string(error.what()).find(what) != std::string::npos);
        }
        CHECK(!std::filesystem::exists(path));
    };
    refused({{"a", SafetensorsType::f32, {3}, bytes_of(two)}}, "tensor 'a': 8 bytes given, its shape and F32 need 12");
    refused({{"a", SafetensorsType::f32, {2}, bytes_of(two)}, {"a", SafetensorsType::f32, {2}, bytes_of(two)}},
            "tensor 'a': given twice");
    refused({{"", SafetensorsType::f32, {2}, bytes_of(two)}}, "not a usable tensor name");
    refused({{"__metadata__", SafetensorsType::f32, {2}, bytes_of(two)}}, "not a usable tensor name");
    refused({{"a", SafetensorsType::f32, {-1, -2}, bytes_of(two)}}, "tensor 'a': shape: has a negative extent");
}

TEST_CASE("safetensors: malformed files name the file, the tensor and the field", "[safetensors]") {
    const auto check_error = [](std::vector<std::byte> contents, const std::string& what) {
        const std::string error = error_for(std::move(contents));
        INFO("error: " << error);
        CHECK(error.find("in.safetensors") == 0);
        CHECK(error.find(what) != std::string::npos);
    };
    const std::string f32 = R"("dtype": "F32", "shape": [2], )";
    CHECK(error_for(file_of(R"({"a": {)" + f32 + R"("data_offsets": [0, 8]}})", 8)) == "(accepted)");

    check_error(std::vector<std::byte>(5), "5 bytes: shorter than the 8-byte header length");
    {
        std::vector<std::byte> too_long = file_of("{}");
        too_long[0] = std::byte{100};
        check_error(too_long, "header: length 100 exceeds the 2 bytes that follow it");
        std::vector<std::byte> huge = file_of("{}");
        huge[7] = std::byte{1};
        check_error(huge, "exceeds the format's limit");
    }
    check_error(file_of("{nope"), "header: not valid JSON");
    check_error(file_of("[1, 2]"), "header: must be a JSON object, not array");
    check_error(file_of(R"({"a": {)" + f32 + R"("data_offsets": [0, 8]}, "a": {)" + f32 + R"("data_offsets": [8, 16]}})", 16),
                "the key 'a' appears twice");
    check_error(file_of(R"({"a": {"dtype": "F32", "dtype": "F16", "shape": [2], "data_offsets": [0, 8]}})", 8),
                "the key 'dtype' appears twice");
    check_error(file_of(R"({"a": 3})"), "tensor 'a': must be an object");
    check_error(file_of(R"({"": {)" + f32 + R"("data_offsets": [0, 8]}})", 8), "a tensor has an empty name");
    check_error(file_of(R"({"a": {"shape": [2], "data_offsets": [0, 8]}})", 8), "tensor 'a': dtype: missing");
    check_error(file_of(R"({"a": {)" + f32 + R"("data_offsets": [0, 8], "extra": 1}})", 8), "tensor 'a': extra: unknown field");
    check_error(file_of(R"({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}})", 2),
                "tensor 'a': dtype: 'U8' is not supported");
    check_error(file_of(R"({"a": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}})", 8), "tensor 'a': dtype: must be a string");
    check_error(file_of(R"({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8),
                "tensor 'a': shape: must be an array of non-negative integers, got -2");
    check_error(file_of(R"({"a": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}})", 8), "tensor 'a': shape: must be an array");
    check_error(file_of(R"({"a": {)" + f32 + R"("data_offsets": [8, 0]}})", 8), "data_offsets: must be [begin, end] with begin <= end");
    check_error(file_of(R"({"a": {)" + f32 + R"("data_offsets": [0, 8, 9]}})", 8), "data_offsets: must be [begin, end]");
    check_error(file_of(R"({"a": {)" + f32 + R"("data_offsets": [0, 8]}})", 4), "end 8 is past the data section's 4 bytes");
    check_error(file_of(R"({"a": {)" + f32 + R"("data_offsets": [0, 12]}})", 12), "[0, 12) holds 12 bytes; shape and F32 need 8");
    check_error(file_of(R"({"a": {"dtype": "F64", "shape": [4611686018427387904, 4], "data_offsets": [0, 8]}})", 8),
                "need more than 2^63");
    check_error(file_of(R"({"a": {)" + f32 + R"("data_offsets": [0, 8]}, "b": {)" + f32 + R"("data_offsets": [4, 12]}})", 12),
                "tensor 'b': data_offsets: [4, 12) overlaps tensor 'a'");
    check_error(file_of(R"({"a": {)" + f32 + R"("data_offsets": [4, 12]}})", 12), "bytes [0, 4) before it belong to no tensor");
    check_error(file_of(R"({"a": {)" + f32 + R"("data_offsets": [0, 8]}})", 10), "the data section has 2 bytes past the last tensor");
    check_error(file_of(R"({"__metadata__": {"k": 1}})"), "__metadata__: k: must be a string");
    check_error(file_of(R"({"__metadata__": []})"), "__metadata__: must be an object of strings");
    // Empty tensors may sit anywhere on a boundary; two tensors may repeat no key of each other.
    CHECK(error_for(file_of(R"({"e": {"dtype": "I32", "shape": [0], "data_offsets": [8, 8]}, "a": {)" + f32 +
                            R"("data_offsets": [0, 8]}, "b": {)" + f32 + R"("data_offsets": [8, 16]}})",
                            16)) == "(accepted)");
    CHECK(error_for(file_of("{}")) == "(accepted)");
}

TEST_CASE("safetensors: a missing file is an error naming it", "[safetensors]") {
    try {
        (void)SafetensorsFile::read("/nonexistent/in.safetensors");
        FAIL("accepted a missing file");
    } catch (const InvalidArgument& error) {
        CHECK(std::string(error.what()).find("/nonexistent/in.safetensors: cannot read the file") == 0);
    }
}
