// The clock the in-process benchmarks time with, and microseconds of it.
#pragma once

#include <chrono>

namespace pmesh::bench {

using Clock = std::chrono::steady_clock;
inline double us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

}  // namespace pmesh::bench
