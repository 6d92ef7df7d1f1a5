// The text and JSON forms of a case spec: one table of fields, each with a codec for its
// member type, so that both forms name, order and check the keys alike.
#include "gdr/harness/case_spec.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <string_view>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gdr/core/errors.hpp"
#include "gdr/harness/special_values.hpp"


namespace gdr::harness {

using json = nlohmann::json;

namespace {

template <class E>
struct EnumNames;
template <>
struct EnumNames<IndicesRule> {
    static constexpr std::array<std::pair<IndicesRule, std::string_view>, 3> table{
        {{IndicesRule::none, "none"}, {IndicesRule::identity, "identity"}, {IndicesRule::permutation, "permutation"}}};
};
template <>
struct EnumNames<StrideRule> {
    static constexpr std::array<std::pair<StrideRule, std::string_view>, 3> table{
        {{StrideRule::contiguous, "contiguous"}, {StrideRule::padded, "padded"}, {StrideRule::fused, "fused"}}};
};
template <>
struct EnumNames<QKDistribution> {
    static constexpr std::array<std::pair<QKDistribution, std::string_view>, 3> table{
        {{QKDistribution::normal, "normal"},
         {QKDistribution::l2normalized, "l2normalized"},
         {QKDistribution::uniform, "uniform"}}};
};
template <>
struct EnumNames<GateDistribution> {
    static constexpr std::array<std::pair<GateDistribution, std::string_view>, 4> table{
        {{GateDistribution::weak, "weak"},
         {GateDistribution::strong, "strong"},
         {GateDistribution::zero, "zero"},
         {GateDistribution::huge_negative, "huge_negative"}}};
};
template <>
struct EnumNames<BetaDistribution> {
    static constexpr std::array<std::pair<BetaDistribution, std::string_view>, 3> table{
        {{BetaDistribution::uniform, "uniform"}, {BetaDistribution::one, "one"}, {BetaDistribution::half, "half"}}};
};
template <>
struct EnumNames<IndexType> {
    static constexpr std::array<std::pair<IndexType, std::string_view>, 2> table{
        {{IndexType::i32, "i32"}, {IndexType::i64, "i64"}}};
};
template <>
struct EnumNames<Layout> {
    static constexpr std::array<std::pair<Layout, std::string_view>, 2> table{{{Layout::KV, "kv"}, {Layout::VK, "vk"}}};
};
template <>
struct EnumNames<DType> {
    static constexpr std::array<std::pair<DType, std::string_view>, 4> table{
        {{DType::f32, "f32"}, {DType::f16, "f16"}, {DType::bf16, "bf16"}, {DType::f64, "f64"}}};
};

template <class E>
std::string enum_choices() {
    std::string out;
    for (const auto& [value, name] : EnumNames<E>::table) out += (out.empty() ? "" : ", ") + std::string(name);
    return out;
}

// Keys in messages are clipped so that a fuzzed megabyte of garbage does not become the
// exception text, and bytes outside printable ASCII are written as \xNN so that a NUL
// cannot cut what() short and control bytes never reach the terminal.
std::string clip(std::string_view text) {
    std::string out;
    for (const char c : text.substr(0, 64)) {
        if (c >= 0x20 && c < 0x7f) out += c;
        else out += fmt::format("\\x{:02X}", static_cast<unsigned char>(c));
    }
    if (text.size() > 64) out += "...";
    return out;
}

[[noreturn]] void bad_value(const std::string& key, std::string_view value, const std::string& expected) {
    throw InvalidArgument(key, "cannot parse '" + clip(value) + "': expected " + expected);
}

template <class T>
T parse_integer(const std::string& key, std::string_view text) {
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) bad_value(key, text, "an integer in range");
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) bad_value(key, text, "an integer");
    return value;
}

template <class T>
struct Codec;

