#include "gdr/harness/tolerance.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace gdr::harness {

std::string_view to_string(OutputKind kind) { return kind == OutputKind::o ? "o" : "state"; }

std::optional<OutputKind> parse_output_kind(std::string_view text) {
    if (text == "o") return OutputKind::o;
    if (text == "state") return OutputKind::state;
    return std::nullopt;
}

std::string_view to_string(TBucket bucket) {
    switch (bucket) {
    case TBucket::t1: return "1";
    case TBucket::t2_8: return "2-8";
    case TBucket::t9_plus: return "9+";
    }
    return "?";
}

std::optional<TBucket> parse_t_bucket(std::string_view text) {
    for (TBucket b : {TBucket::t1, TBucket::t2_8, TBucket::t9_plus})
        if (to_string(b) == text) return b;
    return std::nullopt;
}

TBucket t_bucket_for(std::int64_t tokens) {
    if (tokens < 1) throw std::invalid_argument(fmt::format("t_bucket_for: {} tokens (need at least 1)", tokens));
    if (tokens == 1) return TBucket::t1;
    return tokens <= 8 ? TBucket::t2_8 : TBucket::t9_plus;
}

namespace {

bool known_feature(std::string_view name) {
    return std::find(kToleranceFeatures.begin(), kToleranceFeatures.end(), name) != kToleranceFeatures.end();
}

// A row's key as six optional strings (nullopt = "*"), so matching, overlap and the
// ambiguity check are one generic loop over fields.
constexpr std::array<std::string_view, 6> kKeyFields = {"subject", "input_dtype", "state_dtype",
                                                        "kind",    "t_bucket",    "feature"};
using Pattern = std::array<std::optional<std::string>, 6>;

template <class T>
std::optional<std::string> name_of(const std::optional<T>& v) {
    if (!v) return std::nullopt;
    return std::string(to_string(*v));
}

Pattern pattern_of(const ToleranceRow& r) {
    return {r.subject, name_of(r.input_dtype), name_of(r.state_dtype), name_of(r.kind), name_of(r.t_bucket), r.feature};
}

std::array<std::string, 6> fields_of(const ToleranceKey& k) {
    return {k.subject,
            std::string(to_string(k.input_dtype)),
            std::string(to_string(k.state_dtype)),
            std::string(to_string(k.kind)),
            std::string(to_string(k.t_bucket)),
            k.feature};
}

std::string pattern_text(const Pattern& p) {
    std::string out;
    for (std::size_t i = 0; i < p.size(); ++i)
        out += fmt::format("{}{}={}", i ? " " : "", kKeyFields[i], p[i] ? *p[i] : std::string("*"));
    return out;
}

// Two patterns overlap when some key matches both; their meet is the set of such keys.
std::optional<Pattern> meet(const Pattern& a, const Pattern& b) {
    Pattern m;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i] && b[i] && *a[i] != *b[i]) return std::nullopt;
        m[i] = a[i] ? a[i] : b[i];
    }
    return m;
}

// Whether every key matching `inner` also matches `outer`.
bool covers(const Pattern& outer, const Pattern& inner) {
    for (std::size_t i = 0; i < outer.size(); ++i)
        if (outer[i] && (!inner[i] || *outer[i] != *inner[i])) return false;
    return true;
}

int specificity_of(const Pattern& p) {
    return int(std::count_if(p.begin(), p.end(), [](const auto& f) { return f.has_value(); }));
}

// A wrong-typed value for an error message. Arrays and objects are named, not dumped:
// dump() recurses, so a value nested a million deep would overflow the stack.
std::string describe(const nlohmann::json& v) {
    if (v.is_structured()) return v.type_name();
    std::string text = v.dump();
    if (text.size() > 64) text = text.substr(0, 64) + "...";
    return text;
}

// Reads one row, with errors that name the source, the row and the field.
class RowReader {
public:
    RowReader(const nlohmann::json& row, const std::string& source, std::size_t position)
        : row_(row), where_(fmt::format("{}: row {}", source, position)) {
        if (!row_.is_object()) fail("", "expected an object");
        if (row_.contains("id") && row_["id"].is_string())
            where_ += fmt::format(" (id \"{}\")", row_["id"].get<std::string>());
    }

