/* The C API from C99: build a pipeline on a model, push frames, poll events, handle errors.
 *
 *     example_c MODEL.onnx [N_FRAMES]
 *
 * Pushes N synthetic 320 x 240 BGR frames (a textured pattern with no face: the pipeline reports
 * "no-face" and emits nothing), shows a rejected frame's error code and message, and prints one
 * JSON line per event. Exit 0 when every call behaved as documented. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofp/sofp.h>

#define W 320
#define H 240

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.onnx [N_FRAMES]\n", argv[0]);
        return 2;
    }
    int n_frames = argc > 2 ? atoi(argv[2]) : 50;
    printf("libsofp %s\n", sofp_version());

    sofp_config cfg;
    sofp_config_init(&cfg);
    cfg.model_path = argv[1];
    cfg.fps = 100.0;
    sofp_pipeline *pipe = NULL;
    sofp_status st = sofp_create(&cfg, &pipe);
    if (st != SOFP_OK) {
        fprintf(stderr, "sofp_create: %s: %s\n", sofp_status_string(st), sofp_last_error());
        return 1;
    }
    printf("backend: %s\nclasses:", sofp_backend_description(pipe));
    for (int32_t i = 0; i < sofp_class_count(pipe); ++i) printf(" %s", sofp_class_label(pipe, i));
    printf("\n");

    static unsigned char pixels[H * W * 3];
    sofp_frame frame;
    sofp_frame_init(&frame);
    frame.data = pixels;
    frame.width = W;
    frame.height = H;
    frame.stride = W * 3;
    frame.format = SOFP_PIXEL_BGR8;
    int events = 0, failures = 0;
    for (int t = 0; t < n_frames; ++t) {
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W * 3; ++x) pixels[y * W * 3 + x] = (unsigned char)((x * 7 + y * 13 + t) & 0xff);
        frame.capture_time_ns = (int64_t)t * 10000000; /* 100 frames/s */
        st = sofp_push_frame(pipe, &frame);
        if (st != SOFP_OK) {
            fprintf(stderr, "sofp_push_frame: %s\n", sofp_last_error());
            ++failures;
        }
        sofp_event ev;
        sofp_event_init(&ev);
        while (sofp_poll_event(pipe, &ev) == SOFP_OK) {
            char line[2048];
            if (sofp_event_to_json(pipe, &ev, line, sizeof line, NULL) == SOFP_OK) printf("%s\n", line);
            ++events;
        }
    }
    sofp_frame_info info;
    sofp_frame_info_init(&info);
    if (sofp_last_frame_info(pipe, &info) != SOFP_OK || strcmp(info.state, "no-face") != 0) ++failures;
    printf("%d frames, %d events, last frame: %s, %.3f ms\n", n_frames, events, info.state, info.total_ms);

    /* A bad frame is refused with a status and a one-line message; the pipeline stays usable. */
    frame.stride = 10;
    st = sofp_push_frame(pipe, &frame);
    printf("bad stride -> %s: %s\n", sofp_status_string(st), sofp_last_error());
    if (st != SOFP_ERR_INVALID_ARGUMENT) ++failures;
    frame.stride = W * 3;
    if (sofp_push_frame(pipe, &frame) != SOFP_OK) ++failures;

    sofp_destroy(pipe);
    return failures == 0 && events == 0 ? 0 : 1;
}
