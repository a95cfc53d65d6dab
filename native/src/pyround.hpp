// Python's round(x) (half to even) and int(x) (toward zero), so that integer pixel positions
// computed here are the ones runtime/ computes.
#pragma once

#include <cmath>

namespace sofp {

inline int py_round(double x) { return static_cast<int>(std::nearbyint(x)); }  // FE_TONEAREST: half to even
inline int py_int(double x) { return static_cast<int>(std::trunc(x)); }

}  // namespace sofp
