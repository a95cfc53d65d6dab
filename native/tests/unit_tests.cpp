// Unit tests of sofp_core pieces whose answers are known without the Python runtime.
#include <chrono>
#include <cmath>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "check.hpp"
#include "error.hpp"
#include "area_resize.hpp"
#include "background_job.hpp"
#include "features.hpp"
#include "gray_frame.hpp"
#include "json_number.hpp"
#include "median.hpp"
#include "motion.hpp"
#include "params.hpp"
#include "phase_correlation.hpp"
#include "sha256.hpp"
#include "spotter.hpp"

namespace {

void test_py_float() {
    // Python: repr(round(x, n))
    CHECK(sofp::py_float(1.0, 6) == "1.0");
    CHECK(sofp::py_float(0.25, 6) == "0.25");
    CHECK(sofp::py_float(0.1234567, 6) == "0.123457");
    CHECK(sofp::py_float(-2.5, 2) == "-2.5");
    CHECK(sofp::py_float(0.00001, 6) == "1e-05");
    CHECK(sofp::py_float(0.0001, 6) == "0.0001");
    CHECK(sofp::py_float(123456.0, 3) == "123456.0");
    CHECK(sofp::py_float(1e17, 2) == "1e+17");
    CHECK(sofp::py_float(0.0, 6) == "0.0");
    CHECK(sofp::py_float(std::nan(""), 6) == "NaN");
}

void test_sha256() {
    const std::string path = "sofp_unit_sha.txt";
    std::ofstream("sofp_unit_sha.txt", std::ios::binary) << "abc";
    CHECK(sofp::file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    std::ofstream("sofp_unit_sha.txt", std::ios::binary | std::ios::trunc);
    CHECK(sofp::file_sha256(path) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    std::remove(path.c_str());
}

void test_median() {
    std::vector<double> odd{3, 1, 2}, even{4, 1, 3, 2};
    CHECK(sofp::median_of(odd) == 2.0);
    CHECK(sofp::median_of(even) == 2.5);  // numpy: mean of the two middle values
}

void test_features() {
    // u = x / 10 (px): u's min-max image is a left-to-right ramp 0..255, v is constant (all 0),
    // strain = |du/dx| = 0.1 everywhere (up to float rounding).
    cv::Mat flow(112, 112, CV_32FC2);
    for (int y = 0; y < 112; ++y)
        for (int x = 0; x < 112; ++x) flow.at<cv::Vec2f>(y, x) = cv::Vec2f(x / 10.0f, 0.f);
    const cv::Mat strain = sofp::optical_strain(flow);
    CHECK(std::fabs(strain.at<float>(50, 50) - 0.1f) < 1e-6f);
    CHECK(std::fabs(strain.at<float>(0, 0) - 0.1f) < 1e-5f);
    const cv::Mat f = sofp::flow_to_features(flow, 28);
    CHECK(f.rows == 28 && f.cols == 28 && f.type() == CV_8UC3);
    CHECK(f.at<cv::Vec3b>(5, 0)[0] == 0 && f.at<cv::Vec3b>(5, 27)[0] == 255);
    CHECK(f.at<cv::Vec3b>(9, 13)[1] == 0);
    double lo = 0, hi = 0;
    cv::minMaxLoc(strain, &lo, &hi);
    CHECK(hi - lo < 1e-5);
    const cv::Mat m = sofp::mirror_features(f);
    CHECK(m.at<cv::Vec3b>(5, 0)[0] == 0 && m.at<cv::Vec3b>(5, 27)[0] == 255);  // flipped and negated: same ramp
    std::vector<float> batch;
    sofp::append_input(f, batch);
    CHECK(batch.size() == 3u * 28 * 28);
    CHECK(batch[27] == 1.0f && batch[0] == 0.0f);
}

void test_motion() {
    // a 2 px rightward shift over a quarter of the blocks, none elsewhere: the top 10 % are the moved blocks
    cv::Mat flow(112, 112, CV_32FC2, cv::Scalar(0, 0));
    flow(cv::Rect(0, 0, 56, 56)).setTo(cv::Scalar(2.0, 0));
    CHECK(std::fabs(sofp::motion_magnitude(flow, 0.1, 8) - 2.0) < 1e-6);
    flow.setTo(cv::Scalar(1.5, -0.5));  // pure translation: removed as head motion
    CHECK(sofp::motion_magnitude(flow, 0.1, 8) < 1e-6);
}

void test_spotter() {
    // 100 frames/s: 1.2 s of small noise, a 0.2 s raised-cosine movement of 1 px, then quiet; runtime/spotting.py's
    // spot_signal on the same samples gives onset 120, apex 128, offset 143 (the median smoothing's plateau
    // at the peak starts at 128)
    const sofp::Params p = sofp::embedded_params();
    sofp::Spotter s(100.0, p.spot);
    std::vector<sofp::SpottedInterval> found;
    for (int i = 0; i < 250; ++i) {
        s.reference_for(i);
        double m = 0.005 * ((i * 7919) % 13) / 13.0;
        if (i >= 120 && i <= 140) m += 0.5 * (1 - std::cos(2 * M_PI * (i - 120) / 20.0));
        if (auto iv = s.update(i, i / 100.0, m)) found.push_back(*iv);
    }
    CHECK(found.size() == 1);
    if (found.size() == 1) {
        CHECK(found[0].onset.index == 120 && found[0].apex.index == 128 && found[0].offset.index == 143);
        CHECK(std::fabs(found[0].apex.time - 1.28) < 1e-12);
    }
    bool threw = false;
    try {
        sofp::Spotter bad(0.0, p.spot);
    } catch (const sofp::Error &) {
        threw = true;
    }
    CHECK(threw);
}

void test_params() {
    const sofp::Params p = sofp::embedded_params();
    CHECK(p.feature_size == 28 && p.face.crop_size >= 16 && p.spot.max_duration_s > p.spot.min_duration_s);
    auto refused = [](const std::string &text) {
        try {
            sofp::parse_params(text, "test");
        } catch (const sofp::Error &e) {
            return e.status() == SOFP_ERR_PARAMS;
        }
        return false;
    };
    CHECK(refused("not json"));
    CHECK(refused("[]"));
    CHECK(refused("{\"format\": \"sofp-params/2\"}"));
    CHECK(refused("{\"format\": \"sofp-params/1\"}"));
}

// flow_params (the CUDA flows' parameters) are read from the shared file, not built in: the embedded values
// are the document's, an edited document's values come through, and bad values are refused.
void test_flow_params() {
    const nlohmann::json doc = nlohmann::json::parse(sofp::kEmbeddedParams);
    const nlohmann::json &fp = doc.at("flow_params");
    const sofp::Params p = sofp::embedded_params();
    CHECK(p.cuda_tvl1.tau == fp["cuda_tvl1"]["tau"].get<double>());
    CHECK(p.cuda_tvl1.lambda == fp["cuda_tvl1"]["lambda"].get<double>());
    CHECK(p.cuda_tvl1.iterations == fp["cuda_tvl1"]["iterations"].get<int>());
    CHECK(p.cuda_tvl1.scale_step == fp["cuda_tvl1"]["scale_step"].get<double>());
    CHECK(p.farneback.levels == fp["farneback"]["levels"].get<int>());
    CHECK(p.farneback.poly_sigma == fp["farneback"]["poly_sigma"].get<double>());
    CHECK(p.nvof.preset == fp["nvof"]["preset"].get<std::string>());
    CHECK(p.nvof.grid_size == fp["nvof"]["grid_size"].get<int>());

    nlohmann::json edited = doc;
    edited["flow_params"]["cuda_tvl1"]["iterations"] = 123;
    edited["flow_params"]["cuda_tvl1"]["lambda"] = 0.05;
    edited["flow_params"]["farneback"]["winsize"] = 21;
    edited["flow_params"]["nvof"]["preset"] = "fast";
    edited["flow_params"]["nvof"]["grid_size"] = 4;
    edited["flow_params"]["nvof"]["enable_temporal_hints"] = true;
    const sofp::Params q = sofp::parse_params(edited.dump(), "test");
    CHECK(q.cuda_tvl1.iterations == 123 && q.cuda_tvl1.lambda == 0.05 && q.farneback.winsize == 21);
    CHECK(q.nvof.preset == "fast" && q.nvof.grid_size == 4 && q.nvof.enable_temporal_hints);

    auto refused_with = [&doc](const char *flow, const char *key, const nlohmann::json &value) {
        nlohmann::json bad = doc;
        if (value.is_null()) bad["flow_params"][flow].erase(key);
        else bad["flow_params"][flow][key] = value;
        try {
            sofp::parse_params(bad.dump(), "test");
        } catch (const sofp::Error &e) {
            return e.status() == SOFP_ERR_PARAMS && std::string(e.what()).find(flow) != std::string::npos;
        }
        return false;
    };
    CHECK(refused_with("nvof", "preset", "turbo"));
    CHECK(refused_with("nvof", "grid_size", 3));
    CHECK(refused_with("nvof", "enable_cost_buffer", 1));
    CHECK(refused_with("cuda_tvl1", "lambda", "0.15"));
    CHECK(refused_with("cuda_tvl1", "iterations", 0));
    CHECK(refused_with("cuda_tvl1", "scale_step", 1.5));
    CHECK(refused_with("farneback", "poly_n", 6));
    CHECK(refused_with("farneback", "levels", nullptr));
    nlohmann::json no_section = doc;
    no_section.erase("flow_params");
    bool threw = false;
    try {
        sofp::parse_params(no_section.dump(), "test");
    } catch (const sofp::Error &e) {
        threw = e.status() == SOFP_ERR_PARAMS;
    }
    CHECK(threw);
}

// BackgroundJob: every job on one thread kept for its life, wait() rethrows a job's exception once, and the
// destructor waits for a running job.
void test_background_job() {
    int ran = 0;
    std::set<std::thread::id> threads;
    {
        sofp::BackgroundJob job;
        job.wait();  // none started: returns at once
        for (int i = 0; i < 50; ++i) {
            job.start([&] {
                ++ran;
                threads.insert(std::this_thread::get_id());
            });
            job.wait();
        }
        CHECK(ran == 50 && threads.size() == 1 && !threads.count(std::this_thread::get_id()));
        job.start([] { throw std::runtime_error("job failed"); });
        bool threw = false;
        try {
            job.wait();
        } catch (const std::runtime_error &) {
            threw = true;
        }
        CHECK(threw);
        job.wait();  // reported once
        job.start([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            ++ran;
        });
    }
    CHECK(ran == 51);
}

// PhaseCorrelator (spectra computed once, fused normalisation) gives cv::phaseCorrelate's shift.
void test_phase_correlation() {
    cv::RNG rng(7);
    cv::Mat base(160, 160, CV_8U);
    rng.fill(base, cv::RNG::UNIFORM, 0, 256);
    cv::GaussianBlur(base, base, cv::Size(7, 7), 2.5);
    sofp::PhaseCorrelator pc;
    double worst = 0;
    for (int i = 0; i < 40; ++i) {
        const double sx = rng.uniform(-6.0, 6.0), sy = rng.uniform(-6.0, 6.0);
        const cv::Mat m = (cv::Mat_<double>(2, 3) << 1, 0, sx, 0, 1, sy);
        cv::Mat moved;
        cv::warpAffine(base, moved, m, base.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT);
        const cv::Rect roi(24, 24, 112, 112);
        const cv::Mat ref = base(roi).clone(), cur = moved(roi).clone();
        cv::Mat rf, cf, window;
        ref.convertTo(rf, CV_32F);
        cur.convertTo(cf, CV_32F);
        cv::createHanningWindow(window, ref.size(), CV_32F);
        const cv::Point2d want = cv::phaseCorrelate(rf, cf, window);
        const cv::Point2d got = pc.shift(ref, pc.spectrum(ref), cur, pc.spectrum(cur));
        worst = std::max({worst, std::fabs(got.x - want.x), std::fabs(got.y - want.y)});
        CHECK(std::fabs(got.x - sx) < 0.6 && std::fabs(got.y - sy) < 0.6);
    }
    std::printf("phase correlation: max |shift - cv::phaseCorrelate's| %.2e px\n", worst);
    CHECK(worst < 1e-6);
}

// GrayFrame's regions (converted and downscaled on demand) equal the same regions of the whole frame
// converted with cv::cvtColor and downscaled with cv::resize (INTER_AREA), for integer and other scales.
void test_gray_frame() {
    cv::RNG rng(11);
    for (const cv::Size size : {cv::Size(640, 480), cv::Size(641, 479), cv::Size(160, 120)}) {
        cv::Mat bgr(size, CV_8UC3);
        rng.fill(bgr, cv::RNG::UNIFORM, 0, 256);
        cv::Mat gray, small;
        cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
        const cv::Size small_size(160, 120);
        cv::resize(gray, small, small_size, 0, 0, cv::INTER_AREA);
        sofp::GrayFrame frame(bgr, cv::COLOR_BGR2GRAY);
        frame.set_small_size(small_size);
        for (int i = 0; i < 50; ++i) {
            const int x0 = rng.uniform(0, 150), y0 = rng.uniform(0, 110);
            const cv::Rect r(x0, y0, rng.uniform(1, 160 - x0 + 1), rng.uniform(1, 120 - y0 + 1));
            CHECK(cv::norm(frame.small_region(r), small(r), cv::NORM_INF) == 0);
            const cv::Rect g = cv::Rect(r.x * 2, r.y * 2, r.width * 2, r.height * 2) & cv::Rect(cv::Point(), size);
            if (!g.empty()) CHECK(cv::norm(frame.region(g), gray(g), cv::NORM_INF) == 0);
        }
        CHECK(cv::norm(frame.small_full(), small, cv::NORM_INF) == 0);
        CHECK(cv::norm(frame.full(), gray, cv::NORM_INF) == 0);
    }
}

// AreaResizer gives cv::resize's INTER_AREA output exactly, for every source size the face crop meets.
void test_area_resize() {
    cv::RNG rng(5);
    sofp::AreaResizer shrink;
    int differing = 0;
    for (int s = 100; s <= 420; ++s) {
        for (const cv::Size to : {cv::Size(112, 112), cv::Size(rng.uniform(20, 100), rng.uniform(20, 100))}) {
            cv::Mat src(s, s + (s % 3), CV_8U), want, got;
            rng.fill(src, cv::RNG::UNIFORM, 0, 256);
            cv::resize(src, want, to, 0, 0, cv::INTER_AREA);
            shrink(src, got, to);
            differing += cv::norm(got, want, cv::NORM_INF) != 0;
        }
    }
    std::printf("area resize: %d of 642 sizes differ from cv::resize\n", differing);
    CHECK(differing == 0);
}

}  // namespace

int main() {
    test_py_float();
    test_sha256();
    test_median();
    test_features();
    test_motion();
    test_spotter();
    test_params();
    test_flow_params();
    test_phase_correlation();
    test_gray_frame();
    test_area_resize();
    test_background_job();
    return TEST_MAIN_RESULT("sofp_unit_tests");
}
