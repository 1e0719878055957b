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

import numpy as np
import pandas as pd
from fairlearn.metrics import equal_opportunity_difference
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.model_selection import ShuffleSplit
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ..datasets import load_german

__all__ = [
    "GERMAN_PAPER_RESULTS",
    "german_preprocessor",
    "run_german_protocol",
    "summarise_runs",
]

#: Published (accuracy, EO) on this protocol, from Table 4 of the paper.
GERMAN_PAPER_RESULTS: dict[str, tuple[float, float]] = {
    "SVM": (0.74, 0.10),
    "FERM": (0.73, 0.05),
    "NN": (0.74, 0.47),
    "NN + chi2": (0.73, 0.25),
    "Ragonesi et al.": (0.72, 0.05),
}

#: Builds a fresh estimator for one run; receives the run index (use it as seed).
EstimatorFactory = Callable[[int], BaseEstimator]


def german_preprocessor() -> ColumnTransformer:
    """One-hot encode categorical and standardise numeric German credit columns.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Unfitted; it emits a dense float array.

    Examples
    --------
    >>> from fairmine.datasets import load_german
    >>> from fairmine.experiments import german_preprocessor
    >>> german_preprocessor().fit_transform(load_german().data).shape
    (1000, 61)
    """
    return ColumnTransformer(
        [
            (
                "categories",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                make_column_selector(dtype_include="category"),
            ),
            ("numbers", StandardScaler(), make_column_selector(dtype_include="number")),
        ]
    )


def run_german_protocol(
    models: Mapping[str, EstimatorFactory],
    *,
    runs: int = 10,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Fit and score each model on the same random 70/30 splits of German credit.

    Parameters
    ----------
    models : mapping of str to callable
        Model name to a factory ``run_index -> unfitted estimator``. Estimators
        whose ``fit`` takes ``sensitive_features`` (by name or through
        ``**kwargs``) receive the training part's ``age < 25`` flags.
    runs : int, default=10
        Number of random splits.
    seed : int, default=0
        Seed of the splits (``ShuffleSplit(random_state=seed)``).
    progress : callable or None, default=None
        Called with one line of text after every fit.

    Returns
    -------
    pandas.DataFrame
        One row per (run, model) with columns ``run``, ``model``,
        ``accuracy``, ``eo`` and ``fit_seconds``.

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
            model = make_model(run)
            start = time.perf_counter()
            if _accepts_sensitive_features(model):
                model.fit(X_train, y[train], sensitive_features=young[train])
            else:
                model.fit(X_train, y[train])
            seconds = time.perf_counter() - start
            y_pred = model.predict(X_test)
            row = {
                "run": run,
                "model": name,
                "accuracy": float(np.mean(y_pred == y[test])),
                "eo": float(
                    equal_opportunity_difference(y[test], y_pred, sensitive_features=young[test])
                ),
                "fit_seconds": seconds,
            }
            rows.append(row)
            if progress is not None:
                progress(
                    f"run {run + 1}/{runs}  {name:<10} accuracy {row['accuracy']:.3f}  "
                    f"EO {row['eo']:.3f}  ({seconds:.1f} s)"
                )
    return pd.DataFrame(rows)


def summarise_runs(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation of each metric per model, in input order.

    Parameters
    ----------
    results : pandas.DataFrame
        Output of :func:`run_german_protocol`.

    Returns
    -------
    pandas.DataFrame
        Indexed by model, columns ``accuracy``, ``accuracy_std``, ``eo``,
        ``eo_std``, ``fit_seconds`` (median) and ``runs``.

    Examples
    --------
    >>> import pandas as pd
    >>> from fairmine.experiments import summarise_runs
    >>> runs = pd.DataFrame({"run": [0, 1], "model": "m", "accuracy": [0.7, 0.8],
    ...                      "eo": [0.1, 0.0], "fit_seconds": [1.0, 3.0]})
    >>> summarise_runs(runs).round(3)[["accuracy", "accuracy_std", "eo", "runs"]]
    ... # doctest: +NORMALIZE_WHITESPACE
           accuracy  accuracy_std    eo  runs
    model
    m          0.75          0.05  0.05     2
    """
    grouped = results.groupby("model", sort=False)
    return pd.DataFrame(
        {
            "accuracy": grouped["accuracy"].mean(),
            "accuracy_std": grouped["accuracy"].std(ddof=0),
            "eo": grouped["eo"].mean(),
            "eo_std": grouped["eo"].std(ddof=0),
            "fit_seconds": grouped["fit_seconds"].median(),
            "runs": grouped["run"].count(),
        }
    )


def _accepts_sensitive_features(model: BaseEstimator) -> bool:
    """Whether ``model.fit`` takes ``sensitive_features`` (by name or through ``**kwargs``)."""
    parameters = inspect.signature(model.fit).parameters.values()
    return any(
        p.name == "sensitive_features" or p.kind is inspect.Parameter.VAR_KEYWORD
        for p in parameters
    )
