"""Pure tensor functions of MINE: the Donsker-Varadhan bound and its helpers.

Everything here is stateless and device-agnostic; the training loop in
:mod:`fairmine._net` composes these pieces.

References
----------
Belghazi et al., "Mutual Information Neural Estimation", ICML 2018.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "MAX_EXACT_MARGINAL_VALUES",
    "DiscreteMarginal",
    "ShuffledMarginal",
    "adaptive_clip_",
    "bias_corrected_log_mean_exp",
    "donsker_varadhan",
    "log_mean_exp",
    "make_marginal",
    "update_log_ema",
]

#: attributes with at most this many distinct rows get the exact marginal term
MAX_EXACT_MARGINAL_VALUES = 32

Critic = Callable[[Tensor, Tensor], Tensor]


def log_mean_exp(values: Tensor) -> Tensor:
    """Return ``log(mean(exp(values)))`` computed stably with logsumexp.

    Parameters
    ----------
    values : Tensor of shape (n,)
        Statistics-network outputs.

    Returns
    -------
    Tensor
        A scalar tensor.
    """
    return torch.logsumexp(values, dim=0) - math.log(values.shape[0])


def donsker_varadhan(t_joint: Tensor, t_marginal: Tensor) -> Tensor:
    """Donsker-Varadhan lower bound on mutual information.

    ``mean(T(z, c)) - log mean(exp(T(z, c~)))``, where ``c~`` is drawn from
    the marginal (Eq. 5 of Ragonesi et al.).

    Parameters
    ----------
    t_joint : Tensor of shape (n,)
        Critic outputs on pairs drawn from the joint distribution.
    t_marginal : Tensor of shape (m,)
        Critic outputs on pairs drawn from the product of the marginals.

    Returns
    -------
    Tensor
        The bound, a scalar tensor, in nats.
    """
    return t_joint.mean() - log_mean_exp(t_marginal)


def bias_corrected_log_mean_exp(t_marginal: Tensor, log_ema: Tensor) -> Tensor:
    """``log mean exp`` whose gradient uses a moving average in the denominator.

    The minibatch gradient of ``log E[exp T]`` is ``E[exp(T) grad T] / E[exp T]``
    with both expectations taken on the same minibatch, which is biased.
    MINE replaces the denominator by an exponential moving average of
    ``E[exp T]``. This function returns a tensor whose *value* is
    ``log_mean_exp(t_marginal)`` and whose *gradient* is the corrected one.

    Parameters
    ----------
    t_marginal : Tensor of shape (m,)
        Critic outputs on marginal pairs.
    log_ema : Tensor
        Logarithm of the moving average of ``E[exp T]`` (treated as a constant).

    Returns
    -------
    Tensor
        A scalar tensor.
    """
    lme = log_mean_exp(t_marginal)
    ratio = torch.exp(lme - log_ema.detach())
    return lme.detach() + ratio - ratio.detach()


def update_log_ema(log_ema: Tensor | None, log_value: Tensor, rate: float) -> Tensor:
    """Update the logarithm of an exponential moving average, in log space.

    Parameters
    ----------
    log_ema : Tensor or None
        Current ``log(EMA)``; None starts the average at ``log_value``.
    log_value : Tensor
        Logarithm of the new observation (detached by this function).
    rate : float
        Weight of the new observation, in (0, 1].

    Returns
    -------
    Tensor
        ``log((1 - rate) * EMA + rate * exp(log_value))``.
    """
    log_value = log_value.detach()
    if log_ema is None:
        return log_value
    if rate >= 1.0:
        return log_value
    return torch.logaddexp(log_ema + math.log1p(-rate), log_value + math.log(rate))


def adaptive_clip_(
    mi_grads: Sequence[Tensor], reference_grads: Sequence[Tensor], eps: float = 1e-12
) -> None:
    """MINE's adaptive gradient clipping, per tensor and in place.

    Each mutual-information gradient ``g_mi`` is rescaled to the norm
    ``min(||g_mi||, ||g_ref||)`` of the matching task gradient ``g_ref``, so
    the penalty can never dominate the task (Belghazi et al., section 3.2;
    applied per weight tensor as in the paper's reference code).

    Parameters
    ----------
    mi_grads : sequence of Tensor
        Gradients of the MI estimate, modified in place.
    reference_grads : sequence of Tensor
        Task-loss gradients of the same parameters, in the same order.
    eps : float, default=1e-12
        Guards the division for zero MI gradients.
    """
    if len(mi_grads) != len(reference_grads):
        raise ValueError(
            f"mi_grads and reference_grads must have the same length, got "
            f"{len(mi_grads)} and {len(reference_grads)}"
        )
    if not mi_grads:
        return
    mi_norms = torch._foreach_norm(list(mi_grads))
    ref_norms = torch._foreach_norm(list(reference_grads))
    for grad, mi_norm, ref_norm in zip(mi_grads, mi_norms, ref_norms, strict=True):
        grad.mul_(torch.clamp(ref_norm / (mi_norm + eps), max=1.0))


class ShuffledMarginal:
    """Marginal pairs made by shuffling ``c`` within the minibatch (MINE's default)."""

    def pairs(self, critic: Critic, z: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """Return critic outputs on joint pairs and on marginal pairs.

        Parameters
        ----------
        critic : callable
            ``critic(z, c)`` returns one value per row.
        z : Tensor of shape (n, d_z)
            Representations.
        c : Tensor of shape (n, d_c)
            Their attributes.

        Returns
        -------
        t_joint : Tensor of shape (n,)
        t_marginal : Tensor of shape (n,)
            ``log_mean_exp(t_marginal)`` estimates ``log E_{p(z)p(c)}[exp T]``.
        """
        shuffled = c[torch.randperm(len(c), device=c.device)]
        t = critic(torch.cat([z, z]), torch.cat([c, shuffled]))
        return t[: len(z)], t[len(z) :]


class DiscreteMarginal:
    """Exact marginal term for an attribute with few distinct values.

    Every ``z`` of the minibatch is paired with every distinct attribute value
    ``c_k``, weighted by its frequency ``p_k``, which removes the sampling
    noise of shuffling: ``log E[exp T] = log mean_i sum_k p_k exp T(z_i, c_k)``.

    Parameters
    ----------
    values : Tensor of shape (k, d_c)
        The distinct encoded attribute rows.
    probabilities : Tensor of shape (k,)
        Their frequencies.
    """

    def __init__(self, values: Tensor, probabilities: Tensor) -> None:
        self.values = values
        self.log_weights = torch.log(probabilities) + math.log(len(values))

    def pairs(self, critic: Critic, z: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """Return critic outputs on joint pairs and weighted marginal pairs.

        Parameters
        ----------
        critic : callable
            ``critic(z, c)`` returns one value per row.
        z : Tensor of shape (n, d_z)
            Representations.
        c : Tensor of shape (n, d_c)
            Their attributes; every row must be one of ``values``.

        Returns
        -------
        t_joint : Tensor of shape (n,)
        t_marginal : Tensor of shape (k * n,)
            Shifted so that ``log_mean_exp(t_marginal)`` is the exact
            ``log mean_i sum_k p_k exp T(z_i, c_k)``.
        """
        n, k = len(z), len(self.values)
        t = critic(z.repeat(k, 1), self.values.repeat_interleave(n, dim=0)).view(k, n)
        which = (c.unsqueeze(0) == self.values.unsqueeze(1)).all(dim=2).float().argmax(dim=0)
        t_joint = t.gather(0, which.unsqueeze(0)).squeeze(0)
        return t_joint, (t + self.log_weights.unsqueeze(1)).flatten()


def make_marginal(
    c: np.ndarray, device: str | torch.device = "cpu"
) -> DiscreteMarginal | ShuffledMarginal:
    """Choose the marginal term for an encoded attribute matrix.

    Parameters
    ----------
    c : ndarray of shape (n_samples, d_c)
        The encoded attribute of the samples that define the marginal.
    device : str or torch.device, default="cpu"
        Where the attribute values live.

    Returns
    -------
    DiscreteMarginal or ShuffledMarginal
        The exact term when ``c`` has at most ``MAX_EXACT_MARGINAL_VALUES``
        distinct rows, in-batch shuffling otherwise.
    """
    values, counts = np.unique(c, axis=0, return_counts=True)
    if len(values) > MAX_EXACT_MARGINAL_VALUES:
        return ShuffledMarginal()
    as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
    return DiscreteMarginal(as_tensor(values), as_tensor(counts / counts.sum()))
