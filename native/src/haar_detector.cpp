#include "haar_detector.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include <opencv2/imgproc.hpp>

#include "error.hpp"

namespace sofp {

std::string find_cascade(const std::string &name, const std::string &explicit_path) {
    if (!explicit_path.empty()) {
        if (!std::ifstream(explicit_path))
            throw Error(SOFP_ERR_FACE_DETECTOR, "face detector cascade " + explicit_path + " not found");
        return explicit_path;
    }
    std::vector<std::string> dirs;
    if (const char *env = std::getenv("SOFP_CASCADE_DIR")) dirs.emplace_back(env);
#ifdef SOFP_OPENCV_DATA_DIR
    dirs.emplace_back(SOFP_OPENCV_DATA_DIR);
#endif
    for (const char *d : {"/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades",
                          "/usr/local/share/opencv4/haarcascades", "/usr/local/share/opencv/haarcascades"})
        dirs.emplace_back(d);
    std::string looked;
    for (const std::string &d : dirs) {
        const std::string p = d + "/" + name;
        if (std::ifstream(p)) return p;
        looked += (looked.empty() ? "" : ", ") + d;
    }
    throw Error(SOFP_ERR_FACE_DETECTOR, "face detector cascade " + name + " not found in " + looked +
                                            " (Debian: apt-get install opencv-data; or set cascade_path)");
}

HaarDetector::HaarDetector(const DetectorParams &params, const std::string &cascade_path) : p_(params) {
    bool ok = false;
    try {
        ok = cascade_.load(cascade_path);
    } catch (const cv::Exception &) {
        ok = false;
    }
    if (!ok || cascade_.empty())
        throw Error(SOFP_ERR_FACE_DETECTOR, "face detector cascade " + cascade_path + " did not load");
}

std::vector<FaceBox> HaarDetector::detect(const cv::Mat &gray, double min_side, double max_side, double pad,
                                          double scale_factor) {
    const int h = gray.rows, w = gray.cols;
    if (pad < 0) pad = p_.pad;
    const int py = static_cast<int>(std::nearbyint(h * pad)), px = static_cast<int>(std::nearbyint(w * pad));
    cv::Mat img = gray;
    if (pad > 0) cv::copyMakeBorder(gray, img, py, py, px, px, cv::BORDER_REPLICATE);
    const int lo = std::max(20, static_cast<int>(min_side >= 0 ? min_side : std::min(h, w) * p_.min_size_frac));
    const int hi = max_side >= 0 ? static_cast<int>(max_side) : 0;
    std::vector<cv::Rect> rects;
    std::vector<int> levels;
    std::vector<double> weights;
    cascade_.detectMultiScale(img, rects, levels, weights, scale_factor > 0 ? scale_factor : p_.scale_factor,
                              p_.min_neighbors, 0, cv::Size(lo, lo), hi > lo ? cv::Size(hi, hi) : cv::Size(),
                              true);
    std::vector<FaceBox> boxes;
    for (size_t i = 0; i < rects.size(); ++i) {
        const double wgt = i < weights.size() ? weights[i] : 0.0;
        const double score = 1.0 / (1.0 + std::exp(-wgt));
        boxes.push_back(FaceBox{static_cast<double>(rects[i].x - px), static_cast<double>(rects[i].y - py),
                                static_cast<double>(rects[i].width), static_cast<double>(rects[i].height), score});
    }
    std::stable_sort(boxes.begin(), boxes.end(), [](const FaceBox &a, const FaceBox &b) { return a.w * a.h > b.w * b.h; });
    return boxes;
}

}  // namespace sofp
