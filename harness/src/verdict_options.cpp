#include "gdr/harness/verdict_options.hpp"

#include <set>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "gdr/core/errors.hpp"

namespace gdr::harness {

std::vector<std::string> VerdictOptions::cli_args() const {
    std::vector<std::string> args;
    if (!tolerance_file.empty()) args.insert(args.end(), {"--tolerances", tolerance_file});
    if (strict) args.push_back("--strict");
    if (!check_determinism) args.push_back("--no-determinism");
    if (math) args.insert(args.end(), {"--math", std::string(to_string(*math))});
    return args;
}

nlohmann::json to_json(const VerdictOptions& options) {
    nlohmann::json json = nlohmann::json::object();
    if (!options.tolerance_file.empty()) json["tolerances"] = options.tolerance_file;
    if (options.strict) json["strict"] = true;
    if (!options.check_determinism) json["determinism"] = false;
    if (options.math) json["math"] = std::string(to_string(*options.math));
    return json;
}

namespace {

// Reads `key` into `out` when present, and notes the key as known.
template <typename T>
void read(const nlohmann::json& json, const std::string& origin, const std::string& key, T& out,
          std::set<std::string>& known) {
    known.insert(key);
    const auto it = json.find(key);
    if (it == json.end()) return;
    const bool right_type = std::is_same_v<T, bool> ? it->is_boolean() : it->is_string();
    if (!right_type) throw InvalidArgument(origin + ": " + key, "wrong type (" + std::string(it->type_name()) + ")");
    out = it->template get<T>();
}

}  // namespace

VerdictOptions verdict_options_from_json(const nlohmann::json& json, const std::string& origin) {
    if (!json.is_object()) throw InvalidArgument(origin, "expected a JSON object, got " + std::string(json.type_name()));
    VerdictOptions options;
    std::set<std::string> known;
    read(json, origin, "tolerances", options.tolerance_file, known);
    read(json, origin, "strict", options.strict, known);
    read(json, origin, "determinism", options.check_determinism, known);
    std::string math;
    read(json, origin, "math", math, known);
    if (!math.empty()) {
        options.math = parse_math_mode(math);
        if (!options.math) throw InvalidArgument(origin + ": math", "unknown math mode '" + math + "'");
    }
    for (const auto& [key, value] : json.items())
        if (!known.count(key)) throw InvalidArgument(origin + ": " + key, "unknown option");
    return options;
}

}  // namespace gdr::harness