    [[noreturn]] void fail(std::string_view field, std::string_view message) const {
        if (field.empty()) throw ToleranceError(fmt::format("{}: {}", where_, message));
        throw ToleranceError(fmt::format("{}: field \"{}\": {}", where_, field, message));
    }

    const nlohmann::json& field(std::string_view name) const {
        auto it = row_.find(std::string(name));
        if (it == row_.end()) fail(name, "missing (every field is required; write \"*\" for any)");
        return *it;
    }

    std::string string(std::string_view name, bool allow_empty = false) const {
        const auto& v = field(name);
        if (!v.is_string()) fail(name, fmt::format("expected a string, got {}", describe(v)));
        auto s = v.get<std::string>();
        if (s.empty() && !allow_empty) fail(name, "must not be empty");
        return s;
    }

    // A key field: "*" or a name that `parse` accepts.
    template <class Parse>
    auto key(std::string_view name, Parse parse) const -> std::optional<typename decltype(parse(""))::value_type> {
        const std::string s = string(name);
        if (s == "*") return std::nullopt;
        auto parsed = parse(s);
        if (!parsed) fail(name, fmt::format("unknown value \"{}\"", s));
        return *parsed;
    }

    double number(std::string_view name, bool positive) const {
        const auto& v = field(name);
        if (!v.is_number()) fail(name, fmt::format("expected a number, got {}", describe(v)));
        const double d = v.get<double>();
        if (!std::isfinite(d) || d < 0 || (positive && d == 0))
            fail(name, fmt::format("must be finite and {}, got {}", positive ? "> 0" : ">= 0", d));
        return d;
    }

    void reject_unknown(std::initializer_list<std::string_view> known) const {
        for (auto it = row_.begin(); it != row_.end(); ++it)
            if (std::find(known.begin(), known.end(), it.key()) == known.end()) fail(it.key(), "unknown field");
    }

private:
    const nlohmann::json& row_;
    std::string where_;
};

// Kernel dtypes only: f64 is the oracle's storage, never a kernel's.
std::optional<DType> parse_kernel_dtype(std::string_view text) {
    auto d = parse_dtype(text);
    if (d && *d == DType::f64) return std::nullopt;
    return d;
}

ToleranceRow read_row(const nlohmann::json& json, const std::string& source, std::size_t position) {
    RowReader r(json, source, position);
    r.reject_unknown({"id", "subject", "input_dtype", "state_dtype", "kind", "t_bucket", "feature", "rho",
                      "floor_ulps", "frobenius_units", "reason", "calibrated_on"});
    ToleranceRow row;
    row.id = r.string("id");
    if (row.id == "*" || row.id == "exact") r.fail("id", fmt::format("\"{}\" is reserved", row.id));
    row.subject = r.key("subject", [](std::string_view s) { return std::optional<std::string>(s); });
    row.input_dtype = r.key("input_dtype", parse_kernel_dtype);
    row.state_dtype = r.key("state_dtype", parse_kernel_dtype);
    row.kind = r.key("kind", parse_output_kind);
    row.t_bucket = r.key("t_bucket", parse_t_bucket);
    row.feature = r.key("feature", [](std::string_view s) {
        return known_feature(s) ? std::optional<std::string>(s) : std::nullopt;
    });
    row.rho = r.number("rho", true);
    row.floor_ulps = r.number("floor_ulps", false);
    row.frobenius_units = r.number("frobenius_units", false);
    row.reason = r.string("reason");
    row.calibrated_on = r.string("calibrated_on");
    return row;
}

