"""Fairness criteria as the (conditional) mutual information that a critic estimates.

* ``"demographic_parity"`` (independence): ``I(Z; C)``. Every classifier on
  ``z`` then selects each group at the same rate.
* ``"equalized_odds"`` (separation): ``I(Z; C | Y)``, the critic reads the
  class of ``y`` and the marginal draws ``c`` from ``p(c | y)``. Every
  classifier on ``z`` then has equal true- and false-positive rates.
* ``"equal_opportunity"``: ``I(Z; C | Y = positive)``, the same restricted to
  the rows of the positive class: equal true-positive rates.

A continuous target is conditioned on by bins: with ``edges``, the groups of
``"equalized_odds"`` are the bins of ``y`` between them (a regressor passes
the quantiles of its training target), and ``n_classes`` is their number.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from scipy.stats import hypergeom

from ..exceptions import PenaltySkippedWarning

__all__ = ["CRITERIA", "Criterion", "warn_if_groups_outnumber_batches"]

CRITERIA = ("demographic_parity", "equalized_odds", "equal_opportunity")
"""The fairness criteria, by the name ``criterion=`` takes: what the penalty removes is
I(Z; C), I(Z; C | Y) and I(Z; C | Y = pos_label) in that order."""

Rows = TypeVar("Rows")


@dataclass(frozen=True)
class Criterion:
    """Which information about ``C`` is measured: the rows and the conditioning.

    Parameters
    ----------
    name : {"demographic_parity", "equalized_odds", "equal_opportunity"}
        The fairness criterion, in fairlearn's vocabulary.
    n_classes : int, default=2
        Number of classes of ``y`` (the groups of ``"equalized_odds"``).
    positive : int or None, default=None
        Index of the positive class, for ``"equal_opportunity"``.
    edges : tuple of float or None, default=None
        Increasing inner bin edges of a continuous ``y`` (``n_classes - 1``
        of them): the group of a row is the number of edges below its ``y``
        (a ``y`` equal to an edge falls in the lower bin, so that quantiles
        as edges give bins of equal counts). None: ``y`` holds class indices.
    """

    name: str = "demographic_parity"
    n_classes: int = 2
    positive: int | None = None
    edges: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.name not in CRITERIA:
            raise ValueError(f"criterion must be one of {CRITERIA}, got {self.name!r}")
        if self.name == "equal_opportunity" and self.positive is None:
            raise ValueError("the equal_opportunity criterion needs the positive class")

    @property
    def n_groups(self) -> int:
        """Number of conditioning groups the critic reads (0: none)."""
        return self.n_classes if self.name == "equalized_odds" else 0

    def select(
        self, z: Rows, c: Rows, y: Any, weight: Rows | None = None
    ) -> tuple[Rows, Rows, Any, Rows | None]:
        """Return the rows and conditioning variable whose MI this criterion measures.

        Parameters
        ----------
        z, c : Tensor or ndarray
            Representations and attributes of a batch.
        y : Tensor or ndarray
            Class indices of the same rows, or a continuous target binned by
            ``edges``.
        weight : Tensor or ndarray or None, default=None
            Sample weights of the same rows, or None.

        Returns
        -------
        z, c : Tensor or ndarray
            All rows, or those of the positive class for equal opportunity.
        given : Tensor or ndarray or None
            ``y`` (its bins with ``edges``) for equalized odds, else None.
        weight : Tensor or ndarray or None
            The weights of the rows kept (None without weights).
        """
        if self.name == "equal_opportunity":
            keep = y == self.positive
            return z[keep], c[keep], None, (None if weight is None else weight[keep])
        return z, c, (self._groups(y) if self.name == "equalized_odds" else None), weight

    def minibatch_coverage(self, y: Any, weight: Any, batch_size: int) -> float:
        """Return the expected share of the weight that a minibatch holds two rows or more of.

        A conditional penalty is measured within each group of ``y`` on a
        minibatch, and a group with fewer than two rows there contributes
        nothing. This is the share of the rows' weight in such groups, averaged
        over the minibatches of ``batch_size`` rows drawn without replacement
        (hypergeometric counts of the rows of some weight); 1 for the criteria
        that do not condition on ``y``.

        Parameters
        ----------
        y : ndarray
            Class indices of the training rows, or a continuous target binned
            by ``edges``.
        weight : ndarray or None
            Their sample weights, or None.
        batch_size : int
            Rows of a minibatch.

        Returns
        -------
        float
            A value in [0, 1].

        Examples
        --------
        >>> import numpy as np
        >>> from fairmine.mi import Criterion
        >>> criterion = Criterion("equalized_odds", n_classes=100)
        >>> criterion.minibatch_coverage(np.arange(200) % 100, None, batch_size=200)
        1.0
        >>> round(criterion.minibatch_coverage(np.arange(200) % 100, None, batch_size=20), 2)
        0.01
        """
        if self.n_groups == 0:
            return 1.0
        groups = np.asarray(self._groups(y)).ravel()
        weight = np.ones(len(groups)) if weight is None else np.asarray(weight, np.float64)
        weighted = weight > 0
        shares = np.bincount(groups, weights=weight) / weight.sum()
        rows = np.bincount(groups[weighted], minlength=len(shares))
        drawn = min(batch_size, len(groups))
        return float(np.dot(shares, hypergeom.sf(1, len(groups), rows, drawn)))

    def _groups(self, y: Any) -> Any:
        """Return ``y``, or with ``edges`` the bin of each row (int64)."""
        if self.edges is None:
            return y
        if isinstance(y, torch.Tensor):
            edges = torch.tensor(self.edges, dtype=y.dtype, device=y.device)
            return torch.bucketize(y.reshape(-1), edges)
        return np.searchsorted(self.edges, np.ravel(y)).astype(np.int64)


def warn_if_groups_outnumber_batches(
    criterion: Criterion, y: Any, weight: Any, batch_size: int
) -> None:
    """Warn when a minibatch holds two rows of few of the criterion's groups.

    Under ``"equalized_odds"`` the penalty is the weighted mean of its value
    within each group of ``y`` (a class, or a quantile bin of a continuous
    target) on the minibatch, and a group with fewer than two rows there adds
    0: with more groups than a minibatch can hold two rows of, the penalty
    is close to 0 whatever the representation, and nothing else would say so.
    Warns ([`PenaltySkippedWarning`][fairmine.exceptions.PenaltySkippedWarning]) when less
    than half of the weight lies in groups that a minibatch is expected to
    hold two rows of ([`Criterion.minibatch_coverage`][fairmine.mi.Criterion.minibatch_coverage]).

    Parameters
    ----------
    criterion : Criterion
    y : ndarray
        The training rows' classes, or their continuous target.
    weight : ndarray or None
        Their sample weights.
    batch_size : int
        The estimator's ``batch_size``.
    """
    coverage = criterion.minibatch_coverage(y, weight, batch_size)
    if coverage >= 0.5:
        return
    groups = (
        f"the {criterion.n_classes} quantile bins of y (n_bins, fewer when y has ties)"
        if criterion.edges is not None
        else f"each of the {criterion.n_classes} classes of y"
    )
    fewer = "lower n_bins" if criterion.edges is not None else "merge rare classes"
    warnings.warn(
        f"criterion={criterion.name!r} measures the MI within {groups}, and a group with "
        f"fewer than two rows in a minibatch adds nothing to the penalty there: in minibatches "
        f"of batch_size={batch_size} rows, the groups of only {coverage:.0%} of the rows' "
        "weight are expected to have two rows or more, so the penalty would act on little or "
        f"nothing. Raise batch_size, {fewer}, or use criterion='demographic_parity'.",
        PenaltySkippedWarning,
        stacklevel=4,
    )
