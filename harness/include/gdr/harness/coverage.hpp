// Coverage classes of a case: which of docs/SPEC.md's risky features a case exercises, counted
// by fuzz campaigns so that a campaign's summary shows what it actually tested (a campaign
// that never wrapped a circular buffer proves nothing about wraparound).
#pragma once

#include <string>
#include <vector>

#include "gdr/harness/generate.hpp"

namespace gdr::harness {

// The classes `host` belongs to, from its materialized arrays (so wraparound is judged on
// the cache_seqlens actually drawn, not on seqlen_max):
//   "wraparound"          circular, and some active row's cache_seqlen + its token count
//                         crosses a multiple of Slots (it writes past the last slot)
//   "slots == T"          circular with Slots equal to the tokens per row (the production case)
//   "slots == 1"          circular with a single slot
//   "inactive rows"       some row is inactive (state index out of [0, N) or negative cache_seqlen)
//   "negative cache_seqlens"
//   "grouped heads"       HV > H
//   "varlen", "strided", "exact", "l2norm", "no g", "no beta"
//   "layout=kv" / "layout=vk"
//   "in=<dtype> state=<dtype>"   the (input, state) dtype pair
std::vector<std::string> coverage_classes(const HostCase& host);

// Every class coverage_classes() can name (all nine dtype pairs), so that a summary can
// show the classes a campaign never reached as 0.
std::vector<std::string> all_coverage_classes();

}  // namespace gdr::harness