// Every key that two rows of equal specificity both match must be claimed by a strictly
// more specific row; otherwise lookup would face a tie. Checked pairwise: a tie at the
// top specificity for some key is a pair of equal-specificity rows whose meet no more
// specific row covers.
void check_ambiguity(const std::vector<ToleranceRow>& rows, const std::string& source) {
    std::vector<Pattern> patterns;
    for (const auto& r : rows) patterns.push_back(pattern_of(r));
    for (std::size_t i = 0; i < rows.size(); ++i) {
        for (std::size_t j = i + 1; j < rows.size(); ++j) {
            if (specificity_of(patterns[i]) != specificity_of(patterns[j])) continue;
            const auto m = meet(patterns[i], patterns[j]);
            if (!m) continue;
            const bool resolved = std::any_of(patterns.begin(), patterns.end(), [&](const Pattern& p) {
                return specificity_of(p) > specificity_of(patterns[i]) && covers(p, *m);
            });
            if (!resolved)
                throw ToleranceError(fmt::format(
                    "{}: rows \"{}\" and \"{}\" are ambiguous: both match {} with the same specificity {}; "
                    "narrow one of them or add a more specific row for that overlap",
                    source, rows[i].id, rows[j].id, pattern_text(*m), specificity_of(patterns[i])));
        }
    }
}

}  // namespace

int ToleranceRow::specificity() const { return specificity_of(pattern_of(*this)); }

bool ToleranceRow::matches(const ToleranceKey& key) const {
    const auto p = pattern_of(*this);
    const auto k = fields_of(key);
    for (std::size_t i = 0; i < p.size(); ++i)
        if (p[i] && *p[i] != k[i]) return false;
    return true;
}

std::string to_string(const ToleranceKey& key) {
    const auto k = fields_of(key);
    std::string out;
    for (std::size_t i = 0; i < k.size(); ++i) out += fmt::format("{}{}={}", i ? " " : "", kKeyFields[i], k[i]);
    return out;
}

ToleranceTable ToleranceTable::from_json_text(std::string_view text, std::string source_name) {
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e400
        throw ToleranceError(fmt::format("{}: not valid JSON: {}", source_name, e.what()));
    }
    if (!doc.is_object()) throw ToleranceError(fmt::format("{}: expected an object with \"rows\"", source_name));
    for (auto it = doc.begin(); it != doc.end(); ++it)
        if (it.key() != "rows" && it.key() != "description")
            throw ToleranceError(fmt::format("{}: unknown top-level field \"{}\"", source_name, it.key()));
    if (!doc.contains("rows") || !doc["rows"].is_array())
        throw ToleranceError(fmt::format("{}: \"rows\" must be an array", source_name));

    ToleranceTable table;
    table.source_ = std::move(source_name);
    std::set<std::string> ids;
    std::size_t position = 0;
    for (const auto& json : doc["rows"]) {
        ToleranceRow row = read_row(json, table.source_, position++);
        if (!ids.insert(row.id).second)
            throw ToleranceError(fmt::format("{}: duplicate row id \"{}\"", table.source_, row.id));
        table.rows_.push_back(std::move(row));
    }
    check_ambiguity(table.rows_, table.source_);
    return table;
}

ToleranceTable ToleranceTable::load_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ToleranceError(fmt::format("{}: cannot open the tolerance file", path.string()));
    std::ostringstream text;
    text << in.rdbuf();
    return from_json_text(text.str(), path.string());
}

ToleranceTable ToleranceTable::load_default() {
    return from_json_text(default_tolerance_json(), "harness/tolerances.json (built in)");
}

const ToleranceRow* ToleranceTable::find(const ToleranceKey& key) const {
    const ToleranceRow* best = nullptr;
    bool tie = false;
    for (const auto& row : rows_) {
        if (!row.matches(key)) continue;
        if (!best || row.specificity() > best->specificity()) {
            best = &row;
            tie = false;
        } else if (row.specificity() == best->specificity()) {
            tie = true;
        }
    }
    // Load-time checking makes this unreachable; kept so a tie can never pick silently.
    if (tie) throw ToleranceError(fmt::format("{}: ambiguous rows for {}", source_, to_string(key)));
    return best;
}

const ToleranceRow& ToleranceTable::lookup(const ToleranceKey& key) const {
    if (!known_feature(key.feature))
        throw ToleranceError(fmt::format("{}: unknown feature \"{}\" in lookup ({})", source_, key.feature, to_string(key)));
    if (const ToleranceRow* row = find(key)) return *row;
    throw ToleranceError(fmt::format("{}: no tolerance row matches {}; add a row (with its reason) rather than "
                                     "relying on a default",
                                     source_, to_string(key)));
}

}  // namespace gdr::harness
