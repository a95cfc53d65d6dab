#include "features.hpp"

#include <cmath>

#include <opencv2/imgproc.hpp>

namespace sofp {

namespace {

// numpy.gradient along x (axis 1) and y (axis 0) of one channel, float32 arithmetic as numpy does.
void gradient(const cv::Mat &a, cv::Mat &dx, cv::Mat &dy) {
    const int h = a.rows, w = a.cols;
    dx.create(h, w, CV_32F);
    dy.create(h, w, CV_32F);
    for (int y = 0; y < h; ++y) {
        const float *r = a.ptr<float>(y);
        float *gx = dx.ptr<float>(y);
        if (w == 1) gx[0] = 0.f;
        else {
            gx[0] = r[1] - r[0];
            gx[w - 1] = r[w - 1] - r[w - 2];
            for (int x = 1; x < w - 1; ++x) gx[x] = (r[x + 1] - r[x - 1]) / 2.f;
        }
    }
    for (int y = 0; y < h; ++y) {
        float *gy = dy.ptr<float>(y);
        if (h == 1) {
            for (int x = 0; x < w; ++x) gy[x] = 0.f;
        } else if (y == 0 || y == h - 1) {
            const float *hi = a.ptr<float>(y == 0 ? 1 : h - 1);
            const float *lo = a.ptr<float>(y == 0 ? 0 : h - 2);
            for (int x = 0; x < w; ++x) gy[x] = hi[x] - lo[x];
        } else {
            const float *hi = a.ptr<float>(y + 1);
            const float *lo = a.ptr<float>(y - 1);
            for (int x = 0; x < w; ++x) gy[x] = (hi[x] - lo[x]) / 2.f;
        }
    }
}

cv::Mat minmax_u8(const cv::Mat &c) {
    double lo = 0, hi = 0;
    cv::minMaxLoc(c, &lo, &hi);
    cv::Mat out(c.size(), CV_8U, cv::Scalar(0));
    if (hi - lo < 1e-12) return out;
    // numpy: (channel - lo) * (255 / (hi - lo)) with float32 channel and Python-float scalars, then rint
    const float flo = static_cast<float>(lo);
    const double scale = 255.0 / (hi - lo);
    const float fscale = static_cast<float>(scale);
    for (int y = 0; y < c.rows; ++y) {
        const float *r = c.ptr<float>(y);
        uint8_t *o = out.ptr<uint8_t>(y);
        for (int x = 0; x < c.cols; ++x) {
            float v = std::nearbyint((r[x] - flo) * fscale);
            o[x] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
        }
    }
    return out;
}

}  // namespace

cv::Mat optical_strain(const cv::Mat &flow) {
    cv::Mat ch[2];
    cv::split(flow, ch);
    cv::Mat ux, uy, vx, vy;
    gradient(ch[0], ux, uy);
    gradient(ch[1], vx, vy);
    cv::Mat out(flow.size(), CV_32F);
    for (int y = 0; y < flow.rows; ++y) {
        const float *a = ux.ptr<float>(y), *b = vy.ptr<float>(y), *c = uy.ptr<float>(y), *d = vx.ptr<float>(y);
        float *o = out.ptr<float>(y);
        for (int x = 0; x < flow.cols; ++x) {
            float s = c[x] + d[x];
            o[x] = std::sqrt(a[x] * a[x] + b[x] * b[x] + 0.5f * (s * s));
        }
    }
    return out;
}

cv::Mat flow_to_features(const cv::Mat &flow, int size) {
    CV_Assert(flow.type() == CV_32FC2 && !flow.empty());
    cv::Mat ch[2];
    cv::split(flow, ch);
    cv::Mat stack;
    cv::merge(std::vector<cv::Mat>{ch[0], ch[1], optical_strain(flow)}, stack);
    cv::Mat small;
    cv::resize(stack, small, cv::Size(size, size), 0, 0, cv::INTER_AREA);
    cv::Mat sc[3];
    cv::split(small, sc);
    cv::Mat out;
    cv::merge(std::vector<cv::Mat>{minmax_u8(sc[0]), minmax_u8(sc[1]), minmax_u8(sc[2])}, out);
    return out;
}

cv::Mat mirror_features(const cv::Mat &features) {
    cv::Mat out;
    cv::flip(features, out, 1);
    for (int y = 0; y < out.rows; ++y) {
        cv::Vec3b *r = out.ptr<cv::Vec3b>(y);
        for (int x = 0; x < out.cols; ++x) r[x][0] = static_cast<uint8_t>(255 - r[x][0]);
    }
    return out;
}

void append_input(const cv::Mat &features, std::vector<float> &batch) {
    const int n = features.rows * features.cols;
    const size_t at = batch.size();
    batch.resize(at + 3 * static_cast<size_t>(n));
    for (int y = 0; y < features.rows; ++y) {
        const cv::Vec3b *r = features.ptr<cv::Vec3b>(y);
        for (int x = 0; x < features.cols; ++x)
            for (int c = 0; c < 3; ++c)
                batch[at + static_cast<size_t>(c) * n + static_cast<size_t>(y) * features.cols + x] =
                    static_cast<float>(r[x][c]) / 255.0f;
    }
}

}  // namespace sofp
