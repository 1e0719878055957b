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

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = ["CRITERIA", "Criterion"]

CRITERIA = ("demographic_parity", "equalized_odds", "equal_opportunity")

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

    def _groups(self, y: Any) -> Any:
        """Return ``y``, or with ``edges`` the bin of each row (int64)."""
        if self.edges is None:
            return y
        if isinstance(y, torch.Tensor):
            edges = torch.tensor(self.edges, dtype=y.dtype, device=y.device)
            return torch.bucketize(y.reshape(-1), edges)
        return np.searchsorted(self.edges, np.ravel(y)).astype(np.int64)
