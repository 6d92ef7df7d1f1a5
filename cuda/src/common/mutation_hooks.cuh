// The mutation hooks of the decode kernel family, and the switch between its two builds:
// the production library (gdr_cuda) and the mutant library (gdr_cuda_mutants, compiled
// with -DGDR_MUTANTS). Every file of cuda/src/decode/ includes this, so that the hooks,
// and the namespace its code lives in, are the same for all of them.
#pragma once

// Mutation hooks (cuda/include/gdr/cuda/mutants.hpp) mark the place of each deliberate bug:
//   GDR_MUTATE(name, wrong, right)   the expression `right`, or `wrong` in mutant `name`
//   GDR_MUTANT_ONLY(name, stmt)      a statement only mutant `name` executes
//   GDR_UNLESS_MUTANT(name, stmt)    a statement that mutant `name` skips
// In the production build they expand to `right`, nothing and `stmt`: the preprocessed
// kernel is token for token the unhooked one (same PTX, same registers). Compiled with
// -DGDR_MUTANTS (gdr_cuda_mutants) they test the mutant id in the DecodeArgs `a` in scope,
// and the entry point is gdr::cuda::mutants::fused_recurrent_decode instead.
//
// GDR_DECODE_NAMESPACE is where the kernel family lives: gdr::cuda, or gdr::cuda::mutants
// in the mutant build, so that the two libraries share no symbol. Each file wraps its code
// in `namespace GDR_DECODE_NAMESPACE { namespace { ... } }`; only decode.cu's entry points
// are outside the anonymous namespace.
#ifdef GDR_MUTANTS
#include "gdr/cuda/mutants.hpp"
#define GDR_IS_MUTANT(name) (a.mutant == ::gdr::cuda::Mutant::name)
#define GDR_MUTATE(name, wrong, right) (GDR_IS_MUTANT(name) ? (wrong) : (right))
#define GDR_MUTANT_ONLY(name, ...) do { if (GDR_IS_MUTANT(name)) { __VA_ARGS__; } } while (0)
#define GDR_UNLESS_MUTANT(name, ...) do { if (!GDR_IS_MUTANT(name)) { __VA_ARGS__; } } while (0)
#define GDR_DECODE_NAMESPACE gdr::cuda::mutants
#else
#define GDR_MUTATE(name, wrong, right) (right)
#define GDR_MUTANT_ONLY(name, ...) ((void)0)
#define GDR_UNLESS_MUTANT(name, ...) __VA_ARGS__
#define GDR_DECODE_NAMESPACE gdr::cuda
#endif
