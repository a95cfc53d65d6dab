#include "spotter.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "error.hpp"
#include "median.hpp"
#include "pyround.hpp"

namespace sofp {

namespace {
constexpr double kMadToSigma = 1.4826;
constexpr double kInf = std::numeric_limits<double>::infinity();
// Durations compared with a limit count as reaching it within a nanosecond (runtime/spotting.py's _TIME_EPS).
constexpr double kTimeEps = 1e-9;
}  // namespace

Spotter::Spotter(double fps, const SpotParams &params) : fps_(fps), c_(params) {
    if (!(fps > 0) || !std::isfinite(fps))
        throw Error(SOFP_ERR_INVALID_ARGUMENT, "fps must be a positive number, got " + std::to_string(fps));
    lag_ = std::max(1, py_round(c_.reference_lag_s * fps_));
    n_window_ = static_cast<size_t>(std::max(8.0, std::ceil(c_.window_s * fps_)));
    min_quiet_ = static_cast<size_t>(std::max(30.0, std::ceil(c_.warmup_s * fps_)));
    history_frames_ =
        static_cast<int>(lag_) + static_cast<int>(std::ceil((c_.max_duration_s + c_.hold_s + c_.settle_s) * fps_)) + 2;
    n_smooth_ = static_cast<size_t>(std::max(1, 2 * py_round((c_.smooth_s * fps_ - 1) / 2) + 1));  // odd: centred
    delay_ = static_cast<int>((n_smooth_ - 1) / 2);
    on_ = off_ = kInf;
    reset();
    quiet_.clear();
}

void Spotter::reset() {
    state_ = State::Quiet;
    reset_index_.reset();
    frozen_.reset();
    candidate_.clear();
    onset_.reset();
    quiet_start_.reset();
    long_since_ = 0;
    recent_.clear();
    raw_.clear();
}

const char *Spotter::state() const {
    switch (state_) {
        case State::Active: return "active";
        case State::Long: return "long";
        default: return "quiet";
    }
}

int64_t Spotter::reference_for(int64_t index) {
    if (!reset_index_) reset_index_ = index;
    if ((state_ == State::Active || state_ == State::Long) && frozen_) return *frozen_;
    return std::max(*reset_index_, index - lag_);
}

void Spotter::thresholds(double &on, double &off) const {
    if (quiet_.empty()) {
        on = off = kInf;
        return;
    }
    std::vector<double> q(quiet_.begin(), quiet_.end());
    const double med = median_of(q);
    for (double &x : q) x = std::fabs(x - med);
    const double sigma = kMadToSigma * median_of(q);
    on = med + std::max(c_.k_on * sigma, c_.floor_on);
    off = med + std::max(c_.k_off * sigma, c_.floor_off);
}

void Spotter::push_bounded(std::deque<Sample> &d, const Sample &s, size_t cap) {
    d.push_back(s);
    while (d.size() > cap) d.pop_front();
}

std::optional<SpottedInterval> Spotter::update(int64_t index, double time, double magnitude) {
    if (!reset_index_) reset_index_ = index;
    push_bounded(raw_, Sample{index, time, magnitude}, n_smooth_);
    if (raw_.size() < n_smooth_) return std::nullopt;
    const Sample &mid = raw_[raw_.size() - 1 - static_cast<size_t>(delay_)];
    std::vector<double> window;  // the running median of the last n_smooth_ samples (odd: centred)
    window.reserve(raw_.size());
    for (const Sample &s : raw_) window.push_back(s.magnitude);
    const Sample sample{mid.index, mid.time, median_of(window)};
    const double mag = sample.magnitude;
    double on = 0, off = 0;
    thresholds(on, off);
    on_ = on;
    off_ = off;
    std::optional<SpottedInterval> out;
    if (state_ == State::Quiet) {
        std::optional<Sample> onset;
        if (quiet_.size() >= min_quiet_ && mag > on) onset = find_onset(off);
        if (onset) {
            onset_ = onset;
            frozen_ = onset->index;
            candidate_.clear();
            for (const Sample &s : recent_)
                if (s.index > onset->index) candidate_.push_back(s);
            candidate_.push_back(sample);
            on_at_start_ = on;
            off_at_start_ = off;
            for (const Sample &s : candidate_)
                if (s.magnitude > off) {
                    first_moving_ = s.time;
                    break;
                }
            state_ = State::Active;
        } else if (mag <= on) {
            quiet_.push_back(mag);
            while (quiet_.size() > n_window_) quiet_.pop_front();
        }
    } else if (state_ == State::Active) {
        const double resume = quiet_start_ ? 0.5 * (on + off) : off;
        if (mag <= resume) {
            if (!quiet_start_) {
                quiet_start_ = sample;
                quiet_min_ = sample;
            } else if (mag < quiet_min_.magnitude) {
                quiet_min_ = sample;
            }
            if (sample.time - quiet_start_->time >= c_.hold_s - kTimeEps) {
                out = finish(quiet_min_);
                restart(sample.index);
            }
        } else if (sample.time - first_moving_ + 1.0 / fps_ > c_.max_duration_s) {
            state_ = State::Long;
            long_since_ = sample.time;
            candidate_.clear();
            quiet_start_.reset();
        } else {
            quiet_start_.reset();
            candidate_.push_back(sample);
        }
    } else {
        if (mag <= off || sample.time - long_since_ > c_.settle_s) restart(sample.index);
    }
    push_bounded(recent_, sample, static_cast<size_t>(history_frames_));
    return out;
}

std::optional<Sample> Spotter::find_onset(double off) const {
    int i = static_cast<int>(recent_.size()) - 1;
    while (i >= 0 && !(recent_[i].magnitude <= off)) --i;
    if (i < 0) return std::nullopt;
    while (i > 0 && recent_[i - 1].magnitude < recent_[i].magnitude) --i;
    return recent_[i];
}

void Spotter::restart(int64_t index) {
    state_ = State::Quiet;
    reset_index_ = index;
    frozen_.reset();
    onset_.reset();
    quiet_start_.reset();
    candidate_.clear();
}

std::optional<SpottedInterval> Spotter::finish(const Sample &offset) const {
    std::vector<Sample> moving;
    for (const Sample &s : candidate_)
        if (s.magnitude > off_at_start_) moving.push_back(s);
    if (moving.size() < 2) return std::nullopt;
    const double duration = moving.back().time - moving.front().time + 1.0 / fps_;
    if (!(c_.min_duration_s <= duration && duration <= c_.max_duration_s)) return std::nullopt;
    const Sample *apex = &candidate_.front();
    for (const Sample &s : candidate_)
        if (s.magnitude > apex->magnitude) apex = &s;
    return SpottedInterval{*onset_, *apex, offset, on_at_start_};
}

}  // namespace sofp
