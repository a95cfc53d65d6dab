#include "params.hpp"

#include <fstream>
#include <sstream>

#include "error.hpp"

namespace sofp {

namespace {

const char *kFormat = "sofp-params/1";

const nlohmann::json &section(const nlohmann::json &doc, const char *key, const std::string &where) {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_object())
        throw Error(SOFP_ERR_PARAMS, where + " lacks the object \"" + key + "\"");
    return *it;
}

double number(const nlohmann::json &obj, const char *key, const std::string &where) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_number())
        throw Error(SOFP_ERR_PARAMS, where + ": \"" + key + "\" must be a number");
    return it->get<double>();
}

int integer(const nlohmann::json &obj, const char *key, const std::string &where) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_number_integer())
        throw Error(SOFP_ERR_PARAMS, where + ": \"" + key + "\" must be an integer");
    return it->get<int>();
}

std::string text(const nlohmann::json &obj, const char *key, const std::string &where) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_string())
        throw Error(SOFP_ERR_PARAMS, where + ": \"" + key + "\" must be a string");
    return it->get<std::string>();
}

bool boolean(const nlohmann::json &obj, const char *key, const std::string &where) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_boolean())
        throw Error(SOFP_ERR_PARAMS, where + ": \"" + key + "\" must be true or false");
    return it->get<bool>();
}

void parse_flow_params(const nlohmann::json &doc, Params &p, const std::string &where) {
    const auto &fp = section(doc, "flow_params", where);
    const auto &fb = section(fp, "farneback", where + " flow_params");
    const std::string fw = where + " flow_params.farneback";
    FarnebackParams &f = p.farneback;
    f.pyr_scale = number(fb, "pyr_scale", fw);
    f.levels = integer(fb, "levels", fw);
    f.winsize = integer(fb, "winsize", fw);
    f.iterations = integer(fb, "iterations", fw);
    f.poly_n = integer(fb, "poly_n", fw);
    f.poly_sigma = number(fb, "poly_sigma", fw);
    f.flags = integer(fb, "flags", fw);
    if (!(f.pyr_scale > 0 && f.pyr_scale < 1) || f.levels < 1 || f.winsize < 1 || f.iterations < 1 ||
        (f.poly_n != 5 && f.poly_n != 7) || !(f.poly_sigma > 0))
        throw Error(SOFP_ERR_PARAMS, fw + " needs 0 < pyr_scale < 1, levels, winsize, iterations >= 1, "
                                          "poly_n 5 or 7, poly_sigma > 0");

    const auto &tv = section(fp, "cuda_tvl1", where + " flow_params");
    const std::string tw = where + " flow_params.cuda_tvl1";
    CudaTvl1Params &t = p.cuda_tvl1;
    t.tau = number(tv, "tau", tw);
    t.lambda = number(tv, "lambda", tw);
    t.theta = number(tv, "theta", tw);
    t.nscales = integer(tv, "nscales", tw);
    t.warps = integer(tv, "warps", tw);
    t.epsilon = number(tv, "epsilon", tw);
    t.iterations = integer(tv, "iterations", tw);
    t.scale_step = number(tv, "scale_step", tw);
    t.gamma = number(tv, "gamma", tw);
    if (!(t.tau > 0 && t.lambda > 0 && t.theta > 0 && t.epsilon > 0) || t.nscales < 1 || t.warps < 1 ||
        t.iterations < 1 || !(t.scale_step > 0 && t.scale_step < 1) || t.gamma < 0)
        throw Error(SOFP_ERR_PARAMS, tw + " needs tau, lambda, theta, epsilon > 0, nscales, warps, iterations >= 1, "
                                          "0 < scale_step < 1, gamma >= 0");

    const auto &nv = section(fp, "nvof", where + " flow_params");
    const std::string nw = where + " flow_params.nvof";
    NvofParams &n = p.nvof;
    n.preset = text(nv, "preset", nw);
    n.grid_size = integer(nv, "grid_size", nw);
    n.enable_temporal_hints = boolean(nv, "enable_temporal_hints", nw);
    n.enable_cost_buffer = boolean(nv, "enable_cost_buffer", nw);
    if (n.preset != "slow" && n.preset != "medium" && n.preset != "fast")
        throw Error(SOFP_ERR_PARAMS, nw + ": preset \"" + n.preset + "\"; valid: slow, medium, fast");
    if (n.grid_size != 1 && n.grid_size != 2 && n.grid_size != 4)
        throw Error(SOFP_ERR_PARAMS, nw + ": grid_size " + std::to_string(n.grid_size) + "; valid: 1, 2, 4");
}

void check_preset(const nlohmann::json &presets, const std::string &name, const std::string &where) {
    if (!presets.contains(name))
        throw Error(SOFP_ERR_PARAMS, where + ": DIS preset \"" + name + "\" is not in dis_presets");
    const auto &p = presets.at(name);
    std::string base = p.is_object() && p.contains("base") && p["base"].is_string() ? p["base"].get<std::string>() : "";
    if (base != "ultrafast" && base != "fast" && base != "medium")
        throw Error(SOFP_ERR_PARAMS, where + ": DIS preset \"" + name + "\" needs base ultrafast, fast or medium");
}

}  // namespace

