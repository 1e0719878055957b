"""CLUB: an upper bound on ``I(Z; C)`` from a variational ``q(c | z)`` trained alongside."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import torch
from sklearn.utils._param_validation import Interval
from torch import Tensor, nn

from .._mlp import check_layer_widths
from ._bounds import weighted_mean
from ._critic import make_critic_optimizer
from ._marginals import DiscreteMarginal, within_group_permutation
from ._networks import ClassifierCritic, GaussianConditional
from ._penalty import DependencePenalty, PenaltySetup, Rows, enough_rows

__all__ = ["CLUB"]


class CLUB(DependencePenalty):
    """The contrastive log-ratio upper bound of Cheng et al. (2020).

    ``I_CLUB = E_p(z,c)[log q(c|z)] - E_p(z)p(c)[log q(c|z)]``, which bounds
    ``I(Z; C)`` from above when ``q`` is close to ``p(c | z)``, so that
    minimising it lowers the information (minimising a lower bound, such as
    Donsker-Varadhan's, needs a critic that keeps up). ``q`` is trained by
    maximum likelihood on the detached ``z``, ``steps`` Adam updates per
    training step. For an attribute with at most 32 distinct encoded values
    ``q`` is a softmax classifier ([`ClassifierCritic`][fairmine.mi.ClassifierCritic]) and
    the marginal term is exact: every row's ``z`` scored against every value,
    weighted by its frequency ``p(c | g)``. For a continuous attribute ``q``
    is a Gaussian (`GaussianConditional`) and
    the marginal term pairs each ``z`` with the attribute of a row shuffled
    within its group. Under a criterion that conditions on ``y``, ``q`` reads
    the class and the marginal is ``p(c | y)``: the bound is on ``I(Z; C | Y)``.

    Parameters
    ----------
    hidden : tuple of int, default=(64,)
        Hidden layer widths of ``q``.
    lr : float, default=3e-3
        Learning rate of ``q``'s Adam optimizer.
    steps : int, default=1
        Likelihood updates of ``q`` per training step.

    Attributes
    ----------
    critic_ : torch.nn.Module
        The network of ``q``.

    References
    ----------
    P. Cheng, W. Hao, S. Dai, J. Liu, Z. Gan and L. Carin, "CLUB: A Contrastive
    Log-ratio Upper Bound of Mutual Information", ICML 2020.
    """

    _parameter_constraints: ClassVar[dict] = {
        "hidden": ["array-like"],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "steps": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, hidden: Sequence[int] = (64,), lr: float = 3e-3, steps: int = 1) -> None:
        self.hidden = hidden
        self.lr = lr
        self.steps = steps

    def initialize(self, setup: PenaltySetup) -> dict[str, Any]:
        super().initialize(setup)
        check_layer_widths(self.hidden, "CLUB's hidden", "the layer widths of q(c | z)")
        self.marginal_ = setup.marginal()
        hidden = tuple(self.hidden)
        self.discrete_ = isinstance(self.marginal_, DiscreteMarginal)
        if self.discrete_:
            log_prior = self.marginal_.log_probabilities
            self.critic_ = ClassifierCritic(setup.embedding_dim, log_prior, hidden, setup.n_groups)
        else:
            self.critic_ = GaussianConditional(
                setup.embedding_dim, setup.c.shape[1], hidden, setup.n_groups
            )
        return {"critic": self.critic_}

    def initialize_optimizers(self) -> dict[str, Any]:
        optimizer = make_critic_optimizer(torch.optim.Adam, self.critic_, self.lr)
        self.critic_optimizer_ = optimizer
        return {"critic_optimizer": optimizer}

    def begin_fit(self, encoder_flops: Callable[[], float], batch_size: int) -> None:
        self.inner_steps_ = self.steps

    def update(self, rows: Rows) -> int:
        z, c, given, weight = rows
        if not enough_rows(z, weight):
            return 0
        z = z.detach()
        for _ in range(self.steps):
            loss = -weighted_mean(self._log_likelihood(z, c.to(z.dtype), given), weight)
            self.critic_optimizer_.zero_grad(set_to_none=True)
            loss.backward()
            self.critic_optimizer_.step()
        return self.steps

    def penalty(self, rows: Rows, training: bool = True) -> tuple[Tensor, Tensor]:
        z, c, given, weight = rows
        c = c.to(z.dtype)
        if self.discrete_:
            log_q = nn.functional.log_softmax(self.critic_(z, given), dim=1)  # (n, k)
            joint = log_q.gather(1, self.marginal_.value_index(c).unsqueeze(1)).squeeze(1)
            prior = self.marginal_.log_probabilities[0 if given is None else given].exp()
            marginal = (prior * log_q).sum(1)
            value = weighted_mean(joint - marginal, weight)
        else:
            shuffled = c[within_group_permutation(given, len(c), c.device)]
            joint = self._log_likelihood(z, c, given)
            marginal = self._log_likelihood(z, shuffled, given)
            value = weighted_mean(joint - marginal, weight)
        return value, value

    def _log_likelihood(self, z: Tensor, c: Tensor, given: Tensor | None) -> Tensor:
        """``log q(c_i | z_i[, g_i])`` of each row (up to a constant for a Gaussian q)."""
        if self.discrete_:
            which = self.marginal_.value_index(c)
            return -nn.functional.cross_entropy(self.critic_(z, given), which, reduction="none")
        return self.critic_.log_likelihood(z, c, given)
