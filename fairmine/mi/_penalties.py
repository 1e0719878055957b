"""The penalties by name: what the estimator's ``penalty`` parameter accepts."""

from __future__ import annotations

from ._club import CLUB
from ._donsker_varadhan import DonskerVaradhan
from ._hsic import HSIC
from ._penalty import DependencePenalty
from ._sliced import SlicedDependence

__all__ = ["PENALTIES", "make_penalty"]

PENALTIES: dict[str, type[DependencePenalty]] = {
    "donsker_varadhan": DonskerVaradhan,
    "classifier_critic": DonskerVaradhan,
    "club": CLUB,
    "sliced": SlicedDependence,
    "hsic": HSIC,
}
"""The penalties that ``penalty=`` names, and their classes."""


def make_penalty(penalty: str | DependencePenalty) -> DependencePenalty:
    """Return the penalty that a name or an object stands for.

    Parameters
    ----------
    penalty : str or DependencePenalty
        A name of [`PENALTIES`][fairmine.mi.PENALTIES] (its class with its defaults;
        ``"classifier_critic"`` is ``DonskerVaradhan(critic_type="classifier")``),
        or a penalty object (returned as it is).

    Returns
    -------
    DependencePenalty

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if isinstance(penalty, DependencePenalty):
        return penalty
    if penalty not in PENALTIES:
        raise ValueError(
            f"penalty must be one of {sorted(PENALTIES)} or a DependencePenalty, got {penalty!r}"
        )
    if penalty == "classifier_critic":
        return DonskerVaradhan(critic_type="classifier")
    return PENALTIES[penalty]()
