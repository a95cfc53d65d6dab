// Phase correlation of two crops (cv::phaseCorrelate with a Hann window), split so that a crop's
// spectrum is computed once and reused: in the live pipeline every crop is aligned once as the
// current frame and once, later, as the reference, so this saves one of the two forward DFTs.
#pragma once

#include <opencv2/core.hpp>

namespace sofp {

class PhaseCorrelator {
public:
    // The windowed, zero-padded spectrum of an S x S CV_8U crop (OpenCV's CCS layout).
    cv::Mat spectrum(const cv::Mat &gray);
    // The shift of cur relative to ref (as cv::phaseCorrelate(ref, cur, hann) gives it), from their
    // spectra. Falls back to cv::phaseCorrelate for padded sizes other than even x even.
    cv::Point2d shift(const cv::Mat &ref, const cv::Mat &ref_spectrum, const cv::Mat &cur,
                      const cv::Mat &cur_spectrum);

private:
    void ensure(cv::Size crop);

    cv::Size crop_, padded_;
    cv::Mat window_, buffer_, product_, correlation_, shifted_;
};

}  // namespace sofp
