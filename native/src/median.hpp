// numpy.median of a vector (the mean of the two middle values for an even count); reorders v.
#pragma once

#include <algorithm>
#include <vector>

namespace sofp {

template <typename T>
T median_of(std::vector<T> &v) {
    const size_t n = v.size();
    const size_t mid = n / 2;
    std::nth_element(v.begin(), v.begin() + mid, v.end());
    T hi = v[mid];
    if (n % 2 == 1) return hi;
    T lo = *std::max_element(v.begin(), v.begin() + mid);
    return (lo + hi) / T(2);
}

}  // namespace sofp
