"""The fully connected stack that both the default encoder and the critics are built from.

It sits below the engine and ``mi`` so that both can use it.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

__all__ = ["MLP"]


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
