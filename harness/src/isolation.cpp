#include "gdr/harness/isolation.hpp"

#include <cstring>

#include <fmt/format.h>

#include "gdr/harness/check_names.hpp"
#include "gdr/harness/special_values.hpp"

namespace gdr::harness {

CheckResult judge_isolation(const HostCase& host, Subject& subject, const RunBuffers& with, double& subject_seconds) {
    CaseSpec plain_spec = host.spec;
    plain_spec.specials.clear();
    const HostCase plain = materialize(plain_spec);
    RunBuffers without = make_subject_buffers(plain, plain_spec.input_dtype, plain_spec.state_dtype, with.state_writes);
    const Problem problem = make_problem(plain, without);
    timed_run(subject, problem, subject_seconds);

    const AffectedUnits affected = affected_units(host);
    const CaseSpec& s = host.spec;
    const std::int64_t HV = s.num_value_heads;
    std::int64_t compared = 0, differing = 0;
    std::string first;
    const auto compare = [&](const HostTensor& a, const HostTensor& b, std::int64_t element, std::int64_t count,
                             const std::string& label) {
        const std::size_t size = dtype_size(a.dtype());
        ++compared;
        if (std::memcmp(static_cast<const std::byte*>(a.data()) + std::size_t(element) * size,
                        static_cast<const std::byte*>(b.data()) + std::size_t(element) * size, std::size_t(count) * size) == 0)
            return;
        if (++differing == 1) first = label;
    };
    for (std::int64_t r = 0; r < problem.rows(); ++r) {
        const RowTokens tokens = row_tokens(problem, r);
        for (std::int64_t hv = 0; hv < HV; ++hv) {
            if (affected.row_heads.count({r, hv})) continue;
            for (std::int64_t t = tokens.begin; t < tokens.end; ++t)
                compare(with.o, without.o, ((tokens.batch_row * s.seq_len + t) * HV + hv) * s.value_dim, s.value_dim,
                        fmt::format("o[b={},t={},hv={}]", tokens.batch_row, t, hv));
        }
    }
    const std::int64_t matrix = s.key_dim * s.value_dim;
    for (std::int64_t n = 0; n < s.resolved_bank_entries(); ++n)
        for (std::int64_t hv = 0; hv < HV; ++hv) {
            if (affected.entry_heads.count({n, hv})) continue;
            for (std::int64_t slot = 0; slot < s.slots; ++slot)
                compare(with.bank, without.bank, ((n * s.slots + slot) * HV + hv) * matrix, matrix,
                        fmt::format("state[n={},slot={},hv={}]", n, slot, hv));
        }
    if (differing)
        return {check_names::isolation, Outcome::incorrect,
                fmt::format("{} of {} units no special value may reach differ from the run without them; first: {}",
                            differing, compared, first),
                {}, ""};
    return {check_names::isolation, Outcome::passed,
            fmt::format("{} units no special value may reach are bitwise as without them ({} (row, head) and {} "
                        "(entry, head) units excluded)",
                        compared, affected.row_heads.size(), affected.entry_heads.size()),
            {}, ""};
}

}  // namespace gdr::harness
