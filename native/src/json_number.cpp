#include "json_number.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace sofp {

std::string py_float(double x, int ndigits) {
    if (std::isnan(x)) return "NaN";
    if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
    // round(x, n): the exact binary value rounded to n decimals (glibc's printf is exact), read back
    char fixed[512];
    std::snprintf(fixed, sizeof fixed, "%.*f", ndigits, x);
    double r = std::strtod(fixed, nullptr);
    if (r == 0) r = std::copysign(0.0, x);
    // shortest round-trip digits and exponent
    char sci[64];
    auto res = std::to_chars(sci, sci + sizeof sci, r, std::chars_format::scientific);
    std::string s(sci, res.ptr);
    const bool neg = s[0] == '-';
    if (neg) s.erase(0, 1);
    const size_t e = s.find('e');
    const int exp10 = std::atoi(s.c_str() + e + 1);
    std::string digits = s.substr(0, e);
    if (digits.size() > 1) digits.erase(1, 1);  // drop the '.'
    std::string out;
    if (exp10 < -4 || exp10 >= 16) {
        out = digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char ebuf[16];
        std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
        out += ebuf;
    } else if (exp10 < 0) {
        out = "0." + std::string(static_cast<size_t>(-exp10 - 1), '0') + digits;
    } else {
        const size_t int_len = static_cast<size_t>(exp10) + 1;
        if (digits.size() <= int_len) out = digits + std::string(int_len - digits.size(), '0') + ".0";
        else out = digits.substr(0, int_len) + "." + digits.substr(int_len);
    }
    return neg ? "-" + out : out;
}

}  // namespace sofp
