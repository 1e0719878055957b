"""The marginal term of the Donsker-Varadhan bound, plain or conditional.

For ``I(Z; C)`` the marginal term is ``log E_{p(z) p(c)}[exp T(z, c)]``.
For the conditional ``I(Z; C | G)`` it is
``log E_{p(g) p(z|g) p(c|g)}[exp T(z, c, g)]``: each ``(z, g)`` keeps its own
``g`` and is paired with an attribute drawn from ``p(c | g)``.

Both samplers return, for a minibatch, the critic's values on the joint
pairs and a vector whose ``log_mean_exp`` is the marginal term, so the
bound is ``donsker_varadhan(*marginal.terms(critic, z, c, given))``. The
second vector holds one value per row of the minibatch (per row and draw for
the shuffled sampler), which is what the standard error of
[`evaluate_bound`][fairmine.mi.evaluate_bound] needs.

With sample weights ``w``, both fold the weight of each marginal value into
that vector (as ``log(v / mean(v))``), so that its ``log_mean_exp`` is the
weighted marginal term and a row of weight 0 contributes nothing: the
shuffled sampler weights the pair ``(z_i, c_j)`` by ``w_i * w_j``, the exact
one weights row ``i`` by ``w_i`` (its frequencies ``p(c | g)`` are weighted
when [`make_marginal`][fairmine.mi.make_marginal] is given the weights).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from ._networks import ClassifierCritic

__all__ = [
    "MAX_EXACT_MARGINAL_VALUES",
    "DiscreteMarginal",
    "ShuffledMarginal",
    "make_marginal",
    "within_group_permutation",
]

MAX_EXACT_MARGINAL_VALUES = 32
"""Attributes with at most this many distinct rows get the exact marginal term."""

Critic = Callable[[Tensor, Tensor, Tensor | None], Tensor]


def _log_relative(weight: Tensor) -> Tensor:
    """``log(weight / mean(weight))``: added to values, it turns ``log_mean_exp`` weighted."""
    return torch.log(weight) - (torch.logsumexp(torch.log(weight), dim=0) - math.log(len(weight)))


def within_group_permutation(given: Tensor | None, n: int, device: torch.device) -> Tensor:
    """Return a random permutation of ``range(n)`` that keeps every row inside its group.

    Parameters
    ----------
    given : Tensor of shape (n,) of int64, or None
        Group of each row; None shuffles all rows together.
    n : int
        Number of rows.
    device : torch.device
        Where the permutation is made.

    Returns
    -------
    Tensor of shape (n,)
        ``perm`` such that ``given[perm] == given``.
    """
    if given is None:
        return torch.randperm(n, device=device)
    random_order = torch.argsort(given.double() + torch.rand(n, device=device, dtype=torch.double))
    grouped = torch.argsort(given, stable=True)
    permutation = torch.empty_like(grouped)
    permutation[grouped] = random_order  # both list the groups in the same order and sizes
    return permutation


class ShuffledMarginal:
    """Marginal pairs made by shuffling ``c`` within the minibatch (MINE's default).

    With ``given``, ``c`` is shuffled within each group of ``given`` only, which
    draws it from ``p(c | g)``.
    """

    def terms(
        self,
        critic: Critic,
        z: Tensor,
        c: Tensor,
        given: Tensor | None = None,
        draws: int = 1,
        weight: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Critic values on joint pairs, and on ``draws`` shuffles of ``c``.

        Parameters
        ----------
        critic : callable
            ``critic(z, c, given)`` returns one value per row.
        z : Tensor of shape (n, d_z)
            Representations.
        c : Tensor of shape (n, d_c)
            Their attributes.
        given : Tensor of shape (n,) of int64 or None, default=None
            The conditioning variable (the class of ``y``), or None.
        draws : int, default=1
            Shuffles of ``c``; more lower the variance of an evaluation.
        weight : Tensor of shape (n,) or None, default=None
            Sample weights; the pair ``(z_i, c_j)`` weighs ``w_i * w_j``.

        Returns
        -------
        t_joint : Tensor of shape (n,)
        log_marginal : Tensor of shape (draws * n,)
            ``log_mean_exp(log_marginal)`` estimates the marginal term.
        """
        n = len(z)
        permutations = [within_group_permutation(given, n, c.device) for _ in range(draws)]
        repeat = lambda a: None if a is None else torch.cat([a] * (draws + 1))  # noqa: E731
        t = critic(repeat(z), torch.cat([c, *(c[p] for p in permutations)]), repeat(given))
        t_joint, log_marginal = t[:n], t[n:]
        if weight is None:
            return t_joint, log_marginal
        pair_weight = torch.cat([weight * weight[p] for p in permutations])
        if not pair_weight.any():  # no two weighted rows met: weight by the z row alone
            pair_weight = weight.repeat(draws)
        return t_joint, log_marginal + _log_relative(pair_weight)


class DiscreteMarginal:
    """Exact marginal term for an attribute with few distinct values.

    Every ``z`` of the minibatch is paired with every distinct attribute value
    ``c_k``, weighted by its frequency ``p(c_k | g)`` in its group ``g`` (or
    ``p(c_k)`` without conditioning), which removes the sampling noise of
    shuffling: ``log E[exp T] = log mean_i sum_k p(c_k | g_i) exp T(z_i, c_k, g_i)``.
    With a [`ClassifierCritic`][fairmine.mi.ClassifierCritic], ``T(z, c_k, g) = log q(c_k | z, g)
    - log p(c_k | g)`` with these frequencies, so the sum is 1 for every row and
    the term is exactly 0.

    Parameters
    ----------
    values : Tensor of shape (k, d_c)
        The distinct encoded attribute rows.
    probabilities : Tensor of shape (n_groups, k)
        ``p(c_k | g)``, one row per group (one row without conditioning).
    """

    def __init__(self, values: Tensor, probabilities: Tensor) -> None:
        self.values = values
        self.log_probabilities = torch.log(probabilities)

    def value_index(self, c: Tensor) -> Tensor:
        """Return the index in ``values`` of each row of ``c``, shape (n,)."""
        if c.shape[1] == 1:  # one column: compare the column with the values
            return (c == self.values.T).float().argmax(dim=1)
        return (c.unsqueeze(1) == self.values.unsqueeze(0)).all(dim=2).float().argmax(dim=1)

    def terms(
        self,
        critic: Critic | ClassifierCritic,
        z: Tensor,
        c: Tensor,
        given: Tensor | None = None,
        draws: int = 1,
        weight: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Critic values on joint pairs, and the exact marginal term of each row.

        The parameters are those of [`ShuffledMarginal.terms`][fairmine.mi.ShuffledMarginal.terms],
        except that every row of ``c`` must be one of ``values``, ``weight`` weighs
        the rows alone and ``draws`` is ignored: the term is exact.

        Returns
        -------
        t_joint : Tensor of shape (n,)
        log_marginal : Tensor of shape (n,)
            ``log sum_k p(c_k | g_i) exp T(z_i, c_k, g_i)``; its
            ``log_mean_exp`` is the exact marginal term of the minibatch
            (zeros, without a graph, for a ``ClassifierCritic``; with weights,
            the weights' ``log(w / mean(w))``).
        """
        which = self.value_index(c)
        if isinstance(critic, ClassifierCritic):
            # T = log q(c | z) - log p(c): sum_k p(c_k | g) exp T(z, c_k, g) = 1 for every row
            log_q = -nn.functional.cross_entropy(critic(z, given), which, reduction="none")
            log_p = self.log_probabilities[0 if given is None else given, which]
            t_joint, log_marginal = log_q - log_p, z.new_zeros(len(z))
        else:
            log_p = self.log_probabilities[0 if given is None else given]  # (k,) or (n, k)
            n, k = len(z), len(self.values)
            repeated_given = None if given is None else given.repeat(k)
            t = critic(z.repeat(k, 1), self.values.repeat_interleave(n, dim=0), repeated_given)
            table = t.view(k, n).T
            t_joint = table.gather(1, which.unsqueeze(1)).squeeze(1)
            log_marginal = torch.logsumexp(table + log_p, dim=1)
        if weight is None:
            return t_joint, log_marginal
        return t_joint, log_marginal + _log_relative(weight)


def make_marginal(
    c: np.ndarray,
    given: np.ndarray | None = None,
    n_groups: int | None = None,
    device: str | torch.device = "cpu",
    weight: np.ndarray | None = None,
    values: np.ndarray | None = None,
) -> DiscreteMarginal | ShuffledMarginal:
    """Choose the marginal term for an encoded attribute matrix.

    Parameters
    ----------
    c : ndarray of shape (n_samples, d_c)
        The encoded attribute of the samples that define the marginal.
    given : ndarray of shape (n_samples,) of int or None, default=None
        Group index (0 .. n_groups - 1) of each sample for a conditional
        marginal ``p(c | g)``; None for ``p(c)``.
    n_groups : int or None, default=None
        Number of groups (default ``given.max() + 1``).
    device : str or torch.device, default="cpu"
        Where the attribute values live.
    weight : ndarray of shape (n_samples,) or None, default=None
        Sample weights: the frequencies of the exact term are weighted.
    values : ndarray of shape (k, d_c) or None, default=None
        The distinct attribute rows of the exact term, in order (frequency 0
        for those that ``c`` lacks), so that terms made from parts of one
        data set share them; None takes the distinct rows of ``c``.

    Returns
    -------
    DiscreteMarginal or ShuffledMarginal
        The exact term when ``c`` has at most ``MAX_EXACT_MARGINAL_VALUES``
        distinct rows, in-batch shuffling otherwise.
    """
    values = np.unique(c, axis=0) if values is None else values
    if len(values) > MAX_EXACT_MARGINAL_VALUES:
        return ShuffledMarginal()
    inverse = _value_index(c, values)  # at most MAX_EXACT_MARGINAL_VALUES columns
    groups = np.zeros(len(c), dtype=np.int64) if given is None else np.asarray(given)
    n_groups = int(groups.max()) + 1 if n_groups is None else n_groups
    counts = np.zeros((n_groups, len(values)))
    np.add.at(counts, (groups, inverse.ravel()), 1.0 if weight is None else weight)
    totals = counts.sum(axis=1, keepdims=True)
    # a group without samples never occurs; give it the overall frequencies
    overall = counts.sum(axis=0, keepdims=True) / counts.sum()
    probabilities = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), overall)
    as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
    return DiscreteMarginal(as_tensor(values), as_tensor(probabilities))


def _value_index(c: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Return the row of ``values`` that each row of ``c`` equals."""
    matches = (c[:, None, :] == values[None, :, :]).all(axis=2)
    if not matches.any(axis=1).all():
        raise ValueError("values must hold every distinct row of c")
    return matches.argmax(axis=1)
