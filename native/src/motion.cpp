#include "motion.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "median.hpp"

namespace sofp {

double motion_magnitude(const cv::Mat &flow, double top_fraction, int cell) {
    const int c = std::max(1, cell);
    const int bh = flow.rows / c, bw = flow.cols / c;
    if (bh == 0 || bw == 0) return 0.0;
    std::vector<float> u(static_cast<size_t>(bh) * bw), v(u.size());
    const float inv = 1.0f / static_cast<float>(c * c);
    for (int by = 0; by < bh; ++by)
        for (int bx = 0; bx < bw; ++bx) {
            float su = 0.f, sv = 0.f;
            for (int y = by * c; y < (by + 1) * c; ++y) {
                const cv::Vec2f *r = flow.ptr<cv::Vec2f>(y);
                for (int x = bx * c; x < (bx + 1) * c; ++x) {
                    su += r[x][0];
                    sv += r[x][1];
                }
            }
            u[static_cast<size_t>(by) * bw + bx] = su * inv;
            v[static_cast<size_t>(by) * bw + bx] = sv * inv;
        }
    std::vector<float> tmp = u;
    const float mu = median_of(tmp);
    tmp = v;
    const float mv = median_of(tmp);
    std::vector<float> mag(u.size());
    for (size_t i = 0; i < u.size(); ++i) {
        const float a = u[i] - mu, b = v[i] - mv;
        mag[i] = a * a + b * b;
    }
    const size_t n = mag.size();
    const size_t k = std::max<size_t>(1, static_cast<size_t>(std::nearbyint(static_cast<double>(n) * top_fraction)));
    std::nth_element(mag.begin(), mag.begin() + (n - k), mag.end());
    float sum = 0.f;
    for (size_t i = n - k; i < n; ++i) sum += std::sqrt(mag[i]);
    return static_cast<double>(sum / static_cast<float>(k));
}

}  // namespace sofp
