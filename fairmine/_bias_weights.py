"""Weights that make the sensitive attribute independent of the label (``bias_reweighting``).

Under ``w(y, c) = p(y) p(c) / p(y, c) = p(y) / p(y | c)`` the weighted training
distribution has ``C`` independent of ``Y`` with the marginals of both kept:
a representation that predicts ``y`` from the input alone then carries no
information about ``c`` there, so an ``I(Z; C)`` penalty no longer fights the
task (on colour-biased digits it otherwise removes the digit with the colour).
``p(y | c)`` is counted exactly for an attribute with few distinct values and
estimated by a cross-fitted logistic regression of ``y`` on ``c`` otherwise.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

__all__ = ["MAX_BIAS_WEIGHT", "MAX_COUNTED_VALUES", "independence_weights"]

#: Largest weight before the normalisation to mean 1: ``p(y | c)`` is floored at
#: ``p(y) / MAX_BIAS_WEIGHT``, so that a few rows of rare (label, attribute)
#: pairs cannot carry a whole minibatch.
MAX_BIAS_WEIGHT = 50.0

#: Attributes with at most this many distinct encoded rows get exact counts.
MAX_COUNTED_VALUES = 32

#: Inverse regularisation strength ``C`` of that logistic regression: weak, so that rare
#: (label, attribute) pairs keep a small ``p(y | c)`` (at sklearn's ``C=1`` the colour-biased
#: digits' weighted data kept the label's palette colour on 58 % of the weight, at 100 on 30 %).
_INVERSE_REGULARISATION = 100.0

#: Folds of the cross-fitted classifier: no row's ``p(y | c)`` comes from a
#: model that saw its own label.
_FOLDS = 5


def independence_weights(
    y: np.ndarray,
    c: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    max_weight: float = MAX_BIAS_WEIGHT,
    random_state: int = 0,
) -> np.ndarray:
    """Return per-row weights under which ``c`` is independent of ``y``.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Class indices 0 .. n_classes - 1.
    c : ndarray of shape (n_samples, n_columns)
        The encoded attribute (the critic's input).
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        The user's weights: the probabilities are weighted by them and the
        result multiplies them.
    max_weight : float, default=MAX_BIAS_WEIGHT
        Cap on ``p(y) / p(y | c)`` before normalisation.
    random_state : int, default=0
        Seeds the folds of the cross-fitted classifier.

    Returns
    -------
    ndarray of shape (n_samples,), dtype float32
        ``sample_weight * min(p(y) / p(y | c), max_weight)``, rescaled to the
        mean of ``sample_weight`` (1 without it).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    >>> c = np.array([[0], [0], [0], [1], [1], [1], [1], [0]])  # c agrees with y on 6 of 8
    >>> independence_weights(y, c).round(2)
    array([0.67, 0.67, 0.67, 0.67, 0.67, 0.67, 2.  , 2.  ], dtype=float32)
    """
    base = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    n_classes = int(y.max()) + 1
    prior = np.bincount(y, weights=base, minlength=n_classes) / base.sum()
    values, group = np.unique(c, axis=0, return_inverse=True)
    if len(values) <= MAX_COUNTED_VALUES:
        joint = np.zeros((len(values), n_classes))
        np.add.at(joint, (group.ravel(), y), base)
        totals = joint.sum(axis=1)[group.ravel()]
        # a group (or class) whose rows all weigh 0 has no frequencies, 0/0: its rows keep
        # their weight 0, whatever the ratio
        conditional = np.divide(
            joint[group.ravel(), y], totals, out=np.ones(len(y)), where=totals > 0
        )
    else:
        conditional = _cross_fitted_conditional(y, c, base, random_state)
    weighted = base > 0
    ratio = np.ones(len(y))
    prior_y = prior[y[weighted]]
    ratio[weighted] = prior_y / np.maximum(conditional[weighted], prior_y / max_weight)
    weight = base * ratio
    return (weight * base.mean() / weight.mean()).astype(np.float32)


def _cross_fitted_conditional(
    y: np.ndarray, c: np.ndarray, sample_weight: np.ndarray, random_state: int
) -> np.ndarray:
    """``p(y_i | c_i)`` from a logistic regression fitted on the other folds."""
    folds = min(_FOLDS, int(np.bincount(y).min()))
    if folds < 2:
        raise ValueError(
            "bias_reweighting needs at least 2 samples of every class to estimate "
            "p(y | sensitive_features) on held-out folds"
        )
    split = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    # the folds by hand rather than cross_val_predict, which under scikit-learn's metadata
    # routing refuses the sample weights of a classifier the user cannot reach to request them
    conditional = np.empty(len(y))
    for train, test in split.split(c, y):
        model = LogisticRegression(C=_INVERSE_REGULARISATION, max_iter=1000)
        model.fit(c[train], y[train], sample_weight=sample_weight[train])
        column = np.searchsorted(model.classes_, y[test])
        conditional[test] = model.predict_proba(c[test])[np.arange(len(test)), column]
    return conditional
