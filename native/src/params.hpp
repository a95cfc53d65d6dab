// The pipeline parameters of runtime/shared_params.json, shared with the Python runtime.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace sofp {

struct FaceParams {
    int crop_size = 0;
    double margin = 0, track_min_score = 0, center_alpha = 0, size_deadband = 0;
    int detect_every = 0, detect_width = 0, max_misses = 0, search_every = 0;
};

struct DetectorParams {
    std::string cascade;
    double scale_factor = 0, min_size_frac = 0, pad = 0;
    int min_neighbors = 0;
};

struct StabiliserParams {
    std::string method, refine_preset;
    double max_shift_frac = 0;
    int border = 0;
};

struct SpotParams {
    double reference_lag_s = 0, window_s = 0, warmup_s = 0, k_on = 0, k_off = 0, floor_on = 0, floor_off = 0,
           hold_s = 0, smooth_s = 0, min_duration_s = 0, max_duration_s = 0, settle_s = 0;
};

struct Params {
    nlohmann::json input_spec;  // compared with the sidecar's input_spec
    int feature_size = 0;
    FaceParams face;
    DetectorParams detector;
    StabiliserParams stabiliser;
    nlohmann::json dis_presets;  // name -> {"base": ultrafast|fast|medium, overrides...}
    std::string feature_preset;
    std::string motion_preset;
    double top_fraction = 0;
    int cell = 0;
    SpotParams spot;
    bool mirror_average = true;
};

// Parse and check a parameter document; `where` names it in errors (SOFP_ERR_PARAMS).
Params parse_params(const std::string &text, const std::string &where);
// The parameters embedded at build time from runtime/shared_params.json.
Params embedded_params();
// Read a parameter file from disk.
Params load_params_file(const std::string &path);

}  // namespace sofp
