"""The torch module fairmine trains: encoder g and logit layer f (the critic is in ``mi``).

The default encoder is `MLP`. All classes are importable at
top level so that fitted estimators pickle.
"""

from __future__ import annotations

from collections.abc import Iterator

from torch import Tensor, nn

__all__ = ["MIClassifierModule"]


class MIClassifierModule(nn.Module):
    """Feature extractor ``g`` (backbone + bottleneck) and logit layer ``f``.

    ``z = relu(bottleneck(backbone(x)))`` is the representation whose
    information about the sensitive attribute is penalised; ``f(z)`` are the
    class logits.

    Parameters
    ----------
    backbone : nn.Module
        Maps a batch of inputs to a batch of feature vectors (flattened here).
    backbone_features : int
        Number of features the backbone outputs per sample.
    embedding_dim : int
        Size of ``z``.
    n_classes : int
        Number of logits.
    """

    def __init__(
        self, backbone: nn.Module, backbone_features: int, embedding_dim: int, n_classes: int
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.bottleneck = nn.Sequential(nn.Flatten(), nn.Linear(backbone_features, embedding_dim))
        self.activation = nn.ReLU()
        self.head = nn.Linear(embedding_dim, n_classes)

    def pre_activation(self, X: Tensor) -> Tensor:
        """Return the bottleneck's output before its ReLU, ``z``'s pre-activation."""
        return self.bottleneck(self.backbone(X))

    def encode(self, X: Tensor) -> Tensor:
        """Return the representation ``z`` of a batch."""
        return self.activation(self.pre_activation(X))

    def forward(self, X: Tensor) -> Tensor:
        """Return the class logits of a batch."""
        return self.head(self.encode(X))

    def encoder_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of ``g``: the only ones the MI penalty moves."""
        yield from self.backbone.parameters()
        yield from self.bottleneck.parameters()
