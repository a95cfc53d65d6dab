"""MER metrics: UF1 (macro F1), UAR (macro recall), accuracy, per class and per dataset (scikit-learn)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score


def summarise(y_true: np.ndarray, y_pred: np.ndarray, label_names: tuple[str, ...] | list[str],
              datasets: np.ndarray | None = None) -> dict:
    """Pooled metrics over all predictions, and the same per dataset when ``datasets`` is given.

    UF1 and UAR are macro averages over every class of ``label_names`` (a class absent from both
    truth and prediction scores 0, as in the MEGC composite protocol's pooled evaluation).
    """
    labels = list(range(len(label_names)))
    # scikit-learn is unannotated: pyright takes the defaults' types ("binary", "warn") for these parameters
    f1 = np.asarray(f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0))  # pyright: ignore[reportArgumentType]
    rec = np.asarray(recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0))  # pyright: ignore[reportArgumentType]
    out = {
        "uf1": float(np.mean(f1)),
        "uar": float(np.mean(rec)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "n": len(y_true),
        "per_class": {
            name: {"f1": float(f1[i]), "recall": float(rec[i]), "support": int(np.sum(y_true == i))}
            for i, name in enumerate(label_names)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
    if datasets is not None:
        out["per_dataset"] = {
            str(ds): summarise(y_true[datasets == ds], y_pred[datasets == ds], label_names)
            for ds in sorted(set(datasets.tolist()))
        }
    return out
