"""Export parity (benchmarks/export_parity.py) on an ensemble checkpoint: whole graph only, no split rows."""

import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import export_parity  # noqa: E402

from sofp.training.checkpoint import save_checkpoint  # noqa: E402
from sofp.training.models import build_model  # noqa: E402


def _composite_like(root: Path, n: int = 12) -> Path:
    """A labels.csv + flow/ folder in the composite's format, from random 28 x 28 x 3 images."""
    (root / "flow").mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = ["negative", "positive", "surprise"]
    with (root / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "dataset", "subject", "sample", "label", "emotion"])
        for i in range(n):
            cv2.imwrite(str(root / "flow" / f"s{i}.png"), rng.integers(0, 256, (28, 28, 3), dtype=np.uint8))
            w.writerow([f"s{i}.png", "casme2", f"casme2/sub{i % 4}", f"clip{i}", i % 3, names[i % 3]])
    return root


def test_an_ensemble_with_a_partner_is_measured_whole(tmp_path):
    ens = build_model("ensemble", members=2, partner="ststnet",
                      partner_config={"use_strain": False, "center": True, "blur": 0.7}, partner_weight=0.4).eval()
    ckpt = save_checkpoint(tmp_path / "ens.pt", ens, {"model_name": "ensemble", "model_config": ens.cfg.to_dict(),
                                                      "labels": ["negative", "positive", "surprise"]})
    res = export_parity.run(_composite_like(tmp_path / "data"), ckpt, 16, tmp_path / "out", "cmd", 1)
    assert not any("split" in key for c in res["comparisons"].values() for key in c)
    assert not any("split" in key for key in res["criteria"])
    assert res["comparisons"]["composite"]["ort_fp32_vs_pytorch"]["max_abs_logit"] < 1e-4
    assert "No split rows" in (tmp_path / "out" / "export_parity.md").read_text()
    assert json.loads((tmp_path / "out" / "export_parity.json").read_text())["checkpoint"]["model_name"] == "ensemble"
    assert (tmp_path / "out" / "export_parity.png").is_file()
