"""Sliced dependence (Scalable Infomin): random projections, fixed features, closed-form CCA."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, ClassVar

import torch
from sklearn.utils._param_validation import Interval
from torch import Tensor

from ._penalty import DependencePenalty, PenaltySetup, Rows, group_weights

__all__ = ["SlicedDependence"]


class SlicedDependence(DependencePenalty):
    """Mean dependence of random one-dimensional slices of ``z`` and the attribute.

    Each step draws ``n_slices`` random unit directions ``theta`` in the
    space of ``z`` and ``phi`` in that of the encoded attribute, standardises
    the projections ``theta . z`` and ``phi . c`` on the minibatch, expands
    each into ``n_features`` fixed nonlinear features ``sin(omega u + beta)``
    (frequencies and phases drawn once per fit; the projection itself is
    the first feature), and takes the canonical correlations between the two
    feature sets in closed form. The slice's value is the sum of the squared
    canonical correlations over the number of features (a value in [0, 1],
    0 for independent slices up to the minibatch's noise); the penalty is
    its mean over the slices. Under a criterion that conditions on ``y`` it
    is computed within each class and averaged by the classes' weight. No
    critic is trained (Chen et al., "Scalable Infomin Learning", 2022).

    Parameters
    ----------
    n_slices : int, default=32
        Random directions per step.
    n_features : int, default=4
        Features per projection (the projection and ``n_features - 1``
        sinusoids).
    ridge : float, default=1e-3
        Added to the diagonal of the features' covariances.

    References
    ----------
    Y. Chen, M. Gong, Z. Ji, A. Weller, "Scalable Infomin Learning", NeurIPS 2022.
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_slices": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "ridge": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, n_slices: int = 32, n_features: int = 4, ridge: float = 1e-3) -> None:
        self.n_slices = n_slices
        self.n_features = n_features
        self.ridge = ridge

    def initialize(self, setup: PenaltySetup) -> dict[str, Any]:
        parts = super().initialize(setup)
        shape = (2, 1, 1, self.n_features - 1)  # (z or c, slice, row, feature)
        self.frequencies_ = torch.randn(shape).to(setup.device)
        self.phases_ = (2 * math.pi * torch.rand(shape)).to(setup.device)
        return parts

    def penalty(self, rows: Rows, training: bool = True) -> tuple[Tensor, Tensor]:
        z, c, _, _ = rows
        c = c.to(z.dtype)
        weights, shares = group_weights(rows, self.n_groups_)
        features = [
            self._features(x, weights, side) for side, x in enumerate((z, c))
        ]  # (g, s, n, k)
        value = (shares * _canonical_dependence(*features, weights, self.ridge).mean(1)).sum()
        return value, value

    def _features(self, x: Tensor, weights: Tensor, side: int) -> Tensor:
        """Standardised projections of ``x`` on fresh directions and their features (g, s, n, k)."""
        directions = torch.randn(x.shape[1], self.n_slices, device=x.device, dtype=x.dtype)
        u = (x @ (directions / directions.norm(dim=0))).T.unsqueeze(0)  # (1, s, n)
        p = weights.unsqueeze(1)  # (g, 1, n)
        mean = (p * u).sum(-1, keepdim=True)
        variance = (p * (u - mean).square()).sum(-1, keepdim=True)
        # floored before the square root, whose gradient at 0 is infinite: a group with one row
        # (or none) in the minibatch has variance 0, and would turn the whole gradient NaN
        std = variance.clamp_min(torch.finfo(x.dtype).eps ** 2).sqrt()
        u = ((u - mean) / std).unsqueeze(-1)  # (g, s, n, 1)
        waves = torch.sin(self.frequencies_[side] * u + self.phases_[side])
        return torch.cat([u, waves], dim=-1)


def _canonical_dependence(a: Tensor, b: Tensor, weights: Tensor, ridge: float) -> Tensor:
    """Sum of squared canonical correlations of two feature sets over their size, per (g, s)."""
    p = weights.unsqueeze(1).unsqueeze(-1)  # (g, 1, n, 1)
    a = a - (p * a).sum(-2, keepdim=True)
    b = b - (p * b).sum(-2, keepdim=True)
    eye = torch.eye(a.shape[-1], device=a.device, dtype=a.dtype)
    cov_aa = (p * a).transpose(-1, -2) @ a + ridge * eye
    cov_bb = (p * b).transpose(-1, -2) @ b + ridge * eye
    cov_ab = (p * a).transpose(-1, -2) @ b
    left = torch.linalg.solve(cov_aa, cov_ab)  # aa^-1 ab
    right = torch.linalg.solve(cov_bb, cov_ab.transpose(-1, -2))  # bb^-1 ba
    return torch.diagonal(left @ right, dim1=-2, dim2=-1).sum(-1) / a.shape[-1]
