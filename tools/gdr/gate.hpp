// The CI gate of every `gdr` command: exit codes, GDR_REQUIRE_GPU and strictness, decided in
// one place.
//   0   every comparison PASSED, or was NOT_SUPPORTED (outside strict mode: any; in strict
//       mode only one that a declared limitation of its subject covers), or a GPU subject
//       could not run here (NOT_RUN) and GDR_REQUIRE_GPU is not 1
//   1   something was INCORRECT or FAILED; strict mode (--strict, GDR_STRICT=1) and an
//       unexpected NOT_SUPPORTED; or GDR_REQUIRE_GPU=1 and no GPU subject ran: a GPU subject
//       was NOT_RUN, or the verb was given a subject that needs no GPU
//   2   bad command-line input, an invalid case spec or a malformed replay file
//   77  `gdr replay` only: a GPU subject could not run here (ctest reads it as skipped)
// Whether a subject needs a GPU is its registry entry's to say (subjects/registry.hpp), and
// which NOT_SUPPORTED cases are expected its declared limitations' (subjects/limitation.hpp);
// the rules themselves are subjects/gate.hpp's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gdr/harness/report.hpp"
#include "gdr/harness/require_gpu.hpp"
#include "gdr/subjects/gate.hpp"
#include "gdr/subjects/registry.hpp"

namespace gdr::cli {

constexpr int exit_ok = 0, exit_failed = 1, exit_usage = 2, exit_skipped = 77;

using subjects::default_subject;
using subjects::Gate;
using subjects::strict_by_environment;

}  // namespace gdr::cli
