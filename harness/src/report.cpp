#include "gdr/harness/report.hpp"

#include "gdr/harness/check_names.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace gdr::harness {

namespace {

// JSON has no NaN or Inf; nlohmann would write null, losing which one it was.
nlohmann::json number(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    return x;
}

nlohmann::json to_json(const Mismatch& m) {
    return {{"flat", m.flat},          {"index", m.index},       {"subject", number(m.subject)},
            {"truth", number(m.truth)}, {"emulated", number(m.emulated)}, {"what", m.what}};
}

// The check whose slice came closest to (or furthest beyond) its threshold.
const CheckResult* worst_judged(const CaseReport& r) {
    const CheckResult* best = nullptr;
    for (const auto& c : r.checks) {
        if (!c.worst_slice) continue;
        if (!best || c.worst_slice->error_ratio() > best->worst_slice->error_ratio() ||
            (c.worst_slice->error_ratio() == best->worst_slice->error_ratio() &&
             severity(c.outcome) > severity(best->outcome)))
            best = &c;
    }
    return best;
}

std::string shorten(std::string_view text, std::size_t width) {
    if (text.size() <= width) return std::string(text);
    return std::string(text.substr(0, width - 3)) + "...";
}

std::string error_vs_threshold(const CheckResult& c) {
    const SliceMetrics& m = *c.worst_slice;
    if (m.exact) return m.mismatch_count ? fmt::format("{} differ (exact)", m.mismatch_count) : "exact";
    if (m.mismatch_count && m.max_abs_index.empty()) return fmt::format("{} non-finite", m.mismatch_count);
    return fmt::format("{:.3g} / {:.3g}", m.error_at_threshold(), m.threshold_abs);
}

void append_mismatches(std::string& out, const SliceMetrics& m, const std::vector<Mismatch>& list, std::string_view title) {
    if (list.empty()) return;
    out += fmt::format("      {}:\n", title);
    for (const auto& x : list)
        out += fmt::format("        {} [{}] subject={} R64={} Rlp={} |diff|={:.3g}\n", format_index(m.dim_names, x.index),
                           x.what, x.subject, x.truth, x.emulated, std::abs(x.subject - x.truth));
}

void append_slice(std::string& out, const SliceMetrics& m) {
    out += fmt::format("    slice {} ({} elements): {}\n", m.label, m.elements, m.passed ? "within tolerance" : m.why);
    if (!m.max_abs_index.empty())
        out += fmt::format("      max abs error {:.6g} at {}: subject={} R64={} Rlp={}\n", m.max_abs_error,
                           format_index(m.dim_names, m.max_abs_index), m.subject_at_max, m.truth_at_max,
                           m.emulated_at_max);
    if (m.exact)
        out += "      exact mode: every element must equal R64 rounded to the stored dtype\n";
    else
        out += fmt::format("      threshold abs {:.6g}{} = rho * max|Rlp-R64|/M ({:.6g}) * M + floor {:.6g} (at M = {:.6g}) "
                           "+ computed bound {:.6g} (elementary functions of the math mode, cache-rounding flips); "
                           "max|Rlp-R64| {:.6g}; rel Frobenius {:.6g} vs threshold {:.6g} (Rlp's {:.6g}); max rel error {:.6g}\n",
                           m.threshold_abs, m.worst_index.empty() ? "" : " at " + format_index(m.dim_names, m.worst_index),
                           m.emulated_relative_max, m.floor_abs, m.max_magnitude, m.flip_abs, m.emulated_max_abs_error,
                           m.rel_frobenius, m.threshold_frobenius, m.emulated_rel_frobenius, m.max_rel_error);
    out += fmt::format("      mismatches {}, NaN {}, Inf {}, poison survivors {}\n", m.mismatch_count, m.nan_count,
                       m.inf_count, m.poison_survivors);
    if (m.unbounded)
        out += fmt::format("      {} elements unjudged: a legal order may overflow the state dtype where R64 does not, "
                           "or the reverse, before them\n", m.unbounded);
    if (m.nonfinite_allowed_count)
        out += fmt::format("      {} elements unjudged: NaN/Inf where R64 is finite, in the chunk of a NaN/Inf input "
                           "(a chunk kernel's dense products, docs/SPEC.md)\n", m.nonfinite_allowed_count);
    if (m.operand_overflow_unjudged)
        out += fmt::format("      {} elements unjudged: the chunk kernel's declared precision overflowed (Rlp "
                           "rounded a finite operand to Inf in this head at or before this chunk; docs/SPEC.md)\n",
                           m.operand_overflow_unjudged);
    append_mismatches(out, m, m.first_mismatches, "first mismatches");
    append_mismatches(out, m, m.last_mismatches, "last mismatches");
}

}  // namespace

