#include "pipeline.hpp"

#include <algorithm>
#include <cmath>

#include "features.hpp"
#include "median.hpp"
#include "motion.hpp"
#include "pyround.hpp"

namespace sofp {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

}  // namespace

Pipeline::Pipeline(Params params, std::unique_ptr<FaceCropper> face, std::unique_ptr<InferenceBackend> backend,
                   std::vector<std::string> labels, PipelineOptions options)
    : p_(std::move(params)),
      face_(std::move(face)),
      backend_(std::move(backend)),
      labels_(std::move(labels)),
      opt_(options),
      aligner_(p_.stabiliser, p_.dis_presets),
      motion_aligner_(p_.stabiliser, p_.dis_presets),
      feature_flow_(make_flow(opt_.flow, p_)),
      motion_flow_(p_.dis_presets, p_.motion_preset) {
    if (opt_.fps > 0) start_spotter(opt_.fps);
}

void Pipeline::start_spotter(double fps) {
    spotter_.emplace(fps, p_.spot);
    ring_size_ = static_cast<size_t>(spotter_->history_frames()) + 2;
}

void Pipeline::measure_fps(double timestamp) {
    stamps_.push_back(timestamp);
    if (stamps_.size() < 10) return;
    std::vector<double> dt;
    for (size_t i = 1; i < stamps_.size(); ++i)
        if (stamps_[i] - stamps_[i - 1] > 0) dt.push_back(stamps_[i] - stamps_[i - 1]);
    if (!dt.empty()) start_spotter(1.0 / median_of(dt));
}

void Pipeline::reset() {
    ring_.clear();
    if (spotter_) spotter_->reset();
}

void Pipeline::store(int64_t index, Entry entry) {
    ring_[index] = std::move(entry);
    while (ring_.size() > std::max<size_t>(ring_size_, 2)) ring_.erase(ring_.begin());
}

Pipeline::Entry *Pipeline::lookup(int64_t index, int64_t &found) {
    auto it = ring_.upper_bound(index);  // the stored frame at index, or the latest before it
    if (it == ring_.begin()) return nullptr;
    --it;
    found = it->first;
    return &it->second;
}

bool Pipeline::same_geometry(const FaceBox &a, const FaceBox &b) const {
    if (a.same(b)) return true;
    auto g = [&](const FaceBox &x, int out[3]) {
        const double side = x.side() * (1.0 + face_->margin());
        out[0] = py_round(x.cx() - side / 2), out[1] = py_round(x.cy() - side / 2), out[2] = py_round(side);
    };
    int ga[3], gb[3];
    g(a, ga);
    g(b, gb);
    return ga[0] == gb[0] && ga[1] == gb[1] && ga[2] == gb[2];
}

