"""The critic T: its network, its one update rule, and its evaluation.

The training loop of :class:`fairmine.MIUnbiasedClassifier` and
:func:`fairmine.estimate_mi` both train critics with :func:`critic_step` and
read them with :func:`penalty` or :func:`evaluate_bound`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .._modules import MLP
from ._bounds import bias_corrected, log_mean_exp, update_log_ema, weighted_mean
from ._marginals import DiscreteMarginal, ShuffledMarginal

__all__ = [
    "Marginal",
    "StatisticsNetwork",
    "critic_step",
    "evaluate_bound",
    "make_critic_optimizer",
    "penalty",
]

Marginal = DiscreteMarginal | ShuffledMarginal

#: optimizers whose ``fused=True`` implementation (the same update, a few kernels for all
#: tensors) torch runs on the CPU and on CUDA
_FUSED_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW)
_FUSED_DEVICES = ("cpu", "cuda")


class StatisticsNetwork(nn.Module):
    """MINE's statistics network ``T(z, c)``, or ``T(z, c, g)`` for a conditional MI.

    It reads the concatenation ``[standardised z, c]``, plus the one-hot code
    of the conditioning group ``g`` (the class of ``y``) when ``n_groups > 0``.

    Parameters
    ----------
    embedding_dim : int
        Size of ``z``.
    sensitive_dim : int
        Size of the encoded attribute ``c``.
    hidden_units : sequence of int
        Widths of the hidden layers (leaky ReLU activations).
    n_groups : int, default=0
        Number of conditioning groups; 0 for the unconditional ``I(Z; C)``.
    """

    def __init__(
        self,
        embedding_dim: int,
        sensitive_dim: int,
        hidden_units: Sequence[int],
        n_groups: int = 0,
    ) -> None:
        super().__init__()
        self.n_groups = n_groups
        self.standardize = nn.BatchNorm1d(embedding_dim, affine=False, track_running_stats=False)
        body = MLP(embedding_dim + sensitive_dim + n_groups, hidden_units, activation=nn.LeakyReLU)
        self.net = nn.Sequential(body, nn.Linear(body.out_features, 1))

    def forward(self, z: Tensor, c: Tensor, given: Tensor | None = None) -> Tensor:
        """Return ``T(z, c[, g])`` for each row, shape (n,).

        ``z`` is standardised with the statistics of the batch it comes in, so
        that the encoder cannot hide information from the critic by shrinking
        or stretching ``z`` (MI is invariant to such rescaling).
        """
        parts = [self.standardize(z), c]
        if self.n_groups:
            if given is None:
                raise ValueError("this critic is conditional: pass the group of each row")
            parts.append(nn.functional.one_hot(given, self.n_groups).to(z.dtype))
        return self.net(torch.cat(parts, dim=1)).squeeze(1)


def make_critic_optimizer(
    optimizer: type[torch.optim.Optimizer], critic: nn.Module, lr: float
) -> torch.optim.Optimizer:
    """Build the critic's optimizer; Adam and AdamW run their fused implementation.

    A critic update is a few small kernels, so an optimizer that launches
    several per weight tensor costs a large share of it: torch's fused Adam
    makes a German-credit critic update about a quarter cheaper on the CPU
    (0.63 against 0.84 ms, one thread). Other optimizers, subclasses and
    devices get the plain implementation.

    Parameters
    ----------
    optimizer : type of torch.optim.Optimizer
        The optimizer class.
    critic : nn.Module
        The statistics network, already on its device.
    lr : float
        Learning rate.

    Returns
    -------
    torch.optim.Optimizer
    """
    params = list(critic.parameters())
    device = params[0].device.type if params else "cpu"
    if optimizer in _FUSED_OPTIMIZERS and device in _FUSED_DEVICES:
        return optimizer(params, lr=lr, fused=True)
    return optimizer(params, lr=lr)


def critic_step(
    critic: nn.Module,
    optimizer: torch.optim.Optimizer,
    marginal: Marginal,
    z: Tensor,
    c: Tensor,
    given: Tensor | None = None,
    *,
    log_ema: Tensor | None = None,
    ema_rate: float | None = None,
    weight: Tensor | None = None,
) -> Tensor | None:
    """One gradient step of the critic that raises the Donsker-Varadhan bound.

    Parameters
    ----------
    critic : nn.Module
        The statistics network.
    optimizer : torch.optim.Optimizer
        Its optimizer.
    marginal : DiscreteMarginal or ShuffledMarginal
        How the marginal term is formed.
    z : Tensor of shape (n, d_z)
        Representations, detached from the encoder.
    c : Tensor of shape (n, d_c)
        Their attributes.
    given : Tensor of shape (n,) of int64 or None, default=None
        Conditioning group of each row (conditional MI), or None.
    log_ema : Tensor or None, default=None
        The moving average of MINE's bias correction (log space); None
        starts it.
    ema_rate : float or None, default=None
        Rate of that average; None trains on the plain minibatch bound.
    weight : Tensor of shape (n,) or None, default=None
        Sample weights of the rows (the weighted bound); None weighs all
        rows alike.

    Returns
    -------
    Tensor or None
        The updated ``log_ema`` (None without bias correction).
    """
    t_joint, log_marginal = marginal.terms(critic, z, c, given, weight=weight)
    lme = log_mean_exp(log_marginal)
    if ema_rate is not None:
        log_ema = update_log_ema(log_ema, lme, ema_rate)
        lme = bias_corrected(lme, log_ema)
    loss = lme - weighted_mean(t_joint, weight)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return log_ema


def penalty(
    critic: nn.Module,
    marginal: Marginal,
    z: Tensor,
    c: Tensor,
    given: Tensor | None = None,
    log_ema: Tensor | None = None,
    weight: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Return the bound on a minibatch and the objective the encoder differentiates.

    Parameters
    ----------
    critic : nn.Module
        The statistics network.
    marginal : DiscreteMarginal or ShuffledMarginal
        How the marginal term is formed.
    z : Tensor of shape (n, d_z)
        Representations, attached to the encoder's graph.
    c : Tensor of shape (n, d_c)
        Their attributes.
    given : Tensor of shape (n,) of int64 or None, default=None
        Conditioning group of each row, or None.
    log_ema : Tensor or None, default=None
        With a moving average, the objective's gradient is MINE's
        bias-corrected one (its value is the bound's).
    weight : Tensor of shape (n,) or None, default=None
        Sample weights of the rows; None weighs all rows alike.

    Returns
    -------
    bound : Tensor
        The Donsker-Varadhan value, in nats.
    objective : Tensor
        Same value; its gradient is the one to follow.
    """
    t_joint, log_marginal = marginal.terms(critic, z, c, given, weight=weight)
    lme = log_mean_exp(log_marginal)
    joint = weighted_mean(t_joint, weight)
    bound = joint - lme
    if log_ema is None:
        return bound, bound
    return bound, joint - bias_corrected(lme, log_ema)


