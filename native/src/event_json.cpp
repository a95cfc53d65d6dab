#include "event_json.hpp"

#include <cstdio>

#include "json_number.hpp"

namespace sofp {

std::string json_string(const std::string &s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
        else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else out += static_cast<char>(c);
    }
    return out + "\"";
}

std::string event_json(const sofp_event &e, const std::vector<std::string> &labels) {
    std::string j = "{\"type\":\"event\"";
    j += ",\"onset_frame\":" + std::to_string(e.onset_frame);
    j += ",\"apex_frame\":" + std::to_string(e.apex_frame);
    j += ",\"offset_frame\":" + std::to_string(e.offset_frame);
    j += ",\"onset_time\":" + py_float(e.onset_time, 6);
    j += ",\"apex_time\":" + py_float(e.apex_time, 6);
    j += ",\"offset_time\":" + py_float(e.offset_time, 6);
    j += ",\"label\":" + json_string(e.label);
    j += ",\"probabilities\":{";
    for (int i = 0; i < e.num_classes && i < SOFP_MAX_CLASSES; ++i) {
        const std::string name = i < static_cast<int>(labels.size()) ? labels[i] : std::to_string(i);
        j += (i ? "," : "") + json_string(name) + ":" + py_float(static_cast<double>(e.probabilities[i]), 6);
    }
    j += "},\"magnitude\":" + py_float(e.magnitude, 6);
    if (e.has_face_box) {
        j += ",\"face_box\":[";
        for (int i = 0; i < 4; ++i) j += (i ? "," : "") + py_float(e.face_box[i], 2);
        j += "]";
    } else {
        j += ",\"face_box\":null";
    }
    j += ",\"latency_ms\":" + py_float(e.latency_ms, 3);
    j += ",\"duration\":" + py_float(e.offset_time - e.onset_time, 6);
    return j + "}";
}

}  // namespace sofp
