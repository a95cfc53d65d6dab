#include "jsonl.hpp"

#include <cmath>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "options.hpp"

namespace sofp_cli {

namespace {

double round_to(double x, int digits) {
    const double k = std::pow(10.0, digits);
    return std::round(x * k) / k;
}

}  // namespace

JsonLines::JsonLines(const std::string &path) {
    if (path.empty() || path == "-") return;
    const std::filesystem::path p(path);
    if (p.has_parent_path()) {
        std::error_code ec;
        std::filesystem::create_directories(p.parent_path(), ec);
    }
    f_ = std::fopen(path.c_str(), "w");
    if (!f_) throw RunError("cannot write " + path);
}

JsonLines::~JsonLines() {
    if (f_) std::fclose(f_);
}

void JsonLines::write(const std::string &line) {
    std::fputs(line.c_str(), f_);
    std::fputc('\n', f_);
    std::fflush(f_);
}

std::string event_line(const sofp_pipeline *pipeline, const sofp_event &event) {
    std::vector<char> buf(1024);
    size_t needed = 0;
    if (sofp_event_to_json(pipeline, &event, buf.data(), buf.size(), &needed) != SOFP_OK) {
        buf.resize(needed + 1);
        if (sofp_event_to_json(pipeline, &event, buf.data(), buf.size(), &needed) != SOFP_OK)
            throw RunError(std::string("event_to_json: ") + sofp_last_error());
    }
    return std::string(buf.data(), needed);
}

std::string start_record(const FrameSource &source, const sofp_pipeline *pipeline, const std::string &flow) {
    nlohmann::ordered_json labels = nlohmann::ordered_json::array();
    for (int32_t i = 0; i < sofp_class_count(pipeline); ++i) labels.push_back(sofp_class_label(pipeline, i));
    nlohmann::ordered_json j = {
        {"type", "start"},
        {"source", {{"name", source.name()}, {"fps", round_to(source.fps(), 3)}, {"live", source.live()}}},
        {"capabilities",
         {{"runtime", std::string("native libsofp ") + sofp_version()},
          {"flow", {{"chosen", sofp_flow_name(pipeline)},
                    {"why", flow == "auto" ? "auto: the parameter file's feature_flow" : "asked for by name"}}},
          {"inference", {{"model", sofp_backend_description(pipeline)}, {"labels", labels}}}}}};
    return j.dump();
}

std::string frame_record(const sofp_frame_info &i) {
    static const char *stages[] = {"face", "align", "flow", "spot", "infer"};
    nlohmann::ordered_json st = nlohmann::ordered_json::object();
    for (int k = 0; k < 5; ++k) st[stages[k]] = round_to(i.stage_ms[k], 4);
    nlohmann::ordered_json j = {{"type", "frame"}, {"index", i.index}, {"timestamp", round_to(i.timestamp, 6)},
                                {"face", i.face != 0}, {"tracked", i.tracked != 0}, {"state", i.state},
                                {"events", i.events}, {"total_ms", round_to(i.total_ms, 4)}};
    j["magnitude"] = i.has_magnitude ? nlohmann::ordered_json(round_to(i.magnitude, 5)) : nlohmann::ordered_json();
    j["threshold"] = i.has_magnitude && std::isfinite(i.threshold) ? nlohmann::ordered_json(round_to(i.threshold, 5))
                                                                  : nlohmann::ordered_json();
    j["stages_ms"] = st;
    return j.dump();
}

std::string summary_record(long long frames, long long with_face, int reconnects, long long events, double fps,
                           bool interrupted) {
    nlohmann::ordered_json j = {{"type", "summary"}, {"frames", frames}, {"frames_with_face", with_face},
                                {"dropped_by_source", 0}, {"index_gaps", 0}, {"reconnects", reconnects},
                                {"events", events}};
    j["fps"] = fps > 0 ? nlohmann::ordered_json(fps) : nlohmann::ordered_json();
    j["interrupted"] = interrupted;
    return j.dump();
}

}  // namespace sofp_cli
