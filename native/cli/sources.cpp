#include "sources.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <opencv2/videoio/registry.hpp>

namespace fs = std::filesystem;

namespace sofp_cli {

namespace {

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void to_bgr(cv::Mat &image) {
    if (image.channels() == 1) cv::cvtColor(image, image, cv::COLOR_GRAY2BGR);
    else if (image.channels() == 4) cv::cvtColor(image, image, cv::COLOR_BGRA2BGR);
}

// Video files: rate and timestamps from the container (runtime/sources/video.py).
class VideoSource : public FrameSource {
public:
    VideoSource(const std::string &path, double fps_override) {
        name_ = "video " + path;
        if (!fs::is_regular_file(path)) throw UsageError("source '" + path + "' not found: no such file or folder");
        if (!cap_.open(path, cv::CAP_FFMPEG) || !cap_.isOpened())
            throw RunError("cannot read video '" + path + "': not a video OpenCV/FFmpeg can decode "
                           "(truncated, corrupt or unsupported codec; valid: mp4, avi, mkv, mov, ...)");
        const double container = cap_.get(cv::CAP_PROP_FPS);
        override_ = fps_override > 0 && std::fabs(fps_override - container) > 1e-6;
        fps_ = fps_override > 0 ? fps_override : (std::isfinite(container) && container > 0 ? container : 0);
        if (fps_ <= 0) throw UsageError("video '" + path + "' does not say its frame rate; pass it with --fps");
        count_ = static_cast<int64_t>(cap_.get(cv::CAP_PROP_FRAME_COUNT));
        path_ = path;
    }
    ReadStatus read(Frame &f) override {
        cv::Mat image;
        if (!cap_.read(image) || image.empty()) {
            if (index_ == 0) {
                error_ = "cannot read video '" + path_ + "': no frame could be decoded";
                return ReadStatus::Failed;
            }
            if (count_ > 0 && index_ < count_ - 2) {  // frame counts of some containers are estimates
                error_ = "video '" + path_ + "' ended at frame " + std::to_string(index_) + " of " +
                         std::to_string(count_) + " (file truncated or corrupt)";
                return ReadStatus::Failed;
            }
            return ReadStatus::End;
        }
        to_bgr(image);
        double t = static_cast<double>(index_) / fps_;
        if (!override_) {
            const double pos = cap_.get(cv::CAP_PROP_POS_MSEC) / 1000.0;
            if (pos > last_t_ || (index_ == 0 && pos >= 0)) t = pos;
        }
        last_t_ = t;
        f.image = image;
        f.index = index_++;
        f.capture_time_ns = std::llround(t * 1e9);
        return ReadStatus::Frame;
    }
    double fps() const override { return fps_; }
    bool live() const override { return false; }

private:
    cv::VideoCapture cap_;
    std::string path_;
    double fps_ = 0, last_t_ = -1;
    bool override_ = false;
    int64_t count_ = 0, index_ = 0;
};

// Cameras, network streams and GStreamer pipelines: live, timestamped on arrival (monotonic clock).
class LiveSource : public FrameSource {
public:
    LiveSource(const std::string &what, int api, const std::string &target, int index, const Options &o) {
        name_ = what;
        if (api == cv::CAP_GSTREAMER && !cv::videoio_registry::hasBackend(cv::CAP_GSTREAMER))
            throw UsageError(what + ": this OpenCV (" CV_VERSION ") was built without GStreamer");
        const bool ok = index >= 0 ? cap_.open(index, api) : cap_.open(target, api);
        if (!ok || !cap_.isOpened()) throw RunError("cannot open " + what);
        if (index >= 0 || api == cv::CAP_V4L2) {
            if (o.width > 0) cap_.set(cv::CAP_PROP_FRAME_WIDTH, o.width);
            if (o.height > 0) cap_.set(cv::CAP_PROP_FRAME_HEIGHT, o.height);
            if (o.fps > 0) cap_.set(cv::CAP_PROP_FPS, o.fps);
        }
    }
    ReadStatus read(Frame &f) override {
        cv::Mat image;
        if (!cap_.read(image) || image.empty()) {
            error_ = "no frame from " + name_;
            return ReadStatus::Failed;
        }
        to_bgr(image);
        f.image = image;
        f.index = index_++;
        f.capture_time_ns = now_ns();
        return ReadStatus::Frame;
    }
    double fps() const override { return 0; }  // measured by the pipeline from capture times
    bool live() const override { return true; }

private:
    cv::VideoCapture cap_;
    int64_t index_ = 0;
};

// `img10.jpg` after `img9.jpg`: digit runs compare as numbers, the rest as lower-case text.
bool numeric_less(const std::string &a, const std::string &b) {
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        const bool da = std::isdigit(static_cast<unsigned char>(a[i])), db = std::isdigit(static_cast<unsigned char>(b[j]));
        if (da && db) {
            size_t ei = i, ej = j;
            while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei]))) ++ei;
            while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej]))) ++ej;
            std::string na = a.substr(i, ei - i), nb = b.substr(j, ej - j);
            na.erase(0, std::min(na.find_first_not_of('0'), na.size() - 1));
            nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size() - 1));
            if (na.size() != nb.size()) return na.size() < nb.size();
            if (na != nb) return na < nb;
            i = ei, j = ej;
        } else if (da != db) {
            return da;  // a number sorts before text
        } else {
            const char ca = static_cast<char>(std::tolower(static_cast<unsigned char>(a[i])));
            const char cb = static_cast<char>(std::tolower(static_cast<unsigned char>(b[j])));
            if (ca != cb) return ca < cb;
            ++i, ++j;
        }
    }
    return a.size() - i < b.size() - j;
}

