"""The Donsker-Varadhan bound of MINE and the tensor functions around it.

Everything here is stateless and device-agnostic.

References
----------
Belghazi et al., "Mutual Information Neural Estimation", ICML 2018.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "adaptive_clip_",
    "bias_corrected",
    "donsker_varadhan",
    "log_mean_exp",
    "update_log_ema",
    "weighted_mean",
]


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


def donsker_varadhan(t_joint: Tensor, log_marginal: Tensor) -> Tensor:
    """Donsker-Varadhan lower bound on mutual information.

    ``mean(T(z, c)) - log mean(exp(T(z, c~)))``, where ``c~`` is drawn from
    the marginal (Eq. 5 of Ragonesi et al.).

    Parameters
    ----------
    t_joint : Tensor of shape (n,)
        Critic outputs on pairs drawn from the joint distribution.
    log_marginal : Tensor of shape (m,)
        Values whose ``log_mean_exp`` is the marginal term: critic outputs on
        pairs drawn from the product of the marginals, or the per-row terms
        of [`DiscreteMarginal.terms`][fairmine.mi.DiscreteMarginal.terms].

    Returns
    -------
    Tensor
        The bound, a scalar tensor, in nats.
    """
    return t_joint.mean() - log_mean_exp(log_marginal)


def bias_corrected(lme: Tensor, log_ema: Tensor) -> Tensor:
    """``log mean exp`` whose gradient uses a moving average in the denominator.

    The minibatch gradient of ``log E[exp T]`` is ``E[exp(T) grad T] / E[exp T]``
    with both expectations taken on the same minibatch, which is biased.
    MINE replaces the denominator by an exponential moving average of
    ``E[exp T]``. This function returns a tensor whose *value* is ``lme`` and
    whose *gradient* is the corrected one.

    Parameters
    ----------
    lme : Tensor
        ``log_mean_exp`` of the marginal term on the minibatch (with its graph).
    log_ema : Tensor
        Logarithm of the moving average of ``E[exp T]`` (treated as a constant).

    Returns
    -------
    Tensor
        A scalar tensor.
    """
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
    if log_ema is None or rate >= 1.0:
        return log_value
    return torch.logaddexp(log_ema + math.log1p(-rate), log_value + math.log(rate))


def adaptive_clip_(
    mi_grads: Sequence[Tensor], reference_grads: Sequence[Tensor], eps: float = 1e-12
) -> None:
    """MINE's adaptive gradient clipping, per tensor and in place.

    Each mutual-information gradient ``g_mi`` is rescaled to the norm
    ``min(||g_mi||, ||g_ref||)`` of the matching task gradient ``g_ref``
    (Belghazi et al., section 3.2; applied per weight tensor as in the paper's
    reference code). The caller weights the clipped gradient by lambda
    afterwards, so the penalty's gradient is at most lambda times the task's.

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
    mi_norms = torch.stack(torch._foreach_norm(list(mi_grads)))
    ref_norms = torch.stack(torch._foreach_norm(list(reference_grads)))
    scales = torch.clamp(ref_norms / (mi_norms + eps), max=1.0)
    torch._foreach_mul_(list(mi_grads), list(scales.unbind()))


def weighted_mean(values: Tensor, weight: Tensor | None) -> Tensor:
    """Return the mean of ``values``, weighted by ``weight`` when given.

    Parameters
    ----------
    values : Tensor of shape (n,)
        Per-row values (losses, critic outputs).
    weight : Tensor of shape (n,) or None
        Non-negative sample weights; None is the plain mean. Weights summing
        to 0 give 0 (no row counts), not NaN.

    Returns
    -------
    Tensor
        A scalar tensor.
    """
    if weight is None:
        return values.mean()
    return (values * weight).sum() / weight.sum().clamp_min(torch.finfo(weight.dtype).tiny)
