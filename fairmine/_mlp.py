"""The fully connected stack that both the default encoder and the critics are built from.

It sits below the engine and ``mi`` so that both can use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

from torch import nn

__all__ = ["MLP", "check_layer_widths"]


def check_layer_widths(widths: Any, name: str, what: str = "layer widths") -> None:
    """Refuse widths that are not a sequence of positive integers, naming the argument.

    A width of 0 would build a layer that trains nothing (torch only warns) and a
    negative one fails in torch with "negative dimension", which names nothing.

    Parameters
    ----------
    widths : object
        The value given, such as ``(64, 64)``.
    name : str
        The argument, as the message names it (``"CLUB's hidden"``).
    what : str, default="layer widths"
        What the widths are, for the message.

    Raises
    ------
    ValueError
        When ``widths`` is a string or holds anything but integers >= 1.

    Examples
    --------
    >>> check_layer_widths((0,), "hidden")
    Traceback (most recent call last):
    ...
    ValueError: hidden must be a sequence of positive integers (layer widths), got (0,).
    """
    if isinstance(widths, str) or not all(
        isinstance(w, Integral) and not isinstance(w, bool) and w >= 1 for w in widths
    ):
        raise ValueError(
            f"{name} must be a sequence of positive integers ({what}), got {widths!r}."
        )


class MLP(nn.Sequential):
    """Fully connected layers, each followed by an activation.

    Parameters
    ----------
    in_features : int
        Size of the input.
    hidden_units : sequence of int
        Width of each hidden layer; empty means the identity.
    activation : type of nn.Module, default=nn.ReLU
        Activation class placed after every layer.
    """

    def __init__(
        self,
        in_features: int,
        hidden_units: Sequence[int],
        activation: type[nn.Module] = nn.ReLU,
    ) -> None:
        layers: list[nn.Module] = []
        for width in hidden_units:
            layers += [nn.Linear(in_features, width), activation()]
            in_features = width
        super().__init__(*layers)
        self.out_features = in_features
