// The mutation hooks of the kernel families (decode, chunked prefill), and the switch
// between their two builds: the production library (gdr_cuda) and the mutant library
// (gdr_cuda_mutants, compiled with -DGDR_MUTANTS). Every kernel file includes this, so that
// the hooks, and the namespace its code lives in, are the same for all of them.
#pragma once

// Mutation hooks (cuda/include/gdr/cuda/mutants.hpp) mark the place of each deliberate bug:
//   GDR_MUTATE(name, wrong, right)   the expression `right`, or `wrong` in mutant `name`
//   GDR_MUTANT_ONLY(name, stmt)      a statement only mutant `name` executes
//   GDR_UNLESS_MUTANT(name, stmt)    a statement that mutant `name` skips
// In the production build they expand to `right`, nothing and `stmt`: the preprocessed
// kernel is token for token the unhooked one (same PTX, same registers). Compiled with
// -DGDR_MUTANTS (gdr_cuda_mutants) they test the mutant id in the kernel arguments `a` in
// scope (DecodeArgs, ChunkArgs), and the entry points are gdr::cuda::mutants::
// fused_recurrent_decode and gdr::cuda::mutants::chunked_prefill instead.
//
// GDR_KERNEL_NAMESPACE is where a kernel family lives: gdr::cuda, or gdr::cuda::mutants
// in the mutant build, so that the two libraries share no symbol. Each file wraps its code
// in `namespace GDR_KERNEL_NAMESPACE { namespace { ... } }`; only the entry points of
// decode.cu and chunked_prefill.cu are outside the anonymous namespace. (Code with no hook,
// cuda/src/common/'s ProblemArgs and conversions, is plain gdr::cuda, shared by both.)
#ifdef GDR_MUTANTS
#include "gdr/cuda/mutants.hpp"
#define GDR_IS_MUTANT(name) (a.mutant == ::gdr::cuda::Mutant::name)
#define GDR_MUTATE(name, wrong, right) (GDR_IS_MUTANT(name) ? (wrong) : (right))
#define GDR_MUTANT_ONLY(name, ...) do { if (GDR_IS_MUTANT(name)) { __VA_ARGS__; } } while (0)
#define GDR_UNLESS_MUTANT(name, ...) do { if (!GDR_IS_MUTANT(name)) { __VA_ARGS__; } } while (0)
#define GDR_KERNEL_NAMESPACE gdr::cuda::mutants
#else
#define GDR_MUTATE(name, wrong, right) (right)
#define GDR_MUTANT_ONLY(name, ...) ((void)0)
#define GDR_UNLESS_MUTANT(name, ...) __VA_ARGS__
#define GDR_KERNEL_NAMESPACE gdr::cuda
#endif