std::vector<Event> Pipeline::feed(GrayFrame &frame, int64_t index, double timestamp) {
    const Clock::time_point t_start = Clock::now();
    tel_ = Telemetry{};
    tel_.index = index;
    tel_.timestamp = timestamp;
    tel_.threshold = INFINITY;
    if (last_index_ && index <= *last_index_) reset();  // a restarted source: indices went back
    last_index_ = index;
    if (!spotter_) measure_fps(timestamp);

    Clock::time_point t0 = Clock::now();
    std::optional<FaceCrop> crop = (*face_)(frame);
    tel_.stage_ms[kFace] = ms_since(t0);
    if (!crop) {
        reset();
        tel_.state = "no-face";
        tel_.total_ms = ms_since(t_start);
        return {};
    }
    tel_.face = true;
    tel_.tracked = crop->tracked;
    Entry entry{crop->gray, cv::Mat(), crop->box, timestamp, std::nullopt, cv::Mat()};
    if (!spotter_) {  // rate not known yet: keep the crop, spot from the next frames on
        store(index, std::move(entry));
        tel_.state = "measuring-fps";
        tel_.total_ms = ms_since(t_start);
        return {};
    }
    const int64_t ref_index = spotter_->reference_for(index);
    int64_t found_index = 0;
    Entry *ref = ref_index != index ? lookup(ref_index, found_index) : nullptr;
    double magnitude = 0.0;
    if (ref) {
        const Clock::time_point ta = Clock::now();
        // this frame cut with the reference's box: box jitter and re-detections are not motion
        const bool same = same_geometry(ref->box, entry.box);
        cv::Mat cur = same ? entry.gray : face_->crop(frame, ref->box), cur_spectrum;
        entry.ref_index = found_index;
        entry.at_ref = cur;
        const cv::Mat aligned = p_.stabiliser.method == "none"
                                    ? cur
                                    : motion_aligner_.align(ref->gray, ref->spectrum, cur,
                                                            same ? entry.spectrum : cur_spectrum);
        const Clock::time_point tb = Clock::now();
        const cv::Mat flow = motion_flow_.compute(ref->gray, aligned);
        magnitude = motion_magnitude(flow, p_.top_fraction, p_.cell);
        tel_.stage_ms[kAlign] = std::chrono::duration<double, std::milli>(tb - ta).count();
        tel_.stage_ms[kFlow] = ms_since(tb);
    }
    store(index, std::move(entry));

    const Clock::time_point td = Clock::now();
    std::optional<SpottedInterval> interval = spotter_->update(index, timestamp, magnitude);
    tel_.has_magnitude = true;
    tel_.magnitude = magnitude;
    tel_.threshold = spotter_->last_on();
    tel_.state = spotter_->state();
    tel_.stage_ms[kSpot] = ms_since(td);
    std::vector<Event> events;
    if (interval) {
        std::optional<Event> ev = classify(*interval, t_start);
        if (ev) events.push_back(std::move(*ev));
    }
    tel_.events = static_cast<int>(events.size());
    tel_.total_ms = ms_since(t_start);
    return events;
}

std::vector<float> Pipeline::classify_pair(const cv::Mat &onset, const cv::Mat &apex) {
    const Clock::time_point ta = Clock::now();
    const cv::Mat aligned = p_.stabiliser.method == "none" ? apex : aligner_.align(onset, apex);
    const Clock::time_point tb = Clock::now();
    const cv::Mat features = flow_to_features(feature_flow_->compute(onset, aligned), p_.feature_size);
    std::vector<float> batch;
    append_input(features, batch);
    const int n = opt_.mirror_average ? 2 : 1;
    if (opt_.mirror_average) append_input(mirror_features(features), batch);
    const Clock::time_point tc = Clock::now();
    std::vector<float> probs = backend_->predict(batch, n);
    tel_.stage_ms[kAlign] += std::chrono::duration<double, std::milli>(tb - ta).count();
    tel_.stage_ms[kFlow] += std::chrono::duration<double, std::milli>(tc - tb).count();
    tel_.stage_ms[kInfer] = ms_since(tc);
    const size_t c = labels_.size();
    if (n == 2)
        for (size_t j = 0; j < c; ++j) probs[j] = (probs[j] + probs[c + j]) / 2.0f;
    probs.resize(c);
    return probs;
}

std::optional<Event> Pipeline::classify(const SpottedInterval &interval, Clock::time_point start) {
    auto onset = ring_.find(interval.onset.index);
    auto apex = ring_.find(interval.apex.index);
    if (onset == ring_.end() || apex == ring_.end()) return std::nullopt;  // the ring is sized so this cannot happen
    const Entry &a = apex->second;
    // the apex cut with the onset's box when it was measured against the onset (the usual case)
    const cv::Mat &apex_gray =
        a.ref_index && *a.ref_index == interval.onset.index && !a.at_ref.empty() ? a.at_ref : a.gray;
    Event ev;
    ev.probabilities = classify_pair(onset->second.gray, apex_gray);
    ev.interval = interval;
    ev.label_index = static_cast<int>(std::max_element(ev.probabilities.begin(), ev.probabilities.end()) -
                                      ev.probabilities.begin());
    ev.has_box = true;
    ev.box = a.box;
    ev.latency_ms = ms_since(start);
    return ev;
}

}  // namespace sofp
