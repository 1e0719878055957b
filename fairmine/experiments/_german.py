"""German credit protocol of Ragonesi et al. (after Donini et al., 2018).

Ten random 70/30 splits of the 1000 applicants; the sensitive attribute is
``age < 25``; categorical columns are one-hot encoded and numeric columns
standardised, both fitted on the training part of each split; a model is
scored by its test accuracy and its equal-opportunity difference (EO), the
gap between the true-positive rates ("good" credit) of young and older
applicants.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
)
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import ShuffleSplit

from .._classifier import MIUnbiasedClassifier
from ..datasets import load_german
from ._encoding import tabular_preprocessor
from ._mi_figures import mi_figures

__all__ = [
    "GERMAN_MI_WEIGHT",
    "GERMAN_PAPER_RESULTS",
    "fairness_scores",
    "german_models",
    "german_preprocessor",
    "run_german_protocol",
    "summarise_runs",
]

GERMAN_PAPER_RESULTS: dict[str, tuple[float, float]] = {
    "SVM": (0.74, 0.10),
    "FERM": (0.73, 0.05),
    "NN": (0.74, 0.47),
    "NN + chi2": (0.73, 0.25),
    "Ragonesi et al.": (0.72, 0.05),
}
"""Published (accuracy, EO) on this protocol, from Table 4 of the paper."""

GERMAN_MI_WEIGHT = 3.0
"""fairmine's MI weight (lambda) on this protocol: ``fairmine reproduce german`` unless
``--mi-weight``."""

#: The scores of each fit (see [`fairness_scores`][fairmine.experiments.fairness_scores]).
SCORES = ("accuracy", "eo", "eodds", "dp")

#: Builds a fresh estimator for one run; receives the run index (use it as seed).
EstimatorFactory = Callable[[int], BaseEstimator]


def german_preprocessor() -> ColumnTransformer:
    """One-hot encode categorical and standardise numeric German credit columns.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        [`tabular_preprocessor`][fairmine.experiments.tabular_preprocessor], unfitted (German credit
        has no missing values, so its imputation changes nothing).

    Examples
    --------
    >>> from fairmine.datasets import load_german
    >>> from fairmine.experiments import german_preprocessor
    >>> german_preprocessor().fit_transform(load_german().data).shape
    (1000, 61)
    """
    return tabular_preprocessor()


def german_models(
    *,
    mi_weight: float = GERMAN_MI_WEIGHT,
    criterion: str = "demographic_parity",
    max_epochs: int = 30,
) -> dict[str, EstimatorFactory]:
    """Build the models the German protocol compares: constant "good", ERM and fairmine.

    Parameters
    ----------
    mi_weight : float, default=GERMAN_MI_WEIGHT
        fairmine's ``mi_weight`` (lambda); ERM is the same network with 0.
    criterion : str, default="demographic_parity"
        fairmine's ``criterion``.
    max_epochs : int, default=30
        Training epochs of ERM and fairmine.

    Returns
    -------
    dict of str to callable
        ``"constant"``, ``"ERM"`` and ``"fairmine"``, each a factory
        ``run_index -> unfitted estimator`` seeded with the run index, as
        [`run_german_protocol`][fairmine.experiments.run_german_protocol] takes them.

    Examples
    --------
    >>> from fairmine.experiments import german_models
    >>> models = german_models(mi_weight=1.0)
    >>> list(models), models["fairmine"](4).random_state, models["ERM"](4).mi_weight
    (['constant', 'ERM', 'fairmine'], 4, 0.0)
    """

    def fairmine(run: int, weight: float) -> MIUnbiasedClassifier:
        return MIUnbiasedClassifier(
            mi_weight=weight, criterion=criterion, max_epochs=max_epochs, random_state=run
        )

    return {
        "constant": lambda run: DummyClassifier(strategy="constant", constant=1),
        "ERM": lambda run: fairmine(run, 0.0),
        "fairmine": lambda run: fairmine(run, mi_weight),
    }


def run_german_protocol(
    models: Mapping[str, EstimatorFactory],
    *,
    runs: int = 10,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    catch_errors: bool = False,
) -> pd.DataFrame:
    """Fit and score each model on the same random 70/30 splits of German credit.

    Parameters
    ----------
    models : mapping of str to callable
        Model name to a factory ``run_index -> unfitted estimator``. A model
        whose ``fit`` (or ``predict``) takes ``sensitive_features``, by name or
        through ``**kwargs``, receives the ``age < 25`` flags of the training
        (or test) part.
    runs : int, default=10
        Number of random splits.
    seed : int, default=0
        Seed of the splits (``ShuffleSplit(random_state=seed)``).
    progress : callable or None, default=None
        Called with one line of text after every fit.
    catch_errors : bool, default=False
        Record a model that raises, or predicts non-finite values, as a row
        with NaN scores and the error text instead of stopping.

    Returns
    -------
    pandas.DataFrame
        One row per (run, model) with columns ``run``, ``model``,
        ``accuracy``, ``eo`` (equal-opportunity difference), ``eodds``
        (equalized-odds difference), ``dp`` (demographic-parity difference),
        ``fit_seconds`` and ``error``.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> from fairmine.experiments import run_german_protocol
    >>> results = run_german_protocol(
    ...     {"constant": lambda run: DummyClassifier(strategy="most_frequent")}, runs=2
    ... )
    >>> results[["run", "model", "accuracy", "eo"]].round(3)
       run     model  accuracy   eo
    0    0  constant     0.713  0.0
    1    1  constant     0.747  0.0
    """
    german = load_german()
    X, y = german.data, german.target.to_numpy()
    young = (X["age"] < 25).to_numpy()
    splits = ShuffleSplit(n_splits=runs, test_size=0.3, random_state=seed).split(X)
    rows = []
    for run, (train, test) in enumerate(splits):
        prep = german_preprocessor().fit(X.iloc[train])
        X_train, X_test = prep.transform(X.iloc[train]), prep.transform(X.iloc[test])
        for name, make_model in models.items():
            start = time.perf_counter()
            try:
                model = make_model(run)
                _call(model.fit, X_train, y[train], sensitive_features=young[train])
                seconds = time.perf_counter() - start
                y_pred = np.asarray(_call(model.predict, X_test, sensitive_features=young[test]))
                row = {"run": run, "model": name, **fairness_scores(y[test], y_pred, young[test])}
                row.update(mi_figures(model, X_test, y[test], young[test]))
                row.update(fit_seconds=seconds, error=None)
            except Exception as error:  # a peer that fails is reported, not dropped
                if not catch_errors:
                    raise
                row = {"run": run, "model": name, **dict.fromkeys(SCORES, np.nan)}
                row.update(fit_seconds=time.perf_counter() - start, error=repr(error))
            rows.append(row)
            if progress is not None:
                outcome = (
                    f"failed: {row['error']}"
                    if row["error"]
                    else f"accuracy {row['accuracy']:.3f}  EO {row['eo']:.3f}"
                )
                progress(
                    f"run {run + 1}/{runs}  {name:<10} {outcome}  ({row['fit_seconds']:.1f} s)"
                )
    return pd.DataFrame(rows)


def fairness_scores(
    y_true: np.ndarray, y_pred: np.ndarray, sensitive_features: np.ndarray
) -> dict[str, float]:
    """Accuracy and fairlearn's three group disparities of 0/1 predictions.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (n_samples,)
        True and predicted labels, 0 or 1 (1 is the positive class).
    sensitive_features : ndarray of shape (n_samples,)
        The group of each sample.

    Returns
    -------
    dict
        ``accuracy``, ``eo`` (equal-opportunity difference), ``eodds``
        (equalized-odds difference) and ``dp`` (demographic-parity difference).

    Examples
    --------
    >>> import numpy as np
    >>> from fairmine.experiments import fairness_scores
    >>> y, group = np.array([1, 1, 0, 0]), np.array([0, 1, 0, 1])
    >>> fairness_scores(y, np.array([1, 0, 0, 0]), group)
    {'accuracy': 0.75, 'eo': 1.0, 'eodds': 1.0, 'dp': 0.5}
    """
    if y_pred.shape != y_true.shape or not np.isin(y_pred, (0, 1)).all():
        raise ValueError(f"predictions are not 0/1 labels of shape {y_true.shape}")
    group = {"sensitive_features": sensitive_features}
    return {
        "accuracy": float(np.mean(y_pred == y_true)),
        "eo": float(equal_opportunity_difference(y_true, y_pred, **group)),
        "eodds": float(equalized_odds_difference(y_true, y_pred, **group)),
        "dp": float(demographic_parity_difference(y_true, y_pred, **group)),
    }


def summarise_runs(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation of each metric per model, in input order.

    Failed runs (NaN scores) are left out of the means and counted apart.

    Parameters
    ----------
    results : pandas.DataFrame
        Output of [`run_german_protocol`][fairmine.experiments.run_german_protocol].

    Returns
    -------
    pandas.DataFrame
        Indexed by model, columns ``accuracy``, ``accuracy_std``, ``eo``,
        ``eo_std``, ``dp``, ``dp_std``, ``fit_seconds`` (median over finished
        runs), ``runs`` (finished) and ``failed``; with MI figures in the
        runs (fairmine models), also the means ``train_mi`` and ``audit_mi``.

    Examples
    --------
    >>> import pandas as pd
    >>> from fairmine.experiments import summarise_runs
    >>> runs = pd.DataFrame({"run": [0, 1, 2], "model": "m", "accuracy": [0.7, 0.8, None],
    ...     "eo": [0.1, 0.0, None], "dp": [0.0, 0.0, None], "fit_seconds": [1.0, 3.0, 0.1]})
    >>> summarise_runs(runs).round(3)[["accuracy", "accuracy_std", "eo", "runs", "failed"]]
    ... # doctest: +NORMALIZE_WHITESPACE
           accuracy  accuracy_std    eo  runs  failed
    model
    m          0.75          0.05  0.05     2       1
    """
    finished = results.dropna(subset=["accuracy"])
    grouped = finished.groupby("model", sort=False)
    summary = pd.DataFrame(
        {
            "accuracy": grouped["accuracy"].mean(),
            "accuracy_std": grouped["accuracy"].std(ddof=0),
            "eo": grouped["eo"].mean(),
            "eo_std": grouped["eo"].std(ddof=0),
            "dp": grouped["dp"].mean(),
            "dp_std": grouped["dp"].std(ddof=0),
            "fit_seconds": grouped["fit_seconds"].median(),
            "runs": grouped["run"].count(),
            **{key: grouped[key].mean() for key in ("train_mi", "audit_mi") if key in finished},
        }
    ).reindex(results["model"].unique())
    summary["runs"] = summary["runs"].fillna(0).astype(int)
    summary["failed"] = results.groupby("model", sort=False)["run"].count() - summary["runs"]
    return summary


def _call(method: Callable[..., Any], *args: Any, sensitive_features: np.ndarray) -> Any:
    """Call ``method``, passing ``sensitive_features`` only if it takes them."""
    if _accepts_sensitive_features(method):
        return method(*args, sensitive_features=sensitive_features)
    return method(*args)


def _accepts_sensitive_features(method: Callable[..., Any]) -> bool:
    """Whether ``method`` names ``sensitive_features`` among its parameters.

    A ``**kwargs`` catch-all is not enough: ``MIUnbiasedClassifier.predict``
    takes one only to refuse the attribute with an explanation.
    """
    return "sensitive_features" in inspect.signature(method).parameters
