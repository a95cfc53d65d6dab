// One job at a time on one background thread, kept for the owner's life: the face detector's
// pipelined detections (face_cropper.cpp) run there, off the per-frame path.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace sofp {

class BackgroundJob {
public:
    BackgroundJob() = default;
    // Waits for the running job, then ends the thread.
    ~BackgroundJob();
    BackgroundJob(const BackgroundJob &) = delete;
    BackgroundJob &operator=(const BackgroundJob &) = delete;

    // Run job on the thread (started on the first call). The previous job must have been waited for.
    void start(std::function<void()> job);
    // Block until the job last started has finished (at once when none runs); rethrows its exception.
    void wait();

private:
    void loop();

    std::mutex mutex_;
    std::condition_variable changed_;
    std::function<void()> job_;
    std::exception_ptr error_;
    bool busy_ = false, stop_ = false;
    std::thread thread_;  // last: started after, joined before the members above go
};

}  // namespace sofp
