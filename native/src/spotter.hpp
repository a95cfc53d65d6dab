// Online micro-expression spotting: runtime/spotting.py's Spotter, sample for sample.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "params.hpp"

namespace sofp {

struct Sample {
    int64_t index;
    double time;       // s
    double magnitude;  // px
};

struct SpottedInterval {
    Sample onset, apex, offset;
    double threshold;  // the start threshold in force when it was spotted (px)
};

class Spotter {
public:
    Spotter(double fps, const SpotParams &params);
    void reset();
    // The frame index that frame `index`'s motion must be measured against.
    int64_t reference_for(int64_t index);
    // Add frame `index`'s motion sample (px) taken at `time` (s); an interval when one ended.
    std::optional<SpottedInterval> update(int64_t index, double time, double magnitude);
    double last_on() const { return on_; }
    const char *state() const;
    int history_frames() const { return history_frames_; }
    double fps() const { return fps_; }

private:
    enum class State { Quiet, Active, Long };
    void thresholds(double &on, double &off) const;
    std::optional<Sample> find_onset(double off) const;
    void restart(int64_t index);
    std::optional<SpottedInterval> finish(const Sample &offset) const;
    static void push_bounded(std::deque<Sample> &d, const Sample &s, size_t cap);

    double fps_;
    SpotParams c_;
    int64_t lag_;
    size_t n_window_, min_quiet_, n_smooth_;
    int delay_;
    int history_frames_;
    std::deque<double> quiet_;
    std::deque<Sample> raw_, recent_;
    double on_, off_;
    State state_ = State::Quiet;
    std::optional<int64_t> reset_index_, frozen_;
    std::vector<Sample> candidate_;
    std::optional<Sample> onset_, quiet_start_;
    Sample quiet_min_{};
    double long_since_ = 0, on_at_start_ = 0, off_at_start_ = 0, first_moving_ = 0;
};

}  // namespace sofp
