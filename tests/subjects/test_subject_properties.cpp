// The CPU stand-in subject (emulated precision, K-sums in the other order) over the same
// random distribution the GPU kernel is judged on. It is a legal implementation that rounds
// differently from Rlp, so a failure here means the tolerance rule or a harness check is
// wrong, on any machine, before a GPU is involved.
#include <catch2/catch.hpp>

#include "gdr/harness/runner.hpp"
#include "gdr/harness/decode_cases.hpp"
#include "support/rc_property.hpp"
#include "support/builtin_subjects.hpp"

TEST_CASE("cpu subject property: a legal reordering passes every check", "[property][runner]") {
    const auto tolerances = gdr::harness::ToleranceTable::load_default();
    auto subject = gdr::testing::cpu_stand_in();
    const gdr::harness::CaseGenConfig config = gdr::harness::decode_case_config();
    gdr::testing::check_property("cpu-emulated-reversed vs oracle", [&] {
        gdr::harness::CaseSpec spec = *gdr::harness::gen_case(config);
        gdr::harness::bound_work(spec, std::int64_t(1) << 17);  // CI has 2 cores
        const gdr::harness::CaseReport report = gdr::harness::run_case(spec, *subject, tolerances);
        if (report.outcome != gdr::harness::Outcome::passed) RC_FAIL(format_failure(report));
    });
}
