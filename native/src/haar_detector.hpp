// Viola-Jones frontal face detection (OpenCV's Haar cascade), as runtime/face/detector.py.
#pragma once

#include <string>
#include <vector>

#include <opencv2/objdetect.hpp>

#include "face_box.hpp"
#include "params.hpp"

namespace sofp {

// The cascade file: `explicit_path` when given, else `name` in OpenCV's data folders; throws
// SOFP_ERR_FACE_DETECTOR naming where it looked.
std::string find_cascade(const std::string &name, const std::string &explicit_path);

class HaarDetector {
public:
    HaarDetector(const DetectorParams &params, const std::string &cascade_path);
    // Faces in gray (CV_8U), px of gray, largest first. min_side/max_side <= 0: no limit;
    // pad < 0 / scale_factor <= 0: the parameters' values.
    std::vector<FaceBox> detect(const cv::Mat &gray, double min_side = -1, double max_side = -1, double pad = -1,
                                double scale_factor = -1);

private:
    DetectorParams p_;
    cv::CascadeClassifier cascade_;
};

}  // namespace sofp
