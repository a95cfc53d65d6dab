#include <algorithm>
#include <cmath>

#include "backend.hpp"

namespace sofp {

void softmax_rows(std::vector<float> &z, int n, int c) {
    for (int i = 0; i < n; ++i) {
        float *r = z.data() + static_cast<size_t>(i) * c;
        const float m = *std::max_element(r, r + c);
        float sum = 0.f;
        for (int j = 0; j < c; ++j) sum += (r[j] = std::exp(r[j] - m));
        for (int j = 0; j < c; ++j) r[j] /= sum;
    }
}

}  // namespace sofp