template <>
struct Codec<std::int64_t> {
    static std::string text(std::int64_t v) { return std::to_string(v); }
    static std::int64_t parse(const std::string& key, std::string_view t) { return parse_integer<std::int64_t>(key, t); }
    static json to_json(std::int64_t v) { return v; }
    static std::int64_t from_json(const std::string& key, const json& j) {
        if (j.is_number_unsigned()) {
            const auto u = j.get<std::uint64_t>();
            if (u > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
                throw InvalidArgument(key, "integer out of range");
            return std::int64_t(u);
        }
        if (!j.is_number_integer()) throw InvalidArgument(key, "expected an integer, got " + std::string(j.type_name()));
        return j.get<std::int64_t>();
    }
};

template <>
struct Codec<std::uint64_t> {
    static std::string text(std::uint64_t v) { return std::to_string(v); }
    static std::uint64_t parse(const std::string& key, std::string_view t) {
        if (!t.empty() && t.front() == '-') bad_value(key, t, "a non-negative integer");
        return parse_integer<std::uint64_t>(key, t);
    }
    static json to_json(std::uint64_t v) { return v; }
    static std::uint64_t from_json(const std::string& key, const json& j) {
        if (j.is_number_unsigned()) return j.get<std::uint64_t>();
        if (j.is_number_integer() && j.get<std::int64_t>() >= 0) return std::uint64_t(j.get<std::int64_t>());
        throw InvalidArgument(key, "expected a non-negative integer, got " + std::string(j.type_name()));
    }
};

template <>
struct Codec<bool> {
    static std::string text(bool v) { return v ? "1" : "0"; }
    static bool parse(const std::string& key, std::string_view t) {
        if (t == "1") return true;
        if (t == "0") return false;
        bad_value(key, t, "0 or 1");
    }
    static json to_json(bool v) { return v; }
    static bool from_json(const std::string& key, const json& j) {
        if (!j.is_boolean()) throw InvalidArgument(key, "expected a boolean, got " + std::string(j.type_name()));
        return j.get<bool>();
    }
};

template <>
struct Codec<double> {
    // fmt's "{}" prints the shortest text that reads back to the same double.
    static std::string text(double v) { return fmt::format("{}", v); }
    static double parse(const std::string& key, std::string_view t) {
        double value = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
        if (ec != std::errc() || end != t.data() + t.size() || t.empty()) bad_value(key, t, "a number");
        return value;
    }
    static json to_json(double v) { return v; }
    static double from_json(const std::string& key, const json& j) {
        if (!j.is_number()) throw InvalidArgument(key, "expected a number, got " + std::string(j.type_name()));
        return j.get<double>();
    }
};

template <>
struct Codec<std::optional<double>> {
    static std::string text(const std::optional<double>& v) { return v ? Codec<double>::text(*v) : ""; }
    static std::optional<double> parse(const std::string& key, std::string_view t) { return Codec<double>::parse(key, t); }
    static json to_json(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }
    static std::optional<double> from_json(const std::string& key, const json& j) {
        if (j.is_null()) return std::nullopt;
        return Codec<double>::from_json(key, j);
    }
};

template <class I>
struct Codec<std::vector<I>> {
    static std::string text(const std::vector<I>& v) {
        std::string out;
        for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
        return out;
    }
    static std::vector<I> parse(const std::string& key, std::string_view t) {
        std::vector<I> out;
        if (t.empty()) return out;
        std::size_t begin = 0;
        while (true) {
            const std::size_t comma = t.find(',', begin);
            const std::string_view item = t.substr(begin, comma == std::string_view::npos ? t.npos : comma - begin);
            out.push_back(parse_integer<I>(key, item));
            if (comma == std::string_view::npos) break;
            begin = comma + 1;
        }
        return out;
    }
    static json to_json(const std::vector<I>& v) { return json(v); }
    static std::vector<I> from_json(const std::string& key, const json& j) {
        if (!j.is_array()) throw InvalidArgument(key, "expected an array of integers, got " + std::string(j.type_name()));
        std::vector<I> out;
        out.reserve(j.size());
        for (const json& item : j) {
            const std::int64_t value = Codec<std::int64_t>::from_json(key, item);
            if (value < std::int64_t(std::numeric_limits<I>::min()) || value > std::int64_t(std::numeric_limits<I>::max()))
                throw InvalidArgument(key, "element " + std::to_string(value) + " out of range");
            out.push_back(I(value));
        }
        return out;
    }
};

// Special values: the text form of each (special_values.hpp), comma-separated; JSON keeps
// the same text as one string.
template <>
struct Codec<std::vector<SpecialValue>> {
    static std::string text(const std::vector<SpecialValue>& v) {
        std::string out;
        for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + special_text(v[i]);
        return out;
    }
    static std::vector<SpecialValue> parse(const std::string& key, std::string_view t) {
        std::vector<SpecialValue> out;
        while (!t.empty()) {
            const std::size_t comma = t.find(',');
            out.push_back(parse_special(key, t.substr(0, comma)));
            if (comma == std::string_view::npos) break;
            t = t.substr(comma + 1);
            if (t.empty()) bad_value(key, t, "an item after the comma");
        }
        return out;
    }
    static json to_json(const std::vector<SpecialValue>& v) { return text(v); }
    static std::vector<SpecialValue> from_json(const std::string& key, const json& j) {
        if (!j.is_string()) throw InvalidArgument(key, "expected a string, got " + std::string(j.type_name()));
        return parse(key, j.get_ref<const std::string&>());
    }
};

template <class E>
struct EnumCodec {
    static std::string text(E v) {
        for (const auto& [value, name] : EnumNames<E>::table)
            if (value == v) return std::string(name);
        return "?";
    }
    static E parse(const std::string& key, std::string_view t) {
        for (const auto& [value, name] : EnumNames<E>::table)
            if (name == t) return value;
        if constexpr (std::is_same_v<E, DType>) {
            if (const auto d = parse_dtype(t)) return *d;  // the usual aliases (fp32, bfloat16, ...)
        }
        bad_value(key, t, "one of " + enum_choices<E>());
    }
    static json to_json(E v) { return text(v); }
    static E from_json(const std::string& key, const json& j) {
        if (!j.is_string()) throw InvalidArgument(key, "expected a string, got " + std::string(j.type_name()));
        return parse(key, j.get_ref<const std::string&>());
    }
};
template <>
struct Codec<IndicesRule> : EnumCodec<IndicesRule> {};
template <>
struct Codec<StrideRule> : EnumCodec<StrideRule> {};
template <>
struct Codec<QKDistribution> : EnumCodec<QKDistribution> {};
template <>
struct Codec<GateDistribution> : EnumCodec<GateDistribution> {};
template <>
struct Codec<BetaDistribution> : EnumCodec<BetaDistribution> {};
template <>
struct Codec<IndexType> : EnumCodec<IndexType> {};
template <>
struct Codec<Layout> : EnumCodec<Layout> {};
template <>
struct Codec<DType> : EnumCodec<DType> {};

struct Field {
    std::string key;
    bool always = false;  // written even when equal to the default
    std::function<bool(const CaseSpec&)> is_default;
    std::function<std::string(const CaseSpec&)> text;
    std::function<void(CaseSpec&, const std::string&, std::string_view)> parse;
    std::function<json(const CaseSpec&)> to_json;
    std::function<void(CaseSpec&, const std::string&, const json&)> from_json;
};

template <class T>
Field field(const char* key, T CaseSpec::*member, bool always = false) {
    using C = Codec<T>;
    Field f;
    f.key = key;
    f.always = always;
    f.is_default = [member](const CaseSpec& s) { return s.*member == CaseSpec{}.*member; };
    f.text = [member](const CaseSpec& s) { return C::text(s.*member); };
    f.parse = [member](CaseSpec& s, const std::string& k, std::string_view v) { s.*member = C::parse(k, v); };
    f.to_json = [member](const CaseSpec& s) { return C::to_json(s.*member); };
    f.from_json = [member](CaseSpec& s, const std::string& k, const json& j) { s.*member = C::from_json(k, j); };
    return f;
}

// The canonical key order of the text form.
const std::vector<Field>& fields() {
    static const std::vector<Field> table = {
        field("B", &CaseSpec::batch, true),
        field("T", &CaseSpec::seq_len, true),
        field("H", &CaseSpec::num_heads, true),
        field("HV", &CaseSpec::num_value_heads, true),
        field("K", &CaseSpec::key_dim, true),
        field("V", &CaseSpec::value_dim, true),
        field("layout", &CaseSpec::layout, true),
        field("in", &CaseSpec::input_dtype, true),
        field("gate", &CaseSpec::gate_dtype, true),
        field("state", &CaseSpec::state_dtype, true),
        field("g", &CaseSpec::has_g),
        field("beta", &CaseSpec::has_beta),
        field("l2norm", &CaseSpec::use_qk_l2norm),
        field("final", &CaseSpec::output_final_state),
        field("scale", &CaseSpec::scale),
        field("N", &CaseSpec::bank_entries),
        field("slots", &CaseSpec::slots),
        field("indices", &CaseSpec::indices),
        field("inactive", &CaseSpec::inactive_rows),
        field("explicit_indices", &CaseSpec::explicit_indices),
        field("circular", &CaseSpec::circular),
        field("seqlen_max", &CaseSpec::seqlen_max),
        field("neg_seqlens", &CaseSpec::negative_seqlens),
        field("cache_seqlens", &CaseSpec::explicit_cache_seqlens),
        field("varlen", &CaseSpec::varlen),
        field("seq_lengths", &CaseSpec::seq_lengths),
        field("cu_type", &CaseSpec::cu_seqlens_type),
        field("strides", &CaseSpec::strides),
        field("qk", &CaseSpec::qk),
        field("gdist", &CaseSpec::g),
        field("bdist", &CaseSpec::beta),
        field("state_scale", &CaseSpec::state_scale),
        field("generator", &CaseSpec::generator),
        field("exact", &CaseSpec::exact),
        field("specials", &CaseSpec::specials),
        field("seed", &CaseSpec::seed, true),
    };
    return table;
}

const Field* find_field(std::string_view key) {
    for (const Field& f : fields())
        if (f.key == key) return &f;
    return nullptr;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::string to_string(StrideRule rule) { return EnumCodec<StrideRule>::text(rule); }

std::string to_text(const CaseSpec& spec) {
    std::string out;
    for (const Field& f : fields()) {
        // An absent scale has no text; every other default is simply left out.
        if (!f.always && f.is_default(spec)) continue;
        out += (out.empty() ? "" : " ") + f.key + "=" + f.text(spec);
    }
    return out;
}

CaseSpec parse_text(const std::string& text) {
    CaseSpec spec;
    std::set<std::string> seen;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && is_space(text[i])) ++i;
        if (i >= text.size()) break;
        std::size_t end = i;
        while (end < text.size() && !is_space(text[end])) ++end;
        const std::string_view token(text.data() + i, end - i);
        i = end;
        const std::size_t eq = token.find('=');
        if (eq == std::string_view::npos || eq == 0)
            throw InvalidArgument(clip(token), "expected key=value, got '" + clip(token) + "'");
        const std::string key(token.substr(0, eq));
        const Field* f = find_field(key);
        if (!f) throw InvalidArgument(clip(key), "unknown key");
        if (!seen.insert(key).second) throw InvalidArgument(key, "given more than once");
        f->parse(spec, key, token.substr(eq + 1));
    }
    validate(spec);
    return spec;
}

nlohmann::json to_json(const CaseSpec& spec) {
    // Every key is written (the JSON form is for machines and replay files: it does not
    // depend on today's defaults); an absent scale is left out.
    json out = json::object();
    for (const Field& f : fields()) {
        if (f.key == "scale" && !spec.scale) continue;
        if (f.key == "specials" && spec.specials.empty()) continue;  // replay files from before it stay equal
        out[f.key] = f.to_json(spec);
    }
    return out;
}

CaseSpec from_json(const nlohmann::json& j) {
    if (!j.is_object()) throw InvalidArgument("spec", "expected a JSON object, got " + std::string(j.type_name()));
    CaseSpec spec;
    for (const auto& [key, value] : j.items()) {
        const Field* f = find_field(key);
        if (!f) throw InvalidArgument(clip(key), "unknown key");
        f->from_json(spec, key, value);
    }
    validate(spec);
    return spec;
}

}  // namespace gdr::harness
