#include "gdr/harness/safetensors.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gdr/core/errors.hpp"

namespace gdr::harness {

namespace {

using nlohmann::json;

constexpr std::string_view kMetadataKey = "__metadata__";
// The reference implementation's limit: a header beyond it is refused before it is parsed.
constexpr std::uint64_t kMaxHeaderBytes = std::uint64_t(100) << 20;

constexpr std::array<std::pair<SafetensorsType, std::string_view>, 6> kTypeNames = {{
    {SafetensorsType::f64, "F64"},
    {SafetensorsType::f32, "F32"},
    {SafetensorsType::f16, "F16"},
    {SafetensorsType::bf16, "BF16"},
    {SafetensorsType::i64, "I64"},
    {SafetensorsType::i32, "I32"},
}};

// a * b for non-negative a, b; nullopt when it exceeds int64.
std::optional<std::int64_t> checked_product(std::int64_t a, std::int64_t b) {
    if (a != 0 && b > std::numeric_limits<std::int64_t>::max() / a) return std::nullopt;
    return a * b;
}

// The bytes a tensor of `shape` and `type` holds; nullopt when that overflows.
std::optional<std::int64_t> byte_count(const std::vector<std::int64_t>& shape, SafetensorsType type) {
    std::optional<std::int64_t> bytes = std::int64_t(element_size(type));
    for (const std::int64_t extent : shape)
        if (bytes) bytes = checked_product(*bytes, extent);
    return bytes;
}

// Parses the header's JSON, refusing a key that appears twice in any object (nlohmann
// would keep the last one silently).
json parse_header(std::string_view text, const std::string& origin) {
    std::vector<std::set<std::string>> keys_by_depth;
    std::string repeated;
    const json::parser_callback_t watch = [&](int depth, json::parse_event_t event, json& parsed) {
        const auto level = std::size_t(depth);
        if (event == json::parse_event_t::object_start) {
            if (keys_by_depth.size() <= level + 1) keys_by_depth.resize(level + 2);
            keys_by_depth[level + 1].clear();
        } else if (event == json::parse_event_t::key && repeated.empty()) {
            if (keys_by_depth.size() <= level) keys_by_depth.resize(level + 1);
            if (!keys_by_depth[level].insert(parsed.get<std::string>()).second) repeated = parsed.get<std::string>();
        }
        return true;
    };
    json header;
    try {
        header = json::parse(text.begin(), text.end(), watch);
    } catch (const json::exception& error) {
        throw InvalidArgument(origin + ": header", std::string("not valid JSON: ") + error.what());
    }
    if (!repeated.empty()) throw InvalidArgument(origin + ": header", "the key '" + repeated + "' appears twice");
    if (!header.is_object())
        throw InvalidArgument(origin + ": header", std::string("must be a JSON object, not ") + header.type_name());
    return header;
}

SafetensorsType parse_type(const json& value, const std::string& where) {
    if (!value.is_string()) throw InvalidArgument(where + ": dtype", "must be a string");
    const auto& text = value.get_ref<const std::string&>();
    for (const auto& [type, name] : kTypeNames)
        if (text == name) return type;
    throw InvalidArgument(where + ": dtype", "'" + text + "' is not supported (F64, F32, F16, BF16, I64, I32)");
}

std::vector<std::int64_t> parse_integers(const json& value, const std::string& where, std::string_view field) {
    const std::string name = where + ": " + std::string(field);
    if (!value.is_array()) throw InvalidArgument(name, "must be an array of non-negative integers");
    std::vector<std::int64_t> out;
    for (const json& item : value) {
        if (!item.is_number_unsigned() || item.get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
            throw InvalidArgument(name, "must be an array of non-negative integers, got " + item.dump());
        out.push_back(item.get<std::int64_t>());
    }
    return out;
}

void validate_name(const std::string& name, const std::string& origin) {
    if (name.empty()) throw InvalidArgument(origin + ": header", "a tensor has an empty name");
}

}  // namespace

std::string_view to_string(SafetensorsType type) {
    for (const auto& [t, name] : kTypeNames)
        if (t == type) return name;
    return "?";
}

std::size_t element_size(SafetensorsType type) {
    switch (type) {
    case SafetensorsType::f64:
    case SafetensorsType::i64: return 8;
    case SafetensorsType::f32:
    case SafetensorsType::i32: return 4;
    case SafetensorsType::f16:
    case SafetensorsType::bf16: return 2;
    }
    return 1;
}

SafetensorsType safetensors_type_of(DType dtype) {
    switch (dtype) {
    case DType::f64: return SafetensorsType::f64;
    case DType::f32: return SafetensorsType::f32;
    case DType::f16: return SafetensorsType::f16;
    case DType::bf16: return SafetensorsType::bf16;
    }
    return SafetensorsType::f32;
}

std::optional<DType> dtype_of(SafetensorsType type) {
    switch (type) {
    case SafetensorsType::f64: return DType::f64;
    case SafetensorsType::f32: return DType::f32;
    case SafetensorsType::f16: return DType::f16;
    case SafetensorsType::bf16: return DType::bf16;
    case SafetensorsType::i64:
    case SafetensorsType::i32: break;
    }
    return std::nullopt;
}

std::int64_t SafetensorsTensor::numel() const {
    std::int64_t n = 1;
    for (const std::int64_t extent : shape) n *= extent;
    return n;
}

SafetensorsFile SafetensorsFile::parse(std::vector<std::byte> contents, const std::string& origin) {
    SafetensorsFile file;
    file.contents_ = std::move(contents);
    const std::vector<std::byte>& bytes = file.contents_;
    if (bytes.size() < 8)
        throw InvalidArgument(origin, fmt::format("{} bytes: shorter than the 8-byte header length", bytes.size()));
    std::uint64_t header_bytes = 0;
    for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | std::uint64_t(bytes[std::size_t(i)]);
    const std::uint64_t after_length = bytes.size() - 8;
    if (header_bytes > kMaxHeaderBytes)
        throw InvalidArgument(origin + ": header", fmt::format("length {} exceeds the format's limit of {} bytes",
                                                               header_bytes, kMaxHeaderBytes));
    if (header_bytes > after_length)
        throw InvalidArgument(origin + ": header", fmt::format("length {} exceeds the {} bytes that follow it",
                                                               header_bytes, after_length));
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, std::size_t(header_bytes));
    const json header = parse_header(text, origin);
    const std::size_t data_begin = 8 + std::size_t(header_bytes);
    const auto data_bytes = std::int64_t(bytes.size() - data_begin);

