#include "gdr/reference/oracle_threads.hpp"

#include <algorithm>

#include <omp.h>

namespace gdr::reference {

void set_oracle_threads(int threads) { omp_set_num_threads(std::max(1, threads)); }

int oracle_threads() { return omp_get_max_threads(); }

}  // namespace gdr::reference
