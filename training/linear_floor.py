"""The linear floor: scikit-learn logistic regression on raw pixels, with the same LOSO folds.

A deep model that does not clearly beat it has learnt nothing beyond a linear read-out of the
flow image.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from sofp.training.data.flowset import FlowSet
from sofp.training.loso import loso_folds


def loso_logistic(data: FlowSet, c: float = 1.0, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """LOSO predictions of a standardised, class-balanced logistic regression on the 2352 raw pixels.

    Returns (sample indices in fold order, predicted labels).
    """
    x = data.images.reshape(len(data), -1).astype(np.float32) / 255.0
    index, preds = [], []
    for fold in tqdm(loso_folds(data.subjects), desc="LOSO logistic", unit="fold", disable=not progress):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, class_weight="balanced"))
        clf.fit(x[fold.train], data.labels[fold.train])
        index.append(fold.test)
        preds.append(clf.predict(x[fold.test]))
    return np.concatenate(index), np.concatenate(preds)
