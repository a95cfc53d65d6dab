"""Pictures next to the JSON: confusion matrices and training curves (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def plot_confusion(confusion: list[list[int]], label_names: tuple[str, ...] | list[str], title: str,
                   path: Path) -> Path:
    """Row-normalised confusion matrix with counts; rows = truth, columns = prediction."""
    cm = np.asarray(confusion, dtype=float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{int(cm[i, j])}\n{norm[i, j]:.0%}", ha="center", va="center",
                    color="white" if norm[i, j] > 0.5 else "black", fontsize=9)
    ax.set_xticks(range(len(label_names)), label_names)
    ax.set_yticks(range(len(label_names)), label_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_curves(curves: dict[str, list[float]], title: str, path: Path) -> Path:
    """Training loss (left axis) and held-out UF1/UAR per epoch (right axis, for inspection only:
    the reported number is the final epoch's, whatever these curves show)."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    epochs = np.arange(1, len(curves["train_loss"]) + 1)
    ax.plot(epochs, curves["train_loss"], color="tab:gray", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss (focal)")
    ax2 = ax.twinx()
    for key, color in (("heldout_uf1", "tab:blue"), ("heldout_uar", "tab:orange")):
        if key in curves:
            ax2.plot(epochs, curves[key], color=color, label=key.replace("_", " "))
    ax2.set_ylabel("held-out score (not used for any choice)")
    ax2.set_ylim(0, 1)
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
    ax.legend(lines, labels, loc="lower left", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