Outcome worst_outcome(const std::vector<CheckResult>& checks) {
    Outcome o = Outcome::passed;
    for (const auto& c : checks) o = worst(o, c.outcome);
    return o;
}

const CheckResult* first_failing_check(const CaseReport& report, bool any_outcome) {
    for (const CheckResult& check : report.checks)
        if (any_outcome ? check.outcome != Outcome::passed : is_failure(check.outcome)) return &check;
    return nullptr;
}

std::string failure_class(const CaseReport& report) {
    const CheckResult* check = first_failing_check(report);
    return check ? check->name : check_names::setup;
}

nlohmann::json to_json(const SliceMetrics& m) {
    nlohmann::json first = nlohmann::json::array(), last = nlohmann::json::array();
    for (const auto& x : m.first_mismatches) first.push_back(to_json(x));
    for (const auto& x : m.last_mismatches) last.push_back(to_json(x));
    return {{"label", m.label},
            {"dims", m.dim_names},
            {"elements", m.elements},
            {"exact", m.exact},
            {"passed", m.passed},
            {"why", m.why},
            {"max_abs_error", number(m.max_abs_error)},
            {"max_abs_index", m.max_abs_index},
            {"subject_at_max", number(m.subject_at_max)},
            {"truth_at_max", number(m.truth_at_max)},
            {"emulated_at_max", number(m.emulated_at_max)},
            {"max_rel_error", number(m.max_rel_error)},
            {"rel_frobenius", number(m.rel_frobenius)},
            {"emulated_max_abs_error", number(m.emulated_max_abs_error)},
            {"emulated_rel_frobenius", number(m.emulated_rel_frobenius)},
            {"threshold_abs", number(m.threshold_abs)},
            {"threshold_frobenius", number(m.threshold_frobenius)},
            {"floor_abs", number(m.floor_abs)},
            {"max_magnitude", number(m.max_magnitude)},
            {"flip_abs", number(m.flip_abs)},
            {"unbounded", m.unbounded},
            {"nonfinite_allowed_count", m.nonfinite_allowed_count},
            {"operand_overflow_unjudged", m.operand_overflow_unjudged},
            {"emulated_relative_max", number(m.emulated_relative_max)},
            {"worst_ratio", number(m.worst_ratio)},
            {"mismatch_count", m.mismatch_count},
            {"first_mismatches", first},
            {"last_mismatches", last},
            {"nan_count", m.nan_count},
            {"inf_count", m.inf_count},
            {"poison_survivors", m.poison_survivors},
            {"emulated_nonfinite", m.emulated_nonfinite}, {"emulated_overflows", m.emulated_overflows}};
}

nlohmann::json to_json(const CheckResult& c) {
    nlohmann::json j = {{"name", c.name},
                        {"outcome", std::string(to_string(c.outcome))},
                        {"detail", c.detail},
                        {"tolerance_row", c.tolerance_row_id}};
    j["worst_slice"] = c.worst_slice ? to_json(*c.worst_slice) : nlohmann::json(nullptr);
    return j;
}

