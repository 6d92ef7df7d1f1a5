// The oracle runs on a compact bank of the entries active rows touch (oracle_bank.hpp); it
// must give, bitwise, what the run on the whole bank gives at those entries.
#include <catch2/catch.hpp>

#include <cstring>

#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/oracle_bank.hpp"
#include "gdr/reference/fused_recurrent.hpp"
#include "gdr/reference/oracle_threads.hpp"

using namespace gdr;
using namespace gdr::harness;

namespace {

// R64 of `host` on the whole bank and on the compact one; true when o and every compact
// entry are bitwise those of the whole run.
bool compact_run_matches(const HostCase& host) {
    RunBuffers whole = make_run_buffers(host, DType::f64, DType::f64);
    reference::run_fused_recurrent(make_problem(host, whole), {});
    const OracleBank bank = oracle_bank(host);
    RunBuffers compact = make_oracle_buffers(host, bank, DType::f64, DType::f64);
    reference::run_fused_recurrent(make_oracle_problem(host, bank, compact), {});
    if (whole.o.bytes() != compact.o.bytes()) return false;
    const std::size_t entry_bytes = whole.bank.storage_bytes() / std::size_t(whole.bank.shape()[0]);
    for (std::size_t c = 0; c < bank.entries.size(); ++c)
        if (std::memcmp(static_cast<const std::byte*>(compact.bank.data()) + c * entry_bytes,
                        static_cast<const std::byte*>(whole.bank.data()) + std::size_t(bank.entries[c]) * entry_bytes,
                        entry_bytes) != 0)
            return false;
    return true;
}

}  // namespace

TEST_CASE("oracle bank: the active rows' entries, ascending, each row renumbered into them", "[oracle_bank]") {
    const HostCase host = materialize(parse_text("B=3 T=1 H=1 HV=1 K=4 V=4 N=9 explicit_indices=7,-1,2 seed=1"));
    const OracleBank bank = oracle_bank(host);
    CHECK(bank.entries == std::vector<std::int64_t>{2, 7});
    CHECK(bank.row_indices == std::vector<std::int64_t>{1, -1, 0});
    CHECK(bank.compact_entry(7) == 1);
    CHECK(bank.compact_entry(3) == -1);
    CHECK(gather_entries(host.initial_bank, bank).shape()[0] == 2);
}

TEST_CASE("oracle bank: R64 on the compact bank is bitwise R64 on the whole bank", "[oracle_bank]") {
    for (const char* text : {"B=4 T=3 H=2 HV=4 K=16 V=8 N=40 indices=permutation inactive=1 seed=2",
                             "B=3 T=4 H=1 HV=2 K=8 V=8 layout=vk state=bf16 slots=4 circular=1 seqlen_max=9 N=12 "
                             "indices=permutation seed=3",
                             "B=1 T=5 H=1 HV=2 K=8 V=4 varlen=1 seq_lengths=2,0,3 N=6 indices=permutation seed=4",
                             "B=2 T=2 H=1 HV=1 K=4 V=4 seed=5"}) {
        INFO(text);
        CHECK(compact_run_matches(materialize(parse_text(text))));
    }
}

TEST_CASE("oracle bank: no active row gives a one-entry bank the run never reads", "[oracle_bank]") {
    const HostCase host = materialize(parse_text("B=2 T=1 H=1 HV=1 K=4 V=4 N=5 explicit_indices=-1,9 seed=6"));
    const OracleBank bank = oracle_bank(host);
    CHECK(bank.entries.empty());
    CHECK(bank.bank_entries() == 1);
    CHECK(compact_run_matches(host));
}

TEST_CASE("oracle: the (row, head) recurrences give the same bytes on any number of threads", "[oracle_bank]") {
    const HostCase host = materialize(parse_text("B=6 T=3 H=2 HV=4 K=32 V=16 N=10 indices=permutation seed=7"));
    const int threads = reference::oracle_threads();
    const auto run_on = [&](int count) {
        reference::set_oracle_threads(count);
        RunBuffers buffers = make_run_buffers(host, host.spec.input_dtype, host.spec.state_dtype);
        reference::run_fused_recurrent(make_problem(host, buffers), {reference::Precision::emulated_fp32});
        return buffers;
    };
    const RunBuffers one = run_on(1), three = run_on(3);
    reference::set_oracle_threads(threads);
    CHECK(one.o.bytes() == three.o.bytes());
    CHECK(one.bank.bytes() == three.bank.bytes());
}
