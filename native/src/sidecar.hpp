// The JSON sidecar of an exported model (schema sofp-sidecar/1, export/sidecar.py), read and checked.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sofp {

struct Sidecar {
    std::string path;
    std::string kind;  // "onnx" | "tensorrt"
    std::vector<std::string> labels;
    std::string input_name, output_name;
    nlohmann::json doc;
};

// model_path + ".json" when sidecar_path is empty. Checks format, required keys, kind (one of
// `kinds`), role "whole", labels, input spec (== expected_input_spec) and the model file's SHA-256.
// Throws sofp::Error: SOFP_ERR_SIDECAR for a missing/foreign/malformed sidecar, SOFP_ERR_MODEL for a
// model file that does not match it.
Sidecar read_sidecar(const std::string &model_path, const std::string &sidecar_path,
                     const std::vector<std::string> &kinds, const nlohmann::json &expected_input_spec);

}  // namespace sofp
