"""The critic T: which network, its one update rule, and its evaluation.

The networks are in `fairmine.mi._networks`. The training loop of
[`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier] and [`estimate_mi`][fairmine.estimate_mi]
both build critics with [`make_critic`][fairmine.mi.make_critic], train them with
[`critic_step`][fairmine.mi.critic_step] and read them with [`penalty`][fairmine.mi.penalty] or
[`evaluate_bound`][fairmine.mi.evaluate_bound].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ._bounds import bias_corrected, log_mean_exp, update_log_ema, weighted_mean
from ._marginals import MAX_EXACT_MARGINAL_VALUES, DiscreteMarginal, ShuffledMarginal
from ._networks import ClassifierCritic, StatisticsNetwork

__all__ = [
    "CRITIC_TYPES",
    "Marginal",
    "critic_learning_rate",
    "critic_step",
    "evaluate_bound",
    "make_critic",
    "make_critic_optimizer",
    "penalty",
]

Marginal = DiscreteMarginal | ShuffledMarginal

#: optimizers whose ``fused=True`` implementation (the same update, a few kernels for all
#: tensors) torch runs on the CPU and on CUDA
_FUSED_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW)
_FUSED_DEVICES = ("cpu", "cuda")


CRITIC_TYPES = ("auto", "classifier", "concat")
"""The critics that ``critic_type`` names; "auto" is "classifier" for an attribute with an exact
marginal term, "concat" otherwise.
"""


def make_critic(
    critic_type: str,
    marginal: Marginal,
    embedding_dim: int,
    sensitive_dim: int,
    hidden_units: Sequence[int],
    n_groups: int = 0,
) -> nn.Module:
    """Build the critic that ``critic_type`` names for a marginal term.

    Parameters
    ----------
    critic_type : {"auto", "classifier", "concat"}
        ``"concat"`` is MINE's [`StatisticsNetwork`][fairmine.mi.StatisticsNetwork] on ``[z, c]``
        (the paper's); ``"classifier"`` is [`ClassifierCritic`][fairmine.mi.ClassifierCritic], which
        needs an attribute with few values (a [`DiscreteMarginal`][fairmine.mi.DiscreteMarginal]);
        ``"auto"`` takes ``"classifier"`` when it can.
    marginal : DiscreteMarginal or ShuffledMarginal
        The marginal term the critic is trained with.
    embedding_dim : int
        Size of ``z``.
    sensitive_dim : int
        Size of the encoded attribute ``c``.
    hidden_units : sequence of int
        Widths of the hidden layers.
    n_groups : int, default=0
        Number of conditioning groups; 0 for the unconditional ``I(Z; C)``.

    Returns
    -------
    nn.Module
    """
    if critic_type not in CRITIC_TYPES:
        raise ValueError(f"critic_type must be one of {CRITIC_TYPES}, got {critic_type!r}")
    discrete = isinstance(marginal, DiscreteMarginal)
    if critic_type == "classifier" and not discrete:
        raise ValueError(
            "critic_type='classifier' needs an attribute with at most "
            f"{MAX_EXACT_MARGINAL_VALUES} distinct encoded values (its classes); this one has "
            "more: use critic_type='concat' or 'auto'."
        )
    if critic_type == "concat" or not discrete:
        return StatisticsNetwork(embedding_dim, sensitive_dim, hidden_units, n_groups)
    return ClassifierCritic(embedding_dim, marginal.log_probabilities, hidden_units, n_groups)


#: the learning rate of each critic network under ``DonskerVaradhan(lr="auto")``
AUTO_CRITIC_LR = {StatisticsNetwork: 1e-3, ClassifierCritic: 3e-3}


def critic_learning_rate(critic_lr: float | str, critic: nn.Module) -> float:
    """Resolve the critic's ``lr``: a number stays, ``"auto"`` is the network's ``AUTO_CRITIC_LR``.

    A classifier critic gets a higher rate: at the statistics network's
    1e-3, three updates per encoder step did not keep up with German credit's
    MLP encoder, which then kept as much information about age in ``z`` as
    ERM's (a fresh critic on all 1000 applicants: .041 against .042 nats,
    four splits); at 3e-3 it kept less than with the statistics network
    (.012 against .025, 30 fits).

    Parameters
    ----------
    critic_lr : float or "auto"
        [`DonskerVaradhan`][fairmine.mi.DonskerVaradhan]'s ``lr``.
    critic : nn.Module
        The critic that the rate is for.

    Returns
    -------
    float
    """
    if critic_lr != "auto":
        return float(critic_lr)
    return AUTO_CRITIC_LR[type(critic)]


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
        Rate of that average; None trains on the plain minibatch bound. A
        [`ClassifierCritic`][fairmine.mi.ClassifierCritic] (whose marginal term is exactly 0, so its
        gradient has no bias to correct) keeps no average.
    weight : Tensor of shape (n,) or None, default=None
        Sample weights of the rows (the weighted bound); None weighs all
        rows alike.

    Returns
    -------
    Tensor or None
        The updated ``log_ema`` (None without bias correction, and unchanged
        for a ``ClassifierCritic``).
    """
    if isinstance(critic, ClassifierCritic):
        # the bound is E[log q(c | z)] - E[log p(c)] with an exact marginal term of 0: raising
        # it is lowering the cross-entropy (the same gradient, without the constant terms)
        which = marginal.value_index(c)
        if weight is None:
            loss = nn.functional.cross_entropy(critic(z, given), which)
        else:
            losses = nn.functional.cross_entropy(critic(z, given), which, reduction="none")
            loss = weighted_mean(losses, weight)
    else:
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