@torch.no_grad()
def evaluate_bound(
    critic: nn.Module,
    marginal: Marginal,
    z: Tensor,
    c: Tensor,
    given: Tensor | None = None,
    draws: int = 16,
) -> tuple[float, float]:
    """Return the Donsker-Varadhan bound on a set of samples, with its standard error.

    The standard error is the delta method's: the bound is
    ``mean(T_i) - log mean(m_i)`` with one joint value ``T_i`` and one
    marginal value ``m_i`` per row, so its influence function is
    ``T_i - m_i / mean(m)`` and the error is that function's standard
    deviation over ``sqrt(n)``. It covers the sampling noise of the
    evaluated rows for a fixed critic, not the critic's own training noise.

    Parameters
    ----------
    critic : nn.Module
        A trained statistics network (not updated).
    marginal : DiscreteMarginal or ShuffledMarginal
        How the marginal term is formed.
    z : Tensor of shape (n, d_z)
        Representations.
    c : Tensor of shape (n, d_c)
        Their attributes.
    given : Tensor of shape (n,) of int64 or None, default=None
        Conditioning group of each row, or None.
    draws : int, default=16
        Shuffles of ``c`` per row for a continuous attribute.

    Returns
    -------
    value : float
        The bound, in nats.
    std_error : float
        Its standard error.
    """
    n = len(z)
    t_joint, log_marginal = marginal.terms(critic, z, c, given, draws=draws)
    # one marginal value per row: average the row's draws (exp space, stably)
    per_row = torch.logsumexp(log_marginal.view(-1, n), dim=0) - math.log(len(log_marginal) // n)
    value = t_joint.mean() - log_mean_exp(per_row)
    influence = t_joint - torch.exp(per_row - log_mean_exp(per_row))
    std_error = influence.std() / math.sqrt(n) if n > 1 else torch.tensor(float("nan"))
    return float(value), float(std_error)
