"""The rule that calls a fitted classifier no better than a constant."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ConstantCheck", "check_constant"]


@dataclass(frozen=True)
class ConstantCheck:
    """How a classifier's training accuracy compares with the most frequent class's rate."""

    accuracy: float
    majority: float
    margin: float  # two binomial standard errors of the majority rate
    single_class: bool

    @property
    def degenerate(self) -> bool:
        """Predicts one class, or is within two standard errors of the majority rate."""
        return self.single_class or self.accuracy <= self.majority + self.margin


def check_constant(
    y: np.ndarray, predicted: np.ndarray, weight: np.ndarray | None = None
) -> ConstantCheck:
    """Compare the (weighted) accuracy of ``predicted`` with the majority class's rate.

    Closer than two binomial standard errors (of Kish's effective sample size
    under weights) to the majority rate is no evidence that the model learned
    anything beyond a constant answer.

    Parameters
    ----------
    y, predicted : ndarray of int of shape (n_samples,)
        True and predicted class indices.
    weight : ndarray of shape (n_samples,) or None, default=None
        Sample weights, or None for equal weights.

    Returns
    -------
    ConstantCheck

    Examples
    --------
    >>> import numpy as np
    >>> from fairmine._degenerate import check_constant
    >>> check_constant(np.array([1, 1, 1, 0]), np.array([1, 1, 1, 1])).degenerate
    True
    """
    weight = np.ones(len(y)) if weight is None else weight.astype(np.float64)
    accuracy = float(np.average(predicted == y, weights=weight))
    majority = float(np.bincount(y, weights=weight).max() / weight.sum())
    n_effective = weight.sum() ** 2 / np.sum(weight**2)
    margin = float(2.0 * np.sqrt(majority * (1.0 - majority) / n_effective))
    return ConstantCheck(accuracy, majority, margin, len(np.unique(predicted)) == 1)
