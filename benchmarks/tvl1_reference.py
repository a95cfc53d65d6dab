"""OpenCV contrib TV-L1 (cv2.optflow) on pairs from an .npz, for a Python that has the contrib build.

The contrib wheel cannot live beside opencv-python in one environment, so flow_accuracy.py runs
this file with another interpreter (``--contrib-python``). Needs only numpy and
opencv-contrib-python(-headless) < 5; does not import sofp.

    python tvl1_reference.py pairs.npz out.npz '{"tau": 0.25, ...}'
"""

import json
import sys
import time

import cv2
import numpy as np


def main() -> int:
    src, dst, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    cv2.setNumThreads(int(params.pop("threads", 1)))
    data = np.load(src)
    flows, seconds = [], []
    for i in range(len(data["prev"])):
        prev, curr = data["prev"][i], data["curr"][i]
        # run with opencv-contrib (README); the headless wheel's stubs, which the type check reads, lack cv2.optflow
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create(  # pyright: ignore[reportAttributeAccessIssue]
            tau=params["tau"], lambda_=params["lambda_"], theta=params["theta"], nscales=params["nscales"],
            warps=params["warps"], epsilon=params["epsilon"], innnerIterations=params["inner_iterations"],
            outerIterations=params["outer_iterations"], scaleStep=params["scale_step"], gamma=params["gamma"],
            medianFiltering=params["median_filtering"])
        t0 = time.perf_counter()
        flows.append(tvl1.calc(prev, curr, None))
        seconds.append(time.perf_counter() - t0)
    np.savez(dst, flow=np.array(flows, np.float32), seconds=np.array(seconds), version=cv2.__version__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
