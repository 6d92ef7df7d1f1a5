// Coverage classes of a case: which of docs/SPEC.md's risky features a case exercises, counted
// by fuzz campaigns so that a campaign's summary shows what it actually tested (a campaign
// that never wrapped a circular buffer proves nothing about wraparound).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gdr/harness/generate.hpp"

namespace gdr::fuzz {

// The class names, spelled once (summaries, progress lines and tests compare them).
namespace coverage_class {
// circular, and some active row's cache_seqlen + its token count crosses a multiple of
// Slots (it writes past the last slot)
inline constexpr char wraparound[] = "wraparound";
inline constexpr char slots_equal_t[] = "slots == T";  // circular, Slots == tokens per row (production)
inline constexpr char single_slot[] = "slots == 1";
inline constexpr char inactive_rows[] = "inactive rows";  // an index out of [0, N) or a negative cache_seqlen
inline constexpr char negative_seqlens[] = "negative cache_seqlens";
inline constexpr char grouped_heads[] = "grouped heads";  // HV > H
inline constexpr char varlen[] = "varlen";
inline constexpr char strided[] = "strided";
inline constexpr char exact[] = "exact";
inline constexpr char l2norm[] = "l2norm";
inline constexpr char no_g[] = "no g";
inline constexpr char no_beta[] = "no beta";
inline constexpr char layout_kv[] = "layout=kv";
inline constexpr char layout_vk[] = "layout=vk";
inline constexpr char boundary_key_dim[] = "K at a boundary";    // K in harness::boundary_head_dims()
inline constexpr char boundary_value_dim[] = "V at a boundary";  // V in harness::boundary_head_dims()
inline constexpr char special_values[] = "special values";  // NaN, +-Inf or subnormals placed (specials=)
// With a chunk size C (campaigns with chunk lengths): an active row of more than C tokens (the
// state carried from chunk to chunk), and an active row whose length is C - 1, C or C + 1
// modulo C and at least C - 1 (a row ending just before, at or just after a chunk boundary).
inline constexpr char multi_chunk[] = "multi-chunk row";
inline constexpr char chunk_boundary[] = "row at a chunk boundary";
}  // namespace coverage_class

// "in=<dtype> state=<dtype>": the (input, state) dtype pair class.
std::string dtype_pair_class(DType input, DType state);

// The classes `host` belongs to, from its materialized arrays (materialize_indexing() is
// enough) (so wraparound is judged on
// the cache_seqlens actually drawn, not on seqlen_max): the names above and its dtype pair;
// the chunk classes only with a chunk size C > 0.
std::vector<std::string> coverage_classes(const harness::HostCase& host, std::int64_t chunk_size = 0);

// Every class coverage_classes(..., chunk_size) can name (all nine dtype pairs), so that a
// summary can show the classes a campaign never reached as 0.
std::vector<std::string> all_coverage_classes(std::int64_t chunk_size = 0);

}  // namespace gdr::fuzz
