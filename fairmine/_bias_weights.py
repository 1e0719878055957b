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

#: Its convergence tolerance: at scikit-learn's 1e-4, lbfgs stops far short of the optimum on the
#: colour-biased digits (3,000 of them), and the weight of a rare colour code depends on whether
#: the rows or their distinct (code, label) pairs are fitted (up to 2.3 times apart); at 1e-6 the
#: two agree within 10 %.
_TOLERANCE = 1e-6

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
    group = group.ravel()
    if len(values) <= MAX_COUNTED_VALUES:
        joint = np.zeros((len(values), n_classes))
        np.add.at(joint, (group, y), base)
        totals = joint.sum(axis=1)[group]
        # a group (or class) whose rows all weigh 0 has no frequencies, 0/0: its rows keep
        # their weight 0, whatever the ratio
        conditional = np.divide(joint[group, y], totals, out=np.ones(len(y)), where=totals > 0)
    else:
        conditional = _cross_fitted_conditional(y, values, group, base, random_state)
    weighted = base > 0
    ratio = np.ones(len(y))
    prior_y = prior[y[weighted]]
    ratio[weighted] = prior_y / np.maximum(conditional[weighted], prior_y / max_weight)
    weight = base * ratio
    return (weight * base.mean() / weight.mean()).astype(np.float32)


def _cross_fitted_conditional(
    y: np.ndarray,
    values: np.ndarray,
    group: np.ndarray,
    sample_weight: np.ndarray,
    random_state: int,
) -> np.ndarray:
    """``p(y_i | c_i)`` from a logistic regression fitted on the other folds.

    ``c_i`` is ``values[group[i]]``. Each fold's regression is fitted on the
    distinct (attribute, label) pairs of the other folds, each weighted by
    the total weight of its rows: the same weighted log-loss as on the rows
    themselves (so the same model), at the cost of the distinct pairs (448
    colour codes instead of 60,000 digits on colored MNIST). The folds are
    made here rather than by ``cross_val_predict``, which under scikit-learn's
    metadata routing would refuse these weights.
    """
    folds = min(_FOLDS, int(np.bincount(y).min()))
    if folds < 2:
        raise ValueError(
            "bias_reweighting needs at least 2 samples of every class to estimate "
            "p(y | sensitive_features) on held-out folds"
        )
    n_classes = int(y.max()) + 1
    conditional = np.empty(len(y))
    split = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    for train, held_out in split.split(group, y):
        cells = np.zeros((len(values), n_classes))
        np.add.at(cells, (group[train], y[train]), sample_weight[train])
        value, label = np.nonzero(cells)
        model = LogisticRegression(C=_INVERSE_REGULARISATION, tol=_TOLERANCE, max_iter=1000)
        model.fit(values[value], label, sample_weight=cells[value, label])
        proba = np.zeros((len(values), n_classes))  # a class without weight in the folds: 0
        proba[:, model.classes_] = model.predict_proba(values)
        conditional[held_out] = proba[group[held_out], y[held_out]]
    return conditional
