// cv::resize(src, dst, size, 0, 0, cv::INTER_AREA) for a grey image shrunk by a non-integer factor (the
// face crop: a ~150-260 px square to 112 px), with OpenCV's arithmetic and so its exact output, but
// faster: OpenCV adds each row's taps one after another into the same output pixel, a chain of
// dependent float additions; here each source row is reduced once, taps outer and pixels inner, so
// the additions of neighbouring pixels run side by side. Same taps, weights and order of additions
// per pixel, so the same floats; the unit tests compare it with cv::resize.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

namespace sofp {

class AreaResizer {
public:
    // dst = src (CV_8UC1) shrunk to size; integer factors and enlargements go to cv::resize.
    void operator()(const cv::Mat &src, cv::Mat &dst, cv::Size size);

private:
    struct Taps {  // per output pixel, `count` taps starting at start[i] (zero-weight padded to count)
        int count = 0;
        std::vector<int> index;     // count x n: source index of tap t of output i at [t * n + i]
        std::vector<float> weight;  // same layout
    };
    static void build(int src_size, int dst_size, Taps &taps, std::vector<int> &first, std::vector<int> &rows,
                      std::vector<float> &row_weights);

    cv::Size from_, to_;
    Taps x_;
    std::vector<int> y_first_, y_rows_;  // output row dy uses y_rows_[y_first_[dy] .. y_first_[dy + 1])
    std::vector<float> y_weights_;
    cv::Mat horizontal_;  // src rows reduced horizontally: src.rows x size.width CV_32F
};

}  // namespace sofp
