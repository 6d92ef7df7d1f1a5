// How many threads the oracle's runs use. run_fused_recurrent spreads its (row, head)
// recurrences over OpenMP threads; results are bitwise the same for any count.
#pragma once

namespace gdr::reference {

// For oracle runs started from the calling thread from now on (an OpenMP per-thread
// setting): a campaign with W workers gives each worker cores / W. Default: every core
// (OMP_NUM_THREADS sets it too). threads < 1 counts as 1.
void set_oracle_threads(int threads);
int oracle_threads();  // the count the calling thread's next run would use at most

}  // namespace gdr::reference
