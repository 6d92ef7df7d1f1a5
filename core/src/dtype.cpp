#include "gdr/core/dtype.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace gdr {

std::size_t dtype_size(DType dtype) {
    switch (dtype) {
    case DType::f32: return 4;
    case DType::f16: return 2;
    case DType::bf16: return 2;
    case DType::f64: return 8;
    }
    return 0;
}

std::string_view to_string(DType dtype) {
    switch (dtype) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::f64: return "f64";
    }
    return "?";
}

std::string_view to_string(Layout layout) { return layout == Layout::KV ? "kv" : "vk"; }

std::string_view to_string(IndexType type) { return type == IndexType::i32 ? "i32" : "i64"; }

namespace {
std::string lowercase(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}
}  // namespace

std::optional<DType> parse_dtype(std::string_view text) {
    const std::string t = lowercase(text);
    if (t == "f32" || t == "fp32" || t == "float32" || t == "float") return DType::f32;
    if (t == "f16" || t == "fp16" || t == "float16" || t == "half") return DType::f16;
    if (t == "bf16" || t == "bfloat16") return DType::bf16;
    if (t == "f64" || t == "fp64" || t == "float64" || t == "double") return DType::f64;
    return std::nullopt;
}

std::optional<Layout> parse_layout(std::string_view text) {
    const std::string t = lowercase(text);
    if (t == "kv") return Layout::KV;
    if (t == "vk") return Layout::VK;
    return std::nullopt;
}

}  // namespace gdr
