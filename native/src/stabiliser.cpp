#include "stabiliser.hpp"

#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "median.hpp"

namespace sofp {

namespace {

cv::Mat translation(float tx, float ty) { return (cv::Mat_<float>(2, 3) << 1, 0, tx, 0, 1, ty); }

cv::Mat warp_back(const cv::Mat &gray, float tx, float ty) {
    cv::Mat out;
    cv::warpAffine(gray, out, translation(tx, ty), gray.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                   cv::BORDER_REPLICATE);
    return out;
}

}  // namespace

Stabiliser::Stabiliser(const StabiliserParams &params, const nlohmann::json &dis_presets)
    : p_(params), dis_(dis_presets, params.refine_preset) {}

void Stabiliser::estimate(const cv::Mat &reference, const cv::Mat &gray, float &tx, float &ty) {
    tx = ty = 0.f;
    if (p_.method == "none") return;
    cv::Mat ref, cur;
    reference.convertTo(ref, CV_32F);
    gray.convertTo(cur, CV_32F);
    if (window_.size() != ref.size()) cv::createHanningWindow(window_, ref.size(), CV_32F);
    const cv::Point2d shift = cv::phaseCorrelate(ref, cur, window_);
    double dx = shift.x, dy = shift.y;
    const double limit = p_.max_shift_frac * ref.cols;
    if (!(std::fabs(dx) < limit && std::fabs(dy) < limit)) return;
    const int b = p_.border;
    const int h = reference.rows, w = reference.cols;
    if (std::min(h, w) > 4 * b) {  // add the median of a DIS flow between reference and the coarse alignment
        const cv::Mat back = warp_back(gray, static_cast<float>(dx), static_cast<float>(dy));
        const cv::Mat flow = dis_.compute(reference, back)(cv::Range(b, h - b), cv::Range(b, w - b));
        std::vector<float> u, v;
        u.reserve(static_cast<size_t>(flow.rows) * flow.cols);
        v.reserve(u.capacity());
        for (int y = 0; y < flow.rows; ++y) {
            const cv::Vec2f *r = flow.ptr<cv::Vec2f>(y);
            for (int x = 0; x < flow.cols; ++x) {
                u.push_back(r[x][0]);
                v.push_back(r[x][1]);
            }
        }
        dx += static_cast<double>(median_of(u));
        dy += static_cast<double>(median_of(v));
    }
    tx = static_cast<float>(dx);
    ty = static_cast<float>(dy);
}

cv::Mat Stabiliser::align(const cv::Mat &reference, const cv::Mat &gray) {
    float tx = 0, ty = 0;
    estimate(reference, gray, tx, ty);
    if (!(std::fabs(tx) > 1e-4f || std::fabs(ty) > 1e-4f)) return gray;
    return warp_back(gray, tx, ty);
}

}  // namespace sofp
