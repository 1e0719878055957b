"""Choosing ``mi_weight`` without validation labels (Ragonesi et al., section 5.1).

On biased data a validation set carries the same bias as the training set,
so validation accuracy rewards the bias. The paper instead chooses "the
highest lambda that allows the model fitting the data (minimizing the task
loss) and reducing the mutual information".
[`MISelectionRule`][fairmine.model_selection.MISelectionRule] is that rule as a ``refit`` callable
for `GridSearchCV`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["MISelectionRule", "pareto_front"]


class MISelectionRule:
    """``refit`` rule: lowest MI among models that still fit, highest weight on ties.

    Given the ``cv_results_`` of a grid search scored with a task score
    (such as accuracy, with ``return_train_score=True``) and an MI scorer
    ([`make_mi_scorer`][fairmine.metrics.make_mi_scorer]), the rule

    1. keeps the candidates that fit the training data: mean *training*
       ``fit_score`` at least the best one minus ``fit_tolerance``;
    2. among them, keeps those whose mean MI between ``z`` and the attribute
       on the *training* parts (``mi_split="train"``, the paper's choice: no
       validation data at all) or on the held-out parts (``"test"``, which
       needs the attribute but no labels there) is within ``mi_tolerance``
       nats of the lowest;
    3. returns the one with the highest ``param`` (the strongest penalty).

    Parameters
    ----------
    fit_tolerance : float, default=0.1
        How far below the best mean training score a candidate may be and
        still count as fitting the data (in the score's units). A penalised
        model is meant to fit less of what the bias explains, so some drop is
        expected; a collapse to one class drops much further. (On German
        credit, training accuracy was .86 / .82 / .78 / .70 for mi_weight
        0 / 1 / 3 / 10, the last being the constant predictor.)
    mi_tolerance : float, default=0.01
        MI values (nats) closer than this count as equal, so that estimator
        noise does not decide between candidates.
    fit_score : str, default="accuracy"
        Key of the task scorer in ``scoring``.
    mi_score : str, default="mi"
        Key of the MI scorer in ``scoring`` (it returns ``-MI``).
    param : str, default="mi_weight"
        Name of the penalty parameter in the grid, with its prefix inside a
        pipeline (e.g. ``"clf__mi_weight"``).
    mi_split : {"train", "test"}, default="train"
        Which MI the rule reads. Held-out parts are often small, and the MI
        estimate of a few hundred samples is too noisy to rank models.

    Examples
    --------
    >>> from fairmine.model_selection import MISelectionRule
    >>> cv_results = {
    ...     "param_mi_weight": [0.0, 1.0, 3.0, 10.0],
    ...     "mean_train_accuracy": [0.90, 0.85, 0.82, 0.70],
    ...     "mean_train_mi": [-0.10, -0.04, -0.035, -0.00],
    ... }
    >>> MISelectionRule()(cv_results)   # 10.0 does not fit; 1.0 and 3.0 tie on MI
    2

    With `GridSearchCV`::

        search = GridSearchCV(
            MIUnbiasedClassifier(),
            {"mi_weight": [0.0, 1.0, 3.0, 10.0]},
            scoring={"accuracy": "accuracy", "mi": make_mi_scorer(random_state=0)},
            return_train_score=True,
            refit=MISelectionRule(),
        )
        search.fit(X, y, sensitive_features=s)   # with metadata routing on
    """

    def __init__(
        self,
        *,
        fit_tolerance: float = 0.1,
        mi_tolerance: float = 0.01,
        fit_score: str = "accuracy",
        mi_score: str = "mi",
        param: str = "mi_weight",
        mi_split: str = "train",
    ) -> None:
        if mi_split not in ("train", "test"):
            raise ValueError(f"mi_split must be 'train' or 'test', got {mi_split!r}")
        self.fit_tolerance = fit_tolerance
        self.mi_tolerance = mi_tolerance
        self.fit_score = fit_score
        self.mi_score = mi_score
        self.param = param
        self.mi_split = mi_split

    def __call__(self, cv_results: Mapping[str, Any]) -> int:
        """Return the index of the chosen candidate in ``cv_results``.

        Parameters
        ----------
        cv_results : mapping
            ``GridSearchCV.cv_results_``.

        Returns
        -------
        int
            Index of the chosen candidate.
        """
        train_fit = self._column(cv_results, f"mean_train_{self.fit_score}")
        mi = -self._column(cv_results, f"mean_{self.mi_split}_{self.mi_score}")
        weights = self._column(cv_results, f"param_{self.param}")
        fits = train_fit >= np.nanmax(train_fit) - self.fit_tolerance
        lowest_mi = np.nanmin(np.where(fits, mi, np.nan))
        eligible = fits & (mi <= lowest_mi + self.mi_tolerance)
        return int(np.flatnonzero(eligible)[np.argmax(weights[eligible])])

    @staticmethod
    def _column(cv_results: Mapping[str, Any], key: str) -> np.ndarray:
        if key not in cv_results:
            raise KeyError(
                f"cv_results has no {key!r}. MISelectionRule needs a scoring dict with the task "
                "score and the MI scorer, return_train_score=True, and the penalty in the grid; "
                f"available keys: {sorted(cv_results)}"
            )
        values = np.asarray(cv_results[key], dtype=float)
        if np.isnan(values).all():
            raise ValueError(f"every candidate has a NaN {key!r}; did the fits or scorers fail?")
        return values

    def __repr__(self) -> str:
        return (
            f"MISelectionRule(fit_tolerance={self.fit_tolerance}, mi_tolerance="
            f"{self.mi_tolerance}, fit_score={self.fit_score!r}, mi_score={self.mi_score!r}, "
            f"param={self.param!r}, mi_split={self.mi_split!r})"
        )


def pareto_front(accuracy: Any, disparity: Any) -> np.ndarray:
    """Flag the settings that no other setting beats on both accuracy and a disparity.

    A setting is on the front when no other one has an accuracy at least as
    high *and* a disparity at least as low, with one of the two strictly
    better. Settings with a missing value are never on it.

    Parameters
    ----------
    accuracy : array-like of shape (n_settings,)
        Mean accuracy (higher is better) of each setting.
    disparity : array-like of shape (n_settings,)
        Mean fairness disparity (lower is better), such as an
        equal-opportunity difference.

    Returns
    -------
    ndarray of bool of shape (n_settings,)
        True for the settings on the accuracy-fairness front.

    Examples
    --------
    >>> from fairmine.model_selection import pareto_front
    >>> pareto_front([0.80, 0.78, 0.75, 0.74], [0.10, 0.04, 0.05, 0.01])
    array([ True,  True, False,  True])
    """
    accuracy = np.asarray(accuracy, dtype=float)
    disparity = np.asarray(disparity, dtype=float)
    if accuracy.shape != disparity.shape or accuracy.ndim != 1:
        raise ValueError(
            f"accuracy and disparity must be 1-D of one length, got shapes {accuracy.shape} "
            f"and {disparity.shape}"
        )
    finite = np.isfinite(accuracy) & np.isfinite(disparity)
    at_least = (accuracy[None, :] >= accuracy[:, None]) & (disparity[None, :] <= disparity[:, None])
    strictly = (accuracy[None, :] > accuracy[:, None]) | (disparity[None, :] < disparity[:, None])
    dominated = (at_least & strictly & finite[None, :]).any(axis=1)
    return finite & ~dominated
