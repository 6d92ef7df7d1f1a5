// The names of the checks a case report carries. Reports, replay files, campaign summaries
// and kill tables compare them, so each is spelled once, here.
#pragma once


namespace gdr::harness::check_names {

inline constexpr char o_vs_r64[] = "o vs R64";
inline constexpr char state_vs_r64[] = "state vs R64";
inline constexpr char o_vs_stepped_r64[] = "o vs stepped R64";
inline constexpr char state_vs_stepped_r64[] = "state vs stepped R64";
inline constexpr char untouched_bank[] = "untouched bank";
inline constexpr char poison_survivors[] = "poison survivors";
inline constexpr char guard_bands[] = "guard bands";
// Writes through out-of-range state_indices into the poisoned bank arena (bank_arena.hpp).
inline constexpr char bank_arena[] = "bank arena";
// Cases with special values: units no special value may reach, bitwise as without them.
inline constexpr char isolation[] = "isolation";
inline constexpr char inputs_unchanged[] = "inputs unchanged";
inline constexpr char determinism[] = "determinism";
// The subject threw while running (a CUDA error, an exception): FAILED.
inline constexpr char error[] = "error";
// Not a check: a report that failed before any check ran (no tolerance row, a spec that
// could not be prepared) is of this class.
inline constexpr char setup[] = "setup";
// Not a check: the kill table's child process for a mutant ended without a result.
inline constexpr char process[] = "process";

// The big-bank case's own bitwise checks (gdr/subjects/big_bank_case.hpp).
inline constexpr char o_vs_small_bank[] = "o vs small bank";
inline constexpr char state_vs_small_bank[] = "state vs small bank";
inline constexpr char untouched_entry[] = "untouched entry";

}  // namespace gdr::harness::check_names
