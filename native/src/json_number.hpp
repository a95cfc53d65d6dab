// Numbers written as Python writes them: round(x, ndigits), then repr (json.dumps).
#pragma once

#include <string>

namespace sofp {

// Python's repr of round(x, ndigits): shortest round-trip digits, fixed notation for
// 1e-4 <= |x| < 1e16 ("1.0", "0.25"), else "1e-05"-style exponents; "NaN"/"Infinity" as json.dumps.
std::string py_float(double x, int ndigits);

}  // namespace sofp
