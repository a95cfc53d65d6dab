// Header-only C++17 wrapper over the C API (sofp.h): RAII ownership and exceptions on the C++ side
// only; nothing C++ crosses the library boundary, so it works with any compiler the C API works with.
//
//     sofp::Config cfg;  cfg.model_path = "model.onnx";
//     sofp::Pipeline pipe(cfg);                           // throws sofp::Error
//     pipe.push(frame);                                   // a filled sofp_frame
//     while (auto ev = pipe.poll()) std::cout << pipe.to_json(*ev) << "\n";
#ifndef SOFP_SOFP_HPP
#define SOFP_SOFP_HPP

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sofp/sofp.h"

namespace sofp {

// A failed call: status() is the C status, what() the library's one-line message.
class Error : public std::runtime_error {
public:
    Error(sofp_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
    sofp_status status() const noexcept { return status_; }

private:
    sofp_status status_;
};

inline sofp_status check(sofp_status status) {
    if (status < 0) throw Error(status, sofp_last_error());
    return status;
}

// sofp_config with its defaults (sofp_config_init); set model_path before use.
struct Config : sofp_config {
    Config() : sofp_config() { sofp_config_init(this); }
};

struct Frame : sofp_frame {
    Frame() : sofp_frame() { sofp_frame_init(this); }
};

class Pipeline {
public:
    explicit Pipeline(const sofp_config &config) { check(sofp_create(&config, &handle_)); }
    ~Pipeline() { sofp_destroy(handle_); }
    Pipeline(const Pipeline &) = delete;
    Pipeline &operator=(const Pipeline &) = delete;
    Pipeline(Pipeline &&other) noexcept : handle_(other.handle_) { other.handle_ = nullptr; }
    Pipeline &operator=(Pipeline &&other) noexcept {
        if (this != &other) {
            sofp_destroy(handle_);
            handle_ = other.handle_;
            other.handle_ = nullptr;
        }
        return *this;
    }

    void push(const sofp_frame &frame) { check(sofp_push_frame(handle_, &frame)); }

    // The oldest queued event, or nothing.
    std::optional<sofp_event> poll() {
        sofp_event ev;
        sofp_event_init(&ev);
        if (check(sofp_poll_event(handle_, &ev)) == SOFP_NO_EVENT) return std::nullopt;
        return ev;
    }

    sofp_frame_info last_frame_info() const {
        sofp_frame_info info;
        sofp_frame_info_init(&info);
        check(sofp_last_frame_info(handle_, &info));
        return info;
    }

    void reset() { check(sofp_reset(handle_)); }

    std::vector<std::string> labels() const {
        std::vector<std::string> out;
        for (int32_t i = 0; i < sofp_class_count(handle_); ++i) out.emplace_back(sofp_class_label(handle_, i));
        return out;
    }

    std::string backend_description() const { return sofp_backend_description(handle_); }
    std::string flow_name() const { return sofp_flow_name(handle_); }

    // The event as the Python runtime's JSON line (without the newline).
    std::string to_json(const sofp_event &event) const {
        size_t needed = 0;
        std::string out(512, '\0');
        if (sofp_event_to_json(handle_, &event, &out[0], out.size(), &needed) != SOFP_OK) {
            if (needed == 0) check(SOFP_ERR_INVALID_ARGUMENT);
            out.assign(needed + 1, '\0');
            check(sofp_event_to_json(handle_, &event, &out[0], out.size(), &needed));
        }
        out.resize(needed);
        return out;
    }

    sofp_pipeline *handle() const noexcept { return handle_; }

private:
    sofp_pipeline *handle_ = nullptr;
};

}  // namespace sofp

#endif  // SOFP_SOFP_HPP
