#include "phase_correlation.hpp"

#include <cfloat>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace sofp {

namespace {

// z1 * conj(z2), normalised to unit magnitude: cv::phaseCorrelate's mulSpectrums (conjB), magSpectrums
// and divSpectrums fused into one pass, with their arithmetic (float products, double division).
inline void cross_power(float a_re, float a_im, float b_re, float b_im, float &out_re, float &out_im) {
    const float re = a_re * b_re + a_im * b_im;
    const float im = a_im * b_re - a_re * b_im;
    const float m = static_cast<float>(std::sqrt(static_cast<double>(re) * re + static_cast<double>(im) * im));
    const double denom = static_cast<double>(m) * m + static_cast<double>(FLT_EPSILON);
    out_re = static_cast<float>(static_cast<double>(re) * m / denom);
    out_im = static_cast<float>(static_cast<double>(im) * m / denom);
}

// A purely real CCS entry (DC and Nyquist terms).
inline float cross_power_real(float a, float b) {
    const float p = a * b;
    return p / (std::fabs(p) + FLT_EPSILON);
}

}  // namespace

void PhaseCorrelator::ensure(cv::Size crop) {
    if (crop == crop_) return;
    crop_ = crop;
    padded_ = cv::Size(cv::getOptimalDFTSize(crop.width), cv::getOptimalDFTSize(crop.height));
    cv::createHanningWindow(window_, crop, CV_32F);
    buffer_ = cv::Mat::zeros(padded_, CV_32F);
}

cv::Mat PhaseCorrelator::spectrum(const cv::Mat &gray) {
    ensure(gray.size());
    cv::Mat roi = buffer_(cv::Rect(0, 0, crop_.width, crop_.height));  // the rest stays zero
    gray.convertTo(roi, CV_32F);
    cv::multiply(window_, roi, roi);
    cv::Mat out;
    cv::dft(buffer_, out, cv::DFT_REAL_OUTPUT, crop_.height);  // rows below the crop are zero
    return out;
}

cv::Point2d PhaseCorrelator::shift(const cv::Mat &ref, const cv::Mat &ref_spectrum, const cv::Mat &cur,
                                   const cv::Mat &cur_spectrum) {
    ensure(ref.size());
    const int rows = padded_.height, cols = padded_.width;
    if (rows % 2 || cols % 2 || rows < 4 || cols < 4) {  // the CCS layout below is the even x even one
        cv::Mat r, c;
        ref.convertTo(r, CV_32F);
        cur.convertTo(c, CV_32F);
        return cv::phaseCorrelate(r, c, window_);
    }
    product_.create(rows, cols, CV_32F);
    for (int col : {0, cols - 1}) {  // columns 0 and cols-1: real at rows 0 and rows-1, pairs down the column
        product_.at<float>(0, col) = cross_power_real(ref_spectrum.at<float>(0, col), cur_spectrum.at<float>(0, col));
        product_.at<float>(rows - 1, col) =
            cross_power_real(ref_spectrum.at<float>(rows - 1, col), cur_spectrum.at<float>(rows - 1, col));
        for (int y = 1; y < rows - 1; y += 2)
            cross_power(ref_spectrum.at<float>(y, col), ref_spectrum.at<float>(y + 1, col),
                        cur_spectrum.at<float>(y, col), cur_spectrum.at<float>(y + 1, col),
                        product_.at<float>(y, col), product_.at<float>(y + 1, col));
    }
    for (int y = 0; y < rows; ++y) {  // the other columns: (re, im) pairs along the row
        const float *a = ref_spectrum.ptr<float>(y), *b = cur_spectrum.ptr<float>(y);
        float *o = product_.ptr<float>(y);
        for (int x = 1; x < cols - 1; x += 2) cross_power(a[x], a[x + 1], b[x], b[x + 1], o[x], o[x + 1]);
    }
    cv::idft(product_, correlation_);
    // fftShift (quadrant swap), then the peak and the 5 x 5 weighted centroid around it
    shifted_.create(rows, cols, CV_32F);
    const int hy = rows / 2, hx = cols / 2;
    correlation_(cv::Rect(0, 0, hx, hy)).copyTo(shifted_(cv::Rect(hx, hy, hx, hy)));
    correlation_(cv::Rect(hx, hy, hx, hy)).copyTo(shifted_(cv::Rect(0, 0, hx, hy)));
    correlation_(cv::Rect(hx, 0, hx, hy)).copyTo(shifted_(cv::Rect(0, hy, hx, hy)));
    correlation_(cv::Rect(0, hy, hx, hy)).copyTo(shifted_(cv::Rect(hx, 0, hx, hy)));
    cv::Point peak;
    cv::minMaxLoc(shifted_, nullptr, nullptr, nullptr, &peak);
    const int y0 = std::max(0, peak.y - 2), y1 = std::min(rows - 1, peak.y + 2);
    const int x0 = std::max(0, peak.x - 2), x1 = std::min(cols - 1, peak.x + 2);
    double sum = 0, cx = 0, cy = 0;
    for (int y = y0; y <= y1; ++y) {
        const float *r = shifted_.ptr<float>(y);
        for (int x = x0; x <= x1; ++x) {
            cx += static_cast<double>(r[x]) * x;
            cy += static_cast<double>(r[x]) * y;
            sum += r[x];
        }
    }
    sum += DBL_EPSILON;
    cx /= sum;
    cy /= sum;
    return {cols / 2.0 - cx, rows / 2.0 - cy};
}

}  // namespace sofp
