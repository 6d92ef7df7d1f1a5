// The isolation check of cases with special values (docs/SPEC.md "Special values"): the
// subject runs once more on the same case without them, and every (row, value head) of o
// and every (bank entry, value head) of the bank that no special value may reach
// (special_values.hpp, affected_units) must be bitwise identical between the two runs.
#pragma once

#include "gdr/harness/generate.hpp"
#include "gdr/harness/report.hpp"
#include "gdr/harness/subject.hpp"

namespace gdr::harness {

// `with` holds the subject's results on `host` (which has specials). Runs the subject on
// the case without them; its exceptions propagate (the runner reports them).
// The run's wall time is added to `subject_seconds`.
CheckResult judge_isolation(const HostCase& host, Subject& subject, const RunBuffers& with, double& subject_seconds);

}  // namespace gdr::harness