nlohmann::json to_json(const CaseReport& r) {
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& c : r.checks) checks.push_back(to_json(c));
    nlohmann::json stages = nlohmann::json::array();
    for (const StageTiming& s : r.stages)
        stages.push_back({{"stage", s.stage}, {"seconds", number(s.seconds)}, {"peak_rss_bytes", s.peak_rss_bytes}});
    return {{"case", r.case_text}, {"seed", r.seed},       {"subject", r.subject},
            {"outcome", std::string(to_string(r.outcome))}, {"message", r.message}, {"seconds", number(r.seconds)},
            {"subject_seconds", number(r.subject_seconds)},
            {"reproduce", r.reproduce}, {"math", r.math},
            {"chunked", r.chunked.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.chunked)}, {"checks", checks},
            // NOT_SUPPORTED: whether a declared limitation covers it (null otherwise).
            {"declared_limitation", r.outcome == Outcome::not_supported && !r.declared_limitation.empty()
                                        ? nlohmann::json(r.declared_limitation)
                                        : nlohmann::json(nullptr)},
            {"unexpected_not_supported", is_unexpected_not_supported(r)}, {"stages", stages}};
}

std::string format_table(const std::vector<CaseReport>& reports) {
    struct Line {
        std::string subject, text, outcome, error, row;
    };
    std::vector<Line> lines{{"SUBJECT", "CASE", "OUTCOME", "ERROR / THRESHOLD", "ROW"}};
    for (const auto& r : reports) {
        Line l{r.subject, shorten(r.case_text, 60), std::string(to_string(r.outcome)), "-", "-"};
        if (r.outcome == Outcome::not_supported)
            l.outcome += is_unexpected_not_supported(r) ? " (unexpected)" : " (expected: " + r.declared_limitation + ")";
        if (const CheckResult* c = worst_judged(r)) {
            l.error = error_vs_threshold(*c);
            if (!c->tolerance_row_id.empty()) l.row = c->tolerance_row_id;
        }
        lines.push_back(std::move(l));
    }
    std::size_t w[5] = {};
    for (const auto& l : lines) {
        w[0] = std::max(w[0], l.subject.size());
        w[1] = std::max(w[1], l.text.size());
        w[2] = std::max(w[2], l.outcome.size());
        w[3] = std::max(w[3], l.error.size());
    }
    std::string out;
    for (const auto& l : lines)
        out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", l.subject, w[0], l.text, w[1], l.outcome, w[2],
                           l.error, w[3], l.row);
    return out;
}

std::string format_failure(const CaseReport& r) {
    std::string out = fmt::format("{} {}: {}\n", to_string(r.outcome), r.subject, r.case_text);
    out += fmt::format("  seed: {}\n", r.seed);
    if (!r.math.empty()) out += fmt::format("  math mode: {}\n", r.math);
    if (!r.chunked.empty()) out += fmt::format("  chunked path: {}\n", r.chunked);
    if (!r.reproduce.empty()) out += fmt::format("  reproduce: {}\n", r.reproduce);
    if (!r.message.empty()) out += fmt::format("  message: {}\n", r.message);
    for (const auto& c : r.checks) {
        if (c.outcome == Outcome::passed) continue;
        out += fmt::format("  check \"{}\": {}{}\n", c.name, to_string(c.outcome),
                           c.tolerance_row_id.empty() ? "" : fmt::format(" (judged by tolerance row \"{}\")", c.tolerance_row_id));
        if (!c.detail.empty()) out += fmt::format("    {}\n", c.detail);
        if (c.worst_slice) append_slice(out, *c.worst_slice);
    }
    return out;
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        switch (ch) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default:
            // XML 1.0 cannot carry these at all, not even as character references.
            if (c < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
                out += fmt::format("\\x{:02X}", c);
            else
                out += ch;
        }
    }
    return out;
}