// A folder of frames in numeric order at a given rate (runtime/sources/folder.py).
class FolderSource : public FrameSource {
public:
    FolderSource(const std::string &folder, double fps) : fps_(fps) {
        name_ = "folder " + folder;
        if (!fs::is_directory(folder)) throw UsageError("frame folder '" + folder + "' not found");
        static const std::vector<std::string> exts = {".jpg", ".jpeg", ".png", ".bmp", ".tif",
                                                      ".tiff", ".webp", ".pgm", ".ppm"};
        for (const auto &e : fs::directory_iterator(folder)) {
            const std::string n = e.path().filename().string();
            std::string ext = e.path().extension().string();
            std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
            if (!n.empty() && n[0] != '.' && std::find(exts.begin(), exts.end(), ext) != exts.end())
                files_.push_back(n);
        }
        if (files_.empty())
            throw UsageError("frame folder '" + folder + "' holds no images (looked for .jpg, .png, .bmp, ...)");
        std::sort(files_.begin(), files_.end(), numeric_less);
        for (std::string &n : files_) n = (fs::path(folder) / n).string();
    }
    ReadStatus read(Frame &f) override {
        if (index_ >= static_cast<int64_t>(files_.size())) return ReadStatus::End;
        const std::string &path = files_[static_cast<size_t>(index_)];
        cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
        if (image.empty()) {
            error_ = "frame '" + path + "' could not be decoded";
            return ReadStatus::Failed;
        }
        f.image = image;
        f.index = index_;
        f.capture_time_ns = std::llround(static_cast<double>(index_) / fps_ * 1e9);
        ++index_;
        return ReadStatus::Frame;
    }
    double fps() const override { return fps_; }
    bool live() const override { return false; }

private:
    std::vector<std::string> files_;
    double fps_;
    int64_t index_ = 0;
};

}  // namespace

std::string csi_pipeline(int id, int width, int height, double fps) {
    const std::string rate = fps != std::floor(fps) ? std::to_string(std::llround(fps * 1000)) + "/1000"
                                                     : std::to_string(static_cast<long long>(fps)) + "/1";
    return "nvarguscamerasrc sensor-id=" + std::to_string(id) + " ! video/x-raw(memory:NVMM), width=(int)" +
           std::to_string(width) + ", height=(int)" + std::to_string(height) +
           ", format=(string)NV12, framerate=(fraction)" + rate +
           " ! nvvidconv flip-method=0 ! video/x-raw, format=(string)BGRx ! videoconvert ! "
           "video/x-raw, format=(string)BGR ! appsink drop=true max-buffers=1";
}

std::unique_ptr<FrameSource> open_source(const Options &o) {
    const std::string &s = o.source;
    if (o.source_kind == "video") return std::make_unique<VideoSource>(s, o.fps);
    if (o.source_kind == "frames") return std::make_unique<FolderSource>(s, o.fps);
    if (o.source_kind == "url") {
        std::string low = s;
        std::transform(low.begin(), low.end(), low.begin(), [](unsigned char c) { return std::tolower(c); });
        bool known = false;
        for (const char *scheme : {"rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://"})
            known = known || (low.rfind(scheme, 0) == 0 && low.size() > std::strlen(scheme));
        if (!known)
            throw UsageError("--url " + s + ": valid: rtsp://, rtsps://, rtmp://, http(s)://, udp://, tcp://, srt://");
        return std::make_unique<LiveSource>("stream " + s, cv::CAP_FFMPEG, s, -1, o);
    }
    if (o.source_kind == "pipeline") {
        if (s.find("appsink") == std::string::npos)
            throw UsageError("--pipeline: a GStreamer pipeline must end in appsink, got '" + s + "'");
        return std::make_unique<LiveSource>("gstreamer pipeline", cv::CAP_GSTREAMER, s, -1, o);
    }
    if (o.source_kind == "csi") {
        const int id = std::stoi(s);
        const std::string p = csi_pipeline(id, o.width > 0 ? o.width : 1280, o.height > 0 ? o.height : 720,
                                           o.fps > 0 ? o.fps : 60.0);
        return std::make_unique<LiveSource>("csi camera " + s, cv::CAP_GSTREAMER, p, -1, o);
    }
    // camera: an index or /dev/videoN
    auto digits = [](const std::string &t) {
        return !t.empty() && t.size() < 6 && std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); });
    };
    if (digits(s)) return std::make_unique<LiveSource>("camera " + s, cv::CAP_ANY, s, std::stoi(s), o);
    if (s.rfind("/dev/video", 0) == 0 && digits(s.substr(10))) {
        if (!fs::exists(s)) throw UsageError("camera " + s + " not found");
        return std::make_unique<LiveSource>("camera " + s, cv::CAP_V4L2, s, -1, o);
    }
    throw UsageError("bad camera '" + s + "'; valid: an index (0) or /dev/videoN");
}

}  // namespace sofp_cli
