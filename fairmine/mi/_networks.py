"""The critic networks T: MINE's statistics network on ``[z, c]``, and a classifier of ``c``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .._mlp import MLP

__all__ = ["ClassifierCritic", "GaussianConditional", "StatisticsNetwork"]

#: the least initial logit of a ClassifierCritic (for a value that no group shows)
_LOG_PRIOR_FLOOR = math.log(1e-6)


class _CriticNetwork(nn.Module):
    """What both critics share: ``z`` standardised, the group read, an MLP of ``n_outputs``."""

    def __init__(
        self,
        embedding_dim: int,
        n_columns: int,
        hidden_units: Sequence[int],
        n_outputs: int,
        n_groups: int,
    ) -> None:
        super().__init__()
        self.n_groups = n_groups
        self.standardize = nn.BatchNorm1d(embedding_dim, affine=False, track_running_stats=False)
        body = MLP(embedding_dim + n_columns + n_groups, hidden_units, activation=nn.LeakyReLU)
        self.net = nn.Sequential(body, nn.Linear(body.out_features, n_outputs))

    def _inputs(self, z: Tensor, given: Tensor | None, *columns: Tensor) -> Tensor:
        """Return ``[standardised z, *columns, one-hot g]``, the rows the network reads.

        ``z`` is standardised with the statistics of the batch it comes in, so
        that the encoder cannot hide information from the critic by shrinking
        or stretching ``z`` (MI is invariant to such rescaling).
        """
        parts = [self.standardize(z), *columns]
        if self.n_groups:
            if given is None:
                raise ValueError("this critic is conditional: pass the group of each row")
            parts.append(nn.functional.one_hot(given, self.n_groups).to(z.dtype))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


class StatisticsNetwork(_CriticNetwork):
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
        self, embedding_dim: int, sensitive_dim: int, hidden_units: Sequence[int], n_groups: int = 0
    ) -> None:
        super().__init__(embedding_dim, sensitive_dim, hidden_units, 1, n_groups)

    def forward(self, z: Tensor, c: Tensor, given: Tensor | None = None) -> Tensor:
        """Return ``T(z, c[, g])`` for each row, shape (n,), ``z`` standardised by its batch."""
        return self.net(self._inputs(z, given, c)).squeeze(1)


class ClassifierCritic(_CriticNetwork):
    """A critic for an attribute with few values: a classifier ``q(c | z)``.

    It reads ``[standardised z]`` (plus the one-hot group ``g`` when
    ``n_groups > 0``) and returns one logit per attribute value. With the
    frequencies ``p(c | g)`` of a [`DiscreteMarginal`][fairmine.mi.DiscreteMarginal], its statistic
    is ``T(z, c, g) = log q(c | z, g) - log p(c | g)``. Because
    ``sum_k p(c_k | g) exp T(z, c_k, g) = sum_k q(c_k | z, g) = 1`` for every
    ``z``, the marginal term of the Donsker-Varadhan bound is exactly 0, and
    the bound is ``E[log q(c | z)] - E[log p(c)] = H(C) - cross-entropy``, the
    bound of a classifier of ``c`` from ``z`` (Barber and Agakov's). Its
    minibatch gradient is unbiased (no logarithm of a minibatch mean, so no
    moving-average correction applies), and one forward pass scores every
    value of ``c`` where [`StatisticsNetwork`][fairmine.mi.StatisticsNetwork] needs one per value.
    The best classifier, ``q = p(c | z)``, gives the true MI, as the best DV
    critic does.

    Parameters
    ----------
    embedding_dim : int
        Size of ``z``.
    log_prior : Tensor of shape (n_groups or 1, k)
        The marginal's ``log p(c_k | g)``: the output layer's bias starts at
        the log of their mean over the groups, so that the untrained critic
        predicts about the attribute's frequencies (``T`` near 0).
    hidden_units : sequence of int
        Widths of the hidden layers (leaky ReLU activations).
    n_groups : int, default=0
        Number of conditioning groups; 0 for the unconditional ``I(Z; C)``.
    """

    def __init__(
        self, embedding_dim: int, log_prior: Tensor, hidden_units: Sequence[int], n_groups: int = 0
    ) -> None:
        super().__init__(embedding_dim, 0, hidden_units, log_prior.shape[1], n_groups)
        mean_log_prior = torch.logsumexp(log_prior, dim=0) - math.log(len(log_prior))
        with torch.no_grad():
            self.net[-1].bias.copy_(mean_log_prior.clamp_min(_LOG_PRIOR_FLOOR))

    def forward(self, z: Tensor, given: Tensor | None = None) -> Tensor:
        """Return the logits of ``q(c | z[, g])``, shape (n, k), ``z`` standardised by its batch."""
        return self.net(self._inputs(z, given))


class GaussianConditional(_CriticNetwork):
    """A Gaussian ``q(c | z[, g])`` with a diagonal covariance, for a continuous attribute.

    Parameters
    ----------
    embedding_dim : int
        Size of ``z``.
    sensitive_dim : int
        Size of the encoded attribute ``c``.
    hidden_units : sequence of int
        Widths of the hidden layers (leaky ReLU activations).
    n_groups : int, default=0
        Number of conditioning groups; 0 for the unconditional ``q(c | z)``.
    """

    def __init__(
        self, embedding_dim: int, sensitive_dim: int, hidden_units: Sequence[int], n_groups: int = 0
    ) -> None:
        super().__init__(embedding_dim, 0, hidden_units, 2 * sensitive_dim, n_groups)

    def forward(self, z: Tensor, given: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Return the mean and the log-variance of ``q(c | z[, g])``, each (n, d_c)."""
        mean, log_variance = self.net(self._inputs(z, given)).chunk(2, dim=1)
        return mean, log_variance

    def log_likelihood(self, z: Tensor, c: Tensor, given: Tensor | None = None) -> Tensor:
        """Return ``log q(c_i | z_i[, g_i])`` up to a constant, one value per row."""
        mean, log_variance = self(z, given)
        return -0.5 * ((c - mean).square() / log_variance.exp() + log_variance).sum(1)
