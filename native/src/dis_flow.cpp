#include "dis_flow.hpp"

#include "error.hpp"

namespace sofp {

namespace {

// OpenCV >= 4.10 can set DIS's variational refinement epsilon; older builds have 0.001 built in.
constexpr float kBuiltInEpsilon = 0.001f;

template <typename T>
auto set_epsilon(T &dis, float value, int) -> decltype(dis.setVariationalRefinementEpsilon(value), bool()) {
    dis.setVariationalRefinementEpsilon(value);
    return true;
}

template <typename T>
bool set_epsilon(T &, float value, long) {
    return value == kBuiltInEpsilon;
}

}  // namespace

DisFlow::DisFlow(const nlohmann::json &presets, const std::string &name) {
    if (!presets.contains(name)) throw Error(SOFP_ERR_PARAMS, "DIS preset \"" + name + "\" is not defined");
    const nlohmann::json &p = presets.at(name);
    const std::string base = p.at("base").get<std::string>();
    int id = base == "ultrafast" ? cv::DISOpticalFlow::PRESET_ULTRAFAST
             : base == "fast"    ? cv::DISOpticalFlow::PRESET_FAST
                                 : cv::DISOpticalFlow::PRESET_MEDIUM;
    dis_ = cv::DISOpticalFlow::create(id);
    for (auto it = p.begin(); it != p.end(); ++it) {
        const std::string &k = it.key();
        const nlohmann::json &v = it.value();
        if (k == "base") continue;
        if (k == "finest_scale") dis_->setFinestScale(v.get<int>());
        else if (k == "patch_size") dis_->setPatchSize(v.get<int>());
        else if (k == "patch_stride") dis_->setPatchStride(v.get<int>());
        else if (k == "gradient_descent_iterations") dis_->setGradientDescentIterations(v.get<int>());
        else if (k == "variational_refinement_iterations") dis_->setVariationalRefinementIterations(v.get<int>());
        else if (k == "variational_refinement_alpha") dis_->setVariationalRefinementAlpha(v.get<float>());
        else if (k == "variational_refinement_delta") dis_->setVariationalRefinementDelta(v.get<float>());
        else if (k == "variational_refinement_gamma") dis_->setVariationalRefinementGamma(v.get<float>());
        else if (k == "variational_refinement_epsilon") {
            if (!set_epsilon(*dis_, v.get<float>(), 0))
                throw Error(SOFP_ERR_PARAMS, "DIS preset \"" + name + "\": OpenCV " CV_VERSION
                                             " cannot set variational_refinement_epsilon (it has 0.001 built in)");
        } else if (k == "use_mean_normalization") dis_->setUseMeanNormalization(v.get<bool>());
        else if (k == "use_spatial_propagation") dis_->setUseSpatialPropagation(v.get<bool>());
        else throw Error(SOFP_ERR_PARAMS, "DIS preset \"" + name + "\" sets unknown field \"" + k + "\"");
    }
}

cv::Mat DisFlow::compute(const cv::Mat &prev, const cv::Mat &curr) {
    cv::Mat flow;
    dis_->calc(prev, curr, flow);
    return flow;
}

}  // namespace sofp
