// The live pipeline (runtime/pipeline.py): face -> window -> align -> flow -> spot -> features -> infer.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "backend.hpp"
#include "dis_flow.hpp"
#include "face_cropper.hpp"
#include "gray_frame.hpp"
#include "params.hpp"
#include "spotter.hpp"
#include "stabiliser.hpp"

namespace sofp {

struct Event {
    SpottedInterval interval;
    int label_index = 0;
    std::vector<float> probabilities;
    bool has_box = false;
    FaceBox box;
    double latency_ms = 0;
};

enum Stage { kFace, kAlign, kFlow, kSpot, kInfer, kStages };

struct Telemetry {
    int64_t index = 0;
    double timestamp = 0;
    bool face = false, tracked = false, has_magnitude = false;
    double magnitude = 0, threshold = 0;
    std::string state;
    int events = 0;
    double stage_ms[kStages] = {};
    double total_ms = 0;
};

struct PipelineOptions {
    double fps = 0;  // 0: measured from the first 10 capture times
    bool mirror_average = true;
    std::string flow = "auto";  // the feature flow (make_flow)
};

class Pipeline {
public:
    Pipeline(Params params, std::unique_ptr<FaceCropper> face, std::unique_ptr<InferenceBackend> backend,
             std::vector<std::string> labels, PipelineOptions options);
    // The frame (box coordinates are its px). Returns the events it completed.
    std::vector<Event> feed(GrayFrame &frame, int64_t index, double timestamp);
    void reset();
    const Telemetry &telemetry() const { return tel_; }
    const std::vector<std::string> &labels() const { return labels_; }
    const InferenceBackend &backend() const { return *backend_; }
    std::string flow_name() const { return feature_flow_->name(); }
    double fps() const { return spotter_ ? spotter_->fps() : 0.0; }
    // Classify onset -> apex crops (both S x S CV_8U): probabilities of the aligned pair's features.
    std::vector<float> classify_pair(const cv::Mat &onset, const cv::Mat &apex);

private:
    struct Entry {
        cv::Mat gray;
        cv::Mat spectrum;  // gray's phase-correlation spectrum, once it has been computed
        FaceBox box;
        double timestamp = 0;
        std::optional<int64_t> ref_index;
        cv::Mat at_ref;
    };
    void start_spotter(double fps);
    void measure_fps(double timestamp);
    void store(int64_t index, Entry entry);
    Entry *lookup(int64_t index, int64_t &found);
    bool same_geometry(const FaceBox &a, const FaceBox &b) const;
    std::optional<Event> classify(const SpottedInterval &interval, std::chrono::steady_clock::time_point start);

    Params p_;
    std::unique_ptr<FaceCropper> face_;
    std::unique_ptr<InferenceBackend> backend_;
    std::vector<std::string> labels_;
    PipelineOptions opt_;
    Stabiliser aligner_, motion_aligner_;
    std::unique_ptr<Flow> feature_flow_;
    DisFlow motion_flow_;
    std::optional<Spotter> spotter_;
    std::vector<double> stamps_;
    std::map<int64_t, Entry> ring_;
    size_t ring_size_ = 0;
    std::optional<int64_t> last_index_;
    Telemetry tel_;
};

}  // namespace sofp
