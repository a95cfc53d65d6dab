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

void Stabiliser::estimate(const cv::Mat &reference, cv::Mat &reference_spectrum, const cv::Mat &gray,
                          cv::Mat &gray_spectrum, float &tx, float &ty) {
    tx = ty = 0.f;
    if (p_.method == "none") return;
    if (reference_spectrum.empty()) reference_spectrum = correlator_.spectrum(reference);
    if (gray_spectrum.empty()) gray_spectrum = correlator_.spectrum(gray);
    const cv::Point2d shift = correlator_.shift(reference, reference_spectrum, gray, gray_spectrum);
    double dx = shift.x, dy = shift.y;
    const double limit = p_.max_shift_frac * reference.cols;
    if (!(std::fabs(dx) < limit && std::fabs(dy) < limit)) return;
    const int b = p_.border;
    const int h = reference.rows, w = reference.cols;
    if (std::min(h, w) > 4 * b) {  // add the median of a DIS flow between reference and the coarse alignment
        const cv::Mat back = warp_back(gray, static_cast<float>(dx), static_cast<float>(dy));
        const cv::Mat flow = dis_.compute(reference, back)(cv::Range(b, h - b), cv::Range(b, w - b));
        u_.resize(static_cast<size_t>(flow.rows) * flow.cols);
        v_.resize(u_.size());
        size_t i = 0;
        for (int y = 0; y < flow.rows; ++y) {
            const cv::Vec2f *r = flow.ptr<cv::Vec2f>(y);
            for (int x = 0; x < flow.cols; ++x, ++i) {
                u_[i] = r[x][0];
                v_[i] = r[x][1];
            }
        }
        dx += static_cast<double>(median_of(u_));
        dy += static_cast<double>(median_of(v_));
    }
    tx = static_cast<float>(dx);
    ty = static_cast<float>(dy);
}

cv::Mat Stabiliser::align(const cv::Mat &reference, const cv::Mat &gray) {
    cv::Mat reference_spectrum, gray_spectrum;
    return align(reference, reference_spectrum, gray, gray_spectrum);
}

cv::Mat Stabiliser::align(const cv::Mat &reference, cv::Mat &reference_spectrum, const cv::Mat &gray,
                          cv::Mat &gray_spectrum) {
    float tx = 0, ty = 0;
    estimate(reference, reference_spectrum, gray, gray_spectrum, tx, ty);
    if (!(std::fabs(tx) > 1e-4f || std::fabs(ty) > 1e-4f)) return gray;
    return warp_back(gray, tx, ty);
}

}  // namespace sofp