void write_junit(std::ostream& out, const std::vector<CaseReport>& reports, const std::string& suite_name,
                 bool strict) {
    const OutcomeCounts n = count_outcomes(reports);
    const std::int64_t strict_failures = strict ? n.unexpected_not_supported : 0;
    double seconds = 0;
    for (const auto& r : reports) seconds += r.seconds;
    const std::string suite = xml_escape(suite_name);
    const std::string head = fmt::format("name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.6f}\"",
                                         suite, n.total(), n.incorrect + n.failed + strict_failures,
                                         n.not_run + n.not_supported - strict_failures, seconds);
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out << "<testsuites " << head << ">\n";
    out << "  <testsuite " << head << ">\n";
    for (const auto& r : reports) {
        out << fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.6f}\">\n", xml_escape(r.subject),
                           xml_escape(r.case_text), r.seconds);
        std::string outcome(to_string(r.outcome));
        if (r.outcome == Outcome::not_supported)
            outcome += is_unexpected_not_supported(r) ? " (unexpected)" : " (expected: " + r.declared_limitation + ")";
        const std::string message = fmt::format("{}{}{}", outcome, r.message.empty() ? "" : ": ", r.message);
        if (strict && is_unexpected_not_supported(r))
            out << fmt::format("      <failure type=\"{}\" message=\"{}\">{}</failure>\n", to_string(r.outcome),
                               xml_escape(message), xml_escape(format_failure(r)));
        else if (is_failure(r.outcome))
            out << fmt::format("      <failure type=\"{}\" message=\"{}\">{}</failure>\n", to_string(r.outcome),
                               xml_escape(message), xml_escape(format_failure(r)));
        else if (r.outcome == Outcome::not_run || r.outcome == Outcome::not_supported)
            out << fmt::format("      <skipped message=\"{}\"/>\n", xml_escape(message));
        if (!r.reproduce.empty())
            out << fmt::format("      <system-out>seed {}; reproduce: {}</system-out>\n", r.seed, xml_escape(r.reproduce));
        out << "    </testcase>\n";
    }
    out << "  </testsuite>\n</testsuites>\n";
}

std::int64_t OutcomeCounts::of(Outcome outcome) const {
    switch (outcome) {
    case Outcome::passed: return passed;
    case Outcome::not_supported: return not_supported;
    case Outcome::not_run: return not_run;
    case Outcome::incorrect: return incorrect;
    case Outcome::failed: return failed;
    }
    return 0;
}

Outcome OutcomeCounts::worst() const {
    Outcome o = Outcome::passed;
    for (Outcome x : {Outcome::not_supported, Outcome::not_run, Outcome::incorrect, Outcome::failed})
        if (of(x) > 0) o = harness::worst(o, x);
    return o;
}

OutcomeCounts count_outcomes(const std::vector<CaseReport>& reports) {
    OutcomeCounts n;
    for (const auto& r : reports) {
        switch (r.outcome) {
        case Outcome::passed: ++n.passed; break;
        case Outcome::not_supported:
            ++n.not_supported;
            if (is_unexpected_not_supported(r)) ++n.unexpected_not_supported;
            break;
        case Outcome::not_run: ++n.not_run; break;
        case Outcome::incorrect: ++n.incorrect; break;
        case Outcome::failed: ++n.failed; break;
        }
    }
    return n;
}

std::string format_summary(const OutcomeCounts& n) {
    std::string out = fmt::format("{} case{}", n.total(), n.total() == 1 ? "" : "s");
    bool first = true;
    for (Outcome x : {Outcome::passed, Outcome::not_supported, Outcome::not_run, Outcome::incorrect, Outcome::failed}) {
        if (n.of(x) == 0) continue;
        out += fmt::format("{}{} {}", first ? ": " : ", ", n.of(x), to_string(x));
        if (x == Outcome::not_supported && n.unexpected_not_supported)
            out += fmt::format(" ({} unexpected)", n.unexpected_not_supported);
        first = false;
    }
    return out;
}

nlohmann::json summary_to_json(const std::vector<CaseReport>& reports) {
    const OutcomeCounts n = count_outcomes(reports);
    nlohmann::json counts = nlohmann::json::object();
    for (Outcome x : {Outcome::passed, Outcome::not_supported, Outcome::not_run, Outcome::incorrect, Outcome::failed})
        counts[std::string(to_string(x))] = n.of(x);
    nlohmann::json cases = nlohmann::json::array();
    for (const CaseReport& report : reports) cases.push_back(to_json(report));
    const nlohmann::json not_supported = {{"expected", n.not_supported - n.unexpected_not_supported},
                                          {"unexpected", n.unexpected_not_supported}};
    return {{"outcome", std::string(to_string(n.worst()))}, {"total", n.total()}, {"counts", std::move(counts)},
            {"not_supported", not_supported}, {"cases", std::move(cases)}};
}

}  // namespace gdr::harness
