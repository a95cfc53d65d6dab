// A face rectangle in frame px, computed as runtime/face/box.py computes it.
#pragma once

#include <algorithm>

namespace sofp {

struct FaceBox {
    double x = 0, y = 0, w = 0, h = 0, score = 1.0;

    double cx() const { return x + w / 2; }
    double cy() const { return y + h / 2; }
    double side() const { return std::max(w, h); }
    FaceBox scaled(double k) const { return FaceBox{x * k, y * k, w * k, h * k, score}; }
    static FaceBox square(double cx, double cy, double side, double score) {
        return FaceBox{cx - side / 2, cy - side / 2, side, side, score};
    }
    double iou(const FaceBox &o) const {
        const double x0 = std::max(x, o.x), y0 = std::max(y, o.y);
        const double x1 = std::min(x + w, o.x + o.w), y1 = std::min(y + h, o.y + o.h);
        const double inter = std::max(0.0, x1 - x0) * std::max(0.0, y1 - y0);
        const double uni = w * h + o.w * o.h - inter;
        return uni > 0 ? inter / uni : 0.0;
    }
    bool same(const FaceBox &o) const { return x == o.x && y == o.y && w == o.w && h == o.h; }
};

}  // namespace sofp