Params parse_params(const std::string &doc_text, const std::string &where) {
    nlohmann::json doc = nlohmann::json::parse(doc_text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        throw Error(SOFP_ERR_PARAMS, where + " is not a JSON object");
    if (!doc.contains("format") || doc["format"] != kFormat)
        throw Error(SOFP_ERR_PARAMS, where + " has no \"format\": \"" + std::string(kFormat) + "\"");
    Params p;
    p.input_spec = section(doc, "input_spec", where);
    p.feature_size = integer(p.input_spec, "height", where + " input_spec");
    if (p.feature_size != integer(p.input_spec, "width", where + " input_spec") || p.feature_size < 2 ||
        p.feature_size > 1024)
        throw Error(SOFP_ERR_PARAMS, where + ": input_spec height and width must be equal, 2..1024");

    const auto &f = section(doc, "face", where);
    p.face.crop_size = integer(f, "crop_size", where);
    p.face.margin = number(f, "margin", where);
    p.face.detect_every = integer(f, "detect_every", where);
    p.face.detect_lag = integer(f, "detect_lag", where);
    p.face.detect_width = integer(f, "detect_width", where);
    p.face.track_min_score = number(f, "track_min_score", where);
    p.face.max_misses = integer(f, "max_misses", where);
    p.face.center_alpha = number(f, "center_alpha", where);
    p.face.size_deadband = number(f, "size_deadband", where);
    p.face.search_every = integer(f, "search_every", where);
    if (p.face.crop_size < 16 || p.face.crop_size > 4096 || p.face.detect_every < 1 || p.face.detect_lag < 0 ||
        p.face.detect_lag >= p.face.detect_every || p.face.detect_width < 64)
        throw Error(SOFP_ERR_PARAMS, where + ": face needs crop_size 16..4096, detect_every >= 1, "
                                             "0 <= detect_lag < detect_every, detect_width >= 64");

    const auto &d = section(doc, "detector", where);
    p.detector.cascade = text(d, "cascade", where);
    p.detector.scale_factor = number(d, "scale_factor", where);
    p.detector.min_neighbors = integer(d, "min_neighbors", where);
    p.detector.min_size_frac = number(d, "min_size_frac", where);
    p.detector.pad = number(d, "pad", where);
    if (!(p.detector.scale_factor > 1.0) || p.detector.pad < 0)
        throw Error(SOFP_ERR_PARAMS, where + ": detector needs scale_factor > 1 and pad >= 0");

    const auto &s = section(doc, "stabiliser", where);
    p.stabiliser.method = text(s, "method", where);
    p.stabiliser.max_shift_frac = number(s, "max_shift_frac", where);
    p.stabiliser.border = integer(s, "border", where);
    p.stabiliser.refine_preset = text(s, "refine_preset", where);
    if (p.stabiliser.method != "robust" && p.stabiliser.method != "none")
        throw Error(SOFP_ERR_PARAMS, where + ": stabiliser method \"" + p.stabiliser.method +
                                         "\"; the native runtime has robust and none");

    p.dis_presets = section(doc, "dis_presets", where);
    const auto &ff = section(doc, "feature_flow", where);
    p.feature_flow = text(ff, "name", where);
    if (p.feature_flow != "cpu-dis")
        throw Error(SOFP_ERR_PARAMS, where + ": feature_flow \"" + p.feature_flow +
                                         "\"; the native runtime's default flow is cpu-dis (CUDA flows: by name)");
    p.feature_preset = text(ff, "preset", where);
    const auto &m = section(doc, "motion", where);
    p.motion_preset = text(m, "preset", where);
    p.top_fraction = number(m, "top_fraction", where);
    p.cell = integer(m, "cell", where);
    if (!(p.top_fraction > 0 && p.top_fraction <= 1) || p.cell < 1)
        throw Error(SOFP_ERR_PARAMS, where + ": motion needs 0 < top_fraction <= 1 and cell >= 1");
    check_preset(p.dis_presets, p.feature_preset, where);
    check_preset(p.dis_presets, p.motion_preset, where);
    check_preset(p.dis_presets, p.stabiliser.refine_preset, where);
    parse_flow_params(doc, p, where);

    const auto &sp = section(doc, "spot", where);
    SpotParams &q = p.spot;
    q.reference_lag_s = number(sp, "reference_lag_s", where);
    q.window_s = number(sp, "window_s", where);
    q.warmup_s = number(sp, "warmup_s", where);
    q.k_on = number(sp, "k_on", where);
    q.k_off = number(sp, "k_off", where);
    q.floor_on = number(sp, "floor_on", where);
    q.floor_off = number(sp, "floor_off", where);
    q.hold_s = number(sp, "hold_s", where);
    q.smooth_s = number(sp, "smooth_s", where);
    q.min_duration_s = number(sp, "min_duration_s", where);
    q.max_duration_s = number(sp, "max_duration_s", where);
    q.settle_s = number(sp, "settle_s", where);
    // the checks of SpotConfig.__post_init__ (runtime/spotting.py)
    bool ok = q.hold_s >= 0 && q.smooth_s >= 0 && q.reference_lag_s > 0 && q.window_s > 0 && q.max_duration_s > 0 &&
              q.settle_s > 0 && 0 <= q.min_duration_s && q.min_duration_s < q.max_duration_s && q.k_on >= q.k_off &&
              q.k_off >= 0 && q.floor_on >= q.floor_off && q.floor_off >= 0;
    if (!ok) throw Error(SOFP_ERR_PARAMS, where + ": spot values out of range (see SpotConfig in runtime/spotting.py)");
    p.mirror_average = boolean(doc, "mirror_average", where);
    return p;
}

Params embedded_params() { return parse_params(kEmbeddedParams, "embedded runtime/shared_params.json"); }

Params load_params_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(SOFP_ERR_PARAMS, "parameter file " + path + " cannot be opened");
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_params(ss.str(), "parameter file " + path);
}

}  // namespace sofp
