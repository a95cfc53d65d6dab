#include "cuda_flow.hpp"

#include <opencv2/core/version.hpp>

#include "error.hpp"
#include "params.hpp"

#ifdef SOFP_HAVE_CUDA_FLOW
#include <opencv2/core/cuda.hpp>
#include <opencv2/cudaoptflow.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace sofp {

bool is_cuda_flow(const std::string &name) {
    return name == "cuda-tvl1" || name == "cuda-farneback" || name == "cuda-nvof";
}

#ifndef SOFP_HAVE_CUDA_FLOW

bool cuda_flow_built() { return false; }

std::unique_ptr<Flow> make_cuda_flow(const std::string &name, const Params &) {
    throw Error(SOFP_ERR_UNSUPPORTED, "flow \"" + name + "\": this libsofp was built without OpenCV's CUDA optical "
                                      "flow (OpenCV " CV_VERSION " has no cudaoptflow module); valid here: auto, cpu-dis");
}

#else

namespace {

// NVIDIA optical flow 2.0 (create(Size, preset, output grid, hint grid, ...), convertToFloat) came with
// OpenCV 4.5.2; older builds have only 1.0, spelled create(width, height, ...) and
// upSampler(flow, width, height, grid, out).
#if CV_VERSION_MAJOR > 4 || (CV_VERSION_MAJOR == 4 && (CV_VERSION_MINOR > 5 || (CV_VERSION_MINOR == 5 && CV_VERSION_REVISION >= 2)))
#define SOFP_NVOF_2_0 1
#else
#define SOFP_NVOF_2_0 0
#endif

// Uploads two grey frames to GpuMats it holds (on its stream); the subclass computes and downloads.
class CudaFlow : public Flow {
public:
    cv::Mat compute(const cv::Mat &prev, const cv::Mat &curr) override {
        CV_Assert(prev.type() == CV_8UC1 && curr.type() == CV_8UC1 && prev.size() == curr.size());
        g0_.upload(prev, stream_);
        g1_.upload(curr, stream_);
        return calc();
    }

protected:
    // g0_, g1_ -> H x W CV_32FC2 (u, v) px on the host.
    virtual cv::Mat calc() = 0;
    cv::cuda::Stream stream_;
    cv::cuda::GpuMat g0_, g1_, gflow_;
};

// cuda-tvl1 and cuda-farneback: a cv::cuda::DenseOpticalFlow run on the flow's stream.
class DenseCudaFlow : public CudaFlow {
public:
    DenseCudaFlow(std::string name, cv::Ptr<cv::cuda::DenseOpticalFlow> algo)
        : name_(std::move(name)), algo_(std::move(algo)) {}
    std::string name() const override { return name_; }

private:
    cv::Mat calc() override {
        algo_->calc(g0_, g1_, gflow_, stream_);
        cv::Mat out;
        gflow_.download(out, stream_);
        stream_.waitForCompletion();
        return out;
    }