    struct Placed {
        std::int64_t begin, end;
        std::size_t index;
    };
    std::vector<Placed> placed;
    for (const auto& [name, entry] : header.items()) {
        if (name == kMetadataKey) {
            const std::string where = origin + ": " + std::string(kMetadataKey);
            if (!entry.is_object()) throw InvalidArgument(where, "must be an object of strings");
            for (const auto& [key, value] : entry.items()) {
                if (!value.is_string()) throw InvalidArgument(where + ": " + key, "must be a string");
                file.metadata_[key] = value.get<std::string>();
            }
            continue;
        }
        validate_name(name, origin);
        const std::string where = origin + ": tensor '" + name + "'";
        if (!entry.is_object()) throw InvalidArgument(where, "must be an object with dtype, shape and data_offsets");
        for (const auto& [key, value] : entry.items())
            if (key != "dtype" && key != "shape" && key != "data_offsets")
                throw InvalidArgument(where + ": " + key, "unknown field (a tensor has dtype, shape and data_offsets)");
        for (const char* key : {"dtype", "shape", "data_offsets"})
            if (!entry.contains(key)) throw InvalidArgument(where + ": " + key, "missing");
        SafetensorsTensor tensor;
        tensor.name = name;
        tensor.type = parse_type(entry["dtype"], where);
        tensor.shape = parse_integers(entry["shape"], where, "shape");
        const std::vector<std::int64_t> offsets = parse_integers(entry["data_offsets"], where, "data_offsets");
        if (offsets.size() != 2 || offsets[0] > offsets[1])
            throw InvalidArgument(where + ": data_offsets", "must be [begin, end] with begin <= end");
        if (offsets[1] > data_bytes)
            throw InvalidArgument(where + ": data_offsets",
                                  fmt::format("end {} is past the data section's {} bytes", offsets[1], data_bytes));
        const std::optional<std::int64_t> expected = byte_count(tensor.shape, tensor.type);
        if (!expected || *expected != offsets[1] - offsets[0])
            throw InvalidArgument(where + ": data_offsets",
                                  fmt::format("[{}, {}) holds {} bytes; shape and {} need {}", offsets[0], offsets[1],
                                              offsets[1] - offsets[0], to_string(tensor.type),
                                              expected ? std::to_string(*expected) : std::string("more than 2^63")));
        tensor.bytes = std::span<const std::byte>(bytes.data() + data_begin + std::size_t(offsets[0]),
                                                  std::size_t(offsets[1] - offsets[0]));
        placed.push_back({offsets[0], offsets[1], file.tensors_.size()});
        file.tensors_.push_back(std::move(tensor));
    }
    // The tensors must tile the data section: sorted by offset, each starts where the last
    // ended (empty tensors anywhere within), and the last ends at the end of the file.
    std::stable_sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::int64_t covered = 0;
    std::string last = "the start of the data section";
    for (const Placed& p : placed) {
        const std::string& name = file.tensors_[p.index].name;
        if (p.begin < covered)
            throw InvalidArgument(origin + ": tensor '" + name + "': data_offsets",
                                  fmt::format("[{}, {}) overlaps {}", p.begin, p.end, last));
        if (p.begin > covered)
            throw InvalidArgument(origin + ": tensor '" + name + "': data_offsets",
                                  fmt::format("bytes [{}, {}) before it belong to no tensor", covered, p.begin));
        if (p.end > p.begin) {
            covered = p.end;
            last = "tensor '" + name + "'";
        }
    }
    if (covered != data_bytes)
        throw InvalidArgument(origin, fmt::format("the data section has {} bytes past the last tensor", data_bytes - covered));
    std::vector<SafetensorsTensor> ordered;
    for (const Placed& p : placed) ordered.push_back(std::move(file.tensors_[p.index]));
    file.tensors_ = std::move(ordered);
    return file;
}

SafetensorsFile SafetensorsFile::read(const std::filesystem::path& path) {
    const std::string origin = path.string();
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InvalidArgument(origin, "cannot read the file");
    std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw InvalidArgument(origin, "cannot read the file");
    std::vector<std::byte> contents(raw.size());
    if (!raw.empty()) std::memcpy(contents.data(), raw.data(), raw.size());
    return parse(std::move(contents), origin);
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
    for (const SafetensorsTensor& tensor : tensors_)
        if (tensor.name == name) return &tensor;
    return nullptr;
}

std::vector<std::byte> serialize_safetensors(const std::vector<SafetensorsTensor>& tensors,
                                             const std::map<std::string, std::string>& metadata) {
    json header = json::object();
    std::set<std::string> names;
    std::int64_t offset = 0;
    for (const SafetensorsTensor& tensor : tensors) {
        if (tensor.name.empty() || tensor.name == kMetadataKey)
            throw InvalidArgument("tensor '" + tensor.name + "'", "is not a usable tensor name");
        if (!names.insert(tensor.name).second) throw InvalidArgument("tensor '" + tensor.name + "'", "given twice");
        for (const std::int64_t extent : tensor.shape)
            if (extent < 0) throw InvalidArgument("tensor '" + tensor.name + "': shape", "has a negative extent");
        const std::optional<std::int64_t> expected = byte_count(tensor.shape, tensor.type);
        if (!expected || *expected != std::int64_t(tensor.bytes.size()))
            throw InvalidArgument("tensor '" + tensor.name + "'",
                                  fmt::format("{} bytes given, its shape and {} need {}", tensor.bytes.size(),
                                              to_string(tensor.type),
                                              expected ? std::to_string(*expected) : std::string("more than 2^63")));
        header[tensor.name] = {{"dtype", to_string(tensor.type)},
                               {"shape", tensor.shape},
                               {"data_offsets", {offset, offset + *expected}}};
        offset += *expected;
    }
    if (!metadata.empty()) header[std::string(kMetadataKey)] = metadata;
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    std::vector<std::byte> out(8 + text.size() + std::size_t(offset));
    const std::uint64_t length = text.size();
    for (int i = 0; i < 8; ++i) out[std::size_t(i)] = std::byte((length >> (8 * i)) & 0xff);
    std::memcpy(out.data() + 8, text.data(), text.size());
    std::byte* data = out.data() + 8 + text.size();
    for (const SafetensorsTensor& tensor : tensors) {
        if (!tensor.bytes.empty()) std::memcpy(data, tensor.bytes.data(), tensor.bytes.size());
        data += tensor.bytes.size();
    }
    return out;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    write_file_bytes(path, serialize_safetensors(tensors, metadata));
}

void write_file_bytes(const std::filesystem::path& path, const std::vector<std::byte>& bytes) {
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace gdr::harness
