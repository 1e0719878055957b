"""The Donsker-Varadhan penalty behind the penalty interface trains exactly what it trained before.

``tests/data/dv_before_interface.npz`` holds ``predict_proba`` and the epoch
history of the fits below, recorded with the code of commit c39514c (before
the penalty interface) by running this file as a script there:
``PYTHONPATH=. python tests/test_dv_reproduces.py``. The same fits must give
the same floats, bit for bit: any change in the order of random draws, of the
critic's updates or of the penalised step shows up here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skorch.dataset import ValidSplit
from torch import nn

from fairmine import MIUnbiasedClassifier
from fairmine.datasets import load_german
from fairmine.experiments import german_preprocessor
from fairmine.mi import DonskerVaradhan

pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

RECORDED = Path(__file__).parent / "data" / "dv_before_interface.npz"

#: one fit per path of the critic's loop: defaults; the classifier critic with weights and
#: conditioning on y; fresh minibatches, the separate update, a validation split
GERMAN_FITS = {
    "default": ({"max_epochs": 3}, False),
    "classifier_equalized_odds_weighted": (
        {
            "max_epochs": 2,
            "penalty": DonskerVaradhan(critic_type="classifier"),
            "criterion": "equalized_odds",
        },
        True,
    ),
    "fresh_separate_equal_opportunity_valid": (
        {
            "max_epochs": 2,
            "criterion": "equal_opportunity",
            "penalty": DonskerVaradhan(sampling="fresh", steps=2),
            "mi_update": "separate",
            "clip_mi_gradient": "representation",
            "train_split": ValidSplit(5, stratified=False),
        },
        False,
    ),
}

HISTORY_KEYS = ("train_loss", "train_task_loss", "train_mi", "train_z_active", "valid_loss")


class TinyCNN(nn.Sequential):
    def __init__(self) -> None:
        super().__init__(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())


def _german() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    german = load_german()
    X, y = german.data.iloc[:300], german.target.to_numpy()[:300]
    young = (X["age"] < 25).to_numpy()
    weight = np.random.RandomState(1).uniform(0.5, 1.5, len(y))
    return german_preprocessor().fit_transform(X), y, young, weight


def _squares() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.RandomState(0)
    n = 96
    y = rng.randint(0, 2, n)
    colour = np.where(rng.rand(n) < 0.8, y, 1 - y)
    X = np.zeros((n, 3, 8, 8), dtype=np.float32)
    for i in range(n):
        X[i, colour[i], 2:6, 2:6] = 1.0 if y[i] else 0.0
        X[i, colour[i], :, 3:5] = 0.0 if y[i] else 1.0
    return X, y, colour


def _record(clf: MIUnbiasedClassifier, X: np.ndarray, name: str) -> dict[str, np.ndarray]:
    arrays = {f"{name}/proba": clf.predict_proba(X)}
    for key in HISTORY_KEYS:
        if key in clf.history_[-1]:
            arrays[f"{name}/{key}"] = np.asarray(clf.history_[:, key], dtype=np.float64)
    return arrays


def run_fits() -> dict[str, np.ndarray]:
    """Fit every recorded configuration; return its arrays by ``name/what``."""
    X, y, young, weight = _german()
    arrays: dict[str, np.ndarray] = {}
    for name, (params, weighted) in GERMAN_FITS.items():
        clf = MIUnbiasedClassifier(random_state=0, **params)
        clf.fit(X, y, sensitive_features=young, sample_weight=weight if weighted else None)
        arrays.update(_record(clf, X, name))
    images, labels, colour = _squares()
    torch.manual_seed(0)
    backbone = TinyCNN()
    cnn = MIUnbiasedClassifier(
        backbone=backbone, embedding_dim=6, lr=1e-2, max_epochs=2, random_state=0
    )
    arrays.update(_record(cnn.fit(images, labels, sensitive_features=colour), images, "cnn"))
    return arrays


@pytest.mark.slow
def test_donsker_varadhan_fits_reproduce_the_code_before_the_interface():
    recorded = dict(np.load(RECORDED))
    now = run_fits()
    assert sorted(now) == sorted(recorded)
    for key, values in recorded.items():
        np.testing.assert_array_equal(now[key], values, err_msg=key)


if __name__ == "__main__":
    torch.set_num_threads(1)
    np.savez(RECORDED, **run_fits())
