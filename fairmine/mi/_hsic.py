"""HSIC: a kernel dependence penalty in closed form on each minibatch, no critic to train."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from sklearn.utils._param_validation import StrOptions
from torch import Tensor

from ._kernels import attribute_is_discrete, delta_kernel, gaussian_kernel, weighted_hsic
from ._penalty import DependencePenalty, PenaltySetup, Rows, group_weights

__all__ = ["HSIC"]


class HSIC(DependencePenalty):
    """The Hilbert-Schmidt independence criterion between ``z`` and the attribute.

    ``HSIC(Z, C)`` with a Gaussian kernel on ``z`` (bandwidth by the median
    heuristic on each minibatch) and a delta kernel on a discrete attribute
    (or a Gaussian one on a continuous attribute) is 0 exactly when ``Z`` and
    ``C`` are independent (both kernels are characteristic), unchanged when
    ``z`` is rescaled, and a
    differentiable function of the minibatch in closed form (Gretton et al.,
    2005). Under a criterion that conditions on ``y`` it is computed within
    each class and averaged by the classes' weight; sample weights weigh the
    rows. It costs O(n^2) per minibatch and trains nothing.

    Parameters
    ----------
    normalize : bool, default=False
        Divide by ``sqrt(HSIC(Z, Z) HSIC(C, C))`` (the kernel alignment, a
        value in [0, 1]). A normalised penalty can be lowered by making ``z``
        constant (its own HSIC then vanishes too, a degenerate minimum that
        collapsed a colored-MNIST encoder); here the denominator is detached,
        so its value is normalised but its gradient is HSIC's, scaled per
        minibatch: nothing rewards shrinking ``z``'s own dependence on itself.
    attribute_kernel : {"auto", "delta", "gaussian"}, default="auto"
        Kernel on the attribute; ``"auto"`` takes the delta kernel when the
        encoded attribute has at most 32 distinct rows.

    References
    ----------
    A. Gretton, O. Bousquet, A. Smola and B. Schoelkopf, "Measuring
    Statistical Dependence with Hilbert-Schmidt Norms", ALT 2005.
    """

    _parameter_constraints: ClassVar[dict] = {
        "normalize": ["boolean"],
        "attribute_kernel": [StrOptions({"auto", "delta", "gaussian"})],
    }

    def __init__(self, normalize: bool = False, attribute_kernel: str = "auto") -> None:
        self.normalize = normalize
        self.attribute_kernel = attribute_kernel

    def initialize(self, setup: PenaltySetup) -> dict[str, Any]:
        parts = super().initialize(setup)
        delta = self.attribute_kernel == "delta" or (
            self.attribute_kernel == "auto" and attribute_is_discrete(torch.as_tensor(setup.c))
        )
        self.kernel_ = "delta" if delta else "gaussian"
        return parts

    def penalty(self, rows: Rows, training: bool = True) -> tuple[Tensor, Tensor]:
        z, c, _, _ = rows
        weights, shares = group_weights(rows, self.n_groups_)
        k = gaussian_kernel(z)
        c = c.to(z.dtype)
        m = delta_kernel(c) if self.kernel_ == "delta" else gaussian_kernel(c)
        value = weighted_hsic(k, m, weights)
        if self.normalize:
            scale = weighted_hsic(k, k, weights) * weighted_hsic(m, m, weights)
            value = value / scale.detach().sqrt().clamp_min(torch.finfo(z.dtype).eps)
        value = (shares * value).sum()
        return value, value
