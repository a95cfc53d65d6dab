#include "area_resize.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace sofp {

namespace {

struct Tap {
    int dst, src;
    float alpha;
};

// OpenCV's computeResizeAreaTab (modules/imgproc/src/resize.cpp), one channel.
std::vector<Tap> area_taps(int ssize, int dsize, double scale) {
    std::vector<Tap> tab;
    for (int dx = 0; dx < dsize; ++dx) {
        const double fsx1 = dx * scale, fsx2 = fsx1 + scale;
        const double cell = std::min(scale, ssize - fsx1);
        int sx1 = static_cast<int>(std::ceil(fsx1)), sx2 = static_cast<int>(std::floor(fsx2));
        sx2 = std::min(sx2, ssize - 1);
        sx1 = std::min(sx1, sx2);
        if (sx1 - fsx1 > 1e-3) tab.push_back({dx, sx1 - 1, static_cast<float>((sx1 - fsx1) / cell)});
        for (int sx = sx1; sx < sx2; ++sx) tab.push_back({dx, sx, static_cast<float>(1.0 / cell)});
        if (fsx2 - sx2 > 1e-3)
            tab.push_back({dx, sx2, static_cast<float>(std::min(std::min(fsx2 - sx2, 1.), cell) / cell)});
    }
    return tab;
}

}  // namespace

void AreaResizer::build(int src_size, int dst_size, Taps &taps, std::vector<int> &first, std::vector<int> &rows,
                        std::vector<float> &row_weights) {
    // cv::resize passes dst/src as inv_scale and the HAL takes its reciprocal: the same double here.
    const double scale = 1.0 / (static_cast<double>(dst_size) / src_size);
    const std::vector<Tap> tab = area_taps(src_size, dst_size, scale);
    std::vector<int> count(static_cast<size_t>(dst_size), 0);
    for (const Tap &t : tab) ++count[static_cast<size_t>(t.dst)];
    taps.count = *std::max_element(count.begin(), count.end());
    const size_t n = static_cast<size_t>(dst_size);
    taps.index.assign(static_cast<size_t>(taps.count) * n, 0);
    taps.weight.assign(taps.index.size(), 0.f);  // padding taps add S * 0 = +0, which leaves a sum unchanged
    std::fill(count.begin(), count.end(), 0);
    first.assign(n + 1, 0);
    rows.clear();
    row_weights.clear();
    for (const Tap &t : tab) {
        const size_t i = static_cast<size_t>(t.dst), k = static_cast<size_t>(count[i]++);
        taps.index[k * n + i] = t.src;
        taps.weight[k * n + i] = t.alpha;
        rows.push_back(t.src);
        row_weights.push_back(t.alpha);
        first[i + 1] = static_cast<int>(rows.size());
    }
}

void AreaResizer::operator()(const cv::Mat &src, cv::Mat &dst, cv::Size size) {
    const bool integer_x = src.cols % size.width == 0, integer_y = src.rows % size.height == 0;
    if (src.type() != CV_8UC1 || size.width > src.cols || size.height > src.rows || (integer_x && integer_y)) {
        cv::resize(src, dst, size, 0, 0, cv::INTER_AREA);
        return;
    }
    if (src.size() != from_ || size != to_) {
        Taps unused;
        std::vector<int> x_first, x_rows;
        std::vector<float> x_weights;
        build(src.cols, size.width, x_, x_first, x_rows, x_weights);
        build(src.rows, size.height, unused, y_first_, y_rows_, y_weights_);
        from_ = src.size();
        to_ = size;
    }
    const int w = size.width, taps = x_.count;
    horizontal_.create(src.rows, w, CV_32F);
    for (int y = 0; y < src.rows; ++y) {
        const uchar *s = src.ptr<uchar>(y);
        float *h = horizontal_.ptr<float>(y);
        std::fill(h, h + w, 0.f);
        for (int t = 0; t < taps; ++t) {
            const int *idx = &x_.index[static_cast<size_t>(t) * w];
            const float *a = &x_.weight[static_cast<size_t>(t) * w];
            for (int x = 0; x < w; ++x) h[x] += s[idx[x]] * a[x];
        }
    }
    dst.create(size, CV_8UC1);
    std::vector<float> sum(static_cast<size_t>(w));
    for (int dy = 0; dy < size.height; ++dy) {
        const int j0 = y_first_[static_cast<size_t>(dy)], j1 = y_first_[static_cast<size_t>(dy) + 1];
        const float *h = horizontal_.ptr<float>(y_rows_[static_cast<size_t>(j0)]);
        const float b0 = y_weights_[static_cast<size_t>(j0)];
        for (int x = 0; x < w; ++x) sum[static_cast<size_t>(x)] = b0 * h[x];
        for (int j = j0 + 1; j < j1; ++j) {
            const float *hj = horizontal_.ptr<float>(y_rows_[static_cast<size_t>(j)]);
            const float b = y_weights_[static_cast<size_t>(j)];
            for (int x = 0; x < w; ++x) sum[static_cast<size_t>(x)] += b * hj[x];
        }
        uchar *d = dst.ptr<uchar>(dy);
        for (int x = 0; x < w; ++x) d[x] = cv::saturate_cast<uchar>(sum[static_cast<size_t>(x)]);
    }
}

}  // namespace sofp
