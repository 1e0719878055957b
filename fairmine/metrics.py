"""Scorers for fairness and mutual information, and the noise floor of a disparity.

scikit-learn scorers only receive ``sensitive_features`` through metadata
routing. Every scorer here already *requests* it, so with
``sklearn.set_config(enable_metadata_routing=True)`` they work in
``GridSearchCV``, ``cross_validate`` and multi-metric ``scoring={...}`` with
nothing more than ``fit(X, y, sensitive_features=...)``. Without routing
they raise an error that says how to turn it on (instead of fairlearn's bare
"missing keyword argument").

All scorers follow scikit-learn's convention that greater is better:
fairness differences and mutual information are returned negated.

Why the scorers subclass scikit-learn's private ``_Scorer`` rather than
wrap ``make_scorer(...).set_score_request(sensitive_features=True)``: the
public route cannot do two things these scorers do.

* The MI scorer needs the fitted estimator itself, not only the output of
  one of its methods: it reads the estimator's ``criterion`` and, for
  ``"equal_opportunity"``, its ``classes_`` and ``pos_label`` to keep the
  positive rows. ``make_scorer`` hands the score function ``y_true`` and
  the method's output only.
* A scorer called without ``sensitive_features`` (routing off, the common
  mistake) must say how to turn routing on; ``make_scorer`` passes the call
  straight to the metric, which fails with fairlearn's bare "missing keyword
  argument". Overriding ``_score`` is the one place that sees the call first.

The fairness scorers' values are those of ``make_scorer`` with the same
metric and sign.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from itertools import combinations
from typing import Any

import numpy as np
import sklearn
from fairlearn.metrics import (
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
)
from scipy.stats import ks_2samp
from sklearn.metrics._scorer import _cached_call, _Scorer
from sklearn.utils import check_consistent_length

from ._sensitive import check_row_container
from ._validation import naming
from .mi import CRITERIA, Criterion, estimate_mi

__all__ = [
    "MIScorer",
    "SensitiveFeaturesScorer",
    "demographic_parity_scorer",
    "disparity_noise_floor",
    "equal_opportunity_scorer",
    "equalized_odds_scorer",
    "group_mae_gap",
    "group_mae_gap_scorer",
    "make_fairness_scorer",
    "make_mi_scorer",
    "mean_prediction_gap",
    "mean_prediction_gap_scorer",
    "prediction_ks_distance",
    "prediction_ks_scorer",
    "worst_group_mae",
    "worst_group_mae_scorer",
]

_ROUTING_HINT = (
    "Turn metadata routing on with sklearn.set_config(enable_metadata_routing=True) and pass "
    "sensitive_features to fit (GridSearchCV.fit(X, y, sensitive_features=s) or "
    "cross_validate(..., params={'sensitive_features': s})); the scorer already requests it."
)


class SensitiveFeaturesScorer(_Scorer):
    """A scikit-learn scorer that requests ``sensitive_features`` by default.

    Build it with [`make_fairness_scorer`][fairmine.metrics.make_fairness_scorer] or
    [`make_mi_scorer`][fairmine.metrics.make_mi_scorer]. It behaves like the scorers of
    `sklearn.metrics.make_scorer` and fails with a clear message when called without
    ``sensitive_features``.

    Examples
    --------
    >>> from fairmine.metrics import equal_opportunity_scorer
    >>> equal_opportunity_scorer.get_metadata_routing()
    {'score': {'sensitive_features': True}}
    """

    def __init__(
        self,
        score_func: Callable[..., float],
        sign: int,
        kwargs: dict[str, Any],
        response_method: str = "predict",
    ) -> None:
        super().__init__(score_func, sign, kwargs, response_method)
        with sklearn.config_context(enable_metadata_routing=True):
            self.set_score_request(sensitive_features=True)

    def __call__(self, estimator: Any, X: Any, y_true: Any, **kwargs: Any) -> float:
        """Score ``estimator`` on ``X``; ``sensitive_features`` may be passed directly.

        Parameters
        ----------
        estimator : fitted estimator
            The model to score.
        X : array-like
            Inputs.
        y_true : array-like or None
            True labels (unused by the MI scorer).
        **kwargs
            ``sensitive_features`` and any other metadata.

        Returns
        -------
        float
            The score (greater is better).
        """
        return self._score(partial(_cached_call, None), estimator, X, y_true, **kwargs)

    def _score(self, method_caller, estimator, X, y_true, **kwargs):
        if kwargs.get("sensitive_features") is None:
            raise ValueError(
                f"the scorer {self!r} needs sensitive_features but received none. " + _ROUTING_HINT
            )
        return super()._score(method_caller, estimator, X, y_true, **kwargs)


def make_fairness_scorer(
    metric: Callable[..., float],
    *,
    greater_is_better: bool = False,
    response_method: str = "predict",
    **kwargs: Any,
) -> SensitiveFeaturesScorer:
    """Turn a fairlearn-style metric into a scorer that requests ``sensitive_features``.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_pred, *, sensitive_features, **kwargs) -> float``,
        such as `fairlearn.metrics.equal_opportunity_difference`.
    greater_is_better : bool, default=False
        False for disparities (0 is best): the scorer returns ``-metric``.
    response_method : str, default="predict"
        The estimator method whose output is passed as ``y_pred``.
    **kwargs
        Further keyword arguments of ``metric`` (e.g. ``pos_label``).

    Returns
    -------
    SensitiveFeaturesScorer
        A scorer ``scorer(estimator, X, y, sensitive_features=...)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fairlearn.metrics import demographic_parity_ratio
    >>> from sklearn.dummy import DummyClassifier
    >>> from fairmine.metrics import make_fairness_scorer
    >>> scorer = make_fairness_scorer(demographic_parity_ratio, greater_is_better=True)
    >>> X, y = np.zeros((4, 1)), np.array([0, 1, 1, 1])
    >>> clf = DummyClassifier().fit(X, y)
    >>> float(scorer(clf, X, y, sensitive_features=["a", "a", "b", "b"]))
    1.0
    """
    return SensitiveFeaturesScorer(metric, 1 if greater_is_better else -1, kwargs, response_method)


#: ``-equal_opportunity_difference``: gap in true-positive rate between groups.
equal_opportunity_scorer = make_fairness_scorer(equal_opportunity_difference)
#: ``-equalized_odds_difference``: the larger of the TPR and FPR gaps.
equalized_odds_scorer = make_fairness_scorer(equalized_odds_difference)
#: ``-demographic_parity_difference``: gap in selection rate between groups.
demographic_parity_scorer = make_fairness_scorer(demographic_parity_difference)


class MIScorer(SensitiveFeaturesScorer):
    """Negated `estimate_mi` of ``transform(X)``, under the estimator's criterion.

    Build it with [`make_mi_scorer`][fairmine.metrics.make_mi_scorer]. The criterion is read from
    the scored estimator (the last step of a pipeline): ``I(Z; C)`` for
    ``"demographic_parity"`` (and for estimators without one),
    ``I(Z; C | Y)`` for ``"equalized_odds"`` and ``I(Z; C)`` on the rows of
    the positive class for ``"equal_opportunity"``.
    """

    def _score(self, method_caller, estimator, X, y_true, **kwargs):
        sensitive_features = kwargs.get("sensitive_features")
        if sensitive_features is None:
            raise ValueError(
                f"the scorer {self!r} needs sensitive_features but received none. " + _ROUTING_HINT
            )
        Z = method_caller(estimator, "transform", X)
        c = np.asarray(sensitive_features)
        final = estimator[-1] if hasattr(estimator, "steps") else estimator
        # the rows and conditioning of the estimator's criterion, as its training step takes them
        criterion = final._mi_criterion() if hasattr(final, "_mi_criterion") else Criterion()
        y = None
        if criterion.name != "demographic_parity":
            if y_true is None:
                raise ValueError(f"the MI of criterion={criterion.name!r} needs the true labels y.")
            y = np.asarray(y_true)
            if criterion.edges is None:
                y = np.searchsorted(final.classes_, y)
            else:  # a regressor's bins hold its standardised target
                y = (y.astype(np.float64) - final.target_mean_) / final.target_scale_
        Z, c, given, _ = criterion.select(Z, c, y)
        return self._sign * estimate_mi(Z, c, given=given, **self._kwargs)


def make_mi_scorer(**estimate_mi_kwargs: Any) -> MIScorer:
    """Scorer of the mutual information between ``transform(X)`` and the attribute.

    It returns ``-estimate_mi(estimator.transform(X), sensitive_features)``
    (a fresh critic trained, selected and tested on separate parts of the
    scored samples), so that it ranks models the scikit-learn way. The MI is
    the one the estimator's ``criterion`` penalises: it reads ``y`` only for
    ``"equalized_odds"`` (to condition on it) and ``"equal_opportunity"``
    (to keep the positive rows). Used with
    [`MISelectionRule`][fairmine.model_selection.MISelectionRule] to choose
    ``mi_weight``.

    Parameters
    ----------
    **estimate_mi_kwargs
        Passed to [`estimate_mi`][fairmine.estimate_mi] (``max_steps``,
        ``random_state``, ``sensitive_encoding``, ...).

    Returns
    -------
    MIScorer
        The scorer.

    Examples
    --------
    >>> import numpy as np
    >>> from fairmine import MIUnbiasedClassifier
    >>> from fairmine.metrics import make_mi_scorer
    >>> rng = np.random.RandomState(0)
    >>> X, c = rng.normal(size=(200, 3)), rng.randint(0, 2, 200)
    >>> clf = MIUnbiasedClassifier(max_epochs=10, lr=1e-2).fit(X, X[:, 0] > 0, sensitive_features=c)
    >>> mi = -make_mi_scorer(max_steps=500)(clf, X, X[:, 0] > 0, sensitive_features=c)
    >>> bool(mi < 0.1)
    True
    """
    return MIScorer(estimate_mi, -1, estimate_mi_kwargs, "transform")


def disparity_noise_floor(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    metric: str = "equal_opportunity",
    pos_label: Any = 1,
    n_permutations: int = 1000,
    random_state: int | np.random.Generator | None = 0,
) -> float:
    """Return the disparity that predictions ignoring the attribute would show on these rows.

    A group disparity measured on a finite test set is not 0 even for a
    classifier that is fair by construction: each group's rate is estimated
    from its own few rows. This function shuffles ``y_pred`` among the rows
    (all of them for demographic parity; within each class of ``y_true``
    for equal opportunity and equalized odds), which makes the predictions
    independent of the attribute (given ``y``) while keeping every group's
    size and the overall selection, true-positive and false-positive rates
    exactly, and returns the metric's mean over the shuffles. A measured
    disparity near this value cannot be told from a fair classifier's on
    these rows. A group without rows of a class has no rate for it and is
    left out of that class's gap.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    sensitive_features : array-like of shape (n_samples,)
        The group of each row.
    metric : {"equal_opportunity", "equalized_odds", "demographic_parity"}, \
            default="equal_opportunity"
        The disparity, as fairlearn's ``equal_opportunity_difference``,
        ``equalized_odds_difference`` and ``demographic_parity_difference``
        define it (the largest gap between two groups).
    pos_label : scalar, default=1
        The positive label (fairlearn's metrics take 1).
    n_permutations : int, default=1000
        Shuffles averaged over.
    random_state : int, numpy Generator or None, default=0
        Seed of the shuffles (``numpy.random.default_rng``).

    Returns
    -------
    float
        The mean disparity over the shuffles.

    Examples
    --------
    Two positives in each of two groups, half of them predicted positive:
    one shuffle in three puts both positive predictions in one group.

    >>> from fairmine.metrics import disparity_noise_floor
    >>> y_true, y_pred = [1, 1, 1, 1, 0], [1, 1, 0, 0, 0]
    >>> round(disparity_noise_floor(y_true, y_pred, sensitive_features=[0, 0, 1, 1, 0],
    ...                             n_permutations=20000), 2)
    0.33
    """
    if metric not in CRITERIA:  # the disparities under fairmine's criterion names
        raise ValueError(f"metric must be one of {CRITERIA}, got {metric!r}")
    if not isinstance(n_permutations, int | np.integer) or n_permutations < 1:
        raise ValueError(f"n_permutations must be a positive integer, got {n_permutations!r}")
    y_true, y_pred, groups = (np.asarray(a).ravel() for a in (y_true, y_pred, sensitive_features))
    check_consistent_length(y_true, y_pred, groups)
    selected = (y_pred == pos_label).astype(np.float64)
    positive = y_true == pos_label
    rows = {
        "demographic_parity": [np.ones_like(positive)],
        "equal_opportunity": [positive],
        "equalized_odds": [positive, ~positive],
    }[metric]
    rng = np.random.default_rng(random_state)
    gaps = np.zeros(n_permutations)
    for mask in rows:
        shuffled = rng.permuted(np.tile(selected[mask], (n_permutations, 1)), axis=1)
        gaps = np.maximum(gaps, _largest_rate_gap(shuffled, groups[mask]))
    return float(gaps.mean())


def _largest_rate_gap(selected: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Return, per row of ``selected`` (0/1, a column per group entry), the largest group gap."""
    names = np.unique(groups)
    if len(names) < 2:
        return np.zeros(len(selected))
    rates = np.stack([selected[:, groups == name].mean(axis=1) for name in names])
    return rates.max(axis=0) - rates.min(axis=0)


# ------------------------------------------------------------------ regression
def _numbers(values: Any, name: str) -> np.ndarray:
    """Return a regression metric's targets or predictions as a flat float64 array."""
    check_row_container(values, name)
    with naming(name, "must hold numbers (a regression target or prediction)"):
        numbers = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(numbers).all():
        raise ValueError(f"{name} holds NaN or infinite values; a regression metric needs numbers.")
    return numbers


def _groups_of(y_pred: Any, sensitive_features: Any) -> tuple[np.ndarray, list[np.ndarray]]:
    """Return the predictions and the row indices of each group, checking their lengths."""
    y_pred = _numbers(y_pred, "y_pred")
    check_row_container(sensitive_features, "sensitive_features")
    groups = np.asarray(sensitive_features).ravel()
    with naming("sensitive_features", "must hold one group per row of y_pred"):
        check_consistent_length(y_pred, groups)
    rows = [np.flatnonzero(groups == name) for name in np.unique(groups)]
    if len(rows) < 2:
        raise ValueError(
            f"sensitive_features must hold at least two groups to compare, got {len(rows)}."
        )
    return y_pred, rows


def mean_prediction_gap(y_true: Any, y_pred: Any, *, sensitive_features: Any) -> float:
    """Return the largest difference between two groups' mean predictions.

    Statistical parity for regression, first moment: 0 when every group
    receives the same prediction on average.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True targets (unused; kept for the scorer signature).
    y_pred : array-like of shape (n_samples,)
        Predicted targets.
    sensitive_features : array-like of shape (n_samples,)
        The group of each row (two groups or more).

    Returns
    -------
    float
        ``max_g mean(y_pred | g) - min_g mean(y_pred | g)``.

    Examples
    --------
    >>> from fairmine.metrics import mean_prediction_gap
    >>> mean_prediction_gap(None, [1.0, 3.0, 4.0, 6.0], sensitive_features=[0, 0, 1, 1])
    3.0
    """
    y_pred, rows = _groups_of(y_pred, sensitive_features)
    means = [y_pred[index].mean() for index in rows]
    return float(max(means) - min(means))


def prediction_ks_distance(y_true: Any, y_pred: Any, *, sensitive_features: Any) -> float:
    """Return the largest Kolmogorov-Smirnov distance between two groups' predictions.

    Statistical parity for regression, whole distribution: the largest gap
    between the empirical distribution functions of the groups' predictions
    (`scipy.stats.ks_2samp`'s statistic), the largest over pairs of
    groups when there are more than two. 0 when the distributions are equal,
    1 when they do not overlap.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True targets (unused; kept for the scorer signature).
    y_pred : array-like of shape (n_samples,)
        Predicted targets.
    sensitive_features : array-like of shape (n_samples,)
        The group of each row (two groups or more).

    Returns
    -------
    float
        The largest pairwise KS statistic, in [0, 1].

    Examples
    --------
    >>> from fairmine.metrics import prediction_ks_distance
    >>> prediction_ks_distance(None, [1, 2, 3, 4, 2, 3, 4, 5], sensitive_features=[0] * 4 + [1] * 4)
    0.25
    """
    y_pred, rows = _groups_of(y_pred, sensitive_features)
    return float(
        max(
            ks_2samp(y_pred[first], y_pred[second]).statistic
            for first, second in combinations(rows, 2)
        )
    )


def _group_mae(y_true: Any, y_pred: Any, sensitive_features: Any) -> list[float]:
    """Return each group's mean absolute error."""
    y_pred, rows = _groups_of(y_pred, sensitive_features)
    y_true = _numbers(y_true, "y_true")
    with naming("y_true", "must hold one number per row of y_pred"):
        check_consistent_length(y_true, y_pred)
    return [float(np.abs(y_true[index] - y_pred[index]).mean()) for index in rows]


def group_mae_gap(y_true: Any, y_pred: Any, *, sensitive_features: Any) -> float:
    """Return the largest difference between two groups' mean absolute errors.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted targets.
    sensitive_features : array-like of shape (n_samples,)
        The group of each row (two groups or more).

    Returns
    -------
    float
        ``max_g MAE_g - min_g MAE_g``: 0 when every group's errors are as
        large on average.

    Examples
    --------
    >>> from fairmine.metrics import group_mae_gap
    >>> group_mae_gap([0, 0, 0, 0], [1, -1, 3, 3], sensitive_features=[0, 0, 1, 1])
    2.0
    """
    maes = _group_mae(y_true, y_pred, sensitive_features)
    return max(maes) - min(maes)


def worst_group_mae(y_true: Any, y_pred: Any, *, sensitive_features: Any) -> float:
    """Return the largest group mean absolute error (the bounded-group-loss view).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted targets.
    sensitive_features : array-like of shape (n_samples,)
        The group of each row (two groups or more).

    Returns
    -------
    float
        ``max_g MAE_g``.

    Examples
    --------
    >>> from fairmine.metrics import worst_group_mae
    >>> worst_group_mae([0, 0, 0, 0], [1, -1, 3, 3], sensitive_features=[0, 0, 1, 1])
    3.0
    """
    return max(_group_mae(y_true, y_pred, sensitive_features))


#: ``-mean_prediction_gap``: gap in mean prediction between groups.
mean_prediction_gap_scorer = make_fairness_scorer(mean_prediction_gap)
#: ``-prediction_ks_distance``: KS distance between the groups' predictions.
prediction_ks_scorer = make_fairness_scorer(prediction_ks_distance)
#: ``-group_mae_gap``: gap in mean absolute error between groups.
group_mae_gap_scorer = make_fairness_scorer(group_mae_gap)
#: ``-worst_group_mae``: the worst group's mean absolute error.
worst_group_mae_scorer = make_fairness_scorer(worst_group_mae)
