"""Fairness criteria as the (conditional) mutual information that a critic estimates.

* ``"demographic_parity"`` (independence): ``I(Z; C)``. Every classifier on
  ``z`` then selects each group at the same rate.
* ``"equalized_odds"`` (separation): ``I(Z; C | Y)``, the critic reads the
  class of ``y`` and the marginal draws ``c`` from ``p(c | y)``. Every
  classifier on ``z`` then has equal true- and false-positive rates.
* ``"equal_opportunity"``: ``I(Z; C | Y = positive)``, the same restricted to
  the rows of the positive class: equal true-positive rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

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
    """

    name: str = "demographic_parity"
    n_classes: int = 2
    positive: int | None = None

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
        y : Tensor or ndarray of int
            Class indices of the same rows.
        weight : Tensor or ndarray or None, default=None
            Sample weights of the same rows, or None.

        Returns
        -------
        z, c : Tensor or ndarray
            All rows, or those of the positive class for equal opportunity.
        given : Tensor or ndarray or None
            ``y`` for equalized odds, else None.
        weight : Tensor or ndarray or None
            The weights of the rows kept (None without weights).
        """
        if self.name == "equal_opportunity":
            keep = y == self.positive
            return z[keep], c[keep], None, (None if weight is None else weight[keep])
        return z, c, (y if self.name == "equalized_odds" else None), weight