    std::string name_;
    cv::Ptr<cv::cuda::DenseOpticalFlow> algo_;
};

// cuda-nvof: NVIDIA's optical-flow hardware (Turing and newer). The engine is made for one image size
// (re-made when it changes); its S10.5 fixed-point vectors per grid cell become float px at the image's size.
class NvofFlow : public CudaFlow {
public:
    NvofFlow(NvofParams params, cv::Size size) : p_(std::move(params)) { create(size); }
    std::string name() const override { return "cuda-nvof"; }

private:
    void create(cv::Size size) {
        try {
#if SOFP_NVOF_2_0
            using Nv = cv::cuda::NvidiaOpticalFlow_2_0;
            const Nv::NVIDIA_OF_PERF_LEVEL level = p_.preset == "fast"     ? Nv::NV_OF_PERF_LEVEL_FAST
                                                   : p_.preset == "medium" ? Nv::NV_OF_PERF_LEVEL_MEDIUM
                                                                           : Nv::NV_OF_PERF_LEVEL_SLOW;
            algo_ = Nv::create(size, level, static_cast<Nv::NVIDIA_OF_OUTPUT_VECTOR_GRID_SIZE>(p_.grid_size),
                               Nv::NV_OF_HINT_VECTOR_GRID_SIZE_UNDEFINED, p_.enable_temporal_hints, false,
                               p_.enable_cost_buffer, 0);
#else
            using Nv = cv::cuda::NvidiaOpticalFlow_1_0;
            const Nv::NVIDIA_OF_PERF_LEVEL level = p_.preset == "fast"     ? Nv::NV_OF_PERF_LEVEL_FAST
                                                   : p_.preset == "medium" ? Nv::NV_OF_PERF_LEVEL_MEDIUM
                                                                           : Nv::NV_OF_PERF_LEVEL_SLOW;
            algo_ = Nv::create(size.width, size.height, level, p_.enable_temporal_hints, false,
                               p_.enable_cost_buffer, 0);
#endif
        } catch (const cv::Exception &e) {
            throw Error(SOFP_ERR_UNSUPPORTED, "cuda-nvof cannot start on this GPU (NVIDIA optical-flow hardware needs "
                                              "Turing or newer and a matching driver): " + e.err);
        }
        size_ = size;
    }

    cv::Mat calc() override {
        const cv::Size size = g0_.size();
        if (size != size_) create(size);
        stream_.waitForCompletion();  // the engine runs on its own (default) streams
        if (p_.enable_cost_buffer)
            algo_->calc(g0_, g1_, gflow_, cv::cuda::Stream::Null(), cv::noArray(), cost_);
        else
            algo_->calc(g0_, g1_, gflow_);
        cv::Mat out;
#if SOFP_NVOF_2_0
        algo_->convertToFloat(gflow_, out);  // one vector per grid cell, already in full-resolution px
#else
        algo_->upSampler(gflow_, size.width, size.height, algo_->getGridSize(), out);
#endif
        if (out.size() != size) cv::resize(out, out, size, 0, 0, cv::INTER_LINEAR);
        return out;
    }

    NvofParams p_;
#if SOFP_NVOF_2_0
    cv::Ptr<cv::cuda::NvidiaOpticalFlow_2_0> algo_;
#else
    cv::Ptr<cv::cuda::NvidiaOpticalFlow_1_0> algo_;
#endif
    cv::Size size_;
    cv::cuda::GpuMat cost_;
};

}  // namespace

bool cuda_flow_built() { return true; }

std::unique_ptr<Flow> make_cuda_flow(const std::string &name, const Params &params) {
    if (cv::cuda::getCudaEnabledDeviceCount() <= 0)
        throw Error(SOFP_ERR_UNSUPPORTED, "flow \"" + name + "\": OpenCV " CV_VERSION " has CUDA optical flow but "
                                          "no CUDA device is usable (getCudaEnabledDeviceCount() <= 0)");
    if (name == "cuda-tvl1") {
        const CudaTvl1Params &t = params.cuda_tvl1;  // no median filter, one loop of iterations: runtime/flow/params.py
        return std::make_unique<DenseCudaFlow>(
            name, cv::cuda::OpticalFlowDual_TVL1::create(t.tau, t.lambda, t.theta, t.nscales, t.warps, t.epsilon,
                                                         t.iterations, t.scale_step, t.gamma, false));
    }
    if (name == "cuda-farneback") {
        const FarnebackParams &f = params.farneback;
        return std::make_unique<DenseCudaFlow>(
            name, cv::cuda::FarnebackOpticalFlow::create(f.levels, f.pyr_scale, false, f.winsize, f.iterations,
                                                         f.poly_n, f.poly_sigma, f.flags));
    }
    if (name == "cuda-nvof")
        return std::make_unique<NvofFlow>(params.nvof, cv::Size(params.face.crop_size, params.face.crop_size));
    throw Error(SOFP_ERR_INVALID_ARGUMENT, "flow \"" + name + "\" is not a CUDA flow");
}

#endif

}  // namespace sofp
