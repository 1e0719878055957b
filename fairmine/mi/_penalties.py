"""The penalties by name: what the estimator's ``penalty`` parameter accepts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def make_penalty(
    penalty: str | DependencePenalty, critic_settings: Mapping[str, Any] | None = None
) -> DependencePenalty:
    """Return the penalty that a name or an object stands for.

    Parameters
    ----------
    penalty : str or DependencePenalty
        A name of [`PENALTIES`][fairmine.mi.PENALTIES], or a penalty object (returned as it is).
    critic_settings : mapping or None, default=None
        Settings of [`DonskerVaradhan`][fairmine.mi.DonskerVaradhan] for the names
        ``"donsker_varadhan"`` and ``"classifier_critic"`` (the estimator's
        deprecated ``critic_*`` parameters, by their new names);
        ``"classifier_critic"`` sets ``critic_type="classifier"`` over them.
        The other names take their class's defaults and no settings.

    Returns
    -------
    DependencePenalty

    Raises
    ------
    ValueError
        For an unknown name, or settings with a name or object that does not
        take them.
    """
    settings = dict(critic_settings or {})
    if settings and penalty not in ("donsker_varadhan", "classifier_critic"):
        raise ValueError(
            f"critic_settings {sorted(settings)} configure the penalties named "
            f"'donsker_varadhan' and 'classifier_critic', not penalty={penalty!r}."
        )
    if isinstance(penalty, DependencePenalty):
        return penalty
    if penalty not in PENALTIES:
        raise ValueError(
            f"penalty must be one of {sorted(PENALTIES)} or a DependencePenalty, got {penalty!r}"
        )
    if penalty == "classifier_critic":
        return DonskerVaradhan(**{**settings, "critic_type": "classifier"})
    if penalty == "donsker_varadhan":
        return DonskerVaradhan(**settings)
    return PENALTIES[penalty]()
