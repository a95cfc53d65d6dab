#include "sidecar.hpp"

#include <fstream>
#include <sstream>

#include "error.hpp"
#include "sha256.hpp"

namespace sofp {

namespace {

constexpr const char *kFormat = "sofp-sidecar/1";
constexpr const char *kRequired[] = {"format", "kind", "file", "sha256", "role", "inputs", "outputs", "labels",
                                     "input_spec", "model", "source", "opset", "precision", "batch", "versions",
                                     "parity", "created"};
constexpr size_t kMaxSidecarBytes = 16u << 20;

std::string io_name(const nlohmann::json &list, const std::string &where, const char *what) {
    if (!list.is_array() || list.empty() || !list[0].is_object() || !list[0].contains("name") ||
        !list[0]["name"].is_string())
        throw Error(SOFP_ERR_SIDECAR, "sidecar " + where + " has no usable " + what + " list; re-export the model");
    return list[0]["name"].get<std::string>();
}

}  // namespace

Sidecar read_sidecar(const std::string &model_path, const std::string &sidecar_path,
                     const std::vector<std::string> &kinds, const nlohmann::json &expected_input_spec) {
    Sidecar s;
    s.path = sidecar_path.empty() ? model_path + ".json" : sidecar_path;
    std::ifstream in(s.path, std::ios::binary);
    if (!in)
        throw Error(SOFP_ERR_SIDECAR, "no sidecar " + s.path + " next to " + model_path +
                                          "; re-export with export/to_onnx.py or export/to_trt.py");
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    if (text.size() > kMaxSidecarBytes)
        throw Error(SOFP_ERR_SIDECAR, "sidecar " + s.path + " is over 16 MiB; not a sidecar");
    s.doc = nlohmann::json::parse(text, nullptr, false);
    if (s.doc.is_discarded()) throw Error(SOFP_ERR_SIDECAR, "sidecar " + s.path + " is not valid JSON; re-export the model");
    if (!s.doc.is_object() || !s.doc.contains("format") || s.doc["format"] != kFormat)
        throw Error(SOFP_ERR_SIDECAR, "sidecar " + s.path + " is not of format \"" + kFormat + "\"");
    std::string missing;
    for (const char *k : kRequired)
        if (!s.doc.contains(k)) missing += (missing.empty() ? "" : ", ") + std::string(k);
    if (!missing.empty()) throw Error(SOFP_ERR_SIDECAR, "sidecar " + s.path + " lacks " + missing + "; re-export the model");
    if (!s.doc["kind"].is_string()) throw Error(SOFP_ERR_SIDECAR, "sidecar " + s.path + " has a non-string kind");
    s.kind = s.doc["kind"].get<std::string>();
    bool kind_ok = false;
    std::string valid;
    for (const std::string &k : kinds) {
        kind_ok = kind_ok || k == s.kind;
        valid += (valid.empty() ? "" : " or ") + k;
    }
    if (!kind_ok)
        throw Error(SOFP_ERR_SIDECAR, "sidecar " + s.path + " describes a \"" + s.kind + "\" file; expected " + valid);
    if (s.doc["role"] != "whole")
        throw Error(SOFP_ERR_SIDECAR, model_path + " is one part of a split graph (role " + s.doc["role"].dump() +
                                          "); pass the whole model");
    const nlohmann::json &labels = s.doc["labels"];
    if (!labels.is_array() || labels.empty() || labels.size() > SOFP_MAX_CLASSES)
        throw Error(SOFP_ERR_SIDECAR, "sidecar " + s.path + " has no usable label list (1.." +
                                          std::to_string(SOFP_MAX_CLASSES) + " names); re-export the model");
    for (const auto &l : labels) {
        if (!l.is_string() || l.get<std::string>().empty() || l.get<std::string>().size() >= SOFP_LABEL_SIZE)
            throw Error(SOFP_ERR_SIDECAR, "sidecar " + s.path + " has a label that is not a string of 1.." +
                                              std::to_string(SOFP_LABEL_SIZE - 1) + " bytes");
        s.labels.push_back(l.get<std::string>());
    }
    if (s.doc["input_spec"] != expected_input_spec)
        throw Error(SOFP_ERR_SIDECAR, model_path + " expects input " + s.doc["input_spec"].dump() +
                                          "; this runtime feeds " + expected_input_spec.dump() + "; re-export the model");
    s.input_name = io_name(s.doc["inputs"], s.path, "inputs");
    s.output_name = io_name(s.doc["outputs"], s.path, "outputs");
    if (!s.doc["sha256"].is_string()) throw Error(SOFP_ERR_SIDECAR, "sidecar " + s.path + " has a non-string sha256");
    const std::string actual = file_sha256(model_path);
    const std::string recorded = s.doc["sha256"].get<std::string>();
    if (actual != recorded)
        throw Error(SOFP_ERR_MODEL, model_path + " does not match its sidecar (sha256 " + actual.substr(0, 12) +
                                        " vs " + recorded.substr(0, 12) + "): truncated, changed or foreign; re-export it");
    return s;
}

}  // namespace sofp
